//! A worker binary as a real process, for the tests that need processes: its log goes to a file
//! the test can read, and it is killed (SIGKILL) when dropped, so a failing test leaves nothing
//! behind.

#![allow(dead_code)] // Each test binary uses a different part.

use std::{
    fs::File,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use coinbeat_shared::Settings;

pub struct WorkerProcess {
    pub child: Child,
    log: PathBuf,
    dir: PathBuf,
}

impl WorkerProcess {
    /// Starts `binary` (a `CARGO_BIN_EXE_*` path) against the Redis of `settings`, with `env` on
    /// top; no settings file.
    pub fn spawn(binary: &str, settings: &Settings, env: &[(&str, String)]) -> Self {
        Self::spawn_command(Command::new(binary), binary, settings, env)
    }

    /// [`spawn`](Self::spawn) with the process's clock `offset` off the real one (`"+60s"`,
    /// `"-60s"`), through Debian's libfaketime preloaded into the process itself (the `faketime`
    /// wrapper would stand between the test and the worker's pid). The monotonic clock is left
    /// alone, as a skewed host's would be.
    pub fn spawn_skewed(
        binary: &str,
        offset: &str,
        settings: &Settings,
        env: &[(&str, String)],
    ) -> Self {
        const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
        assert!(
            std::path::Path::new(LIBFAKETIME).exists(),
            "{LIBFAKETIME} is missing: sudo apt-get install -y faketime"
        );
        let mut command = Command::new(binary);
        command
            .env("LD_PRELOAD", LIBFAKETIME)
            .env("FAKETIME", offset)
            .env("DONT_FAKE_MONOTONIC", "1");
        Self::spawn_command(command, binary, settings, env)
    }

    fn spawn_command(
        mut command: Command,
        binary: &str,
        settings: &Settings,
        env: &[(&str, String)],
    ) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "coinbeat-worker-{}",
            coinbeat_shared::testing::unique_prefix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("worker.log");
        let child = command
            .env_remove("COINBEAT_CONFIG")
            .env("REDIS_URL", settings.redis.url.expose())
            .env("COINBEAT_REDIS__KEY_PREFIX", &settings.redis.key_prefix)
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        Self { child, log, dir }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
