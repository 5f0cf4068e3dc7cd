//! Upstream clients for tests. Every client takes its permits from its provider's limiter and
//! passes its breaker, both in Redis, so a test builds it on a private redis-server that lives
//! exactly as long as the client.

#![allow(dead_code)] // Each test binary uses a different part.

use std::ops::Deref;

use coinbeat_shared::{Settings, testing::TestRedis};
use coinbeat_workers::boot::WorkerEnv;

/// A client and the private Redis its limiter and breaker live in.
pub struct Gated<T> {
    pub client: T,
    pub env: WorkerEnv,
    pub redis: TestRedis,
}

impl<T> Deref for Gated<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.client
    }
}

/// Builds a client with `build` on a private Redis, after `tune` adjusted the settings.
pub async fn gated<T>(
    tune: impl FnOnce(&mut Settings),
    build: impl FnOnce(&WorkerEnv) -> T,
) -> Gated<T> {
    let redis = TestRedis::start();
    let mut settings = redis.settings();
    tune(&mut settings);
    let env = WorkerEnv::connect(settings).await.unwrap();
    Gated {
        client: build(&env),
        env,
        redis,
    }
}
