//! Time as an input: [`UnixTime`] and checked arithmetic. There is no clock here.

use core::fmt;
use core::time::Duration;

/// Non-leap seconds since the Unix epoch, as given by the caller.
///
/// The core never reads a clock: every call that may look at time takes a `UnixTime`.
/// All arithmetic is checked; an overflow is reported, never wrapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The epoch itself.
    pub const EPOCH: Self = Self(0);

    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }

    /// `self + d`, or `None` on overflow. Sub-second parts of `d` are ignored.
    pub const fn checked_add(self, d: Duration) -> Option<Self> {
        match self.0.checked_add(d.as_secs()) {
            Some(s) => Some(Self(s)),
            None => None,
        }
    }

    /// `self - d`, or `None` before the epoch. Sub-second parts of `d` are ignored.
    pub const fn checked_sub(self, d: Duration) -> Option<Self> {
        match self.0.checked_sub(d.as_secs()) {
            Some(s) => Some(Self(s)),
            None => None,
        }
    }

    /// `self + d`, clamped at the largest representable instant.
    pub const fn saturating_add(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.as_secs()))
    }

    /// `self - d`, clamped at the epoch.
    pub const fn saturating_sub(self, d: Duration) -> Self {
        Self(self.0.saturating_sub(d.as_secs()))
    }

    /// Time elapsed from `earlier` to `self`; zero when `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_secs(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_checked() {
        let t = UnixTime::from_secs(u64::MAX - 1);
        assert_eq!(t.checked_add(Duration::from_secs(2)), None);
        assert_eq!(
            t.checked_add(Duration::from_secs(1)),
            Some(UnixTime::from_secs(u64::MAX))
        );
        assert_eq!(UnixTime::EPOCH.checked_sub(Duration::from_secs(1)), None);
        assert_eq!(
            UnixTime::EPOCH.saturating_sub(Duration::from_secs(1)),
            UnixTime::EPOCH
        );
        assert_eq!(
            UnixTime::from_secs(10).saturating_duration_since(UnixTime::from_secs(20)),
            Duration::ZERO
        );
    }
}
