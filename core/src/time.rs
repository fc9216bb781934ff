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

/// A NumericDate (RFC 7519 section 2) read from a JWT: whole seconds since the epoch and
/// whether a non-zero fraction follows them.
///
/// NumericDates may carry fractions; the current time is whole seconds ([`UnixTime`]). Keeping
/// the floor and a "fraction" flag is enough to compare the two exactly, with no rounding in
/// either direction: `now + 0.5` is after `now` and not before `now + 1`.
///
/// ```
/// use auth0_api::{NumericDate, UnixTime};
///
/// let now = UnixTime::from_secs(1_700_000_000);
/// let d = NumericDate::from_json("1700000000.5").unwrap();
/// assert!(d.is_after(now));
/// assert!(!d.is_before(now));
/// assert_eq!(d.floor(), now);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NumericDate {
    secs: u64,
    fraction: bool,
}

/// Why a JSON value is not a usable NumericDate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NumericDateError {
    /// The text is not a JSON number.
    NotANumber,
    /// The number is below zero (before the epoch).
    Negative,
    /// The number is 2^64 seconds or more.
    TooLarge,
}

impl fmt::Display for NumericDateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NumericDateError::NotANumber => "not a number",
            NumericDateError::Negative => "before the epoch",
            NumericDateError::TooLarge => "too large",
        })
    }
}

impl core::error::Error for NumericDateError {}

/// Larger than any exponent that can matter: `10^40` overflows `u64` and `10^-40` leaves no
/// integer part of a number with fewer digits than that. Exponents are clamped to it, so
/// `1e999999999999` is read without a loop over its value.
const MAX_EXPONENT: i64 = 1 << 40;

impl NumericDate {
    /// A whole number of seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self {
            secs,
            fraction: false,
        }
    }

    /// Reads the text of a JSON number (RFC 8259 section 6) exactly: any number of fraction
    /// digits and any exponent, without going through a float. `-0` is the epoch.
    ///
    /// # Errors
    /// [`NumericDateError::NotANumber`] for text that is not a JSON number (a string, `null`,
    /// `+1`, `01`, `1.`), [`Negative`](NumericDateError::Negative) below zero,
    /// [`TooLarge`](NumericDateError::TooLarge) at 2^64 seconds or more.
    pub fn from_json(text: &str) -> Result<Self, NumericDateError> {
        match plain_integer(text.as_bytes()) {
            Some(secs) => Ok(Self::from_secs(secs)),
            None => Self::from_json_text(text),
        }
    }

    /// [`NumericDate::from_json`] for any number text.
    fn from_json_text(text: &str) -> Result<Self, NumericDateError> {
        use NumericDateError::NotANumber;
        let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, bytes),
        };
        let int_len = digits(rest);
        if int_len == 0 || (int_len > 1 && rest.first() == Some(&b'0')) {
            return Err(NotANumber);
        }
        let (int, rest) = rest.split_at(int_len);
        let (frac, rest) = match rest.split_first() {
            Some((b'.', after)) => {
                let n = digits(after);
                if n == 0 {
                    return Err(NotANumber);
                }
                after.split_at(n)
            }
            _ => (&[][..], rest),
        };
        let exponent = match rest.split_first() {
            None => 0,
            Some((b'e' | b'E', after)) => {
                let (sign, after) = match after.split_first() {
                    Some((b'-', a)) => (-1, a),
                    Some((b'+', a)) => (1, a),
                    _ => (1, after),
                };
                let n = digits(after);
                if n == 0 || n != after.len() {
                    return Err(NotANumber);
                }
                let magnitude = after.iter().fold(0i64, |acc, d| {
                    (acc * 10 + i64::from(d - b'0')).min(MAX_EXPONENT)
                });
                sign * magnitude
            }
            Some(_) => return Err(NotANumber),
        };
        // The value is D * 10^shift, D being the integer and fraction digits together.
        let frac_len = i64::try_from(frac.len()).unwrap_or(MAX_EXPONENT);
        let shift = exponent.saturating_sub(frac_len).max(-MAX_EXPONENT);
        let all = || int.iter().chain(frac.iter()).map(|d| u64::from(d - b'0'));
        let total = i64::try_from(int.len() + frac.len()).unwrap_or(MAX_EXPONENT);
        // How many leading digits form the integer part; the rest are the fraction.
        let int_digits = usize::try_from(total.saturating_add(shift.min(0)).max(0)).unwrap_or(0);
        let mut secs: Option<u64> = Some(0);
        for d in all().take(int_digits) {
            secs = secs.and_then(|s| s.checked_mul(10)?.checked_add(d));
        }
        let fraction = all().skip(int_digits).any(|d| d != 0);
        if shift > 0 && secs != Some(0) {
            for _ in 0..shift.min(40) {
                secs = secs.and_then(|s| s.checked_mul(10));
            }
        }
        match secs {
            Some(0) if !fraction => Ok(Self::from_secs(0)),
            _ if negative => Err(NumericDateError::Negative),
            Some(secs) => Ok(Self { secs, fraction }),
            None => Err(NumericDateError::TooLarge),
        }
    }

    /// The whole seconds, the fraction dropped.
    pub const fn floor(self) -> UnixTime {
        UnixTime(self.secs)
    }

    /// Whether a non-zero fraction follows the whole seconds.
    pub const fn has_fraction(self) -> bool {
        self.fraction
    }

    /// Whether this date is strictly after `t`.
    pub const fn is_after(self, t: UnixTime) -> bool {
        self.secs > t.0 || (self.secs == t.0 && self.fraction)
    }

    /// Whether this date is strictly before `t`.
    pub const fn is_before(self, t: UnixTime) -> bool {
        self.secs < t.0
    }

    /// `self + d`, or `None` on overflow. Sub-second parts of `d` are ignored.
    pub const fn checked_add(self, d: Duration) -> Option<Self> {
        match self.secs.checked_add(d.as_secs()) {
            Some(secs) => Some(Self {
                secs,
                fraction: self.fraction,
            }),
            None => None,
        }
    }
}

/// The value of `text` when it is a whole number of 1 to 19 digits without a leading zero
/// (what issuers write), which always fits a `u64`; `None` for anything else, left to the
/// general reader.
fn plain_integer(text: &[u8]) -> Option<u64> {
    if !matches!(text, [b'1'..=b'9', ..]) || text.len() > 19 {
        return None;
    }
    let mut secs = 0u64;
    for &byte in text {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        secs = secs * 10 + u64::from(digit);
    }
    Some(secs)
}

impl fmt::Display for NumericDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fraction {
            write!(f, "{}.x", self.secs)
        } else {
            write!(f, "{}", self.secs)
        }
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
    use alloc::format;
    use alloc::string::String;
    use proptest::prelude::*;

    #[test]
    fn numeric_date_table() {
        use NumericDateError::*;
        let d = |secs, fraction| Ok(NumericDate { secs, fraction });
        let table: &[(&str, Result<NumericDate, NumericDateError>)] = &[
            ("0", d(0, false)),
            ("-0", d(0, false)),
            ("-0.0e5", d(0, false)),
            ("1700000000", d(1_700_000_000, false)),
            ("1700000000.5", d(1_700_000_000, true)),
            ("1700000000.000", d(1_700_000_000, false)),
            // Below f64 resolution at this magnitude: a float would lose the fraction.
            ("1700000000.0000000001", d(1_700_000_000, true)),
            ("1.7e9", d(1_700_000_000, false)),
            ("17E+8", d(1_700_000_000, false)),
            ("1700000000500e-3", d(1_700_000_000, true)),
            ("1700000000000e-3", d(1_700_000_000, false)),
            ("5e-1", d(0, true)),
            ("1e-999999999999999999999", d(0, true)),
            ("0e999999999999999999999", d(0, false)),
            ("18446744073709551615", d(u64::MAX, false)),
            ("18446744073709551615.9", d(u64::MAX, true)),
            ("18446744073709551616", Err(TooLarge)),
            ("1.8446744073709551616e19", Err(TooLarge)),
            ("1e999999999999999999999", Err(TooLarge)),
            ("-1", Err(Negative)),
            ("-0.5", Err(Negative)),
            ("-1e-999", Err(Negative)),
            ("\"1700000000\"", Err(NotANumber)),
            ("null", Err(NotANumber)),
            ("", Err(NotANumber)),
            ("+1", Err(NotANumber)),
            ("01", Err(NotANumber)),
            ("1.", Err(NotANumber)),
            (".5", Err(NotANumber)),
            ("1e", Err(NotANumber)),
            ("1e+", Err(NotANumber)),
            ("1 ", Err(NotANumber)),
            ("1.5.5", Err(NotANumber)),
            ("1ee5", Err(NotANumber)),
        ];
        for (text, want) in table {
            assert_eq!(NumericDate::from_json(text), *want, "{text:?}");
        }
    }

    #[test]
    fn numeric_date_comparisons_are_exact() {
        let now = UnixTime::from_secs(100);
        let half_past = NumericDate::from_json("100.5").unwrap();
        assert!(half_past.is_after(now) && !half_past.is_before(now));
        assert!(!NumericDate::from_secs(100).is_after(now));
        assert!(!NumericDate::from_secs(100).is_before(now));
        assert!(NumericDate::from_json("99.999").unwrap().is_before(now));
        assert!(!half_past.is_after(UnixTime::from_secs(101)));
        assert!(half_past.is_before(UnixTime::from_secs(101)));
    }

    /// The exact value `n / 10^k` of a generated number, as a rational model: its floor and
    /// whether a fraction remains, in 128-bit arithmetic (`None`: 2^64 or more).
    fn model(n: u128, shift: i32) -> Option<(u64, bool)> {
        if shift >= 0 {
            let scaled = 10u128
                .checked_pow(shift.unsigned_abs())
                .and_then(|p| n.checked_mul(p));
            return match scaled {
                _ if n == 0 => Some((0, false)),
                Some(v) => u64::try_from(v).ok().map(|v| (v, false)),
                None => None,
            };
        }
        match 10u128.checked_pow(shift.unsigned_abs()) {
            Some(p) => u64::try_from(n / p).ok().map(|v| (v, !n.is_multiple_of(p))),
            None => Some((0, n != 0)),
        }
    }

    proptest! {
        #[test]
        fn numeric_date_matches_a_rational_model(
            int in "(0|[1-9][0-9]{0,24})",
            frac in proptest::option::of("[0-9]{1,12}"),
            exp in proptest::option::of(-45i32..45),
            negative in any::<bool>(),
        ) {
            let mut text = String::new();
            if negative {
                text.push('-');
            }
            text.push_str(&int);
            if let Some(f) = &frac {
                text.push('.');
                text.push_str(f);
            }
            if let Some(e) = exp {
                text.push_str(&format!("e{e}"));
            }
            let digits = format!("{int}{}", frac.as_deref().unwrap_or(""));
            let n: u128 = digits.parse().unwrap();
            let frac_len = frac.as_ref().map_or(0, |f| f.len() as i32);
            let want = match model(n, exp.unwrap_or(0) - frac_len) {
                Some((0, false)) => Ok(NumericDate::from_secs(0)),
                _ if negative => Err(NumericDateError::Negative),
                Some((secs, fraction)) => Ok(NumericDate { secs, fraction }),
                None => Err(NumericDateError::TooLarge),
            };
            prop_assert_eq!(NumericDate::from_json(&text), want, "{}", text);
        }

        #[test]
        fn plain_integers_read_as_the_general_reader_reads_them(
            text in "-?[0-9]{1,21}(\\.[0-9]{1,3})?(e[0-9])?",
        ) {
            prop_assert_eq!(
                NumericDate::from_json(&text),
                NumericDate::from_json_text(&text),
                "{}", text
            );
            if let Some(secs) = plain_integer(text.as_bytes()) {
                prop_assert_eq!(text.parse::<u64>(), Ok(secs));
            }
        }

        #[test]
        fn numeric_date_never_panics(text in "[-+.eE0-9]{0,40}") {
            let _ = NumericDate::from_json(&text);
        }

        #[test]
        fn comparisons_agree_with_the_model(secs in 0u64..1000, fraction in any::<bool>(), now in 0u64..1000) {
            // Twice the value, to compare halves in integers.
            let twice = 2 * u128::from(secs) + u128::from(fraction);
            let d = NumericDate { secs, fraction };
            let t = UnixTime::from_secs(now);
            prop_assert_eq!(d.is_after(t), twice > 2 * u128::from(now));
            prop_assert_eq!(d.is_before(t), twice < 2 * u128::from(now));
        }
    }

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
