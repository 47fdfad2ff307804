//! Links in a reply, read the way a mail client would make them clickable:
//! URLs with any scheme, `//host`, bare domains (`evil.io`, `www.x.com`,
//! hosts in any script) and email addresses all count.
//!
//! Only `https` to an allowlisted host, or `mailto:` / a bare address at
//! one, may stay; any other scheme (`http`, `javascript`, `data`, `file`,
//! ...) and any host the guard cannot parse are refused. Hosts are
//! compared exactly, after IDNA (UTS 46 mapping, punycode), so a look-alike
//! of an allowlisted host can never be equal to it; the TR39 skeleton is
//! used only to *name* a look-alike (`link_lookalike`), never to allow one.

use std::collections::HashSet;

use super::normal::{fold, visible};

/// Characters that can sit inside a link; anything else ends one.
const URL_CHARS: &str = "-._~:/?#@%+&";

/// What the links of a text amount to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Links {
    /// Some link is not an `https`/`mailto:` link to an allowlisted host.
    pub not_allowed: bool,
    /// Some refused host imitates an allowlisted one.
    pub lookalike: bool,
}

/// Where one token points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host, in its IDNA ASCII form.
    Host(String),
    /// A link that can never be allowed (scheme, unparsable host).
    Refused,
}

/// Judges every link in `plain` (a lower-cased `visible` text).
pub fn check(plain: &str, allowlist: &[String]) -> Links {
    let allow: Vec<String> = allowlist
        .iter()
        .filter_map(|a| ascii_host(a.trim().trim_start_matches("*.")))
        .collect();
    let mut out = Links::default();
    let mut seen = HashSet::new();
    let mut allow_skeletons: Option<Vec<String>> = None;
    for token in tokens(plain).filter(|t| seen.insert(*t)) {
        match target(token) {
            None => {}
            Some(Target::Refused) => out.not_allowed = true,
            Some(Target::Host(host)) if !allowed(&host, &allow) => {
                out.not_allowed = true;
                let skeletons = allow_skeletons
                    .get_or_insert_with(|| allow.iter().map(|a| skeleton(a)).collect());
                out.lookalike |= allowed(&skeleton(&host), skeletons);
            }
            Some(Target::Host(_)) => {}
        }
    }
    out
}

/// The link-shaped tokens of a text (edges trimmed of punctuation).
pub fn tokens(plain: &str) -> impl Iterator<Item = &str> {
    plain
        .split(|c: char| !(c.is_alphanumeric() || URL_CHARS.contains(c)))
        .map(|t| {
            t.trim_start_matches(|c: char| !c.is_alphanumeric())
                .trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '/'))
        })
        .filter(|t| !t.is_empty())
}

/// Where a token points, if it is a link at all.
pub fn target(token: &str) -> Option<Target> {
    if let Some((scheme, rest)) = scheme_of(token) {
        return Some(match scheme {
            "https" => url::Url::parse(token)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .map_or(Target::Refused, Target::Host),
            "mailto" => {
                let address = rest.split('?').next().unwrap_or_default();
                let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
                ascii_host(domain).map_or(Target::Refused, Target::Host)
            }
            _ => Target::Refused,
        });
    }
    let host = match token.rsplit_once('@') {
        Some((_, domain)) => domain,
        None => token,
    };
    let host = host.split(['/', '?', '#', ':']).next().unwrap_or_default();
    looks_like_domain(host).then(|| ascii_host(host).map_or(Target::Refused, Target::Host))
}

/// `scheme:rest` as RFC 3986 spells a scheme (ASCII letter first), with
/// something after the colon.
fn scheme_of(token: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = token.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let ok = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty();
    ok.then_some((scheme, rest))
}

/// Two or more non-empty labels of letters, digits or hyphens (any
/// script), the last one letters only (or punycode).
fn looks_like_domain(host: &str) -> bool {
    let label_ok = |l: &str| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-');
    let Some((_, tld)) = host.rsplit_once('.') else {
        return false;
    };
    host.split('.').all(label_ok)
        && (tld.starts_with("xn--")
            || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)))
}

/// The IDNA ASCII form of a host; `None` when IDNA refuses it.
fn ascii_host(host: &str) -> Option<String> {
    idna::domain_to_ascii(host).ok().filter(|h| !h.is_empty())
}

/// Exact host or a subdomain of an allowed one (also used on skeletons).
fn allowed(host: &str, allow: &[String]) -> bool {
    allow.iter().any(|a| {
        host == a
            || host
                .strip_suffix(a.as_str())
                .is_some_and(|s| s.ends_with('.'))
    })
}

/// How a host reads (its Unicode form, folded like any text): equal for a
/// look-alike and the host it imitates.
fn skeleton(host: &str) -> String {
    fold(&visible(&idna::domain_to_unicode(host).0).to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(text: &str) -> Links {
        let allow = [
            "docs.example.com".to_string(),
            "*.help.example.org".to_string(),
        ];
        check(&visible(text).to_lowercase(), &allow)
    }

    const REFUSED: Links = Links {
        not_allowed: true,
        lookalike: false,
    };
    const LOOKALIKE: Links = Links {
        not_allowed: true,
        lookalike: true,
    };

    #[test]
    fn links_as_a_table() {
        let table: &[(&str, Links)] = &[
            ("See https://docs.example.com/export.", Links::default()),
            ("See HTTPS://DOCS.EXAMPLE.COM/a?b=c#d", Links::default()),
            ("See https://a.help.example.org/x", Links::default()),
            ("Write to help@docs.example.com.", Links::default()),
            (
                "Mail mailto:help@docs.example.com?subject=hi",
                Links::default(),
            ),
            ("Go to docs.example.com/export", Links::default()),
            (
                "Version 1.2 and e.g. the CSV option, i.e. the first",
                Links::default(),
            ),
            ("At 10:30, pick Export: CSV", Links::default()),
            ("http://docs.example.com/export", REFUSED),
            ("javascript:alert(document.cookie)", REFUSED),
            ("JaVaScRiPt:alert(1)", REFUSED),
            ("ｊａｖａｓｃｒｉｐｔ：alert(1)", REFUSED),
            ("data:text/html;base64,PHNjcmlwdD4=", REFUSED),
            ("<a href=\"file:///etc/passwd\">x</a>", REFUSED),
            ("<a href=https://evil.com>docs</a>", REFUSED),
            ("[docs](https://evil.com/reset)", REFUSED),
            ("mailto:help@evil.com", REFUSED),
            ("write to billing@evil.com", REFUSED),
            ("Open evil.io or //evil.io/x", REFUSED),
            ("https://docs.example.com@evil.io/", REFUSED),
            ("https://docs.example.com.evil.io/", REFUSED),
            ("https://docs.example.com/?next=https://evil.io", REFUSED),
            ("https://93.184.216.34/login", REFUSED),
            ("visit пример.рф today", REFUSED),
            ("visit evil\u{200b}.com today", REFUSED),
            ("visit evil。com today", REFUSED),
            ("https://docs.еxample.com/reset", LOOKALIKE),
            ("https://dосs.ехаmрlе.com/reset", LOOKALIKE),
            ("help@dосs.ехаmрlе.com", LOOKALIKE),
            ("https://docs.examp1e.com", LOOKALIKE),
            ("https://docs.exarnple.com", LOOKALIKE),
            ("https://xn--80ak6aa92e.com", REFUSED),
        ];
        for (text, want) in table {
            assert_eq!(links(text), *want, "{text:?}");
        }
    }

    #[test]
    fn an_empty_allowlist_refuses_every_link_but_nothing_else() {
        let plain = "see https://docs.example.com, or write to a@docs.example.com";
        assert_eq!(check(plain, &[]), REFUSED);
        assert_eq!(check("go to settings, then export", &[]), Links::default());
    }
}
