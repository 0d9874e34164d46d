//! Locates the shared test vectors, which live beside the project rather than
//! in it.

use std::path::PathBuf;

/// The folder holding `jcs-vectors/` and `rfc6962-vectors/`: the
/// `HWLEDGER_SHARED_DATA` environment variable if set, else `../shared/data`
/// next to the project.
pub fn shared_data() -> PathBuf {
    let dir = match std::env::var_os("HWLEDGER_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
    };
    assert!(
        dir.is_dir(),
        "test vectors not found at {}: set HWLEDGER_SHARED_DATA to the folder holding \
         jcs-vectors and rfc6962-vectors",
        dir.display()
    );
    dir
}
