//! Step 1 of §3 as a POSTed body takes it: strict JSON, then one envelope or a batch of 1 to
//! 1000, each through `Prepared::from_value` (the JSON Schemas, the U+0000 check, the header,
//! key and signature hex, the reserved UUIDv5 ids), then the signature check of step 4.
//!
//! Asserts: it never panics; every refusal is an `Err` with a short message; an accepted
//! envelope keeps its event, key and signature as sent, its `event_jcs` is canonical JSON of that
//! event, its header repeats the event's fields (the id in lowercase canonical form), its body
//! passes `validate_body` on its own, no string in it holds U+0000, and as a recorded entry it
//! reads back as sent and prepares again; the batch signature check agrees with checking one
//! by one.

#![no_main]

use hwledger::protocol::event::{self, Entry, Prepared, LEDGER_ACTOR};
use hwledger::protocol::{jcs, schema};
use hwledger_fuzz::MAX_MESSAGE_CHARS;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The most envelopes one batch may hold (spec §3).
const MAX_BATCH: usize = 1000;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = jcs::parse_strict(data) else {
        return;
    };
    let items = match value {
        Value::Array(items) if items.is_empty() || items.len() > MAX_BATCH => return,
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut prepared = Vec::new();
    for envelope in items {
        match Prepared::from_value(envelope.clone()) {
            Ok(p) => {
                check_accepted(&envelope, &p);
                prepared.push(p);
            }
            Err(message) => {
                assert!(!message.trim().is_empty(), "a refusal has a message");
                let chars = message.chars().count();
                assert!(
                    chars <= MAX_MESSAGE_CHARS,
                    "a refusal of {chars} characters: {}…",
                    message.chars().take(200).collect::<String>()
                );
            }
        }
    }
    let mut refs: Vec<&mut Prepared> = prepared.iter_mut().collect();
    event::verify_all(&mut refs);
    for p in &prepared {
        assert_eq!(p.sig_ok, event::verify_one(&p.key, &p.sig, &p.event_jcs));
    }
});

fn check_accepted(envelope: &Value, p: &Prepared) {
    let sent = &envelope["event"];
    assert_eq!(&p.event, sent, "the event is kept as sent");
    assert_eq!(
        p.event_jcs,
        jcs::canonical(sent),
        "event_jcs is the JCS of the event"
    );
    let reparsed = jcs::parse_strict(&p.event_jcs).expect("event_jcs parses strictly");
    assert_eq!(&reparsed, sent);
    assert_eq!(
        jcs::canonical(&reparsed),
        p.event_jcs,
        "event_jcs is canonical"
    );
    assert_eq!(envelope["key"].as_str(), Some(hex::encode(p.key).as_str()));
    assert_eq!(envelope["sig"].as_str(), Some(hex::encode(p.sig).as_str()));

    let h = &p.header;
    assert_eq!(sent["v"], 1);
    assert_eq!(
        sent["id"].as_str(),
        Some(h.id.to_string().as_str()),
        "ids are lowercase canonical UUIDs"
    );
    assert_eq!(sent["type"].as_str(), Some(h.kind.as_str()));
    assert_eq!(sent["actor"].as_str(), Some(h.actor.as_str()));
    assert_eq!(sent["at"].as_str(), Some(h.at_text.as_str()));
    assert!(schema::EVENT_TYPES.contains(&h.kind.as_str()));
    if h.actor != LEDGER_ACTOR {
        assert_ne!(h.id.get_version_num(), 5, "version-5 ids are the ledger's");
    }
    if let Err(e) = schema::validate_body(&h.kind, p.body()) {
        panic!("an accepted envelope's body fails validate_body: {e}");
    }
    assert!(!holds_nul(sent), "an accepted event holds U+0000");

    // As recorded, the same envelope prepares to the same event.
    let entry = Entry {
        seq: 1,
        prev: [0; 32],
        recorded_at: "2026-01-01T00:00:00.000Z".into(),
        event_jcs: String::from_utf8(p.event_jcs.clone()).expect("JCS is UTF-8"),
        key: p.key,
        sig: p.sig,
    };
    assert_eq!(
        &entry.event(),
        sent,
        "a recorded event reads back as written"
    );
    let again = Prepared::from_entry(&entry).expect("an accepted envelope prepares as recorded");
    assert_eq!(again.event_jcs, p.event_jcs);
    assert_eq!(again.header, p.header);
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}
