//! `rates-worker`: runs the `rates` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::rates::RatesWorker>().await
}
