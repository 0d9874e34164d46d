//! Step 2 of §3: whether an event id is already recorded, and if so at which seq and with what
//! content.
//!
//! `verify` and any state built without a database keep every id with its seq and digest
//! ([`RecordedIds::Every`]). The service's states do not: that map would grow by about 130 bytes
//! with every entry, whatever is live. They keep a filter of the ids recorded
//! ([`RecordedIds::Filtered`]), which rules out almost every new id at once, and the database's
//! unique index of `entries.id` answers for the rest: before an envelope goes through the rules,
//! the sequencer asks the database about an id the filter cannot rule out
//! ([`RecordedIds::needs_answer`]) and hands the answer over ([`RecordedIds::answer`]). The
//! answers live for one round.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::protocol::event::Hash;

/// Where an event id was recorded: its seq and the SHA-256 of its event's canonical form.
pub type Recorded = (u64, Hash);

/// What step 2 knows of an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Recorded at this seq with this digest.
    Recorded(u64, Hash),
    /// Not recorded.
    New,
    /// The filter cannot rule it out and nobody asked the database: the caller broke the rule
    /// of [`RecordedIds::needs_answer`].
    Unanswered,
}

/// The ids recorded, as step 2 needs them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum RecordedIds {
    /// Every id, with its seq and digest.
    Every(HashMap<Uuid, Recorded>),
    /// A filter of every id, with the answers of the database for this round.
    Filtered {
        filter: IdFilter,
        /// Ids the filter cannot rule out, as the database answered for them in this round,
        /// and the ids recorded in this round.
        #[serde(skip)]
        answers: HashMap<Uuid, Option<Recorded>>,
    },
}

impl PartialEq for RecordedIds {
    /// Two sets of ids are equal when they hold the same ids; a round's answers are not part of
    /// what is recorded.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (RecordedIds::Every(a), RecordedIds::Every(b)) => a == b,
            (RecordedIds::Filtered { filter: a, .. }, RecordedIds::Filtered { filter: b, .. }) => {
                a == b
            }
            _ => false,
        }
    }
}

impl Default for RecordedIds {
    fn default() -> Self {
        RecordedIds::Every(HashMap::new())
    }
}

impl RecordedIds {
    /// A filter and no ids: for a state whose ids the database answers for.
    pub fn filtered() -> Self {
        RecordedIds::Filtered {
            filter: IdFilter::default(),
            answers: HashMap::new(),
        }
    }

    /// The same ids behind a filter.
    pub fn into_filtered(self) -> Self {
        match self {
            RecordedIds::Every(map) => {
                let mut filter = IdFilter::default();
                // In seq order, as they were recorded, so that the filter is the one a replay
                // of the entries builds.
                let mut ids: Vec<(u64, Uuid)> =
                    map.iter().map(|(id, (seq, _))| (*seq, *id)).collect();
                ids.sort_unstable();
                for (_, id) in ids {
                    filter.insert(&id);
                }
                RecordedIds::Filtered {
                    filter,
                    answers: HashMap::new(),
                }
            }
            filtered => filtered,
        }
    }

    pub fn is_filtered(&self) -> bool {
        matches!(self, RecordedIds::Filtered { .. })
    }

    /// Whether step 2 for `id` needs the database's answer first.
    pub fn needs_answer(&self, id: &Uuid) -> bool {
        match self {
            RecordedIds::Every(_) => false,
            RecordedIds::Filtered { filter, answers } => {
                !answers.contains_key(id) && filter.may_contain(id)
            }
        }
    }

    /// The database's answer for `id`, good until [`RecordedIds::forget_answers`].
    pub fn answer(&mut self, id: Uuid, recorded: Option<Recorded>) {
        if let RecordedIds::Filtered { answers, .. } = self {
            answers.insert(id, recorded);
        }
    }

    /// Drops the answers: another process may record any id once this one's round is over.
    pub fn forget_answers(&mut self) {
        if let RecordedIds::Filtered { answers, .. } = self {
            *answers = HashMap::new();
        }
    }

    pub fn lookup(&self, id: &Uuid) -> Lookup {
        let found = match self {
            RecordedIds::Every(map) => map.get(id).copied(),
            RecordedIds::Filtered { filter, answers } => match answers.get(id) {
                Some(answer) => *answer,
                None if filter.may_contain(id) => return Lookup::Unanswered,
                None => None,
            },
        };
        match found {
            Some((seq, digest)) => Lookup::Recorded(seq, digest),
            None => Lookup::New,
        }
    }

    /// Records `id`, accepted in this round at `recorded.0`: a second envelope with this id in
    /// the same round is answered without asking the database.
    pub fn insert(&mut self, id: Uuid, recorded: Recorded) {
        match self {
            RecordedIds::Every(map) => {
                map.insert(id, recorded);
            }
            RecordedIds::Filtered { filter, answers } => {
                filter.insert(&id);
                answers.insert(id, Some(recorded));
            }
        }
    }

    /// Records the id of an entry read from the database, outside any round: the database's
    /// unique index vouches that no other entry has it, and nothing is kept for the round.
    /// `recorded` is called only when the seq and digest are kept.
    pub fn insert_stored(&mut self, id: Uuid, recorded: impl FnOnce() -> Recorded) {
        match self {
            RecordedIds::Every(map) => {
                map.insert(id, recorded());
            }
            RecordedIds::Filtered { filter, .. } => filter.insert(&id),
        }
    }
}

/// A Bloom filter of event ids that grows with them: layers of doubling capacity, each with
/// more bits per id than the one before, so that the chance of a false "maybe" over all layers
/// stays under about 1.3 % at any size (0.82 % for the first layer, about a third of the one
/// before for each next one). Between 10 and 24 bits per id: 46 MB for the eight layers that
/// hold ten million ids, against about 1.3 GB for the ids themselves with their seqs and digests.
///
/// The bits an id sets are a function of its 128 bits alone, fixed here, so a filter written
/// into a snapshot reads back the same under any build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdFilter {
    layers: Vec<Layer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Layer {
    /// How many ids this layer takes before the next one is opened.
    capacity: u64,
    /// How many it holds.
    count: u64,
    /// Bits set per id.
    hashes: u32,
    bits: Vec<u64>,
}

/// The first layer's capacity: 65,536 ids in 80 KB.
const FIRST_CAPACITY: u64 = 1 << 16;

impl Layer {
    /// The layer at position `i`: 2^i times the first's capacity, with 10 + 2i bits per id.
    fn new(i: u32) -> Layer {
        let capacity = FIRST_CAPACITY << i.min(40);
        let bits_per_id = 10 + 2 * u64::from(i.min(20));
        let words = (capacity * bits_per_id).div_ceil(64);
        // The number of bits per id that makes false positives rarest: (m / n) ln 2.
        let hashes = ((bits_per_id as f64) * std::f64::consts::LN_2).round() as u32;
        Layer {
            capacity,
            count: 0,
            hashes,
            bits: vec![0; words as usize],
        }
    }

    /// The bits an id with hashes `(a, b)` sets in this layer.
    fn positions(&self, (a, b): (u64, u64)) -> impl Iterator<Item = u64> + use<> {
        let m = self.bits.len() as u64 * 64;
        (0..u64::from(self.hashes)).map(move |j| {
            let h = a.wrapping_add(j.wrapping_mul(b));
            // h mapped onto 0..m without a division.
            ((u128::from(h) * u128::from(m)) >> 64) as u64
        })
    }

    fn may_contain(&self, hashes: (u64, u64)) -> bool {
        self.positions(hashes)
            .all(|p| self.bits[(p / 64) as usize] & (1 << (p % 64)) != 0)
    }

    fn insert(&mut self, hashes: (u64, u64)) {
        for p in self.positions(hashes) {
            self.bits[(p / 64) as usize] |= 1 << (p % 64);
        }
        self.count += 1;
    }
}

/// SplitMix64's finaliser: every bit of the input reaches every bit of the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Two independent 64-bit hashes of a 128-bit key (an event id's bits), the second odd, for
/// double hashing.
fn key_hashes(v: u128) -> (u64, u64) {
    let a = mix((v as u64) ^ mix((v >> 64) as u64));
    let b = mix(a ^ 0x9e37_79b9_7f4a_7c15) | 1;
    (a, b)
}

impl IdFilter {
    /// False when `id` was certainly never inserted; true when it was, and for a few ids that
    /// were not.
    pub fn may_contain(&self, id: &Uuid) -> bool {
        self.may_contain_key(id.as_u128())
    }

    pub fn insert(&mut self, id: &Uuid) {
        self.insert_key(id.as_u128())
    }

    /// [`IdFilter::may_contain`] for an id given as 128 bits of it (for an id that is not a
    /// UUID, 128 bits of a hash of it).
    pub fn may_contain_key(&self, key: u128) -> bool {
        let hashes = key_hashes(key);
        self.layers.iter().any(|l| l.may_contain(hashes))
    }

    pub fn insert_key(&mut self, key: u128) {
        match self.layers.last() {
            Some(l) if l.count < l.capacity => {}
            _ => {
                let next = Layer::new(self.layers.len() as u32);
                self.layers.push(next);
            }
        }
        self.layers
            .last_mut()
            .expect("a layer")
            .insert(key_hashes(key));
    }

    /// How many ids were inserted.
    pub fn len(&self) -> u64 {
        self.layers.iter().map(|l| l.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn heap_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.bits.len() as u64 * 8).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize, seed: u64) -> Vec<Uuid> {
        // Version-4-like ids from a fixed sequence, so that a failure repeats.
        (0..n as u64)
            .map(|i| {
                let hi = mix(seed ^ mix(i));
                let lo = mix(hi ^ i);
                Uuid::from_u128((u128::from(hi) << 64) | u128::from(lo))
            })
            .collect()
    }

    #[test]
    fn the_filter_never_forgets_an_id_and_rarely_claims_a_new_one() {
        let mut f = IdFilter::default();
        let inserted = ids(300_000, 1);
        for id in &inserted {
            f.insert(id);
        }
        assert_eq!(f.len(), 300_000);
        assert!(
            inserted.iter().all(|id| f.may_contain(id)),
            "no false negative"
        );
        let others = ids(200_000, 2);
        let false_maybes = others.iter().filter(|id| f.may_contain(id)).count();
        // Three layers (65,536 + 131,072 + 262,144 ids): at most about 0.82 + 0.31 + 0.12 %.
        assert!(
            false_maybes < 200_000 * 15 / 1000,
            "{false_maybes} of 200,000 new ids were taken for recorded ones"
        );
        assert!(
            false_maybes > 0,
            "a filter this size has some false positives"
        );
        // The three layers take 720 KB, 2.5 bytes per id at this size, against 56 bytes and
        // more per id for the ids with their seqs and digests.
        assert!(f.heap_bytes() < 300_000 * 3, "{} bytes", f.heap_bytes());
    }

    #[test]
    fn a_filter_reads_back_from_its_encoding_with_the_same_answers() {
        let mut f = IdFilter::default();
        for id in ids(70_000, 3) {
            f.insert(&id);
        }
        let back: IdFilter = postcard::from_bytes(&postcard::to_stdvec(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        for id in ids(70_000, 3).iter().chain(&ids(10_000, 4)) {
            assert_eq!(back.may_contain(id), f.may_contain(id));
        }
    }

    #[test]
    fn the_bits_of_an_id_are_fixed() {
        // A snapshot's filter must read the same under every build: these are the two hashes
        // of an id as this version computes them.
        let id = Uuid::parse_str("6f0d1c52-8a5e-4f43-9b7e-2d1a0c3b4e5f").unwrap();
        let (a, b) = key_hashes(id.as_u128());
        // As computed by an independent implementation of SplitMix64's finaliser.
        assert_eq!(
            (format!("{a:016x}"), format!("{b:016x}")),
            ("33799604705b41fe".into(), "86d423495e939bc1".into())
        );
    }

    #[test]
    fn filtered_ids_ask_for_what_the_filter_cannot_rule_out() {
        let mut ids_ = RecordedIds::filtered();
        let a = Uuid::from_u128(1);
        let digest = [7u8; 32];
        assert!(!ids_.needs_answer(&a), "an empty filter rules every id out");
        assert_eq!(ids_.lookup(&a), Lookup::New);
        ids_.insert(a, (0, digest));
        assert_eq!(
            ids_.lookup(&a),
            Lookup::Recorded(0, digest),
            "in the same round"
        );
        ids_.forget_answers();
        assert!(ids_.needs_answer(&a), "recorded in an earlier round");
        assert_eq!(ids_.lookup(&a), Lookup::Unanswered);
        ids_.answer(a, Some((0, digest)));
        assert!(!ids_.needs_answer(&a));
        assert_eq!(ids_.lookup(&a), Lookup::Recorded(0, digest));
        // A false "maybe" that the database denies is a new id.
        for id in ids(100_000, 5) {
            ids_.insert_stored(id, || (1, digest));
        }
        let b = ids(10_000, 6)
            .into_iter()
            .find(|id| ids_.needs_answer(id))
            .expect("about 1 % of new ids are maybes at this size");
        assert_eq!(ids_.lookup(&b), Lookup::Unanswered);
        ids_.answer(b, None);
        assert_eq!(ids_.lookup(&b), Lookup::New);
        ids_.forget_answers();
        assert_eq!(
            ids_.lookup(&b),
            Lookup::Unanswered,
            "answers last one round"
        );
    }
}
