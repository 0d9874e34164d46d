//! RFC 8785 canonicalisation checked against the cyberphone/json-canonicalization
//! test vectors.

mod common;

use std::fs;

use hwledger::protocol::jcs::canonical;

#[test]
fn canonical_form_matches_the_vectors() {
    let dir = common::vectors::shared_data().join("jcs-vectors");
    let mut inputs: Vec<_> = fs::read_dir(dir.join("input"))
        .expect("jcs-vectors/input is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no vectors in {}", dir.display());

    for input in &inputs {
        let name = input.file_name().expect("file name");
        // The vectors include floats, which parse_strict refuses by design.
        let value: serde_json::Value =
            serde_json::from_slice(&fs::read(input).expect("input is readable"))
                .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
        let want = fs::read(dir.join("output").join(name)).expect("output is readable");
        let got = canonical(&value);
        assert!(
            got == want,
            "{}:\n got  {}\n want {}",
            input.display(),
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }
}
