//! Events, envelopes and entries (spec §3–4): the exact bytes that are signed and hashed.
//!
//! Everything here is pure. An envelope arrives as parsed JSON; [`Prepared::from_value`] does the
//! context-free part of the checks (shape, canonical form, signature) so that the sequencer only
//! has to do the checks that need the ledger's state.

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::jcs;
use super::schema;
use super::time::{self, Timestamp};

/// Domain separation prefix of the bytes an actor signs.
pub const EVENT_SIGNING_PREFIX: &[u8] = b"hwledger/event/v1\n";
/// Domain separation prefix of the bytes an entry hash covers.
pub const ENTRY_HASH_PREFIX: &[u8] = b"hwledger/entry/v1\n";
/// `prev` of entry 0.
pub const ZERO_HASH: [u8; 32] = [0; 32];
/// The actor name under which the ledger signs its own events.
pub const LEDGER_ACTOR: &str = "ledger";

pub type Hash = [u8; 32];

/// The signing bytes of an event given its canonical (JCS) form.
pub fn signing_bytes(event_jcs: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(EVENT_SIGNING_PREFIX.len() + event_jcs.len());
    out.extend_from_slice(EVENT_SIGNING_PREFIX);
    out.extend_from_slice(event_jcs);
    out
}

/// SHA-256 of arbitrary bytes.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Parses lowercase hex of an exact length into bytes.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// The header fields of an event, parsed; the body stays JSON until the domain reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeader {
    pub id: Uuid,
    pub kind: String,
    pub actor: String,
    pub at: Timestamp,
    /// `at` exactly as the actor wrote it.
    pub at_text: String,
}

impl EventHeader {
    /// Reads the header of an event that has passed the schema.
    pub fn from_event(event: &Value) -> Result<Self, String> {
        let field = |name: &str| {
            event
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("/event/{name}: missing"))
        };
        let id = Uuid::parse_str(field("id")?).map_err(|e| format!("/event/id: {e}"))?;
        let at_text = field("at")?;
        let at = time::parse_timestamp(at_text).map_err(|e| format!("/event/at: {e}"))?;
        Ok(EventHeader {
            id,
            kind: field("type")?.to_owned(),
            actor: field("actor")?.to_owned(),
            at,
            at_text: at_text.to_owned(),
        })
    }
}

/// An envelope that has passed every check that needs no ledger state (§3 step 1), with the
/// outcome of the signature check (step 4) computed ahead so that it can run in parallel and in
/// batches; the sequencer consults it only when it reaches step 4.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub header: EventHeader,
    pub event: Value,
    /// JCS of the event: the bytes that are signed and that go into the entry.
    pub event_jcs: Vec<u8>,
    pub key: [u8; 32],
    pub sig: [u8; 64],
    pub sig_ok: bool,
}

impl Prepared {
    /// Step 1 of §3 for one envelope. Signature verification is left to [`verify_all`].
    pub fn from_value(envelope: Value) -> Result<Prepared, String> {
        schema::no_nul(&envelope["event"], "/event")?;
        Prepared::from_value_recorded(envelope)
    }

    /// Step 1 for an envelope as recorded: a version-1 ledger may hold strings with U+0000,
    /// which §1 refuses only at submission.
    fn from_value_recorded(envelope: Value) -> Result<Prepared, String> {
        schema::validate_envelope(&envelope)?;
        let Value::Object(mut map) = envelope else {
            return Err("envelope is not an object".into());
        };
        let key_hex = map.get("key").and_then(Value::as_str).unwrap_or_default();
        let key = parse_hex::<32>(key_hex).ok_or("/key: not 64 lowercase hex characters")?;
        let sig_hex = map.get("sig").and_then(Value::as_str).unwrap_or_default();
        let sig = parse_hex::<64>(sig_hex).ok_or("/sig: not 128 lowercase hex characters")?;
        let event = map.remove("event").ok_or("/event: missing")?;
        let event_jcs = jcs::canonical(&event);
        Prepared::checked(event, event_jcs, key, sig)
    }

    /// The checks of step 1 that follow the schema, for an event that has passed it.
    fn checked(
        event: Value,
        event_jcs: Vec<u8>,
        key: [u8; 32],
        sig: [u8; 64],
    ) -> Result<Prepared, String> {
        let header = EventHeader::from_event(&event)?;
        // The ledger's automatic tickets have predictable UUIDv5 ids (spec §2); an actor who
        // took such an id first would keep the ticket from ever being recorded.
        if header.actor != LEDGER_ACTOR && header.id.get_version_num() == 5 {
            return Err(
                "/event/id: version-5 UUIDs are reserved for the ledger's automatic tickets".into(),
            );
        }
        Ok(Prepared {
            header,
            event,
            event_jcs,
            key,
            sig,
            sig_ok: false,
        })
    }

    /// Step 1 for an entry already recorded, as its envelope would have been submitted.
    pub fn from_entry(e: &Entry) -> Result<Prepared, String> {
        Prepared::from_recorded(e.event(), e)
    }

    /// [`Prepared::from_entry`] with the entry's event already read (`event` is what
    /// `e.event_jcs` parses to). The signature is checked over the bytes the entry records,
    /// which are its hash's too: they are the event's JCS unless the entry was altered, and an
    /// altered entry then fails its signature.
    pub fn from_recorded(event: Value, e: &Entry) -> Result<Prepared, String> {
        let envelope = serde_json::json!({
            "event": event,
            "key": hex::encode(e.key),
            "sig": hex::encode(e.sig),
        });
        schema::validate_envelope(&envelope)?;
        let Value::Object(mut map) = envelope else {
            unreachable!("built as an object")
        };
        let event = map.remove("event").ok_or("/event: missing")?;
        Prepared::checked(event, e.event_jcs.as_bytes().to_vec(), e.key, e.sig)
    }

    pub fn body(&self) -> &Value {
        &self.event["body"]
    }

    pub fn event_digest(&self) -> Hash {
        sha256(&self.event_jcs)
    }
}

/// Verifies the signatures of many prepared envelopes, setting `sig_ok` on each.
///
/// Each signature is checked on its own with [`verify_one`], spread over the available cores.
/// Batch verification would be faster, but its equation can accept a signature that the
/// standard one refuses, depending on what it is batched with; a ledger that anyone can audit
/// with any Ed25519 library must accept exactly what [`verify_one`] accepts.
///
/// The public keys are taken from [`KEYS`] once decompressed: a ledger's events are signed by
/// a few thousand keys, each many times, and the decompression is about a tenth of a check.
pub fn verify_all(items: &mut [&mut Prepared]) {
    let oks = map_on_cores(items, |p| {
        verify_with_known_key(&p.key, &p.sig, &p.event_jcs)
    });
    for (item, ok) in items.iter_mut().zip(oks) {
        item.sig_ok = ok;
    }
}

/// [`verify_all`] over the envelopes that passed the checks before the signature, leaving the
/// refused ones as they are.
pub fn verify_shaped<'a>(items: impl IntoIterator<Item = &'a mut Result<Prepared, String>>) {
    let mut to_verify: Vec<&mut Prepared> =
        items.into_iter().filter_map(|p| p.as_mut().ok()).collect();
    verify_all(&mut to_verify);
}

/// Most keys [`KEYS`] holds; when full it is emptied and fills again with the keys in use, so
/// that envelopes under ever new keys cost memory no more than their checks do.
const KEYS_HELD: usize = 1 << 15;

/// Public keys already decompressed, by their 32 bytes. A [`VerifyingKey`] is a pure function
/// of its bytes, so a key taken from here checks exactly as one decompressed anew.
static KEYS: std::sync::LazyLock<std::sync::RwLock<HashMap<[u8; 32], VerifyingKey>>> =
    std::sync::LazyLock::new(Default::default);

/// [`verify_one`], with the key decompressed once per process (see [`KEYS`]).
pub fn verify_with_known_key(key: &[u8; 32], sig: &[u8; 64], event_jcs: &[u8]) -> bool {
    let known = KEYS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .copied();
    let key = match known {
        Some(k) => k,
        None => {
            let Ok(k) = VerifyingKey::from_bytes(key) else {
                return false;
            };
            let mut keys = KEYS
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if keys.len() >= KEYS_HELD {
                keys.clear();
            }
            keys.insert(*key, k);
            k
        }
    };
    key.verify_strict(&signing_bytes(event_jcs), &Signature::from_bytes(sig))
        .is_ok()
}

/// `f` of every item, in order, the items split over the cores (for runs of entries whose
/// events are read, or checked, ahead of the replay that needs them in order).
pub fn map_on_cores<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const PER_THREAD: usize = 64;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, items.len().div_ceil(PER_THREAD).max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let size = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(size)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("a worker does not panic"))
            .collect()
    })
}

/// Verifies one signature over an event's signing bytes: the standard (cofactorless) Ed25519
/// equation in its strict form, which also refuses small-order `R` or public keys and a
/// non-canonical `s` (RFC 8032 §5.1.7), so no signature verifies for more than one message.
pub fn verify_one(key: &[u8; 32], sig: &[u8; 64], event_jcs: &[u8]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    key.verify_strict(&signing_bytes(event_jcs), &Signature::from_bytes(sig))
        .is_ok()
}

/// An entry of the ledger (§4), holding the event in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub prev: Hash,
    pub recorded_at: String,
    /// JCS of the event.
    pub event_jcs: String,
    pub key: [u8; 32],
    pub sig: [u8; 64],
}

impl Entry {
    /// JCS of the entry, built directly: its member names sort as event, key, prev, recorded_at,
    /// seq, sig, and apart from the already canonical event every value is plain ASCII.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.event_jcs.len() + 400);
        out.extend_from_slice(b"{\"event\":");
        out.extend_from_slice(self.event_jcs.as_bytes());
        out.extend_from_slice(b",\"key\":\"");
        push_hex(&mut out, &self.key);
        out.extend_from_slice(b"\",\"prev\":\"");
        push_hex(&mut out, &self.prev);
        out.extend_from_slice(b"\",\"recorded_at\":");
        // recorded_at is produced by the ledger, but an entry read back from a file may hold
        // anything: a string of printable ASCII other than `"` and `\` is written as it is
        // (JCS leaves those characters alone), anything else is serialised as a JSON string.
        let plain = self
            .recorded_at
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if plain {
            out.push(b'"');
            out.extend_from_slice(self.recorded_at.as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(
                serde_json::to_string(&self.recorded_at)
                    .expect("a string serialises")
                    .as_bytes(),
            );
        }
        out.extend_from_slice(b",\"seq\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.extend_from_slice(b",\"sig\":\"");
        push_hex(&mut out, &self.sig);
        out.extend_from_slice(b"\"}");
        out
    }

    /// The entry hash: SHA-256 of the prefix and the entry's JCS.
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(ENTRY_HASH_PREFIX);
        h.update(self.canonical());
        h.finalize().into()
    }

    /// The event as JSON, read with the strict parser it was written from: serde_json's own
    /// reader gives an object whose first member is `$serde_json::private::RawValue` another
    /// meaning (the JSON text it holds), so it would read other values than the bytes hashed.
    pub fn event(&self) -> Value {
        jcs::parse_strict(self.event_jcs.as_bytes()).expect("stored events are canonical JSON")
    }

    /// The response form: the entry plus its `hash`.
    pub fn view(&self) -> EntryView {
        EntryView {
            seq: self.seq,
            prev: hex::encode(self.prev),
            recorded_at: self.recorded_at.clone(),
            event: RawValue::from_string(self.event_jcs.clone()).expect("stored events are JSON"),
            key: hex::encode(self.key),
            sig: hex::encode(self.sig),
            hash: hex::encode(self.hash()),
        }
    }
}

/// Appends `bytes` as lowercase hex.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
}

/// An entry as shown to clients and written by `export`: the entry and its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryView {
    pub seq: u64,
    pub prev: String,
    pub recorded_at: String,
    pub event: Box<RawValue>,
    pub key: String,
    pub sig: String,
    pub hash: String,
}

impl EntryView {
    /// Turns a view read from a client or a file back into an entry; the stated `hash` is
    /// returned apart so that a verifier can compare it with the recomputed one.
    pub fn into_entry(self) -> Result<(Entry, String), String> {
        self.into_entry_and_event().map(|(e, hash, _)| (e, hash))
    }

    /// [`EntryView::into_entry`], with the event as read (what the entry's `event_jcs` parses
    /// to), so that it need not be read again.
    pub fn into_entry_and_event(self) -> Result<(Entry, String, Value), String> {
        let event: Value =
            jcs::parse_strict(self.event.get().as_bytes()).map_err(|e| format!("event: {e}"))?;
        Ok((
            Entry {
                seq: self.seq,
                prev: parse_hex::<32>(&self.prev).ok_or("prev: not a hash")?,
                recorded_at: self.recorded_at,
                event_jcs: String::from_utf8(jcs::canonical(&event)).expect("JCS is UTF-8"),
                key: parse_hex::<32>(&self.key).ok_or("key: not a public key")?,
                sig: parse_hex::<64>(&self.sig).ok_or("sig: not a signature")?,
            },
            self.hash,
            event,
        ))
    }
}

/// Builds a signed envelope (used by the CLI, the ledger's own events and tests).
pub fn sign_envelope(event: &Value, key: &ed25519_dalek::SigningKey) -> Value {
    use ed25519_dalek::Signer;
    let jcs = jcs::canonical(event);
    let sig = key.sign(&signing_bytes(&jcs));
    serde_json::json!({
        "event": event,
        "key": hex::encode(key.verifying_key().to_bytes()),
        "sig": hex::encode(sig.to_bytes()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_s_canonical_form_is_the_jcs_of_its_json() {
        for recorded_at in [
            "2026-12-04T18:00:00.123Z",
            "quote \" and backslash \\",
            "control \u{1} and delete \u{7f}",
            "非 ASCII",
            "",
        ] {
            let e = Entry {
                seq: 1234567,
                prev: [0xab; 32],
                recorded_at: recorded_at.into(),
                event_jcs: r#"{"a":1,"b":"x"}"#.into(),
                key: [0x01; 32],
                sig: [0xfe; 64],
            };
            let json = serde_json::json!({
                "seq": e.seq, "prev": hex::encode(e.prev), "recorded_at": e.recorded_at,
                "event": {"a": 1, "b": "x"}, "key": hex::encode(e.key), "sig": hex::encode(e.sig),
            });
            assert_eq!(
                String::from_utf8(e.canonical()).unwrap(),
                String::from_utf8(jcs::canonical(&json)).unwrap(),
                "{recorded_at:?}"
            );
        }
    }
    use ed25519_dalek::SigningKey;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn event() -> Value {
        serde_json::json!({"v":1,"id":"0b6a3d7e-2a41-4d6e-9c55-3f0f3c1f7a10","type":"org.key_added",
            "actor":"91350100M000100Y43","at":"2026-01-02T03:04:05Z",
            "body":{"org":"91350100M000100Y43","key": hex::encode([7u8;32])}})
    }

    #[test]
    fn signing_bytes_are_prefix_and_jcs() {
        let jcs = jcs::canonical(&event());
        let bytes = signing_bytes(&jcs);
        assert!(bytes.starts_with(b"hwledger/event/v1\n{\"actor\":"));
        assert_eq!(&bytes[EVENT_SIGNING_PREFIX.len()..], jcs.as_slice());
    }

    #[test]
    fn entry_canonical_matches_generic_jcs() {
        let env = sign_envelope(&event(), &key(1));
        let p = Prepared::from_value(env).unwrap();
        let entry = Entry {
            seq: 12,
            prev: [0xab; 32],
            recorded_at: "2026-01-02T03:04:06.007Z".into(),
            event_jcs: String::from_utf8(p.event_jcs.clone()).unwrap(),
            key: p.key,
            sig: p.sig,
        };
        let generic = serde_json::json!({
            "seq": 12, "prev": hex::encode([0xab;32]), "recorded_at": "2026-01-02T03:04:06.007Z",
            "event": event(), "key": hex::encode(p.key), "sig": hex::encode(p.sig)});
        assert_eq!(entry.canonical(), jcs::canonical(&generic));
        let mut h = Sha256::new();
        h.update(b"hwledger/entry/v1\n");
        h.update(jcs::canonical(&generic));
        assert_eq!(entry.hash(), <[u8; 32]>::from(h.finalize()));
        let (back, hash) =
            serde_json::from_str::<EntryView>(&serde_json::to_string(&entry.view()).unwrap())
                .unwrap()
                .into_entry()
                .unwrap();
        assert_eq!(back, entry);
        assert_eq!(hash, hex::encode(entry.hash()));
    }

    /// serde_json, with its `raw_value` feature, reads an object whose first member is named
    /// `$serde_json::private::RawValue` as the JSON text that member holds (the input of
    /// `fuzz/corpus/strict_json/crash-raw-value-member`). An entry's event is read as written,
    /// as its hash and signature cover it: such a member stays a member, and the event is not
    /// one of the protocol's.
    #[test]
    fn an_entry_s_event_reads_back_as_written() {
        let envelope = sign_envelope(&event(), &key(1));
        let signed = Prepared::from_value(envelope).unwrap();
        let signed_jcs = String::from_utf8(signed.event_jcs.clone()).unwrap();
        for written in [
            serde_json::json!({"$serde_json::private::RawValue": signed_jcs}),
            serde_json::json!({"$serde_json::private::RawValue": null}),
            serde_json::json!({"$serde_json::private::RawValue": 1, "v": 1}),
        ] {
            let e = Entry {
                seq: 1,
                prev: [0; 32],
                recorded_at: "2026-01-02T03:04:06.007Z".into(),
                event_jcs: String::from_utf8(jcs::canonical(&written)).unwrap(),
                key: signed.key,
                sig: signed.sig,
            };
            assert_eq!(e.event(), written);
            let view = serde_json::to_string(&e.view()).unwrap();
            let (back, _) = serde_json::from_str::<EntryView>(&view)
                .unwrap()
                .into_entry()
                .unwrap();
            assert_eq!(back, e);
            // Not an event: refused at step 1, whatever its member holds.
            assert!(Prepared::from_entry(&e).is_err(), "{written}");
        }
    }

    /// A recorded entry's signature is checked over the bytes it records, the ones its hash
    /// covers: an event rewritten as equivalent but not canonical JSON reads the same, and
    /// fails its signature. An event read once for an export's line shapes up as when read
    /// again from the entry.
    #[test]
    fn a_recorded_signature_covers_the_recorded_bytes() {
        let signed = Prepared::from_value(sign_envelope(&event(), &key(3))).unwrap();
        let entry = |event_jcs: String| Entry {
            seq: 1,
            prev: [0; 32],
            recorded_at: "2026-01-02T03:04:06.007Z".into(),
            event_jcs,
            key: signed.key,
            sig: signed.sig,
        };
        let canonical = entry(String::from_utf8(signed.event_jcs.clone()).unwrap());
        let spaced = entry(serde_json::to_string_pretty(&event()).unwrap());
        assert_eq!(spaced.event(), canonical.event());
        let mut read: Vec<Prepared> = [&canonical, &spaced]
            .iter()
            .map(|e| Prepared::from_entry(e).unwrap())
            .collect();
        let once = Prepared::from_recorded(canonical.event(), &canonical).unwrap();
        assert_eq!(once.event_jcs, read[0].event_jcs);
        assert_eq!(once.header, read[0].header);
        let mut refs: Vec<&mut Prepared> = read.iter_mut().collect();
        verify_all(&mut refs);
        assert_eq!([read[0].sig_ok, read[1].sig_ok], [true, false]);
    }

    #[test]
    fn batch_verification_finds_the_bad_signature() {
        let mut items: Vec<Prepared> = (0..5u8)
            .map(|i| {
                let mut e = event();
                e["id"] = Value::String(Uuid::from_bytes([i; 16]).to_string());
                Prepared::from_value(sign_envelope(&e, &key(i + 1))).unwrap()
            })
            .collect();
        items[3].sig[0] ^= 1;
        let mut refs: Vec<&mut Prepared> = items.iter_mut().collect();
        verify_all(&mut refs);
        let ok: Vec<bool> = items.iter().map(|p| p.sig_ok).collect();
        assert_eq!(ok, [true, true, true, false, true]);
        assert!(verify_one(
            &items[0].key,
            &items[0].sig,
            &items[0].event_jcs
        ));
        assert!(!verify_one(
            &items[3].key,
            &items[3].sig,
            &items[3].event_jcs
        ));
    }

    #[test]
    fn a_known_key_checks_exactly_as_a_key_decompressed_anew() {
        let p = Prepared::from_value(sign_envelope(&event(), &key(7))).unwrap();
        for _ in 0..2 {
            // The first check decompresses and keeps the key, the second takes it as kept.
            assert!(verify_with_known_key(&p.key, &p.sig, &p.event_jcs));
            let mut sig = p.sig;
            sig[5] ^= 0x10;
            assert!(!verify_with_known_key(&p.key, &sig, &p.event_jcs));
            let mut jcs = p.event_jcs.clone();
            jcs.push(b' ');
            assert!(!verify_with_known_key(&p.key, &p.sig, &jcs));
        }
        // Another key's signature over the same event does not verify under this key.
        let other = Prepared::from_value(sign_envelope(&event(), &key(8))).unwrap();
        assert!(!verify_with_known_key(&p.key, &other.sig, &p.event_jcs));
        // Bytes that are no point on the curve are refused, and not kept.
        let bad = (0..=255u8)
            .map(|b| [b; 32])
            .find(|k| VerifyingKey::from_bytes(k).is_err())
            .expect("some bytes are not a point");
        assert!(!verify_with_known_key(&bad, &p.sig, &p.event_jcs));
        assert!(!verify_one(&bad, &p.sig, &p.event_jcs));
        assert!(!KEYS.read().unwrap().contains_key(&bad));
    }

    #[test]
    fn hex_must_be_lowercase_and_exact() {
        assert!(parse_hex::<2>("abcd").is_some());
        assert!(parse_hex::<2>("ABCD").is_none());
        assert!(parse_hex::<2>("abc").is_none());
        assert!(parse_hex::<2>("abcdef").is_none());
    }
}
