//! Abuse controls: fixed-window rate limits in Redis, per client IP
//! (`SUPPORT_RATE_LIMIT_PER_IP` per 10 minutes, default 10) and per sender
//! email (`SUPPORT_RATE_LIMIT_PER_EMAIL` per hour, default 5). Keys hold a
//! hash, never the address. Redis down → the request is let through with a
//! warning (fail open): losing a customer's message is worse than a burst.
//!
//! The client IP is the first hop of `x-forwarded-for`, else `x-real-ip`:
//! on Vercel both are set by the platform (a client cannot forge them);
//! behind another proxy make sure it overwrites them. Without either, every
//! caller shares one `unknown` bucket.

use std::net::IpAddr;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::input::Email;
use crate::state::App;
use crate::telemetry::hash_email;

/// The per-IP window.
pub const IP_WINDOW_MS: u64 = 10 * 60 * 1000;
/// The per-email window.
pub const EMAIL_WINDOW_MS: u64 = 60 * 60 * 1000;

/// Over a limit: retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Seconds until the window ends (at least 1).
    pub retry_after_secs: u64,
}

/// The caller's address, if the platform told us.
pub fn client_ip(headers: &HeaderMap) -> Option<IpAddr> {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    };
    first("x-forwarded-for").or_else(|| first("x-real-ip"))
}

/// The Redis key (before the deploy prefix) counting posts from `ip`.
pub fn ip_key(ip: Option<IpAddr>) -> String {
    let id = match ip {
        Some(ip) => hex::encode(&Sha256::digest(ip.to_string().as_bytes())[..8]),
        None => "unknown".to_string(),
    };
    format!("support:rl:ip:{id}")
}

/// The Redis key (before the deploy prefix) counting contacts from `email`.
pub fn email_key(email: &Email) -> String {
    format!("support:rl:email:{}", hash_email(email.as_str()))
}

/// Counts one post from `ip`.
pub async fn check_ip(app: &App, ip: Option<IpAddr>) -> Result<(), Limited> {
    let limit = app.config.support_rate_limit_per_ip;
    check(app, &ip_key(ip), limit, IP_WINDOW_MS).await
}

/// Counts one contact from `email`.
pub async fn check_email(app: &App, email: &Email) -> Result<(), Limited> {
    let limit = app.config.support_rate_limit_per_email;
    check(app, &email_key(email), limit, EMAIL_WINDOW_MS).await
}

async fn check(app: &App, key: &str, limit: i64, window_ms: u64) -> Result<(), Limited> {
    match app.kv.incr_window(key, 1, window_ms).await {
        Ok((n, _)) if n <= limit => Ok(()),
        Ok((_, ttl_ms)) => Err(Limited {
            retry_after_secs: (ttl_ms.max(0) as u64).div_ceil(1000).max(1),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "redis unavailable: support rate limit not applied (fail open)");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_first_forwarded_hop_is_the_client() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7, 10.0.0.1")]);
        assert_eq!(client_ip(&h), "203.0.113.7".parse().ok());
        let h = headers(&[("x-real-ip", "2001:db8::1")]);
        assert_eq!(client_ip(&h), "2001:db8::1".parse().ok());
    }

    #[test]
    fn a_garbage_forwarded_header_falls_back_to_the_real_ip_or_none() {
        let h = headers(&[("x-forwarded-for", "evil"), ("x-real-ip", "198.51.100.2")]);
        assert_eq!(client_ip(&h), "198.51.100.2".parse().ok());
        assert_eq!(client_ip(&headers(&[("x-forwarded-for", "evil")])), None);
    }
}
