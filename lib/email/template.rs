//! The failed-payment email: a fixed template; customer data is escaped in
//! the HTML part, and the only link is Stripe's hosted invoice page.

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

/// The job payload for one failed invoice.
pub fn payment_failed(
    to: &str,
    name: Option<&str>,
    amount: &str,
    invoice_url: Option<&str>,
) -> Value {
    let greeting = name
        .filter(|n| !n.trim().is_empty())
        .map(|n| format!("Hi {},", n.trim()))
        .unwrap_or_else(|| "Hi,".into());
    let link_text = invoice_url
        .filter(|u| u.starts_with("https://"))
        .map(|u| format!("\n\nUpdate your card and pay here: {u}\n"))
        .unwrap_or_default();
    let text = format!(
        "{greeting}\n\nYour latest payment of {amount} did not go through. Your access continues for a few days while you fix it.{link_text}\nIf you have questions, just reply to this email.\n"
    );
    let link_html = invoice_url
        .filter(|u| u.starts_with("https://"))
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
    json!({ "to": to, "subject": "Your payment did not go through", "text": text, "html": html })
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
    fn amounts_are_formatted_per_currency() {
        assert_eq!(money(1999, "usd"), "19.99 USD");
        assert_eq!(money(500, "jpy"), "500 JPY");
        assert_eq!(money(5, "eur"), "0.05 EUR");
    }
}
