//! How the guard reads text: the same word whatever characters spell it.
//! Both the customer's text and the model's reply, and every phrase of
//! the lexicon, go through the same steps, so matching is plain equality:
//!
//! 1. invisible characters removed (general category `Cf` and TR39's
//!    default-ignorables: zero-width spaces and joiners, bidi controls,
//!    soft hyphens, tag characters, Hangul fillers);
//! 2. Unicode NFKC (full-width, circled, mathematical letters, ligatures),
//!    ideographic full stops as dots (as IDNA reads them), lower case;
//! 3. leetspeak folded inside words that hold a letter (`r3fund`,
//!    `p@ssw0rd`, `cr3d!t`), never in plain numbers;
//! 4. TR39 confusable skeletons of letters (Cyrillic `а` reads as `a`,
//!    `m` as `rn`), accents dropped, `ß` as `ss`, and `i` read as `l`
//!    because `1`, `|`, `I` and `l` are interchangeable to the eye.
//!
//! The word lists that come out: the words as written, and the same with
//! letters split by spaces or punctuation joined back (`r e f u n d`,
//! `r.e.f.u.n.d`, `re-fund` all read `refund`), plus the later starts of
//! such runs apart.

use std::borrow::Cow;
use std::sync::LazyLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_security::general_security_profile::IdentifierType;
use unicode_security::GeneralSecurityProfile;

/// Whitespace chunks this short (in characters) are letters split apart
/// when at least [`MIN_SPLIT_RUN`] of them follow each other.
const MAX_SPLIT_PIECE: usize = 2;
/// How many short chunks in a row are read as one split word.
const MIN_SPLIT_RUN: usize = 3;

/// A text as the guard reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalised {
    /// Folded words (letters and digits) in order.
    pub words: Vec<String>,
    /// The words with split letters joined back (see the module doc).
    pub joined: Vec<String>,
    /// Later starts of each joined run (`a c r e d i t` → `credit`), apart
    /// so they never stand between two words of a phrase.
    pub tails: Vec<String>,
}

/// Whether a character is invisible: removed before anything is judged.
pub fn is_invisible(c: char) -> bool {
    !c.is_ascii()
        && (c.general_category() == GeneralCategory::Format
            || c.identifier_type() == Some(IdentifierType::Default_Ignorable))
}

/// Steps 1 and 2 but for case: invisible characters out, NFKC, IDNA's
/// ideographic full stop as a dot. Lower-case it for a [`fold`] or links.
pub fn visible(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    let shown: String = text.chars().filter(|c| !is_invisible(*c)).collect();
    // NFKC word by word, ASCII words as they are: nothing composes with a
    // space, so this is NFKC of the whole text, at a fraction of the cost.
    let mut out = String::with_capacity(shown.len());
    for word in shown.split_inclusive(' ') {
        if word.is_ascii() {
            out.push_str(word);
        } else {
            out.extend(word.nfkc().map(|c| if c == '\u{3002}' { '.' } else { c }));
        }
    }
    out
}

/// Steps 3 and 4 on a lower-cased [`visible`] text (`plain`): the folded
/// text, separators kept.
pub fn fold(plain: &str) -> String {
    let mut out = String::with_capacity(plain.len() + 8);
    let mut chars = Vec::new();
    for chunk in plain.split_inclusive(char::is_whitespace) {
        let leet = chunk.chars().any(char::is_alphabetic);
        let address = is_address(chunk);
        chars.clear();
        chars.extend(chunk.chars());
        for (i, &c) in chars.iter().enumerate() {
            let c = if c.is_ascii_alphabetic() || !leet {
                c
            } else {
                match unleet(&chars, i) {
                    Some(_) if c == '@' && address => c,
                    Some(l) => l,
                    None => c,
                }
            };
            push_skeleton(&mut out, c);
        }
    }
    out
}

/// The [`Normalised`] form of any text.
pub fn normalise(text: &str) -> Normalised {
    normalise_plain(&visible(text).to_lowercase())
}

/// The [`Normalised`] form of a lower-cased [`visible`] text.
pub fn normalise_plain(plain: &str) -> Normalised {
    let folded = fold(plain);
    let words = folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let (joined, tails) = joined(&folded);
    Normalised {
        words,
        joined,
        tails,
    }
}

/// Whether a chunk is an email address (its `@` is not an `a`).
fn is_address(chunk: &str) -> bool {
    chunk.rsplit_once('@').is_some_and(|(local, domain)| {
        let domain = domain.trim_end_matches(|c: char| !c.is_alphanumeric());
        !local.is_empty() && domain.contains('.')
    })
}

/// What a leetspeak character stands for at `i`: digits anywhere in a
/// word, symbols only between letters or digits (`cr3d!t`) or leading one
/// (`$ecret`, `@dmin`), so `Thanks!` and `$49` keep their meaning.
fn unleet(chars: &[char], i: usize) -> Option<char> {
    let c = chars[i];
    let alnum = |j: Option<usize>| {
        j.and_then(|j| chars.get(j))
            .is_some_and(|c| c.is_alphanumeric())
    };
    let letter = |j: usize| chars.get(j).is_some_and(|c| c.is_alphabetic());
    let inside = alnum(i.checked_sub(1)) && alnum(Some(i + 1));
    let leading = (i == 0 || chars[i - 1].is_whitespace()) && letter(i + 1);
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' if c.is_ascii_digit() || inside => 'l',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        '9' => 'g',
        '@' if inside || leading => 'a',
        '$' if inside || leading => 's',
        '+' if inside => 't',
        _ => return None,
    })
}

/// What each ASCII character folds to, computed once from the crate's
/// skeletons (the common case, without an iterator per character).
static ASCII_FOLDED: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0u8..128)
        .map(|b| {
            let mut out = String::new();
            push_folded(&mut out, char::from(b));
            out
        })
        .collect()
});

/// Appends the skeleton of letter `c`, accents dropped, lower-cased, `ß`
/// as `ss` and `i` as `l`; anything else as it is.
fn push_skeleton(out: &mut String, c: char) {
    match ASCII_FOLDED.get(c as usize) {
        Some(folded) => out.push_str(folded),
        None => push_folded(out, c),
    }
}

/// [`push_skeleton`] without the ASCII table.
fn push_folded(out: &mut String, c: char) {
    if is_combining_mark(c) {
        return;
    }
    if !c.is_alphabetic() {
        // Digits and punctuation stand for themselves (leetspeak was folded
        // before); only letters have look-alikes worth reading through.
        out.push(c);
        return;
    }
    let mut buf = [0u8; 4];
    for p in unicode_security::skeleton(c.encode_utf8(&mut buf)) {
        for l in p.to_lowercase() {
            match l {
                'ß' => out.push_str("ss"),
                'i' => out.push('l'),
                l if is_combining_mark(l) || is_invisible(l) => {}
                l => out.push(l),
            }
        }
    }
}

/// The joined word list: punctuation inside a whitespace chunk dropped
/// (`r.e.f.u.n.d`), then runs of short chunks glued (`r e f u n d`), from
/// each of their starts (a split word may follow `a` or `to`).
fn joined(folded: &str) -> (Vec<String>, Vec<String>) {
    // (letters and digits of a chunk, whether a wider gap comes before it:
    // `i g n o r e   p r e v i o u s` is two words).
    let mut chunks: Vec<(Cow<str>, bool)> = Vec::new();
    let mut gap = false;
    for piece in folded.split(char::is_whitespace) {
        if piece.is_empty() {
            gap = true;
            continue;
        }
        let kept: Cow<str> = if piece.chars().all(char::is_alphanumeric) {
            Cow::Borrowed(piece)
        } else {
            Cow::Owned(piece.chars().filter(|c| c.is_alphanumeric()).collect())
        };
        if !kept.is_empty() {
            chunks.push((kept, gap));
            gap = false;
        }
    }
    let short = |c: &(Cow<str>, bool)| c.0.chars().count() <= MAX_SPLIT_PIECE;
    let mut out = Vec::with_capacity(chunks.len());
    let mut tails = Vec::new();
    let mut i = 0;
    while i < chunks.len() {
        let run = chunks[i..]
            .iter()
            .enumerate()
            .take_while(|(k, c)| short(c) && (*k == 0 || !c.1))
            .count();
        if run >= MIN_SPLIT_RUN {
            let glue = |from: usize| chunks[from..i + run].iter().map(|c| &*c.0).collect();
            out.push(glue(i));
            tails.extend((i + 1..=i + run - MIN_SPLIT_RUN).map(glue));
            i += run;
        } else {
            out.push(chunks[i].0.to_string());
            i += 1;
        }
    }
    (out, tails)
}

#[cfg(test)]
mod tests;
