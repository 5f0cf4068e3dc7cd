//! `coinbeat-sim`: an independent simulator of the upstream APIs' wire formats, so coinbeat can be run
//! and tested without reaching the real providers. It depends on nothing of ours on purpose: a
//! mistake shared with the clients' serde types would hide itself.
//!
//! - [`config`]: [`SimConfig`] and the run-time [`Faults`].
//! - [`server`]: [`start`] (background, returns a [`SimHandle`]), [`serve`] and [`run_until`].
//! - `coingecko/`: CoinGecko v3 at `/api/v3` (`ping`, `simple/price`, `coins/list`,
//!   `coins/markets`, `global`, `coins/{id}`), one file per endpoint.
//! - `binance/`: Binance spot at `/binance/api/v3` (`ticker/price`, `ticker/24hr`), and its combined
//!   streams at `/binance/stream` (a WebSocket).
//! - `coincap/`: CoinCap's prices stream at `/coincap/prices` (a WebSocket) and its REST v3 at
//!   `/coincap/v3` (`assets`, `assets/{id}`).
//! - `alchemy/`: Alchemy's Prices API at `/alchemy/prices/v1/{apiKey}` (`tokens/by-symbol`).
//! - `alphavantage/`: Alpha Vantage at `/alphavantage/query` (`CURRENCY_EXCHANGE_RATE` between
//!   the fiat currencies of [`FIAT_CURRENCIES`]).
//! - `etherscan/`: Etherscan V2 at `/etherscan/v2/api` (`balance`, `txlist`, `tokentx`) over
//!   deterministic per-address ledgers, and `/sim/etherscan/ledger/{address}`.
//! - `coinlore/`: CoinLore at `/api/tickers/` and `/api/ticker/`.
//! - [`provider`]: the closed set of providers that keys faults and counters.
//! - `market/`: the coin universe every provider serves: the catalogue (built-in coins and
//!   synthetic ones with generated names, tickers that sometimes collide, contracts on several
//!   chains), which coins are listed now (churn epochs, `unlist`/`relist`), `set_rank`, and the
//!   seeded, deterministic price walks.
//! - `faults`, `limiter`: latency, injected errors, outages and the per-minute, per-second and
//!   per-day request limits.
//! - `connection`: what every stream connection shares: its stream faults (silence, malformed
//!   frames, `drop_streams`) and its counters.
//! - [`control`]: the `/sim/` routes that change faults and expose [`Stats`] and [`Served`] prices.
//! - `number`, `json`, `time`: number text written digit by digit, JSON objects that keep their
//!   order, ISO 8601 (and Alpha Vantage's) timestamps.
//!
//! Base URLs a client sets to talk to a sim at `http://HOST:PORT` (also on [`SimHandle`]):
//!
//! | Provider | Base URL | e.g. |
//! |---|---|---|
//! | CoinGecko | `http://HOST:PORT/api/v3` | `/api/v3/coins/markets?vs_currency=usd` |
//! | Binance | `http://HOST:PORT/binance` | `/binance/api/v3/ticker/price?symbol=BTCUSDT` |
//! | Etherscan | `http://HOST:PORT/etherscan` | `/etherscan/v2/api?chainid=1&module=account&...` |
//! | CoinLore | `http://HOST:PORT/api` | `/api/tickers/?start=0&limit=100` |
//! | CoinCap REST | `http://HOST:PORT/coincap/v3` | `/coincap/v3/assets?ids=bitcoin,ethereum` |
//! | Alchemy | `http://HOST:PORT/alchemy/prices/v1` | `…/v1/KEY/tokens/by-symbol?symbols=BTC` |
//! | Alpha Vantage | `http://HOST:PORT/alphavantage` | `…/query?function=CURRENCY_EXCHANGE_RATE&…` |
//! | Binance streams | `ws://HOST:PORT/binance` | `/binance/stream?streams=btcusdt@aggTrade` |
//! | CoinCap stream | `ws://HOST:PORT/coincap` | `/coincap/prices?assets=bitcoin,ethereum` |
//!
//! Binance sits under its own prefix because its paths (`/api/v3/...`) collide with CoinGecko's.

pub mod cli;
pub mod config;
pub mod control;
pub mod error;
pub mod provider;
pub mod served;
pub mod server;
pub mod stats;

mod alchemy;
mod alphavantage;
mod arrivals;
mod binance;
mod coincap;
mod coingecko;
mod coinlore;
mod connection;
mod etherscan;
mod faults;
mod json;
mod limiter;
mod market;
mod number;
mod rng;
mod state;
mod time;

pub use alphavantage::{FIAT_CURRENCIES, FiatCurrency};
pub use arrivals::{ArrivalLog, busiest_window};
pub use binance::Pair as BinancePair;
pub use config::{Faults, ProviderFaults, SimConfig, StreamConfig};
pub use control::{ControlRequest, SetRank};
pub use error::SimError;
pub use etherscan::{LedgerSummary, NormalTotals, TokenNet, TokenTotals};
pub use market::BUILTIN_COINS;
pub use provider::Provider;
pub use served::{Served, ServedPrice, ServedTick};
pub use server::{SimHandle, run_until, serve, start};
pub use stats::{ProviderStats, Stats};
