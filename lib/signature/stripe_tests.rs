//! Stripe signature tests: a known vector computed outside this code, then
//! every way a header can be wrong, old, hostile or rotated.

use super::stripe::{sign, verify, SignatureHeader, MAX_V1_SIGNATURES};
use super::{SignatureError, VerifiedAt, FUTURE_SKEW_SECS};
use crate::secret::Secret;

const SECRET: &str = "whsec_FAKE_test_secret_opsbridge";
const T: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
/// HMAC-SHA256(key = SECRET bytes, "1700000000." + BODY), computed with
/// Python: `hmac.new(b"whsec_FAKE_test_secret_opsbridge",
/// b'1700000000.{"id":"evt_1","object":"event"}', hashlib.sha256).hexdigest()`.
const KNOWN_V1: &str = "a0bd5a9eff76132f1d4388f2badac8b5ea86083bd69f4e5f4e17054e900e0438";

fn secrets() -> Vec<Secret> {
    vec![Secret::new(SECRET)]
}

fn check(header: &str) -> Result<VerifiedAt, SignatureError> {
    verify(Some(header), BODY, &secrets(), 300, T)
}

fn at(now: i64) -> Result<VerifiedAt, SignatureError> {
    verify(
        Some(&sign(BODY, &Secret::new(SECRET), T)),
        BODY,
        &secrets(),
        300,
        now,
    )
}

fn is_malformed(r: Result<VerifiedAt, SignatureError>) -> bool {
    matches!(r, Err(SignatureError::MalformedHeader { .. }))
}

#[test]
fn sign_reproduces_a_vector_computed_independently() {
    assert_eq!(
        sign(BODY, &Secret::new(SECRET), T),
        format!("t={T},v1={KNOWN_V1}")
    );
}

#[test]
fn the_known_vector_verifies_and_names_the_matching_secret() {
    let ok = check(&format!("t={T},v1={KNOWN_V1}"));
    assert_eq!(
        ok,
        Ok(VerifiedAt {
            timestamp: T,
            secret_index: 0
        })
    );
}

#[test]
fn a_tampered_body_is_a_mismatch() {
    let header = format!("t={T},v1={KNOWN_V1}");
    let tampered = br#"{"id":"evt_2","object":"event"}"#;
    assert_eq!(
        verify(Some(&header), tampered, &secrets(), 300, T),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn a_changed_timestamp_is_a_mismatch_because_t_is_signed() {
    assert_eq!(
        check(&format!("t={},v1={KNOWN_V1}", T + 1)),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn the_body_is_verified_as_raw_bytes_even_when_not_utf8() {
    let body = [0xff, 0xfe, b'{', 0x00, b'}'];
    let header = sign(&body, &Secret::new(SECRET), T);
    assert!(verify(Some(&header), &body, &secrets(), 300, T).is_ok());
}

#[test]
fn an_absent_or_blank_header_is_missing() {
    for header in [None, Some(""), Some("   ")] {
        let err = verify(header, BODY, &secrets(), 300, T).unwrap_err();
        assert_eq!(
            err,
            SignatureError::MissingHeader {
                header: "stripe-signature"
            }
        );
    }
}

#[test]
fn a_timestamp_exactly_at_the_tolerance_is_accepted() {
    assert!(at(T + 300).is_ok());
}

#[test]
fn a_timestamp_one_second_past_the_tolerance_is_rejected() {
    let err = at(T + 301).unwrap_err();
    assert_eq!(
        err,
        SignatureError::TimestampOutOfTolerance { age_secs: 301 }
    );
}

#[test]
fn a_timestamp_up_to_the_future_skew_is_accepted_and_beyond_is_rejected() {
    assert!(at(T - FUTURE_SKEW_SECS).is_ok());
    let err = at(T - FUTURE_SKEW_SECS - 1).unwrap_err();
    assert_eq!(
        err,
        SignatureError::TimestampOutOfTolerance { age_secs: -61 }
    );
}

#[test]
fn a_forged_signature_on_a_stale_timestamp_is_a_mismatch_not_a_stale_event() {
    let header = format!("t={},v1={}", T - 10_000, "ab".repeat(32));
    assert_eq!(check(&header), Err(SignatureError::NoMatch));
}

#[test]
fn several_v1_values_with_only_the_last_valid_are_accepted() {
    let header = format!(
        "t={T},v1={},v1={},v1={KNOWN_V1}",
        "00".repeat(32),
        "ff".repeat(32)
    );
    assert!(check(&header).is_ok());
}

#[test]
fn either_secret_verifies_during_a_rotation() {
    let old = Secret::new("whsec_FAKE_old");
    let new = Secret::new("whsec_FAKE_new");
    let both = [old.clone(), new.clone()];
    let by_old = verify(Some(&sign(BODY, &old, T)), BODY, &both, 300, T).unwrap();
    let by_new = verify(Some(&sign(BODY, &new, T)), BODY, &both, 300, T).unwrap();
    assert_eq!((by_old.secret_index, by_new.secret_index), (0, 1));
    // What Stripe sends while rolling: one v1 per active secret.
    let old_v1 = sign(BODY, &old, T).split_once(",v1=").unwrap().1.to_owned();
    let rolling = format!("{},v1={old_v1}", sign(BODY, &new, T));
    assert_eq!(
        verify(Some(&rolling), BODY, &[old], 300, T).map(|v| v.secret_index),
        Ok(0)
    );
}

#[test]
fn no_secret_configured_or_an_empty_secret_never_matches() {
    let header = sign(BODY, &Secret::new(""), T);
    assert_eq!(
        verify(Some(&header), BODY, &[], 300, T),
        Err(SignatureError::NoMatch)
    );
    let empty = [Secret::new("")];
    assert_eq!(
        verify(Some(&header), BODY, &empty, 300, T),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn a_signature_with_an_empty_v1_is_rejected() {
    assert_eq!(check(&format!("t={T},v1=")), Err(SignatureError::NoMatch));
}

#[test]
fn a_truncated_or_overlong_v1_is_rejected() {
    assert_eq!(
        check(&format!("t={T},v1={}", &KNOWN_V1[..63])),
        Err(SignatureError::NoMatch)
    );
    assert_eq!(
        check(&format!("t={T},v1={}", &KNOWN_V1[..62])),
        Err(SignatureError::NoMatch)
    );
    assert_eq!(
        check(&format!("t={T},v1={KNOWN_V1}00")),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn a_non_hex_v1_is_rejected() {
    let not_hex = format!("{}zz", &KNOWN_V1[..62]);
    assert_eq!(
        check(&format!("t={T},v1={not_hex}")),
        Err(SignatureError::NoMatch)
    );
}

#[test]
fn uppercase_hex_is_accepted_because_the_decoded_bytes_are_compared() {
    assert!(check(&format!("t={T},v1={}", KNOWN_V1.to_uppercase())).is_ok());
}

#[test]
fn spaces_around_items_and_odd_order_are_tolerated() {
    assert!(check(&format!(" v1 = {KNOWN_V1} , t = {T} ,")).is_ok());
    assert!(check(&format!("v0={},v1={KNOWN_V1},t={T}", "00".repeat(32))).is_ok());
}

#[test]
fn v0_and_unknown_keys_are_ignored_never_accepted() {
    assert!(check(&format!("t={T},foo=bar,junk,v1={KNOWN_V1},v2=x")).is_ok());
    assert_eq!(
        check(&format!("t={T},v0={KNOWN_V1}")),
        Err(SignatureError::NoV1)
    );
}

#[test]
fn a_missing_timestamp_is_malformed() {
    assert!(is_malformed(check(&format!("v1={KNOWN_V1}"))));
    assert!(is_malformed(check(&format!("t=,v1={KNOWN_V1}"))));
}

#[test]
fn a_non_numeric_timestamp_is_malformed() {
    for t in [
        "abc",
        "-1700000000",
        "+1700000000",
        "1700000000.5",
        "99999999999999999999",
    ] {
        assert!(is_malformed(check(&format!("t={t},v1={KNOWN_V1}"))), "{t}");
    }
}

#[test]
fn two_timestamps_are_malformed() {
    assert!(is_malformed(check(&format!("t={T},t={T},v1={KNOWN_V1}"))));
}

#[test]
fn a_header_over_8_kib_is_malformed() {
    let padding = ",x=".to_string() + &"a".repeat(8 * 1024);
    assert!(is_malformed(check(&format!(
        "t={T},v1={KNOWN_V1}{padding}"
    ))));
}

#[test]
fn sixteen_v1_values_are_read_and_seventeen_are_malformed() {
    let filler = format!(",v1={}", "00".repeat(32)).repeat(MAX_V1_SIGNATURES - 1);
    assert!(check(&format!("t={T}{filler},v1={KNOWN_V1}")).is_ok());
    assert!(is_malformed(check(&format!(
        "t={T}{filler},v1=00,v1={KNOWN_V1}"
    ))));
}

#[test]
fn a_mismatch_never_prints_the_secret_the_body_or_the_signature() {
    let header = format!("t={T},v1={}", "ab".repeat(32));
    let err = check(&header).unwrap_err();
    let parsed = SignatureHeader::parse(&header).unwrap();
    let printed = format!("{err} {err:?} {parsed:?} {:?}", secrets());
    for leak in [SECRET, "evt_1", "abab", KNOWN_V1] {
        assert!(!printed.contains(leak), "{leak} leaked in {printed}");
    }
}

#[test]
fn every_error_has_a_distinct_stable_code() {
    let codes = [
        SignatureError::MissingHeader {
            header: "stripe-signature",
        }
        .code(),
        SignatureError::malformed("x").code(),
        SignatureError::NoV1.code(),
        SignatureError::TimestampOutOfTolerance { age_secs: 1 }.code(),
        SignatureError::NoMatch.code(),
        SignatureError::InvalidKey.code(),
    ];
    assert_eq!(
        codes,
        [
            "missing_signature",
            "malformed_signature",
            "no_v1_signature",
            "timestamp_out_of_tolerance",
            "signature_mismatch",
            "invalid_signing_key",
        ]
    );
}
