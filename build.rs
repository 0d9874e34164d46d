use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    // The migrations are embedded at compile time: rebuild when they change.
    println!("cargo:rerun-if-changed=migrations");

    // A start-up snapshot holds the domain state as this build's rules fold it. The digest of
    // the source that defines those rules and that state marks which build wrote a snapshot;
    // a snapshot written by another build of the rules is not loaded.
    let mut files = Vec::new();
    for dir in ["src/domain", "src/protocol"] {
        println!("cargo:rerun-if-changed={dir}");
        collect(Path::new(dir), &mut files);
    }
    println!("cargo:rerun-if-changed=src/snapshot.rs");
    files.push(PathBuf::from("src/snapshot.rs"));
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        let text = std::fs::read(f).unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
        h.update(f.to_string_lossy().as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(&text);
    }
    println!(
        "cargo:rustc-env=HWLEDGER_RULES_DIGEST={}",
        hex(&h.finalize())
    );
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for e in entries {
        let path = e.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
