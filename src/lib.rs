#![forbid(unsafe_code)]
//! hwledger: an append-only, hash-chained ledger of Ed25519-signed events about hazardous waste,
//! from which every manifest's state, the proper-disposal rate and the problem list are derived.
//!
//! `protocol` and `domain` are pure (no I/O); `store` is the database; `sequencer` the single
//! writer; `snapshot` its start-up snapshots; `api` the HTTP interface; `cli` the command line; `audit` the offline recomputation; `witnessing` submits checkpoints to witnesses, and `witness` is the witness server.

pub mod api;
pub mod audit;
pub mod cli;
pub mod domain;
pub mod protocol;
pub mod sequencer;
pub mod service;
pub mod snapshot;
pub mod store;
pub mod witness;
pub mod witnessing;
