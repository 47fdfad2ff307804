//! Webhook signatures: verify what comes in, sign what goes out.
//!
//! Every inbound source is authenticated here, over the raw body bytes and
//! before anything parses them; every outbound webhook is signed here. One
//! module so that the security-sensitive parts (HMAC keying, constant-time,
//! length-checked comparison, the replay window, hostile-header limits) are
//! written and tested once and shared by every scheme.
//!
//! - [`stripe`]: `Stripe-Signature` (`t=…,v1=<hex>`), Stripe's own scheme.
//! - [`standard`]: Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64>`), used for our outbound webhooks and
//!   for inbound sources that follow the spec.
//! - [`SignatureError`] / [`VerifiedAt`]: what a verification returns, the
//!   same for every scheme, so an endpoint maps failures to 401 once.
//!
//! Time is always a parameter (`now_unix`), never read here, so tests pin it.

mod mac;
mod outcome;
pub mod standard;
pub mod stripe;
mod window;

#[cfg(test)]
mod standard_tests;
#[cfg(test)]
mod stripe_tests;

pub use outcome::{SignatureError, VerifiedAt};
pub use window::{DEFAULT_TOLERANCE_SECS, FUTURE_SKEW_SECS};
