#![forbid(unsafe_code)]
//! The `hwledger` command: parses arguments and hands over to `hwledger::cli`.

use clap::Parser;

/// The allocator of the `hwledger` process. Reading an event allocates and frees many small
/// values (its JSON, strings, the rules' keys); with the system allocator that bookkeeping was
/// about a quarter of the CPU time of `verify`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = hwledger::cli::Cli::parse();
    hwledger::cli::run(cli)
}
