//! Running the `hwledger` binary in the command-line tests: one-shot commands, and `serve` as
//! a child process stopped with SIGTERM.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `hwledger ARGS…` in `dir` to completion.
pub fn hwledger(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("hwledger runs")
}

/// Standard output, then standard error.
pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `hwledger serve` in `dir` and waits until it answers.
pub fn serve(dir: &Path, db: Option<&str>, port: u16) -> Child {
    serve_with(dir, db, port, &[], None)
}

/// Like [`serve`], with more flags, and its output (the log) written to `log` when given.
pub fn serve_with(
    dir: &Path,
    db: Option<&str>,
    port: u16,
    extra: &[&str],
    log: Option<&Path>,
) -> Child {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", &listen];
    if let Some(db) = db {
        args.extend(["--db", db]);
    }
    args.extend(extra);
    let output = || match log {
        Some(path) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("the log file opens"),
        ),
        None => Stdio::null(),
    };
    let child = Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .current_dir(dir)
        .args(&args)
        .env_remove("NO_COLOR")
        .stdout(output())
        .stderr(output())
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("http://{listen}/healthz"))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "the service did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Sends SIGTERM and waits (at most 30 s) for the process to exit.
pub fn sigterm(mut child: Child) -> ExitStatus {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
