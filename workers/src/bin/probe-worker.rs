//! `probe-worker`: runs the diagnostic `probe` queue until SIGINT or SIGTERM.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_workers::boot::main(
        "probe-worker",
        "Runs the `probe` queue: diagnostic tasks for benchmarks and fault tests.",
    )
    .await
}
