//! `bench alerts`: 10,000 price alerts on one coin against one price update, on a private Redis,
//! through the layers a deployment uses: the price worker's write (`PriceCache::write`, whose
//! script logs the move of a coin with alerts) and an alerts-worker's evaluation of the log
//! (`MoveLog::read_new` and `evaluate`: the candidates by score, the alerts read, the exact
//! checks, the deliveries enqueued, the move acknowledged). Measured per run:
//! - one update that crosses every alert: the write, then its evaluation and the 10,000
//!   deliveries enqueued;
//! - the evaluation of that step alone (`AlertWatch::crossings`, nothing enqueued);
//! - the write of an update of the same coin that crosses none of them, and its evaluation;
//! - and the peer in the same run, the write of an update of a coin without alerts.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use coinbeat_shared::{
    alerts::{AlertStore, AlertWatch, Condition, MoveLog, PriceMove, StoredAlert, WebhookUrl},
    cache::{PriceCache, PriceRecord},
    domain::CoinId,
};
use rust_decimal::Decimal;

use super::{
    lab::Lab,
    report::{Report, Row},
    stats::median,
};
use crate::args::BenchArgs;

/// Alerts on the coin.
const ALERTS: u32 = 10_000;

pub async fn run(args: &BenchArgs) -> anyhow::Result<Report> {
    Lab::start()
        .await?
        .run(async |lab| measure(args, lab).await)
        .await
}

fn record(coin: &CoinId, usd: Decimal, at: DateTime<Utc>) -> PriceRecord {
    PriceRecord {
        symbol: "BTC".into(),
        coin_id: coin.clone(),
        usd,
        change_24h_pct: None,
        market_cap_usd: None,
        volume_24h_usd: None,
        upstream_updated_at: None,
        fetched_at: at,
        source: "bench".into(),
    }
}

async fn measure(args: &BenchArgs, lab: &mut Lab) -> anyhow::Result<Report> {
    // Every run enqueues 10,000 deliveries and no worker takes them: room for all the runs.
    lab.settings
        .queues
        .overrides
        .entry("alerts".into())
        .or_default()
        .max_backlog = Some(u64::from(ALERTS) * (args.runs as u64 + 1));
    let store = AlertStore::new(lab.conn.clone(), lab.keys.clone());
    let watch = AlertWatch::new(store.clone(), lab.producer());
    let cache = PriceCache::new(lab.conn.clone(), lab.keys.clone(), &lab.settings.prices);
    let log = MoveLog::new(lab.conn.clone(), &lab.keys);
    log.ensure_group().await?;
    // What an alerts-worker does with the moves logged: read them, evaluate, acknowledge.
    let evaluate = async || -> anyhow::Result<usize> {
        let entries = log.read_new("bench", 100, Duration::from_millis(1)).await?;
        Ok(log.evaluate(&watch, entries).await?.enqueued)
    };
    let coin = CoinId::parse("bitcoin")?;
    let other = CoinId::parse("ethereum")?;
    let webhook = WebhookUrl::parse("https://hooks.example.com/coinbeat")?;

    // Thresholds from 100,000.00 up by a cent each: all between 99,999 and 101,000.
    let started = Instant::now();
    for n in 0..ALERTS {
        let alert = StoredAlert::new(
            format!("key:bench{}", n % 100),
            coin.clone(),
            Condition::Above {
                usd: Decimal::new(10_000_000 + i64::from(n), 2),
            },
            webhook.clone(),
        );
        store.create(&alert, ALERTS).await?;
    }
    println!(
        "alerts: {ALERTS} alerts created in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let below = Decimal::from(99_999);
    let above = Decimal::from(101_000);
    let between = Decimal::new(10_000_005, 2); // 100,000.05: crosses 6 going up from below
    let mut at = Utc::now() - chrono::Duration::hours(1);
    let mut tick = || {
        at += chrono::Duration::milliseconds(10);
        at
    };
    let (mut crossing, mut evaluation, mut none, mut plain) = (vec![], vec![], vec![], vec![]);
    for run in 0..=args.runs {
        // Below every threshold, then one update above them all.
        cache.write(&[record(&coin, below, tick())]).await?;
        evaluate().await?;
        let t = Instant::now();
        cache.write(&[record(&coin, above, tick())]).await?;
        let fired = evaluate().await?;
        let write_all = t.elapsed();
        anyhow::ensure!(
            fired == ALERTS as usize,
            "{fired} deliveries enqueued, not {ALERTS}"
        );

        // The same step's evaluation alone.
        let step = PriceMove {
            coin: coin.clone(),
            symbol: "BTC".into(),
            previous: below,
            usd: above,
            as_of: tick(),
            fetched_at: tick(),
            source: "bench".into(),
        };
        let t = Instant::now();
        let crossings = watch.crossings(std::slice::from_ref(&step)).await?;
        let evaluate_all = t.elapsed();
        anyhow::ensure!(
            crossings.len() == ALERTS as usize,
            "{} crossings",
            crossings.len()
        );

        // Above them all and staying above: nothing crossed.
        let t = Instant::now();
        cache
            .write(&[record(&coin, above + Decimal::ONE, tick())])
            .await?;
        let fired = evaluate().await?;
        let write_none = t.elapsed();
        anyhow::ensure!(fired == 0);

        // A coin without alerts.
        cache.write(&[record(&other, between, tick())]).await?;
        let t = Instant::now();
        cache.write(&[record(&other, above, tick())]).await?;
        let write_plain = t.elapsed();

        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "alerts: run {run}{}: crossing all {:.1} ms, evaluation {:.1} ms, crossing none {:.2} ms, no alerts {:.2} ms",
            if run == 0 { " (warm-up)" } else { "" },
            ms(write_all),
            ms(evaluate_all),
            ms(write_none),
            ms(write_plain)
        );
        if run > 0 {
            crossing.push(ms(write_all));
            evaluation.push(ms(evaluate_all));
            none.push(ms(write_none));
            plain.push(ms(write_plain));
        }
    }

    let mut report = Report::new(
        "alerts",
        format!(
            "{ALERTS} `above` alerts on one coin in a private redis-server, one price update \
             through PriceCache::write, its move read from the log and evaluated as an \
             alerts-worker does (one process, one connection); median of {} runs after a warm-up",
            args.runs
        ),
    );
    report.rows.push(Row::info(
        "one update crossing all 10,000 alerts: the write, the move read from the log, its \
         evaluation and 10,000 deliveries enqueued, ms",
        format!("{:.1}", median(&crossing)),
    ));
    report.rows.push(Row::info(
        "its evaluation alone (candidates by score, 10,000 alerts read, exact checks), ms",
        format!("{:.1}", median(&evaluation)),
    ));
    report.rows.push(Row::info(
        "one update of that coin crossing none of them: the write and its evaluation, ms",
        format!("{:.2}", median(&none)),
    ));
    report.rows.push(Row::info(
        "peer, same run: one update of a coin without alerts (the write alone), ms",
        format!("{:.2}", median(&plain)),
    ));
    Ok(report)
}
