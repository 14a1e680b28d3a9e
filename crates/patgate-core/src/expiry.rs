//! When a token stops working: never, or a whole number of days after the moment it was set.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

pub const MIN_EXPIRY_DAYS: u64 = 1;
/// Ten years: long enough for any pipeline, short enough to be a real bound.
pub const MAX_EXPIRY_DAYS: u64 = 3650;

/// A validated expiry choice. It crosses process boundaries (the ledger's protocol) in this
/// form, as `"never"` or `{"in_days": n}`, so it is validated once, where it enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    Never,
    InDays(ExpiryDays),
}

/// A whole number of days in `1..=3650`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct ExpiryDays(u16);

/// The requested number of days is outside `1..=3650`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryOutOfRange;

impl fmt::Display for ExpiryOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expires_in_days must be a whole number from {MIN_EXPIRY_DAYS} to {MAX_EXPIRY_DAYS}, \
             or null for a token that never expires"
        )
    }
}

impl ExpiryDays {
    pub fn new(days: u64) -> Result<Self, ExpiryOutOfRange> {
        if (MIN_EXPIRY_DAYS..=MAX_EXPIRY_DAYS).contains(&days) {
            u16::try_from(days).map(Self).map_err(|_| ExpiryOutOfRange)
        } else {
            Err(ExpiryOutOfRange)
        }
    }

    pub fn get(self) -> u64 {
        u64::from(self.0)
    }
}

impl TryFrom<u64> for ExpiryDays {
    type Error = ExpiryOutOfRange;

    fn try_from(days: u64) -> Result<Self, Self::Error> {
        Self::new(days)
    }
}

impl From<ExpiryDays> for u64 {
    fn from(days: ExpiryDays) -> Self {
        days.get()
    }
}

impl Expiry {
    /// `None` means "never expires". Saturates at [`Timestamp::MAX`], so it cannot overflow.
    pub fn expires_at(self, now: Timestamp) -> Option<Timestamp> {
        match self {
            Self::Never => None,
            Self::InDays(days) => Some(now.saturating_add_days(days.get())),
        }
    }
}

/// A token with this expiry is no longer valid at `now` (`now >= expires_at`).
pub fn is_expired(expires_at: Option<Timestamp>, now: Timestamp) -> bool {
    expires_at.is_some_and(|expires_at| now >= expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive() {
        assert!(ExpiryDays::new(0).is_err());
        assert_eq!(ExpiryDays::new(1).unwrap().get(), 1);
        assert_eq!(ExpiryDays::new(3650).unwrap().get(), 3650);
        assert!(ExpiryDays::new(3651).is_err());
        assert!(ExpiryDays::new(u64::MAX).is_err());
    }

    #[test]
    fn expiry_is_counted_from_now_and_saturates() {
        let now = Timestamp::from_unix_seconds(1_000).unwrap();
        let week = Expiry::InDays(ExpiryDays::new(7).unwrap());
        assert_eq!(
            week.expires_at(now).unwrap().unix_seconds(),
            1_000 + 7 * 86_400
        );
        assert_eq!(Expiry::Never.expires_at(now), None);
        let max_days = Expiry::InDays(ExpiryDays::new(MAX_EXPIRY_DAYS).unwrap());
        assert_eq!(max_days.expires_at(Timestamp::MAX), Some(Timestamp::MAX));
    }

    #[test]
    fn the_serialized_form_is_unambiguous_and_validated() {
        let week = Expiry::InDays(ExpiryDays::new(7).unwrap());
        assert_eq!(serde_json::to_string(&week).unwrap(), "{\"in_days\":7}");
        assert_eq!(serde_json::to_string(&Expiry::Never).unwrap(), "\"never\"");
        assert_eq!(
            serde_json::from_str::<Expiry>("{\"in_days\":7}").unwrap(),
            week
        );
        for bad in ["{\"in_days\":0}", "{\"in_days\":3651}", "null", "7"] {
            assert!(serde_json::from_str::<Expiry>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expired_exactly_at_the_instant() {
        let at = Timestamp::from_unix_seconds(500).unwrap();
        let before = Timestamp::from_unix_seconds(499).unwrap();
        assert!(!is_expired(Some(at), before));
        assert!(is_expired(Some(at), at));
        assert!(!is_expired(None, Timestamp::MAX));
    }
}
