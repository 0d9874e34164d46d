//! Checkpoints: C2SP tlog-checkpoint bodies signed as C2SP signed notes with
//! Ed25519 (<https://c2sp.org/tlog-checkpoint>, <https://c2sp.org/signed-note>).
//!
//! The ledger key signs with the origin as its key name, so any client holding
//! the verifier key string can check a tree head without talking to us.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signed-note signature type byte of Ed25519.
const ED25519_TYPE: u8 = 0x01;

/// Opens a signature line: em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// More signature lines than this make a note suspect rather than useful;
/// signed-note asks verifiers to accept at least 16.
const MAX_SIGNATURES: usize = 100;

/// Why a verifier key, signed note or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(
        "invalid key name {0:?}: it must be non-empty, without spaces, '+' or control characters"
    )]
    InvalidKeyName(String),
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    #[error("verifier key ID {stated} does not match its key, whose ID is {derived}")]
    KeyIdMismatch { stated: String, derived: String },
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    #[error("the signature by {name}+{key_id} does not verify")]
    BadSignature { name: String, key_id: String },
    #[error("the note has no signature by {name}+{key_id}")]
    Unsigned { name: String, key_id: String },
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("checkpoint origin {found:?} is not {expected:?}")]
    OriginMismatch { expected: String, found: String },
}

/// Checks that `origin` can serve as a signed-note key name: non-empty,
/// without Unicode spaces, `+`, or control characters (which a note may not
/// contain).
pub fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    let valid = !origin.is_empty()
        && !origin
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+');
    if valid {
        Ok(())
    } else {
        Err(CheckpointError::InvalidKeyName(origin.to_owned()))
    }
}

/// The signed-note key ID: the first 4 bytes of
/// SHA-256(origin ‖ 0x0A ‖ 0x01 ‖ public key).
pub fn key_id(origin: &str, key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(origin.as_bytes())
        .chain_update([b'\n', ED25519_TYPE])
        .chain_update(key.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// The verifier key string `<origin>+<hex key ID>+<base64(0x01 ‖ public key)>`
/// that clients configure to check checkpoints.
pub fn verifier_key(origin: &str, key: &VerifyingKey) -> String {
    let mut typed = Vec::with_capacity(33);
    typed.push(ED25519_TYPE);
    typed.extend_from_slice(key.as_bytes());
    format!(
        "{origin}+{}+{}",
        hex::encode(key_id(origin, key)),
        BASE64.encode(typed)
    )
}

/// Parses a verifier key string into its name, key ID and Ed25519 key,
/// refusing one whose key ID is not derived from its name and key.
pub fn parse_verifier_key(s: &str) -> Result<(String, [u8; 4], VerifyingKey), CheckpointError> {
    // Only the first two '+' separate fields: base64 may contain '+' itself.
    let (name, rest) = s
        .split_once('+')
        .ok_or(CheckpointError::MalformedVerifierKey(
            "no '+' after the name",
        ))?;
    let (id_hex, key_b64) = rest
        .split_once('+')
        .ok_or(CheckpointError::MalformedVerifierKey(
            "no '+' after the key ID",
        ))?;
    check_origin(name)?;
    let mut stated = [0; 4];
    hex::decode_to_slice(id_hex, &mut stated).map_err(|_| {
        CheckpointError::MalformedVerifierKey("the key ID is not 8 hexadecimal digits")
    })?;
    let typed = BASE64
        .decode(key_b64)
        .map_err(|_| CheckpointError::MalformedVerifierKey("the key is not padded base64"))?;
    let (&kind, public) = typed
        .split_first()
        .ok_or(CheckpointError::MalformedVerifierKey("the key is empty"))?;
    if kind != ED25519_TYPE {
        return Err(CheckpointError::MalformedVerifierKey(
            "the signature type is not Ed25519 (0x01)",
        ));
    }
    let public: &[u8; 32] = public
        .try_into()
        .map_err(|_| CheckpointError::MalformedVerifierKey("an Ed25519 public key is 32 bytes"))?;
    let key = VerifyingKey::from_bytes(public)
        .map_err(|_| CheckpointError::MalformedVerifierKey("not an Ed25519 public key"))?;
    let derived = key_id(name, &key);
    if derived != stated {
        return Err(CheckpointError::KeyIdMismatch {
            stated: id_hex.to_owned(),
            derived: hex::encode(derived),
        });
    }
    Ok((name.to_owned(), stated, key))
}

/// A tree head: the log's origin, its size, and the root of its Merkle tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// The signed note: the body, a blank line, and the signature line
    /// `— <origin> <base64(key ID ‖ signature)>`.
    ///
    /// The origin must pass [`check_origin`]; the service checks it once at
    /// start-up rather than on every signature.
    pub fn sign(&self, key: &SigningKey) -> String {
        debug_assert!(check_origin(&self.origin).is_ok(), "{:?}", self.origin);
        sign_note(&self.body(), &self.origin, key)
    }

    /// Opens a signed note: finds the signature by `key` under the key name
    /// `origin`, verifies it over the note text, and parses the text as a
    /// checkpoint of `origin`.
    ///
    /// Signatures by other keys are ignored, as signed-note requires (they
    /// may be witnesses' cosignatures). Extension lines after the root are
    /// refused: the ledger never writes them.
    pub fn open(
        note: &str,
        origin: &str,
        key: &VerifyingKey,
    ) -> Result<Checkpoint, CheckpointError> {
        let text = open_note(note, origin, key)?;
        parse_body(text, origin)
    }
}

/// Signs `text` (which ends in a newline) as a signed note by `name`.
fn sign_note(text: &str, name: &str, key: &SigningKey) -> String {
    let mut blob = Vec::with_capacity(4 + 64);
    blob.extend_from_slice(&key_id(name, &key.verifying_key()));
    blob.extend_from_slice(&key.sign(text.as_bytes()).to_bytes());
    format!("{text}\n{SIGNATURE_PREFIX}{name} {}\n", BASE64.encode(blob))
}

/// Splits a signed note into its text (with its final newline) and its signature lines,
/// checking the grammar of signed notes: no control character but newline, a blank line before
/// the signatures, at least one and at most [`MAX_SIGNATURES`] of them, each well formed.
pub fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), CheckpointError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(CheckpointError::MalformedNote(
            "it contains a control character other than newline",
        ));
    }
    // The text may hold blank lines itself; the last one separates it from
    // the signatures, which cannot contain one.
    let split = note.rfind("\n\n").ok_or(CheckpointError::MalformedNote(
        "no blank line before the signatures",
    ))?;
    let (text, signatures) = (&note[..=split], &note[split + 2..]);
    let signatures = signatures
        .strip_suffix('\n')
        .ok_or(CheckpointError::MalformedNote(
            "the signatures do not end in a newline",
        ))?;
    if signatures.is_empty() {
        return Err(CheckpointError::MalformedNote("it has no signature"));
    }
    let lines = signatures
        .split('\n')
        .enumerate()
        .map(|(count, line)| {
            if count == MAX_SIGNATURES {
                return Err(CheckpointError::MalformedNote("it has too many signatures"));
            }
            parse_signature_line(line)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((text, lines))
}

/// Checks the signed-note grammar and the signature by `key` under `name`,
/// and returns the verified note text (with its final newline).
fn open_note<'a>(
    note: &'a str,
    name: &str,
    key: &VerifyingKey,
) -> Result<&'a str, CheckpointError> {
    let (text, signatures) = split_note(note)?;
    let id = key_id(name, key);
    let mut verified = false;
    for SignatureLine {
        name: line_name,
        blob,
        ..
    } in signatures
    {
        // A signature is ours only when both name and key ID match; any
        // other is someone else's and not for us to judge.
        if line_name != name || blob[..4] != id {
            continue;
        }
        let good = Signature::from_slice(&blob[4..])
            .is_ok_and(|signature| key.verify_strict(text.as_bytes(), &signature).is_ok());
        if !good {
            // A failing signature by a known key means the note was altered.
            return Err(CheckpointError::BadSignature {
                name: name.to_owned(),
                key_id: hex::encode(id),
            });
        }
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(CheckpointError::Unsigned {
            name: name.to_owned(),
            key_id: hex::encode(id),
        })
    }
}

/// One signature line of a signed note: `— <name> <base64(key ID ‖ signature)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLine<'a> {
    /// The whole line, without its newline.
    pub line: &'a str,
    pub name: &'a str,
    /// The decoded key ID and signature: at least one byte past the 4-byte ID.
    pub blob: Vec<u8>,
}

/// Parses `— <name> <base64>` into the name and the decoded key ID and signature (at least one
/// byte past the ID).
pub fn parse_signature_line(line: &str) -> Result<SignatureLine<'_>, CheckpointError> {
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(CheckpointError::MalformedNote(
            "a signature line does not start with an em dash and a space",
        ))?;
    let (name, encoded) = rest.split_once(' ').ok_or(CheckpointError::MalformedNote(
        "a signature line has no space after the key name",
    ))?;
    if check_origin(name).is_err() {
        return Err(CheckpointError::MalformedNote(
            "a signature line has an invalid key name",
        ));
    }
    let blob = BASE64
        .decode(encoded)
        .map_err(|_| CheckpointError::MalformedNote("a signature is not padded base64"))?;
    if blob.len() < 5 {
        return Err(CheckpointError::MalformedNote("a signature is too short"));
    }
    Ok(SignatureLine { line, name, blob })
}

/// Parses a signed note as a checkpoint without checking any signature: the note's grammar and
/// its text, whose first line names the origin. A witness judges this before it knows which key
/// to check against (spec §5a: a body that does not parse is 400, before the origin is looked
/// up); [`Checkpoint::open`] then checks the signature and returns the same checkpoint.
pub fn parse_unverified(note: &str) -> Result<Checkpoint, CheckpointError> {
    let (text, _) = split_note(note)?;
    let origin = text.split('\n').next().unwrap_or_default();
    check_origin(origin)?;
    parse_body(text, origin)
}

/// Parses verified note text as a checkpoint of `origin`.
fn parse_body(text: &str, origin: &str) -> Result<Checkpoint, CheckpointError> {
    let body = text
        .strip_suffix('\n')
        .expect("note text ends in a newline");
    let mut lines = body.split('\n');
    let mut next = |what| match lines.next() {
        Some(line) if !line.is_empty() => Ok(line),
        _ => Err(CheckpointError::MalformedCheckpoint(what)),
    };
    let found = next("the origin line is missing")?;
    let size = next("the tree size line is missing")?;
    let root = next("the root hash line is missing")?;
    if found != origin {
        return Err(CheckpointError::OriginMismatch {
            expected: origin.to_owned(),
            found: found.to_owned(),
        });
    }
    if lines.next().is_some() {
        return Err(CheckpointError::MalformedCheckpoint(
            "it has extension lines, which this log never writes",
        ));
    }
    let canonical =
        size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
    let size =
        size.parse()
            .ok()
            .filter(|_| canonical)
            .ok_or(CheckpointError::MalformedCheckpoint(
                "the tree size is not a decimal number without leading zeros",
            ))?;
    let root = BASE64
        .decode(root)
        .ok()
        .and_then(|bytes| Hash::try_from(bytes).ok())
        .ok_or(CheckpointError::MalformedCheckpoint(
            "the root hash is not the base64 of 32 bytes",
        ))?;
    Ok(Checkpoint {
        origin: origin.to_owned(),
        size,
        root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "hwledger.example/test";

    fn signing_key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: ORIGIN.to_owned(),
            size: 20_852_163,
            root: Sha256::digest(b"root").into(),
        }
    }

    /// The example of the "Verifier keys" section of c2sp.org/signed-note: a
    /// verifier key and a note it signed.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo \
        Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn signed_note_spec_example_verifies() {
        let (name, id, key) = parse_verifier_key(SPEC_VKEY).unwrap();
        assert_eq!(name, "example.com/foo");
        assert_eq!(id, [0x53, 0x0d, 0x90, 0x3a]);
        assert_eq!(
            hex::encode(key.as_bytes()),
            "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
        );
        assert_eq!(key_id(&name, &key), id);
        assert_eq!(verifier_key(&name, &key), SPEC_VKEY);
        assert_eq!(
            open_note(SPEC_NOTE, &name, &key),
            Ok("This is an example message.\n")
        );
        let altered = SPEC_NOTE.replace("example message", "example massage");
        assert!(matches!(
            open_note(&altered, &name, &key),
            Err(CheckpointError::BadSignature { .. })
        ));
        // A valid note whose text is not a checkpoint.
        assert!(matches!(
            Checkpoint::open(SPEC_NOTE, &name, &key),
            Err(CheckpointError::MalformedCheckpoint(_))
        ));
    }

    /// The example of golang.org/x/mod/sumdb/note, the origin of signed
    /// notes, publishes its private key too; Ed25519 being deterministic,
    /// signing must reproduce the published note byte for byte.
    #[test]
    fn go_sumdb_note_example_is_reproduced() {
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let typed = BASE64.decode(skey.splitn(5, '+').last().unwrap()).unwrap();
        assert_eq!(typed[0], ED25519_TYPE);
        let key = SigningKey::from_bytes(typed[1..].try_into().unwrap());
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let note = sign_note(text, "PeterNeumann", &key);
        assert_eq!(
            note,
            format!(
                "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
            )
        );
        assert_eq!(
            verifier_key("PeterNeumann", &key.verifying_key()),
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
        assert_eq!(
            open_note(&note, "PeterNeumann", &key.verifying_key()),
            Ok(text)
        );
    }

    /// The example of c2sp.org/tlog-checkpoint; its key is not published, so
    /// only the grammar can be checked: it parses, and without the key it is
    /// unsigned rather than malformed.
    #[test]
    fn tlog_checkpoint_spec_example_parses() {
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\
            \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
        let key = signing_key(1).verifying_key();
        assert!(matches!(
            Checkpoint::open(note, "example.com/behind-the-sofa", &key),
            Err(CheckpointError::Unsigned { .. })
        ));
        assert_eq!(
            parse_body(
                &note[..note.find("\n\n").unwrap() + 1],
                "example.com/behind-the-sofa"
            )
            .unwrap()
            .size,
            20_852_163
        );
    }

    #[test]
    fn key_id_is_derived_from_name_and_key() {
        let key = signing_key(7).verifying_key();
        let mut preimage = ORIGIN.as_bytes().to_vec();
        preimage.push(0x0a);
        preimage.push(0x01);
        preimage.extend_from_slice(key.as_bytes());
        assert_eq!(key_id(ORIGIN, &key), Sha256::digest(&preimage)[..4]);
        assert_ne!(key_id("other.example", &key), key_id(ORIGIN, &key));

        let vkey = verifier_key(ORIGIN, &key);
        assert!(vkey.starts_with(&format!("{ORIGIN}+{}+A", hex::encode(key_id(ORIGIN, &key)))));
        assert_eq!(
            parse_verifier_key(&vkey),
            Ok((ORIGIN.to_owned(), key_id(ORIGIN, &key), key))
        );
    }

    #[test]
    fn parse_verifier_key_refuses_bad_keys() {
        let vkey = verifier_key(ORIGIN, &signing_key(7).verifying_key());
        let (_, rest) = vkey.split_once('+').unwrap();
        let (id, b64) = rest.split_once('+').unwrap();
        let wrong_id = format!(
            "{ORIGIN}+{}+{b64}",
            if id == "00000000" {
                "00000001"
            } else {
                "00000000"
            }
        );
        assert!(matches!(
            parse_verifier_key(&wrong_id),
            Err(CheckpointError::KeyIdMismatch { .. })
        ));
        // The same key under another name has another key ID.
        assert!(matches!(
            parse_verifier_key(&format!("other.example+{id}+{b64}")),
            Err(CheckpointError::KeyIdMismatch { .. })
        ));
        for bad in [
            ORIGIN.to_owned(),
            format!("{ORIGIN}+{id}"),
            format!("{ORIGIN}+{}+{b64}", &id[..7]),
            format!("{ORIGIN}+{id}+{}", &b64[..b64.len() - 1]),
            format!("{ORIGIN}+{id}+AgAA"),
            format!("a b+{id}+{b64}"),
            format!("+{id}+{b64}"),
        ] {
            assert!(parse_verifier_key(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sign_and_open_round_trip() {
        let key = signing_key(1);
        let checkpoint = checkpoint();
        let note = checkpoint.sign(&key);
        let root = BASE64.encode(checkpoint.root);
        assert_eq!(checkpoint.body(), format!("{ORIGIN}\n20852163\n{root}\n"));
        assert!(note.starts_with(&format!("{}\n\u{2014} {ORIGIN} ", checkpoint.body())));
        assert!(note.ends_with('\n'));
        assert_eq!(
            Checkpoint::open(&note, ORIGIN, &key.verifying_key()),
            Ok(checkpoint.clone())
        );
        // Deterministic: the same checkpoint is the same bytes every time.
        assert_eq!(checkpoint.sign(&key), note);

        let empty = Checkpoint {
            origin: ORIGIN.to_owned(),
            size: 0,
            root: crate::protocol::merkle::empty_root(),
        };
        let opened = Checkpoint::open(&empty.sign(&key), ORIGIN, &key.verifying_key());
        assert_eq!(opened, Ok(empty));
    }

    #[test]
    fn tampered_checkpoints_are_refused() {
        let key = signing_key(1);
        let checkpoint = checkpoint();
        let note = checkpoint.sign(&key);
        let public = key.verifying_key();
        let bad_signature = |note: &str| {
            matches!(
                Checkpoint::open(note, ORIGIN, &public),
                Err(CheckpointError::BadSignature { .. })
            )
        };

        assert!(bad_signature(&note.replace("\n20852163\n", "\n20852164\n")));
        let root = BASE64.encode(checkpoint.root);
        let mut other_root = checkpoint.root;
        other_root[0] ^= 1;
        assert!(bad_signature(
            &note.replace(&root, &BASE64.encode(other_root))
        ));
        let body_origin = note.replacen(ORIGIN, "hwledger.example/other", 1);
        assert!(bad_signature(&body_origin));
        // Renamed throughout, the signature is no longer one by our key.
        let renamed = note.replace(ORIGIN, "hwledger.example/other");
        assert!(matches!(
            Checkpoint::open(&renamed, ORIGIN, &public),
            Err(CheckpointError::Unsigned { .. })
        ));
        // Signed by us, but for another log.
        let foreign = Checkpoint {
            origin: "hwledger.example/other".to_owned(),
            ..checkpoint
        };
        assert!(matches!(
            Checkpoint::open(&foreign.sign(&key), ORIGIN, &public),
            Err(CheckpointError::Unsigned { .. })
        ));
    }

    #[test]
    fn wrong_key_is_refused() {
        let note = checkpoint().sign(&signing_key(1));
        let error = Checkpoint::open(&note, ORIGIN, &signing_key(2).verifying_key()).unwrap_err();
        assert!(matches!(error, CheckpointError::Unsigned { .. }), "{error}");
    }

    #[test]
    fn other_signatures_are_ignored() {
        let key = signing_key(1);
        let note = checkpoint().sign(&key);
        let witness = sign_note(&checkpoint().body(), "witness.example/w1", &signing_key(3));
        let witness_line = &witness[witness.rfind("\n\n").unwrap() + 2..];
        // A line with our name but another key ID is someone else's too.
        let imposter = sign_note(&checkpoint().body(), ORIGIN, &signing_key(4));
        let imposter_line = &imposter[imposter.rfind("\n\n").unwrap() + 2..];
        let both = format!(
            "{witness}{}{imposter_line}",
            &note[note.rfind("\n\n").unwrap() + 2..]
        );
        assert_eq!(witness.lines().count() + 2, both.lines().count());
        assert_eq!(
            Checkpoint::open(&both, ORIGIN, &key.verifying_key()),
            Ok(checkpoint())
        );
        let unsigned = format!("{}\n{witness_line}", checkpoint().body());
        assert!(matches!(
            Checkpoint::open(&unsigned, ORIGIN, &key.verifying_key()),
            Err(CheckpointError::Unsigned { .. })
        ));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let key = signing_key(1);
        let public = key.verifying_key();
        let note = checkpoint().sign(&key);
        let malformed = |note: &str| {
            matches!(
                Checkpoint::open(note, ORIGIN, &public),
                Err(CheckpointError::MalformedNote(_))
            )
        };
        assert!(malformed(note.trim_end_matches('\n')));
        assert!(malformed(&note.replacen("\n\n", "\n", 1)));
        assert!(malformed(&note.replace('\u{2014}', "-")));
        assert!(malformed(&note.replace("\n\n", "\r\n\n")));
        assert!(malformed(&format!("{note}\n")));
        assert!(malformed(&format!("{}\n", checkpoint().body())));
        let sig = &note[note.rfind(' ').unwrap() + 1..note.len() - 1];
        assert!(malformed(&note.replace(sig, &sig[..sig.len() - 1])));
    }

    #[test]
    fn signed_bodies_must_be_checkpoints_we_write() {
        let key = signing_key(1);
        let public = key.verifying_key();
        let root = BASE64.encode(checkpoint().root);
        let open = |body: &str| Checkpoint::open(&sign_note(body, ORIGIN, &key), ORIGIN, &public);
        let malformed =
            |body: &str| matches!(open(body), Err(CheckpointError::MalformedCheckpoint(_)));

        assert!(open(&format!("{ORIGIN}\n5\n{root}\n")).is_ok());
        assert!(malformed(&format!("{ORIGIN}\n05\n{root}\n")));
        assert!(malformed(&format!("{ORIGIN}\n+5\n{root}\n")));
        assert!(malformed(&format!(
            "{ORIGIN}\n18446744073709551616\n{root}\n"
        )));
        assert!(malformed(&format!(
            "{ORIGIN}\n5\n{}\n",
            &root[..root.len() - 4]
        )));
        assert!(malformed(&format!("{ORIGIN}\n5\n")));
        assert!(malformed(&format!("{ORIGIN}\n5\n{root}\nextension\n")));
        assert!(malformed(&format!("{ORIGIN}\n\n5\n{root}\n")));
        assert!(matches!(
            open(&format!("hwledger.example/other\n5\n{root}\n")),
            Err(CheckpointError::OriginMismatch { .. })
        ));
    }

    #[test]
    fn origins_must_be_key_names() {
        assert!(check_origin(ORIGIN).is_ok());
        for bad in ["", "a b", "a+b", "a\tb", "a\u{a0}b", "a\u{7f}b"] {
            assert!(check_origin(bad).is_err(), "{bad:?}");
        }
    }
}
