//! Deterministic guardrails: the code, not the model, decides whether a
//! draft may be `ready` or must wait for a person (`pending_approval`).
//! Pure, unit-tested as tables. Any one rule sends the draft to a person:
//!
//! | rule                                                            | reason                  |
//! |-----------------------------------------------------------------|-------------------------|
//! | the ticket's rules say `needs_human`                            | `ticket_needs_human`    |
//! | the customer text tries to steer the model (phrases in five languages, `system:`, HTML comments, our delimiters, base64 that decodes to words) | `suspected_injection` |
//! | the model flags a billing / access / refund change              | `model_flagged_billing`, `model_flagged_access`, `model_flagged_refund` |
//! | the model's category is not a benign one ([`BENIGN_CATEGORIES`]) | `sensitive_category`   |
//! | the model's confidence is below [`MIN_CONFIDENCE`]              | `low_confidence`        |
//! | the reply speaks of money (also currency symbols, `%` amounts)  | `mentions_money`        |
//! | ... refunds, money back, chargebacks                            | `mentions_refund`       |
//! | ... plans, trials, tiers, subscriptions                         | `mentions_plan_change`  |
//! | ... cancelling, deleting or closing an account or data          | `mentions_cancellation` |
//! | ... passwords, keys, codes, tokens, 2FA                         | `mentions_credentials`  |
//! | ... admin rights, permissions, ownership, unlocking             | `mentions_access`       |
//! | ... other customers or their data                               | `mentions_other_customers` |
//! | a link that is not `https`/`mailto:` to an allowlisted host (any scheme, bare domains, addresses) | `link_not_allowed` |
//! | ... and that host imitates an allowlisted one                   | `link_lookalike`        |
//! | the reply cannot be read with confidence (hidden characters, mixed scripts, encoded blobs) | `unreadable_text` |
//!
//! Otherwise `ready`, which is still only a draft: nothing is sent. Texts
//! are judged after [`normal`]isation (NFKC, TR39 skeletons, invisible
//! characters, leetspeak, split letters), so a family is found whatever
//! the spelling; families are data ([`lexicon`]) in English, French,
//! Spanish, German and Portuguese; [`links`] judges links and
//! [`unreadable`] what cannot be read with confidence. False positives
//! only cost a person's look, so the lists lean wide and the guard fails
//! safe: `ready` needs a benign category AND nothing matched. The corpus
//! it is held to lives in `guard/corpus/` (see `guard/corpus.rs`).

pub mod lexicon;
pub mod links;
pub mod normal;
pub mod unreadable;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::schema::{Category, ModelDraft};
use lexicon::lexicon;

/// Confidence below this needs a person.
pub const MIN_CONFIDENCE: f64 = 0.5;

/// The only categories whose drafts may be `ready`: a question about using
/// the product or a bug report. Billing, refund, access, account and
/// `other` always wait for a person (fail safe: an unknown kind of ticket
/// is not a benign one).
pub const BENIGN_CATEGORIES: [Category; 2] = [Category::HowTo, Category::Bug];

/// A draft's review state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A person must approve it.
    PendingApproval,
    /// No rule fired (still a draft).
    Ready,
}

impl Status {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingApproval => "pending_approval",
            Self::Ready => "ready",
        }
    }
}

/// The guardrails' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Status.
    pub status: Status,
    /// Why it is pending (empty when ready), in table order.
    pub reasons: Vec<&'static str>,
}

/// Raw markers in customer text (checked as substrings of the lower-cased
/// visible text): role labels, HTML comments, chat-template tokens and our
/// own delimiters.
const INJECTION_MARKERS: &[&str] = &[
    "<!--",
    "<<<",
    ">>>",
    "customer_text",
    "[inst]",
    "<|",
    "|>",
    "system:",
    "assistant:",
    "[system]",
];

/// Decides a model draft's status; `customer_text` is the raw text the
/// customer sent (subject and messages), checked for injection attempts.
pub fn decide(
    ticket_needs_human: bool,
    customer_text: &str,
    d: &ModelDraft,
    allowlist: &[String],
) -> Verdict {
    let mut reasons = Vec::new();
    if ticket_needs_human {
        reasons.push("ticket_needs_human");
    }
    if looks_like_injection(customer_text) {
        reasons.push("suspected_injection");
    }
    for (flag, reason) in [
        (d.mentions_billing_change, "model_flagged_billing"),
        (d.mentions_access_change, "model_flagged_access"),
        (d.mentions_refund, "model_flagged_refund"),
    ] {
        if flag {
            reasons.push(reason);
        }
    }
    if !BENIGN_CATEGORIES.contains(&d.category) {
        reasons.push("sensitive_category");
    }
    if d.confidence < MIN_CONFIDENCE {
        reasons.push("low_confidence");
    }
    reasons.extend(text_reasons(&d.draft_reply, allowlist));
    verdict(reasons)
}

/// A verdict from reasons: pending when there is any.
pub fn verdict(reasons: Vec<&'static str>) -> Verdict {
    let status = if reasons.is_empty() {
        Status::Ready
    } else {
        Status::PendingApproval
    };
    Verdict { status, reasons }
}

/// The text rules alone (also applied to a person's edit of a draft), in
/// the module table's order.
pub fn text_reasons(text: &str, allowlist: &[String]) -> Vec<&'static str> {
    let visible = normal::visible(text);
    let plain = visible.to_lowercase();
    let words = normal::normalise_plain(&plain);
    let mut reasons = lexicon().families(&words, |r| r.starts_with("mentions_"));
    if has_amount(&plain) && reasons.first() != Some(&"mentions_money") {
        reasons.insert(0, "mentions_money");
    }
    let links = links::check(&plain, allowlist);
    if links.not_allowed {
        reasons.push("link_not_allowed");
    }
    if links.lookalike {
        reasons.push("link_lookalike");
    }
    if unreadable::reply(text, &visible) {
        reasons.push("unreadable_text");
    }
    reasons
}

/// Whether customer text tries to talk to the model rather than to us.
pub fn looks_like_injection(text: &str) -> bool {
    let visible = normal::visible(text);
    let plain = visible.to_lowercase();
    INJECTION_MARKERS.iter().any(|m| plain.contains(m))
        || !lexicon()
            .families(&normal::normalise_plain(&plain), |r| {
                r == "suspected_injection"
            })
            .is_empty()
        || unreadable::encoded_text(&visible)
}

/// A currency symbol anywhere (Unicode category `Sc`), or a number
/// followed by `%`.
fn has_amount(plain: &str) -> bool {
    let mut last_digit = false;
    for c in plain.chars() {
        if c.general_category() == GeneralCategory::CurrencySymbol
            || (last_digit && matches!(c, '%' | '‰'))
        {
            return true;
        }
        if !c.is_whitespace() {
            last_digit = c.is_ascii_digit();
        }
    }
    false
}

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;
