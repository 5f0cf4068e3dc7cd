//! Every component of coinbeat, one closed set: the scheduler, each worker, the API and the
//! simulator. A component has one name: its binary, the image's link to `coinbeat`, its compose
//! service and Kubernetes Deployment, and what `coinbeat run` and `coinbeat up` call it.
//!
//! Everything that starts or deploys a component derives from [`Component::all`] and its one
//! [`Spec`] each: the image's `coinbeat` called by a component's name (`multicall`),
//! `coinbeat run`, `coinbeat up`, and the deployment checks (`cli/tests/deploy`). The queue
//! workers are the `workers!` list in `workers/src/lib.rs` ([`QueueWorker`]), each spec from its
//! `impl Worker`, so adding a queue is a worker module and a line there (ARCHITECTURE.md, "Add
//! a queue and its worker").

use std::{fmt, str::FromStr};

use anyhow::Context;
use coinbeat_shared::{Settings, jobs::QueueName};
use coinbeat_workers::{QueueWorker, Spec, stream};
use tokio_util::sync::CancellationToken;

/// One of coinbeat's components (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// The beat: enqueues each schedule entry's jobs on time.
    Scheduler,
    /// A queue's worker (`workers/src/lib.rs` lists them).
    Worker(QueueWorker),
    /// Live prices from exchange streams (no queue).
    StreamWorker,
    /// The HTTP API.
    Api,
    /// The simulated upstream APIs (development and demos; `coinbeat up --simulate` runs one
    /// in-process instead).
    Sim,
}

impl Component {
    /// Every component, in the order `coinbeat up` starts them.
    pub fn all() -> impl Iterator<Item = Component> {
        std::iter::once(Component::Scheduler)
            .chain(QueueWorker::ALL.iter().copied().map(Component::Worker))
            .chain([Component::StreamWorker, Component::Api, Component::Sim])
    }

    /// What the component is and how it runs.
    pub fn spec(self) -> Spec {
        match self {
            Component::Scheduler => Spec {
                name: coinbeat_scheduler::boot::SERVICE.name,
                about: coinbeat_scheduler::boot::SERVICE.about,
                queue: None,
                providers: &[],
                product: true,
                main: || Box::pin(coinbeat_scheduler::boot::main()),
                run: |settings, stop| {
                    Box::pin(async move {
                        coinbeat_scheduler::run(settings, stop)
                            .await
                            .context("scheduler")
                    })
                },
            },
            Component::Worker(worker) => worker.spec(),
            Component::StreamWorker => Spec {
                name: stream::SERVICE.name,
                about: stream::SERVICE.about,
                queue: None,
                providers: &[],
                product: true,
                main: || Box::pin(stream::main()),
                run: |settings, stop| Box::pin(stream::run(settings, stop)),
            },
            Component::Api => Spec {
                name: coinbeat_api::boot::SERVICE.name,
                about: coinbeat_api::boot::SERVICE.about,
                queue: None,
                providers: &[],
                product: true,
                main: || Box::pin(coinbeat_api::boot::main()),
                run: |settings, stop| {
                    Box::pin(async move { coinbeat_api::run(settings, stop).await.context("api") })
                },
            },
            Component::Sim => Spec {
                name: coinbeat_sim::cli::NAME,
                about: coinbeat_sim::cli::ABOUT,
                queue: None,
                providers: &[],
                product: false,
                main: || Box::pin(coinbeat_sim::cli::main()),
                run: |_settings, stop| {
                    let config = coinbeat_sim::SimConfig::default();
                    Box::pin(coinbeat_sim::cli::serve(config, async move {
                        stop.cancelled().await
                    }))
                },
            },
        }
    }

    /// Its one name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The queue it executes, for a queue worker.
    pub fn queue(self) -> Option<QueueName> {
        self.spec().queue.map(|queue| queue())
    }

    /// The components `coinbeat up` runs, in order (not the simulator, not the diagnostic
    /// probe-worker).
    pub fn product() -> impl Iterator<Item = Component> {
        Self::all().filter(|c| c.spec().product)
    }

    /// The process's `main` when the binary is called by this component's name.
    pub async fn main(self) -> anyhow::Result<()> {
        (self.spec().main)().await
    }

    /// Runs the component in the foreground with `settings` until `stop`.
    pub async fn run(self, settings: Settings, stop: CancellationToken) -> anyhow::Result<()> {
        (self.spec().run)(settings, stop).await
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not a component's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no component called {name:?}; known: {known}")]
pub struct UnknownComponent {
    name: String,
    known: String,
}

impl FromStr for Component {
    type Err = UnknownComponent;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::all()
            .find(|c| c.name() == name)
            .ok_or_else(|| UnknownComponent {
                name: name.to_owned(),
                known: Self::all().map(|c| c.name()).collect::<Vec<_>>().join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_has_a_distinct_name_that_parses_back() {
        let mut names = std::collections::BTreeSet::new();
        for component in Component::all() {
            assert!(names.insert(component.name()), "{component} named twice");
            assert_eq!(component.name().parse::<Component>(), Ok(component));
            assert!(!component.spec().about.is_empty(), "{component}");
        }
        assert_eq!(names.len(), 14, "{names:?}");
        let unknown = "prices-worker".parse::<Component>().unwrap_err();
        assert!(unknown.to_string().contains("price-worker"), "{unknown}");
    }

    #[test]
    fn up_runs_the_scheduler_first_the_api_last_and_neither_the_sim_nor_the_probe() {
        let product: Vec<_> = Component::product().map(Component::name).collect();
        assert_eq!(product.first(), Some(&"coinbeat-scheduler"));
        assert_eq!(product.last(), Some(&"coinbeat-api"));
        assert!(!product.contains(&"coinbeat-sim"));
        assert!(!product.contains(&"probe-worker"));
        assert!(product.contains(&"catalogue-worker"));
        assert!(product.contains(&"stream-worker"));
        assert!(product.contains(&"rates-worker"));
        assert!(product.contains(&"alerts-worker"));
    }

    #[test]
    fn each_queue_worker_runs_its_own_queue() {
        let queues: Vec<_> = Component::all()
            .filter_map(|c| Some((c.name(), c.queue()?.to_string())))
            .collect();
        assert!(queues.contains(&("price-worker", "prices".to_owned())));
        assert!(queues.contains(&("catalogue-worker", "catalogue".to_owned())));
        assert!(queues.contains(&("alerts-worker", "alerts".to_owned())));
        assert!(queues.contains(&("probe-worker", "probe".to_owned())));
        assert_eq!(Component::Api.queue(), None);
        assert_eq!(Component::StreamWorker.queue(), None);
    }
}
