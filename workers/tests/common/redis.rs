//! A test's own connection to the private Redis of its settings: the connection, the key
//! builder of its prefix and, for the suites that enqueue, a producer on it
//! (`coinbeat_shared::testing`'s, which the shared suites use too).

#![allow(dead_code)] // Each test binary uses a different part.

#[allow(unused_imports)] // Each test binary uses a different part.
pub use coinbeat_shared::testing::{connect, producer};
