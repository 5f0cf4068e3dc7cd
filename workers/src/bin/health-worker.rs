//! `health-worker`: runs the `health` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main::<coinbeat_workers::health::HealthWorker>().await
}
