//! The normalisation tables: disguises read as the plain word, numbers
//! and punctuation keep their meaning, split letters are joined back.

use super::*;

fn words(text: &str) -> String {
    normalise(text).words.join(" ")
}

#[test]
fn disguised_spellings_read_as_the_plain_word() {
    let refund = words("refund");
    for disguise in [
        "REFUND",
        "Ｒｅｆｕｎｄ",
        "ⓡⓔⓕⓤⓝⓓ",
        "ref\u{200b}und",
        "re\u{00ad}fu\u{2060}nd",
        "r\u{0435}fund",
        "r3fund",
        "réfünd",
        "r\u{336}efund",
    ] {
        assert_eq!(words(disguise), refund, "{disguise:?}");
    }
    assert_eq!(words("p@ssw0rd"), words("password"));
    assert_eq!(words("billing@evil.com"), words("billing evil com"));
    assert_eq!(words("cr3d!t"), words("credit"));
    assert_eq!(words("$ecret"), words("secret"));
    assert_eq!(words("adm1n"), words("admin"));
    assert_eq!(words("Straße"), words("strasse"));
}

#[test]
fn plain_numbers_and_sentence_punctuation_keep_their_meaning() {
    assert_eq!(words("Thanks! See you"), words("thanks see you"));
    assert_ne!(words("$49"), words("s49"));
    assert_eq!(normalise("version 2026").words.len(), 2);
    assert_eq!(visible("ＵＳ＄５"), "US$5");
    for text in [
        "e \u{301}x ｆｕｌｌ",
        "Cafe\u{301} ﬁn ½ ",
        " \u{308}a ℌ𝔢𝔩𝔩𝔬",
    ] {
        assert_eq!(visible(text), text.nfkc().collect::<String>(), "{text:?}");
    }
    assert_eq!(visible("evil。com\u{200b}"), "evil.com");
}

#[test]
fn letters_split_by_spaces_or_punctuation_are_joined_back() {
    let refund = words("refund");
    for split in [
        "r e f u n d",
        "r.e.f.u.n.d",
        "r-e-f-u-n-d",
        "re fu nd",
        "| r | e | f | u | n | d |",
    ] {
        assert_eq!(normalise(split).joined[0], refund, "{split:?}");
    }
    assert!(normalise("a c r e d i t").tails.contains(&words("credit")));
    let gap = normalise("r e f u n d   n o w");
    assert_eq!(gap.joined, vec![words("refund"), words("now")]);
    assert_eq!(gap.tails, vec![words("efund"), words("fund"), words("und")]);
    assert_eq!(
        normalise("Go to Settings, then Export").joined,
        normalise("Go to Settings, then Export").words
    );
}
