//! `hwledger keygen`.

use std::path::Path;
use std::process::ExitCode;

use crate::protocol::keys;

pub fn run(out: &Path) -> anyhow::Result<ExitCode> {
    let key = keys::create(out)?;
    println!("{}", keys::public_hex(&key));
    Ok(ExitCode::SUCCESS)
}
