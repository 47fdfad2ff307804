//! The meaning families as data: [`lexicon.txt`](lexicon.txt) (beside
//! this file, compiled in) lists each family's phrases per language, and
//! this module reads it once and finds them in a [`Normalised`] text.
//!
//! Every phrase goes through the same normalisation as the text, so the
//! data is written as people write (accents, apostrophes, any case) and
//! matching is word equality: no regular expressions to get wrong, and
//! one lookup per word (by its first letters) instead of a scan per
//! phrase, which keeps the guard far under a millisecond with hundreds of
//! phrases.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::normal::{normalise, Normalised};

/// The compiled-in data.
const DATA: &str = include_str!("lexicon.txt");
/// Phrases are indexed by this many first characters of their first word
/// (no prefix stem is shorter).
const KEY_CHARS: usize = 3;

/// One word of a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    /// The folded word exactly.
    Exact(String),
    /// Any folded word starting with this (`word*` in the data).
    Prefix(String),
    /// Any one word (`_` in the data).
    Any,
}

impl Word {
    fn matches(&self, w: &str) -> bool {
        match self {
            Self::Exact(x) => w == x,
            Self::Prefix(p) => w.starts_with(p.as_str()),
            Self::Any => true,
        }
    }
}

/// A phrase and the family (index into `reasons`) it belongs to.
#[derive(Debug, Clone)]
struct Phrase {
    family: usize,
    words: Vec<Word>,
}

/// The parsed lexicon: families in data order, phrases indexed by the
/// [`key`] of their first word.
#[derive(Debug)]
pub struct Lexicon {
    reasons: Vec<&'static str>,
    phrases: Vec<Phrase>,
    index: HashMap<String, Vec<usize>>,
}

/// A word's first [`KEY_CHARS`] characters (the whole word if shorter).
fn key(word: &str) -> &str {
    let end = word
        .char_indices()
        .nth(KEY_CHARS)
        .map_or(word.len(), |(i, _)| i);
    &word[..end]
}

/// The lexicon, parsed on first use.
pub fn lexicon() -> &'static Lexicon {
    static LEXICON: LazyLock<Lexicon> =
        LazyLock::new(|| Lexicon::parse(DATA).expect("lib/ai/guard/lexicon.txt is malformed"));
    &LEXICON
}

impl Lexicon {
    /// Parses lexicon lines: `reason lang: phrase | phrase ...`; a line
    /// starting with whitespace continues the one before; `#` comments.
    pub fn parse(data: &'static str) -> Result<Self, String> {
        let mut lex = Lexicon {
            reasons: Vec::new(),
            phrases: Vec::new(),
            index: HashMap::new(),
        };
        let mut family = None;
        for (n, line) in data.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let list = if line.starts_with(char::is_whitespace) {
                family.ok_or(format!("line {}: continuation of nothing", n + 1))?;
                trimmed
            } else {
                let (head, list) = trimmed
                    .split_once(':')
                    .ok_or(format!("line {}: no `reason lang:`", n + 1))?;
                let reason = head.split_whitespace().next().unwrap_or_default();
                family = Some(lex.family(reason));
                list
            };
            for phrase in list.split('|').map(str::trim).filter(|p| !p.is_empty()) {
                let words = parse_phrase(phrase).ok_or(format!("line {}: {phrase:?}", n + 1))?;
                lex.add(family.unwrap_or_default(), words);
            }
        }
        Ok(lex)
    }

    fn family(&mut self, reason: &'static str) -> usize {
        match self.reasons.iter().position(|r| *r == reason) {
            Some(i) => i,
            None => {
                self.reasons.push(reason);
                self.reasons.len() - 1
            }
        }
    }

    fn add(&mut self, family: usize, words: Vec<Word>) {
        let first = match &words[0] {
            Word::Exact(w) | Word::Prefix(w) => key(w).to_string(),
            Word::Any => unreachable!("parse_phrase refuses a leading `_`"),
        };
        self.index
            .entry(first)
            .or_default()
            .push(self.phrases.len());
        self.phrases.push(Phrase { family, words });
    }

    /// The families (their reasons, in data order) found in any word list
    /// of `text`, keeping only those `wanted` accepts.
    pub fn families(&self, text: &Normalised, wanted: impl Fn(&str) -> bool) -> Vec<&'static str> {
        let mut hit = vec![false; self.reasons.len()];
        self.find(&text.words, &mut hit);
        if text.joined != text.words {
            self.find(&text.joined, &mut hit);
        }
        self.find(&text.tails, &mut hit);
        self.reasons
            .iter()
            .zip(hit)
            .filter(|(r, h)| *h && wanted(r))
            .map(|(r, _)| *r)
            .collect()
    }

    fn find(&self, words: &[String], hit: &mut [bool]) {
        for (i, w) in words.iter().enumerate() {
            for &p in self.index.get(key(w)).into_iter().flatten() {
                let phrase = &self.phrases[p];
                if !hit[phrase.family] && matches_at(&phrase.words, &words[i..]) {
                    hit[phrase.family] = true;
                }
            }
        }
    }

    /// Every reason the data names, in data order.
    pub fn reasons(&self) -> &[&'static str] {
        &self.reasons
    }

    /// Every prefix stem (for the data's own tests).
    pub fn stems(&self) -> impl Iterator<Item = &str> {
        self.phrases
            .iter()
            .flat_map(|p| &p.words)
            .filter_map(|w| match w {
                Word::Prefix(stem) => Some(stem.as_str()),
                _ => None,
            })
    }
}

fn matches_at(phrase: &[Word], words: &[String]) -> bool {
    phrase.len() <= words.len() && phrase.iter().zip(words).all(|(p, w)| p.matches(w))
}

/// One phrase of the data as words: each normalised like any text (it may
/// split, `d'accès` → `d acces`); a trailing `*` makes the last piece a
/// prefix; `_` is any one word. `None` when nothing is left or it starts
/// with `_`.
fn parse_phrase(phrase: &str) -> Option<Vec<Word>> {
    let mut words = Vec::new();
    for token in phrase.split_whitespace() {
        if token == "_" {
            words.push(Word::Any);
            continue;
        }
        let (body, prefix) = match token.strip_suffix('*') {
            Some(body) => (body, true),
            None => (token, false),
        };
        let pieces = normalise(body).words;
        let last = pieces.len().checked_sub(1)?;
        for (i, piece) in pieces.into_iter().enumerate() {
            words.push(if prefix && i == last {
                Word::Prefix(piece)
            } else {
                Word::Exact(piece)
            });
        }
    }
    (!words.is_empty() && words[0] != Word::Any).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_parses_into_the_families_the_guard_reports() {
        let lex = lexicon();
        assert_eq!(
            lex.reasons(),
            [
                "mentions_money",
                "mentions_refund",
                "mentions_plan_change",
                "mentions_cancellation",
                "mentions_credentials",
                "mentions_access",
                "mentions_other_customers",
                "suspected_injection",
            ]
        );
        assert!(lex.phrases.len() > 300, "{}", lex.phrases.len());
    }

    #[test]
    fn no_prefix_stem_is_shorter_than_three_letters() {
        let short: Vec<&str> = lexicon()
            .stems()
            .filter(|s| s.chars().count() < 3)
            .collect();
        assert!(short.is_empty(), "{short:?}");
    }

    #[test]
    fn phrases_match_whole_words_with_prefixes_and_wildcards() {
        let lex =
            Lexicon::parse("r en: pay* | delete _ account | droits d'accès\n  | mot de passe")
                .unwrap();
        let hits = |t: &str| !lex.families(&normalise(t), |_| true).is_empty();
        for yes in [
            "Payment due",
            "delete your account",
            "vos droits d’accès",
            "MOT DE PASSE",
        ] {
            assert!(hits(yes), "{yes:?}");
        }
        for no in ["repay", "delete account", "droits", "le mot"] {
            assert!(!hits(no), "{no:?}");
        }
    }

    #[test]
    fn malformed_data_is_an_error_naming_the_line() {
        assert!(Lexicon::parse("  | orphan").unwrap_err().contains("line 1"));
        assert!(Lexicon::parse("r en refund")
            .unwrap_err()
            .contains("line 1"));
        assert!(Lexicon::parse("r en: _ x").unwrap_err().contains("line 1"));
    }
}
