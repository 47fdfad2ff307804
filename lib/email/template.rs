//! The customer emails, fixed templates: the failed-payment follow-up
//! (`dunning`) and the bank's confirmation request (`action_required`).
//! Customer data is escaped in the HTML part, and the only link is Stripe's
//! hosted invoice page (https only).

use serde_json::{json, Value};

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Formats an amount in minor units (`1999`, `usd`) as `19.99 USD`.
/// Zero-decimal currencies (JPY, KRW, ...) are printed without decimals.
pub fn money(amount_minor: i64, currency: &str) -> String {
    const ZERO_DECIMAL: &[&str] = &[
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    let cur = currency.to_uppercase();
    if ZERO_DECIMAL.contains(&currency) {
        format!("{amount_minor} {cur}")
    } else {
        format!("{}.{:02} {cur}", amount_minor / 100, amount_minor % 100)
    }
}

fn greeting(name: Option<&str>) -> String {
    name.filter(|n| !n.trim().is_empty())
        .map(|n| format!("Hi {},", n.trim()))
        .unwrap_or_else(|| "Hi,".into())
}

fn https(url: Option<&str>) -> Option<&str> {
    url.filter(|u| u.starts_with("https://"))
}

/// The job payload for one failed invoice.
pub fn payment_failed(
    to: &str,
    name: Option<&str>,
    amount: &str,
    invoice_url: Option<&str>,
) -> Value {
    let greeting = greeting(name);
    let link_text = https(invoice_url)
        .map(|u| format!("\n\nUpdate your card and pay here: {u}\n"))
        .unwrap_or_default();
    let text = format!(
        "{greeting}\n\nYour latest payment of {amount} did not go through. Your access continues for a few days while you fix it.{link_text}\nIf you have questions, just reply to this email.\n"
    );
    let link_html = https(invoice_url)
        .map(|u| {
            format!(
                r#"<p><a href="{}">Update your card and pay the invoice</a></p>"#,
                escape_html(u)
            )
        })
        .unwrap_or_default();
    let html = format!(
        "<p>{}</p><p>Your latest payment of {} did not go through. Your access continues for a few days while you fix it.</p>{link_html}<p>If you have questions, just reply to this email.</p>",
        escape_html(&greeting),
        escape_html(amount),
    );
    json!({ "to": to, "subject": "Your payment did not go through", "text": text, "html": html, "category": "dunning" })
}

/// The job payload for one invoice whose payment the bank wants the
/// customer to confirm; `None` without an https invoice link (the link is
/// the whole point of this email).
pub fn payment_action_required(
    to: &str,
    name: Option<&str>,
    amount: &str,
    invoice_url: Option<&str>,
) -> Option<Value> {
    let url = https(invoice_url)?;
    let greeting = greeting(name);
    let text = format!(
        "{greeting}\n\nYour bank asks you to confirm your payment of {amount} before it goes through. It takes a minute: open this page and follow your bank's steps.\n\nConfirm the payment here: {url}\n\nIf you have questions, just reply to this email.\n"
    );
    let html = format!(
        r#"<p>{}</p><p>Your bank asks you to confirm your payment of {} before it goes through. It takes a minute: open this page and follow your bank's steps.</p><p><a href="{}">Confirm the payment</a></p><p>If you have questions, just reply to this email.</p>"#,
        escape_html(&greeting),
        escape_html(amount),
        escape_html(url),
    );
    Some(
        json!({ "to": to, "subject": "Please confirm your payment", "text": text, "html": html, "category": "action_required" }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_data_is_escaped_in_the_html_part() {
        let p = payment_failed(
            "a@b.co",
            Some("<script>alert(1)</script>"),
            "19.99 USD",
            Some("https://invoice.stripe.com/i/x?a=1&b=2"),
        );
        let html = p["html"].as_str().unwrap();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("https://invoice.stripe.com/i/x?a=1&amp;b=2"));
    }

    #[test]
    fn a_non_https_invoice_link_is_never_rendered_as_a_link() {
        let p = payment_failed("a@b.co", None, "5.00 EUR", Some("javascript:alert(1)"));
        assert!(!p["html"].as_str().unwrap().contains("href"));
    }

    #[test]
    fn the_confirmation_request_links_the_hosted_invoice_and_escapes_the_name() {
        let url = "https://invoice.stripe.com/i/x?a=1&b=2";
        let p = payment_action_required("a@b.co", Some("<b>Jo</b>"), "29.00 USD", Some(url))
            .expect("an email");
        assert_eq!(p["subject"], "Please confirm your payment");
        assert_eq!(p["category"], "action_required");
        assert!(p["text"].as_str().unwrap().contains(url));
        let html = p["html"].as_str().unwrap();
        assert!(html.contains("https://invoice.stripe.com/i/x?a=1&amp;b=2"));
        assert!(!html.contains("<b>Jo</b>") && html.contains("&lt;b&gt;Jo"));
    }

    #[test]
    fn a_confirmation_request_without_an_https_link_is_not_sent() {
        assert!(payment_action_required("a@b.co", None, "5.00 EUR", None).is_none());
        let js = Some("javascript:alert(1)");
        assert!(payment_action_required("a@b.co", None, "5.00 EUR", js).is_none());
    }

    #[test]
    fn amounts_are_formatted_per_currency() {
        assert_eq!(money(1999, "usd"), "19.99 USD");
        assert_eq!(money(500, "jpy"), "500 JPY");
        assert_eq!(money(5, "eur"), "0.05 EUR");
    }
}
