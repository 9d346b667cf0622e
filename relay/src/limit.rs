//! Per-client rate limits: a token bucket per signing device (sync) or per address (join).
//!
//! Sync is keyed by the device that signed the request, checked after the signature, so
//! nobody can spend someone else's allowance, and phones sharing a carrier's NAT address do not
//! share one. Join requests are not signed by a known device, so they are keyed by address; the
//! invite code's 80 bits already make guessing hopeless, the limit keeps it that way. Limits
//! are generous: a phone syncing normally never meets them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hearth_protocol::DeviceId;

/// Buckets kept before idle (full) ones are dropped.
const PRUNE_AT: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKey {
    Device(DeviceId),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Buckets {
    map: HashMap<LimitKey, Bucket>,
    prune_at: usize,
}

#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens per second; 0 turns limiting off.
    rate: f64,
    burst: f64,
    buckets: Mutex<Buckets>,
}

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(Buckets {
                map: HashMap::new(),
                prune_at: PRUNE_AT,
            }),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn check(&self, key: LimitKey) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: LimitKey, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let (rate, burst) = (self.rate, self.burst);
        let refill = |b: &Bucket| {
            (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(burst)
        };
        // Plain numbers inside; a panic elsewhere cannot leave them inconsistent.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.map.len() >= buckets.prune_at {
            buckets.map.retain(|_, b| refill(b) < burst);
            buckets.prune_at = (buckets.map.len() * 2).max(PRUNE_AT);
        }
        let bucket = buckets.map.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        bucket.tokens = refill(bucket);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate_and_each_key_its_own() {
        let limiter = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        let a = LimitKey::Device(DeviceId([1; 32]));
        let b = LimitKey::Address(IpAddr::from([10, 0, 0, 1]));
        for _ in 0..3 {
            assert!(limiter.check_at(a, t0).is_ok());
        }
        let wait = limiter.check_at(a, t0).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        assert!(
            limiter.check_at(b, t0).is_ok(),
            "another client is unaffected"
        );
        assert!(limiter.check_at(a, t0 + Duration::from_millis(500)).is_ok());
        assert!(limiter
            .check_at(a, t0 + Duration::from_millis(500))
            .is_err());
    }

    #[test]
    fn zero_rate_means_no_limit() {
        let limiter = RateLimiter::new(0.0, 1.0);
        let k = LimitKey::Device(DeviceId([1; 32]));
        for _ in 0..1000 {
            assert!(limiter.check(k).is_ok());
        }
    }
}
