//! OpenAI Chat Completions over reqwest (no SDK: our timeout, our retries):
//! `POST {OPENAI_BASE_URL}/chat/completions`, bearer `OPENAI_API_KEY`,
//! Structured Outputs (`response_format` = the strict `support_draft`
//! schema), `max_completion_tokens`, and `safety_identifier` = a hash of the
//! member id (never an email). Timeout `OPENAI_TIMEOUT_MS` (default 20 s).
//!
//! Classification, where the answer arrives: timeouts, 408/409/429, 5xx are
//! retryable; 401/403 `auth_failed`; other 4xx permanent; a refusal
//! (`message.refusal`, or `finish_reason` `content_filter`) is `ai_refused`
//! (permanent: the same text would be refused again); an unparseable or
//! truncated (`finish_reason` `length`) answer or a schema violation is
//! `ai_invalid_output` (retryable: sampling may do better next time).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::prompt::{Prompt, MAX_COMPLETION_TOKENS};
use super::schema::{self, ModelDraft, OutputError};
use crate::config::OpenAi;
use crate::jobs::outcome::{classify_status, classify_transport};
use crate::jobs::{JobError, Reason};
use crate::telemetry::hash_email;

/// A validated answer and what it cost.
#[derive(Debug, Clone)]
pub struct Completion {
    /// The parsed, validated draft.
    pub draft: ModelDraft,
    /// The model that answered (as the API reports it).
    pub model: String,
    /// Input tokens (API's count).
    pub prompt_tokens: Option<i32>,
    /// Output tokens (API's count).
    pub completion_tokens: Option<i32>,
    /// Wall time of the call.
    pub latency_ms: i64,
}

/// The `safety_identifier`: SHA-256 of the member id, 16 hex characters.
pub fn safety_identifier(member_id: Option<Uuid>) -> String {
    let id = member_id.map(|m| m.to_string()).unwrap_or_default();
    format!("m_{}", hash_email(&id))
}

/// The request body (pure: the bench and the tests build it too).
pub fn request_body(model: &str, prompt: &Prompt, safety_identifier: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            { "role": "system", "content": prompt.system },
            { "role": "user", "content": prompt.user }
        ],
        "response_format": schema::response_format(),
        "max_completion_tokens": MAX_COMPLETION_TOKENS,
        "safety_identifier": safety_identifier,
    })
}

/// One call.
pub async fn complete(
    http: &reqwest::Client,
    cfg: &OpenAi,
    prompt: &Prompt,
    member_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Completion, JobError> {
    let body = request_body(&cfg.model, prompt, &safety_identifier(member_id));
    let started = Instant::now();
    let res = http
        .post(format!("{}/chat/completions", cfg.base_url))
        .bearer_auth(cfg.api_key.expose())
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .json(&body)
        .send()
        .await
        .map_err(|e| classify_transport(&e, false))?;
    classify_status(res.status().as_u16(), res.headers(), now, false)?;
    let answer: Value = res
        .json()
        .await
        .map_err(|e| classify_transport(&e, false))?;
    let latency_ms = started.elapsed().as_millis() as i64;
    let mut c = read_answer(&answer)?;
    c.latency_ms = latency_ms;
    if c.model.is_empty() {
        c.model = cfg.model.clone();
    }
    Ok(c)
}

/// Reads a Chat Completions answer (pure).
pub fn read_answer(answer: &Value) -> Result<Completion, JobError> {
    let choice = &answer["choices"][0];
    let message = &choice["message"];
    let finish = choice["finish_reason"].as_str().unwrap_or("");
    if message["refusal"].as_str().is_some_and(|r| !r.is_empty()) || finish == "content_filter" {
        return Err(JobError::permanent(Reason::AiRefused, "the model refused"));
    }
    if finish == "length" {
        return Err(invalid("the answer was cut off at the token cap"));
    }
    let content = message["content"]
        .as_str()
        .ok_or_else(|| invalid("the answer has no content"))?;
    let draft = schema::parse(content).map_err(|e| match e {
        OutputError::Malformed => invalid("the answer is not JSON"),
        OutputError::Schema(field) => {
            invalid(&format!("the answer violates the schema at {field}"))
        }
    })?;
    let tokens = |k: &str| {
        answer["usage"][k]
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
    };
    Ok(Completion {
        draft,
        model: answer["model"].as_str().unwrap_or("").to_string(),
        prompt_tokens: tokens("prompt_tokens"),
        completion_tokens: tokens("completion_tokens"),
        latency_ms: 0,
    })
}

fn invalid(message: &str) -> JobError {
    JobError::Retryable {
        reason: Reason::AiInvalidOutput,
        status: None,
        retry_after: None,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(message: Value, finish: &str) -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
            "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
            "usage": { "prompt_tokens": 412, "completion_tokens": 96, "total_tokens": 508 }
        })
    }

    fn content() -> String {
        json!({
            "category": "bug", "urgency": "high", "summary": "Export fails.",
            "draft_reply": "Sorry! We are looking into it.", "mentions_billing_change": false,
            "mentions_access_change": false, "mentions_refund": false, "confidence": 0.8
        })
        .to_string()
    }

    #[test]
    fn a_normal_answer_is_read_with_its_usage() {
        let a = answer(
            json!({ "role": "assistant", "content": content(), "refusal": null }),
            "stop",
        );
        let c = read_answer(&a).unwrap();
        assert_eq!(
            (c.prompt_tokens, c.completion_tokens),
            (Some(412), Some(96))
        );
        assert_eq!(c.model, "gpt-4o-mini-2024-07-18");
    }

    #[test]
    fn refusals_truncation_and_garbage_are_classified() {
        let code = |a: Value| read_answer(&a).unwrap_err().reason().as_str();
        let refusal =
            json!({ "role": "assistant", "content": null, "refusal": "I can't help with that." });
        assert_eq!(code(answer(refusal, "stop")), "ai_refused");
        let filtered = json!({ "role": "assistant", "content": null });
        assert_eq!(code(answer(filtered, "content_filter")), "ai_refused");
        let cut = json!({ "role": "assistant", "content": "{\"category\": \"bu" });
        assert_eq!(code(answer(cut, "length")), "ai_invalid_output");
        let prose = json!({ "role": "assistant", "content": "Sure, here you go" });
        assert_eq!(code(answer(prose, "stop")), "ai_invalid_output");
        assert_eq!(code(json!({})), "ai_invalid_output");
    }

    #[test]
    fn the_request_is_strict_structured_output_with_a_hashed_identifier() {
        let p = Prompt {
            system: "s".into(),
            user: "u".into(),
        };
        let m = Uuid::parse_str("0192f0c4-6d7e-7a00-8b1c-2d3e4f506172").unwrap();
        let id = safety_identifier(Some(m));
        let b = request_body("gpt-4o-mini", &p, &id);
        assert_eq!(b["response_format"]["type"], "json_schema");
        assert_eq!(b["response_format"]["json_schema"]["strict"], true);
        assert_eq!(b["safety_identifier"], id.as_str());
        assert!(!id.contains("0192f0c4") && id.len() <= 64);
    }
}
