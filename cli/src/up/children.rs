//! The child processes of `coinbeat up`: each one is `coinbeat run <component>`, its output
//! prefixed with its name, its standard input held open by us so it stops when we close it
//! (or when we die, even by SIGKILL).

use std::{
    process::{ExitStatus, Stdio},
    time::Duration,
};

use crate::component::Component;
use anyhow::Context;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, ChildStdin, Command},
};

/// One running component.
#[derive(Debug)]
pub struct ChildProcess {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ChildProcess {
    /// Starts `coinbeat run <component>` with `env` added to our environment.
    pub fn spawn(component: Component, env: &[(String, String)]) -> anyhow::Result<Self> {
        let name = component.name();
        let exe = std::env::current_exe().context("locating the coinbeat executable")?;
        let mut child = Command::new(exe)
            .args(["run", name, "--stop-on-stdin-eof"])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Stopped by us (stdin closed), in order, not by the terminal's Ctrl-C directly.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        // Every component's lines line up behind the longest name.
        let width = Component::all().map(|c| c.name().len()).max().unwrap_or(0);
        if let Some(out) = child.stdout.take() {
            forward(out, format!("{name:>width$} |"));
        }
        if let Some(err) = child.stderr.take() {
            forward(err, format!("{name:>width$} |"));
        }
        let stdin = child.stdin.take();
        Ok(Self {
            name: name.to_owned(),
            child,
            stdin,
        })
    }

    /// The operating system's id of the process, while it runs (`coinbeat bench` reads its
    /// memory and CPU time from `/proc`).
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process has exited (without waiting).
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the process to exit by itself.
    pub async fn exited(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Asks the process to stop (closes its standard input), waits up to `grace`, then kills it.
    pub async fn stop(mut self, grace: Duration) -> Option<ExitStatus> {
        drop(self.stdin.take());
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                eprintln!("{} did not stop within {grace:?}; killing it", self.name);
                let _ = self.child.kill().await;
                None
            }
        }
    }
}

/// Copies each line of `stream` to our standard output behind `prefix`.
fn forward(stream: impl AsyncRead + Unpin + Send + 'static, prefix: String) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            println!("{prefix} {line}");
        }
    });
}

/// Resolves with the index and status of the first child that exits.
pub async fn first_exit(children: &mut [ChildProcess]) -> (usize, std::io::Result<ExitStatus>) {
    if children.is_empty() {
        return std::future::pending().await;
    }
    let waits = children.iter_mut().map(|c| Box::pin(c.exited()));
    let (status, index, _) = futures::future::select_all(waits).await;
    (index, status)
}
