//! The ledger's RFC 6962 Merkle tree (RFC 9162 §2.1): hashing, an append
//! frontier, and inclusion and consistency proofs.
//!
//! Storage keeps the hash of every completed perfect subtree, keyed by
//! [`NodeId`]. Roots and proofs for any size are then built in three steps:
//! plan which stored nodes are needed (`*_nodes`), fetch them, and assemble
//! (`root_from`, `inclusion_proof`, `consistency_proof`). Only O(log n) nodes
//! are read, and the fetch in between can be asynchronous.

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Why a proof could not be built or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a consistency proof needs a first size above zero")]
    ZeroSize,
    #[error("first size {first} is larger than second size {second}")]
    SizeOrder { first: u64, second: u64 },
    #[error("proof has {got} hashes, expected {want}")]
    WrongProofLength { got: usize, want: usize },
    #[error("computed root does not match the expected root")]
    RootMismatch,
    #[error("computed root of the first tree does not match its expected root")]
    FirstRootMismatch,
    #[error("node at level {} index {} is missing", .0.level, .0.index)]
    MissingNode(NodeId),
}

/// The root of the perfect subtree over leaves
/// `[index · 2^level, (index + 1) · 2^level)`; level 0 is a leaf hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u32,
    pub index: u64,
}

/// RFC 6962 leaf hash of an entry hash: SHA-256(0x00 ‖ entry_hash).
pub fn leaf_hash(entry_hash: &Hash) -> Hash {
    Sha256::new()
        .chain_update([0x00])
        .chain_update(entry_hash)
        .finalize()
        .into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Incremental state for appends: the roots of the perfect subtrees that make
/// up the current size (a "compact range").
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    size: u64,
    /// One hash per set bit of `size`, largest subtree (leftmost) first.
    nodes: Vec<Hash>,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf (already leaf-hashed); returns every node completed
    /// by it: the leaf itself (level 0) and each parent that became complete,
    /// so the caller can store them.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let position = self.size;
        let mut completed = vec![(
            NodeId {
                level: 0,
                index: position,
            },
            leaf,
        )];
        let mut hash = leaf;
        // Each trailing one bit of the old size is a perfect subtree of the
        // same height as the one just completed: merge them.
        let mut level = 0;
        while (position >> level) & 1 == 1 {
            let left = self
                .nodes
                .pop()
                .expect("a set bit of the size has its subtree");
            hash = node_hash(&left, &hash);
            level += 1;
            completed.push((
                NodeId {
                    level,
                    index: position >> level,
                },
                hash,
            ));
        }
        self.nodes.push(hash);
        self.size += 1;
        completed
    }

    /// The root of the tree of the current size.
    pub fn root(&self) -> Hash {
        fold_right(&self.nodes).unwrap_or_else(empty_root)
    }

    /// The perfect nodes whose hashes rebuild a frontier of `size` (to restore
    /// at start-up from storage).
    pub fn nodes_for(size: u64) -> Vec<NodeId> {
        decompose(0, size)
    }

    /// Rebuilds the frontier of `size` from the hashes of
    /// [`Frontier::nodes_for`]`(size)`, in that order.
    ///
    /// # Panics
    ///
    /// If `hashes` does not hold exactly one hash per node of `nodes_for(size)`.
    pub fn from_nodes(size: u64, hashes: &[Hash]) -> Self {
        assert_eq!(
            hashes.len(),
            size.count_ones() as usize,
            "a frontier of size {size} needs one hash per set bit of the size"
        );
        Self {
            size,
            nodes: hashes.to_vec(),
        }
    }
}

/// The stored perfect nodes needed to compute the root of the tree of `size`
/// leaves.
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    decompose(0, size)
}

/// The stored perfect nodes needed for the inclusion proof of leaf `index` in
/// the tree of `size` leaves.
pub fn inclusion_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, ProofError> {
    Ok(plan_nodes(&inclusion_ranges(index, size)?))
}

/// The stored perfect nodes needed for the consistency proof from size `m` to
/// size `n`.
pub fn consistency_nodes(m: u64, n: u64) -> Result<Vec<NodeId>, ProofError> {
    Ok(plan_nodes(&consistency_ranges(m, n)?))
}

/// The root of the tree of `size` leaves, from the nodes of
/// [`root_nodes`]`(size)`.
pub fn root_from(size: u64, get: impl Fn(NodeId) -> Option<Hash>) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_root(
        Range {
            start: 0,
            end: size,
        },
        &get,
    )
}

/// The RFC 9162 §2.1.3.1 inclusion proof of leaf `index` in the tree of
/// `size` leaves, from the nodes of [`inclusion_nodes`].
pub fn inclusion_proof(
    index: u64,
    size: u64,
    get: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>, ProofError> {
    assemble(&inclusion_ranges(index, size)?, &get)
}

/// The RFC 9162 §2.1.4.1 consistency proof from size `m` to size `n`, from
/// the nodes of [`consistency_nodes`].
pub fn consistency_proof(
    m: u64,
    n: u64,
    get: impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>, ProofError> {
    assemble(&consistency_ranges(m, n)?, &get)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2) of the leaf hash `leaf` at
/// `index` in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let want = inclusion_len(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want,
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 || r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2) between the tree of `m`
/// leaves with root `root_m` and the tree of `n` leaves with root `root_n`.
///
/// As in the protocol, `0 < m ≤ n`; for `m = n` the proof is empty and the
/// roots must be equal.
pub fn verify_consistency(
    m: u64,
    n: u64,
    root_m: &Hash,
    root_n: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    check_sizes(m, n)?;
    let want = consistency_len(m, n);
    if proof.len() != want {
        return Err(ProofError::WrongProofLength {
            got: proof.len(),
            want,
        });
    }
    if m == n {
        return if root_m == root_n {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // The proof omits the first tree's root when that tree is a perfect
    // subtree of the second; the verifier supplies it instead.
    let mut path = proof.iter();
    let seed = if m.is_power_of_two() {
        root_m
    } else {
        path.next().expect("the proof length was checked")
    };
    let mut f_n = m - 1;
    let mut s_n = n - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut f_r = *seed;
    let mut s_r = *seed;
    for c in path {
        if s_n == 0 {
            return Err(ProofError::WrongProofLength {
                got: proof.len(),
                want,
            });
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if f_r != *root_m {
        return Err(ProofError::FirstRootMismatch);
    }
    if s_n != 0 || s_r != *root_n {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Leaves `[start, end)` of a subtree of the RFC 6962 tree: `start` is a
/// multiple of the largest power of two not above `end − start`, so the
/// subtree is perfect or the rightmost, imperfect, one of its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
}

/// The perfect subtrees that make up `[start, end)`, largest first; `start`
/// must be aligned as in [`Range`].
fn decompose(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::with_capacity((end - start).count_ones() as usize);
    let mut at = start;
    let mut remaining = end - start;
    while remaining != 0 {
        let level = 63 - remaining.leading_zeros();
        nodes.push(NodeId {
            level,
            index: at >> level,
        });
        at += 1 << level;
        remaining -= 1 << level;
    }
    nodes
}

/// The largest power of two strictly below `n` (n ≥ 2): RFC 6962's split
/// point `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The subtrees whose roots form PATH(index, D[0:size]), in proof order.
fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut ranges = Vec::new();
    // Walk from the root down, collecting each sibling; the proof lists them
    // from the leaf up.
    let (mut start, mut len, mut m) = (0, size, index);
    while len > 1 {
        let k = split(len);
        if m < k {
            ranges.push(Range {
                start: start + k,
                end: start + len,
            });
            len = k;
        } else {
            ranges.push(Range {
                start,
                end: start + k,
            });
            start += k;
            m -= k;
            len -= k;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The subtrees whose roots form PROOF(m, D[0:n]), in proof order.
fn consistency_ranges(m: u64, n: u64) -> Result<Vec<Range>, ProofError> {
    check_sizes(m, n)?;
    let mut ranges = Vec::new();
    // SUBPROOF(m, D[start:start+len], whole) from the root down; `whole`
    // stays true while the old tree is a prefix ending at a left subtree of
    // the full tree, whose root the verifier already has.
    let (mut start, mut len, mut m, mut whole) = (0, n, m, true);
    while m != len {
        let k = split(len);
        if m <= k {
            ranges.push(Range {
                start: start + k,
                end: start + len,
            });
            len = k;
        } else {
            ranges.push(Range {
                start,
                end: start + k,
            });
            start += k;
            m -= k;
            len -= k;
            whole = false;
        }
    }
    if !whole {
        ranges.push(Range {
            start,
            end: start + len,
        });
    }
    ranges.reverse();
    Ok(ranges)
}

fn check_sizes(m: u64, n: u64) -> Result<(), ProofError> {
    if m == 0 {
        return Err(ProofError::ZeroSize);
    }
    if m > n {
        return Err(ProofError::SizeOrder {
            first: m,
            second: n,
        });
    }
    Ok(())
}

/// Hashes in an inclusion proof: the levels where the paths to `index` and
/// to the last leaf have split, plus one per left sibling above that.
fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Hashes in a consistency proof for `0 < m ≤ n`.
fn consistency_len(m: u64, n: u64) -> usize {
    if m == n {
        return 0;
    }
    let shift = m.trailing_zeros();
    let inner = 64 - ((m - 1) ^ (n - 1)).leading_zeros();
    let border = (m - 1).checked_shr(inner).unwrap_or(0).count_ones();
    let seed = usize::from(!m.is_power_of_two());
    seed + (inner - shift + border) as usize
}

fn plan_nodes(ranges: &[Range]) -> Vec<NodeId> {
    ranges
        .iter()
        .flat_map(|r| decompose(r.start, r.end))
        .collect()
}

fn assemble(
    ranges: &[Range],
    get: &impl Fn(NodeId) -> Option<Hash>,
) -> Result<Vec<Hash>, ProofError> {
    ranges.iter().map(|&r| range_root(r, get)).collect()
}

/// The root of a subtree, folded from its perfect parts.
fn range_root(range: Range, get: &impl Fn(NodeId) -> Option<Hash>) -> Result<Hash, ProofError> {
    let hashes = decompose(range.start, range.end)
        .into_iter()
        .map(|id| get(id).ok_or(ProofError::MissingNode(id)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(fold_right(&hashes).expect("a non-empty range has at least one node"))
}

/// Combines the roots of adjacent perfect subtrees, largest first, into the
/// root of their union: the right-hand subtrees are merged first, as in the
/// RFC 6962 split.
fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    hashes
        .iter()
        .rev()
        .copied()
        .reduce(|right, left| node_hash(&left, &right))
}

#[cfg(test)]
mod reference {
    //! RFC 9162 §2.1 written out literally over a list of entry hashes, to
    //! check the planned and assembled versions against.

    use super::{empty_root, leaf_hash, node_hash, Hash};

    fn k(n: usize) -> usize {
        let mut k = 1;
        while k << 1 < n {
            k <<= 1;
        }
        k
    }

    pub fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => leaf_hash(&d[0]),
            n => {
                let k = k(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    pub fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n == 1 {
            return Vec::new();
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    pub fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        subproof(m, d, true)
    }

    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    const MAX: u64 = 70;

    fn entry(i: u64) -> Hash {
        Sha256::digest(i.to_be_bytes()).into()
    }

    /// Entry hashes and the node table a ledger of `size` entries stores.
    fn ledger(size: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>) {
        let entries: Vec<Hash> = (0..size).map(entry).collect();
        let mut frontier = Frontier::new();
        let mut store = HashMap::new();
        for e in &entries {
            store.extend(frontier.push(leaf_hash(e)));
        }
        (entries, store)
    }

    fn idx(n: u64) -> usize {
        usize::try_from(n).unwrap()
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Frontier::new().root(), empty_root());
        assert_eq!(root_from(0, |_| None), Ok(empty_root()));
        assert!(root_nodes(0).is_empty());
    }

    #[test]
    fn frontier_root_matches_reference_after_each_push() {
        let (entries, _) = ledger(MAX);
        let mut frontier = Frontier::new();
        for (i, e) in entries.iter().enumerate() {
            let completed = frontier.push(leaf_hash(e));
            assert_eq!(frontier.size(), i as u64 + 1);
            assert_eq!(frontier.root(), reference::mth(&entries[..=i]));
            // The leaf and one node per trailing one bit of the old size.
            assert_eq!(completed.len(), 1 + (i as u64).trailing_ones() as usize);
            for (id, hash) in completed {
                let first = idx(id.index << id.level);
                let last = first + (1 << id.level);
                assert!(last <= i + 1);
                assert_eq!(hash, reference::mth(&entries[first..last]), "{id:?}");
            }
        }
    }

    #[test]
    fn frontier_round_trips_through_storage() {
        let (_, store) = ledger(MAX);
        let mut frontier = Frontier::new();
        for size in 0..=MAX {
            let hashes: Vec<Hash> = Frontier::nodes_for(size)
                .into_iter()
                .map(|id| store[&id])
                .collect();
            let restored = Frontier::from_nodes(size, &hashes);
            assert_eq!(restored.size(), size);
            assert_eq!(restored.root(), frontier.root());
            // A restored frontier keeps appending like the original.
            let mut a = restored;
            let mut b = frontier.clone();
            assert_eq!(a.push(entry(1000)), b.push(entry(1000)));
            assert_eq!(a.root(), b.root());
            frontier.push(leaf_hash(&entry(size)));
        }
    }

    #[test]
    fn roots_from_stored_nodes_match_reference() {
        let (entries, store) = ledger(MAX);
        for size in 1..=MAX {
            let root = root_from(size, |id| store.get(&id).copied()).unwrap();
            assert_eq!(root, reference::mth(&entries[..idx(size)]));
            assert_eq!(root_nodes(size).len(), size.count_ones() as usize);
        }
    }

    #[test]
    fn inclusion_proofs_match_reference_and_verify() {
        let (entries, store) = ledger(MAX);
        let get = |id| store.get(&id).copied();
        for size in 1..=MAX {
            let d = &entries[..idx(size)];
            let root = reference::mth(d);
            for index in 0..size {
                let planned = inclusion_nodes(index, size).unwrap();
                assert!(planned.iter().all(|id| store.contains_key(id)));
                let proof = inclusion_proof(index, size, get).unwrap();
                assert_eq!(proof, reference::path(idx(index), d), "{index} of {size}");
                let leaf = leaf_hash(&entries[idx(index)]);
                assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));

                let other = leaf_hash(&entry(size + 7));
                assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
                if index + 1 < size {
                    assert!(verify_inclusion(index + 1, size, &leaf, &proof, &root).is_err());
                }
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][0] ^= 1;
                    assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn consistency_proofs_match_reference_and_verify() {
        let (entries, store) = ledger(MAX);
        let get = |id| store.get(&id).copied();
        for n in 1..=MAX {
            let root_n = reference::mth(&entries[..idx(n)]);
            for m in 1..=n {
                let root_m = reference::mth(&entries[..idx(m)]);
                let planned = consistency_nodes(m, n).unwrap();
                assert!(planned.iter().all(|id| store.contains_key(id)));
                let proof = consistency_proof(m, n, get).unwrap();
                assert_eq!(
                    proof,
                    reference::proof(idx(m), &entries[..idx(n)]),
                    "{m} to {n}"
                );
                assert_eq!(verify_consistency(m, n, &root_m, &root_n, &proof), Ok(()));

                assert!(verify_consistency(m, n, &root_n, &root_m, &proof).is_err() || m == n);
                // A wrong second size is not always caught (1 to 3 has the
                // shape of 1 to 4): the proof binds sizes only through its
                // shape, and the signed checkpoint binds size and root.
                if m < n {
                    assert!(verify_consistency(m + 1, n, &root_m, &root_n, &proof).is_err());
                }
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][31] ^= 0x80;
                    assert!(verify_consistency(m, n, &root_m, &root_n, &bad).is_err());
                }
            }
        }
    }

    #[test]
    fn planning_refuses_impossible_requests() {
        assert_eq!(
            inclusion_nodes(0, 0),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            inclusion_nodes(5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(consistency_nodes(0, 3), Err(ProofError::ZeroSize));
        assert_eq!(
            consistency_nodes(4, 3),
            Err(ProofError::SizeOrder {
                first: 4,
                second: 3
            })
        );
        assert_eq!(consistency_nodes(3, 3), Ok(Vec::new()));
    }

    #[test]
    fn assembling_reports_a_missing_node() {
        let (_, store) = ledger(8);
        let store = &store;
        let without = |gone: NodeId| move |id: NodeId| (id != gone).then(|| store[&id]);
        let gone = NodeId { level: 1, index: 1 };
        assert_eq!(
            inclusion_proof(0, 8, without(gone)),
            Err(ProofError::MissingNode(gone))
        );
        let gone = NodeId { level: 3, index: 0 };
        assert_eq!(
            root_from(8, without(gone)),
            Err(ProofError::MissingNode(gone))
        );
        assert_eq!(
            ProofError::MissingNode(gone).to_string(),
            "node at level 3 index 0 is missing"
        );
    }

    #[test]
    fn verification_refuses_bad_shapes() {
        let h = empty_root();
        assert_eq!(
            verify_inclusion(0, 0, &h, &[], &h),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            verify_inclusion(0, 2, &h, &[], &h),
            Err(ProofError::WrongProofLength { got: 0, want: 1 })
        );
        assert_eq!(
            verify_consistency(0, 0, &h, &h, &[]),
            Err(ProofError::ZeroSize)
        );
        assert_eq!(
            verify_consistency(2, 2, &h, &h, &[h]),
            Err(ProofError::WrongProofLength { got: 1, want: 0 })
        );
        assert_eq!(verify_consistency(2, 2, &h, &h, &[]), Ok(()));
    }

    proptest! {
        /// Plans for sizes far beyond any test tree name only complete
        /// nodes, and stay logarithmic.
        #[test]
        fn plans_name_only_complete_nodes(n in 1..u64::MAX, a in any::<u64>(), b in any::<u64>()) {
            let complete = |id: &NodeId, size: u64| {
                (u128::from(id.index) + 1) << id.level <= u128::from(size)
            };
            let index = a % n;
            let nodes = inclusion_nodes(index, n).unwrap();
            prop_assert!(nodes.iter().all(|id| complete(id, n)));
            prop_assert!(nodes.len() <= 2 * 64);
            let beside_the_leaf = nodes.iter().all(|id| {
                let first = id.index << id.level;
                index < first || index >= first + (1 << id.level)
            });
            prop_assert!(beside_the_leaf);
            let m = 1 + b % n;
            let nodes = consistency_nodes(m, n).unwrap();
            prop_assert!(nodes.iter().all(|id| complete(id, n)));
            prop_assert!(nodes.len() <= 3 * 64);
            prop_assert_eq!(inclusion_ranges(index, n).unwrap().len(), inclusion_len(index, n));
            prop_assert_eq!(consistency_ranges(m, n).unwrap().len(), consistency_len(m, n));
        }

        #[test]
        fn larger_trees_prove_and_verify(n in 1..600u64, a in any::<u64>(), b in any::<u64>()) {
            let (entries, store) = ledger(n);
            let get = |id| store.get(&id).copied();
            let root_n = root_from(n, get).unwrap();
            prop_assert_eq!(root_n, reference::mth(&entries));
            let index = a % n;
            let proof = inclusion_proof(index, n, get).unwrap();
            let leaf = leaf_hash(&entries[idx(index)]);
            prop_assert_eq!(verify_inclusion(index, n, &leaf, &proof, &root_n), Ok(()));
            let m = 1 + b % n;
            let root_m = root_from(m, get).unwrap();
            let proof = consistency_proof(m, n, get).unwrap();
            prop_assert_eq!(verify_consistency(m, n, &root_m, &root_n, &proof), Ok(()));
        }
    }
}
