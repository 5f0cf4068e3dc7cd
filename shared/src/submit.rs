//! Turning a request for work (a job kind plus JSON arguments, from the API, the CLI or the
//! schedule table) into a checked payload on its queue. The one place that decides what
//! arguments each kind accepts beyond its payload type.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{
    Settings,
    domain::{Currency, Symbol},
    jobs::{
        BackfillJob, CatalogueJob, CleanupJob, HealthJob, HistoryJob, MarketJob, PricesJob, Queue,
        RatesJob, WalletJob,
    },
    queue::{EnqueueOptions, Producer, QueueError, TaskId},
    settings::{RANKED, TRACKED, TierSettings},
};

/// Most symbols one on-demand price job may name.
pub const MAX_SYMBOLS_PER_JOB: usize = 10_000;

/// Why a request for work was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The arguments do not fit the kind's payload (unknown field, wrong type, bad symbol, ...).
    #[error("invalid args for {kind}: {message}")]
    BadArgs { kind: Queue, message: String },
    /// Well-formed symbols that no coin has (in `[prices.coins]`, or the catalogue the caller
    /// knows): nothing could be fetched for them.
    #[error(
        "invalid args for {kind}: no coin is known for {} (neither in the coin catalogue nor \
         under [prices.coins])",
        symbols.join(", ")
    )]
    UnknownSymbols { kind: Queue, symbols: Vec<String> },
    /// The queue refused it (full, duplicate, Redis).
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Checks `args` against `kind`'s payload and the settings, and returns the payload as it will be
/// stored (normalised: symbols uppercased, defaults filled in). `null` means no arguments.
pub fn check_args(kind: Queue, args: &Value, settings: &Settings) -> Result<Value, SubmitError> {
    check_args_knowing(
        kind,
        args,
        &settings.prices.tiers,
        &settings.rates.currencies,
        &|symbol| settings.prices.coin_id(symbol).is_some(),
    )
}

/// [`check_args`] with the caller's idea of which symbols name a coin: the API's knows the
/// coin catalogue too, while the beat and the CLI know `[prices.coins]` only.
pub fn check_args_knowing(
    kind: Queue,
    args: &Value,
    tiers: &BTreeMap<String, TierSettings>,
    currencies: &[Currency],
    knows: &dyn Fn(&Symbol) -> bool,
) -> Result<Value, SubmitError> {
    let args = match args {
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    };
    let bad = |message: String| SubmitError::BadArgs { kind, message };
    let normalised = match kind {
        Queue::Prices => {
            let mut job: PricesJob = parse(&args).map_err(bad)?;
            // Named at all, even as `null`: one of the three, as the payload's schema says.
            let given = ["symbols", "ids", "tier"].map(|name| args.get(name).is_some());
            if given.iter().filter(|g| **g).count() > 1 {
                return Err(bad("give one of `symbols`, `ids` or `tier`".into()));
            }
            if let Some(tier) = &job.tier
                && !tiers.get(tier).is_some_and(|t| t.enabled)
            {
                let names: Vec<&str> = tiers
                    .iter()
                    .filter(|(_, t)| t.enabled)
                    .map(|(name, _)| name.as_str())
                    .collect();
                return Err(bad(format!(
                    "no tier is named {tier:?} (the tiers are: {})",
                    names.join(", ")
                )));
            }
            if let Some(ids) = &mut job.ids {
                let mut seen = std::collections::HashSet::new();
                ids.retain(|id| seen.insert(id.clone()));
                if ids.is_empty() || ids.len() > MAX_SYMBOLS_PER_JOB {
                    return Err(bad(format!(
                        "`ids` has {} entries; give 1 to {MAX_SYMBOLS_PER_JOB} (leave it out for \
                         the tracked set)",
                        ids.len()
                    )));
                }
            }
            if let Some(symbols) = &mut job.symbols {
                let mut seen = std::collections::HashSet::new();
                symbols.retain(|s| seen.insert(s.clone()));
                if symbols.is_empty() {
                    return Err(bad(
                        "`symbols` must not be empty (leave it out for the tracked set)".into(),
                    ));
                }
                if symbols.len() > MAX_SYMBOLS_PER_JOB {
                    return Err(bad(format!(
                        "`symbols` has {} entries; at most {MAX_SYMBOLS_PER_JOB} per job",
                        symbols.len()
                    )));
                }
                let unknown: Vec<&str> = symbols
                    .iter()
                    .filter(|s| !knows(s))
                    .map(|s| s.as_str())
                    .collect();
                if !unknown.is_empty() {
                    return Err(SubmitError::UnknownSymbols {
                        kind,
                        symbols: unknown.into_iter().map(str::to_owned).collect(),
                    });
                }
            }
            serde_json::to_value(job)
        }
        Queue::Market => {
            let job: MarketJob = parse(&args).map_err(bad)?;
            if !(1..=1_000).contains(&job.limit) {
                return Err(bad("`limit` must be between 1 and 1000".into()));
            }
            serde_json::to_value(job)
        }
        Queue::Wallet => serde_json::to_value(parse::<WalletJob>(&args).map_err(bad)?),
        Queue::Health => serde_json::to_value(parse::<HealthJob>(&args).map_err(bad)?),
        Queue::Cleanup => serde_json::to_value(parse::<CleanupJob>(&args).map_err(bad)?),
        Queue::Catalogue => serde_json::to_value(parse::<CatalogueJob>(&args).map_err(bad)?),
        // A delivery is a crossing a price write found; one made up here would call someone's
        // webhook with a price that never crossed.
        Queue::Alerts => {
            return Err(bad(
                "alert deliveries are enqueued by the price updates that cross an alert; create \
                 an alert with POST /v1/alerts"
                    .into(),
            ));
        }
        Queue::Rates => {
            let mut job: RatesJob = parse(&args).map_err(bad)?;
            if let Some(asked) = &mut job.currencies {
                let mut seen = std::collections::HashSet::new();
                asked.retain(|c| seen.insert(*c));
                if asked.is_empty() || asked.len() > RatesJob::MAX_CURRENCIES {
                    return Err(bad(format!(
                        "`currencies` has {} entries; give 1 to {} (leave it out for \
                         rates.currencies)",
                        asked.len(),
                        RatesJob::MAX_CURRENCIES
                    )));
                }
                // Only the configured ones (so never USD): each call spends part of the key's
                // small daily quota, which the schedule is sized to.
                if let Some(other) = asked.iter().find(|c| !currencies.contains(c)) {
                    let listed: Vec<&str> = currencies.iter().map(Currency::as_str).collect();
                    return Err(bad(format!(
                        "{other} is not one of rates.currencies ({})",
                        listed.join(", ")
                    )));
                }
            }
            serde_json::to_value(job)
        }
        Queue::History => {
            let job: HistoryJob = parse(&args).map_err(bad)?;
            match &job {
                HistoryJob::Snapshot(snapshot) => {
                    let set = snapshot.set.as_str();
                    if set != TRACKED && set != RANKED && !tiers.contains_key(set) {
                        return Err(bad(format!(
                            "`set` must be {TRACKED}, {RANKED} or a [prices.tiers] tier, got {set:?}"
                        )));
                    }
                }
                HistoryJob::Backfill(backfill) => {
                    use chrono::Datelike;
                    if backfill.to <= backfill.from {
                        return Err(bad("`to` must be after `from`".into()));
                    }
                    if backfill.to - backfill.from > BackfillJob::MAX_RANGE {
                        return Err(bad(
                            "a backfill covers at most 10 years; split the range".into()
                        ));
                    }
                    if backfill.from.year() < 2009 || backfill.to.year() > 9999 {
                        return Err(bad("`from` and `to` must lie between 2009 and 9999".into()));
                    }
                }
            }
            serde_json::to_value(job)
        }
    };
    Ok(normalised.expect("payloads serialize"))
}

/// What [`submit_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// A new task.
    New(TaskId),
    /// An identical task (same kind, same normalised args) was still waiting, delayed, running
    /// or waiting for a retry: this is its id, and nothing was enqueued.
    Joined(TaskId),
}

impl Submitted {
    pub fn id(self) -> TaskId {
        match self {
            Submitted::New(id) | Submitted::Joined(id) => id,
        }
    }
}

/// The single-flight key of a checked payload: the kind and a keccak-256 of its canonical
/// JSON (object keys sorted, a price job's symbols or ids sorted, since their order does not change
/// the work).
pub fn flight_key(kind: Queue, payload: &Value) -> String {
    use tiny_keccak::{Hasher, Keccak};
    let mut canonical = payload.clone();
    for list in ["symbols", "ids"] {
        if let Some(Value::Array(items)) = canonical.get_mut(list) {
            items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    let mut text = String::new();
    write_canonical(&canonical, &mut text);
    let mut keccak = Keccak::v256();
    keccak.update(text.as_bytes());
    let mut digest = [0u8; 32];
    keccak.finalize(&mut digest);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("flight:{kind}:{hex}")
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// [`submit`] for on-demand work that must not run twice at once, given a payload
/// [`check_args`] (or [`check_args_knowing`]) returned: while a task of the same kind
/// with the same normalised args is waiting or running, its id is returned and nothing is
/// enqueued (one script in Redis decides, so concurrent identical requests share one task);
/// once it is done or dead, the next request enqueues a new one.
///
/// A caller's own `idempotency_key` comes on top of this, never instead: a key already held
/// answers [`QueueError::Duplicate`] with its task (nothing enqueued); otherwise the request
/// goes through single flight as any other, and the key is then held by the task it got, new
/// or joined. So fresh keys cannot be used to enqueue identical work twice.
pub async fn submit_once(
    producer: &Producer,
    kind: Queue,
    payload: &Value,
    mut options: EnqueueOptions,
) -> Result<Submitted, SubmitError> {
    let queue = kind.name();
    let caller_key = options
        .idempotency_key
        .take()
        .map(|key| format!("user:{key}"));
    if let Some(key) = &caller_key
        && let Some(existing) = producer.idempotency_holder(&queue, key).await?
    {
        return Err(QueueError::Duplicate {
            key: key.trim_start_matches("user:").to_owned(),
            existing,
        }
        .into());
    }
    options.idempotency_key = Some(flight_key(kind, payload));
    options.single_flight = true;
    let submitted = match producer.enqueue_to(&queue, payload, options).await {
        Ok(id) => Submitted::New(id),
        Err(QueueError::Duplicate { existing, .. }) => Submitted::Joined(existing),
        Err(e) => return Err(e.into()),
    };
    if let Some(key) = &caller_key {
        producer
            .hold_idempotency(&queue, key, submitted.id())
            .await?;
    }
    Ok(submitted)
}

/// Checks the request and enqueues it on `kind`'s queue. A caller's idempotency key lives in
/// its own namespace (`user:{key}`), so no caller can take a key the beat claims ticks with.
pub async fn submit(
    producer: &Producer,
    settings: &Settings,
    kind: Queue,
    args: &Value,
    mut options: EnqueueOptions,
) -> Result<TaskId, SubmitError> {
    let payload = check_args(kind, args, settings)?;
    options.idempotency_key = options.idempotency_key.map(|key| format!("user:{key}"));
    Ok(producer.enqueue_to(&kind.name(), &payload, options).await?)
}

fn parse<T: serde::de::DeserializeOwned>(args: &Value) -> Result<T, String> {
    if !args.is_object() {
        return Err("`args` must be a JSON object".into());
    }
    serde_json::from_value(args.clone()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: Queue, args: Value) -> Result<Value, String> {
        check_args(kind, &args, &Settings::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn history_args_name_a_set_of_coins_or_a_range_that_can_be_backfilled() {
        assert_eq!(
            check(Queue::History, json!({"snapshot": {}})).unwrap(),
            json!({"snapshot": {"set": "tracked"}})
        );
        for set in ["ranked", "top", "major"] {
            check(Queue::History, json!({"snapshot": {"set": set}})).unwrap();
        }
        let err = check(Queue::History, json!({"snapshot": {"set": "all"}})).unwrap_err();
        assert!(err.contains("\"all\""), "{err}");
        let range = |from: &str, to: &str| {
            check(
                Queue::History,
                json!({"backfill": {"coin": "bitcoin", "from": from, "to": to}}),
            )
        };
        range("2025-01-01T00:00:00Z", "2025-12-31T23:00:00Z").unwrap();
        for (from, to, why) in [
            ("2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z", "after"),
            ("2010-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "10 years"),
            ("2001-01-01T00:00:00Z", "2002-01-01T00:00:00Z", "2009"),
            (
                "yesterday",
                "2025-01-01T00:00:00Z",
                "RFC 3339 (2025-01-01T00:00:00Z), got \"yesterday\"",
            ),
        ] {
            let err = range(from, to).unwrap_err();
            assert!(err.contains(why), "{from}..{to}: {err}");
        }
        let err = check(Queue::History, json!({"backfill": {"coin": "Not A Coin"}})).unwrap_err();
        assert!(err.contains("invalid args for history"), "{err}");
    }

    #[test]
    fn prices_args_are_normalised_and_checked_against_the_coin_table() {
        assert_eq!(check(Queue::Prices, Value::Null).unwrap(), json!({}));
        assert_eq!(
            check(Queue::Prices, json!({"symbols": ["btc", " eth ", "BTC"]})).unwrap(),
            json!({"symbols": ["BTC", "ETH"]})
        );
        let err = check(Queue::Prices, json!({"symbols": ["BTC", "NOPE"]})).unwrap_err();
        assert!(err.contains("NOPE"), "{err}");
        let err = check(Queue::Prices, json!({"symbols": []})).unwrap_err();
        assert!(err.contains("must not be empty"), "{err}");
        let err = check(Queue::Prices, json!({"symbols": ["B-TC"]})).unwrap_err();
        assert!(err.contains("B-TC"), "{err}");
        let err = check(Queue::Prices, json!({"symbol": ["BTC"]})).unwrap_err();
        assert!(err.contains("unknown field `symbol`"), "{err}");
        let err = check(Queue::Prices, json!([1, 2])).unwrap_err();
        assert!(err.contains("JSON object"), "{err}");
    }

    #[test]
    fn the_flight_key_ignores_symbol_order_and_key_order_but_not_the_work() {
        let key = |kind, args: Value| {
            flight_key(
                kind,
                &check_args(kind, &args, &Settings::default()).unwrap(),
            )
        };
        let a = key(Queue::Prices, json!({"symbols": ["btc", "ETH"]}));
        assert_eq!(
            a,
            key(Queue::Prices, json!({"symbols": ["ETH", "BTC", "btc"]}))
        );
        assert_ne!(a, key(Queue::Prices, json!({"symbols": ["BTC"]})));
        assert_ne!(a, key(Queue::Prices, json!({})));
        assert!(a.starts_with("flight:prices:"), "{a}");
        let w = |addr: &str| key(Queue::Wallet, json!({"address": addr, "chain": "ethereum"}));
        assert_eq!(
            w("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            w("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
            "addresses are normalised before the key is taken"
        );
        assert_ne!(
            key(Queue::Health, json!({})),
            key(Queue::Cleanup, json!({})),
            "the kind is part of the key"
        );
    }

    #[test]
    fn other_kinds_check_their_payloads() {
        assert!(check(Queue::Market, json!({"limit": 0})).is_err());
        assert!(check(Queue::Market, json!({"limit": 100})).is_ok());
        assert!(
            check(
                Queue::Wallet,
                json!({"chain": "ethereum", "address": "0x1"})
            )
            .is_err()
        );
        assert_eq!(check(Queue::Health, json!({})).unwrap(), json!({}));
    }

    #[test]
    fn a_rates_job_names_only_configured_currencies() {
        assert_eq!(check(Queue::Rates, json!({})).unwrap(), json!({}));
        assert_eq!(
            check(Queue::Rates, json!({"currencies": ["eur", "EUR", "gbp"]})).unwrap(),
            json!({"currencies": ["EUR", "GBP"]}),
            "upper-cased, each once"
        );
        for bad in [
            json!({"currencies": []}),
            json!({"currencies": ["CHF"]}),
            json!({"currencies": ["USD"]}),
            json!({"currencies": ["EURO"]}),
        ] {
            assert!(check(Queue::Rates, bad.clone()).is_err(), "{bad}");
        }
    }
}
