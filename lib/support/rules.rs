//! Deterministic priority and routing: one pure function over the words of a
//! contact and the member's billing state, unit-tested as a table.
//!
//! | rule (words in subject or message)                        | tag              | priority ≥ | needs_human |
//! |-----------------------------------------------------------|------------------|------------|-------------|
//! | chargeback, dispute(d)                                    | `dispute`        | `urgent`   | yes         |
//! | breach, hacked, compromised, phishing, unauthorized access | `security`       | `urgent`   | yes         |
//! | GDPR, CCPA, lawyer, attorney, subpoena, lawsuit, court ... | `legal`          | `high`     | yes         |
//! | refund, money back, reimburse                              | `refund`         | `high`     | yes         |
//! | password, locked out, 2FA, can't log in, account recovery  | `account_access` | `high`     | yes         |
//! | member `past_due`                                          | (reason only)    | `high`     | no          |
//! | member `active` (a paid plan)                              | (reason only)    | `high`     | no          |
//! | anything else                                              | —                | `normal`   | no          |
//!
//! Words match whole words, case-insensitively, after punctuation is turned
//! into spaces (`two-factor` is `two factor`); a trailing `*` in a phrase
//! matches any ending (`refund*` covers `refunds`, `refunded`). The result is
//! a floor: a repeat contact can only raise a ticket (see [`Decision::combine`]),
//! and later AI classification may add tags but never lowers these rules.

use serde::Serialize;

use crate::members::MemberState;

/// How soon a person must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// The default.
    Normal,
    /// Paying customers and sensitive categories.
    High,
    /// Money being pulled back or an account at risk: alert now.
    Urgent,
}

impl Priority {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Parses a stored name (unknown → `Normal`, never lower than stored).
    pub fn parse(s: &str) -> Self {
        match s {
            "urgent" => Self::Urgent,
            "high" => Self::High,
            _ => Self::Normal,
        }
    }
}

/// A category of contact that always goes to a person.
struct Category {
    tag: &'static str,
    floor: Priority,
    /// Phrases separated by `|`.
    phrases: &'static str,
}

#[rustfmt::skip]
const CATEGORIES: &[Category] = &[
    Category { tag: "dispute", floor: Priority::Urgent,
        phrases: "chargeback*|charge back|dispute*|disputing" },
    Category { tag: "security", floor: Priority::Urgent,
        phrases: "breach*|hacked|hacker*|hacking|compromised|phishing|unauthorized access|\
                  unauthorised access|data leak*|leaked|vulnerabilit*|stolen account" },
    Category { tag: "legal", floor: Priority::High,
        phrases: "gdpr|ccpa|dsar|lawyer*|attorney*|solicitor*|subpoena*|lawsuit*|legal action|\
                  legal notice|court|sue you|suing|right to be forgotten|delete my data|\
                  data deletion|data subject" },
    Category { tag: "refund", floor: Priority::High,
        phrases: "refund*|money back|reimburse*" },
    Category { tag: "account_access", floor: Priority::High,
        phrases: "password*|locked out|lock me out|2fa|mfa|two factor|authenticator|can't log in|\
                  cant log in|cannot log in|can't login|cant login|cannot login|can't sign in|\
                  cant sign in|cannot sign in|unable to log in|unable to login|unable to sign in|\
                  account recovery|recover my account|account locked|account is locked|lost access" },
];

/// What the rules decided for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Priority floor.
    pub priority: Priority,
    /// A person must handle it; never automated.
    pub needs_human: bool,
    /// Why (category tags and billing reasons), in table order.
    pub reasons: Vec<String>,
    /// Category tags (AI may add more later, never remove these).
    pub tags: Vec<String>,
}

impl Decision {
    /// A repeat contact merged into an open ticket: the higher priority, the
    /// union of reasons and tags, `needs_human` once set stays set.
    pub fn combine(&self, other: &Decision) -> Decision {
        let union = |a: &[String], b: &[String]| {
            let mut v = a.to_vec();
            v.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            v
        };
        Decision {
            priority: self.priority.max(other.priority),
            needs_human: self.needs_human || other.needs_human,
            reasons: union(&self.reasons, &other.reasons),
            tags: union(&self.tags, &other.tags),
        }
    }

    /// Whether this earns a Slack alert.
    pub fn alerts(&self) -> bool {
        self.needs_human || self.priority == Priority::Urgent
    }
}

/// The rules (see the module table).
pub fn decide(subject: Option<&str>, message: &str, state: MemberState) -> Decision {
    let words = words(&format!("{} {message}", subject.unwrap_or("")));
    let mut d = Decision {
        priority: Priority::Normal,
        needs_human: false,
        reasons: Vec::new(),
        tags: Vec::new(),
    };
    for c in CATEGORIES {
        if c.phrases.split('|').any(|p| contains_phrase(&words, p)) {
            d.priority = d.priority.max(c.floor);
            d.needs_human = true;
            d.tags.push(c.tag.to_string());
            d.reasons.push(c.tag.to_string());
        }
    }
    let billing = match state {
        MemberState::PastDue => Some("past_due"),
        MemberState::Active => Some("paid_plan"),
        _ => None,
    };
    if let Some(reason) = billing {
        d.priority = d.priority.max(Priority::High);
        d.reasons.push(reason.to_string());
    }
    d
}

/// Lower-cased words; punctuation other than apostrophes separates words,
/// and typographic apostrophes count as `'`.
fn words(text: &str) -> Vec<String> {
    let normalized: String = text
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '`' => '\'',
            c if c.is_alphanumeric() || c == '\'' => c,
            _ => ' ',
        })
        .collect();
    normalized
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `phrase` occurs as consecutive whole words (`*` at the end of the
/// last word: any ending).
fn contains_phrase(words: &[String], phrase: &str) -> bool {
    let wanted: Vec<&str> = phrase.split(' ').collect();
    let n = wanted.len();
    words.windows(n).any(|window| {
        window
            .iter()
            .zip(&wanted)
            .enumerate()
            .all(|(i, (w, p))| match p.strip_suffix('*') {
                Some(prefix) if i == n - 1 => w.starts_with(prefix),
                _ => w == p,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use MemberState::*;
    use Priority::*;

    type Row = (
        &'static str,
        MemberState,
        Priority,
        bool,
        &'static [&'static str],
    );

    #[rustfmt::skip]
    const TABLE: &[Row] = &[
        ("How do I export my data?", Lead, Normal, false, &[]),
        ("I want a refund for last month", Lead, High, true, &["refund"]),
        ("Please REFUNDED me, charged twice", Trial, High, true, &["refund"]),
        ("Can I get my money back?", Canceled, High, true, &["refund"]),
        ("I opened a chargeback with my bank", Lead, Urgent, true, &["dispute"]),
        ("Why was this disputed?", Active, Urgent, true, &["dispute"]),
        ("I think my account was hacked", Lead, Urgent, true, &["security"]),
        ("Was there a data breach?", Lead, Urgent, true, &["security"]),
        ("GDPR request: delete my data", Lead, High, true, &["legal"]),
        ("My lawyer will contact you", Lead, High, true, &["legal"]),
        ("We received a subpoena", Lead, High, true, &["legal"]),
        ("I can't log in since yesterday", Lead, High, true, &["account_access"]),
        ("I can\u{2019}t log in", Lead, High, true, &["account_access"]),
        ("Locked out after 2FA reset", Lead, High, true, &["account_access"]),
        ("Lost my two-factor device", Lead, High, true, &["account_access"]),
        ("Password reset email never arrives", Lead, High, true, &["account_access"]),
        ("Feature request: dark mode", Active, High, false, &[]),
        ("Feature request: dark mode", PastDue, High, false, &[]),
        ("Feature request: dark mode", Trial, Normal, false, &[]),
        ("Refund and I was hacked", Active, Urgent, true, &["security", "refund"]),
    ];

    #[test]
    fn the_routing_rules_as_a_table() {
        for (text, state, priority, human, tags) in TABLE {
            let d = decide(None, text, *state);
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            assert_eq!(
                (d.priority, d.needs_human, d.tags),
                (*priority, *human, tags),
                "{text:?} as {state:?}"
            );
        }
    }

    #[test]
    fn words_inside_other_words_do_not_match() {
        for text in [
            "Thanks for the courtesy call",
            "Sue from accounting says hi",
            "This is a known issue",
            "Please undispatch the order",
        ] {
            let d = decide(None, text, Lead);
            assert!(d.tags.is_empty(), "{text:?} → {d:?}");
        }
    }

    #[test]
    fn the_subject_counts_as_much_as_the_message() {
        let d = decide(Some("Refund please"), "see subject", Lead);
        assert!(d.needs_human);
        assert_eq!(d.priority, High);
    }

    #[test]
    fn billing_reasons_are_recorded_after_the_categories() {
        let d = decide(None, "refund", PastDue);
        assert_eq!(d.reasons, vec!["refund", "past_due"]);
        assert_eq!(decide(None, "hello", Active).reasons, vec!["paid_plan"]);
    }

    #[test]
    fn combining_a_repeat_contact_never_lowers_a_ticket() {
        let first = decide(None, "I was hacked", Lead);
        let repeat = decide(None, "never mind, all good", Lead);
        let c = first.combine(&repeat);
        assert_eq!((c.priority, c.needs_human), (Urgent, true));
        let c = repeat.combine(&decide(None, "refund now", Active));
        assert_eq!(c.priority, High);
        assert!(c.needs_human);
        assert_eq!(c.tags, vec!["refund"]);
        assert_eq!(c.reasons, vec!["refund", "paid_plan"]);
    }

    #[test]
    fn priorities_round_trip_and_order() {
        for p in [Normal, High, Urgent] {
            assert_eq!(Priority::parse(p.as_str()), p);
        }
        assert!(Normal < High && High < Urgent);
    }
}
