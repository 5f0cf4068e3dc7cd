//! What a queue's worker is: the one trait every queue worker implements. Its name, `--help`
//! text, job type (so its queue) and upstreams are declared once here, and everything that
//! starts, deploys or reports on a worker derives from them (see `coinbeat::component`).

use std::future::Future;

use coinbeat_shared::{
    jobs::Job,
    queue::{JobContext, JobResult},
    ratelimit::Provider,
};

use crate::boot::WorkerEnv;

/// A worker of one queue: built once per process, then run for each task of `Self::Job`'s queue
/// (concurrently: a clone per task).
pub trait Worker: Clone + Send + Sync + 'static {
    /// The payload of its queue; `Job::queue()` names the queue.
    type Job: Job;
    /// The component's one name: the binary, the image's link, the compose service, the k8s
    /// Deployment.
    const NAME: &'static str;
    /// What it does, for its `--help`.
    const ABOUT: &'static str;
    /// The upstreams it calls: its ops server reports their limiters and breakers, and the
    /// deployment checks give it exactly their API keys.
    const PROVIDERS: &'static [Provider] = &[];

    /// Builds the worker (clients, caches) once per process, before the first task.
    fn build(env: &WorkerEnv) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Runs one task.
    fn run(&self, job: Self::Job, ctx: JobContext) -> impl Future<Output = JobResult> + Send;
}
