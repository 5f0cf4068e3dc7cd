//! `coinbeat-scheduler`: the beat until SIGINT or SIGTERM (see [`coinbeat_scheduler::boot`]).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    coinbeat_scheduler::boot::main().await
}
