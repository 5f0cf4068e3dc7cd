//! `market-worker`: runs the `market` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::market::MarketWorker>().await
}
