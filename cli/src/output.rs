//! Printing for people and for scripts (`--json`).

use chrono::DateTime;
use serde::Serialize;

/// Prints `value` as pretty JSON on standard output.
pub fn json<T: Serialize + ?Sized>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("values serialize")
    );
}

/// Unix milliseconds as an RFC 3339 time, or `-`.
pub fn time_ms(ms: Option<u64>) -> String {
    ms.and_then(|ms| DateTime::from_timestamp_millis(ms as i64))
        .map_or("-".into(), |t| t.to_rfc3339())
}
