//! `GET /v1/prices/{symbol}/history`: the points the write path stored, exactly, within
//! `since`/`until` (both included, last 24 hours by default), downsampled by `step` to the last
//! point of each bucket, bounded by `api.max_history_points`; 422 for bad parameters, 404 for a
//! symbol never fetched.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Api, assert_error, record};

/// Offsets from `t0` (seconds) and the price written at each, in write order.
const POINTS: [(i64, &str); 6] = [
    (0, "0.000012345000"),
    (20, "0.000012345001"),
    (59, "0.0000123450019"),
    (60, "67187.3358936566"),
    (130, "0.10"),
    (190, "1"),
];

/// The start of the hour two to three hours ago, so every bucket of up to an hour is aligned.
fn t0() -> DateTime<Utc> {
    let secs = (Utc::now().timestamp() - 2 * 3_600) / 3_600 * 3_600;
    DateTime::from_timestamp(secs, 0).unwrap()
}

/// A point 25 hours old, then [`POINTS`], each through the worker's write path.
async fn write_history(api: &Api, t0: DateTime<Utc>) {
    api.write(&[record("BTC", "1.5", Utc::now() - TimeDelta::hours(25))])
        .await;
    for (offset, usd) in POINTS {
        api.write(&[record("BTC", usd, t0 + TimeDelta::seconds(offset))])
            .await;
    }
}

/// `(t offset in seconds, usd)` of each returned point, checking `t` and `at` agree.
fn points(body: &Value, t0: DateTime<Utc>) -> Vec<(i64, String)> {
    body["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no points: {body}"))
        .iter()
        .map(|p| {
            let t = p["t"].as_i64().unwrap();
            let at = DateTime::from_timestamp_millis(t).unwrap();
            assert_eq!(p["at"], at.to_rfc3339_opts(SecondsFormat::Millis, true));
            (
                (t - t0.timestamp_millis()) / 1_000,
                p["usd"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expected(offsets: &[i64]) -> Vec<(i64, String)> {
    offsets
        .iter()
        .map(|o| {
            let (_, usd) = POINTS.iter().find(|(t, _)| t == o).unwrap();
            (*o, (*usd).to_owned())
        })
        .collect()
}

#[tokio::test]
async fn history_returns_the_stored_points_in_range_with_their_exact_digits() {
    let api = Api::start().await;
    let t0 = t0();
    write_history(&api, t0).await;

    let until = (t0 + TimeDelta::seconds(190)).to_rfc3339();
    let (status, body) = api
        .get(&format!(
            "/v1/prices/btc/history?since={}&until={until}",
            t0.timestamp()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(points(&body, t0), expected(&[0, 20, 59, 60, 130, 190]));
    assert_eq!(body["symbol"], "BTC");
    assert_eq!(body["count"], 6);
    assert_eq!(body["truncated"], false);
    assert_eq!(body["max_points"], 1_000);
    assert_eq!(body["step"], Value::Null);

    // Both bounds are included.
    let (_, body) = api
        .get(&format!(
            "/v1/prices/BTC/history?since={}&until={}",
            t0.timestamp() + 20,
            t0.timestamp() + 60
        ))
        .await;
    assert_eq!(points(&body, t0), expected(&[20, 59, 60]));
}

#[tokio::test]
async fn a_step_keeps_the_last_point_of_each_bucket() {
    let api = Api::start().await;
    let t0 = t0();
    write_history(&api, t0).await;
    let range = format!("since={}&until={}", t0.timestamp(), t0.timestamp() + 3_600);

    let (status, body) = api
        .get(&format!("/v1/prices/BTC/history?{range}&step=1m"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(points(&body, t0), expected(&[59, 60, 130, 190]));
    assert_eq!(
        (&body["step"], &body["step_seconds"]),
        (&Value::from("1m"), &Value::from(60))
    );

    let (_, body) = api
        .get(&format!("/v1/prices/BTC/history?{range}&step=2m"))
        .await;
    assert_eq!(points(&body, t0), expected(&[60, 190]));

    let (_, body) = api
        .get(&format!("/v1/prices/BTC/history?{range}&step=1h"))
        .await;
    assert_eq!(points(&body, t0), expected(&[190]));
}

#[tokio::test]
async fn without_since_and_until_the_last_24_hours_are_returned() {
    let api = Api::start().await;
    let t0 = t0();
    write_history(&api, t0).await;
    let (status, body) = api.get("/v1/prices/BTC/history").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        points(&body, t0),
        expected(&[0, 20, 59, 60, 130, 190]),
        "the 25-hour-old point is left out"
    );
    let since: DateTime<Utc> = body["since"].as_str().unwrap().parse().unwrap();
    let until: DateTime<Utc> = body["until"].as_str().unwrap().parse().unwrap();
    assert_eq!(until - since, TimeDelta::hours(24));
}

#[tokio::test]
async fn past_max_history_points_the_newest_are_returned_and_truncated_says_so() {
    let api = Api::start_with(|s| s.api.max_history_points = 4).await;
    let t0 = t0();
    write_history(&api, t0).await;
    let range = format!("since={}&until={}", t0.timestamp(), t0.timestamp() + 3_600);
    let (_, body) = api.get(&format!("/v1/prices/BTC/history?{range}")).await;
    assert_eq!(points(&body, t0), expected(&[59, 60, 130, 190]));
    assert_eq!(body["truncated"], true);
    assert_eq!(body["max_points"], 4);

    let (_, body) = api
        .get(&format!("/v1/prices/BTC/history?{range}&step=30s"))
        .await;
    assert_eq!(points(&body, t0), expected(&[59, 60, 130, 190]));
    assert_eq!(body["truncated"], true, "5 buckets, 4 returned");
}

#[tokio::test]
async fn bad_history_parameters_are_422_saying_what_is_wrong() {
    let api = Api::start().await;
    api.write(&[record("BTC", "60000", Utc::now())]).await;
    for (query, names) in [
        ("since=yesterday", "since"),
        ("until=2024-13-01T00:00:00Z", "until"),
        ("step=5x", "step"),
        ("step=0m", "step"),
        ("step=1.5h", "step"),
    ] {
        let (status, body) = api.get(&format!("/v1/prices/BTC/history?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_error(&body, "invalid_query");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{query}: {message}");
    }
    let (status, body) = api.get("/v1/prices/B-TC/history").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "invalid_symbol");
}

#[tokio::test]
async fn an_until_before_since_is_an_empty_range() {
    let api = Api::start().await;
    api.write(&[record("BTC", "60000", Utc::now())]).await;
    let (status, body) = api
        .get("/v1/prices/BTC/history?since=1714564800&until=1714564799")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 0, "{body}");
    assert_eq!(body["points"], serde_json::json!([]), "{body}");
    assert_eq!(body["since"], "2024-05-01T12:00:00Z", "{body}");
    assert_eq!(body["until"], "2024-05-01T11:59:59Z", "{body}");
}

#[tokio::test]
async fn a_symbol_never_fetched_is_404_with_the_usual_message() {
    let api = Api::start().await;
    api.write(&[record("BTC", "60000", Utc::now())]).await;
    let (status, body) = api.get("/v1/prices/ETH/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_fetched_yet");
    let (_, usual) = api.get("/v1/prices/ETH").await;
    assert_eq!(body["error"]["message"], usual["error"]["message"]);
    let (status, body) = api.get("/v1/prices/ZZZQ/history").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "unknown_coin");

    // Known and fetched, but nothing in the range: an empty answer, not a 404.
    let (status, body) = api
        .get("/v1/prices/BTC/history?since=1000000000&until=1000000001")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["count"], 0);
}

/// History past Redis's points, from PostgreSQL: a database of its own, snapshots written as
/// the history worker writes them, and the API started with `DATABASE_URL`.
mod stored {
    use chrono::{DateTime, TimeDelta, Utc};
    use coinbeat_history::{Snapshot, testing::TestPostgres};
    use coinbeat_shared::settings::Secret;
    use reqwest::StatusCode;
    use rust_decimal::Decimal;
    use serde_json::Value;

    use super::t0;
    use crate::support::{Api, record};

    fn snapshot(at: DateTime<Utc>, usd: i64) -> Snapshot {
        Snapshot {
            coin_id: "bitcoin".into(),
            at,
            usd: Decimal::from(usd),
            market_cap_usd: None,
            volume_24h_usd: None,
            source: "coingecko".into(),
        }
    }

    fn usd_of(points: &Value) -> Vec<String> {
        points
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["usd"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn a_range_past_redis_is_read_from_postgresql_joined_without_a_seam() {
        let pg = TestPostgres::start().await;
        let url = pg.url().to_owned();
        let api = Api::start_with(|s| s.history.database_url = Some(Secret::new(url))).await;
        let t0 = t0();
        // Redis: two recent points.
        for (offset, usd) in [(600, "101"), (1_200, "102")] {
            api.write(&[record("BTC", usd, t0 + TimeDelta::seconds(offset))])
                .await;
        }
        // PostgreSQL: three points a day for 30 days before, one in Redis's first hour but
        // before its first point, and one inside Redis's span (Redis's own answers there).
        let mut snapshots = Vec::new();
        let today = DateTime::from_timestamp(t0.timestamp() / 86_400 * 86_400, 0).unwrap();
        for day in 1..=30 {
            let midnight = today - TimeDelta::days(day);
            for (hour, usd) in [(0, 10), (1, 30), (2, 20)] {
                snapshots.push(snapshot(midnight + TimeDelta::hours(hour), day * 100 + usd));
            }
        }
        snapshots.push(snapshot(t0 + TimeDelta::seconds(60), 99));
        snapshots.push(snapshot(t0 + TimeDelta::seconds(900), 7));
        pg.store().write_snapshots(&snapshots).await.unwrap();

        let since = (t0 - TimeDelta::days(40)).timestamp();
        let until = (t0 + TimeDelta::seconds(1_800)).timestamp();
        let (status, body) = api
            .get(&format!(
                "/v1/prices/BTC/history?since={since}&until={until}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["history_storage"], "on");
        assert_eq!(body["sources"]["redis"], 2);
        assert_eq!(body["sources"]["postgres"], 91);
        let usd = usd_of(&body["points"]);
        assert_eq!(usd.len(), 93);
        assert_eq!(usd[..3], ["3010", "3030", "3020"], "oldest first");
        assert_eq!(
            usd[90..],
            ["99", "101", "102"],
            "no PostgreSQL point inside Redis's"
        );
        let t: Vec<i64> = body["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["t"].as_i64().unwrap())
            .collect();
        assert!(t.windows(2).all(|w| w[0] < w[1]), "in time order");

        // Candles by the hour: PostgreSQL's from SQL, Redis's first hour joined with the
        // PostgreSQL point before it.
        let (status, body) = api
            .get(&format!(
                "/v1/prices/BTC/history?since={since}&until={until}&step=1h"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let candles = body["candles"].as_array().unwrap();
        assert_eq!(candles.len(), 91);
        let last = &candles[90];
        assert_eq!(last["t"], t0.timestamp_millis());
        assert_eq!(
            (
                &last["open"],
                &last["high"],
                &last["low"],
                &last["close"],
                &last["points"]
            ),
            (
                &Value::from("99"),
                &Value::from("102"),
                &Value::from("99"),
                &Value::from("102"),
                &Value::from(3)
            )
        );
        // A day: open at its first point, close at its last, high and low between.
        let (_, body) = api
            .get(&format!(
                "/v1/prices/BTC/history?since={since}&until={until}&step=1d"
            ))
            .await;
        let days = body["candles"].as_array().unwrap();
        let day30 = days
            .iter()
            .find(|c| c["open"] == "3010")
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(
            (
                &day30["high"],
                &day30["low"],
                &day30["close"],
                &day30["points"]
            ),
            (
                &Value::from("3030"),
                &Value::from("3010"),
                &Value::from("3020"),
                &Value::from(3)
            )
        );
        // The `points` of a step are each step's last point.
        assert_eq!(usd_of(&body["points"]).last().unwrap(), "102");
    }

    #[tokio::test]
    async fn a_coin_carries_the_metadata_postgresql_stored_for_it() {
        use coinbeat_history::CoinMeta;
        use coinbeat_shared::{
            cache::{CoinSupply, MarketCache},
            domain::CoinId,
            keys::Keys,
            redis_conn,
        };
        let pg = TestPostgres::start().await;
        let url = pg.url().to_owned();
        let api = Api::start_with(|s| s.history.database_url = Some(Secret::new(url))).await;
        let conn = redis_conn::connect(&api.settings.redis).await.unwrap();
        let markets = MarketCache::new(
            conn,
            Keys::new(api.settings.redis.key_prefix.clone()),
            &api.settings.markets,
        );
        markets
            .write_supply(
                &CoinId::parse("bitcoin").unwrap(),
                &CoinSupply {
                    coin_id: "bitcoin".into(),
                    symbol: "btc".into(),
                    name: "Bitcoin".into(),
                    circulating_supply: Some("19675987.5".parse().unwrap()),
                    total_supply: None,
                    max_supply: None,
                    fetched_at: Utc::now(),
                    source: "coingecko".into(),
                },
            )
            .await
            .unwrap();
        let (status, body) = api.get("/v1/coins/bitcoin").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("stored").is_none(), "nothing stored yet: {body}");
        pg.store()
            .write_coins(&[CoinMeta {
                coin_id: "bitcoin".into(),
                symbol: Some("BTC".into()),
                name: Some("Bitcoin".into()),
                rank: Some(1),
                market_cap_usd: Some(Decimal::from(1_700_000_000_000_i64)),
                platforms: Default::default(),
                source: Some("coingecko".into()),
                updated_at: Some(Utc::now()),
            }])
            .await
            .unwrap();
        let (_, body) = api.get("/v1/coins/bitcoin").await;
        assert_eq!(body["stored"]["symbol"], "BTC", "{body}");
        assert_eq!(body["stored"]["rank"], 1);
        assert_eq!(body["stored"]["market_cap_usd"], "1700000000000");
        assert_eq!(
            body["circulating_supply"], "19675987.5",
            "the supply as before"
        );
    }

    #[tokio::test]
    async fn postgresql_down_serves_what_redis_holds_marked_and_off_says_off() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let api = Api::start_with(|s| {
            s.history.database_url = Some(Secret::new(format!(
                "postgres://postgres@127.0.0.1:{closed}/none"
            )));
            s.history.timeout_ms = 500;
        })
        .await;
        let t0 = t0();
        api.write(&[record("BTC", "101", t0)]).await;
        let since = (t0 - TimeDelta::days(40)).timestamp();
        let (status, body) = api
            .get(&format!("/v1/prices/BTC/history?since={since}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["history_storage"], "unavailable");
        assert_eq!(usd_of(&body["points"]), ["101"]);

        let off = Api::start().await;
        off.write(&[record("BTC", "101", t0)]).await;
        let (_, body) = off
            .get(&format!("/v1/prices/BTC/history?since={since}"))
            .await;
        assert_eq!(body["history_storage"], "off");
        assert_eq!(body["sources"]["postgres"], 0);
    }
}
