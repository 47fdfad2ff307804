//! Cross-check against the official `stripe` npm package: headers made by
//! `stripe.webhooks.generateTestHeaderString` (an implementation independent
//! of ours, pinned in `tests/npm_stripe/package.json`) must verify with our
//! verifier, and stop verifying when one byte of the body changes.
//!
//! Needs `npm install --prefix tests/npm_stripe --no-audit --no-fund` and
//! `node`. Without them the test is skipped locally, but FAILS when `CI` or
//! `OPSBRIDGE_REQUIRE_NPM=1` is set, so CI can never pass by skipping it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use opsbridge::secret::Secret;
use opsbridge::signature::{stripe, SignatureError};

/// One signing case: secret, payload and timestamp.
struct Case {
    secret: &'static str,
    payload: String,
    timestamp: i64,
}

fn cases() -> Vec<Case> {
    let event = serde_json::json!({
        "id": "evt_1QxYz", "object": "event", "api_version": "2024-06-20",
        "type": "checkout.session.completed",
        "data": {"object": {"id": "cs_test_1", "customer_email": "jo@example.com",
                            "metadata": {"note": "café — ünïcödé ✓"}}}
    });
    vec![
        Case {
            secret: "whsec_FAKE_test_secret_opsbridge",
            payload: r#"{"id":"evt_1","object":"event"}"#.into(),
            timestamp: 1_700_000_000,
        },
        Case {
            secret: "whsec_FAKE_npm_cross_check",
            payload: serde_json::to_string_pretty(&event).expect("json"),
            timestamp: 1_763_900_000,
        },
        Case {
            secret: "whsec_FAKE_rotated_ünï",
            payload: "{\n  \"lines\": \"a\\r\\nb\",\n  \"n\": 1\n}\n".into(),
            timestamp: 1,
        },
    ]
}

fn npm_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/npm_stripe")
}

/// True when a missing npm package must fail the run instead of skipping.
fn required() -> bool {
    let set =
        |name: &str| std::env::var(name).is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    set("CI") || std::env::var("OPSBRIDGE_REQUIRE_NPM").is_ok_and(|v| v == "1")
}

/// Runs `node sign.js` over every case at once (JSON lines in, headers out);
/// None when node or the package is missing and that is allowed.
fn npm_headers(cases: &[Case]) -> Option<Vec<String>> {
    let dir = npm_dir();
    if !dir.join("node_modules/stripe/package.json").is_file() {
        let msg = format!(
            "the stripe npm package is not installed: run \
             `npm install --prefix tests/npm_stripe --no-audit --no-fund` (in {})",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(!required(), "{msg}");
        eprintln!("skipping the stripe npm cross-check: {msg}");
        return None;
    }
    let spawned = Command::new("node")
        .arg(dir.join("sign.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            assert!(!required(), "cannot run node: {e}");
            eprintln!("skipping the stripe npm cross-check: cannot run node: {e}");
            return None;
        }
    };
    let mut input = String::new();
    for c in cases {
        let line =
            serde_json::json!({"secret": c.secret, "payload": c.payload, "timestamp": c.timestamp});
        input.push_str(&format!("{line}\n"));
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to node");
    let out = child.wait_with_output().expect("node output");
    assert!(
        out.status.success(),
        "sign.js failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8 headers");
    Some(stdout.lines().map(str::to_owned).collect())
}

#[test]
fn headers_from_the_official_stripe_package_verify_and_a_flipped_byte_does_not() {
    let cases = cases();
    let Some(headers) = npm_headers(&cases) else {
        return;
    };
    assert_eq!(
        headers.len(),
        cases.len(),
        "one header per case: {headers:?}"
    );
    let decoy = Secret::new("whsec_FAKE_other_endpoint");
    for (case, header) in cases.iter().zip(&headers) {
        let secrets = [decoy.clone(), Secret::new(case.secret)];
        let body = case.payload.as_bytes();
        let verified = stripe::verify(Some(header), body, &secrets, 300, case.timestamp)
            .unwrap_or_else(|e| panic!("stripe-node header rejected ({e}): {header}"));
        assert_eq!(
            (verified.timestamp, verified.secret_index),
            (case.timestamp, 1)
        );

        // Our signer formats the header byte for byte like Stripe's.
        assert_eq!(
            &stripe::sign(body, &Secret::new(case.secret), case.timestamp),
            header
        );

        for i in [0, body.len() / 2, body.len() - 1] {
            let mut flipped = body.to_vec();
            flipped[i] ^= 0x01;
            let result = stripe::verify(Some(header), &flipped, &secrets, 300, case.timestamp);
            assert_eq!(result, Err(SignatureError::NoMatch), "byte {i} flipped");
        }
    }
}
