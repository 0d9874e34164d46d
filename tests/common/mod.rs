//! Shared support for the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod fixtures;
pub mod harness;
pub mod replay;
pub mod vectors;
pub mod witnesses;
