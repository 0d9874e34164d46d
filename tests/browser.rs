//! The web console in a real browser: runs the node tests under `tests/browser/` (node's own
//! test runner, headless Chromium driven by playwright-core from `web/node_modules`) against
//! this build's `hwledger`. Each node test file starts its own `hwledger serve` in a temporary
//! folder and stops it at the end. Screenshots of the main pages go to
//! `target/browser-screenshots/`.
//!
//! Without node, Chromium or `web/node_modules` the test says what is missing and how to
//! install it, and passes; with `CI=true` it fails instead, so CI never skips it silently.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The oldest node whose test runner has every flag used here (`--test-concurrency`,
/// `--test-timeout`), and which playwright-core supports.
const NODE_MIN: (u32, u32) = (20, 11);

const INSTALL: &str = "to run them: apt-get install chromium fonts-noto-cjk nodejs npm \
                       && npm ci --prefix web";

fn chromium() -> PathBuf {
    std::env::var_os("HWLEDGER_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// What stops the browser tests from running here, if anything.
fn missing(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let mut parts = text
                .trim_start_matches('v')
                .split('.')
                .map(|p| p.parse::<u32>().unwrap_or(0));
            let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
            if version < NODE_MIN {
                missing.push(format!(
                    "node {text} is too old (need {}.{} or newer)",
                    NODE_MIN.0, NODE_MIN.1
                ));
            }
        }
        _ => missing.push("node is not installed".into()),
    }
    let browser = chromium();
    if !browser.exists() {
        missing.push(format!(
            "Chromium is not at {} (set HWLEDGER_CHROMIUM to use another)",
            browser.display()
        ));
    }
    if !root
        .join("web/node_modules/playwright-core/package.json")
        .exists()
    {
        missing.push("web/node_modules has no playwright-core".into());
    }
    missing
}

/// Written past the test harness's capture, so that a skip is seen even when the test passes.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[test]
fn console_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing = missing(root);
    if !missing.is_empty() {
        let message = format!(
            "the browser tests cannot run: {}\n{INSTALL}",
            missing.join("; ")
        );
        assert!(!ci, "{message}\n(CI=true: the browser tests are required)");
        say(&format!("SKIPPED: {message}"));
        return;
    }

    let dir = root.join("tests/browser");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/browser is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());

    let shots = root.join("target/browser-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).expect("the screenshots folder can be made");

    let started = Instant::now();
    let out = Command::new("node")
        .args([
            "--test",
            "--test-reporter=spec",
            // Each file runs a service and a browser; one at a time keeps a small machine
            // responsive and the timings honest.
            "--test-concurrency=1",
            "--test-timeout=240000",
        ])
        .args(&files)
        .current_dir(root)
        .env("HWLEDGER_BIN", env!("CARGO_BIN_EXE_hwledger"))
        .env("HWLEDGER_CHROMIUM", chromium())
        .env("HWLEDGER_SCREENSHOTS", &shots)
        .env_remove("HWLEDGER_WEB_DIR")
        .output()
        .expect("node runs");
    let elapsed = started.elapsed().as_secs_f64();
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{report}");
    assert!(
        out.status.success(),
        "the browser tests failed ({elapsed:.1} s):\n{report}"
    );
    let count = |key: &str| {
        report
            .lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("ℹ {key} ")))
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .next_back()
            .unwrap_or(0)
    };
    assert!(
        count("pass") > 0,
        "the browser tests ran no test:\n{report}"
    );
    say(&format!(
        "browser tests: {} passed in {elapsed:.1} s; screenshots in {}",
        count("pass"),
        shots.display()
    ));
}
