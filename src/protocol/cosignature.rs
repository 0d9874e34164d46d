//! Witness cosignatures (C2SP tlog-cosignature, Ed25519 `cosignature/v1`) and the body of a
//! tlog-witness `add-checkpoint` request (spec §5a).
//!
//! A witness signs `cosignature/v1` LF `time <t>` LF followed by the checkpoint text, and
//! writes the signature as a signed-note line `— <name> <base64(key ID ‖ timestamp ‖
//! signature)>`, its key ID derived with the signature type 0x04.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::checkpoint::{self, CheckpointError, SIGNATURE_PREFIX};
use super::merkle::Hash;

/// The signed-note signature type of Ed25519 cosignatures.
pub const COSIGNATURE_TYPE: u8 = 0x04;

/// The most consistency proof lines a client may send (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

/// The cosigner key ID: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key).
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', COSIGNATURE_TYPE])
        .chain_update(key.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key string of a cosigner, `<name>+<hex key ID>+<base64(0x04 ‖ key)>`, as
/// C2SP allows for publishing it.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let mut typed = Vec::with_capacity(33);
    typed.push(COSIGNATURE_TYPE);
    typed.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, key)),
        BASE64.encode(typed)
    )
}

/// The message a cosignature signs: `cosignature/v1\ntime <t>\n` then the checkpoint text
/// (its lines, each ending in a newline, without signature lines).
pub fn message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}").into_bytes()
}

/// Cosigns `checkpoint_text` at `timestamp` (POSIX seconds, not 0): the signature line without
/// its newline.
pub fn cosign(checkpoint_text: &str, name: &str, key: &SigningKey, timestamp: u64) -> String {
    debug_assert!(timestamp != 0 && checkpoint::check_origin(name).is_ok());
    let mut blob = Vec::with_capacity(4 + 8 + 64);
    blob.extend_from_slice(&key_id(name, &key.verifying_key()));
    blob.extend_from_slice(&timestamp.to_be_bytes());
    blob.extend_from_slice(&key.sign(&message(checkpoint_text, timestamp)).to_bytes());
    format!("{SIGNATURE_PREFIX}{name} {}", BASE64.encode(blob))
}

/// Why a cosignature line was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("{0}")]
    Malformed(#[from] CheckpointError),
    #[error("the line is not by {0} with the configured key")]
    NotTheWitness(String),
    #[error("a cosignature is the 4-byte key ID, an 8-byte timestamp and a 64-byte signature")]
    WrongLength,
    #[error("the cosignature's timestamp is 0 or beyond 2^63 - 1")]
    BadTimestamp,
    #[error("the cosignature by {0} does not verify over this checkpoint")]
    BadSignature(String),
}

/// Verifies one signature line as a cosignature by the witness `name` with `key` over
/// `checkpoint_text`; returns its timestamp.
pub fn verify_line(
    line: &str,
    checkpoint_text: &str,
    name: &str,
    key: &VerifyingKey,
) -> Result<u64, CosignatureError> {
    let parsed = checkpoint::parse_signature_line(line)?;
    verify_parsed(&parsed, checkpoint_text, name, key)
}

fn verify_parsed(
    line: &checkpoint::SignatureLine<'_>,
    checkpoint_text: &str,
    name: &str,
    key: &VerifyingKey,
) -> Result<u64, CosignatureError> {
    if line.name != name || line.blob[..4] != key_id(name, key) {
        return Err(CosignatureError::NotTheWitness(name.to_owned()));
    }
    if line.blob.len() != 4 + 8 + 64 {
        return Err(CosignatureError::WrongLength);
    }
    let timestamp = u64::from_be_bytes(line.blob[4..12].try_into().expect("8 bytes"));
    if timestamp == 0 || timestamp > i64::MAX as u64 {
        return Err(CosignatureError::BadTimestamp);
    }
    let signature = Signature::from_slice(&line.blob[12..]).expect("64 bytes");
    key.verify_strict(&message(checkpoint_text, timestamp), &signature)
        .map_err(|_| CosignatureError::BadSignature(name.to_owned()))?;
    Ok(timestamp)
}

/// A witness a verifier trusts: its key name and Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    pub name: String,
    pub key: VerifyingKey,
}

/// A valid cosignature found on a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub name: String,
    pub timestamp: u64,
}

/// The witnesses among `witnesses` whose valid cosignature `note` carries over its own text,
/// each named once, in the order of `witnesses`. Lines by other keys are ignored; a line that
/// names a trusted witness and key ID but does not verify is ignored too (it counts for
/// nothing).
pub fn cosigners(note: &str, witnesses: &[Witness]) -> Result<Vec<Cosigned>, CheckpointError> {
    let (text, lines) = checkpoint::split_note(note)?;
    // A cosignature does not sign the witness's name, so one key counts once whatever names
    // it is listed under (and one witness listed twice, once).
    let mut keys = std::collections::HashSet::new();
    Ok(witnesses
        .iter()
        .filter(|w| keys.insert(w.key.to_bytes()))
        .filter_map(|w| {
            lines
                .iter()
                .find_map(|line| verify_parsed(line, text, &w.name, &w.key).ok())
                .map(|timestamp| Cosigned {
                    name: w.name.clone(),
                    timestamp,
                })
        })
        .collect())
}

/// Refuses a list of trusted witnesses that names one witness or one key twice (as a policy may
/// not): each would count once toward a quorum, which the person who gave the list did not mean.
pub fn check_distinct(witnesses: &[Witness]) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for w in witnesses {
        if !names.insert(w.name.as_str()) {
            return Err(format!("the witness {} is given twice", w.name));
        }
        if !keys.insert(w.key.to_bytes()) {
            return Err(format!(
                "the key {} is given twice (a cosignature does not sign the witness's name, so one key is one witness)",
                hex::encode(w.key.as_bytes())
            ));
        }
    }
    Ok(())
}

/// Parses `NAME=KEYHEX`, the form the command line takes a witness in.
pub fn parse_witness_arg(s: &str) -> Result<Witness, String> {
    let (name, key) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=KEYHEX"))?;
    checkpoint::check_origin(name).map_err(|e| e.to_string())?;
    let bytes: [u8; 32] = hex::decode(key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{s:?}: the key is not 64 hexadecimal digits"))?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| format!("{s:?}: the key is not an Ed25519 public key"))?;
    Ok(Witness {
        name: name.to_owned(),
        key,
    })
}

/// The body of `POST <prefix>/add-checkpoint`: the size the witness last cosigned, the
/// consistency proof from it, and the signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    pub note: String,
}

impl AddCheckpoint {
    /// `old <size>` LF, a base64 line per proof hash, an empty line, the note.
    pub fn to_body(&self) -> String {
        let mut out = format!("old {}\n", self.old);
        for hash in &self.proof {
            out.push_str(&BASE64.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note);
        out
    }

    /// Parses a request body strictly: the old size in decimal without leading zeros, at most
    /// [`MAX_PROOF_LINES`] proof lines of 32 bytes each, an empty line, then the note (checked
    /// later, against the log's key).
    pub fn parse(body: &str) -> Result<AddCheckpoint, &'static str> {
        let (first, mut rest) = body
            .split_once('\n')
            .ok_or("the body does not start with an old size line")?;
        let old = first
            .strip_prefix("old ")
            .filter(|n| {
                !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
                    && (*n == "0" || !n.starts_with('0'))
            })
            .and_then(|n| n.parse().ok())
            .ok_or("the first line is not `old <size>` in decimal")?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or("no empty line before the checkpoint")?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err("more than 63 consistency proof lines");
            }
            let hash = BASE64
                .decode(line)
                .ok()
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or("a proof line is not the base64 of 32 bytes")?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err("the checkpoint is missing");
        }
        Ok(AddCheckpoint {
            old,
            proof,
            note: rest.to_owned(),
        })
    }
}

/// The origin line of a note (its first line), which names the log before anything is
/// verified.
pub fn note_origin(note: &str) -> Option<&str> {
    note.split_once('\n')
        .map(|(first, _)| first)
        .filter(|o| checkpoint::check_origin(o).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::checkpoint::Checkpoint;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "hwledger.example/320404".to_owned(),
            size: 20_852_163,
            root: Sha256::digest(b"root").into(),
        }
    }

    /// The message of c2sp.org/tlog-cosignature's example, byte for byte.
    #[test]
    fn message_is_the_spec_example() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        assert_eq!(
            String::from_utf8(message(text, 1_679_315_147)).unwrap(),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
             CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn key_id_uses_type_4() {
        let k = key(7).verifying_key();
        let mut pre = b"w1\n\x04".to_vec();
        pre.extend_from_slice(k.as_bytes());
        assert_eq!(key_id("w1", &k), Sha256::digest(&pre)[..4]);
        assert_ne!(key_id("w1", &k), checkpoint::key_id("w1", &k));
        let vkey = verifier_key("w1", &k);
        let (_, b64) = vkey.rsplit_once('+').unwrap();
        assert!(vkey.starts_with(&format!("w1+{}+", hex::encode(key_id("w1", &k)))));
        assert_eq!(BASE64.decode(b64).unwrap()[0], COSIGNATURE_TYPE);
    }

    #[test]
    fn cosignatures_round_trip_and_bind_every_byte() {
        let c = checkpoint();
        let text = c.body();
        let w = key(9);
        let line = cosign(&text, "bureau.example/w", &w, 1_700_000_000);
        assert_eq!(
            verify_line(&line, &text, "bureau.example/w", &w.verifying_key()),
            Ok(1_700_000_000)
        );
        // Another checkpoint, name or key.
        let other = Checkpoint {
            size: c.size + 1,
            ..c.clone()
        }
        .body();
        assert!(matches!(
            verify_line(&line, &other, "bureau.example/w", &w.verifying_key()),
            Err(CosignatureError::BadSignature(_))
        ));
        assert!(matches!(
            verify_line(&line, &text, "bureau.example/x", &w.verifying_key()),
            Err(CosignatureError::NotTheWitness(_))
        ));
        assert!(matches!(
            verify_line(&line, &text, "bureau.example/w", &key(10).verifying_key()),
            Err(CosignatureError::NotTheWitness(_))
        ));
        // The timestamp is signed: change it and the signature fails.
        let (head, b64) = line.rsplit_once(' ').unwrap();
        let mut blob = BASE64.decode(b64).unwrap();
        blob[11] ^= 1;
        let altered = format!("{head} {}", BASE64.encode(&blob));
        assert!(matches!(
            verify_line(&altered, &text, "bureau.example/w", &w.verifying_key()),
            Err(CosignatureError::BadSignature(_))
        ));
        blob[4..12].copy_from_slice(&0u64.to_be_bytes());
        let zero = format!("{head} {}", BASE64.encode(&blob));
        assert_eq!(
            verify_line(&zero, &text, "bureau.example/w", &w.verifying_key()),
            Err(CosignatureError::BadTimestamp)
        );
    }

    #[test]
    fn cosigners_counts_distinct_trusted_witnesses() {
        let log = key(1);
        let c = checkpoint();
        let text = c.body();
        let (a, b, stranger) = (key(2), key(3), key(4));
        let mut note = c.sign(&log);
        for (name, k) in [("a", &a), ("stranger", &stranger), ("a", &a)] {
            note.push_str(&cosign(&text, name, k, 5));
            note.push('\n');
        }
        let trusted = [
            Witness {
                name: "a".into(),
                key: a.verifying_key(),
            },
            Witness {
                name: "b".into(),
                key: b.verifying_key(),
            },
        ];
        let found = cosigners(&note, &trusted).unwrap();
        assert_eq!(
            found,
            vec![Cosigned {
                name: "a".into(),
                timestamp: 5
            }]
        );
        // The log's own signature still opens the note.
        assert_eq!(
            Checkpoint::open(&note, &c.origin, &log.verifying_key()).unwrap(),
            c
        );
        // One key under two names, or one witness twice, counts once.
        let aliased = [
            trusted[0].clone(),
            Witness {
                name: "alias".into(),
                key: a.verifying_key(),
            },
            trusted[0].clone(),
        ];
        let alias_line = {
            let line = cosign(&text, "a", &a, 5);
            let (_, b64) = line.rsplit_once(' ').unwrap();
            let mut blob = BASE64.decode(b64).unwrap();
            blob[..4].copy_from_slice(&key_id("alias", &a.verifying_key()));
            format!("{SIGNATURE_PREFIX}alias {}", BASE64.encode(blob))
        };
        let with_alias = format!("{note}{alias_line}\n");
        assert_eq!(cosigners(&with_alias, &aliased).unwrap().len(), 1);
        assert!(check_distinct(&aliased).is_err());
        assert!(check_distinct(&aliased[..2])
            .unwrap_err()
            .contains("given twice"));
        assert!(check_distinct(&trusted).is_ok());
        // B's cosignature over another checkpoint does not count here.
        let wrong = cosign(
            &Checkpoint {
                size: 1,
                ..c.clone()
            }
            .body(),
            "b",
            &b,
            5,
        );
        let with_wrong = format!("{note}{wrong}\n");
        assert_eq!(cosigners(&with_wrong, &trusted).unwrap().len(), 1);
    }

    #[test]
    fn add_checkpoint_bodies_round_trip_and_parse_strictly() {
        let note = checkpoint().sign(&key(1));
        let req = AddCheckpoint {
            old: 20_852_014,
            proof: vec![[1; 32], [2; 32]],
            note: note.clone(),
        };
        let body = req.to_body();
        assert!(body.starts_with("old 20852014\nAQEB"));
        assert_eq!(AddCheckpoint::parse(&body), Ok(req));
        let first = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: note.clone(),
        };
        assert_eq!(first.to_body(), format!("old 0\n\n{note}"));
        assert_eq!(AddCheckpoint::parse(&first.to_body()), Ok(first));
        for bad in [
            String::new(),
            "old 1".to_owned(),
            format!("old 01\n\n{note}"),
            format!("old -1\n\n{note}"),
            format!("old  1\n\n{note}"),
            format!("new 1\n\n{note}"),
            "old 1\n\n".to_owned(),
            format!("old 1\nnot base64\n\n{note}"),
            format!("old 1\nAQEB\n\n{note}"),
            format!("old 1\n{note}"),
            format!(
                "old 1\n{}\n{note}",
                vec!["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="; 64].join("\n")
            ),
        ] {
            assert!(AddCheckpoint::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(note_origin(&note), Some("hwledger.example/320404"));
        assert_eq!(note_origin("no newline"), None);
    }

    #[test]
    fn witness_arguments_parse() {
        let k = key(3).verifying_key();
        let w =
            parse_witness_arg(&format!("bureau.example/w={}", hex::encode(k.as_bytes()))).unwrap();
        assert_eq!(
            w,
            Witness {
                name: "bureau.example/w".into(),
                key: k
            }
        );
        assert!(parse_witness_arg("nokey").is_err());
        assert!(parse_witness_arg("a b=00").is_err());
        assert!(parse_witness_arg(&format!("w={}", "zz".repeat(32))).is_err());
    }
}
