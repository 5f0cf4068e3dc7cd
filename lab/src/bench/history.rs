//! `bench history`: PostgreSQL, the history that lasts, at the store layer
//! (`coinbeat_history::HistoryStore` on the machine's server, a database of its own, dropped
//! after). `--coins` coins (10 by default) get a year of minute snapshots each, written in
//! batches as the history worker writes them; then the same year written again (every row
//! already stored: what a re-delivered backfill costs); then one-year hourly candles of a coin
//! asked `--runs` × 100 times; then the bytes the snapshots take (tables and indexes of every
//! month's partition) per coin-year. The peer in the same run: PostgreSQL's own bulk load,
//! `COPY ... FROM STDIN` of the same rows into a table of the same columns and primary key (not
//! partitioned, no conflict check): what the server itself takes for these rows.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use coinbeat_history::{Snapshot, testing::TestPostgres};
use rust_decimal::Decimal;
use sqlx::Connection;

use super::{
    report::{Report, Row},
    stats::percentile,
};
use crate::args::BenchArgs;

/// Minutes in a (non-leap) year.
const MINUTES: i64 = 365 * 24 * 60;
/// Snapshots handed to one `write_snapshots` call.
const CALL_ROWS: usize = 100_000;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    let coins = args.coins.unwrap_or(10).max(1) as usize;
    let pg = TestPostgres::start().await;
    let store = pg.store();
    let mut report = Report::new(
        "history",
        format!(
            "PostgreSQL {} on this machine, through coinbeat_history::HistoryStore (sqlx, one \
             process): {coins} coins × a year of minute snapshots, written in calls of {CALL_ROWS} \
             rows ({} rows per INSERT); {} one-year hourly-candle queries",
            server_version(&pg).await?,
            coinbeat_history::BATCH_ROWS,
            args.runs * 100
        ),
    );
    let start = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")?.with_timezone(&Utc);
    let rows = coins as i64 * MINUTES;

    let write = async |pass: &str| -> anyhow::Result<(f64, u64)> {
        let t = Instant::now();
        let mut added = 0;
        for coin in 0..coins {
            let mut batch = Vec::with_capacity(CALL_ROWS);
            for minute in 0..MINUTES {
                batch.push(snapshot(coin, start, minute));
                if batch.len() == CALL_ROWS || minute == MINUTES - 1 {
                    added += store.write_snapshots(&batch).await?.rows;
                    batch.clear();
                }
            }
        }
        let secs = t.elapsed().as_secs_f64();
        println!("history: {pass}: {rows} rows in {secs:.1} s, {added} added");
        Ok((secs, added))
    };
    let (secs_first, added) = write("first write").await?;
    anyhow::ensure!(added == rows as u64, "{added} of {rows} rows added");
    report.rows.push(Row::info(
        "snapshot insert, rows/s (new rows)",
        format!("{:.0}", rows as f64 / secs_first),
    ));
    let (secs, again) = write("written again").await?;
    anyhow::ensure!(again == 0, "a second write added {again} rows");
    report.rows.push(Row::info(
        "the same rows written again (all already stored, none added), rows/s",
        format!("{:.0}", rows as f64 / secs),
    ));
    let copy_secs = copy_peer(&pg, coins, start).await?;
    report.rows.push(Row::info(
        "peer, same run: COPY FROM STDIN of the same rows into a plain table with the same \
         primary key, rows/s",
        format!("{:.0}", rows as f64 / copy_secs),
    ));
    report.rows.push(Row::info(
        "snapshot insert / COPY",
        format!("{:.2}", copy_secs / secs_first),
    ));

    // VACUUM ANALYZE, as autovacuum would after a load this size, so the plans and sizes are
    // those of a settled table.
    let mut conn = sqlx::PgConnection::connect(pg.url()).await?;
    sqlx::query("VACUUM ANALYZE price_snapshots")
        .execute(&mut conn)
        .await?;

    let until = start + TimeDelta::minutes(MINUTES - 1);
    let mut took: Vec<Duration> = Vec::new();
    for i in 0..args.runs * 100 + 10 {
        let coin = format!("coin-{}", i % coins);
        let t = Instant::now();
        let candles = store
            .candles(&coin, start, until, Duration::from_secs(3_600), 10_000)
            .await?
            .context("a coin that was written")?;
        if i >= 10 {
            took.push(t.elapsed());
        }
        anyhow::ensure!(candles.len() == 8_760, "{} candles", candles.len());
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
    report.rows.push(Row::info(
        "one year of hourly candles (8,760, from 525,600 points), ms: p50 / p99",
        format!(
            "{:.0} / {:.0}",
            ms(percentile(&took, 50.0)),
            ms(percentile(&took, 99.0))
        ),
    ));

    let bytes: i64 = sqlx::query_scalar(
        "SELECT sum(pg_total_relation_size(inhrelid))::bigint FROM pg_inherits \
         WHERE inhparent = 'price_snapshots'::regclass",
    )
    .fetch_one(&mut conn)
    .await?;
    report.rows.push(Row::info(
        "bytes per coin-year of minute snapshots (tables and primary-key indexes)",
        format!(
            "{:.1} MB ({:.0} B per snapshot)",
            bytes as f64 / coins as f64 / 1e6,
            bytes as f64 / rows as f64
        ),
    ));
    report.rows.push(Row::info(
        "bytes per coin-year of hourly snapshots (the same per snapshot × 8,760)",
        format!("{:.2} MB", bytes as f64 / rows as f64 * 8_760.0 / 1e6),
    ));
    let _ = conn.close().await;
    store.close().await;
    Ok(report)
}

/// Coin `coin`'s price at `minute` of the year: a smooth walk with 2 to 8 decimals.
fn snapshot(coin: usize, start: DateTime<Utc>, minute: i64) -> Snapshot {
    let wobble = ((minute as f64 / 97.0).sin() * 5_000.0) as i64;
    Snapshot {
        coin_id: format!("coin-{coin}"),
        at: start + TimeDelta::minutes(minute),
        usd: Decimal::new(6_000_000_000 + wobble * 1_000 + minute % 7, 5),
        market_cap_usd: None,
        volume_24h_usd: None,
        source: "coingecko".into(),
    }
}

/// The same rows as the snapshot writes (ids from `coins` and `sources`, as the store gave
/// them), loaded by `COPY` into `copy_peer`; its time in seconds.
async fn copy_peer(pg: &TestPostgres, coins: usize, start: DateTime<Utc>) -> anyhow::Result<f64> {
    use std::fmt::Write as _;
    let mut conn = sqlx::PgConnection::connect(pg.url()).await?;
    sqlx::query(
        "CREATE TABLE copy_peer (LIKE price_snapshots INCLUDING DEFAULTS, PRIMARY KEY (coin, at))",
    )
    .execute(&mut conn)
    .await?;
    let source: i16 = sqlx::query_scalar("SELECT id FROM sources WHERE name = 'coingecko'")
        .fetch_one(&mut conn)
        .await?;
    let mut ids = Vec::with_capacity(coins);
    for coin in 0..coins {
        let id: i32 = sqlx::query_scalar("SELECT id FROM coins WHERE coin_id = $1")
            .bind(format!("coin-{coin}"))
            .fetch_one(&mut conn)
            .await?;
        ids.push(id);
    }
    let t = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY copy_peer (at, coin, source, usd) FROM STDIN")
        .await?;
    let mut chunk = String::with_capacity(1 << 20);
    for (coin, id) in ids.iter().enumerate() {
        for minute in 0..MINUTES {
            let s = snapshot(coin, start, minute);
            let _ = writeln!(chunk, "{}\t{id}\t{source}\t{}", s.at.to_rfc3339(), s.usd);
            if chunk.len() >= 1 << 20 {
                copy.send(chunk.as_bytes()).await?;
                chunk.clear();
            }
        }
    }
    if !chunk.is_empty() {
        copy.send(chunk.as_bytes()).await?;
    }
    let copied = copy.finish().await?;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        copied == coins as u64 * MINUTES as u64,
        "COPY loaded {copied} rows"
    );
    println!("history: COPY peer: {copied} rows in {secs:.1} s");
    sqlx::query("DROP TABLE copy_peer")
        .execute(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(secs)
}

async fn server_version(pg: &TestPostgres) -> anyhow::Result<String> {
    let mut conn = sqlx::PgConnection::connect(pg.url()).await?;
    let v: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await?;
    Ok(v)
}
