//! Standard Webhooks tests: a known vector computed by an independent
//! implementation (so any receiver's library accepts what we send), then the
//! failure paths.

use http::{HeaderMap, HeaderValue};

use super::standard::{headers, sign, verify, StandardHeaders, StandardSigner};
use super::{SignatureError, VerifiedAt, FUTURE_SKEW_SECS};
use crate::secret::Secret;

// An obviously fake key (its base64 text spells FAKE...), short enough
// not to look like a real one; the
// expected signature was computed with Python's standard library, not ours:
//   key = base64decode(SECRET[6:]);
//   base64(hmac.new(key, b"{ID}.{T}." + BODY, sha256).digest())
// Message id, timestamp and body are those of the spec's own test suites.
const SECRET: &str = "whsec_FAKEtestKEY00000";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const T: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const EXPECTED: &str = "v1,svIE7ULIxIDNeIfP8y8aN7ozhlsQsXw99/JuUxFiRFA=";

fn secret() -> Secret {
    Secret::new(SECRET)
}

fn delivery(signature: &str) -> StandardHeaders<'_> {
    StandardHeaders {
        id: Some(ID),
        timestamp: Some("1614265330"),
        signature: Some(signature),
    }
}

fn check(signature: &str, body: &[u8], now: i64) -> Result<VerifiedAt, SignatureError> {
    verify(&[secret()], &delivery(signature), body, 300, now)
}

#[test]
fn the_independently_computed_vector_is_reproduced() {
    assert_eq!(sign(&secret(), ID, T, BODY).unwrap(), EXPECTED);
}

#[test]
fn the_published_test_vector_verifies_at_its_own_time() {
    assert_eq!(
        check(EXPECTED, BODY, T),
        Ok(VerifiedAt {
            timestamp: T,
            secret_index: 0
        })
    );
}

#[test]
fn headers_are_the_three_standard_pairs() {
    let pairs = headers(&secret(), ID, T, BODY).unwrap();
    assert_eq!(
        pairs.map(|(n, v)| format!("{n}: {v}")),
        [
            format!("webhook-id: {ID}"),
            "webhook-timestamp: 1614265330".to_owned(),
            format!("webhook-signature: {EXPECTED}"),
        ]
    );
}

#[test]
fn headers_read_from_a_header_map_verify() {
    let mut map = HeaderMap::new();
    for (name, value) in headers(&secret(), ID, T, BODY).unwrap() {
        map.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    let read = StandardHeaders::from_map(&map).unwrap();
    assert!(verify(&[secret()], &read, BODY, 300, T).is_ok());
}

#[test]
fn a_header_value_outside_visible_ascii_is_malformed() {
    let mut map = HeaderMap::new();
    map.insert("webhook-id", HeaderValue::from_bytes(b"msg_\xff").unwrap());
    let err = StandardHeaders::from_map(&map).unwrap_err();
    assert_eq!(err.code(), "malformed_signature");
}

#[test]
fn a_secret_that_is_not_whsec_and_base64_is_an_invalid_key() {
    for bad in [
        "FAKEtestKEY00000",
        "whsec_",
        "whsec_FAKE not base64!",
        "whsec_FAKE=",
    ] {
        let err = StandardSigner::new(&Secret::new(bad)).unwrap_err();
        assert_eq!(err, SignatureError::InvalidKey, "{bad}");
        assert_eq!(
            err.to_string(),
            "signing secret is not whsec_ followed by base64"
        );
    }
    let bad = [secret(), Secret::new("nope")];
    assert_eq!(
        verify(&bad, &delivery(EXPECTED), BODY, 300, T),
        Err(SignatureError::InvalidKey)
    );
}

#[test]
fn a_tampered_body_is_a_mismatch() {
    assert_eq!(
        check(EXPECTED, br#"{"test": 2432232315}"#, T),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn the_id_and_timestamp_are_signed_too() {
    let other_id = StandardHeaders {
        id: Some("msg_other"),
        ..delivery(EXPECTED)
    };
    assert_eq!(
        verify(&[secret()], &other_id, BODY, 300, T),
        Err(SignatureError::NoMatch)
    );
    let other_t = StandardHeaders {
        timestamp: Some("1614265331"),
        ..delivery(EXPECTED)
    };
    assert_eq!(
        verify(&[secret()], &other_t, BODY, 300, T),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn each_missing_header_is_named() {
    let cases = [
        (
            StandardHeaders {
                id: None,
                ..delivery(EXPECTED)
            },
            "webhook-id",
        ),
        (
            StandardHeaders {
                timestamp: Some(" "),
                ..delivery(EXPECTED)
            },
            "webhook-timestamp",
        ),
        (
            StandardHeaders {
                signature: None,
                ..delivery(EXPECTED)
            },
            "webhook-signature",
        ),
    ];
    for (h, header) in cases {
        let err = verify(&[secret()], &h, BODY, 300, T).unwrap_err();
        assert_eq!(err, SignatureError::MissingHeader { header });
    }
}

#[test]
fn a_non_numeric_timestamp_is_malformed() {
    let h = StandardHeaders {
        timestamp: Some("1614265330.0"),
        ..delivery(EXPECTED)
    };
    let err = verify(&[secret()], &h, BODY, 300, T).unwrap_err();
    assert_eq!(err.code(), "malformed_signature");
}

#[test]
fn the_window_is_tolerance_behind_and_the_skew_ahead_inclusive() {
    assert!(check(EXPECTED, BODY, T + 300).is_ok());
    assert_eq!(
        check(EXPECTED, BODY, T + 301),
        Err(SignatureError::TimestampOutOfTolerance { age_secs: 301 })
    );
    assert!(check(EXPECTED, BODY, T - FUTURE_SKEW_SECS).is_ok());
    assert!(check(EXPECTED, BODY, T - FUTURE_SKEW_SECS - 1).is_err());
}

#[test]
fn any_v1_in_the_list_may_match_and_other_versions_are_ignored() {
    let bogus = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    let list = format!("{bogus} v2,{} v1a,xyz  {EXPECTED} {bogus}", &EXPECTED[3..]);
    assert!(check(&list, BODY, T).is_ok());
}

#[test]
fn a_list_without_v1_has_no_v1() {
    let list = format!("v1a,{} v2,{}", &EXPECTED[3..], &EXPECTED[3..]);
    assert_eq!(check(&list, BODY, T), Err(SignatureError::NoV1));
}

#[test]
fn an_empty_or_truncated_v1_never_matches() {
    assert_eq!(check("v1,", BODY, T), Err(SignatureError::NoMatch));
    assert_eq!(
        check(&EXPECTED[..EXPECTED.len() - 1], BODY, T),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn hostile_signature_lists_are_malformed() {
    let huge = format!("{EXPECTED} {}", "x".repeat(8 * 1024));
    assert_eq!(
        check(&huge, BODY, T).unwrap_err().code(),
        "malformed_signature"
    );
    let many = format!("{}{EXPECTED}", "v1,AAAA ".repeat(16));
    assert_eq!(
        check(&many, BODY, T).unwrap_err().code(),
        "malformed_signature"
    );
}

#[test]
fn either_secret_verifies_during_a_rotation() {
    let new = Secret::new("whsec_FAKEnewKEYonly00");
    let both = [new.clone(), secret()];
    let by_new = sign(&new, ID, T, BODY).unwrap();
    assert_eq!(
        verify(&both, &delivery(&by_new), BODY, 300, T).map(|v| v.secret_index),
        Ok(0)
    );
    assert_eq!(
        verify(&both, &delivery(EXPECTED), BODY, 300, T).map(|v| v.secret_index),
        Ok(1)
    );
}

#[test]
fn ids_that_would_make_the_signed_content_ambiguous_are_refused() {
    for id in ["", "msg.1", "msg 1", "msg\n1", "msg_é"] {
        let err = sign(&secret(), id, T, BODY).unwrap_err();
        assert_eq!(err.code(), "malformed_signature", "{id:?}");
    }
    assert!(sign(&secret(), ID, -1, BODY).is_err());
}

#[test]
fn a_signer_never_prints_its_key() {
    let signer = StandardSigner::new(&secret()).unwrap();
    assert_eq!(format!("{signer:?}"), "StandardSigner([redacted])");
}
