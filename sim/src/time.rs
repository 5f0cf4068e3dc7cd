//! Timestamps as CoinGecko writes them: ISO 8601 UTC with milliseconds, `2024-04-07T16:49:31.736Z`;
//! as Alchemy does, whole seconds: `2026-06-23T00:00:00Z`; and as Alpha Vantage does, with a
//! space and no zone: `2025-01-29 04:41:02`.

/// `unix_ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, no leap seconds).
pub(crate) fn iso8601(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// `unix_secs` as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn iso8601_secs(unix_secs: u64) -> String {
    let millis = iso8601(unix_secs * 1000);
    format!("{}Z", &millis[..millis.len() - ".000Z".len()])
}

/// `unix_secs` as `YYYY-MM-DD HH:MM:SS` (UTC, the zone left to the reader).
pub(crate) fn date_time_secs(unix_secs: u64) -> String {
    let iso = iso8601_secs(unix_secs);
    iso[..iso.len() - 1].replacen('T', " ", 1)
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_milliseconds_become_iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_712_508_571_736), "2024-04-07T16:49:31.736Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn unix_seconds_become_iso_dates_without_fractions() {
        assert_eq!(iso8601_secs(1_782_172_800), "2026-06-23T00:00:00Z");
        assert_eq!(iso8601_secs(1_712_508_571), "2024-04-07T16:49:31Z");
    }

    #[test]
    fn unix_seconds_become_alpha_vantage_date_times() {
        assert_eq!(date_time_secs(1_738_125_662), "2025-01-29 04:41:02");
        assert_eq!(date_time_secs(0), "1970-01-01 00:00:00");
    }
}
