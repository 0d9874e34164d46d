//! The domain, pure: identifiers, reference data, and the state folded from the ledger with the
//! rules every event must satisfy.

pub mod catalogue;
pub mod chain;
pub mod compliance;
pub mod container;
pub mod facility;
pub mod ids;
pub mod licence;
pub mod manifest;
pub mod oversight;
pub mod recorded;
pub mod rejection;
pub mod state;
pub mod stock;
pub mod ticket;
pub mod treatment;
pub mod witness;

/// Serde helpers for values kept in a start-up snapshot (a compact, non-self-describing
/// encoding): a field whose own serde form depends on self-description (a JSON value, a struct
/// that omits absent members) is carried as its JSON text.
pub(crate) mod as_json {
    use serde::de::{DeserializeOwned, Error as _};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(v).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        serde_json::from_str(&text).map_err(D::Error::custom)
    }
}
