//! `hwledger prove --seq N`: a self-contained bundle proving that entry N is in the ledger, for
//! anyone to check offline with `hwledger verify-proof`: the entry, the inclusion proof for the
//! tree of the checkpoint's size, and that checkpoint.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, ensure, Context};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client;
use crate::protocol::checkpoint::Checkpoint;
use crate::protocol::event::{parse_hex, EntryView, Hash};
use crate::protocol::{keys, merkle};
use crate::store::{DbUrl, Store};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["db", "url"])))]
pub struct ProveArgs {
    /// The entry to prove.
    #[arg(long)]
    pub seq: u64,
    /// Read from a database (sqlite://… or postgres://…); the checkpoint is signed with --ledger-key.
    #[arg(long)]
    pub db: Option<String>,
    /// Read from a running service, as the org --org with its key --key: a regulator, or a
    /// party of the entry (its signer, or a party of the manifest or ticket it concerns).
    #[arg(long, requires_all = ["key", "org"])]
    pub url: Option<String>,
    /// With --url: a signing key (PKCS#8 PEM) of --org, to sign read tokens.
    #[arg(long, requires = "url")]
    pub key: Option<PathBuf>,
    /// With --url: the org reading.
    #[arg(long, requires = "url")]
    pub org: Option<String>,
    /// The ledger's key file, to sign the checkpoint when proving from a database.
    #[arg(long, default_value = "hwledger-keys/ledger.pem")]
    pub ledger_key: PathBuf,
}

/// The bundle: the entry as `/v1/entries/{seq}` shows it, the tree size, the inclusion proof
/// for that size, and the signed checkpoint of that size.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub entry: EntryView,
    pub size: u64,
    pub proof: Vec<String>,
    pub checkpoint: String,
}

pub async fn run(args: ProveArgs) -> anyhow::Result<ExitCode> {
    let bundle = match &args.db {
        Some(db) => from_db(db, &args).await?,
        None => {
            let (Some(url), Some(key), Some(org)) = (&args.url, &args.key, &args.org) else {
                bail!("--url needs --key and --org");
            };
            let mut reader = client::Reader::connect(url, key, org)?;
            from_service(&mut reader, args.seq)?
        }
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &bundle)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn from_db(db: &str, args: &ProveArgs) -> anyhow::Result<Bundle> {
    let key = keys::load(&args.ledger_key)?;
    let store = Store::connect(&DbUrl::new(db.to_owned())).await?;
    let result = async {
        let head = store.head().await?;
        if args.seq >= head.size {
            bail!(
                "entry {} is not in the ledger: it holds {} entries",
                args.seq,
                head.size
            );
        }
        let genesis = store.entry(0).await?.context("the ledger is empty")?;
        let event = genesis.event();
        if event["body"]["ledger_key"] != Value::String(keys::public_hex(&key)) {
            bail!("{} is not this ledger's key", args.ledger_key.display());
        }
        let origin = event["body"]["origin"]
            .as_str()
            .context("the genesis has no origin")?
            .to_owned();
        let entry = store
            .entry(args.seq)
            .await?
            .with_context(|| format!("entry {} is missing", args.seq))?;
        let ids: Vec<_> = merkle::inclusion_nodes(args.seq, head.size)?
            .into_iter()
            .chain(merkle::root_nodes(head.size))
            .collect();
        let nodes = store.tree_nodes(&ids).await?;
        let get = |id| nodes.get(&id).copied();
        let proof = merkle::inclusion_proof(args.seq, head.size, get)?;
        let root = merkle::root_from(head.size, get)?;
        ensure!(
            root == head.root,
            "the stored tree nodes do not give the stored root of size {}",
            head.size
        );
        let checkpoint = Checkpoint {
            origin,
            size: head.size,
            root,
        }
        .sign(&key);
        Ok(Bundle {
            entry: entry.view(),
            size: head.size,
            proof: proof.into_iter().map(hex::encode).collect(),
            checkpoint,
        })
    }
    .await;
    store.close().await;
    result
}

fn from_service(remote: &mut client::Reader, seq: u64) -> anyhow::Result<Bundle> {
    // The cosigned checkpoint (§5a): the largest size the witness policy's quorum has
    // cosigned, with the witnesses' lines, so that the bundle proves inclusion in a tree that
    // no split view can hide. Without a policy it is the latest checkpoint.
    let checkpoint = remote.get("/v1/tlog/checkpoint")?;
    // The note is not opened here (that needs the ledger key, which the auditor holds); its
    // size and root are read to ask for the matching proof and to refuse a bundle that cannot
    // verify.
    let (size, root) = note_size_and_root(&checkpoint)?;
    if seq >= size {
        let (latest, _) = note_size_and_root(&remote.get("/v1/checkpoint")?)?;
        if seq >= latest {
            bail!("entry {seq} is not in the service's ledger of {latest} entries");
        }
        bail!(
            "entry {seq} is not yet witnessed: the service's cosigned checkpoint covers {size} entries; try again once the witnesses have cosigned a later one"
        );
    }
    let entry: EntryView = serde_json::from_str(&remote.get(&format!("/v1/entries/{seq}"))?)
        .context("the service's entry is not an entry")?;
    #[derive(Deserialize)]
    struct Inclusion {
        seq: u64,
        size: u64,
        leaf: String,
        root: String,
        proof: Vec<String>,
    }
    let p: Inclusion =
        serde_json::from_str(&remote.get(&format!("/v1/proofs/inclusion?seq={seq}&size={size}"))?)
            .context("the service's inclusion proof is malformed")?;
    ensure!(
        p.seq == seq && p.size == size,
        "the service proved entry {} in size {} instead of {seq} in {size}",
        p.seq,
        p.size
    );
    ensure!(
        p.root == hex::encode(root),
        "the service's proof is for another root than its checkpoint's"
    );
    let (e, _) = entry
        .clone()
        .into_entry()
        .map_err(|e| anyhow::anyhow!("the service's entry {seq}: {e}"))?;
    ensure!(
        p.leaf == hex::encode(e.hash()),
        "the service's proof is for another entry"
    );
    let proof = p
        .proof
        .iter()
        .map(|h| parse_hex::<32>(h).context("a proof hash is not 64 hex characters"))
        .collect::<anyhow::Result<Vec<Hash>>>()?;
    merkle::verify_inclusion(seq, size, &merkle::leaf_hash(&e.hash()), &proof, &root)
        .context("the service's inclusion proof does not verify")?;
    Ok(Bundle {
        entry,
        size,
        proof: p.proof,
        checkpoint,
    })
}

/// The size and root lines of a checkpoint note, without checking its signature.
fn note_size_and_root(note: &str) -> anyhow::Result<(u64, Hash)> {
    use base64::Engine;
    let mut lines = note.lines().skip(1);
    let size = lines
        .next()
        .and_then(|l| l.parse().ok())
        .context("the checkpoint has no size line")?;
    let root = lines
        .next()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .and_then(|b| Hash::try_from(b).ok())
        .context("the checkpoint has no root line")?;
    Ok((size, root))
}
