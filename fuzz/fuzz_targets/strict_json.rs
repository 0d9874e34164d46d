//! The strict JSON parser every POSTed body and every token part goes through first
//! (`protocol::jcs::parse_strict`), on arbitrary bytes.
//!
//! Asserts: it never panics; a refusal has a short message; what it accepts, serde_json accepts
//! as the same value (but for serde_json's reading of a member named
//! `$serde_json::private::RawValue`, which it does not share); what serde_json refuses, it
//! refuses; a refusal of what serde_json accepts is one of the strict rules (duplicate key,
//! fraction or exponent, range); the canonical form of an accepted value re-parses strictly to
//! the same value, canonicalising is idempotent, and an entry holding that form reads it back
//! as the same value.

#![no_main]

use hwledger::protocol::event::Entry;
use hwledger::protocol::jcs::{self, JsonError};
use hwledger_fuzz::MAX_MESSAGE_CHARS;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let strict = jcs::parse_strict(data);
    let lenient = serde_json::from_slice::<Value>(data);
    match (&strict, &lenient) {
        (Ok(value), lenient) => {
            if !names_raw_value(value) {
                match lenient {
                    Ok(same) => {
                        assert_eq!(value, same, "the strict parser reads what serde_json reads")
                    }
                    Err(e) => panic!("the strict parser accepts what serde_json refuses: {e}"),
                }
            }
            let canonical = jcs::canonical(value);
            let again = jcs::parse_strict(&canonical).unwrap_or_else(|e| {
                panic!(
                    "the canonical form {:?} does not parse strictly: {e}",
                    String::from_utf8_lossy(&canonical)
                )
            });
            assert_eq!(
                &again, value,
                "the canonical form re-parses to the same value"
            );
            assert_eq!(
                jcs::canonical(&again),
                canonical,
                "canonicalising is idempotent"
            );
            let entry = Entry {
                seq: 0,
                prev: [0; 32],
                recorded_at: String::new(),
                event_jcs: String::from_utf8(canonical).expect("JCS is UTF-8"),
                key: [0; 32],
                sig: [0; 64],
            };
            assert_eq!(
                &entry.event(),
                value,
                "a recorded event reads back as written"
            );
        }
        (Err(why), Ok(_)) => assert!(
            matches!(
                why,
                JsonError::DuplicateKey(_) | JsonError::NotAnInteger(_) | JsonError::OutOfRange(_)
            ),
            "valid JSON refused for a reason other than the strict rules: {why:?}"
        ),
        (Err(_), Err(_)) => {}
    }
    if let Err(why) = strict {
        let message = why.to_string();
        assert!(!message.is_empty(), "a refusal has a message");
        let chars = message.chars().count();
        assert!(
            chars <= MAX_MESSAGE_CHARS,
            "a refusal of {chars} characters"
        );
    }
});

/// Whether any object in `value` has a member that serde_json's `raw_value` feature reads as
/// the JSON text it holds rather than as a member.
fn names_raw_value(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(names_raw_value),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k == "$serde_json::private::RawValue" || names_raw_value(v)),
        _ => false,
    }
}
