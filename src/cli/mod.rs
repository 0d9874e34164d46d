//! The command line (spec §10).

mod backup;
mod client;
mod demo;
mod export;
mod keygen;
mod prove;
mod serve;
mod submit;
mod token;
mod verify;
mod verify_proof;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use serve::ServeArgs;
pub use verify_proof::check_bundle;
pub use witness::WitnessArgs;

#[derive(Debug, Parser)]
#[command(name = "hwledger", version, about = "Hazardous-waste manifest ledger")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(Box<ServeArgs>),
    /// Create a new Ed25519 key file and print its public key.
    Keygen {
        /// Where to write the PKCS#8 PEM key (mode 0600); an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign events and submit them; prints the resulting entries.
    Submit(submit::SubmitArgs),
    /// Print a read token for the API, signed with one of the org's keys.
    Token(token::TokenArgs),
    /// Write every entry as JSON Lines, then a last line with the checkpoint.
    Export(export::ExportArgs),
    /// Check a whole ledger: signatures, chain, rules, derived state, tree root.
    Verify(verify::VerifyArgs),
    /// Write a bundle proving that one entry is in the ledger, for offline checking.
    Prove(prove::ProveArgs),
    /// Check a bundle written by `prove`: entry hash, event signature, checkpoint, inclusion.
    VerifyProof(verify_proof::VerifyProofArgs),
    /// Copy a ledger's database consistently while the service runs (SQLite: VACUUM INTO;
    /// PostgreSQL: pg_dump).
    Backup(backup::BackupArgs),
    /// Build the demo district (钟楼区) in a new ledger through its API, with a key file per
    /// organisation to sign in with.
    Demo(demo::DemoArgs),
    /// Run a witness server (spec §5a): cosign the checkpoints of the given logs, each once
    /// consistent with the last one cosigned, and keep the requests that prove a fork.
    Witness(Box<WitnessArgs>),
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

/// Runs a parsed command line; errors are printed once, here.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => runtime().block_on(serve::run(*args)),
        Command::Keygen { out } => keygen::run(&out),
        Command::Submit(args) => submit::run(args),
        Command::Token(args) => token::run(args),
        Command::Export(args) => runtime().block_on(export::run(args)),
        Command::Verify(args) => return runtime().block_on(verify::run(args)),
        Command::Prove(args) => runtime().block_on(prove::run(args)),
        Command::VerifyProof(args) => return verify_proof::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Backup(args) => runtime().block_on(backup::run(args)),
        Command::Witness(args) => runtime().block_on(witness::run(*args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
