//! The wallet analysis: balance, activity, native-coin flows, ERC-20 holdings netted from
//! transfers, top counterparties and the simple flags, computed from what Etherscan returned.
//!
//! Every amount is an exact integer ([`Units`]) until it is printed with its decimals; the only
//! decimal multiplication is the USD value (balance × cached price). Lists read page by page,
//! newest first, can repeat a row across a page boundary when new transactions arrive
//! meanwhile, so rows are de-duplicated (transactions by hash; token transfers by hash,
//! contract, sender, recipient and amount).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use coinbeat_shared::{
    cache::{Counterparty, PriceRecord, TokenHolding, WalletAnalysis, WalletFlags},
    domain::{Address, Chain, Symbol, Units},
    settings::WalletSettings,
};
use rust_decimal::Decimal;

use crate::etherscan::{NormalTx, TokenTransfer};

/// Decimals of every chain's native coin (wei per ether).
const NATIVE_DECIMALS: u32 = 18;

/// Digits kept in a USD value.
const USD_DECIMALS: u32 = 8;

/// What the worker read, and the context to judge it in.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub chain: Chain,
    pub address: &'a Address,
    pub balance_wei: &'a Units,
    pub txs: &'a [NormalTx],
    pub transfers: &'a [TokenTransfer],
    /// False when a list reached the page bound.
    pub complete: bool,
    pub upstream_requests: u32,
    /// The cached price of the chain's native coin, if any.
    pub native_price: Option<&'a PriceRecord>,
    /// When the reading finished; also "now" for the flags.
    pub fetched_at: DateTime<Utc>,
    pub settings: &'a WalletSettings,
}

#[derive(Debug, Default)]
struct Flow {
    transactions: u64,
    sent: Units,
    received: Units,
}

#[derive(Debug)]
struct TokenTotals {
    symbol: String,
    name: String,
    decimals: u32,
    received: Units,
    sent: Units,
    transfers: u64,
}

/// Computes the analysis. Pure: the same inputs give the same record.
pub fn analyse(input: Inputs<'_>) -> WalletAnalysis {
    let me = input.address;
    let now = input.fetched_at;
    let settings = input.settings;
    let outflow_since = now - days(settings.outflow_window_days);

    let mut seen_txs = HashSet::new();
    let mut transaction_count = 0u64;
    let mut activity: Vec<DateTime<Utc>> = Vec::new();
    let mut total_sent = Units::zero();
    let mut total_received = Units::zero();
    let mut window_outflow = Units::zero();
    let mut counterparties: BTreeMap<&Address, Flow> = BTreeMap::new();
    let mut contract = false;

    for tx in input.txs {
        if !tx.hash.is_empty() && !seen_txs.insert(tx.hash.as_str()) {
            continue;
        }
        transaction_count += 1;
        activity.push(tx.timestamp);
        if tx.contract_created.as_ref() == Some(me) {
            contract = true;
        }
        let outgoing = tx.from == *me;
        let incoming = tx.to.as_ref() == Some(me);
        let other = if outgoing {
            tx.to.as_ref()
        } else {
            Some(&tx.from)
        };
        let moved = !tx.failed && !tx.value.is_zero() && outgoing != incoming;
        if moved && outgoing {
            total_sent = total_sent.add(&tx.value);
            if tx.timestamp >= outflow_since {
                window_outflow = window_outflow.add(&tx.value);
            }
        }
        if moved && incoming {
            total_received = total_received.add(&tx.value);
        }
        if let Some(other) = other.filter(|o| *o != me) {
            let flow = counterparties.entry(other).or_default();
            flow.transactions += 1;
            if moved && outgoing {
                flow.sent = flow.sent.add(&tx.value);
            } else if moved {
                flow.received = flow.received.add(&tx.value);
            }
        }
    }

    let mut seen_transfers = HashSet::new();
    let mut token_transfer_count = 0u64;
    let mut tokens: BTreeMap<&Address, TokenTotals> = BTreeMap::new();
    for t in input.transfers {
        let identity = (
            t.hash.as_str(),
            &t.contract,
            &t.from,
            t.to.as_ref(),
            &t.value,
        );
        if !t.hash.is_empty() && !seen_transfers.insert(identity) {
            continue;
        }
        token_transfer_count += 1;
        activity.push(t.timestamp);
        let totals = tokens.entry(&t.contract).or_insert_with(|| TokenTotals {
            symbol: t.token_symbol.clone(),
            name: t.token_name.clone(),
            decimals: t.decimals,
            received: Units::zero(),
            sent: Units::zero(),
            transfers: 0,
        });
        totals.transfers += 1;
        let outgoing = t.from == *me;
        let incoming = t.to.as_ref() == Some(me);
        if outgoing && !incoming {
            totals.sent = totals.sent.add(&t.value);
        } else if incoming && !outgoing {
            totals.received = totals.received.add(&t.value);
        }
    }

    let holdings = tokens
        .into_iter()
        .filter_map(|(contract, t)| {
            let net = t.received.checked_sub(&t.sent).filter(|n| !n.is_zero())?;
            Some(TokenHolding {
                contract: contract.clone(),
                amount: net.to_decimal_string(t.decimals),
                raw_amount: net.to_string(),
                symbol: t.symbol,
                name: t.name,
                decimals: t.decimals,
                transfers: t.transfers,
            })
        })
        .collect();

    let mut top: Vec<(&Address, Flow)> = counterparties.into_iter().collect();
    // Most transactions first; the map's address order breaks ties (stable sort).
    top.sort_by_key(|(_, flow)| std::cmp::Reverse(flow.transactions));
    top.truncate(settings.top_counterparties);
    let top_counterparties = top
        .into_iter()
        .map(|(address, flow)| Counterparty {
            address: address.clone(),
            transactions: flow.transactions,
            sent: flow.sent.to_decimal_string(NATIVE_DECIMALS),
            received: flow.received.to_decimal_string(NATIVE_DECIMALS),
        })
        .collect();

    let first_activity_at = activity.iter().min().copied();
    let last_activity_at = activity.iter().max().copied();
    let balance = input.balance_wei.to_decimal_string(NATIVE_DECIMALS);
    let flags = WalletFlags {
        dormant: last_activity_at.is_none_or(|t| t < now - days(settings.dormant_after_days)),
        // Without the whole history the first activity is unknown, so "new" cannot be claimed.
        new: input.complete
            && first_activity_at.is_some_and(|t| t >= now - days(settings.new_within_days)),
        high_outflow: high_outflow(
            input.balance_wei,
            &window_outflow,
            settings.high_outflow_pct,
        ),
        contract,
    };
    let native_usd_price = input.native_price.map(|p| p.usd);
    WalletAnalysis {
        chain: input.chain,
        address: me.clone(),
        native_symbol: Symbol::parse(input.chain.native_symbol()).expect("built-in symbols parse"),
        balance_wei: input.balance_wei.to_string(),
        balance_usd: native_usd_price.and_then(|price| usd_value(&balance, price)),
        balance,
        native_usd_price,
        native_price_fetched_at: input.native_price.map(|p| p.fetched_at),
        transaction_count,
        token_transfer_count,
        first_activity_at,
        last_activity_at,
        total_received: total_received.to_decimal_string(NATIVE_DECIMALS),
        total_sent: total_sent.to_decimal_string(NATIVE_DECIMALS),
        tokens: holdings,
        top_counterparties,
        flags,
        complete: input.complete,
        upstream_requests: input.upstream_requests,
        fetched_at: now,
        source: super::SOURCE.to_owned(),
    }
}

/// `n` days, capped at 10,000 years so a huge threshold cannot overflow date arithmetic.
fn days(n: u64) -> Duration {
    Duration::days(n.min(3_650_000) as i64)
}

/// `outflow × 100 ≥ pct × (balance + outflow)`, in integers; never for no outflow.
fn high_outflow(balance: &Units, outflow: &Units, pct: u8) -> bool {
    if outflow.is_zero() {
        return false;
    }
    let held = balance.add(outflow);
    outflow.mul_small(100) >= held.mul_small(u32::from(pct.min(100)))
}

/// `balance` (an exact decimal string) × `price`, when both fit a `Decimal`.
fn usd_value(balance: &str, price: Decimal) -> Option<Decimal> {
    let balance: Decimal = balance.parse().ok()?;
    Some(
        balance
            .checked_mul(price)?
            .round_dp(USD_DECIMALS)
            .normalize(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
    const ALICE: &str = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";
    const BOB: &str = "0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb";
    const TOKEN: &str = "0xd1220a0cf47c7b9be7a2e6ba89f429762e7b9adb";
    const USDC: &str = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";

    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_000_000, 0).unwrap()
    }

    fn ago(d: i64) -> DateTime<Utc> {
        now() - Duration::days(d)
    }

    fn tx(hash: &str, from: &str, to: &str, wei: &str, at: DateTime<Utc>) -> NormalTx {
        NormalTx {
            block: 1,
            timestamp: at,
            hash: hash.into(),
            from: a(from),
            to: (!to.is_empty()).then(|| a(to)),
            value: Units::parse(wei).unwrap(),
            failed: false,
            contract_created: None,
        }
    }

    fn transfer(
        hash: &str,
        from: &str,
        to: &str,
        contract: &str,
        value: &str,
        decimals: u32,
    ) -> TokenTransfer {
        TokenTransfer {
            block: 1,
            timestamp: ago(3),
            hash: hash.into(),
            from: a(from),
            to: Some(a(to)),
            contract: a(contract),
            value: Units::parse(value).unwrap(),
            token_name: format!("Token {decimals}"),
            token_symbol: format!("T{decimals}"),
            decimals,
        }
    }

    fn price(usd: &str) -> PriceRecord {
        PriceRecord {
            symbol: "ETH".into(),
            coin_id: coinbeat_shared::domain::CoinId::parse("ethereum").unwrap(),
            usd: usd.parse().unwrap(),
            change_24h_pct: None,
            market_cap_usd: None,
            volume_24h_usd: None,
            upstream_updated_at: None,
            fetched_at: now(),
            source: "coingecko".into(),
        }
    }

    fn run(
        balance: &str,
        txs: &[NormalTx],
        transfers: &[TokenTransfer],
        complete: bool,
        price: Option<&PriceRecord>,
    ) -> WalletAnalysis {
        let me = a(ME);
        let balance = Units::parse(balance).unwrap();
        let settings = WalletSettings::default();
        analyse(Inputs {
            chain: Chain::Ethereum,
            address: &me,
            balance_wei: &balance,
            txs,
            transfers,
            complete,
            upstream_requests: 3,
            native_price: price,
            fetched_at: now(),
            settings: &settings,
        })
    }

    #[test]
    fn the_balance_is_an_exact_ether_string_and_its_usd_value_uses_the_cached_price() {
        let eth = price("3521.17");
        let r = run("1234567890123456789", &[], &[], true, Some(&eth));
        assert_eq!(r.balance_wei, "1234567890123456789");
        assert_eq!(r.balance, "1.234567890123456789");
        assert_eq!(r.native_symbol.as_str(), "ETH");
        // 1.234567890123456789 × 3521.17 = 4347.123417666012341723..., to 8 places.
        assert_eq!(r.balance_usd.unwrap().to_string(), "4347.12341767");
        assert_eq!(r.native_usd_price.unwrap().to_string(), "3521.17");

        let r = run("172774397764084972158218", &[], &[], true, None);
        assert_eq!(r.balance, "172774.397764084972158218");
        assert_eq!(r.balance_usd, None, "no price cached, no value made up");
        assert_eq!(run("0", &[], &[], true, None).balance, "0");
    }

    #[test]
    fn flows_counts_activity_and_counterparties_come_from_successful_transactions() {
        let mut failed = tx("0xf", ME, BOB, "5000000000000000000", ago(1));
        failed.failed = true;
        let txs = [
            tx("0x1", ALICE, ME, "2000000000000000000", ago(40)),
            tx("0x2", ME, ALICE, "500000000000000000", ago(20)),
            tx("0x3", ME, BOB, "250000000000000000", ago(10)),
            tx("0x3", ME, BOB, "250000000000000000", ago(10)), // repeated across pages
            tx("0x4", ME, ME, "1000000000000000000", ago(5)),  // to itself
            failed,
            tx("0x5", ALICE, ME, "1", ago(2)),
        ];
        let r = run("1250000000000000001", &txs, &[], true, None);
        assert_eq!(r.transaction_count, 6);
        assert_eq!(r.total_received, "2.000000000000000001");
        assert_eq!(r.total_sent, "0.75");
        assert_eq!(r.first_activity_at, Some(ago(40)));
        assert_eq!(r.last_activity_at, Some(ago(1)));
        let top: Vec<(&str, u64, &str, &str)> = r
            .top_counterparties
            .iter()
            .map(|c| {
                (
                    c.address.as_str(),
                    c.transactions,
                    c.sent.as_str(),
                    c.received.as_str(),
                )
            })
            .collect();
        assert_eq!(
            top,
            [
                (ALICE, 3, "0.5", "2.000000000000000001"),
                (BOB, 2, "0.25", "0"),
            ]
        );
    }

    #[test]
    fn token_holdings_are_netted_per_contract_with_each_tokens_decimals() {
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        let transfers = [
            transfer("0xa", ALICE, ME, USDC, "2500000", 6),
            transfer("0xb", ME, BOB, USDC, "1000001", 6),
            transfer("0xc", ALICE, ME, TOKEN, big, 18),
            transfer("0xd", ALICE, ME, ALICE, "7", 0),
            transfer("0xe", ME, BOB, ALICE, "7", 0), // netted to zero: not held
        ];
        let r = run("0", &[], &transfers, true, None);
        assert_eq!(r.token_transfer_count, 5);
        let held: Vec<(&str, &str, &str, u32)> = r
            .tokens
            .iter()
            .map(|t| {
                (
                    t.contract.as_str(),
                    t.raw_amount.as_str(),
                    t.amount.as_str(),
                    t.decimals,
                )
            })
            .collect();
        assert_eq!(
            held,
            [
                (USDC, "1499999", "1.499999", 6),
                (
                    TOKEN,
                    big,
                    "115792089237316195423570985008687907853269984665640564039457.584007913129639935",
                    18
                ),
            ]
        );
        assert_eq!(r.tokens[0].transfers, 2);
        assert_eq!(r.tokens[0].symbol, "T6");
    }

    #[test]
    fn flags_follow_the_thresholds() {
        // Nothing at all: dormant, not new.
        let r = run("0", &[], &[], true, None);
        assert!(r.flags.dormant && !r.flags.new && !r.flags.high_outflow && !r.flags.contract);

        // Old activity only: dormant (default 180 days).
        let r = run("1", &[tx("0x1", ALICE, ME, "1", ago(200))], &[], true, None);
        assert!(r.flags.dormant && !r.flags.new);

        // First seen 10 days ago: new, unless the history was cut by the page bound.
        let txs = [tx("0x1", ALICE, ME, "10", ago(10))];
        assert!(run("10", &txs, &[], true, None).flags.new);
        assert!(!run("10", &txs, &[], false, None).flags.new);

        // Sent 9 of 10 within 30 days: 90% ≥ 80%, high outflow. 7 of 10 is not.
        let txs = [
            tx("0x1", ALICE, ME, "10", ago(100)),
            tx("0x2", ME, BOB, "9", ago(3)),
        ];
        assert!(run("1", &txs, &[], true, None).flags.high_outflow);
        let txs = [
            tx("0x1", ALICE, ME, "10", ago(100)),
            tx("0x2", ME, BOB, "7", ago(3)),
        ];
        assert!(!run("3", &txs, &[], true, None).flags.high_outflow);
        // An outflow before the window does not count.
        let txs = [tx("0x2", ME, BOB, "9", ago(60))];
        assert!(!run("1", &txs, &[], true, None).flags.high_outflow);

        // The address's own creation transaction makes it a contract.
        let mut creation = tx("0x9", ALICE, "", "0", ago(50));
        creation.contract_created = Some(a(ME));
        assert!(run("0", &[creation], &[], true, None).flags.contract);
    }
}
