//! JSON bodies that carry customer text (tickets, drafts, timelines): `<`,
//! `>` and `&` are written as `\u003c`, `\u003e`, `\u0026` (valid JSON, same
//! value), so stored HTML never appears raw in a body, whatever a client or
//! a mis-set content type does with it.

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// `value` as JSON with `<`, `>`, `&` escaped (they can only occur in strings).
pub fn escaped_json(status: StatusCode, value: &Value) -> Response {
    let body = value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_strings_is_escaped_and_the_json_still_parses_to_the_same_value() {
        let v = serde_json::json!({"text": "<script>alert('x')</script> & more"});
        let res = escaped_json(StatusCode::OK, &v);
        let body =
            futures::executor::block_on(axum::body::to_bytes(res.into_body(), 1 << 20)).unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains('<') && !text.contains('&'));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }
}
