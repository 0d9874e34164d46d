//! Writes the seed corpus of every fuzz target into `fuzz/corpus/<target>/seed-*`, from the
//! fixture ledgers in `tests/fixtures/` and the library: envelopes of every event type, event
//! bodies, checkpoints and verifier keys, proof bundles, read tokens and query strings. The
//! output is the same every run (Ed25519 signatures are deterministic); every seed that should
//! be accepted is checked to be.
//!
//! `cargo run --example seeds` (in `fuzz/`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use hwledger::protocol::checkpoint::{self, Checkpoint};
use hwledger::protocol::event::{self, EntryView, Prepared};
use hwledger::protocol::{jcs, merkle, schema, token};
use hwledger_fuzz::{event_types, fixture_ledger_key, fuzz_key, ORIGIN, REGULATOR};
use serde_json::{json, Value};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = read_fixtures(&root.join("../tests/fixtures"));
    let corpus = root.join("corpus");
    let mut written = 0;
    let mut write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("the corpus directory");
        std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("a seed file");
        written += 1;
    };

    // One recorded event of every type, the first the fixtures hold.
    let mut by_type: BTreeMap<String, Value> = BTreeMap::new();
    for f in &fixtures {
        for e in &f.entries {
            let kind = e["event"]["type"].as_str().expect("a type").to_owned();
            by_type.entry(kind).or_insert_with(|| e.clone());
        }
    }
    assert_eq!(
        by_type.len(),
        schema::EVENT_TYPES.len(),
        "the fixtures hold every type"
    );

    // strict_json: recorded lines as written, canonical events, and small cases.
    let first = &fixtures[0];
    write("strict_json", "entry-line", first.lines[1].as_bytes());
    write(
        "strict_json",
        "checkpoint-line",
        first.lines.last().unwrap().as_bytes(),
    );
    for kind in ["manifest.opened", "plan.filed", "manifest.received"] {
        write(
            "strict_json",
            &format!("jcs-{kind}"),
            &jcs::canonical(&by_type[kind]["event"]),
        );
    }
    for (name, text) in [
        ("object", r#"{"b":[1,-2,true,null],"a":{"c":"\u00e9"}}"#),
        ("bounds", "[9007199254740991,-9007199254740991,0]"),
        (
            "escapes",
            r#"["\"\\\/\b\f\n\r\t\u0000\u001f","\ud83d\ude00","€",""]"#,
        ),
        ("nested", r#"{"a":{"b":{"c":[[[[{"d":[]}]]]]}},"":{}}"#),
        ("whitespace", " \t\n{ \"k\" : [ 1 , 2 ] }\r\n"),
        ("duplicate", r#"{"a":1,"\u0061":2}"#),
        ("fraction", r#"{"q":1.0}"#),
        ("exponent", "[1e3]"),
        ("too-large", "9007199254740992"),
        ("minus-zero", "-0"),
        ("utf16-order", r#"{"€":1,"😀":2,"\r":3,"1":4,"ö":5}"#),
    ] {
        write("strict_json", name, text.as_bytes());
    }

    // envelope: each type re-signed with the fuzz key, as recorded (its actor's own signature),
    // pretty, and a batch.
    let key = fuzz_key();
    for (kind, e) in &by_type {
        let signed = event::sign_envelope(&e["event"], &key);
        let recorded = json!({"event": e["event"], "key": e["key"], "sig": e["sig"]});
        for envelope in [&signed, &recorded] {
            let p =
                Prepared::from_value(envelope.clone()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(event::verify_one(&p.key, &p.sig, &p.event_jcs), "{kind}");
        }
        write("envelope", kind, &serde_json::to_vec(&signed).unwrap());
        write(
            "envelope",
            &format!("{kind}-recorded"),
            &serde_json::to_vec(&recorded).unwrap(),
        );
    }
    let pretty = event::sign_envelope(&by_type["manifest.opened"]["event"], &key);
    write(
        "envelope",
        "pretty",
        serde_json::to_string_pretty(&pretty).unwrap().as_bytes(),
    );
    let batch: Vec<Value> = [
        "org.registered",
        "license.issued",
        "waste.declared",
        "manifest.opened",
    ]
    .iter()
    .map(|k| event::sign_envelope(&by_type[*k]["event"], &key))
    .collect();
    write("envelope", "batch", &serde_json::to_vec(&batch).unwrap());

    // schema: the body of each type, after the byte that chooses the type.
    let types = event_types();
    for (kind, e) in &by_type {
        let index = types.iter().position(|t| t == kind).expect("a known type");
        let mut bytes = vec![u8::try_from(index).unwrap()];
        bytes.extend_from_slice(&serde_json::to_vec(&e["event"]["body"]).unwrap());
        let mut u = arbitrary::Unstructured::new(&bytes);
        assert_eq!(
            u.choose(&types).unwrap(),
            kind,
            "the first byte chooses the type"
        );
        schema::validate_body(kind, &e["event"]["body"]).unwrap_or_else(|e| panic!("{kind}: {e}"));
        write("schema", kind, &bytes);
    }

    // checkpoint: the fixtures' checkpoints, notes signed with the fuzz key, verifier keys.
    for f in &fixtures {
        Checkpoint::open(&f.checkpoint, ORIGIN, &fixture_ledger_key())
            .expect("a fixture checkpoint");
        write(
            "checkpoint",
            &format!("fixture-{}", f.name),
            f.checkpoint.as_bytes(),
        );
    }
    let tree = &fixtures[0].tree;
    let notes = [
        (
            "empty",
            Checkpoint {
                origin: ORIGIN.into(),
                size: 0,
                root: merkle::empty_root(),
            },
        ),
        (
            "fixture-tree",
            Checkpoint {
                origin: ORIGIN.into(),
                size: tree.size,
                root: tree.root,
            },
        ),
        (
            "path-origin",
            Checkpoint {
                origin: "hwledger.czhb.gov.cn/changzhou".into(),
                size: 1,
                root: [7; 32],
            },
        ),
        (
            "unicode-origin",
            Checkpoint {
                origin: "台账.example/钟楼".into(),
                size: u64::MAX,
                root: [0xff; 32],
            },
        ),
    ];
    for (name, cp) in &notes {
        let note = cp.sign(&key);
        assert_eq!(
            Checkpoint::open(&note, &cp.origin, &key.verifying_key()).as_ref(),
            Ok(cp)
        );
        write("checkpoint", &format!("note-{name}"), note.as_bytes());
    }
    // The fixture tree's checkpoint signed by both keys: the fixtures' signature line after ours.
    let ours = notes[1].1.sign(&key);
    let theirs = &fixtures[0].checkpoint;
    let cosigned = format!("{ours}{}", &theirs[theirs.rfind("\n\n").unwrap() + 2..]);
    write("checkpoint", "cosigned", cosigned.as_bytes());
    for (name, vkey) in [
        (
            "fixture",
            checkpoint::verifier_key(ORIGIN, &fixture_ledger_key()),
        ),
        (
            "fuzz",
            checkpoint::verifier_key(ORIGIN, &key.verifying_key()),
        ),
        (
            "c2sp",
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k".into(),
        ),
    ] {
        checkpoint::parse_verifier_key(&vkey).expect("a verifier key");
        write("checkpoint", &format!("vkey-{name}"), vkey.as_bytes());
    }
    write(
        "checkpoint",
        "c2sp-note",
        "This is an example message.\n\n\u{2014} example.com/foo \
         Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
            .as_bytes(),
    );

    // proof_bundle: entries of each fixture proved in its whole tree, under a checkpoint signed
    // with the fuzz key, and one under the fixture's own checkpoint.
    for f in &fixtures {
        let size = f.tree.size;
        let signed = Checkpoint {
            origin: ORIGIN.into(),
            size,
            root: f.tree.root,
        }
        .sign(&key);
        let mut seqs = vec![0, 1, size / 2, size - 1];
        seqs.dedup();
        for seq in seqs {
            for (label, cp, vk) in [
                ("fuzz", &signed, key.verifying_key()),
                ("fixture", &f.checkpoint, fixture_ledger_key()),
            ] {
                if label == "fixture" && seq != size - 1 {
                    continue;
                }
                let bundle = json!({
                    "entry": f.entries[seq as usize],
                    "size": size,
                    "proof": f.tree.proof(seq),
                    "checkpoint": cp,
                });
                let bytes = serde_json::to_vec_pretty(&bundle).unwrap();
                hwledger::cli::check_bundle(&bytes, &vk)
                    .unwrap_or_else(|e| panic!("{} {seq}: {e}", f.name));
                write("proof_bundle", &format!("{}-{seq}-{label}", f.name), &bytes);
            }
        }
    }

    // A one-entry ledger whose event is an object with the member serde_json's `raw_value`
    // feature reads as JSON text: it is in the tree, and its event reads back as written.
    let signed_event =
        String::from_utf8(jcs::canonical(&by_type["org.key_added"]["event"])).unwrap();
    for (name, member) in [
        ("raw-value-null", Value::Null),
        ("raw-value-event", Value::String(signed_event)),
    ] {
        let written = json!({"$serde_json::private::RawValue": member});
        let jcs = jcs::canonical(&written);
        let sig = {
            use ed25519_dalek::Signer;
            key.sign(&event::signing_bytes(&jcs))
        };
        let entry = event::Entry {
            seq: 0,
            prev: event::ZERO_HASH,
            recorded_at: "2026-12-03T17:58:59.264Z".into(),
            event_jcs: String::from_utf8(jcs.clone()).unwrap(),
            key: key.verifying_key().to_bytes(),
            sig: sig.to_bytes(),
        };
        let tree = Tree::new(&[entry.hash()]);
        // Written from the view itself: a `Value` would read the event's text the way the
        // member asks.
        #[derive(serde::Serialize)]
        struct Bundle {
            entry: EntryView,
            size: u64,
            proof: Vec<String>,
            checkpoint: String,
        }
        let bundle = Bundle {
            entry: entry.view(),
            size: 1,
            proof: tree.proof(0),
            checkpoint: Checkpoint {
                origin: ORIGIN.into(),
                size: 1,
                root: tree.root,
            }
            .sign(&key),
        };
        let bytes = serde_json::to_vec_pretty(&bundle).unwrap();
        hwledger::cli::check_bundle(&bytes, &key.verifying_key())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        write("proof_bundle", name, &bytes);
        write("strict_json", name, &jcs);
    }

    // read_token: tokens as `hwledger token` mints them, and refused ones.
    let iat = 1_780_000_000;
    for (name, org, origin, lifetime) in [
        ("regulator", REGULATOR, ORIGIN, 300),
        ("longest", REGULATOR, ORIGIN, 600),
        ("too-long", REGULATOR, ORIGIN, 601),
        ("zero", REGULATOR, ORIGIN, 0),
        ("other-ledger", REGULATOR, "other.ledger", 300),
        ("unicode-org", "某化工有限公司\"\\", ORIGIN, 1),
    ] {
        write(
            "read_token",
            name,
            token::mint(&key, org, origin, iat, lifetime).as_bytes(),
        );
    }
    token::parse(&token::mint(&key, REGULATOR, ORIGIN, iat, 300), ORIGIN).expect("a token");
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = json!({"iss": REGULATOR, "aud": ORIGIN, "iat": iat, "exp": iat + 300});
    let kid = hex::encode(key.verifying_key().to_bytes());
    for (name, header) in [
        ("alg-none", json!({"alg": "none", "typ": "JWT"})),
        ("crit", json!({"alg": "EdDSA", "kid": kid, "crit": ["exp"]})),
    ] {
        let t = format!("{}.{}.{}", b64(&header), b64(&claims), "A".repeat(86));
        write("read_token", name, t.as_bytes());
    }

    // query_string: what the API's pages and filters are asked.
    for (name, q) in [
        ("entries", "from=0&limit=100"),
        ("orgs", "role=generator&region=3204&limit=50&after=12"),
        ("manifests", "status=in_transit&generator=91320404MA1MXQ2K0T&from=2026-01-01&to=2026-12-31&limit=10&after=40"),
        ("stock", "generator=91320404MA1MXQ2K0T&all=true&after=17%3A900-041-49"),
        ("licences", "holder=91320400MA1Q0RNC9M&covers=900-041-49&date=2026-03-01"),
        ("inclusion", "seq=3&size=80"),
        ("consistency", "from=10&to=80"),
        ("stats", "size=80&as_of=2026-12-03T17%3A58%3A59.264Z&from=2026-01-01&to=2027-01-01&region=320404&category=HW08"),
        ("tickets", "status=open&kind=transit_overdue&org=11320404MB0000001Y&limit=20"),
        ("report", "org=91320404MA1MXQ2K0T&period=2026-Q1&size=43"),
        ("codes", "category=HW49&date=2025-01-01"),
        ("facilities", "org=91320404MA1MXQ2K0T"),
        ("encoded", "org=%E9%92%9F%E6%A5%BC+%E5%8C%BA&period=2026-03"),
        ("repeated", "from=1&from=2"),
        ("unknown", "limit=10&lmit=20"),
    ] {
        write("query_string", name, q.as_bytes());
    }

    println!("wrote {written} seeds under {}", corpus.display());
}

/// A fixture ledger: its lines, entries (as JSON), checkpoint and Merkle tree.
struct Fixture {
    name: String,
    lines: Vec<String>,
    entries: Vec<Value>,
    checkpoint: String,
    tree: Tree,
}

fn read_fixtures(dir: &Path) -> Vec<Fixture> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/fixtures")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.join("ledger.jsonl").exists())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| {
            let text = std::fs::read_to_string(d.join("ledger.jsonl")).expect("ledger.jsonl");
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let mut entries: Vec<Value> = lines
                .iter()
                .map(|l| serde_json::from_str(l).expect("JSON"))
                .collect();
            let last = entries.pop().expect("a checkpoint line");
            let checkpoint = last["checkpoint"]
                .as_str()
                .expect("a checkpoint")
                .to_owned();
            let hashes = entries
                .iter()
                .map(|e| {
                    let view: EntryView = serde_json::from_value(e.clone()).expect("an entry");
                    view.into_entry().expect("an entry").0.hash()
                })
                .collect::<Vec<_>>();
            Fixture {
                name: d.file_name().unwrap().to_string_lossy().into_owned(),
                lines,
                entries,
                checkpoint,
                tree: Tree::new(&hashes),
            }
        })
        .collect()
}

/// The tree of a fixture, every node kept.
struct Tree {
    size: u64,
    root: merkle::Hash,
    nodes: HashMap<merkle::NodeId, merkle::Hash>,
}

impl Tree {
    fn new(entry_hashes: &[merkle::Hash]) -> Tree {
        let mut frontier = merkle::Frontier::new();
        let mut nodes = HashMap::new();
        for h in entry_hashes {
            nodes.extend(frontier.push(merkle::leaf_hash(h)));
        }
        Tree {
            size: frontier.size(),
            root: frontier.root(),
            nodes,
        }
    }

    /// The inclusion proof of `seq` in the whole tree, as hex.
    fn proof(&self, seq: u64) -> Vec<String> {
        merkle::inclusion_proof(seq, self.size, |id| self.nodes.get(&id).copied())
            .expect("every node is kept")
            .iter()
            .map(hex::encode)
            .collect()
    }
}
