//! `RateSpec`: the limits of one upstream as configured (`30/min`, `3/s, 100000/day`, `10/5s`),
//! parsed once at the edge into windows of a count per period.

use std::{fmt, str::FromStr, time::Duration};

/// The longest window a spec may name. Longer windows would mean keeping grant times for more
/// than a year, and no upstream we call counts that far back.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);

/// The units a window may be written in, for error messages.
const UNITS_HELP: &str = "s, sec, second, m, min, minute, h, hour, d, day, mo or month";

/// A `month` window is 31 days: a sliding window that long never lets more than its limit into
/// any calendar month, which is how monthly plans (CoinGecko's `10000/month`) count.
const MONTH_SECS: u64 = 31 * 86_400;

/// The limits of one upstream: at most `limit` permits in any `period`, for every window at
/// once. No windows means unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RateSpec {
    /// Sorted by period, shortest first; no two windows share a period.
    windows: Vec<RateWindow>,
}

/// One window of a [`RateSpec`]: at most `limit` permits in any `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateWindow {
    /// At least 1.
    limit: u32,
    /// A whole number of seconds, from 1 s to [`MAX_WINDOW`].
    period: Duration,
}

/// Why a string is not a rate limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateSpecError {
    #[error("`{spec}` has an empty entry (two commas in a row, or a comma at one end)")]
    EmptyEntry { spec: String },
    #[error(
        "`{entry}` is not `<count>/<window>`; write limits like `30/min`, `10/5s` or `3/s, 100000/day` \
         (or `off` for no limit)"
    )]
    MissingSlash { entry: String },
    #[error("`{entry}`: the count `{count}` is not a whole number from 1 to 4294967295")]
    BadCount { entry: String, count: String },
    #[error("`{entry}`: a count of 0 would never allow a request (write `off` for no limit)")]
    ZeroCount { entry: String },
    #[error("`{entry}`: the window has no unit (use {UNITS_HELP})")]
    MissingUnit { entry: String },
    #[error("`{entry}`: unknown unit `{unit}` (use {UNITS_HELP})")]
    UnknownUnit { entry: String, unit: String },
    #[error("`{entry}`: the window length `{length}` is not a whole number from 1 up")]
    BadLength { entry: String, length: String },
    #[error("`{entry}`: the window is longer than 366 days")]
    WindowTooLong { entry: String },
    #[error("`{first}` and `{second}` limit the same window; keep one of them")]
    DuplicateWindow { first: String, second: String },
}

impl RateSpec {
    /// No limit at all (push-backs from the upstream still apply).
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Parses a comma-separated list of `<count>/[<length>]<unit>` entries, such as `30/min`,
    /// `10/5s` or `3/s, 100000/day`. Units: `s|sec|second`, `m|min|minute`, `h|hr|hour`,
    /// `d|day` (plurals and any letter case accepted). Empty, `none`, `off` and `unlimited` mean
    /// no limit.
    pub fn parse(input: &str) -> Result<Self, RateSpecError> {
        let spec = input.trim();
        if spec.is_empty()
            || ["none", "off", "unlimited"]
                .iter()
                .any(|word| spec.eq_ignore_ascii_case(word))
        {
            return Ok(Self::unlimited());
        }
        let mut windows: Vec<(RateWindow, &str)> = Vec::new();
        for entry in spec.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(RateSpecError::EmptyEntry { spec: spec.into() });
            }
            let window = RateWindow::parse_entry(entry)?;
            if let Some((_, first)) = windows.iter().find(|(w, _)| w.period == window.period) {
                return Err(RateSpecError::DuplicateWindow {
                    first: (*first).into(),
                    second: entry.into(),
                });
            }
            windows.push((window, entry));
        }
        let mut windows: Vec<RateWindow> = windows.into_iter().map(|(w, _)| w).collect();
        windows.sort_by_key(|w| w.period);
        Ok(Self { windows })
    }

    /// The windows, shortest period first; empty when unlimited.
    pub fn windows(&self) -> &[RateWindow] {
        &self.windows
    }

    pub fn is_unlimited(&self) -> bool {
        self.windows.is_empty()
    }

    /// The most one acquisition can ever cost: the smallest limit of any window.
    pub fn max_cost(&self) -> Option<u32> {
        self.windows.iter().map(|w| w.limit).min()
    }
}

impl RateWindow {
    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn period(&self) -> Duration {
        self.period
    }

    fn parse_entry(entry: &str) -> Result<Self, RateSpecError> {
        let Some((count, window)) = entry.split_once('/') else {
            return Err(RateSpecError::MissingSlash {
                entry: entry.into(),
            });
        };
        let count = count.trim();
        let bad_count = || RateSpecError::BadCount {
            entry: entry.into(),
            count: count.into(),
        };
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_count());
        }
        let limit: u32 = count.parse().map_err(|_| bad_count())?;
        if limit == 0 {
            return Err(RateSpecError::ZeroCount {
                entry: entry.into(),
            });
        }

        let window = window.trim();
        let digits = window.bytes().take_while(u8::is_ascii_digit).count();
        let (length, unit) = window.split_at(digits);
        let unit = unit.trim();
        let length: u64 = if length.is_empty() {
            1
        } else {
            // Too many digits for a u64 is as much "too long" as any other huge window.
            length.parse().map_err(|_| RateSpecError::WindowTooLong {
                entry: entry.into(),
            })?
        };
        if length == 0 {
            return Err(RateSpecError::BadLength {
                entry: entry.into(),
                length: "0".into(),
            });
        }
        if unit.is_empty() {
            return Err(RateSpecError::MissingUnit {
                entry: entry.into(),
            });
        }
        let unit_secs = unit_seconds(unit).ok_or_else(|| RateSpecError::UnknownUnit {
            entry: entry.into(),
            unit: unit.into(),
        })?;
        let period = length
            .checked_mul(unit_secs)
            .map(Duration::from_secs)
            .filter(|p| *p <= MAX_WINDOW)
            .ok_or_else(|| RateSpecError::WindowTooLong {
                entry: entry.into(),
            })?;
        Ok(Self { limit, period })
    }
}

/// Seconds in one `unit`, or `None` for a unit we do not know.
fn unit_seconds(unit: &str) -> Option<u64> {
    let unit = unit.to_ascii_lowercase();
    let secs = match unit.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "mo" | "mon" | "month" | "months" => MONTH_SECS,
        _ => return None,
    };
    Some(secs)
}

impl FromStr for RateSpec {
    type Err = RateSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The canonical form, which parses back to the same spec: `off`, or entries like `3/s`,
/// `10/5s`, `30/min`, `100000/day`, joined by `, `.
impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.windows.is_empty() {
            return f.write_str("off");
        }
        for (i, window) in self.windows.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{window}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RateWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        let (length, unit) = [
            (MONTH_SECS, "month"),
            (86_400, "d"),
            (3_600, "h"),
            (60, "min"),
            (1, "s"),
        ]
        .into_iter()
        .find(|(unit_secs, _)| secs.is_multiple_of(*unit_secs))
        .map(|(unit_secs, unit)| (secs / unit_secs, unit))
        .unwrap_or((secs, "s"));
        match (length, unit) {
            (1, "d") => write!(f, "{}/day", self.limit),
            (1, unit) => write!(f, "{}/{unit}", self.limit),
            (length, unit) => write!(f, "{}/{length}{unit}", self.limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_sorted_shortest_first_and_print_canonically() {
        let spec = RateSpec::parse(" 100000/DAY , 3 / s ").unwrap();
        assert_eq!(spec.to_string(), "3/s, 100000/day");
        assert_eq!(spec.windows()[0].period(), Duration::from_secs(1));
        assert_eq!(spec.max_cost(), Some(3));
        assert_eq!(RateSpec::parse("10/90s").unwrap().to_string(), "10/90s");
        assert_eq!(RateSpec::parse("10/120s").unwrap().to_string(), "10/2min");
        let monthly = RateSpec::parse("30/min, 10000/month").unwrap();
        assert_eq!(monthly.to_string(), "30/min, 10000/month");
        assert_eq!(
            monthly.windows()[1].period(),
            Duration::from_secs(31 * 86_400)
        );
        assert_eq!(RateSpec::parse("5/2mo").unwrap().to_string(), "5/2month");
        assert_eq!(RateSpec::parse("1/31d").unwrap().to_string(), "1/month");
    }
}
