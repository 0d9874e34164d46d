//! What the fuzz targets share with each other and with the example that writes their seed
//! corpus (`cargo run --example seeds`): fixed keys, the limits messages are held to, the event
//! types, and the query structs of the HTTP interface.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::Deserialize;

/// The origin of the fixture ledgers in `tests/fixtures/`, used for the seeds too.
pub const ORIGIN: &str = "test.hwledger.local";

/// The ledger key (public) of the fixture ledgers in `tests/fixtures/`: their checkpoints, as
/// seeds, open under it.
pub const FIXTURE_LEDGER_KEY: &str =
    "01bc085f4144eb4f7634dedb70740f7e3468525a860434581717423dd21ff260";

/// A regulator of the fixture ledgers, a valid org id.
pub const REGULATOR: &str = "11320404MB0000001Y";

/// Longest refusal a client may be answered with, in characters: the schema messages are
/// clipped to 1,000 characters and an ellipsis, and nothing else comes near.
pub const MAX_MESSAGE_CHARS: usize = 1001;

/// The key the fuzz targets and seeds sign with: as ledger key for checkpoints and bundles, as
/// an org's key for envelopes and tokens.
pub fn fuzz_key() -> SigningKey {
    SigningKey::from_bytes(&[0x5a; 32])
}

/// [`FIXTURE_LEDGER_KEY`] as a key.
pub fn fixture_ledger_key() -> VerifyingKey {
    let bytes: [u8; 32] = hex::decode(FIXTURE_LEDGER_KEY)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    VerifyingKey::from_bytes(&bytes).expect("a public key")
}

/// The event types whose body schemas `schema::documents()` holds, in its order.
pub fn event_types() -> Vec<&'static str> {
    hwledger::protocol::schema::documents()
        .iter()
        .filter_map(|(path, _)| path.strip_prefix("events/")?.strip_suffix(".schema.json"))
        .collect()
}

/// Defines a query struct as the HTTP interface declares it in `src/api/<file>`, and records
/// its fields as written, so that a test can tell when the two drift apart.
macro_rules! query_structs {
    ($($file:literal $name:ident { $($field:ident : $ty:ty),* $(,)? })*) => {
        $(
            #[derive(Debug, Deserialize)]
            #[serde(deny_unknown_fields)]
            #[allow(dead_code)]
            pub struct $name { $(pub $field: $ty),* }
        )*

        /// (file under `src/api/`, struct name, its fields as `name:Type` without spaces).
        pub const QUERY_STRUCTS: &[(&str, &str, &[&str])] = &[
            $(($file, stringify!($name), &[$(concat!(stringify!($field), ":", stringify!($ty))),*])),*
        ];

        /// Deserialises `query` into every query struct, as the `Query` extractor of
        /// `src/api/mod.rs` does, and hands each that parsed to `f`.
        pub fn each_query(query: &str, f: &mut dyn FnMut(Parsed)) {
            $(
                match serde_urlencoded::from_str::<$name>(query) {
                    Ok(q) => f(Parsed::$name(q)),
                    Err(e) => assert!(!e.to_string().is_empty(), "a refusal has a message"),
                }
            )*
        }

        /// One query string, parsed as one of the structs.
        #[derive(Debug)]
        pub enum Parsed { $($name($name)),* }
    };
}

// These mirror the structs in src/api (private modules there): the `query_structs_match_the_api`
// test below fails when a field is added, removed or retyped on either side.
query_structs! {
    "catalogue.rs" CodesQuery { category: Option<String>, date: Option<String> }
    "compliance.rs" ReportQuery { org: String, period: String, size: Option<u64> }
    "facilities.rs" FacilitiesQuery { org: Option<String> }
    "ledger.rs" EntriesQuery { from: Option<u64>, limit: Option<u64> }
    "ledger.rs" OrgsQuery { role: Option<String>, region: Option<String>, limit: Option<u64>, after: Option<String> }
    "manifests.rs" ManifestQuery {
        status: Option<String>, generator: Option<String>, carrier: Option<String>,
        receiver: Option<String>, from: Option<String>, to: Option<String>, limit: Option<u64>,
        after: Option<String>
    }
    "manifests.rs" StockQuery { generator: Option<String>, all: Option<bool>, limit: Option<u64>, after: Option<String> }
    "manifests.rs" LicenceQuery { holder: Option<String>, covers: Option<String>, date: Option<String> }
    "proofs.rs" InclusionQuery { seq: Option<String>, size: Option<String> }
    "proofs.rs" ConsistencyQuery { from: Option<String>, to: Option<String> }
    "stats.rs" StatsQuery {
        size: Option<u64>, as_of: Option<String>, from: Option<String>, to: Option<String>,
        region: Option<String>, org: Option<String>, category: Option<String>
    }
    "tickets.rs" TicketQuery { status: Option<String>, kind: Option<String>, org: Option<String>, limit: Option<u64>, after: Option<String> }
    "tickets.rs" ExportQuery { status: Option<String>, kind: Option<String>, org: Option<String> }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of `pub struct <name> { … }` in `text`, as `name:Type` without spaces.
    fn fields_in_source(text: &str, name: &str) -> Option<Vec<String>> {
        let start = text.find(&format!("pub struct {name} {{"))?;
        let body = &text[start..];
        let body = &body[body.find('{')? + 1..body.find("\n}")?];
        Some(
            body.lines()
                .map(|l| l.trim())
                .filter(|l| !l.is_empty() && !l.starts_with("//") && !l.starts_with('#'))
                .map(|l| {
                    l.trim_end_matches(',')
                        .trim_start_matches("pub ")
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect()
                })
                .collect(),
        )
    }

    #[test]
    fn query_structs_match_the_api() {
        let api = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../src/api");
        let mut in_api = Vec::new();
        for entry in std::fs::read_dir(&api).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            // Every struct the `Query` extractor reads there is mirrored here.
            for (i, _) in text.match_indices("Query(q): Query<") {
                let rest = &text[i + "Query(q): Query<".len()..];
                in_api.push(rest[..rest.find('>').unwrap()].to_owned());
            }
        }
        assert!(!in_api.is_empty(), "no `Query` extractor found in src/api");
        for name in &in_api {
            assert!(
                QUERY_STRUCTS.iter().any(|(_, n, _)| n == name),
                "src/api reads query struct {name}, which fuzz/src/lib.rs does not mirror"
            );
        }
        for (file, name, fields) in QUERY_STRUCTS {
            let text = std::fs::read_to_string(api.join(file)).unwrap();
            let found = fields_in_source(&text, name)
                .unwrap_or_else(|| panic!("src/api/{file} has no struct {name}"));
            let ours: Vec<String> = fields
                .iter()
                .map(|f| f.chars().filter(|c| !c.is_whitespace()).collect())
                .collect();
            assert_eq!(found, ours, "src/api/{file} {name}");
        }
    }

    #[test]
    fn every_event_type_has_a_schema() {
        assert_eq!(event_types(), hwledger::protocol::schema::EVENT_TYPES);
    }

    #[test]
    fn the_fixture_key_is_the_fixtures_ledger_key() {
        let genesis = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/v1/ledger.jsonl"),
        )
        .unwrap();
        assert!(genesis.lines().next().unwrap().contains(FIXTURE_LEDGER_KEY));
        let _ = fixture_ledger_key();
    }
}
