//! `/coins/{id}/market_chart/range`'s answer: `{"prices": [[ms, price], …], "market_caps":
//! […], "total_volumes": […]}`, numbers kept as exact decimals. A market cap or volume is
//! matched to its price by timestamp; one missing (or `null`) is absent, never guessed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::simple_price::decimal;

/// One past point of a coin.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    pub at: DateTime<Utc>,
    pub usd: Decimal,
    pub market_cap_usd: Option<Decimal>,
    pub volume_24h_usd: Option<Decimal>,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    prices: Vec<(i64, &'a RawValue)>,
    #[serde(borrow, default)]
    market_caps: Vec<(i64, &'a RawValue)>,
    #[serde(borrow, default)]
    total_volumes: Vec<(i64, &'a RawValue)>,
}

/// Parses a `/coins/{id}/market_chart/range` body, oldest point first. A price that is `null`
/// leaves its point out.
pub fn parse_market_chart(body: &str) -> Result<Vec<ChartPoint>, String> {
    let chart: Body = serde_json::from_str(body)
        .map_err(|e| format!("unexpected /market_chart/range body: {e}"))?;
    let by_time = |series: &[(i64, &RawValue)], name: &str| {
        series
            .iter()
            .map(|(ms, raw)| Ok((*ms, decimal(raw.get()).map_err(|e| format!("{name}: {e}"))?)))
            .collect::<Result<HashMap<i64, Option<Decimal>>, String>>()
    };
    let caps = by_time(&chart.market_caps, "market_caps")?;
    let volumes = by_time(&chart.total_volumes, "total_volumes")?;
    let mut points = Vec::with_capacity(chart.prices.len());
    for (ms, raw) in &chart.prices {
        let Some(usd) = decimal(raw.get()).map_err(|e| format!("prices: {e}"))? else {
            continue;
        };
        let at = DateTime::from_timestamp_millis(*ms)
            .ok_or_else(|| format!("prices: {ms} is not a time in milliseconds"))?;
        points.push(ChartPoint {
            at,
            usd,
            market_cap_usd: caps.get(ms).copied().flatten(),
            volume_24h_usd: volumes.get(ms).copied().flatten(),
        });
    }
    points.sort_by_key(|p| p.at);
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_keep_their_digits_and_find_their_cap_and_volume_by_time() {
        let body = r#"{"prices":[[1711929600000,69702.3087473573],[1711933200000,0.00000982],
            [1711936800000,null]],"market_caps":[[1711929600000,1370247487960.09],
            [1711933200000,null]],"total_volumes":[[1711929600000,16408802301.8374]]}"#;
        let points = parse_market_chart(body).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].usd.to_string(), "69702.3087473573");
        assert_eq!(
            points[0].market_cap_usd.unwrap().to_string(),
            "1370247487960.09"
        );
        assert_eq!(points[0].at.timestamp(), 1_711_929_600);
        assert_eq!(points[1].usd.to_string(), "0.00000982");
        assert_eq!(
            (points[1].market_cap_usd, points[1].volume_24h_usd),
            (None, None)
        );
        assert!(parse_market_chart(r#"{"error":"coin not found"}"#).is_err());
        assert!(parse_market_chart(r#"{"prices":[[1,"x"]]}"#).is_err());
    }
}
