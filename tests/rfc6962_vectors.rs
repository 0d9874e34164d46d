//! Proof verification checked against the transparency-dev/merkle test
//! vectors: happy paths and adversarial cases (bit flips, truncated or padded
//! proofs, swapped roots, wrong sizes).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hwledger::protocol::merkle::{verify_consistency, verify_inclusion, Hash};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Every case in the vectors; counted so that a missing folder cannot pass.
const CASES: usize = 196;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Inclusion {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Consistency {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

/// A hash the verifier is handed as such: anything that is not 32 bytes of
/// padded base64 is refused before verification, as a client decoding a proof
/// would.
fn hash(b64: &str) -> Option<Hash> {
    BASE64.decode(b64).ok()?.try_into().ok()
}

/// A root as the reference implementation treats it, an opaque byte string
/// that is compared, never decoded into a hash. A malformed one is mapped to
/// a 32-byte stand-in that equals only the stand-in of the same bytes, so
/// that, for instance, two equal 12-byte roots still match when the sizes
/// are equal.
fn root(b64: &str) -> Hash {
    hash(b64).unwrap_or_else(|| {
        Sha256::new()
            .chain_update(b"malformed root\0")
            .chain_update(b64.as_bytes())
            .finalize()
            .into()
    })
}

fn proof(items: Option<&[String]>) -> Option<Vec<Hash>> {
    items.unwrap_or_default().iter().map(|p| hash(p)).collect()
}

fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a case expects and what verification said.
struct Outcome {
    verified: bool,
    want_err: bool,
    desc: String,
}

fn run_inclusion(path: &Path) -> Outcome {
    let case: Inclusion = read(path);
    let verified = match (hash(&case.leaf_hash), proof(case.proof.as_deref())) {
        (Some(leaf), Some(proof)) => verify_inclusion(
            case.leaf_idx,
            case.tree_size,
            &leaf,
            &proof,
            &root(&case.root),
        )
        .is_ok(),
        _ => false,
    };
    Outcome {
        verified,
        want_err: case.want_err,
        desc: case.desc,
    }
}

fn run_consistency(path: &Path) -> Outcome {
    let case: Consistency = read(path);
    let verified = match proof(case.proof.as_deref()) {
        Some(proof) => verify_consistency(
            case.size1,
            case.size2,
            &root(&case.root1),
            &root(&case.root2),
            &proof,
        )
        .is_ok(),
        None => false,
    };
    Outcome {
        verified,
        want_err: case.want_err,
        desc: case.desc,
    }
}

#[test]
fn proofs_verify_as_the_vectors_expect() {
    let dir = common::vectors::shared_data().join("rfc6962-vectors");
    let inclusion = cases(&dir.join("inclusion"));
    let consistency = cases(&dir.join("consistency"));
    let outcomes: Vec<(&PathBuf, Outcome)> = (inclusion.iter())
        .map(|path| (path, run_inclusion(path)))
        .chain(consistency.iter().map(|path| (path, run_consistency(path))))
        .collect();

    let failures: Vec<String> = outcomes
        .iter()
        .filter(|(_, outcome)| outcome.verified == outcome.want_err)
        .map(|(path, outcome)| {
            format!(
                "{} ({}): verified = {}",
                path.display(),
                outcome.desc,
                outcome.verified
            )
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        outcomes.len(),
        CASES,
        "expected {CASES} cases under {}",
        dir.display()
    );
}
