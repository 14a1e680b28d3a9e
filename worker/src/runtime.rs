//! The two things the logic needs from the world besides storage: the time and randomness.
//! Both are ports, so native tests drive them; the system implementations read the runtime's
//! clock (`Date.now()` in workerd) and its CSPRNG (`crypto.getRandomValues`).

use std::fmt;

use patgate_core::time::Timestamp;

pub trait Clock {
    fn now(&self) -> Timestamp;
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
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_millis_clamped(js_sys::Date::now())
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn now(&self) -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |elapsed| elapsed.as_secs_f64() * 1000.0);
        Timestamp::from_unix_millis_clamped(millis)
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
