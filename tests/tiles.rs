//! C2SP tlog-tiles (spec §5a): the tiles a size implies rebuild that size's root with a
//! computation independent of the service's own tree code, entry bundles carry the entry
//! hashes whose leaf hashes the level-0 tiles hold, strict paths, immutable caching headers.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Connection;
use tower::ServiceExt;

use common::harness::*;
use hwledger::api::tlog::{read_tile, Tile};
use hwledger::protocol::merkle::Frontier;
use hwledger::store::{DbUrl, Store};

type Hash = [u8; 32];

fn node(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// RFC 6962 MTH over leaf hashes, straight from the definition.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = n.next_power_of_two() / 2;
            node(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// The root of `size` from tiles, as a tile-reading client computes it: the perfect subtrees
/// of the size, largest first, each read from the tile of its height when that is a multiple
/// of 8, else hashed from the two halves below; folded from the right.
async fn root_from_tiles(store: &Store, size: u64) -> Hash {
    let mut cache: std::collections::HashMap<(u32, u64, u64), Vec<u8>> = Default::default();
    let mut subtrees = Vec::new();
    let mut start = 0u64;
    for h in (0..64).rev() {
        if size - start >= 1 << h {
            subtrees.push((h as u32, start >> h));
            start += 1 << h;
        }
    }
    let mut hashes = Vec::new();
    for (h, i) in subtrees {
        hashes.push(subtree(store, size, h, i, &mut cache).await);
    }
    let mut root = hashes.pop().unwrap();
    while let Some(left) = hashes.pop() {
        root = node(&left, &root);
    }
    root
}

async fn subtree(
    store: &Store,
    size: u64,
    height: u32,
    index: u64,
    cache: &mut std::collections::HashMap<(u32, u64, u64), Vec<u8>>,
) -> Hash {
    if height % 8 != 0 {
        let l = Box::pin(subtree(store, size, height - 1, 2 * index, cache)).await;
        let r = Box::pin(subtree(store, size, height - 1, 2 * index + 1, cache)).await;
        return node(&l, &r);
    }
    let level = height / 8;
    let tile_index = index / 256;
    // The widest tile this size implies at that index: full, or partial up to the size.
    let full = Tile {
        level: Some(level),
        index: tile_index,
        width: 256,
    };
    let width = if full.implied_by(size) {
        256
    } else {
        (size >> height) % 256
    };
    let tile = Tile {
        level: Some(level),
        index: tile_index,
        width,
    };
    assert!(tile.implied_by(size), "{tile:?} at {size}");
    let key = (level, tile_index, width);
    if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(key) {
        let bytes = read_tile(store, &tile).await.expect("the tile reads");
        assert_eq!(bytes.len() as u64, 32 * width);
        slot.insert(bytes);
    }
    let at = (index % 256) as usize * 32;
    cache[&key][at..at + 32].try_into().unwrap()
}

/// A tree of `n` synthetic leaves stored as the writer stores it (every perfect node).
async fn synthetic_tree(db: &TestDb, n: u64) -> Vec<Hash> {
    let store = Store::connect(&DbUrl::new(db.url.clone())).await.unwrap();
    store.close().await;
    let leaves: Vec<Hash> = (0..n)
        .map(|i| Sha256::digest(i.to_be_bytes()).into())
        .collect();
    let mut frontier = Frontier::new();
    let mut nodes = Vec::new();
    for l in &leaves {
        nodes.extend(frontier.push(*l));
    }
    macro_rules! insert_all {
        ($conn:expr) => {{
            let mut tx = $conn.begin().await.unwrap();
            for chunk in nodes.chunks(5000) {
                let mut q = sqlx::QueryBuilder::new("insert into tree_nodes (level, idx, hash) ");
                q.push_values(chunk, |mut b, (id, h)| {
                    b.push_bind(id.level as i64)
                        .push_bind(id.index as i64)
                        .push_bind(h.to_vec());
                });
                q.build().execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }};
    }
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            insert_all!(c)
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            insert_all!(c)
        }
    }
    leaves
}

storage_test!(
    the_tiles_of_every_size_rebuild_its_root,
    |backend| async move {
        let db = TestDb::new(backend).await;
        let leaves = synthetic_tree(&db, 70_000).await;
        let store = Store::connect(&DbUrl::new(db.url.clone())).await.unwrap();
        for size in [
            1u64, 2, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 70_000,
        ] {
            assert_eq!(
                root_from_tiles(&store, size).await,
                mth(&leaves[..size as usize]),
                "size {size}"
            );
        }
        // A level-1 tile holds the roots of 256-leaf subtrees; level 2 of 65,536-leaf ones.
        let one = read_tile(
            &store,
            &Tile {
                level: Some(1),
                index: 0,
                width: 256,
            },
        )
        .await
        .unwrap();
        assert_eq!(&one[32..64], &mth(&leaves[256..512])[..]);
        let two = read_tile(
            &store,
            &Tile {
                level: Some(2),
                index: 0,
                width: 1,
            },
        )
        .await
        .unwrap();
        assert_eq!(&two[..], &mth(&leaves[..65_536])[..]);
        store.close().await;
    }
);

async fn get_bytes(l: &TestLedger, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = l
        .router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, bytes)
}

storage_test!(
    a_live_ledger_serves_its_tiles_and_bundles,
    |backend| async move {
        let l = TestLedger::start(backend).await;
        // 600 entries: two full level-0 tiles and a partial one.
        let mut n = 0u64;
        while l.size().await < 600 {
            let want = (600 - l.size().await).min(500);
            let batch: Vec<_> = (0..want)
                .map(|_| {
                    n += 1;
                    let i = 50_000 + n;
                    sign(
                        &event(
                            REGULATOR_ORG,
                            "org.registered",
                            json!({"org": org_id(i), "name": format!("单位{i}"), "region": "320404",
                                   "roles": ["carrier"], "keys": [hex::encode(key(i).verifying_key().to_bytes())]}),
                        ),
                        &l.regulator.key,
                    )
                })
                .collect();
            let (status, v) = l.post(&json!(batch)).await;
            assert!(status.is_success(), "{v}");
        }
        assert_eq!(l.size().await, 600);

        let (status, headers, tile) = get_bytes(&l, "/v1/tlog/tile/0/001").await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/octet-stream");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(tile.len(), 256 * 32);
        let (status, _, bundle) = get_bytes(&l, "/v1/tlog/tile/entries/001").await;
        assert_eq!(status, 200);
        assert_eq!(bundle.len(), 256 * 34);
        for i in 0..256usize {
            let entry = &bundle[34 * i..34 * i + 34];
            assert_eq!(&entry[..2], &[0x00, 0x20]);
            let leaf: Hash = Sha256::new()
                .chain_update([0u8])
                .chain_update(&entry[2..])
                .finalize()
                .into();
            assert_eq!(&tile[32 * i..32 * i + 32], &leaf[..], "leaf {}", 256 + i);
        }
        let (_, e) = l.get("/v1/entries/300").await;
        assert_eq!(e["hash"], hex::encode(&bundle[34 * 44 + 2..34 * 45]));

        // Partial tiles of the head and of earlier sizes; the root of size 600 from them.
        let (status, _, partial) = get_bytes(&l, "/v1/tlog/tile/0/002.p/88").await;
        assert_eq!((status, partial.len()), (StatusCode::OK, 88 * 32));
        let (status, _, level1) = get_bytes(&l, "/v1/tlog/tile/1/000.p/2").await;
        assert_eq!((status, level1.len()), (StatusCode::OK, 64));
        let (_, _, t0) = get_bytes(&l, "/v1/tlog/tile/0/000").await;
        let leaves: Vec<Hash> = t0
            .chunks(32)
            .chain(tile.chunks(32))
            .chain(partial.chunks(32))
            .map(|c| c.try_into().unwrap())
            .collect();
        assert_eq!(&level1[..32], &mth(&leaves[..256])[..]);
        let (_, _, note) = get_bytes(&l, "/v1/tlog/checkpoints/600").await;
        let note = String::from_utf8(note).unwrap();
        let root = base64::engine::general_purpose::STANDARD
            .decode(note.lines().nth(2).unwrap())
            .unwrap();
        assert_eq!(root, mth(&leaves));
        let (status, headers, latest) = get_bytes(&l, "/v1/tlog/checkpoint").await;
        assert_eq!(status, 200);
        assert_eq!(headers["cache-control"], "no-cache");
        let (_, _, v1) = get_bytes(&l, "/v1/checkpoint").await;
        assert_eq!(
            latest, v1,
            "the same bytes as /v1/checkpoint while no witness is in force"
        );
        assert_eq!(get_bytes(&l, "/v1/tlog/tile/0/000.p/7").await.0, 200);

        // Tiles no size up to the head implies, and other spellings: 404.
        for path in [
            "/v1/tlog/tile/0/002",
            "/v1/tlog/tile/0/002.p/89",
            "/v1/tlog/tile/1/000",
            "/v1/tlog/tile/0/003.p/1",
            "/v1/tlog/tile/entries/002",
            "/v1/tlog/tile/0/2",
            "/v1/tlog/tile/00/000",
            "/v1/tlog/tile/0/000.p/256",
            "/v1/tlog/tile/0/x000/001",
            "/v1/tlog/checkpoints/0",
            "/v1/tlog/checkpoints/601",
            "/v1/tlog/checkpoints/0600",
        ] {
            assert_problem(&l.get_with(path, None).await, 404, "not_found");
        }
    }
);
