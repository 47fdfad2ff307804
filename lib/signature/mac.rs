//! HMAC-SHA256 and the comparison every scheme here shares.
//!
//! Stripe and Standard Webhooks both sign with HMAC-SHA256; they differ only
//! in what is signed, how the key is derived and how the tag is encoded. The
//! keying and the constant-time, length-checked comparison live here once.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of an HMAC-SHA256 tag in bytes.
pub(crate) const TAG_LEN: usize = 32;

/// SHA-256's block size: HMAC pads (or first hashes) its key to this.
const BLOCK_LEN: usize = 64;

/// An HMAC-SHA256 tag.
pub(crate) type Tag = [u8; TAG_LEN];

/// HMAC-SHA256, keyed with `key`, of the concatenation of `parts` (so the
/// signed content is never copied into one buffer).
pub(crate) fn tag(key: &[u8], parts: &[&[u8]]) -> Tag {
    let mut mac = keyed(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `expected == presented`, in time independent of the contents; a
/// presented value of another length never matches (and only the length,
/// which is public anyway, decides how long that takes).
pub(crate) fn equal(expected: &[u8], presented: &[u8]) -> bool {
    expected.len() == presented.len() && bool::from(expected.ct_eq(presented))
}

/// An HMAC-SHA256 instance keyed without a fallible call. RFC 2104 §2 pads a
/// key up to the block size with zeros and first hashes a longer one; doing
/// exactly that here yields the same MAC as `new_from_slice` while leaving no
/// error to handle (and no `expect` in the request path).
fn keyed(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0u8; BLOCK_LEN];
    if key.len() > BLOCK_LEN {
        block[..TAG_LEN].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keying_by_hand_matches_the_hmac_crate_for_every_key_length() {
        for len in [0, 1, 31, 32, 63, 64, 65, 200] {
            let key = vec![0xA5u8; len];
            let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
            reference.update(b"1700000000.{}");
            let reference: Tag = reference.finalize().into_bytes().into();
            assert_eq!(
                tag(&key, &[b"1700000000", b".", b"{}"]),
                reference,
                "key length {len}"
            );
        }
    }

    #[test]
    fn the_rfc_4231_case_2_vector_is_reproduced() {
        let got = tag(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(got),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn values_of_another_length_never_match() {
        let t = tag(b"k", &[b"m"]);
        assert!(equal(&t, &t));
        assert!(!equal(&t, &t[..31]));
        assert!(!equal(&t, &[]));
        assert!(!equal(&[], &t));
        let mut longer = t.to_vec();
        longer.push(0);
        assert!(!equal(&t, &longer));
        let mut flipped = t;
        flipped[31] ^= 1;
        assert!(!equal(&t, &flipped));
    }
}
