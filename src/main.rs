#![forbid(unsafe_code)]
//! The `hwledger` command: parses arguments and hands over to `hwledger::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = hwledger::cli::Cli::parse();
    hwledger::cli::run(cli)
}
