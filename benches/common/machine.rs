//! What machine a benchmark ran on, for its report: cores, CPU model, memory, date and the
//! commit measured. Shared by the benches through `#[path]`.

/// The machine and the build a run measured.
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub mem_gib: f64,
    pub date: String,
    pub commit: String,
}

fn command(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Machine {
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v)
            })
            .unwrap_or("unknown CPU")
            .trim()
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let commit = match command("git", &["rev-parse", "--short", "HEAD"]) {
            Some(c) => {
                // Only changes to what is measured count: the library and its schema.
                let dirty = command("git", &["status", "--porcelain", "--", "src", "migrations"])
                    .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{c} + uncommitted changes under src/ or migrations/")
                } else {
                    c
                }
            }
            None => "unknown".into(),
        };
        Machine {
            cores: command("nproc", &[])
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(0, |n| n.get())),
            cpu,
            mem_gib: mem_kib / (1024.0 * 1024.0),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            commit,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "machine: {} cores (nproc), {}, {:.1} GiB RAM; date {}; commit {}",
            self.cores, self.cpu, self.mem_gib, self.date, self.commit
        )
    }
}
