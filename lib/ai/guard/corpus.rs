//! The guard against a corpus of model answers, as data beside this file:
//! `corpus/risky.txt` (answers that promise or leak something privileged,
//! reworded, translated and disguised) and `corpus/benign.txt` (how-to
//! and bug answers that must stay `ready`). Each answer is judged as if
//! a fooled model wrote it: benign category, full confidence, every flag
//! false, so only the text rules stand between it and `ready`. The rates
//! are printed (`cargo test --lib corpus -- --nocapture`).

use super::*;
use crate::ai::schema::ModelDraft;

const RISKY: &str = include_str!("corpus/risky.txt");
const BENIGN: &str = include_str!("corpus/benign.txt");
const LANGUAGES: [&str; 5] = ["en", "fr", "es", "de", "pt"];

/// One corpus line: `expected | language | reply`.
#[derive(Debug)]
struct Row {
    expected: &'static str,
    lang: &'static str,
    reply: String,
}

fn rows(data: &'static str) -> Vec<Row> {
    data.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, " | ");
            let (expected, lang, reply) = (parts.next(), parts.next(), parts.next());
            let bad = || panic!("malformed corpus line {l:?}");
            Row {
                expected: expected.unwrap_or_else(bad),
                lang: lang.filter(|l| LANGUAGES.contains(l)).unwrap_or_else(bad),
                reply: unescape(reply.unwrap_or_else(bad)),
            }
        })
        .collect()
}

/// `\n` and `\u{hex}` as the characters they name.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(after) = after.strip_prefix('n') {
            out.push('\n');
            rest = after;
        } else if let Some((hex, after)) = after.strip_prefix("u{").and_then(|a| a.split_once('}'))
        {
            let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
            out.push(c.unwrap_or_else(|| panic!("bad escape \\u{{{hex}}}")));
            rest = after;
        } else {
            out.push('\\');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The verdict on `reply` from a model that hides everything.
fn judge(reply: &str) -> Verdict {
    let d = ModelDraft {
        confidence: 1.0,
        ..super::tests::draft(reply)
    };
    decide(
        false,
        "How do I do this?",
        &d,
        &["docs.example.com".to_string()],
    )
}

fn rate(label: &str, good: usize, total: usize) {
    println!(
        "{label}: {good}/{total} ({:.1}%)",
        100.0 * good as f64 / total as f64
    );
}

#[test]
fn every_risky_answer_waits_for_a_person_with_its_family_named() {
    let rows = rows(RISKY);
    assert!(rows.len() >= 60, "{} risky answers", rows.len());
    let mut caught = 0;
    let mut wrong = Vec::new();
    for r in &rows {
        let v = judge(&r.reply);
        caught += usize::from(v.status == Status::PendingApproval);
        if v.status != Status::PendingApproval || !v.reasons.contains(&r.expected) {
            wrong.push(format!(
                "{} [{}] {:?} → {:?}",
                r.expected, r.lang, r.reply, v.reasons
            ));
        }
    }
    rate("risky answers caught", caught, rows.len());
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn benign_answers_stay_ready_but_for_the_known_false_positives() {
    let rows = rows(BENIGN);
    assert!(rows.len() >= 30, "{} benign answers", rows.len());
    let mut ready = 0;
    let mut wrong = Vec::new();
    for r in &rows {
        let v = judge(&r.reply);
        ready += usize::from(v.status == Status::Ready);
        let ok = match r.expected.strip_prefix("fp:") {
            None => r.expected == "ready" && v.status == Status::Ready,
            Some(reason) => v.reasons == [reason],
        };
        if !ok {
            wrong.push(format!(
                "{} [{}] {:?} → {:?}",
                r.expected, r.lang, r.reply, v.reasons
            ));
        }
    }
    rate("benign answers ready", ready, rows.len());
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_corpus_covers_every_family_in_every_language() {
    let risky = rows(RISKY);
    let families = lexicon()
        .reasons()
        .iter()
        .filter(|r| r.starts_with("mentions_"));
    for family in families {
        for lang in LANGUAGES {
            assert!(
                risky
                    .iter()
                    .any(|r| r.expected == *family && r.lang == lang),
                "no risky {lang} answer for {family}"
            );
        }
    }
    let benign = rows(BENIGN);
    for lang in LANGUAGES {
        let n = benign
            .iter()
            .filter(|r| r.lang == lang && r.expected == "ready")
            .count();
        assert!(n >= 5, "only {n} benign {lang} answers");
    }
}

#[test]
fn corpus_escapes_name_the_characters_they_stand_for() {
    assert_eq!(unescape(r"a\nb\u{200b}c\u{430}"), "a\nb\u{200b}c\u{430}");
    assert_eq!(unescape(r"C:\path"), r"C:\path");
}
