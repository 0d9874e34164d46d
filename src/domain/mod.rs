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
pub mod rejection;
pub mod state;
pub mod stock;
pub mod ticket;
pub mod treatment;
