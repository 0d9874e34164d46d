//! `hwledger verify-proof FILE --ledger-key HEX`: checks a bundle written by `hwledger prove`
//! offline, with nothing but the ledger's public key: the entry's hash, the event's own
//! signature, the checkpoint's signature, and the entry's inclusion under the checkpoint's root.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ed25519_dalek::VerifyingKey;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::protocol::checkpoint::{self, Checkpoint};
use crate::protocol::cosignature::{self, Witness};
use crate::protocol::event::{self, parse_hex, EntryView, Hash};
use crate::protocol::merkle;

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// The bundle written by `hwledger prove`.
    pub file: PathBuf,
    /// The ledger's public key (64 hex characters), obtained out of band.
    #[arg(long)]
    pub ledger_key: String,
    /// A witness whose cosignature counts, as NAME=KEYHEX (its key name and Ed25519 public key),
    /// obtained out of band; repeatable.
    #[arg(long = "witness", value_parser = cosignature::parse_witness_arg)]
    pub witnesses: Vec<Witness>,
    /// How many distinct --witness must have cosigned the bundle's checkpoint.
    #[arg(long, default_value_t = 0)]
    pub quorum: usize,
}

/// The bundle as read: exactly these fields, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    entry: BundleEntry,
    size: u64,
    proof: Vec<String>,
    checkpoint: String,
}

/// An entry as `/v1/entries/{seq}` shows it; `hash` may be left out, and is checked when stated.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleEntry {
    seq: u64,
    prev: String,
    recorded_at: String,
    event: Box<RawValue>,
    key: String,
    sig: String,
    hash: Option<String>,
}

pub fn run(args: VerifyProofArgs) -> ExitCode {
    match check(&args) {
        Ok(summary) => {
            println!("ok: {summary}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            println!("FAILED: {failure}");
            ExitCode::from(1)
        }
    }
}

/// The arguments read: the ledger key parsed and the bundle file read, then checked.
fn check(args: &VerifyProofArgs) -> Result<String, String> {
    let ledger_key = parse_hex::<32>(&args.ledger_key)
        .and_then(|k| VerifyingKey::from_bytes(&k).ok())
        .ok_or("--ledger-key must be a public key of 64 lowercase hex characters")?;
    let bytes = std::fs::read(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(format!("bundle: {} is not UTF-8", args.file.display()));
    }
    cosignature::check_distinct(&args.witnesses).map_err(|e| format!("--witness: {e}"))?;
    if args.quorum > args.witnesses.len() {
        return Err(format!(
            "--quorum {} is more than the {} --witness given",
            args.quorum,
            args.witnesses.len()
        ));
    }
    check_witnessed_bundle(&bytes, &ledger_key, &args.witnesses, args.quorum)
}

/// [`check_bundle`], and then the checkpoint must carry valid cosignatures of at least `quorum`
/// distinct `witnesses` (§5a).
pub fn check_witnessed_bundle(
    bytes: &[u8],
    ledger_key: &VerifyingKey,
    witnesses: &[Witness],
    quorum: usize,
) -> Result<String, String> {
    let summary = check_bundle(bytes, ledger_key)?;
    if witnesses.is_empty() {
        return Ok(summary);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "bundle: not UTF-8".to_owned())?;
    let bundle: Bundle = serde_json::from_str(text).map_err(|e| format!("bundle: {e}"))?;
    let found = witness_quorum(&bundle.checkpoint, witnesses, quorum)?;
    Ok(format!("{summary}; {found}"))
}

/// Checks that `note` carries valid cosignatures of at least `quorum` distinct `witnesses`;
/// says which it carries.
pub fn witness_quorum(note: &str, witnesses: &[Witness], quorum: usize) -> Result<String, String> {
    let found = cosignature::cosigners(note, witnesses).map_err(|e| format!("checkpoint: {e}"))?;
    let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
    let list = if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    };
    if found.len() < quorum {
        return Err(format!(
            "witnesses: the checkpoint carries valid cosignatures of {} of the given witnesses ({list}), fewer than the quorum of {quorum}",
            found.len()
        ));
    }
    Ok(format!(
        "cosigned by {} of {} given witnesses ({list}), quorum {quorum}",
        found.len(),
        witnesses.len()
    ))
}

/// Checks the bytes of a bundle written by `hwledger prove` against the ledger's public key:
/// every check in turn; the first failure is the answer, named. On success, a one-line summary
/// of what was proved.
pub fn check_bundle(bytes: &[u8], ledger_key: &VerifyingKey) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "bundle: not UTF-8".to_owned())?;
    // serde_json refuses trailing data after the object, duplicated and unknown fields.
    let bundle: Bundle = serde_json::from_str(text).map_err(|e| format!("bundle: {e}"))?;

    let b = bundle.entry;
    let seq = b.seq;
    let stated = b.hash.clone();
    let (entry, _) = EntryView {
        seq: b.seq,
        prev: b.prev,
        recorded_at: b.recorded_at,
        event: b.event,
        key: b.key,
        sig: b.sig,
        hash: String::new(),
    }
    .into_entry()
    .map_err(|e| format!("entry {seq}: {e}"))?;

    // The entry hash, recomputed from its fields.
    let entry_hash = entry.hash();
    if let Some(stated) = stated {
        if stated != hex::encode(entry_hash) {
            return Err(format!(
                "entry hash: the bundle states {stated}, the entry's fields hash to {}",
                hex::encode(entry_hash)
            ));
        }
    }

    // The event's own signature, by the key the entry names.
    if !event::verify_one(&entry.key, &entry.sig, entry.event_jcs.as_bytes()) {
        return Err(format!(
            "event signature: the signature of entry {seq}'s event does not verify under key {}",
            hex::encode(entry.key)
        ));
    }

    // The checkpoint: its origin from the note itself, its signature by the ledger key.
    let origin = bundle.checkpoint.lines().next().unwrap_or_default();
    checkpoint::check_origin(origin)
        .map_err(|e| format!("checkpoint: its first line is not an origin: {e}"))?;
    let cp = Checkpoint::open(&bundle.checkpoint, origin, ledger_key)
        .map_err(|e| format!("checkpoint signature: {e}"))?;
    if cp.size != bundle.size {
        return Err(format!(
            "checkpoint: it is of size {}, the bundle's proof is for size {}",
            cp.size, bundle.size
        ));
    }

    // Inclusion under the checkpoint's root.
    let proof = bundle
        .proof
        .iter()
        .enumerate()
        .map(|(i, h)| {
            parse_hex::<32>(h).ok_or(format!(
                "inclusion: proof hash {i} is not 64 lowercase hex characters"
            ))
        })
        .collect::<Result<Vec<Hash>, String>>()?;
    merkle::verify_inclusion(
        seq,
        cp.size,
        &merkle::leaf_hash(&entry_hash),
        &proof,
        &cp.root,
    )
    .map_err(|e| {
        format!(
            "inclusion: entry {seq} is not proved in the tree of size {} of the checkpoint: {e}",
            cp.size
        )
    })?;

    let kind = entry.event()["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(format!(
        "entry {seq} ({kind}, hash {}) is in the tree of size {} with root {} of {origin}, whose checkpoint is signed by key ID {}",
        hex::encode(entry_hash),
        cp.size,
        hex::encode(cp.root),
        hex::encode(checkpoint::key_id(origin, ledger_key))
    ))
}
