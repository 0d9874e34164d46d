//! Signed notes and checkpoints as `verify`, `verify --checkpoint` and `verify-proof` read them
//! (`protocol::checkpoint`): `parse_verifier_key` on every line of the input, and
//! `Checkpoint::open` of the whole input under the fixture ledgers' key and the fuzz key, with
//! the origin taken from its first line (as `verify-proof` does) and the fixtures' origin.
//!
//! Asserts: nothing panics; an accepted verifier key is its own canonical spelling (up to the
//! case of the key ID's hex) and its key ID derives from its name and key; an opened checkpoint
//! is of the origin asked for, and the signed text is exactly its own body (no second spelling
//! of a size or root verifies); a note under an origin that is not a key name never opens; a
//! checkpoint signed here, of the input's first line as origin and its size and root where they
//! parse, opens to itself under the signing key and not under another.

#![no_main]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hwledger::protocol::checkpoint::{self, Checkpoint};
use hwledger_fuzz::{fixture_ledger_key, fuzz_key, ORIGIN};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.split('\n') {
        verifier_key_round_trip(line);
    }

    let signer = fuzz_key();
    let keys = [fixture_ledger_key(), signer.verifying_key()];
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    for origin in [first, ORIGIN] {
        let key_name = checkpoint::check_origin(origin).is_ok();
        for key in &keys {
            match Checkpoint::open(text, origin, key) {
                Ok(cp) => {
                    assert!(
                        key_name,
                        "a note opened under the invalid key name {origin:?}"
                    );
                    assert_eq!(cp.origin, origin);
                    assert!(
                        text.starts_with(&format!("{}\n", cp.body())),
                        "the signed text is not the checkpoint's own body: {cp:?}"
                    );
                }
                Err(e) => assert!(!e.to_string().is_empty(), "a refusal has a message"),
            }
        }
    }

    // Signing and opening round-trip, for any origin that is a key name.
    if checkpoint::check_origin(first).is_ok() {
        let digest: [u8; 32] = Sha256::digest(data).into();
        let size = lines.next().and_then(|l| l.parse().ok());
        let root = lines
            .next()
            .and_then(|l| BASE64.decode(l).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        let cp = Checkpoint {
            origin: first.to_owned(),
            size: size.unwrap_or_else(|| u64::from_le_bytes(digest[..8].try_into().unwrap())),
            root: root.unwrap_or(digest),
        };
        let note = cp.sign(&signer);
        assert_eq!(
            Checkpoint::open(&note, first, &signer.verifying_key()),
            Ok(cp.clone())
        );
        assert!(Checkpoint::open(&note, first, &fixture_ledger_key()).is_err());
        assert_eq!(cp.sign(&signer), note, "signing is deterministic");
    }
});

fn verifier_key_round_trip(line: &str) {
    let Ok((name, id, key)) = checkpoint::parse_verifier_key(line) else {
        return;
    };
    assert_eq!(id, checkpoint::key_id(&name, &key));
    let rendered = checkpoint::verifier_key(&name, &key);
    let split = |s: &str| {
        let (name, rest) = s.split_once('+').expect("a name and a '+'");
        let (id, key) = rest.split_once('+').expect("a key ID and a '+'");
        (name.to_owned(), id.to_ascii_lowercase(), key.to_owned())
    };
    assert_eq!(
        split(line),
        split(&rendered),
        "a verifier key has one spelling"
    );
    assert_eq!(
        checkpoint::parse_verifier_key(&rendered),
        Ok((name, id, key))
    );
}
