//! [`Priced`]: a price record with its JSON rendered once, when it enters the API's copy (or is
//! read from Redis), so a read only appends the fields that depend on the time of reading.
//!
//! The JSON is [`PriceView`]'s, whose time-dependent fields (`age_ms`, `age_seconds`, `stale`,
//! `cache_unchecked`) come last: the *head* is the view's JSON up to them, rendered by serde
//! like any other answer, and [`Priced::write`] appends their values, computed exactly as
//! [`PriceView::at`] computes them, and the closing brace. A test checks both renderings agree.

use std::{ops::Deref, time::Duration};

use chrono::{DateTime, Utc};
use coinbeat_shared::cache::PriceRecord;
use serde::Serialize;

use crate::routes::prices::{Ages, PriceView};

/// A record and its rendered head. Read through [`Deref`] as the record.
#[derive(Debug)]
pub struct Priced {
    record: PriceRecord,
    head: Box<str>,
}

/// Where the time-dependent fields start in a [`PriceView`]'s JSON.
const FIRST_TIMED_FIELD: &str = ",\"age_ms\":";

impl Priced {
    pub fn new(record: PriceRecord) -> Self {
        // Any instant does: only the head is kept.
        let view = PriceView::at(&record, record.fetched_at, Duration::ZERO);
        let json = serde_json::to_string(&view).expect("price views serialize");
        // A field name's quote inside a JSON string is escaped, so the last match is the field.
        let cut = json
            .rfind(FIRST_TIMED_FIELD)
            .expect("a price view renders age_ms after the record's own fields");
        let head = json[..cut].into();
        Self { record, head }
    }

    /// The view's JSON as of `now` (`fresh_for`: `prices.fresh_secs`), with `extra`'s fields
    /// (an object's, without its braces; empty for none) before the closing brace.
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        now: DateTime<Utc>,
        fresh_for: Duration,
        unchecked: bool,
        extra: &[u8],
    ) {
        let ages = Ages::of(&self.record, now, fresh_for);
        out.extend_from_slice(self.head.as_bytes());
        let mut number = itoa::Buffer::new();
        out.extend_from_slice(FIRST_TIMED_FIELD.as_bytes());
        out.extend_from_slice(number.format(ages.age_ms).as_bytes());
        out.extend_from_slice(b",\"age_seconds\":");
        out.extend_from_slice(number.format(ages.age_seconds).as_bytes());
        out.extend_from_slice(if ages.stale {
            b",\"stale\":true"
        } else {
            b",\"stale\":false"
        });
        out.extend_from_slice(if unchecked {
            b",\"cache_unchecked\":true"
        } else {
            b",\"cache_unchecked\":false"
        });
        if !extra.is_empty() {
            out.push(b',');
            out.extend_from_slice(extra);
        }
        out.push(b'}');
    }
}

impl Deref for Priced {
    type Target = PriceRecord;

    fn deref(&self) -> &PriceRecord {
        &self.record
    }
}

/// `value`'s JSON object without its braces (`"a":1,"b":2`), for [`Priced::write`]'s `extra`.
pub fn fields_of(value: &impl Serialize) -> Vec<u8> {
    let mut json = serde_json::to_vec(value).expect("answers serialize");
    debug_assert!(json.first() == Some(&b'{') && json.last() == Some(&b'}'));
    json.pop();
    json.remove(0);
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use coinbeat_shared::domain::CoinId;
    use serde_json::Value;

    fn record(source: &str, exchange: bool) -> PriceRecord {
        let fetched_at = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap();
        PriceRecord {
            symbol: "BTC".into(),
            coin_id: CoinId::parse("bitcoin").unwrap(),
            usd: "67187.3358936566".parse().unwrap(),
            change_24h_pct: Some("-1.25".parse().unwrap()),
            market_cap_usd: None,
            volume_24h_usd: Some("28734987.0012".parse().unwrap()),
            upstream_updated_at: exchange.then(|| fetched_at - TimeDelta::milliseconds(40)),
            fetched_at,
            // Quotes and the field's own name in a value must not confuse the cut.
            source: source.into(),
        }
    }

    #[test]
    fn the_fast_json_is_the_views_json_at_any_instant() {
        for (source, exchange) in [
            ("coingecko", false),
            ("binance-ws", true),
            ("odd\",\"age_ms\":1,\"x", false),
        ] {
            let record = record(source, exchange);
            let priced = Priced::new(record.clone());
            for (after_ms, fresh_secs, unchecked) in
                [(0, 60, false), (61_500, 60, true), (-5_000, 60, false)]
            {
                let now = record.fetched_at + TimeDelta::milliseconds(after_ms);
                let fresh_for = Duration::from_secs(fresh_secs);
                let mut fast = Vec::new();
                priced.write(&mut fast, now, fresh_for, unchecked, b"");
                let view = PriceView::at(&record, now, fresh_for).unchecked(unchecked);
                let fast: Value = serde_json::from_slice(&fast).unwrap();
                assert_eq!(fast, serde_json::to_value(&view).unwrap(), "{source}");
            }
        }
    }

    #[test]
    fn extra_fields_go_before_the_closing_brace() {
        let priced = Priced::new(record("coingecko", false));
        let mut out = Vec::new();
        let extra = fields_of(&serde_json::json!({"alternatives": [{"id": "x"}]}));
        priced.write(&mut out, priced.fetched_at, Duration::ZERO, false, &extra);
        let value: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["alternatives"][0]["id"], "x");
        assert_eq!(value["symbol"], "BTC");
    }
}
