//! Deterministic guardrails: the code, not the model, decides whether a
//! draft may be `ready` or must wait for a person (`pending_approval`).
//! Pure, unit-tested as tables. Any one rule sends the draft to a person:
//!
//! | rule                                                            | reason                  |
//! |-----------------------------------------------------------------|-------------------------|
//! | the ticket's rules say `needs_human`                            | `ticket_needs_human`    |
//! | the customer text looks like a prompt injection ("ignore previous instructions", "you are now", `system:`, HTML comments, our delimiters) | `suspected_injection` |
//! | the model flags a billing / access / refund change              | `model_flagged_billing`, `model_flagged_access`, `model_flagged_refund` |
//! | the model's category is billing, refund or access               | `sensitive_category`    |
//! | the model's confidence is below [`MIN_CONFIDENCE`]              | `low_confidence`        |
//! | the reply mentions money: currency symbols or codes, amounts, `%`, prices, invoices, charges, credits, discounts | `mentions_money` |
//! | the reply mentions refunds, money back, chargebacks              | `mentions_refund`       |
//! | the reply mentions plan changes, upgrades, tiers, VIP, trials    | `mentions_plan_change`  |
//! | the reply mentions cancelling, deleting or closing               | `mentions_cancellation` |
//! | the reply mentions passwords, tokens, keys, codes, credentials   | `mentions_credentials`  |
//! | the reply mentions admin rights, permissions, unlocking access   | `mentions_access`       |
//! | the reply holds a link or address whose host is not allowlisted | `link_not_allowed`      |
//!
//! Otherwise `ready`, which is still only a draft: nothing is sent. Words
//! match whole words case-insensitively (`*` = any ending); false positives
//! only cost a person's look, so the lists lean wide.

use super::schema::{Category, ModelDraft};

/// Confidence below this needs a person.
pub const MIN_CONFIDENCE: f64 = 0.5;

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

/// Phrases per text rule (see the module table), `|`-separated.
const TEXT_RULES: &[(&str, &str)] = &[
    ("mentions_money", "usd|eur|gbp|cad|aud|chf|jpy|inr|dollar*|euro*|pound*|cent|cents|price*|pricing|\
        invoice*|charg*|credit*|discount*|coupon*|fee|fees|payment*|billing|bill|billed|paid|pay|prorat*"),
    ("mentions_refund", "refund*|money back|reimburs*|chargeback*|compensat*"),
    ("mentions_plan_change", "your plan|new plan|plan change*|change* plan|change your plan|plan is|\
        plan has|pro plan|paid plan|free plan|business plan|team plan|starter plan|basic plan|upgrad*|\
        downgrad*|enterprise|premium|vip|tier*|subscription*|trial*|seat*"),
    ("mentions_cancellation", "cancel*|terminat*|unsubscrib*|delete your account|close your account|\
        deleting your account|closing your account|account deletion"),
    ("mentions_credentials", "password*|passcode*|passphrase*|credential*|token*|api key*|apikey*|\
        secret*|2fa|mfa|otp|one time code|verification code*|security code*|recovery code*|\
        backup code*|login code*|ssh key*|private key*"),
    ("mentions_access", "admin|admins|administrator*|permission*|full access|grant*|unlock*|unban*|\
        reactivat*|role|roles|owner|ownership"),
];

/// Phrases in customer text that try to steer the model (whole words,
/// case-insensitive), `|`-separated; and raw markers checked as substrings.
const INJECTION_PHRASES: &str = "ignore previous|ignore all previous|ignore the previous|\
    ignore prior|ignore the above|ignore your instructions|disregard previous|disregard all|\
    disregard the above|forget your instructions|forget previous|you are now|new instructions|\
    system prompt|developer mode|jailbreak|pretend you are|pretend to be|act as|from now on";
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
    if matches!(
        d.category,
        Category::Billing | Category::Refund | Category::Access
    ) {
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

/// The text rules alone (also applied to a person's edit of a draft).
pub fn text_reasons(text: &str, allowlist: &[String]) -> Vec<&'static str> {
    let words = words(text);
    let mut reasons = Vec::new();
    for (reason, phrases) in TEXT_RULES {
        let hit = phrases.split('|').any(|p| contains_phrase(&words, p))
            || (*reason == "mentions_money" && has_amount(text));
        if hit {
            reasons.push(*reason);
        }
    }
    if has_foreign_link(text, allowlist) {
        reasons.push("link_not_allowed");
    }
    reasons
}

/// Whether customer text tries to talk to the model rather than to us.
pub fn looks_like_injection(text: &str) -> bool {
    let lower = text.to_lowercase();
    let words = words(&lower);
    INJECTION_MARKERS.iter().any(|m| lower.contains(m))
        || INJECTION_PHRASES
            .split('|')
            .any(|p| contains_phrase(&words, p))
}

/// Currency symbols anywhere, or a digit followed by `%`.
fn has_amount(text: &str) -> bool {
    const SYMBOLS: &[char] = &['$', '€', '£', '¥', '₹', '₩', '₽', '¢', '₺', '₪'];
    text.contains(SYMBOLS)
        || text
            .as_bytes()
            .windows(2)
            .any(|w| w[0].is_ascii_digit() && w[1] == b'%')
}

/// Whether any URL, `www.` host, bare domain or email address points at a
/// host outside the allowlist (a host matches an entry or its subdomains).
fn has_foreign_link(text: &str, allowlist: &[String]) -> bool {
    let is_url_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
    text.split(|c: char| !is_url_char(c))
        .filter_map(host_of)
        .any(|host| !allowed(&host, allowlist))
}

/// The host a token names, if it names one.
fn host_of(token: &str) -> Option<String> {
    let t = token.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let rest = match t.split_once("://") {
        Some((_, rest)) => rest,
        None => t.rsplit_once('@').map(|(_, d)| d).unwrap_or(t),
    };
    let host = rest
        .split(['/', '?', '#', ':'])
        .next()?
        .to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let tld = labels.last()?;
    let named = t.contains("://")
        || (labels.len() >= 2
            && tld.len() >= 2
            && tld.chars().all(|c| c.is_ascii_alphabetic())
            && labels.iter().all(|l| !l.is_empty()));
    named.then_some(host)
}

fn allowed(host: &str, allowlist: &[String]) -> bool {
    allowlist.iter().any(|a| {
        let a = a.trim().trim_start_matches("*.").to_ascii_lowercase();
        !a.is_empty() && (host == a || host.ends_with(&format!(".{a}")))
    })
}

/// Lower-cased words; anything but letters, digits and apostrophes splits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `phrase` occurs as consecutive whole words (`*` ending: prefix).
fn contains_phrase(words: &[String], phrase: &str) -> bool {
    let wanted: Vec<&str> = phrase.split(' ').collect();
    words.windows(wanted.len()).any(|window| {
        window
            .iter()
            .zip(&wanted)
            .all(|(w, p)| match p.strip_suffix('*') {
                Some(prefix) => w.starts_with(prefix),
                None => w == p,
            })
    })
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
