//! The machine a benchmark ran on: cores, memory, CPU model, and how busy it was at the start
//! (other work on a 2-core machine moves the figures).

/// What BENCHMARKS.md records about the machine.
#[derive(Debug, Clone)]
pub struct Machine {
    pub cores: usize,
    pub mem_total_mib: u64,
    pub cpu_model: String,
    /// The 1-minute load average when the bench started.
    pub load_1m: String,
}

impl Machine {
    pub fn detect() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_total_mib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
        let load_1m = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        Self {
            cores,
            mem_total_mib,
            cpu_model,
            load_1m,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} cores, {:.1} GiB, {} (load average at start: {})",
            self.cores,
            self.mem_total_mib as f64 / 1024.0,
            self.cpu_model,
            self.load_1m
        )
    }
}

/// Resident memory of a process from `/proc/<pid>/status`: (current, peak) in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// CPU time (user + system) a process has used so far, in microseconds.
pub fn cpu_micros(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ...; comm may contain spaces, so split after the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // After the comm: state is field 3 of the line, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 100 per second on every Linux this runs on (USER_HZ).
    Some((utime + stime) * 10_000)
}
