//! Start-up snapshots: the domain state folded from the first `size` entries, kept in a file so
//! that a restart replays only the entries after it.
//!
//! A snapshot is a cache, never a source of truth. It is written in the background by the
//! writer every so many entries and when the service stops, and loaded at start-up only when
//! every check passes:
//!
//! * the file is whole: its magic, format and length are right and the SHA-256 of its body is
//!   the one its header states;
//! * it was written by this build of the rules (the digest of the domain and protocol source),
//!   so a changed rule is never applied on top of a state folded by the old one;
//! * its header is signed by this ledger's key, so it was written by this ledger's service;
//! * it describes this database: the entry at `size − 1` is stored with the hash the header
//!   names (and each entry's hash covers the one before it, back to the genesis), the stored
//!   tree nodes give the root the header names, and the database holds at least `size`
//!   entries.
//!
//! When any check fails the service logs why and replays every entry, as it would without a
//! snapshot. `verify` never reads a snapshot: it recomputes everything from the entries.
//!
//! The file: `HWLSNAP\0`, the header's length (u32, little endian), the header, the signature
//! (64 bytes) over `hwledger snapshot\n` followed by the header's bytes, then the body. Header
//! and body are `postcard` encodings of [`Header`] and [`State`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::state::State;
use crate::protocol::event::Hash;

const MAGIC: &[u8; 8] = b"HWLSNAP\0";
const SIGNING_CONTEXT: &[u8] = b"hwledger snapshot\n";
/// The layout of the file and of its header; the body's layout is covered by the rules digest.
pub const FORMAT: u32 = 1;
/// The digest of the source of the rules and the state, computed when the binary is built.
pub const RULES_DIGEST: &str = env!("HWLEDGER_RULES_DIGEST");

/// Where and how often snapshots are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotConfig {
    pub path: PathBuf,
    /// Write one when this many entries were appended since the last.
    pub every: u64,
}

/// What a snapshot covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub rules: String,
    pub ledger_key: [u8; 32],
    /// Entries covered: the state is the fold of entries `0 .. size`.
    pub size: u64,
    /// The hash of entry `size − 1`.
    pub head: Hash,
    /// The tree root at `size`.
    pub root: Hash,
    /// The `recorded_at` of entry `size − 1`.
    pub recorded_at: String,
    pub body_len: u64,
    pub body_sha256: Hash,
}

/// Why a snapshot was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    #[error("there is no snapshot at {0}")]
    Missing(String),
    #[error("the snapshot at {path} cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("the snapshot at {path} is damaged: {reason}")]
    Damaged { path: String, reason: String },
    #[error("the snapshot at {path} was written by another build of the rules (format {format}, rules {rules})")]
    OtherBuild {
        path: String,
        format: u32,
        rules: String,
    },
    #[error("the snapshot at {path} belongs to another ledger: {reason}")]
    Foreign { path: String, reason: String },
    #[error("the snapshot at {path} does not match the database: {reason}")]
    Mismatch { path: String, reason: String },
}

/// Writes `state` (the fold of `header.size` entries) to `path` atomically: a temporary file
/// beside it, flushed to disk, then renamed over the old snapshot. A crash mid-write leaves the
/// old snapshot, or none, and a stray temporary file the next write replaces.
pub fn write(
    path: &Path,
    key: &SigningKey,
    state: &State,
    size: u64,
    head: Hash,
    root: Hash,
    recorded_at: &str,
) -> anyhow::Result<u64> {
    write_body(path, key, &encode(state)?, size, head, root, recorded_at)
}

/// The body of a snapshot of `state`. The writer encodes its state between rounds, while it
/// holds it, and writes the bytes on another thread ([`write_body`]): the encoding is a fraction
/// of the state's size and is made in a fraction of the time a copy of the state would take.
pub fn encode(state: &State) -> anyhow::Result<Vec<u8>> {
    postcard::to_stdvec(state).context("cannot encode the state")
}

/// [`write`] of a body made by [`encode`].
pub fn write_body(
    path: &Path,
    key: &SigningKey,
    body: &[u8],
    size: u64,
    head: Hash,
    root: Hash,
    recorded_at: &str,
) -> anyhow::Result<u64> {
    let header = Header {
        format: FORMAT,
        rules: RULES_DIGEST.to_owned(),
        ledger_key: key.verifying_key().to_bytes(),
        size,
        head,
        root,
        recorded_at: recorded_at.to_owned(),
        body_len: body.len() as u64,
        body_sha256: Sha256::digest(body).into(),
    };
    let header_bytes = postcard::to_stdvec(&header).context("cannot encode the header")?;
    let sig = key.sign(&signed_bytes(&header_bytes));
    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(MAGIC)?;
        f.write_all(&(header_bytes.len() as u32).to_le_bytes())?;
        f.write_all(&header_bytes)?;
        f.write_all(&sig.to_bytes())?;
        f.write_all(body)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write the snapshot {}", path.display()));
    }
    Ok((MAGIC.len() + 4 + header_bytes.len() + 64 + body.len()) as u64)
}

/// The temporary file a snapshot is written to before it replaces `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn signed_bytes(header: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + header.len());
    m.extend_from_slice(SIGNING_CONTEXT);
    m.extend_from_slice(header);
    m
}

/// Reads and checks a snapshot on its own (whole, this build, this ledger's signature); the
/// caller then checks it against the database with [`Header`].
pub fn read(path: &Path, ledger_key: &VerifyingKey) -> Result<(Header, State), Unusable> {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Unusable::Missing(shown)),
        Err(e) => {
            return Err(Unusable::Unreadable {
                path: shown,
                reason: e.to_string(),
            })
        }
    };
    let damaged = |reason: &str| Unusable::Damaged {
        path: shown.clone(),
        reason: reason.to_owned(),
    };
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(damaged("it does not start with the snapshot magic"));
    }
    let mut at = MAGIC.len();
    let header_len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
    at += 4;
    if bytes.len() < at + header_len + 64 {
        return Err(damaged("it ends inside its header"));
    }
    let header_bytes = &bytes[at..at + header_len];
    at += header_len;
    let sig = Signature::from_bytes(bytes[at..at + 64].try_into().expect("64 bytes"));
    at += 64;
    let header: Header = match postcard::from_bytes(header_bytes) {
        Ok(h) => h,
        // A header this build cannot decode is another format's.
        Err(_) => {
            return Err(Unusable::OtherBuild {
                path: shown,
                format: 0,
                rules: "unknown".into(),
            })
        }
    };
    if header.format != FORMAT || header.rules != RULES_DIGEST {
        return Err(Unusable::OtherBuild {
            path: shown,
            format: header.format,
            rules: header.rules,
        });
    }
    if header.ledger_key != ledger_key.to_bytes() {
        return Err(Unusable::Foreign {
            path: shown,
            reason: format!(
                "it was written for ledger key {}, not {}",
                hex::encode(header.ledger_key),
                hex::encode(ledger_key.to_bytes())
            ),
        });
    }
    if ledger_key
        .verify_strict(&signed_bytes(header_bytes), &sig)
        .is_err()
    {
        return Err(damaged(
            "its header's signature does not verify with the ledger key",
        ));
    }
    let body = &bytes[at..];
    if body.len() as u64 != header.body_len {
        return Err(damaged(&format!(
            "its body is {} bytes, its header says {}",
            body.len(),
            header.body_len
        )));
    }
    if <[u8; 32]>::from(Sha256::digest(body)) != header.body_sha256 {
        return Err(damaged(
            "its body's SHA-256 is not the one its header states",
        ));
    }
    let state: State = postcard::from_bytes(body)
        .map_err(|e| damaged(&format!("its body does not decode: {e}")))?;
    if state.size != header.size || state.ledger_key != header.ledger_key {
        return Err(damaged("its state does not match its header"));
    }
    Ok((header, state))
}
