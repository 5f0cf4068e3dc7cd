//! `price-worker`: runs the `prices` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main(
        "price-worker",
        "Runs the `prices` queue: fetches prices (CoinGecko, Binance as fallback) into the cache.",
    )
    .await
}
