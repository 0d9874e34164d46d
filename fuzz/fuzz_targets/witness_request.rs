//! The body of a witness's `POST /add-checkpoint` (spec §5a), as `hwledger witness` reads it:
//! `cosignature::AddCheckpoint::parse`, the checkpoint note parsed before its log is known
//! (`checkpoint::parse_unverified`), the judgement against what the witness last cosigned
//! (`witness::judge`, consistency proofs included), and every signature line read as a
//! cosignature (`cosignature::verify_line`).
//!
//! Asserts: nothing panics; a body that parses has one spelling (it prints back as written);
//! the same checkpoint again is always cosignable (size 0: with the empty tree's root), another root for the same size is always
//! evidence, and an `old` that is not the size last cosigned is always a conflict naming it.

#![no_main]

use ed25519_dalek::SigningKey;
use hwledger::protocol::checkpoint;
use hwledger::protocol::cosignature::{self, AddCheckpoint};
use hwledger::protocol::merkle;
use hwledger::witness::{judge, Cosigned, Refusal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = AddCheckpoint::parse(body) else {
        return;
    };
    assert_eq!(request.to_body(), body, "a request has one spelling");
    if let Ok((text, lines)) = checkpoint::split_note(&request.note) {
        let key = SigningKey::from_bytes(&[7; 32]).verifying_key();
        for line in lines {
            let _ = cosignature::verify_line(line.line, text, line.name, &key);
        }
    }
    let Ok(cp) = checkpoint::parse_unverified(&request.note) else {
        return;
    };
    // Whatever the proof, judging never panics.
    let _ = judge(request.old, &request.proof, &cp, None);
    let last = Cosigned {
        size: cp.size,
        root: cp.root,
        cosigned_at: 1,
        note: request.note.clone(),
    };
    let _ = judge(request.old, &request.proof, &cp, Some(&last));
    // The same checkpoint again, from its own size, with no proof (a tree of size 0 has only
    // the empty tree's root).
    if cp.size > 0 || cp.root == merkle::empty_root() {
        assert_eq!(judge(cp.size, &[], &cp, Some(&last)), Ok(()));
    }
    // Another root for a size already cosigned.
    if cp.size > 0 {
        let mut other = last.clone();
        other.root[0] ^= 1;
        assert!(matches!(
            judge(cp.size, &request.proof, &cp, Some(&other)),
            Err(Refusal::Evidence(_))
        ));
    }
    // An old size that is not the one last cosigned.
    if request.old < cp.size && request.old != last.size {
        assert_eq!(
            judge(request.old, &request.proof, &cp, Some(&last)),
            Err(Refusal::Conflict(last.size))
        );
    }
});
