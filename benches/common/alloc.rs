//! The allocator the `hwledger` binary uses (see `src/main.rs`), so that a benchmark that runs
//! the service in its own process measures what is shipped.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
