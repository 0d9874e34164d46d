//! `hwledger export`: every entry as a JSON line, then `{"checkpoint": …}` for exactly those
//! entries, so that the file can be verified offline with `hwledger verify --file`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};

use super::client;
use crate::protocol::checkpoint::Checkpoint;
use crate::protocol::keys;
use crate::store::{DbUrl, Store};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["db", "url"])))]
pub struct ExportArgs {
    /// Read from a database (sqlite://… or postgres://…); the checkpoint is signed with --ledger-key.
    #[arg(long)]
    pub db: Option<String>,
    /// Read from a running service, as the org --org with its key --key (a regulator's: the
    /// entries are for regulators).
    #[arg(long, requires_all = ["key", "org"])]
    pub url: Option<String>,
    /// With --url: a signing key (PKCS#8 PEM) of --org, to sign read tokens.
    #[arg(long, requires = "url")]
    pub key: Option<PathBuf>,
    /// With --url: the org reading.
    #[arg(long, requires = "url")]
    pub org: Option<String>,
    /// The ledger's key file, to sign the checkpoint of a database export.
    #[arg(long, default_value = "hwledger-keys/ledger.pem")]
    pub ledger_key: PathBuf,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(db) = &args.db {
        let key = keys::load(&args.ledger_key)?;
        let store = Store::connect(&DbUrl::new(db.clone())).await?;
        // The head first: entries appended while exporting are left for the next export.
        let head = store.head().await?;
        let genesis = store.entry(0).await?.context("the ledger is empty")?;
        let origin = genesis.event()["body"]["origin"]
            .as_str()
            .context("the genesis has no origin")?
            .to_owned();
        if genesis.event()["body"]["ledger_key"] != Value::String(keys::public_hex(&key)) {
            bail!("{} is not this ledger's key", args.ledger_key.display());
        }
        let mut from = 0;
        while from < head.size {
            let chunk = store.entries(from, (head.size - from).min(5000)).await?;
            if chunk.is_empty() {
                bail!(
                    "entries end at {from}, before the head's size {}",
                    head.size
                );
            }
            for e in &chunk {
                serde_json::to_writer(&mut out, &e.view())?;
                out.write_all(b"\n")?;
            }
            from += chunk.len() as u64;
        }
        let note = Checkpoint {
            origin,
            size: head.size,
            root: head.root,
        }
        .sign(&key);
        serde_json::to_writer(&mut out, &json!({ "checkpoint": note }))?;
        out.write_all(b"\n")?;
        store.close().await;
    } else {
        let base = args.url.expect("clap requires a source");
        let mut reader = client::Reader::connect(
            &base,
            &args.key.expect("clap requires --key with --url"),
            &args.org.expect("clap requires --org with --url"),
        )?;
        let note = client::get(&base, "/v1/checkpoint", None)?;
        let size: u64 = note
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .context("the service's checkpoint has no size")?;
        let mut from = 0;
        while from < size {
            let limit = (size - from).min(1000);
            let page: Value = serde_json::from_str(
                &reader.get(&format!("/v1/entries?from={from}&limit={limit}"))?,
            )?;
            let entries = page["entries"]
                .as_array()
                .context("no entries in the page")?;
            if entries.is_empty() {
                bail!("the service has no entry {from}");
            }
            for e in entries {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")?;
            }
            from += entries.len() as u64;
        }
        serde_json::to_writer(&mut out, &json!({ "checkpoint": note }))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
