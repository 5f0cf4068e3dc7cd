//! Price alerts: a caller's condition on a coin's USD price, and a webhook told when a price
//! update crosses it.
//!
//! - [`alert`]: the alert and its condition (`above`, `below`, a percentage `move` within a
//!   window), parsed at the edge.
//! - [`target`]: the webhook URL, and the deny list of internal addresses it is checked
//!   against at creation and at every delivery.
//! - [`store`]: alerts in Redis, indexed by coin and kind, bounded per owner.
//! - [`move_log`]: the price moves of coins with alerts, logged by the price write itself and
//!   read by the alerts-workers, acknowledged only once evaluated: no move is lost.
//! - [`evaluate`]: the crossings of each move, held back within an alert's cooldown, enqueued
//!   once per trigger on the `alerts` queue.
//! - [`signature`]: the HMAC-SHA256 signature of each delivery.
//!
//! The `alerts-worker` (`workers/src/alerts.rs`) evaluates the moves and delivers; the API
//! (`/v1/alerts`) creates, lists and deletes.

pub mod alert;
pub mod evaluate;
pub mod move_log;
pub mod signature;
pub mod store;
pub mod target;

pub use alert::{AlertId, AlertIdError, Condition, ConditionError, Direction, StoredAlert};
pub use evaluate::{AlertWatch, Crossing, EvaluateError, Fired, PriceMove};
pub use move_log::{LoggedMove, MoveLog};
pub use store::{AlertStore, StoreError};
pub use target::{TargetError, WebhookUrl};
