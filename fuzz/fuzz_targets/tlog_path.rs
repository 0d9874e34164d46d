//! The tile paths of `/v1/tlog/tile/…` (spec §5a), through `api::tlog::Tile::parse`, the strict
//! parser the handler runs before any database read; and the sizes that imply a tile.
//!
//! Asserts: nothing panics; a path that parses has one spelling (it prints back as written),
//! a level of at most 63 and a width of 1 to 256; `implied_by` never overflows, and a tile
//! implied by a size is implied by every larger size.

#![no_main]

use hwledger::api::tlog::{index_path, Tile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (sizes, path) = data.split_at(data.len().min(8));
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    let Some(tile) = Tile::parse(path) else {
        return;
    };
    assert_eq!(tile.path(), path, "a tile path has one spelling");
    assert!(tile.level.is_none_or(|l| l <= 63));
    assert!((1..=256).contains(&tile.width));
    assert!(path.contains(&index_path(tile.index)));
    let mut raw = [0u8; 8];
    raw[..sizes.len()].copy_from_slice(sizes);
    let size = u64::from_le_bytes(raw);
    // Served once some size up to the head implies it: a larger head serves it too.
    if tile.implied_by(size) {
        assert!(tile.implied_by(size.saturating_add(1)));
        assert!(tile.implied_by(u64::MAX));
    }
});
