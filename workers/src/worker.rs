//! What a queue's worker is: the one trait every queue worker implements. Its name, `--help`
//! text, job type (so its queue) and upstreams are declared once, in its `impl Worker`; the
//! `workers!` list in `lib.rs` names every worker ([`QueueWorker`](crate::QueueWorker)), and everything that starts,
//! deploys or reports on a component derives from its [`Spec`] (see `coinbeat::component`).

use std::{fmt, future::Future, pin::Pin};

use coinbeat_shared::{
    Settings,
    jobs::{Job, QueueName},
    queue::{JobContext, JobResult},
    ratelimit::Provider,
};
use tokio_util::sync::CancellationToken;

use crate::boot::{self, WorkerEnv};

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
    /// Part of the product (`coinbeat up` runs it, deployments hold it); `false` for a
    /// diagnostic worker.
    const PRODUCT: bool = true;

    /// Builds the worker (clients, caches) once per process, before the first task.
    fn build(env: &WorkerEnv) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Runs one task.
    fn run(&self, job: Self::Job, ctx: JobContext) -> impl Future<Output = JobResult> + Send;

    /// Work the process does beside its queue until `stop` (the alerts-worker evaluates the
    /// logged price moves); none by default. An error stops the process.
    fn beside(
        &self,
        _env: &WorkerEnv,
        _stop: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        async { Ok(()) }
    }
}

/// A component's whole run, boxed so one table can hold every kind.
pub type Running = Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

/// What one component is: its name and help, what it consumes and calls, and how it runs. A
/// queue worker's comes from its [`Worker`] impl ([`Spec::worker`]); `coinbeat::component` writes
/// the others'.
#[derive(Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub about: &'static str,
    /// The queue it executes, for a queue worker.
    pub queue: Option<fn() -> QueueName>,
    /// The upstreams it calls (their API keys are all it may be given).
    pub providers: &'static [Provider],
    /// Part of the product: `coinbeat up` runs it.
    pub product: bool,
    /// The process's `main` when the binary is called by the component's name: its own command
    /// line, settings, logs, then the component until a signal.
    pub main: fn() -> Running,
    /// The component in the foreground with `settings` until `stop` (`coinbeat run`).
    pub run: fn(Settings, CancellationToken) -> Running,
}

impl Spec {
    /// The spec of the queue worker `W`, from its [`Worker`] impl.
    pub fn worker<W: Worker>() -> Self {
        fn main<W: Worker>() -> Running {
            Box::pin(boot::main::<W>())
        }
        fn run<W: Worker>(settings: Settings, stop: CancellationToken) -> Running {
            Box::pin(boot::run::<W>(settings, stop))
        }
        fn queue<W: Worker>() -> QueueName {
            W::Job::queue()
        }
        Self {
            name: W::NAME,
            about: W::ABOUT,
            queue: Some(queue::<W>),
            providers: W::PROVIDERS,
            product: W::PRODUCT,
            main: main::<W>,
            run: run::<W>,
        }
    }
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec")
            .field("name", &self.name)
            .field("queue", &self.queue.map(|queue| queue()))
            .field("providers", &self.providers)
            .field("product", &self.product)
            .finish_non_exhaustive()
    }
}

/// Declares each queue worker's module and lists the workers in [`QueueWorker`]: one line
/// `module::Type` a worker. Used once, in `lib.rs`.
macro_rules! workers {
    ($($(#[$doc:meta])* $module:ident::$worker:ident,)*) => {
        $($(#[$doc])* pub mod $module;)*

        /// Every queue worker (the `workers!` list in `lib.rs`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum QueueWorker {
            $($worker,)*
        }

        impl QueueWorker {
            /// Every queue worker, in the list's order.
            pub const ALL: &[QueueWorker] = &[$(QueueWorker::$worker,)*];

            /// Its spec, from its `impl Worker`.
            pub fn spec(self) -> $crate::worker::Spec {
                match self {
                    $(QueueWorker::$worker => $crate::worker::Spec::worker::<$module::$worker>(),)*
                }
            }
        }
    };
}
