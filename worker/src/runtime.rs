//! What the logic needs from the world besides storage: the time, randomness and waiting. All
//! are ports, so native tests drive them; the system implementations read the runtime's clock
//! (`Date.now()` in workerd) and its CSPRNG (`crypto.getRandomValues`), and the platform layer
//! waits with `setTimeout`.

use std::fmt;

use patgate_core::time::Timestamp;

/// Milliseconds since the Unix epoch: the resolution revocation bounds are stated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The whole second this instant falls in, as the core's records count time.
    pub fn timestamp(self) -> Timestamp {
        // Exact for every value below 2^53 ms (year 287,396); beyond that, clamped anyway.
        Timestamp::from_unix_millis_clamped(self.0 as f64)
    }

    pub fn saturating_add(self, millis: u64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// Milliseconds from `earlier` to `self`; zero if `earlier` is later.
    pub fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

pub trait Clock {
    fn now_millis(&self) -> UnixMillis;

    fn now(&self) -> Timestamp {
        self.now_millis().timestamp()
    }
}

/// Waiting without blocking the isolate (the ledger's backoff between KV retries).
#[allow(async_fn_in_trait)]
pub trait Sleep {
    async fn sleep(&self, millis: u64);
}

/// The platform's randomness could not be read: fail closed, as with a storage failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntropyUnavailable(pub String);

impl fmt::Display for EntropyUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "randomness unavailable: {}", self.0)
    }
}

pub trait Entropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable>;

    /// `N` fresh random bytes.
    fn draw<const N: usize>(&self) -> Result<[u8; N], EntropyUnavailable> {
        let mut bytes = [0u8; N];
        self.fill(&mut bytes)?;
        Ok(bytes)
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[cfg(target_arch = "wasm32")]
    fn now_millis(&self) -> UnixMillis {
        // `as` saturates: NaN and negative clocks read as the epoch.
        UnixMillis(js_sys::Date::now() as u64)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn now_millis(&self) -> UnixMillis {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        UnixMillis(u64::try_from(millis).unwrap_or(u64::MAX))
    }
}

/// Randomness from the platform CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, buf: &mut [u8]) -> Result<(), EntropyUnavailable> {
        getrandom::fill(buf).map_err(|e| EntropyUnavailable(e.to_string()))
    }
}
