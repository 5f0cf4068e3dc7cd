//! The queue layer: apalis-redis 1.0's storage layout and worker loop, with coinbeat's answer to
//! each of its defects (see ARCHITECTURE.md, "apalis-redis workarounds").
//!
//! - [`Producer`]: enqueue (single, bulk, delayed), backlog cap, memory high-water mark
//!   ([`MemoryReading`], read at most once a second), idempotency keys.
//! - [`WorkerRuntime`]: runs an apalis worker under a supervisor with unique names, explicit
//!   heartbeats, wake-on-enqueue, our own acks and retries, graceful stop.
//! - [`RuntimeMetrics`]: what the runtime counts (tasks by outcome, run time, in flight,
//!   retries, running), for the process's `/metrics`.
//! - [`JobError`]: how a handler says "retry" or "never retry"; [`stoppable::sleep`]: a wait a
//!   job can be stopped in when its worker shuts down (its task goes back to the queue at once).
//! - [`QueueStats`], [`TaskInfo`] and [`queue_history`]: what operators ask about queues and
//!   tasks, and what each queue finished per minute and per hour; [`list_tasks`] and
//!   [`search_queue`]: a queue's tasks by state, or those whose arguments or error say
//!   something.
//! - [`prune_finished`]: retention for finished task records (also enforced continuously, a
//!   bounded step at each ack and each promoter tick); [`sweep_dead_workers`]: what dead workers
//!   left in the registry.
//! - [`list_dead`] and friends (`dead`): dead letters listed, shown, retried or purged;
//!   [`purge_waiting`]: a queue's waiting tasks deleted; [`pause_queue`] and
//!   [`resume_queue`]: no replica fetches from a paused queue; [`list_workers`]: who runs a queue.
//! - [`CallerTasks`]: the tasks each API caller has waiting or running, for its cap.
//! - [`QueueRedis`]: which Redis (or Redis Cluster, [`QueueConn`]) each queue lives on.

mod backend;
mod browse;
mod caller_tasks;
mod conn;
mod dead;
mod error;
mod history;
mod job_error;
mod lookup;
mod memory;
mod metrics;
mod migrate;
mod pause;
mod producer;
mod prune;
mod purge;
mod routes;
mod runtime;
mod scripts;
mod search;
mod stats;
pub mod stoppable;
mod store;
mod sweep;
mod task_id;
mod waiting_task;
mod wake;
mod workers;

pub use browse::{MAX_TASK_PAGE, TaskPage, TaskState, TaskSummary, UnknownTaskState, list_tasks};
pub use caller_tasks::{Admission, CallerTasks};
pub use conn::{QueueConn, RedisConn, cluster_nodes, is_cluster_url};
pub use dead::{
    DeadError, DeadPage, DeadTask, MAX_DEAD_PAGE, RetryReport, dead_task, list_dead,
    purge_all_dead, purge_dead, retry_all_dead, retry_dead,
};
pub use error::QueueError;
pub use history::{Bucket, Resolution, queue_history};
pub use job_error::{JobError, JobResult};
pub use lookup::{TaskInfo, TaskStatus, find_task, lookup_task};
pub use memory::MemoryReading;
pub use metrics::{Outcome, RuntimeMetrics};
pub use migrate::migrate_layout;
pub use pause::{PauseChange, pause_queue, resume_queue};
pub use producer::{EnqueueOptions, Producer};
pub use prune::prune_finished;
pub use purge::{PurgeReport, purge_waiting};
pub use routes::QueueRedis;
pub use runtime::{JobContext, RuntimeError, WorkerRuntime, replica_name, worker_name};
pub use search::{STEP as SEARCH_STEP, SearchResult, TaskSearch, search_queue};
pub use stats::{QueueStats, queue_stats};
pub use sweep::sweep_dead_workers;
pub use task_id::{TaskId, TaskIdError};
pub use waiting_task::{WaitingError, WaitingPlace, delete_waiting, run_waiting_now};
pub use workers::{WorkerInfo, list_workers};

/// Milliseconds since the Unix epoch, the time unit of every coinbeat queue score.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
