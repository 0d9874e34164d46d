//! `protocol::schema::validate_body(type, body)` for every event type of `schema::documents()`
//! (chosen by the first input byte) with a fuzzed JSON body (the rest, read by serde_json, so
//! that fractions and exponents reach the schema code too).
//!
//! Asserts: it never panics; a refusal has a short message; the body alone is accepted exactly
//! when an envelope holding it, with a valid header of that type, passes `validate_envelope`.

#![no_main]

use arbitrary::Unstructured;
use hwledger::protocol::schema;
use hwledger_fuzz::{MAX_MESSAGE_CHARS, REGULATOR};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let types = hwledger_fuzz::event_types();
    let mut u = Unstructured::new(data);
    let Ok(&event_type) = u.choose(&types) else {
        return;
    };
    let Ok(body) = serde_json::from_slice::<Value>(u.take_rest()) else {
        return;
    };
    let alone = schema::validate_body(event_type, &body);
    if let Err(message) = &alone {
        assert!(!message.trim().is_empty(), "a refusal has a message");
        let chars = message.chars().count();
        assert!(
            chars <= MAX_MESSAGE_CHARS,
            "a refusal of {chars} characters"
        );
    }
    let envelope = json!({
        "event": {
            "v": 1,
            "id": "0b6a3d7e-2a41-4d6e-9c55-3f0f3c1f7a10",
            "type": event_type,
            "actor": REGULATOR,
            "at": "2026-01-02T03:04:05Z",
            "body": body,
        },
        "key": "00".repeat(32),
        "sig": "00".repeat(64),
    });
    let enveloped = schema::validate_envelope(&envelope);
    assert_eq!(
        alone.is_ok(),
        enveloped.is_ok(),
        "{event_type}: the body alone {alone:?}, in an envelope {enveloped:?}"
    );
});
