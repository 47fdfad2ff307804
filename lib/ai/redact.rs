//! What customer text may NOT carry to OpenAI, removed before the prompt is
//! built: email addresses (`[email]`), long digit runs such as card or bank
//! numbers, spaces and dashes allowed between groups (`[number]`), and
//! anything that looks like a credential: known key prefixes (`sk_`, `rk_`,
//! `whsec_`, `xoxb-`, `ghp_`, JWTs, ...) or a long mixed letter-and-digit
//! run (`[redacted]`). Pure and conservative: over-redacting a long order
//! number costs little; leaking a pasted key costs a rotation.

/// Digit runs at least this long are redacted (cards are 13–19, IBANs more).
pub const MIN_REDACTED_DIGITS: usize = 12;
/// Letter-and-digit runs at least this long are treated as secrets.
pub const MIN_SECRET_CHARS: usize = 32;

/// Prefixes of well-known credentials (case-sensitive, as issued).
const SECRET_PREFIXES: &[&str] = &[
    "sk_",
    "sk-",
    "rk_",
    "pk_live",
    "whsec_",
    "xoxb-",
    "xoxp-",
    "xoxa-",
    "ghp_",
    "gho_",
    "github_pat_",
    "pat-",
    "eyJ",
    "AKIA",
    "AIza",
    "re_",
    "shpat_",
];

/// The text with emails, long numbers and secret-looking tokens replaced.
pub fn redact(text: &str) -> String {
    let text = replace_runs(text, is_email_char, |run| {
        is_email(run).then_some("[email]")
    });
    let text = replace_runs(&text, is_token_char, |run| {
        is_secret(run).then_some("[redacted]")
    });
    redact_numbers(&text)
}

fn is_email_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._%+-@".contains(c)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn is_email(run: &str) -> bool {
    match run.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }
        None => false,
    }
}

fn is_secret(run: &str) -> bool {
    let prefixed = run.len() >= 8 && SECRET_PREFIXES.iter().any(|p| run.starts_with(p));
    let long_mixed = run.len() >= MIN_SECRET_CHARS
        && run.chars().any(|c| c.is_ascii_digit())
        && run.chars().any(|c| c.is_ascii_alphabetic());
    prefixed || long_mixed
}

/// Replaces each maximal run of `in_run` characters for which `f` answers.
fn replace_runs(
    text: &str,
    in_run: impl Fn(char) -> bool,
    f: impl Fn(&str) -> Option<&'static str>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| match f(run) {
        Some(r) => out.push_str(r),
        None => out.push_str(run),
    };
    for (i, c) in text.char_indices() {
        match (in_run(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                flush(&mut out, &text[s..i]);
                start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
            (true, Some(_)) => {}
        }
    }
    if let Some(s) = start {
        flush(&mut out, &text[s..]);
    }
    out
}

/// Replaces digit runs (single spaces or dashes allowed between digits)
/// holding at least [`MIN_REDACTED_DIGITS`] digits.
fn redact_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let (mut j, mut digits) = (i, 0);
        while j < chars.len() {
            if chars[j].is_ascii_digit() {
                digits += 1;
                j += 1;
            } else if (chars[j] == ' ' || chars[j] == '-')
                && chars.get(j + 1).is_some_and(|c| c.is_ascii_digit())
            {
                j += 1;
            } else {
                break;
            }
        }
        if digits >= MIN_REDACTED_DIGITS {
            out.push_str("[number]");
        } else {
            out.extend(&chars[i..j]);
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_redacted_as_a_table() {
        let table: &[(&str, &str)] = &[
            (
                "mail me at jane.doe+x@example.co.uk please",
                "mail me at [email] please",
            ),
            (
                "card 4242 4242 4242 4242 exp 12/29",
                "card [number] exp 12/29",
            ),
            ("card 4242-4242-4242-4242", "card [number]"),
            ("iban DE89370400440532013000", "iban DE[number]"),
            ("acct 370400440532013000", "acct [number]"),
            ("my key is sk_live_FAKE0", "my key is [redacted]"),
            ("secret whsec_FAKEtestKEY", "secret [redacted]"),
            ("token=eyJhbGciOiJIUzI1NiJ9.abc", "token=[redacted].abc"),
            ("id a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5", "id [redacted]"),
            ("order 12345 on 2026-11-23", "order 12345 on 2026-11-23"),
            ("call +1 415 555 0100", "call +1 415 555 0100"),
            ("plain words stay plain", "plain words stay plain"),
            (
                "@handle and a@b are not emails",
                "@handle and a@b are not emails",
            ),
        ];
        for (input, want) in table {
            assert_eq!(redact(input), *want, "{input:?}");
        }
    }

    #[test]
    fn non_ascii_text_survives_untouched() {
        assert_eq!(redact("Grüße, 東京 — ça va ?"), "Grüße, 東京 — ça va ?");
    }
}
