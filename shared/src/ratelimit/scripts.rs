//! The Lua scripts of the rate limiter, loaded once per process and run with EVALSHA.

use std::sync::LazyLock;

use redis::Script;

/// One acquisition attempt: push-back check, every window, grant and metrics in one step.
pub(crate) static ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/acquire.lua")));

/// Record an upstream's push-back: keep the later of the current and the new blocked-until.
pub(crate) static PUSH_BACK: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/push_back.lua")));

/// Read how much of each window is in use, and how many callers wait, without changing anything.
pub(crate) static USAGE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/usage.lua")));
