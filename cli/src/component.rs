//! Every component of coinbeat, one closed set: the API, the scheduler, each worker and the
//! simulator. A component has one name: its binary, the image's link to `coinbeat`, its compose
//! service and Kubernetes Deployment, and what `coinbeat run` and `coinbeat up` call it.
//!
//! Everything that starts or deploys a component derives from [`Component::ALL`] and its one
//! [`Spec`] each: the image's `coinbeat` called by a component's name (`multicall`),
//! `coinbeat run`, `coinbeat up`, and the deployment checks (`cli/tests/deploy`). A queue
//! worker's spec comes from its [`Worker`] impl, so adding a queue is a worker module in
//! `workers/` and a line in [`components!`] below (ARCHITECTURE.md, "Add a queue and its
//! worker").

use std::{fmt, future::Future, pin::Pin, str::FromStr};

use anyhow::Context;
use coinbeat_shared::{Settings, jobs::Job, jobs::QueueName, ratelimit::Provider};
use coinbeat_workers::{
    Worker, boot, catalogue::CatalogueWorker, cleanup::CleanupWorker, health::HealthWorker,
    market::MarketWorker, prices::PriceWorker, probe::ProbeWorker, stream, wallet::WalletWorker,
};
use tokio_util::sync::CancellationToken;

/// A component's whole run, boxed so one table can hold every kind.
type Running = Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

/// What one component is: its name and help, what it consumes and calls, and how it runs.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub about: &'static str,
    /// The queue it executes, for a queue worker.
    pub queue: Option<fn() -> QueueName>,
    /// The upstreams it calls (their API keys are all it may be given).
    pub providers: &'static [Provider],
    /// Part of the product: `coinbeat up` runs it (not the simulator, not the diagnostic probe).
    pub product: bool,
    /// The process's `main` when the binary is called by the component's name: its own command
    /// line, settings, logs, then the component until a signal.
    main: fn() -> Running,
    /// The component in the foreground with `settings` until `stop` (`coinbeat run`).
    run: fn(Settings, CancellationToken) -> Running,
}

impl Spec {
    /// The spec of the queue worker `W`, from its [`Worker`] impl.
    fn worker<W: Worker>() -> Self {
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
            product: true,
            main: main::<W>,
            run: run::<W>,
        }
    }
}

macro_rules! components {
    ($($(#[$doc:meta])* $variant:ident => $spec:expr,)*) => {
        /// One of coinbeat's components (see the module's documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Component {
            $($(#[$doc])* $variant,)*
        }

        impl Component {
            /// Every component, in the order `coinbeat up` starts them.
            pub const ALL: &[Component] = &[$(Component::$variant,)*];

            /// What the component is and how it runs.
            pub fn spec(self) -> Spec {
                match self {
                    $(Component::$variant => $spec,)*
                }
            }
        }
    };
}

components! {
    /// The beat: enqueues each schedule entry's jobs on time.
    Scheduler => Spec {
        name: coinbeat_scheduler::boot::SERVICE.name,
        about: coinbeat_scheduler::boot::SERVICE.about,
        queue: None,
        providers: &[],
        product: true,
        main: || Box::pin(coinbeat_scheduler::boot::main()),
        run: |settings, stop| {
            Box::pin(async move {
                coinbeat_scheduler::run(settings, stop).await.context("scheduler")
            })
        },
    },
    PriceWorker => Spec::worker::<PriceWorker>(),
    MarketWorker => Spec::worker::<MarketWorker>(),
    WalletWorker => Spec::worker::<WalletWorker>(),
    HealthWorker => Spec::worker::<HealthWorker>(),
    CleanupWorker => Spec::worker::<CleanupWorker>(),
    CatalogueWorker => Spec::worker::<CatalogueWorker>(),
    /// Live prices from exchange streams (no queue).
    StreamWorker => Spec {
        name: stream::SERVICE.name,
        about: stream::SERVICE.about,
        queue: None,
        providers: &[],
        product: true,
        main: || Box::pin(stream::main()),
        run: |settings, stop| Box::pin(stream::run(settings, stop)),
    },
    /// The diagnostic `probe` queue (benchmarks and process tests); not started by `up`.
    ProbeWorker => Spec {
        product: false,
        ..Spec::worker::<ProbeWorker>()
    },
    /// The HTTP API.
    Api => Spec {
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
    /// The simulated upstream APIs (development and demos; `coinbeat up --simulate` runs one
    /// in-process instead).
    Sim => Spec {
        name: coinbeat_sim::cli::NAME,
        about: coinbeat_sim::cli::ABOUT,
        queue: None,
        providers: &[],
        product: false,
        main: || Box::pin(coinbeat_sim::cli::main()),
        run: |_settings, stop| {
            let config = coinbeat_sim::SimConfig::default();
            Box::pin(coinbeat_sim::cli::serve(config, async move { stop.cancelled().await }))
        },
    },
}

impl Component {
    /// Its one name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The queue it executes, for a queue worker.
    pub fn queue(self) -> Option<QueueName> {
        self.spec().queue.map(|queue| queue())
    }

    /// The components `coinbeat up` runs, in order.
    pub fn product() -> impl Iterator<Item = Component> {
        Self::ALL.iter().copied().filter(|c| c.spec().product)
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
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .ok_or_else(|| UnknownComponent {
                name: name.to_owned(),
                known: Self::ALL
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_component_has_a_distinct_name_that_parses_back() {
        let mut names = std::collections::BTreeSet::new();
        for &component in Component::ALL {
            assert!(names.insert(component.name()), "{component} named twice");
            assert_eq!(component.name().parse::<Component>(), Ok(component));
            assert!(!component.spec().about.is_empty(), "{component}");
        }
        let unknown = "prices-worker".parse::<Component>().unwrap_err();
        assert!(unknown.to_string().contains("price-worker"), "{unknown}");
    }

    #[test]
    fn up_runs_the_scheduler_first_the_api_last_and_neither_the_sim_nor_the_probe() {
        let product: Vec<_> = Component::product().collect();
        assert_eq!(product.first(), Some(&Component::Scheduler));
        assert_eq!(product.last(), Some(&Component::Api));
        assert!(!product.contains(&Component::Sim));
        assert!(!product.contains(&Component::ProbeWorker));
        assert!(product.contains(&Component::CatalogueWorker));
    }

    #[test]
    fn each_queue_worker_runs_its_own_queue() {
        let queues: Vec<_> = Component::ALL
            .iter()
            .filter_map(|c| Some((c.name(), c.queue()?.to_string())))
            .collect();
        assert!(queues.contains(&("price-worker", "prices".to_owned())));
        assert!(queues.contains(&("catalogue-worker", "catalogue".to_owned())));
        assert!(queues.contains(&("probe-worker", "probe".to_owned())));
        assert_eq!(Component::Api.queue(), None);
        assert_eq!(Component::StreamWorker.queue(), None);
    }
}
