//! What the lab's tests share: finding the processes a run left behind.

use std::path::Path;

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
