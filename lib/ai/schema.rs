//! The model's output contract: the strict JSON schema sent as
//! `response_format` (Structured Outputs), and the parser that checks what
//! came back against the same contract. The model is asked for strict
//! output, but we never trust that it complied: anything that does not parse
//! or breaks a bound is an [`OutputError`] (a failed attempt with a reason
//! code), never a panic and never a stored draft.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The `json_schema.name` sent to the API.
pub const SCHEMA_NAME: &str = "support_draft";
/// Longest summary we store, in characters.
pub const MAX_SUMMARY_CHARS: usize = 600;
/// Longest draft reply we store, in characters.
pub const MAX_REPLY_CHARS: usize = 4_000;

/// What the ticket is about, as the model reads it. Only ever adds a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Charges, invoices, prices.
    Billing,
    /// Money back.
    Refund,
    /// Logging in, permissions.
    Access,
    /// Something is broken.
    Bug,
    /// A question about using the product.
    HowTo,
    /// Profile, email, deletion.
    Account,
    /// Anything else.
    Other,
}

impl Category {
    /// Every category (the schema's enum).
    pub const ALL: [Category; 7] = [
        Self::Billing,
        Self::Refund,
        Self::Access,
        Self::Bug,
        Self::HowTo,
        Self::Account,
        Self::Other,
    ];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Billing => "billing",
            Self::Refund => "refund",
            Self::Access => "access",
            Self::Bug => "bug",
            Self::HowTo => "how_to",
            Self::Account => "account",
            Self::Other => "other",
        }
    }
}

/// How urgent the model thinks the ticket is (informational: priority is
/// decided by the support rules only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Can wait.
    Low,
    /// Default.
    Normal,
    /// Soon.
    High,
}

impl Urgency {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
        }
    }
}

/// One validated model answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDraft {
    /// Category.
    pub category: Category,
    /// Urgency.
    pub urgency: Urgency,
    /// One or two sentences for the person triaging.
    pub summary: String,
    /// The proposed reply to the customer.
    pub draft_reply: String,
    /// The model says the reply changes billing.
    pub mentions_billing_change: bool,
    /// The model says the reply changes access.
    pub mentions_access_change: bool,
    /// The model says the reply promises or discusses a refund.
    pub mentions_refund: bool,
    /// The model's confidence, 0..1.
    pub confidence: f64,
}

/// Why a model answer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// Not JSON at all (or truncated).
    #[error("model output is not JSON")]
    Malformed,
    /// JSON, but not the contract: `field` says where.
    #[error("model output violates the schema at {0}")]
    Schema(&'static str),
}

/// The strict schema (every property required, no extra properties).
pub fn json_schema() -> Value {
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "category": { "type": "string", "enum": categories },
            "urgency": { "type": "string", "enum": ["low", "normal", "high"] },
            "summary": { "type": "string", "description": "One or two sentences for the support person." },
            "draft_reply": { "type": "string", "description": "A reply to the customer; never promise refunds, credits, plan or access changes." },
            "mentions_billing_change": { "type": "boolean" },
            "mentions_access_change": { "type": "boolean" },
            "mentions_refund": { "type": "boolean" },
            "confidence": { "type": "number", "minimum": 0, "maximum": 1 }
        },
        "required": FIELDS,
        "additionalProperties": false
    })
}

/// The `response_format` object of the request.
pub fn response_format() -> Value {
    json!({
        "type": "json_schema",
        "json_schema": { "name": SCHEMA_NAME, "strict": true, "schema": json_schema() }
    })
}

/// Every property of the contract, in schema order.
pub const FIELDS: [&str; 8] = [
    "category",
    "urgency",
    "summary",
    "draft_reply",
    "mentions_billing_change",
    "mentions_access_change",
    "mentions_refund",
    "confidence",
];

/// Parses and validates the message content the model returned.
pub fn parse(content: &str) -> Result<ModelDraft, OutputError> {
    let value: Value = serde_json::from_str(content).map_err(|_| OutputError::Malformed)?;
    let obj = value.as_object().ok_or(OutputError::Schema("object"))?;
    if obj.keys().any(|k| !FIELDS.contains(&k.as_str())) {
        return Err(OutputError::Schema("object"));
    }
    let draft = ModelDraft {
        category: field(obj, "category")?,
        urgency: field(obj, "urgency")?,
        summary: field(obj, "summary")?,
        draft_reply: field(obj, "draft_reply")?,
        mentions_billing_change: field(obj, "mentions_billing_change")?,
        mentions_access_change: field(obj, "mentions_access_change")?,
        mentions_refund: field(obj, "mentions_refund")?,
        confidence: field(obj, "confidence")?,
    };
    validate(draft)
}

/// One required property, of the right type.
fn field<T: serde::de::DeserializeOwned>(
    obj: &serde_json::Map<String, Value>,
    name: &'static str,
) -> Result<T, OutputError> {
    let v = obj.get(name).ok_or(OutputError::Schema(name))?;
    T::deserialize(v).map_err(|_| OutputError::Schema(name))
}

fn validate(d: ModelDraft) -> Result<ModelDraft, OutputError> {
    if !d.confidence.is_finite() || !(0.0..=1.0).contains(&d.confidence) {
        return Err(OutputError::Schema("confidence"));
    }
    let summary_len = d.summary.trim().chars().count();
    if summary_len == 0 || summary_len > MAX_SUMMARY_CHARS {
        return Err(OutputError::Schema("summary"));
    }
    let reply_len = d.draft_reply.trim().chars().count();
    if reply_len == 0 || reply_len > MAX_REPLY_CHARS {
        return Err(OutputError::Schema("draft_reply"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Value {
        json!({
            "category": "how_to", "urgency": "normal", "summary": "Asks how to export.",
            "draft_reply": "Hi! Go to Settings, then Export.", "mentions_billing_change": false,
            "mentions_access_change": false, "mentions_refund": false, "confidence": 0.9
        })
    }

    #[test]
    fn a_well_formed_answer_parses() {
        let d = parse(&good().to_string()).unwrap();
        assert_eq!((d.category, d.urgency), (Category::HowTo, Urgency::Normal));
    }

    #[test]
    fn violations_are_named_errors_never_panics() {
        let cases: &[(&str, Value, OutputError)] = &[
            ("category", json!("vip"), OutputError::Schema("category")),
            ("urgency", json!("now"), OutputError::Schema("urgency")),
            ("confidence", json!(7), OutputError::Schema("confidence")),
            ("confidence", json!(-0.1), OutputError::Schema("confidence")),
            ("draft_reply", json!(""), OutputError::Schema("draft_reply")),
            ("summary", json!("  "), OutputError::Schema("summary")),
            (
                "mentions_refund",
                json!("no"),
                OutputError::Schema("mentions_refund"),
            ),
            (
                "set_plan",
                json!("enterprise"),
                OutputError::Schema("object"),
            ),
        ];
        for (field, value, want) in cases {
            let mut v = good();
            v[*field] = value.clone();
            assert_eq!(parse(&v.to_string()).unwrap_err(), *want, "{field}={value}");
        }
        let mut missing = good();
        missing.as_object_mut().unwrap().remove("confidence");
        assert_eq!(
            parse(&missing.to_string()).unwrap_err(),
            OutputError::Schema("confidence")
        );
        let long = "x".repeat(MAX_REPLY_CHARS + 1);
        let mut v = good();
        v["draft_reply"] = json!(long);
        assert_eq!(
            parse(&v.to_string()).unwrap_err(),
            OutputError::Schema("draft_reply")
        );
    }

    #[test]
    fn non_json_and_truncated_json_are_malformed() {
        for s in [
            "",
            "not json",
            "{\"category\": \"bug\"",
            "[1,2",
            "Sure! Here is the JSON",
        ] {
            assert_eq!(parse(s).unwrap_err(), OutputError::Malformed, "{s:?}");
        }
        assert_eq!(parse("[]").unwrap_err(), OutputError::Schema("object"));
    }

    #[test]
    fn the_schema_is_strict_every_property_required() {
        let s = json_schema();
        let props: Vec<&String> = s["properties"].as_object().unwrap().keys().collect();
        let required: Vec<&str> = s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(props.len(), required.len());
        assert!(props.iter().all(|p| required.contains(&p.as_str())));
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(response_format()["json_schema"]["strict"], true);
    }
}
