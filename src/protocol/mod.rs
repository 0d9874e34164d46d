//! The wire protocol, pure: canonical JSON, schemas, events and entries, signing bytes, hashes,
//! the Merkle tree, checkpoints, timestamps and key files.

pub mod checkpoint;
pub mod cosignature;
pub mod event;
pub mod jcs;
pub mod keys;
pub mod merkle;
pub mod schema;
pub mod time;
pub mod token;
