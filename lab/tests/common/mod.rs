//! What the lab's tests share: running `coinbeat-lab` in a folder of its own, and finding the
//! processes a run left behind.

#![allow(dead_code)] // Each test binary uses a different part.

use std::{ffi::OsStr, path::Path, process::Command};

/// Runs `coinbeat-lab <args>` with `dir` as its working folder and its `TMPDIR` (the run's
/// temporary folders, Redis socket and settings go there), fails on a non-zero exit, and returns
/// what it printed.
pub fn lab<I, S>(dir: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let output = Command::new(env!("CARGO_BIN_EXE_coinbeat-lab"))
        .args(&args)
        .env("TMPDIR", dir)
        .env("RUST_LOG", "error")
        .current_dir(dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "coinbeat-lab {args:?} failed: {}\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// Processes whose command line or environment mentions `dir` (a bench's or fault run's Redis
/// socket and its children's `REDIS_URL` live there).
pub fn processes_using(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() {
            continue;
        }
        for file in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(entry.path().join(file))
                && String::from_utf8_lossy(&bytes).contains(&needle)
            {
                found.push(name.clone());
            }
        }
    }
    found
}
