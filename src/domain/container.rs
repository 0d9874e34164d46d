//! Containers (一物一码, HJ 1276-2022): a lot declared in containers consists of them, each with
//! its 37-character 数字识别码; waste in containers ships only by naming them, each is scanned at
//! pickup and weighed at receipt (§6 Containers).
//!
//! A container's identity segments (packing unit, waste code, date) are those of its lot, so the
//! state keeps only what changes: its lot, quantity, status and the manifest holding it. The
//! trace of the entries that touched it is a projection (`container_trace`), written from the
//! steps each accepted entry reports.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ids::WasteCode;
use super::recorded::IdFilter;
use super::rejection::{reject, Code, Rejection};
use super::state::State;
use crate::protocol::time;

/// The length of a 数字识别码: unit (18), waste code (8), packing date (8), serial (3).
pub const CONTAINER_ID_LEN: usize = 37;

/// A container id as the state keeps it: its 37 bytes in place, without an allocation of its
/// own (a `String` takes 24 bytes and an allocation of 48). Every container the ledger made
/// has one: `waste.declared` and `manifest.stored` check the segments of each new id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cid([u8; CONTAINER_ID_LEN]);

impl Cid {
    /// `id` when it is 37 ASCII characters.
    pub fn new(id: &str) -> Option<Cid> {
        let bytes: [u8; CONTAINER_ID_LEN] = id.as_bytes().try_into().ok()?;
        bytes.is_ascii().then_some(Cid(bytes))
    }

    /// The id of a container the rules have checked, as [`Cid::new`].
    pub(super) fn checked(id: &str) -> Cid {
        Cid::new(id).expect("a container id that passed its checks")
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

impl std::ops::Deref for Cid {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for Cid {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// As the `str` it holds, so that a map keyed by ids is looked up by `&str`.
impl std::hash::Hash for Cid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl PartialEq<str> for Cid {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<String> for Cid {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl std::fmt::Debug for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for Cid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Cid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Cid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Cid::new(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not {CONTAINER_ID_LEN} ASCII characters"))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ContainerStatus {
    InStock,
    Reserved,
    Shipped,
    /// Counted above 0 at receipt, or not weighed one by one.
    Received,
    /// Left out of, or at 0 in, a receipt line that lists containers.
    Missing,
    Treated,
}

impl ContainerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::InStock => "in_stock",
            ContainerStatus::Reserved => "reserved",
            ContainerStatus::Shipped => "shipped",
            ContainerStatus::Received => "received",
            ContainerStatus::Missing => "missing",
            ContainerStatus::Treated => "treated",
        }
    }

    pub fn parse(s: &str) -> Option<ContainerStatus> {
        use ContainerStatus::*;
        [InStock, Reserved, Shipped, Received, Missing, Treated]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One container, by its id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Container {
    /// The seq of the entry that made the lot it was last put in.
    pub lot: super::stock::LotKey,
    /// What it holds in that lot.
    pub quantity_g: i64,
    pub status: ContainerStatus,
    /// The manifest that reserved it, while reserved, shipped, received or missing.
    pub manifest: Option<Uuid>,
    /// Its weight at receipt, when the receipt weighed it.
    pub received_g: Option<i64>,
}

/// Every container, as the rules need them.
///
/// A container is *closed* once nothing can change it again: treated on site, or received
/// (or counted missing) on a manifest that was then disposed of or stored without keeping it.
/// The rules ask a closed container only whether it exists (a new container may not take its
/// id) and why it is not available. `verify` and any state built without a database keep
/// closed containers with the live ones ([`Closed::Kept`]). The service's states do not: a
/// closed container leaves memory for a filter of the ids closed ([`Closed::Filtered`]), and
/// the `containers` query table, which holds every container's last row, answers for an id the
/// filter cannot rule out. Before an envelope goes through the rules, the sequencer asks the
/// database about each id it names that [`Containers::needs_answer`], and hands the answer
/// over ([`Containers::answer`]); the answers live for one round.
///
/// A container closed by an envelope the sequencer accepts stays in memory until the round's
/// query rows are written ([`Containers::evict`] at the start of the next round); one closed
/// by an entry read back from the database leaves at once.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Containers {
    live: HashMap<Cid, Container>,
    closed: Closed,
    /// Set while an entry read from the database is applied: it was accepted, so an id the
    /// filter cannot rule out and nobody asked about is a new one.
    #[serde(skip)]
    stored: bool,
}

/// Where closed containers are.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub enum Closed {
    /// With the live ones.
    #[default]
    Kept,
    /// Out of memory: a filter of their ids, the database's answers for this round, and the
    /// ids closed since the last [`Containers::evict`], in the order they were closed.
    Filtered {
        filter: IdFilter,
        pending: Vec<Cid>,
        #[serde(skip)]
        answers: HashMap<String, Option<ContainerStatus>>,
    },
}

impl PartialEq for Containers {
    /// Two sets of containers are equal when they hold the same containers the same way; a
    /// round's answers are not part of them.
    fn eq(&self, other: &Self) -> bool {
        self.live == other.live
            && match (&self.closed, &other.closed) {
                (Closed::Kept, Closed::Kept) => true,
                (
                    Closed::Filtered {
                        filter: a,
                        pending: p,
                        ..
                    },
                    Closed::Filtered {
                        filter: b,
                        pending: q,
                        ..
                    },
                ) => a == b && p == q,
                _ => false,
            }
    }
}

/// What the rules know of a container id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found<'a> {
    Live(&'a Container),
    /// Closed, with its last status; `None` when nobody asked the database about an id the
    /// filter cannot rule out (the caller broke the rule of [`Containers::needs_answer`]), which
    /// the rules treat as existing so that nothing is written over it.
    Closed(Option<ContainerStatus>),
    Unknown,
}

/// The 128 bits of a container id the filter works on: the first half of its SHA-256.
fn filter_key(id: &str) -> u128 {
    let d = Sha256::digest(id.as_bytes());
    u128::from_be_bytes(d[..16].try_into().expect("16 bytes"))
}

impl Containers {
    /// The same containers, closed ones to be kept out of memory from now on. Containers
    /// already closed stay in memory: which ones those are is not known here.
    pub fn into_filtered(mut self) -> Self {
        if matches!(self.closed, Closed::Kept) {
            self.closed = Closed::Filtered {
                filter: IdFilter::default(),
                pending: Vec::new(),
                answers: HashMap::new(),
            };
        }
        self
    }

    /// A live container (or, for a state that keeps them, a closed one).
    pub fn get(&self, id: &str) -> Option<&Container> {
        self.live.get(id)
    }

    /// The containers in memory (every one for a state that keeps closed ones), in no order.
    pub fn iter(&self) -> impl Iterator<Item = (&Cid, &Container)> {
        self.live.iter()
    }

    /// How many containers are in memory: every one for a state that keeps closed ones.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// How many containers were closed and left memory.
    pub fn closed_out(&self) -> u64 {
        match &self.closed {
            Closed::Kept => 0,
            Closed::Filtered { filter, .. } => filter.len(),
        }
    }

    pub(super) fn get_mut(&mut self, id: &str) -> Option<&mut Container> {
        self.live.get_mut(id)
    }

    pub(super) fn insert(&mut self, id: Cid, c: Container) {
        self.live.insert(id, c);
    }

    pub(super) fn lookup(&self, id: &str) -> Found<'_> {
        if let Some(c) = self.live.get(id) {
            return Found::Live(c);
        }
        match &self.closed {
            Closed::Kept => Found::Unknown,
            Closed::Filtered {
                filter, answers, ..
            } => match answers.get(id) {
                Some(Some(status)) => Found::Closed(Some(*status)),
                Some(None) => Found::Unknown,
                None if self.stored || !filter.may_contain_key(filter_key(id)) => Found::Unknown,
                None => {
                    debug_assert!(false, "container {id} was not asked about");
                    Found::Closed(None)
                }
            },
        }
    }

    /// Whether the rules need the database's answer for `id` first.
    pub fn needs_answer(&self, id: &str) -> bool {
        match &self.closed {
            Closed::Kept => false,
            Closed::Filtered {
                filter, answers, ..
            } => {
                !self.live.contains_key(id)
                    && !answers.contains_key(id)
                    && filter.may_contain_key(filter_key(id))
            }
        }
    }

    /// The database's answer for `id`: the status of its row, or `None` without one. Good
    /// until [`Containers::forget_answers`].
    pub fn answer(&mut self, id: String, status: Option<ContainerStatus>) {
        if let Closed::Filtered { answers, .. } = &mut self.closed {
            answers.insert(id, status);
        }
    }

    /// Drops the answers: another process may make or close any container once this one's
    /// round is over.
    pub fn forget_answers(&mut self) {
        if let Closed::Filtered { answers, .. } = &mut self.closed {
            *answers = HashMap::new();
        }
    }

    pub(super) fn set_stored(&mut self, stored: bool) {
        self.stored = stored;
    }

    /// Marks a live container closed: it leaves memory at the next [`Containers::evict`].
    pub(super) fn close(&mut self, id: &str) {
        if let Closed::Filtered { pending, .. } = &mut self.closed {
            if self.live.contains_key(id) {
                pending.push(Cid::checked(id));
            }
        }
    }

    /// Takes the containers closed since the last call out of memory, into the filter.
    pub fn evict(&mut self) {
        if let Closed::Filtered {
            filter, pending, ..
        } = &mut self.closed
        {
            for id in pending.drain(..) {
                if self.live.remove(&id).is_some() {
                    filter.insert_key(filter_key(&id));
                }
            }
        }
    }
}

/// Every string in an event's body that could be a container id, for
/// [`Containers::needs_answer`]: wherever an event names containers, it names them by their
/// 37-character ids.
pub fn named_ids(body: &serde_json::Value) -> Vec<&str> {
    fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::String(s) if s.len() == CONTAINER_ID_LEN => out.push(s),
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(body, &mut out);
    out
}

impl std::ops::Index<&str> for Containers {
    type Output = Container;

    fn index(&self, id: &str) -> &Container {
        self.live.get(id).expect("a live container")
    }
}

/// A container named with its quantity (`waste.declared`, a receipt line).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weighed {
    pub id: String,
    pub quantity_g: i64,
}

/// The packing unit of a container id (its first segment).
pub fn packer(id: &str) -> &str {
    id.get(..18).unwrap_or(id)
}

/// Whether `id` has the segments of §2 for a container packed by `holder` on `date` holding
/// `code`: unit, waste code without hyphens, date `YYYYMMDD`, serial 001–999.
pub fn segments_match(id: &str, holder: &str, code: &str, date: NaiveDate) -> Result<(), String> {
    if id.len() != CONTAINER_ID_LEN || !id.is_ascii() {
        return Err(format!("{id:?} is not {CONTAINER_ID_LEN} ASCII characters"));
    }
    let (unit, rest) = id.split_at(18);
    let (waste, rest) = rest.split_at(8);
    let (day, serial) = rest.split_at(8);
    if unit != holder {
        return Err(format!("{id}: the unit {unit} is not {holder}"));
    }
    if waste != code.replace('-', "") {
        return Err(format!("{id}: the waste code {waste} is not {code}"));
    }
    if day != time::format_date(date).replace('-', "") {
        return Err(format!(
            "{id}: the packing date {day} is not the lot's date {}",
            time::format_date(date)
        ));
    }
    let n: u32 = serial
        .parse()
        .ok()
        .filter(|_| serial.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(0);
    if !(1..=999).contains(&n) {
        return Err(format!("{id}: the serial {serial} is not 001 to 999"));
    }
    Ok(())
}

impl State {
    /// The checks of new containers for a lot of `quantity_g` of `code` at `holder` dated
    /// `date`, one by one in list order (`bad_container_id`, `container_exists`), then their sum
    /// (`containers_mismatch`).
    pub(super) fn check_new_containers(
        &self,
        list: &[Weighed],
        holder: &str,
        code: &WasteCode,
        date: NaiveDate,
        quantity_g: i64,
    ) -> Result<(), Rejection> {
        let mut seen = HashSet::new();
        for c in list {
            segments_match(&c.id, holder, code.as_str(), date)
                .map_err(|m| Rejection::new(Code::BadContainerId, m))?;
            let exists = !matches!(self.containers.lookup(&c.id), Found::Unknown);
            if exists || !seen.insert(c.id.as_str()) {
                return reject(
                    Code::ContainerExists,
                    format!("container {} already exists", c.id),
                );
            }
        }
        let sum: i64 = list.iter().map(|c| c.quantity_g).sum();
        if sum != quantity_g {
            return reject(
                Code::ContainersMismatch,
                format!("the containers hold {sum} g; the lot is {quantity_g} g"),
            );
        }
        Ok(())
    }

    /// The checks of containers named to take from stock at `holder` (a manifest line, a
    /// treatment): each exists (`unknown_container`), is in stock at the holder, of `code`,
    /// unreserved and in a lot `lot_ok` accepts (`container_unavailable`); then they hold
    /// `quantity_g` (`containers_mismatch`). Returns the (lot, grams) they take, by lot in the
    /// order first named.
    pub(super) fn check_named_containers(
        &self,
        ids: &[String],
        holder: &str,
        code: &str,
        quantity_g: i64,
        lot_ok: impl Fn(&super::stock::Lot) -> bool,
    ) -> Result<Vec<(super::stock::LotKey, i64)>, Rejection> {
        let mut take: Vec<(super::stock::LotKey, i64)> = Vec::new();
        for id in ids {
            let c = match self.containers.lookup(id) {
                Found::Live(c) => c,
                Found::Closed(status) => {
                    return reject(
                        Code::ContainerUnavailable,
                        format!(
                            "container {id} is {}; not available here",
                            status.map_or("closed", ContainerStatus::as_str)
                        ),
                    )
                }
                Found::Unknown => {
                    return reject(Code::UnknownContainer, format!("no container {id}"))
                }
            };
            let lot = &self.lots[&c.lot];
            if c.status != ContainerStatus::InStock
                || lot.generator != holder
                || lot.code != code
                || !lot_ok(lot)
            {
                return reject(
                    Code::ContainerUnavailable,
                    format!(
                        "container {id} is {} in lot {} of {} ({}); not available here",
                        c.status.as_str(),
                        c.lot.seq,
                        lot.generator,
                        lot.code
                    ),
                );
            }
            match take.iter_mut().find(|(l, _)| *l == c.lot) {
                Some((_, q)) => *q += c.quantity_g,
                None => take.push((c.lot, c.quantity_g)),
            }
        }
        let sum: i64 = take.iter().map(|(_, q)| q).sum();
        if sum != quantity_g {
            return reject(
                Code::ContainersMismatch,
                format!("the containers hold {sum} g; the line is {quantity_g} g"),
            );
        }
        Ok(take)
    }

    /// Closes the containers a manifest delivered that it did not put back into stock, once it
    /// is disposed of or stored: those still received or missing on it.
    pub(super) fn close_delivered_containers(&mut self, manifest: Uuid) {
        let Some(m) = self.manifests.get(&manifest) else {
            return;
        };
        let delivered = |id: &Cid| {
            self.containers.get(id).is_some_and(|c| {
                c.manifest == Some(manifest)
                    && matches!(
                        c.status,
                        ContainerStatus::Received | ContainerStatus::Missing
                    )
            })
        };
        let closing: Vec<Cid> = m
            .lines
            .iter()
            .flat_map(|l| l.containers.iter().flatten().map(|lc| lc.id))
            .filter(delivered)
            .collect();
        for id in closing {
            self.containers.close(&id);
        }
    }

    /// Moves containers to a status (and the manifest holding them).
    pub(super) fn set_containers(
        &mut self,
        ids: &[String],
        status: ContainerStatus,
        manifest: Option<Uuid>,
    ) {
        for id in ids {
            if let Some(c) = self.containers.get_mut(id) {
                c.status = status;
                c.manifest = manifest;
                if matches!(status, ContainerStatus::InStock | ContainerStatus::Reserved) {
                    c.received_g = None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drum(status: ContainerStatus) -> Container {
        Container {
            lot: crate::domain::stock::LotKey::new(7, "HW08-900-214-08"),
            quantity_g: 100,
            status,
            manifest: None,
            received_g: None,
        }
    }

    fn id(n: u32) -> String {
        format!("91320100MA1XXXXX0X90021408202612{n:05}")
    }

    #[test]
    fn a_closed_container_leaves_memory_at_the_eviction_and_is_answered_by_the_database() {
        let mut c = Containers::default().into_filtered();
        for n in 0..3 {
            c.insert(Cid::checked(&id(n)), drum(ContainerStatus::InStock));
        }
        c.get_mut(&id(1)).unwrap().status = ContainerStatus::Treated;
        c.close(&id(1));
        // Until its rows are written it stays, and nobody needs to ask about it.
        assert_eq!(c.len(), 3);
        assert!(matches!(c.lookup(&id(1)), Found::Live(_)));
        assert!(!c.needs_answer(&id(1)));
        c.evict();
        assert_eq!((c.len(), c.closed_out()), (2, 1));
        assert!(c.get(&id(1)).is_none());
        assert!(c.needs_answer(&id(1)), "the filter cannot rule it out");
        c.answer(id(1), Some(ContainerStatus::Treated));
        assert!(!c.needs_answer(&id(1)));
        assert_eq!(
            c.lookup(&id(1)),
            Found::Closed(Some(ContainerStatus::Treated))
        );
        // The answer lives for one round.
        c.forget_answers();
        assert!(c.needs_answer(&id(1)));
        // Live containers and unknown ids are answered from memory.
        assert!(!c.needs_answer(&id(0)));
        let unknown: Vec<String> = (100..1100).map(id).collect();
        let asked = unknown.iter().filter(|x| c.needs_answer(x)).count();
        assert!(asked < 20, "{asked} of 1000 unknown ids would be looked up");
        assert!(unknown
            .iter()
            .filter(|x| !c.needs_answer(x))
            .all(|x| c.lookup(x) == Found::Unknown));
    }

    #[test]
    fn a_state_without_a_database_keeps_closed_containers() {
        let mut c = Containers::default();
        c.insert(Cid::checked(&id(1)), drum(ContainerStatus::Treated));
        c.close(&id(1));
        c.evict();
        assert_eq!((c.len(), c.closed_out()), (1, 0));
        assert!(!c.needs_answer(&id(1)));
        assert!(matches!(c.lookup(&id(1)), Found::Live(_)));
        assert_eq!(c.lookup(&id(2)), Found::Unknown);
    }

    #[test]
    fn the_same_closings_give_equal_containers_whenever_they_are_evicted() {
        // The writer evicts at the start of its next round, a replay at once: the same ids in
        // the same order make the same filter.
        let mut a = Containers::default().into_filtered();
        let mut b = Containers::default().into_filtered();
        for n in 0..50 {
            a.insert(Cid::checked(&id(n)), drum(ContainerStatus::InStock));
            b.insert(Cid::checked(&id(n)), drum(ContainerStatus::InStock));
        }
        for n in (0..50).step_by(3) {
            a.close(&id(n));
            b.close(&id(n));
            b.evict();
        }
        assert_ne!(a, b);
        a.evict();
        assert_eq!(a, b);
    }

    #[test]
    fn a_cid_is_its_37_bytes_and_reads_and_hashes_as_its_text() {
        assert_eq!(std::mem::size_of::<Cid>(), CONTAINER_ID_LEN);
        let text = id(7);
        let c = Cid::new(&text).unwrap();
        assert_eq!(c.as_str(), text);
        assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(text));
        assert_eq!(
            serde_json::from_value::<Cid>(serde_json::json!(text)).unwrap(),
            c
        );
        assert!(serde_json::from_value::<Cid>(serde_json::json!(format!("{text}0"))).is_err());
        assert!(Cid::new(&text[1..]).is_none());
        assert!(Cid::new(&format!("{}é", &text[..35])).is_none());
        // A map keyed by ids is looked up by the text.
        let mut m = HashMap::new();
        m.insert(c, 1);
        assert_eq!(m.get(text.as_str()), Some(&1));
        let mut sorted = [
            Cid::checked(&id(2)),
            Cid::checked(&id(10)),
            Cid::checked(&id(1)),
        ];
        sorted.sort();
        let mut texts = [id(2), id(10), id(1)];
        texts.sort();
        assert!(sorted.iter().zip(&texts).all(|(a, b)| a == b));
    }

    #[test]
    fn named_ids_finds_every_37_character_string_of_a_body() {
        let body = serde_json::json!({"generator": "x", "lines": [{"containers": [id(1), id(2)]}],
            "containers": [{"id": id(3), "quantity_g": 5}], "note": "short"});
        let mut found = named_ids(&body);
        found.sort_unstable();
        assert_eq!(found, [id(1), id(2), id(3)]);
    }
}
