//! The log as C2SP tlog-tiles (spec §5a) under `/v1/tlog/`: hash tiles and entry bundles, read
//! from the stored tree nodes and entry hashes with one range read each, never by rehashing
//! leaves; and the checkpoints, for tools that read a tiled log.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ApiResult};
use super::AppState;
use crate::protocol::checkpoint::Checkpoint;
use crate::protocol::cosignature;

/// Hashes per full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// The highest tile level C2SP allows.
const MAX_LEVEL: u32 = 63;

/// A tile path's meaning: `level` `None` for an entry bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub level: Option<u32>,
    pub index: u64,
    /// 1..=255 for a partial tile, 256 for a full one.
    pub width: u64,
}

impl Tile {
    /// Parses the part of the path after `/v1/tlog/tile/` strictly: the only spelling accepted
    /// is the one [`Tile::path`] writes (no leading zeros, the `x` groups, `.p/<W>` with W in
    /// 1..255).
    pub fn parse(path: &str) -> Option<Tile> {
        let parts: Vec<&str> = path.split('/').collect();
        let (first, rest) = parts.split_first()?;
        let level = match *first {
            "entries" => None,
            l => Some(l.parse::<u32>().ok().filter(|&l| l <= MAX_LEVEL)?),
        };
        let (index_parts, width) = match rest.iter().position(|p| p.ends_with(".p")) {
            Some(i) if i + 2 == rest.len() => {
                let w: u64 = rest[i + 1]
                    .parse()
                    .ok()
                    .filter(|w| (1..TILE_WIDTH).contains(w))?;
                (&rest[..=i], w)
            }
            Some(_) => return None,
            None => (rest, TILE_WIDTH),
        };
        let (last, groups) = index_parts.split_last()?;
        let mut digits = String::new();
        for g in groups {
            digits.push_str(g.strip_prefix('x')?);
        }
        digits.push_str(last.strip_suffix(".p").unwrap_or(last));
        if digits.is_empty() || digits.len() > 21 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let index: u64 = digits.parse().ok()?;
        let tile = Tile {
            level,
            index,
            width,
        };
        (tile.path() == path).then_some(tile)
    }

    /// The path after `/v1/tlog/tile/`.
    pub fn path(&self) -> String {
        let mut out = match self.level {
            None => "entries/".to_owned(),
            Some(l) => format!("{l}/"),
        };
        out.push_str(&index_path(self.index));
        if self.width < TILE_WIDTH {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// The tree level its hashes are at: 8 × L (bundles: the leaves).
    fn height(&self) -> u32 {
        8 * self.level.unwrap_or(0)
    }

    /// Whether some tree size ≤ `size` implies this tile: a full tile once the tree holds all
    /// of it, a partial tile of width W when a size ends W nodes into it.
    pub fn implied_by(&self, size: u64) -> bool {
        let span = |h: u32| 2u128.checked_pow(h);
        let (Some(per_node), Some(per_tile)) = (span(self.height()), span(self.height() + 8))
        else {
            return false;
        };
        // Past u128 (a high level with a large index) no size reaches it.
        (self.index as u128)
            .checked_mul(per_tile)
            .and_then(|n| n.checked_add(self.width as u128 * per_node))
            .is_some_and(|needed| needed <= size as u128)
    }
}

/// `N` in 3-digit groups, each but the last prefixed with `x`: 1234067 → `x001/x234/067`.
pub fn index_path(n: u64) -> String {
    let mut digits = n.to_string();
    while digits.len() % 3 != 0 {
        digits.insert(0, '0');
    }
    let groups: Vec<&str> = (0..digits.len() / 3)
        .map(|i| &digits[3 * i..3 * i + 3])
        .collect();
    let (last, rest) = groups.split_last().expect("at least one group");
    let mut out = String::new();
    for g in rest {
        out.push('x');
        out.push_str(g);
        out.push('/');
    }
    out.push_str(last);
    out
}

fn immutable(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        bytes,
    )
        .into_response()
}

fn note(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        text,
    )
        .into_response()
}

/// A hash tile or an entry bundle.
#[utoipa::path(get, path = "/v1/tlog/tile/{tile}", tag = "ledger",
    params(("tile" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N in x-prefixed 3-digit groups")),
    responses((status = 200, description = "W × 32 hash bytes, or W × (0x00 0x20 ‖ entry hash) for a bundle", content_type = "application/octet-stream"),
        (status = 404, body = super::Problem, description = "not_found: another spelling, or a tile no size up to the head implies")))]
pub async fn tile(State(state): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let not_found = || ApiError::NotFound(format!("tile {path}"));
    let tile = Tile::parse(&path).ok_or_else(not_found)?;
    // This process's head first: heads only grow, so a tile it implies is there.
    let mut head = state.sequencer.head().size;
    if !tile.implied_by(head) {
        head = state.store.head().await?.size;
        if !tile.implied_by(head) {
            return Err(not_found());
        }
    }
    Ok(immutable(read_tile(&state.store, &tile).await?))
}

/// The bytes of a tile, from the stored hashes (the caller has checked that the head implies
/// it, so every hash is stored).
pub async fn read_tile(store: &crate::store::Store, tile: &Tile) -> anyhow::Result<Vec<u8>> {
    let from = tile.index * TILE_WIDTH;
    let hashes = match tile.level {
        None => store.entry_hashes(from, tile.width).await?,
        Some(_) => {
            store
                .tree_level_range(tile.height(), from, tile.width)
                .await?
        }
    };
    if hashes.len() as u64 != tile.width {
        anyhow::bail!(
            "tile {}: {} of {} stored hashes found",
            tile.path(),
            hashes.len(),
            tile.width
        );
    }
    let mut bytes = Vec::with_capacity(hashes.len() * 34);
    for h in &hashes {
        if tile.level.is_none() {
            bytes.extend_from_slice(&[0x00, 0x20]);
        }
        bytes.extend_from_slice(h);
    }
    Ok(bytes)
}

/// How many of the largest cosigned sizes `/v1/tlog/checkpoint` considers before it falls back
/// to the largest size that needs no cosignature.
const CANDIDATE_SIZES: u64 = 64;

/// The checkpoint of the largest size whose stored cosignatures meet the quorum of the witness
/// policy in force at that size (§5a), with the ledger's line and the witnesses' lines; with
/// quorum 0 at the head, the latest. The sizes that qualify are the head when its policy asks
/// for no cosignature, and the sizes with stored cosignatures that meet their policy's quorum:
/// a size before a policy took over does not qualify for want of one, so that a client asking
/// for a witnessed checkpoint is told to wait (503) rather than handed an unwitnessed one.
#[utoipa::path(get, path = "/v1/tlog/checkpoint", tag = "ledger",
    responses((status = 200, description = "signed note with cosignatures", content_type = "text/plain"),
        (status = 503, body = super::Problem, description = "quorum_not_met: no checkpoint is cosigned by enough witnesses yet")))]
pub async fn checkpoint(State(state): State<AppState>) -> ApiResult<Response> {
    let (size, policies) = {
        let st = state.sequencer.state().await;
        (st.size, st.witness_policies.clone())
    };
    let at_head = policies.at(size);
    let rows = state
        .store
        .recent_cosignatures(size, CANDIDATE_SIZES)
        .await?;
    if at_head.quorum == 0 {
        let stored: Vec<_> = rows.iter().filter(|r| r.size == size).cloned().collect();
        return Ok(note(cosigned(&state, size, at_head, &stored).await?.0));
    }
    let mut i = 0;
    while i < rows.len() {
        let s = rows[i].size;
        let end = rows[i..]
            .iter()
            .position(|r| r.size != s)
            .map_or(rows.len(), |n| i + n);
        let group = &rows[i..end];
        i = end;
        let policy = policies.at(s);
        let (text, count) = cosigned(&state, s, policy, group).await?;
        if count >= policy.quorum as usize {
            return Ok(note(text));
        }
    }
    Err(ApiError::QuorumNotMet(format!(
        "no checkpoint up to size {size} carries valid cosignatures of {} witnesses of its policy yet",
        at_head.quorum
    )))
}

/// The signed checkpoint of `size` followed by the stored, valid cosignature lines of the
/// witnesses of `policy` among `stored`, in the policy's order; and how many there are.
async fn cosigned(
    state: &AppState,
    size: u64,
    policy: &crate::domain::witness::Policy,
    stored: &[crate::store::StoredCosignature],
) -> ApiResult<(String, usize)> {
    let root = super::proofs::root_at(&state.store, size).await?;
    let checkpoint = Checkpoint {
        origin: state.ledger.origin.clone(),
        size,
        root,
    };
    let mut out = checkpoint.sign(&state.ledger.key);
    let count = append_cosignatures(&mut out, &checkpoint.body(), policy, stored);
    Ok((out, count))
}

/// Appends to `note` each witness of `policy` whose stored line verifies over `text`.
fn append_cosignatures(
    note: &mut String,
    text: &str,
    policy: &crate::domain::witness::Policy,
    stored: &[crate::store::StoredCosignature],
) -> usize {
    let mut count = 0;
    for w in &policy.witnesses {
        let Ok(witness) = cosignature::parse_witness_arg(&format!("{}={}", w.name, w.key)) else {
            continue;
        };
        let valid = stored.iter().find(|c| {
            c.witness == w.name
                && c.key == w.key
                && cosignature::verify_line(&c.line, text, &w.name, &witness.key).is_ok()
        });
        if let Some(c) = valid {
            note.push_str(&c.line);
            note.push('\n');
            count += 1;
        }
    }
    count
}

/// The checkpoint of a size from 1 to the head, with the stored cosignatures of the witnesses
/// of the policy in force at that size.
#[utoipa::path(get, path = "/v1/tlog/checkpoints/{size}", tag = "ledger",
    params(("size" = u64, Path, description = "tree size, 1 to the head")),
    responses((status = 200, description = "signed note with cosignatures", content_type = "text/plain"),
        (status = 404, body = super::Problem, description = "not_found")))]
pub async fn checkpoint_at(
    State(state): State<AppState>,
    Path(size): Path<String>,
) -> ApiResult<Response> {
    let mut out = super::ledger::note_at(&state, &size, 1).await?;
    let n: u64 = size.parse().expect("note_at accepted a decimal size");
    let stored = state.store.cosignatures_at(n).await?;
    if !stored.is_empty() {
        let policy = state.sequencer.state().await.witness_policies.at(n).clone();
        let text = out[..=out.find("\n\n").expect("a signed note")].to_owned();
        append_cosignatures(&mut out, &text, &policy, &stored);
    }
    Ok(note(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_c2sp() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(1_234_067), "x001/x234/067");
        assert_eq!(index_path(999), "999");
    }

    #[test]
    fn paths_parse_strictly() {
        let t = |level, index, width| Tile {
            level,
            index,
            width,
        };
        assert_eq!(Tile::parse("0/000"), Some(t(Some(0), 0, 256)));
        assert_eq!(
            Tile::parse("1/x001/x234/067.p/8"),
            Some(t(Some(1), 1_234_067, 8))
        );
        assert_eq!(Tile::parse("entries/x001/000"), Some(t(None, 1000, 256)));
        assert_eq!(Tile::parse("entries/000.p/255"), Some(t(None, 0, 255)));
        for bad in [
            "",
            "0",
            "00/000",
            "0/0",
            "0/00",
            "0/0000",
            "0/x000/001",
            "0/001/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "0/000.p",
            "0/000.p/1/2",
            "64/000",
            "-1/000",
            "0/x001",
            "entries",
            "entries/",
            "entry/000",
            "0/+01",
            "0/000/",
            "/0/000",
            "0/x1000/000",
            "0/000.p/1.p/1",
        ] {
            assert_eq!(Tile::parse(bad), None, "{bad:?}");
        }
    }

    /// The tiles each size implies, as C2SP's examples: a full tile once complete, one partial
    /// tile per level for the rest.
    #[test]
    fn sizes_imply_the_expected_tiles() {
        let full = |level, index| Tile {
            level: Some(level),
            index,
            width: 256,
        };
        let partial = |level, index, width| Tile {
            level: Some(level),
            index,
            width,
        };
        // 1: one partial level-0 tile of width 1.
        assert!(partial(0, 0, 1).implied_by(1));
        assert!(!partial(0, 0, 2).implied_by(1) && !full(0, 0).implied_by(1));
        // 255 / 256 / 257.
        assert!(partial(0, 0, 255).implied_by(255) && !full(0, 0).implied_by(255));
        assert!(full(0, 0).implied_by(256) && partial(1, 0, 1).implied_by(256));
        assert!(!partial(0, 1, 1).implied_by(256));
        assert!(partial(0, 1, 1).implied_by(257) && !partial(1, 0, 2).implied_by(257));
        // 65,536: 256 full level-0 tiles, one full level-1 tile, level 2 partial of width 1.
        assert!(full(0, 255).implied_by(65_536) && !partial(0, 256, 1).implied_by(65_536));
        assert!(full(1, 0).implied_by(65_536) && partial(2, 0, 1).implied_by(65_536));
        assert!(!partial(1, 1, 1).implied_by(65_536));
        // 70,000 = 273 × 256 + 112: full level-0 tiles 0..272, partial 273 of width 112; level 1:
        // full tile 0, partial tile 1 of width 17 (70,000 / 256 = 273 = 256 + 17).
        assert!(full(0, 272).implied_by(70_000) && !full(0, 273).implied_by(70_000));
        assert!(
            partial(0, 273, 112).implied_by(70_000) && !partial(0, 273, 113).implied_by(70_000)
        );
        assert!(partial(1, 1, 17).implied_by(70_000) && !partial(1, 1, 18).implied_by(70_000));
        assert!(partial(2, 0, 1).implied_by(70_000) && !partial(2, 0, 2).implied_by(70_000));
        // Every partial tile of a smaller size stays served.
        assert!(partial(0, 0, 7).implied_by(70_000));
        // Huge levels and indexes never overflow.
        assert!(!full(63, 0).implied_by(u64::MAX));
        assert!(!full(0, u64::MAX / 256).implied_by(u64::MAX));
        // Found by fuzzing: level 14's tiles span 2^120 leaves, so index 615 is past u128.
        assert!(!partial(14, 615, 1).implied_by(u64::MAX));
        assert!(!full(7, u64::MAX).implied_by(u64::MAX));
    }
}
