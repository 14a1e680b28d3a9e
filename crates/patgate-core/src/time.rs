//! Time as plain data. The core never reads a clock: callers pass `now` in.

use core::fmt;

use serde::{Deserialize, Serialize};

const SECONDS_PER_DAY: u64 = 86_400;

/// Whole seconds since the Unix epoch, bounded to years 1970–9999 so that every value has an
/// RFC 3339 form and no arithmetic on it can overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Timestamp(u64);

/// A number outside the supported range of [`Timestamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOutOfRange;

impl fmt::Display for TimestampOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timestamp outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59Z")
    }
}

impl Timestamp {
    /// 9999-12-31T23:59:59Z.
    pub const MAX: Self = Self(253_402_300_799);
    pub const UNIX_EPOCH: Self = Self(0);

    pub fn from_unix_seconds(seconds: u64) -> Result<Self, TimestampOutOfRange> {
        if seconds <= Self::MAX.0 {
            Ok(Self(seconds))
        } else {
            Err(TimestampOutOfRange)
        }
    }

    /// From JavaScript's `Date.now()` milliseconds; fractions are dropped and values outside
    /// the range (including NaN) are clamped, because a clock is not untrusted input.
    pub fn from_unix_millis_clamped(millis: f64) -> Self {
        if millis.is_nan() || millis <= 0.0 {
            return Self::UNIX_EPOCH;
        }
        // `as` saturates for floats; the `min` keeps us inside the supported range.
        Self(((millis / 1000.0) as u64).min(Self::MAX.0))
    }

    pub fn unix_seconds(self) -> u64 {
        self.0
    }

    /// Adds seconds, saturating at [`Timestamp::MAX`].
    pub fn saturating_add_seconds(self, seconds: u64) -> Self {
        Self(self.0.saturating_add(seconds).min(Self::MAX.0))
    }

    pub fn saturating_add_days(self, days: u64) -> Self {
        self.saturating_add_seconds(days.saturating_mul(SECONDS_PER_DAY))
    }

    /// Seconds from `earlier` to `self`, or zero if `earlier` is later.
    pub fn seconds_since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Parses the exact form [`fmt::Display`] writes: `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 20 {
            return None;
        }
        let number = |range: core::ops::Range<usize>| -> Option<u64> {
            let digits = bytes.get(range)?;
            digits.iter().try_fold(0u64, |acc, &d| {
                d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
            })
        };
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ];
        if separators
            .iter()
            .any(|&(at, want)| bytes.get(at) != Some(&want))
        {
            return None;
        }
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month)
        {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Self(
            days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second,
        ))
    }
}

impl TryFrom<u64> for Timestamp {
    type Error = TimestampOutOfRange;

    fn try_from(seconds: u64) -> Result<Self, Self::Error> {
        Self::from_unix_seconds(seconds)
    }
}

impl From<Timestamp> for u64 {
    fn from(timestamp: Timestamp) -> Self {
        timestamp.0
    }
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-11-23T10:00:00Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / SECONDS_PER_DAY;
        let of_day = self.0 % SECONDS_PER_DAY;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            of_day / 3600,
            of_day % 3600 / 60,
            of_day % 60
        )
    }
}

fn is_leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil calendar algorithms, restricted to dates from 1970 on.
fn civil_from_days(days_since_epoch: u64) -> (u64, u64, u64) {
    let z = days_since_epoch + 719_468;
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Timestamp::UNIX_EPOCH.to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_795_420_800).to_string(), "2026-11-23T08:00:00Z");
        assert_eq!(Timestamp(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn rejects_out_of_range_and_malformed() {
        assert!(Timestamp::from_unix_seconds(Timestamp::MAX.0 + 1).is_err());
        assert_eq!(Timestamp::MAX.saturating_add_days(u64::MAX), Timestamp::MAX);
        for bad in [
            "",
            "2026-02-30T00:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23 08:00:00Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            Timestamp::from_unix_millis_clamped(f64::NAN),
            Timestamp::UNIX_EPOCH
        );
        assert_eq!(
            Timestamp::from_unix_millis_clamped(f64::INFINITY),
            Timestamp::MAX
        );
    }

    proptest! {
        #[test]
        fn rfc3339_round_trips(seconds in 0..=Timestamp::MAX.0) {
            let timestamp = Timestamp(seconds);
            prop_assert_eq!(Timestamp::parse_rfc3339(&timestamp.to_string()), Some(timestamp));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,24}") {
            let _ = Timestamp::parse_rfc3339(&text);
        }
    }
}
