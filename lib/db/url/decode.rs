//! Percent-decoding of URL parts, as libpq does it.

use super::UrlError;

/// Decodes `%XX` (`+` stays a `+`, as in libpq); any other `%` is kept as is.
pub(super) fn percent_decode(s: &str) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

pub(super) fn decode_str(s: &str, what: &'static str) -> Result<String, UrlError> {
    String::from_utf8(percent_decode(s)).map_err(|_| UrlError::Invalid(what))
}
