//! `hwledger token`: a read token (spec §9) signed with one of the org's keys.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::protocol::{keys, token};

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// One of the org's signing keys (PKCS#8 PEM); a revoked key's tokens are refused.
    #[arg(long)]
    pub key: PathBuf,
    /// The org the token speaks for (its unified social credit code).
    #[arg(long)]
    pub org: String,
    /// The ledger's origin, as `GET /v1/ledger` shows it.
    #[arg(long)]
    pub origin: String,
    /// Seconds the token is valid, 1 to 600.
    #[arg(long, default_value_t = token::DEFAULT_LIFETIME_S,
          value_parser = clap::value_parser!(i64).range(1..=token::MAX_LIFETIME_S))]
    pub lifetime: i64,
}

pub fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let key = keys::load(&args.key)?;
    let now = chrono::Utc::now().timestamp();
    println!(
        "{}",
        token::mint(&key, &args.org, &args.origin, now, args.lifetime)
    );
    Ok(ExitCode::SUCCESS)
}
