//! `price-worker`: runs the `prices` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::prices::PriceWorker>().await
}
