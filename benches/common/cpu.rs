//! CPU accounting from /proc, to see who is busy during a phase without a profiler: this
//! process (the service and the client threads), PostgreSQL's processes, the whole machine.
//! Shared by the benches through `#[path]`.

use std::time::Duration;

/// Clock ticks per second of /proc's CPU times.
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime, in ticks, of a /proc/…/stat file.
pub fn stat_ticks(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Ticks of every process whose command name is `postgres`.
pub fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| {
            let p = e.path();
            let comm = std::fs::read_to_string(p.join("comm")).ok()?;
            (comm.trim() == "postgres")
                .then(|| stat_ticks(&p.join("stat").to_string_lossy()))
                .flatten()
        })
        .sum()
}

/// (busy, total) ticks of the whole machine, from /proc/stat.
pub fn machine_ticks() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let nums: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|s| s.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy is what ran here, not idle, iowait
    // or time stolen by the hypervisor.
    let at = |i: usize| nums.get(i).copied().unwrap_or(0);
    let total: u64 = nums.iter().take(8).sum();
    (at(0) + at(1) + at(2) + at(5) + at(6), total)
}

#[derive(Clone, Copy)]
pub struct CpuMark {
    pub process: u64,
    pub postgres: u64,
    pub machine: (u64, u64),
}

impl CpuMark {
    pub fn now() -> CpuMark {
        CpuMark {
            process: stat_ticks("/proc/self/stat").unwrap_or(0),
            postgres: postgres_ticks(),
            machine: machine_ticks(),
        }
    }
}

/// Where the CPU went during a phase, in cores (CPU seconds per wall second).
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// The bench process minus its client threads: the service.
    pub server: f64,
    pub clients: f64,
    pub postgres: f64,
    /// All busy CPU of the machine, and the number of cores.
    pub machine: f64,
    pub cores: f64,
}

pub fn cpu_use(
    before: CpuMark,
    after: CpuMark,
    client_ticks: u64,
    wall: Duration,
    tck: f64,
) -> CpuUse {
    let w = wall.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (busy0, total0) = before.machine;
    let (busy1, total1) = after.machine;
    let machine_share = (busy1 - busy0) as f64 / (total1 - total0).max(1) as f64;
    let process = (after.process - before.process) as f64 / tck / w;
    let clients = client_ticks as f64 / tck / w;
    CpuUse {
        server: (process - clients).max(0.0),
        clients,
        postgres: (after.postgres.saturating_sub(before.postgres)) as f64 / tck / w,
        machine: machine_share * cores,
        cores,
    }
}

impl CpuUse {
    pub fn describe(&self) -> String {
        format!(
            "CPU (cores busy): service {:.2}, clients {:.2}, postgres {:.2}; whole machine {:.2} of {:.0}",
            self.server, self.clients, self.postgres, self.machine, self.cores
        )
    }
}
