//! CoinCap: the stream-worker's second source of live prices ([`stream`]), streamed while
//! Binance's streams are silent or failing.

pub mod stream;
