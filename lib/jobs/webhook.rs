//! One signed outbound webhook delivery, shared by every adapter that POSTs
//! to a receiver we do not control (the founder's app, the helpdesk): the
//! body is signed with Standard Webhooks (`webhook-id` = `msg_id`, stable
//! across retries so the receiver can dedupe) and the answer classified.

use std::time::Duration;

use super::outcome::{classify_status, classify_transport};
use super::{JobError, Reason};
use crate::config::SignedWebhook;
use crate::signature::standard;
use crate::state::App;

/// POSTs `body` (JSON) to `hook.url`, signed at the current time.
pub async fn post_signed(
    app: &App,
    hook: &SignedWebhook,
    msg_id: &str,
    body: &serde_json::Value,
    timeout_ms: u64,
) -> Result<(), JobError> {
    let bytes = serde_json::to_vec(body)
        .map_err(|_| JobError::permanent(Reason::MissingData, "unserialisable body"))?;
    let headers = standard::headers(&hook.secret, msg_id, app.clock.now().timestamp(), &bytes)
        .map_err(|e| {
            JobError::permanent(Reason::InvalidPayload, format!("cannot sign: {}", e.code()))
        })?;
    let mut req = app
        .http
        .post(&hook.url)
        .timeout(Duration::from_millis(timeout_ms))
        .header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(name, value);
    }
    let res = req
        .body(bytes)
        .send()
        .await
        .map_err(|e| classify_transport(&e, false))?;
    classify_status(res.status().as_u16(), res.headers(), app.clock.now(), false)
}
