//! Backoff: exponential with full jitter (AWS's "full jitter": a uniform wait
//! between 0 and the ceiling), so many jobs failing together do not retry
//! together. An upstream's `Retry-After` wins over the computed wait.

use std::time::Duration;

use rand::Rng;

use super::RetryPolicy;

/// The ceiling before attempt `attempt + 1` (attempt counts from 1).
pub fn ceiling(policy: RetryPolicy, attempt: i32) -> Duration {
    let exp = (attempt.max(1) - 1).min(30) as u32;
    let secs = policy
        .base_secs
        .saturating_mul(1u64 << exp)
        .min(policy.cap_secs);
    Duration::from_secs(secs)
}

/// The wait before the next attempt: `Retry-After` when given, else a
/// uniform draw in [1 s, ceiling].
pub fn next_delay(policy: RetryPolicy, attempt: i32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d;
    }
    let ceil = ceiling(policy, attempt).as_millis().max(1_000) as u64;
    Duration::from_millis(rand::thread_rng().gen_range(1_000..=ceil))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRM: RetryPolicy = RetryPolicy {
        max_attempts: 8,
        base_secs: 30,
        cap_secs: 3_600,
    };

    #[test]
    fn the_ceiling_doubles_per_attempt_up_to_the_cap() {
        let secs: Vec<u64> = (1..=9).map(|a| ceiling(CRM, a).as_secs()).collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }

    #[test]
    fn the_delay_stays_within_the_ceiling_and_retry_after_wins() {
        for attempt in 1..=8 {
            for _ in 0..50 {
                let d = next_delay(CRM, attempt, None);
                assert!(d >= Duration::from_secs(1) && d <= ceiling(CRM, attempt));
            }
        }
        let ra = Some(Duration::from_secs(42));
        assert_eq!(next_delay(CRM, 3, ra), Duration::from_secs(42));
    }
}
