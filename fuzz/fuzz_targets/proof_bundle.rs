//! What `hwledger verify-proof FILE --ledger-key HEX` reads from a bundle file
//! (`cli::check_bundle`): the bundle's JSON, the entry and its event, the checkpoint note, the
//! inclusion proof. Checked under the fuzz key (which signed the seeds' checkpoints) and the
//! fixture ledgers' key.
//!
//! Asserts: it never panics; every answer, success or failure, is a non-empty line of text.

#![no_main]

use hwledger::cli::check_bundle;
use hwledger_fuzz::{fixture_ledger_key, fuzz_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for key in [fuzz_key().verifying_key(), fixture_ledger_key()] {
        let answer = check_bundle(data, &key).unwrap_or_else(|failure| failure);
        assert!(!answer.trim().is_empty(), "an answer names what it found");
    }
});
