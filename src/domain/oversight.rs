//! Oversight derived from the ledger: the automatic tickets of spec §7 and the proper-disposal
//! rate (规范化处理率) of §8.
//!
//! Both are functions of the entries. Which automatic ticket a condition calls for is computed
//! by one function, [`State::expected_ticket`]: the sequencer uses it to open tickets, and the
//! rules use it to accept only tickets the entries before them justify, so `verify` recomputes
//! the whole problem list.
//!
//! The rate is kept as running sums per (generator, date, category), so that the head is
//! answered without replaying anything. Quantities whose class depends on the time of the
//! question (in transit, awaiting disposal, in storage) also sit in an index by deadline: a
//! question at time T moves those whose deadline is before T from pending to improper on the
//! fly, and the sweeper folds them into the sums from time to time (the watermark) so that the
//! correction stays small.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ids::WasteCode;
use super::manifest::{Manifest, ManifestStatus};
use super::rejection::{reject, Code, Rejection};
use super::state::{Limits, State};
use super::stock::{FirstLeg, Lot, LotKey};
use super::treatment::Treatment;
use crate::protocol::time::{self, Timestamp};

/// The namespace of automatic ticket ids (UUIDv5 of `<kind>:<subject key>`).
pub const TICKET_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c2a52_8f5e_4b8e_9a61_1d2c3b4a5e6f);

/// The kinds of improper handling, which are also the ticket kinds the ledger opens itself.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Kind {
    QuantityShortfall,
    UnlicensedReceipt,
    UnlicensedHandling,
    TransitOverdue,
    DisposalOverdue,
    StorageOverdue,
    /// The compliance kinds (§7), in the table's row order: counted apart, never in the rate.
    DisposalShort,
    StorageOverCapacity,
    UnplannedTransfer,
    PlanExceeded,
    PlanMissing,
    DeclarationOverdue,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::QuantityShortfall,
        Kind::UnlicensedReceipt,
        Kind::UnlicensedHandling,
        Kind::TransitOverdue,
        Kind::DisposalOverdue,
        Kind::StorageOverdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::QuantityShortfall => "quantity_shortfall",
            Kind::UnlicensedReceipt => "unlicensed_receipt",
            Kind::UnlicensedHandling => "unlicensed_handling",
            Kind::TransitOverdue => "transit_overdue",
            Kind::DisposalOverdue => "disposal_overdue",
            Kind::StorageOverdue => "storage_overdue",
            Kind::StorageOverCapacity => "storage_over_capacity",
            Kind::DisposalShort => "disposal_short",
            Kind::UnplannedTransfer => "unplanned_transfer",
            Kind::PlanExceeded => "plan_exceeded",
            Kind::PlanMissing => "plan_missing",
            Kind::DeclarationOverdue => "declaration_overdue",
        }
    }

    /// The compliance kinds, in §7's row order.
    pub const COMPLIANCE: [Kind; 6] = [
        Kind::DisposalShort,
        Kind::StorageOverCapacity,
        Kind::UnplannedTransfer,
        Kind::PlanExceeded,
        Kind::PlanMissing,
        Kind::DeclarationOverdue,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .chain(Kind::COMPLIANCE)
            .find(|k| k.as_str() == s)
    }

    /// The compliance kinds that plans and declarations brought (all but
    /// `storage_over_capacity`), which arise only while compliance is on.
    pub fn is_compliance_v2(self) -> bool {
        matches!(
            self,
            Kind::DisposalShort
                | Kind::UnplannedTransfer
                | Kind::PlanExceeded
                | Kind::PlanMissing
                | Kind::DeclarationOverdue
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The ticket kinds the ledger opens itself.
pub const AUTOMATIC_KINDS: [&str; 6] = [
    "quantity_shortfall",
    "unlicensed_receipt",
    "unlicensed_handling",
    "transit_overdue",
    "disposal_overdue",
    "storage_overdue",
];

/// The compliance kinds of §7: duties missed, counted apart in `compliance_by_kind`.
pub const COMPLIANCE_KINDS: [&str; 6] = [
    "disposal_short",
    "storage_over_capacity",
    "unplanned_transfer",
    "plan_exceeded",
    "plan_missing",
    "declaration_overdue",
];

/// The id of the automatic ticket for a condition.
pub fn ticket_id(kind: &str, subject_key: &str) -> Uuid {
    Uuid::new_v5(
        &TICKET_NAMESPACE,
        format!("{kind}:{subject_key}").as_bytes(),
    )
}

/// An automatic ticket the entries call for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AutoTicket {
    pub id: Uuid,
    pub kind: Kind,
    #[serde(with = "crate::domain::as_json")]
    pub subject: Value,
    /// When the condition arose: the causing event's `at`, or the moment a deadline passed.
    pub at: Timestamp,
    pub quantity_g: i64,
    pub summary: String,
}

impl AutoTicket {
    /// The body of its `ticket.opened` event. A shortfall made only of containers counted 0,
    /// with no grams missing from the line, states no quantity (§7: absent when 0).
    pub fn body(&self) -> Value {
        let mut b = json!({
            "ticket": self.id.to_string(),
            "kind": self.kind.as_str(),
            "subject": self.subject,
            "summary": self.summary,
            "quantity_g": self.quantity_g,
        });
        let no_quantity = matches!(self.kind, Kind::PlanMissing | Kind::DeclarationOverdue)
            || (self.kind == Kind::QuantityShortfall && self.quantity_g == 0);
        if no_quantity {
            b.as_object_mut().expect("an object").remove("quantity_g");
        }
        b
    }
}

/// Something with a deadline the sweeper watches.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Watched {
    Transit(Uuid),
    Disposal(Uuid),
    Storage(LotKey),
}

impl Watched {
    fn kind(self) -> Kind {
        match self {
            Watched::Transit(_) => Kind::TransitOverdue,
            Watched::Disposal(_) => Kind::DisposalOverdue,
            Watched::Storage(_) => Kind::StorageOverdue,
        }
    }
}

/// Items keyed by a time, findable both by time and by item.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Schedule<T: Ord + Copy + std::hash::Hash> {
    by_time: BTreeSet<(Timestamp, T)>,
    of: HashMap<T, Timestamp>,
}

impl<T: Ord + Copy + std::hash::Hash + MinValue> Schedule<T> {
    pub fn set(&mut self, item: T, at: Option<Timestamp>) {
        if let Some(old) = self.of.remove(&item) {
            self.by_time.remove(&(old, item));
        }
        if let Some(at) = at {
            self.of.insert(item, at);
            self.by_time.insert((at, item));
        }
    }

    /// Items due strictly before `t`, earliest first.
    pub fn before(&self, t: Timestamp) -> impl Iterator<Item = (Timestamp, T)> + '_ {
        self.by_time.range(..(t, T::min_value())).copied()
    }

    pub fn len(&self) -> usize {
        self.by_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }
}

impl<T: Ord + Copy + std::hash::Hash> Default for Schedule<T> {
    fn default() -> Self {
        Schedule {
            by_time: BTreeSet::new(),
            of: HashMap::new(),
        }
    }
}

/// A smallest value, so that a range can end just before a given time.
pub trait MinValue {
    fn min_value() -> Self;
}

impl MinValue for Watched {
    fn min_value() -> Self {
        Watched::Transit(Uuid::nil())
    }
}

impl MinValue for RateItem {
    fn min_value() -> Self {
        RateItem::Portion(Uuid::nil(), 0, Uuid::nil(), 0)
    }
}

/// What the rate counts (§8): a portion on a manifest line (the line, then the portion's first
/// leg), a lot still at its generator, a portion in a lot stored at a receiver, a treatment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum RateItem {
    Portion(Uuid, u16, Uuid, u16),
    /// A lot of `waste.declared`.
    Lot(LotKey),
    /// A portion (by its first leg) in a lot stored at a receiver.
    LotPortion(LotKey, Uuid, u16),
    /// An on-site treatment, by its seq.
    Treatment(u64),
}

/// The class of a quantity once its time no longer matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Class {
    Proper,
    /// Treated on site by its generator: proper, and also shown apart (§8).
    TreatedOnsite,
    Improper(Kind),
    /// Picked up or received, and within its deadline.
    Pending,
    /// Still at its generator, within its deadline.
    Stored,
}

/// One quantity of an item, where the rate puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contribution {
    pub date: NaiveDate,
    pub category: u8,
    pub quantity_g: i64,
    pub class: Class,
    /// For a pending or stored quantity: the deadline and what it becomes after it.
    pub deadline: Option<(Timestamp, Kind)>,
}

/// Sums of one (generator, date, category).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sums {
    pub proper: i64,
    pub treated: i64,
    pub pending: i64,
    pub stored: i64,
    pub improper: [i64; 6],
}

impl Sums {
    pub(super) fn add(&mut self, class: Class, q: i64) {
        match class {
            Class::Proper => self.proper += q,
            Class::TreatedOnsite => {
                self.proper += q;
                self.treated += q;
            }
            Class::Pending => self.pending += q,
            Class::Stored => self.stored += q,
            Class::Improper(k) => self.improper[k.index()] += q,
        }
    }

    pub(super) fn merge(&mut self, o: &Sums) {
        self.proper += o.proper;
        self.treated += o.treated;
        self.pending += o.pending;
        self.stored += o.stored;
        for (a, b) in self.improper.iter_mut().zip(o.improper) {
            *a += b;
        }
    }
}

/// The running sums of the rate.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(from = "RateBookWire")]
pub struct RateBook {
    /// Deadlines before this time are already folded into the sums as improper.
    watermark: Timestamp,
    buckets: HashMap<String, BTreeMap<(NaiveDate, u8), Sums>>,
    contributions: HashMap<RateItem, (String, Vec<Contribution>)>,
    /// Items with a deadline at or after the watermark.
    timed: Schedule<RateItem>,
    /// The sum of every bucket, kept beside them so that the figures without a filter (the
    /// head of every dashboard) cost nothing that grows with orgs, days and codes. Not stored:
    /// it is summed again from the buckets when a snapshot is loaded.
    #[serde(skip)]
    total: Sums,
    /// The sum of every bucket of each category, for the figures of one category (a
    /// dashboard's breakdown by HW class) at the same cost. Not stored either.
    #[serde(skip)]
    by_category: HashMap<u8, Sums>,
}

/// [`RateBook`] as a snapshot stores it: the same fields in the same order, without the sums
/// kept beside the buckets.
#[derive(serde::Deserialize)]
struct RateBookWire {
    watermark: Timestamp,
    buckets: HashMap<String, BTreeMap<(NaiveDate, u8), Sums>>,
    contributions: HashMap<RateItem, (String, Vec<Contribution>)>,
    timed: Schedule<RateItem>,
}

impl From<RateBookWire> for RateBook {
    fn from(w: RateBookWire) -> Self {
        let mut total = Sums::default();
        let mut by_category: HashMap<u8, Sums> = HashMap::new();
        for ((_, category), s) in w.buckets.values().flat_map(|dates| dates.iter()) {
            total.merge(s);
            by_category.entry(*category).or_default().merge(s);
        }
        RateBook {
            watermark: w.watermark,
            buckets: w.buckets,
            contributions: w.contributions,
            timed: w.timed,
            total,
            by_category,
        }
    }
}

impl Default for RateBook {
    fn default() -> Self {
        RateBook {
            watermark: chrono::DateTime::<chrono::Utc>::MIN_UTC,
            buckets: HashMap::new(),
            contributions: HashMap::new(),
            timed: Schedule::default(),
            total: Sums::default(),
            by_category: HashMap::new(),
        }
    }
}

/// Which lines and lots a figure covers (spec §8 filters).
#[derive(Debug, Clone, Default)]
pub struct RateFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub region: Option<String>,
    pub org: Option<String>,
    pub category: Option<u8>,
}

/// The figures of §8.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    pub proper_g: i64,
    /// The part of `proper_g` treated on site by its generators.
    pub treated_onsite_g: i64,
    pub improper_g: i64,
    pub pending_g: i64,
    pub stored_g: i64,
    /// proper ÷ (proper + improper), or null when both are 0.
    pub rate: Option<f64>,
    #[schema(value_type = Object)]
    pub improper_by_kind: BTreeMap<&'static str, i64>,
    /// Conditions of each compliance kind arisen by the reference time.
    #[schema(value_type = Object)]
    pub compliance_by_kind: BTreeMap<&'static str, i64>,
}

impl Figures {
    fn of(s: &Sums) -> Figures {
        let improper: i64 = s.improper.iter().sum();
        let total = s.proper + improper;
        Figures {
            proper_g: s.proper,
            treated_onsite_g: s.treated,
            improper_g: improper,
            pending_g: s.pending,
            stored_g: s.stored,
            rate: (total > 0).then(|| s.proper as f64 / total as f64),
            improper_by_kind: Kind::ALL
                .iter()
                .map(|k| (k.as_str(), s.improper[k.index()]))
                .collect(),
            compliance_by_kind: COMPLIANCE_KINDS.iter().map(|k| (*k, 0)).collect(),
        }
    }
}

impl Sums {
    /// The improper grams by kind, the kinds above 0 only.
    pub(super) fn improper_above_zero(&self) -> BTreeMap<&'static str, i64> {
        Kind::ALL
            .iter()
            .filter(|k| self.improper[k.index()] > 0)
            .map(|k| (k.as_str(), self.improper[k.index()]))
            .collect()
    }
}

/// What a quantity of `class` with `deadline` is at `t`: a pending or stored quantity whose
/// deadline is before `t` has become improper.
pub(super) fn class_at(class: Class, deadline: Option<(Timestamp, Kind)>, t: Timestamp) -> Class {
    match deadline {
        Some((d, kind)) if d < t => Class::Improper(kind),
        _ => class,
    }
}

impl Contribution {
    /// The class at the book's watermark (deadlines before it have passed).
    fn class_at(&self, t: Timestamp) -> Class {
        class_at(self.class, self.deadline, t)
    }
}

impl RateBook {
    /// Deadlines before this time are folded into the sums; figures are for times after it.
    pub fn watermark(&self) -> Timestamp {
        self.watermark
    }

    /// Adds `q` grams of `class` to the bucket of `c`, to the total and to its category's sum.
    fn add(&mut self, org: &str, c: &Contribution, class: Class, q: i64) {
        self.buckets
            .entry(org.to_owned())
            .or_default()
            .entry((c.date, c.category))
            .or_default()
            .add(class, q);
        self.total.add(class, q);
        self.by_category
            .entry(c.category)
            .or_default()
            .add(class, q);
    }

    /// Replaces an item's contributions.
    pub fn set(&mut self, item: RateItem, org: &str, contributions: Vec<Contribution>) {
        if let Some((old_org, old)) = self.contributions.remove(&item) {
            for c in old {
                let class = c.class_at(self.watermark);
                self.add(&old_org, &c, class, -c.quantity_g);
            }
        }
        let mut next: Option<Timestamp> = None;
        for c in &contributions {
            let class = c.class_at(self.watermark);
            self.add(org, c, class, c.quantity_g);
            if let Some((d, _)) = c.deadline {
                if d >= self.watermark {
                    next = Some(next.map_or(d, |n: Timestamp| n.min(d)));
                }
            }
        }
        self.timed.set(item, next);
        if !contributions.is_empty() {
            self.contributions
                .insert(item, (org.to_owned(), contributions));
        }
    }

    /// Folds every deadline before `t` into the sums (for the sweeper; figures do not change).
    pub fn advance(&mut self, t: Timestamp) {
        if t <= self.watermark {
            return;
        }
        let due: Vec<RateItem> = self.timed.before(t).map(|(_, i)| i).collect();
        let old = self.watermark;
        for item in due {
            let Some((org, cs)) = self.contributions.get(&item).cloned() else {
                continue;
            };
            let mut next = None;
            for c in &cs {
                let (before, after) = (c.class_at(old), c.class_at(t));
                if before != after {
                    self.add(&org, c, before, -c.quantity_g);
                    self.add(&org, c, after, c.quantity_g);
                }
                if let Some((d, _)) = c.deadline {
                    if d >= t {
                        next = Some(next.map_or(d, |n: Timestamp| n.min(d)));
                    }
                }
            }
            self.timed.set(item, next);
        }
        self.watermark = t;
    }

    fn matches(filter: &RateFilter, c: &Contribution) -> bool {
        filter.from.is_none_or(|f| c.date >= f)
            && filter.to.is_none_or(|t| c.date < t)
            && filter.category.is_none_or(|k| c.category == k)
    }

    /// The figures at time `t` (not before the watermark) for the orgs `org_ok` passes, which
    /// must be the filter's own org and region test: a filter without any condition is answered
    /// from the maintained total, and one of a category alone from that category's sum.
    pub fn figures(
        &self,
        t: Timestamp,
        filter: &RateFilter,
        org_ok: impl Fn(&str) -> bool,
    ) -> Figures {
        let kept = (filter.from.is_none()
            && filter.to.is_none()
            && filter.region.is_none()
            && filter.org.is_none())
        .then(|| match filter.category {
            None => self.total,
            Some(k) => self.by_category.get(&k).copied().unwrap_or_default(),
        });
        let mut total = kept.unwrap_or_default();
        for (org, dates) in self.buckets.iter().filter(|_| kept.is_none()) {
            if !org_ok(org) {
                continue;
            }
            let lo = filter.from.unwrap_or(NaiveDate::MIN);
            for ((date, category), s) in dates.range((lo, 0)..) {
                if filter.to.is_some_and(|to| *date >= to) {
                    break;
                }
                if filter.category.is_none_or(|k| k == *category) {
                    total.merge(s);
                }
            }
        }
        // Deadlines between the watermark and t have passed since the sums were folded.
        let base = self.watermark;
        for (_, item) in self.timed.before(t) {
            let Some((org, cs)) = self.contributions.get(&item) else {
                continue;
            };
            if !org_ok(org) {
                continue;
            }
            for c in cs.iter().filter(|c| Self::matches(filter, c)) {
                let (before, after) = (c.class_at(base), c.class_at(t));
                if before != after {
                    total.add(before, -c.quantity_g);
                    total.add(after, c.quantity_g);
                }
            }
        }
        Figures::of(&total)
    }
}

fn category_of(code: &str) -> u8 {
    WasteCode::parse(code)
        .map(|c| c.category().number())
        .unwrap_or(0)
}

fn seconds(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

/// What a line carries of one portion: shipped (x), counted at receipt (y), stored (z).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortionOnLine {
    pub shipped_g: i64,
    pub counted_g: i64,
    pub stored_g: i64,
}

/// The portions a line carries, merged by first leg, in part order (unattributed parts are not
/// counted, §8).
pub fn line_portions(line: &super::manifest::Line) -> Vec<(FirstLeg, PortionOnLine)> {
    let mut out: Vec<(FirstLeg, PortionOnLine)> = Vec::new();
    for part in &line.parts {
        let Some(first_leg) = part.first_leg else {
            continue;
        };
        let i = match out.iter().position(|(f, _)| *f == first_leg) {
            Some(i) => i,
            None => {
                out.push((first_leg, PortionOnLine::default()));
                out.len() - 1
            }
        };
        let p = &mut out[i].1;
        p.shipped_g += part.quantity_g;
        p.counted_g += part.counted_g.unwrap_or(0);
        p.stored_g += part.stored_g.unwrap_or(0);
    }
    out
}

/// A quantity with its class and, while pending, its deadline and what it becomes after.
pub type Share = (i64, Class, Option<(Timestamp, Kind)>);

/// Where the rate puts one portion on a line (§8 "shipped"), quantities above 0 only; `date`
/// and `category` are the portion's.
pub fn portion_classes(
    m: &Manifest,
    line: &super::manifest::Line,
    x: &PortionOnLine,
    limits: &Limits,
) -> Vec<Share> {
    let mut out = Vec::new();
    let mut push = |q: i64, class: Class, deadline: Option<(Timestamp, Kind)>| {
        if q > 0 {
            out.push((q, class, deadline));
        }
    };
    match m.status {
        ManifestStatus::Opened | ManifestStatus::Cancelled | ManifestStatus::Rejected => {}
        ManifestStatus::PickedUp => push(
            x.shipped_g,
            Class::Pending,
            m.transit_due.map(|due| (due, Kind::TransitOverdue)),
        ),
        ManifestStatus::Received | ManifestStatus::Disposed | ManifestStatus::Stored => {
            let y = x.counted_g;
            if shortfall_beyond_tolerance(line, limits) {
                push(
                    x.shipped_g - y,
                    Class::Improper(Kind::QuantityShortfall),
                    None,
                );
            }
            if line.receipt_covered == Some(false) {
                push(y, Class::Improper(Kind::UnlicensedReceipt), None);
            } else if m.status == ManifestStatus::Disposed {
                if line.handling_covered == Some(false) {
                    push(y, Class::Improper(Kind::UnlicensedHandling), None);
                } else {
                    push(y, Class::Proper, None);
                }
            } else if m.status == ManifestStatus::Stored {
                // A storing's loss is beyond tolerance whenever it is above 0; the stored part
                // is now in a lot (counted there) unless the storing was not covered.
                push(
                    y - x.stored_g,
                    Class::Improper(Kind::QuantityShortfall),
                    None,
                );
                if line.storing_covered == Some(false) {
                    push(x.stored_g, Class::Improper(Kind::UnlicensedHandling), None);
                }
            } else {
                push(
                    y,
                    Class::Pending,
                    m.disposal_due.map(|due| (due, Kind::DisposalOverdue)),
                );
            }
        }
    }
    out
}

/// Whether a received line's shortfall is beyond tolerance (§6 Chains): above `shortfall_bp`
/// of the shipped quantity, or with a container of the line counted 0.
pub fn shortfall_beyond_tolerance(line: &super::manifest::Line, limits: &Limits) -> bool {
    let Some(c) = line.counted_g() else {
        return false;
    };
    let (q, short) = (line.quantity_g, line.quantity_g - c);
    (short > 0 && i128::from(short) * 10_000 > i128::from(q) * i128::from(limits.shortfall_bp))
        || !line.containers_counted_zero().is_empty()
}

/// The moment a lot's storage deadline passes: 00:00 CST of its date + the storage limit in
/// force just after it was made (for a lot of `waste.declared`, `generator_storage_s`, absent:
/// `storage_s`, §7).
pub fn storage_deadline(lot: &Lot) -> Timestamp {
    time::cst_day_start(lot.date) + seconds(lot.storage_s)
}

/// A treatment's contribution: proper, treated on site, dated by its `date`.
pub fn treatment_contributions(t: &Treatment) -> Vec<Contribution> {
    vec![Contribution {
        date: t.date,
        category: category_of(&t.code),
        quantity_g: t.quantity_g,
        class: Class::TreatedOnsite,
        deadline: None,
    }]
}

/// A lot's contribution: what remains at its generator.
pub fn lot_contributions(lot: &Lot) -> Vec<Contribution> {
    if lot.remaining_g <= 0 {
        return Vec::new();
    }
    vec![Contribution {
        date: lot.date,
        category: category_of(&lot.code),
        quantity_g: lot.remaining_g,
        class: Class::Stored,
        deadline: Some((storage_deadline(lot), Kind::StorageOverdue)),
    }]
}

impl State {
    /// Brings the rate and the sweeper's schedule up to date with a manifest.
    pub(super) fn refresh_manifest(&mut self, id: &Uuid) {
        let limits = self.limits();
        let Some(m) = self.manifests.get(id) else {
            return;
        };
        let mut items: Vec<(RateItem, String, Vec<Contribution>)> = Vec::new();
        for (i, line) in m.lines.iter().enumerate() {
            let category = category_of(&line.code);
            for (first_leg, x) in line_portions(line) {
                let item = RateItem::Portion(*id, i as u16, first_leg.0, first_leg.1);
                let Some((org, date)) = self.first_leg_of(m, first_leg) else {
                    items.push((item, String::new(), Vec::new()));
                    continue;
                };
                let cs = portion_classes(m, line, &x, &limits)
                    .into_iter()
                    .map(|(quantity_g, class, deadline)| Contribution {
                        date,
                        category,
                        quantity_g,
                        class,
                        deadline,
                    })
                    .collect();
                items.push((item, org, cs));
            }
        }
        let transit = (m.status == ManifestStatus::PickedUp)
            .then_some(m.transit_due)
            .flatten();
        let disposal = (m.status == ManifestStatus::Received)
            .then_some(m.disposal_due)
            .flatten();
        for (item, org, cs) in items {
            self.rate.set(item, &org, cs);
        }
        let open = |kind: Kind| {
            self.tickets
                .contains_key(&ticket_id(kind.as_str(), &id.to_string()))
        };
        let transit = transit.filter(|_| !open(Kind::TransitOverdue));
        let disposal = disposal.filter(|_| !open(Kind::DisposalOverdue));
        self.watched.set(Watched::Transit(*id), transit);
        self.watched.set(Watched::Disposal(*id), disposal);
    }

    /// The generator and the CST pickup date of a first leg (`m` is its manifest or a later
    /// leg's, to spare a lookup when they are the same).
    fn first_leg_of(&self, m: &Manifest, first_leg: FirstLeg) -> Option<(String, NaiveDate)> {
        let f = if m.id == first_leg.0 {
            m
        } else {
            self.manifests.get(&first_leg.0)?
        };
        Some((f.generator.clone(), time::cst_date(f.picked_up_at?)))
    }

    /// Brings the rate and the sweeper's schedule up to date with a lot.
    pub(super) fn refresh_lot(&mut self, lot_key: LotKey) {
        let Some(lot) = self.lots.get(&lot_key) else {
            return;
        };
        let generator = lot.generator.clone();
        let deadline = (lot.remaining_g > 0).then(|| storage_deadline(lot));
        let key = format!("{}:{}:{}", lot.generator, lot.code, lot.seq);
        if lot.origin.is_none() {
            let cs = lot_contributions(lot);
            self.rate.set(RateItem::Lot(lot_key), &generator, cs);
        } else {
            // Each portion is pending, or storage_overdue after the lot's deadline, for the
            // generator of its first leg, dated by its first leg's pickup.
            let category = category_of(&lot.code);
            let items: Vec<(RateItem, String, Vec<Contribution>)> = lot
                .portions
                .iter()
                .map(|p| {
                    let item = RateItem::LotPortion(lot_key, p.first_leg.0, p.first_leg.1);
                    let first = self
                        .manifests
                        .get(&p.first_leg.0)
                        .and_then(|f| self.first_leg_of(f, p.first_leg));
                    match first {
                        Some((org, date)) if p.remaining_g > 0 => (
                            item,
                            org,
                            vec![Contribution {
                                date,
                                category,
                                quantity_g: p.remaining_g,
                                class: Class::Pending,
                                deadline: Some((storage_deadline(lot), Kind::StorageOverdue)),
                            }],
                        ),
                        _ => (item, String::new(), Vec::new()),
                    }
                })
                .collect();
            for (item, org, cs) in items {
                self.rate.set(item, &org, cs);
            }
        }
        let deadline = deadline.filter(|_| {
            !self
                .tickets
                .contains_key(&ticket_id(Kind::StorageOverdue.as_str(), &key))
        });
        self.watched.set(Watched::Storage(lot_key), deadline);
    }

    /// Brings the rate up to date with an on-site treatment.
    pub(super) fn refresh_treatment(&mut self, seq: u64) {
        let Some(t) = self.treatments.get(&seq) else {
            return;
        };
        let (generator, cs) = (t.generator.clone(), treatment_contributions(t));
        self.rate.set(RateItem::Treatment(seq), &generator, cs);
    }

    /// Recomputes the rate and the schedule from scratch (new limits change every deadline).
    pub(super) fn rebuild_oversight(&mut self) {
        self.rate = RateBook::default();
        self.watched = Schedule::default();
        let ids: Vec<Uuid> = self.manifests.keys().copied().collect();
        for id in ids {
            self.refresh_manifest(&id);
        }
        let keys: Vec<LotKey> = self.lots.keys().copied().collect();
        for key in keys {
            self.refresh_lot(key);
        }
        let seqs: Vec<u64> = self.treatments.keys().copied().collect();
        for seq in seqs {
            self.refresh_treatment(seq);
        }
    }

    /// The figures of §8 at time `t` from the maintained sums (t not before the last sweep).
    pub fn disposal_figures(&self, t: Timestamp, filter: &RateFilter) -> Figures {
        let org_ok = |org: &str| {
            filter.org.as_deref().is_none_or(|o| o == org)
                && filter.region.as_deref().is_none_or(|prefix| {
                    self.orgs
                        .get(org)
                        .is_some_and(|o| o.region.starts_with(prefix))
                })
        };
        let mut figures = self.rate.figures(t, filter, org_ok);
        // Conditions, not grams: kinds without a code are left out when a category is asked.
        if filter.category.is_none() {
            let arisen = self
                .crossings
                .values()
                .filter(|c| c.at <= t && org_ok(&c.org))
                .filter(|c| {
                    let d = time::cst_date(c.at);
                    filter.from.is_none_or(|f| d >= f) && filter.to.is_none_or(|to| d < to)
                })
                .count();
            figures
                .compliance_by_kind
                .insert(Kind::StorageOverCapacity.as_str(), arisen as i64);
        }
        for a in self.compliance_arisen(t) {
            let d = time::cst_date(a.at);
            let selected = org_ok(&a.org)
                && filter.from.is_none_or(|f| d >= f)
                && filter.to.is_none_or(|to| d < to)
                && filter
                    .category
                    .is_none_or(|c| a.code.as_deref().is_some_and(|code| category_of(code) == c));
            if selected {
                *figures
                    .compliance_by_kind
                    .entry(a.kind.as_str())
                    .or_insert(0) += 1;
            }
        }
        figures
    }

    /// Folds passed deadlines into the rate's sums; the figures do not change.
    pub fn advance_rate(&mut self, t: Timestamp) {
        self.rate.advance(t);
    }

    /// The automatic ticket the entries so far call for, for a kind and subject key, judged at
    /// ledger time `now`; `None` when the condition does not hold.
    pub fn expected_ticket(&self, kind: Kind, key: &str, now: Timestamp) -> Option<AutoTicket> {
        let limits = self.limits();
        let id = ticket_id(kind.as_str(), key);
        let manifest = || {
            Uuid::parse_str(key)
                .ok()
                .and_then(|m| self.manifests.get(&m))
        };
        let ticket = |subject: Value, at: Timestamp, quantity_g: i64, summary: String| AutoTicket {
            id,
            kind,
            subject,
            at,
            quantity_g,
            summary,
        };
        match kind {
            Kind::QuantityShortfall if key.ends_with(":stored") => {
                let m = Uuid::parse_str(key.trim_end_matches(":stored"))
                    .ok()
                    .and_then(|m| self.manifests.get(&m))?;
                let stored_at = (m.status == ManifestStatus::Stored).then_some(m.closed_at?)?;
                let loss: i64 = m
                    .lines
                    .iter()
                    .map(|l| {
                        let c = l.counted_g().unwrap_or(0);
                        c - l.stored_g.unwrap_or(0).min(c)
                    })
                    .sum();
                (loss > 0).then(|| {
                    ticket(
                        json!({"manifest": m.id.to_string()}),
                        stored_at,
                        loss,
                        format!(
                            "联单{}入库贮存量少于接收量{loss}克，疑似收集贮存环节流失",
                            m.number
                        ),
                    )
                })
            }
            Kind::QuantityShortfall => {
                let m = manifest()?;
                let received = m.received_at?;
                let beyond: Vec<_> = m
                    .lines
                    .iter()
                    .filter(|l| l.counted_g().is_some() && shortfall_beyond_tolerance(l, &limits))
                    .collect();
                let short: i64 = beyond
                    .iter()
                    .map(|l| l.quantity_g - l.counted_g().unwrap_or(0))
                    .sum();
                let mut zero: Vec<String> = beyond
                    .iter()
                    .flat_map(|l| l.containers_counted_zero())
                    .collect();
                zero.sort();
                (!beyond.is_empty()).then(|| {
                    let mut subject = json!({"manifest": m.id.to_string()});
                    if !zero.is_empty() {
                        subject["containers"] = json!(zero);
                    }
                    ticket(
                        subject,
                        received,
                        short,
                        format!(
                            "联单{}接收量少于运出量{short}克，超出允许误差，疑似途中倾倒",
                            m.number
                        ),
                    )
                })
            }
            Kind::UnlicensedReceipt => {
                let m = manifest()?;
                let received = m.received_at?;
                let lines: Vec<_> = m
                    .lines
                    .iter()
                    .filter(|l| l.receipt_covered == Some(false))
                    .collect();
                (!lines.is_empty()).then(|| {
                    let q = lines.iter().map(|l| l.counted_g().unwrap_or(0)).sum();
                    ticket(
                        json!({"manifest": m.id.to_string()}),
                        received,
                        q,
                        format!(
                            "联单{}的接收单位{}无许可证覆盖所收危险废物",
                            m.number, m.receiver
                        ),
                    )
                })
            }
            Kind::UnlicensedHandling if manifest()?.status == ManifestStatus::Stored => {
                let m = manifest()?;
                let lines: Vec<_> = m
                    .lines
                    .iter()
                    .filter(|l| l.storing_covered == Some(false) && l.stored_g.unwrap_or(0) > 0)
                    .collect();
                (!lines.is_empty()).then(|| {
                    let q = lines.iter().map(|l| l.stored_g.unwrap_or(0)).sum();
                    ticket(
                        json!({"manifest": m.id.to_string()}),
                        m.closed_at.expect("a stored manifest is closed"),
                        q,
                        format!(
                            "联单{}的收集贮存不在接收单位{}的许可范围内",
                            m.number, m.receiver
                        ),
                    )
                })
            }
            Kind::UnlicensedHandling => {
                let m = manifest()?;
                let disposed = (m.status == ManifestStatus::Disposed).then_some(m.closed_at?)?;
                let lines: Vec<_> = m
                    .lines
                    .iter()
                    .filter(|l| l.handling_covered == Some(false))
                    .collect();
                (!lines.is_empty()).then(|| {
                    let q = lines.iter().map(|l| l.counted_g().unwrap_or(0)).sum();
                    ticket(
                        json!({"manifest": m.id.to_string()}),
                        disposed,
                        q,
                        format!(
                            "联单{}的利用处置方式不在接收单位{}的许可范围内",
                            m.number, m.receiver
                        ),
                    )
                })
            }
            Kind::TransitOverdue => {
                let m = manifest()?;
                let deadline = m.transit_due?;
                let ended = match m.status {
                    ManifestStatus::PickedUp => now,
                    ManifestStatus::Received
                    | ManifestStatus::Disposed
                    | ManifestStatus::Stored => m.received_at?,
                    ManifestStatus::Rejected => m.closed_at?,
                    _ => return None,
                };
                (ended > deadline).then(|| {
                    ticket(
                        json!({"manifest": m.id.to_string()}),
                        deadline,
                        m.shipped_g(),
                        format!("联单{}运输超期：起运后未在期限内送达", m.number),
                    )
                })
            }
            Kind::DisposalOverdue => {
                let m = manifest()?;
                let deadline = m.disposal_due?;
                let ended = match m.status {
                    ManifestStatus::Received => now,
                    ManifestStatus::Disposed | ManifestStatus::Stored => m.closed_at?,
                    _ => return None,
                };
                (ended > deadline).then(|| {
                    let q = m.lines.iter().map(|l| l.counted_g().unwrap_or(0)).sum();
                    ticket(
                        json!({"manifest": m.id.to_string()}),
                        deadline,
                        q,
                        format!("联单{}利用处置超期：接收后未在期限内利用处置", m.number),
                    )
                })
            }
            Kind::StorageOverCapacity => {
                let c = self.crossings.get(key)?;
                Some(ticket(
                    json!({"org": c.org, "facility": c.facility, "seq": c.seq}),
                    c.at,
                    c.excess_g,
                    format!(
                        "{}的贮存设施{}超出贮存能力{}克",
                        c.org, c.facility, c.excess_g
                    ),
                ))
            }
            Kind::DisposalShort
            | Kind::UnplannedTransfer
            | Kind::PlanExceeded
            | Kind::PlanMissing
            | Kind::DeclarationOverdue => self.expected_compliance(kind, key, now),
            Kind::StorageOverdue => {
                let mut parts = key.rsplitn(3, ':');
                let seq: u64 = parts.next()?.parse().ok()?;
                let lot = self.lots.get(&LotKey::new(seq, parts.next()?))?;
                if format!("{}:{}:{}", lot.generator, lot.code, lot.seq) != key {
                    return None;
                }
                let deadline = storage_deadline(lot);
                // A lot stored after its deadline (its date is the receipt's) arises at the
                // storing.
                let at = lot.origin.map_or(deadline, |o| deadline.max(o.stored_at));
                (lot.remaining_g > 0 && now > deadline).then(|| {
                    ticket(
                        json!({"org": lot.generator, "code": lot.code, "lot": lot.seq}),
                        at,
                        lot.remaining_g,
                        format!(
                            "{}申报的{}（{}）贮存超期，仍有{}克未转移",
                            lot.generator,
                            lot.code,
                            time::format_date(lot.date),
                            lot.remaining_g
                        ),
                    )
                })
            }
        }
    }

    /// The subject key of an automatic ticket's subject.
    fn subject_key(kind: Kind, subject: &Value) -> Option<String> {
        match kind {
            Kind::StorageOverCapacity => Some(format!(
                "{}:{}:{}",
                subject["org"].as_str()?,
                subject["facility"].as_str()?,
                subject["seq"].as_u64()?
            )),
            Kind::StorageOverdue => Some(format!(
                "{}:{}:{}",
                subject["org"].as_str()?,
                subject["code"].as_str()?,
                subject["lot"].as_u64()?
            )),
            Kind::DisposalShort => Some(format!("{}:disposal", subject["manifest"].as_str()?)),
            Kind::PlanExceeded => Some(format!(
                "{}:{}:{}",
                subject["org"].as_str()?,
                subject["year"].as_i64()?,
                subject["code"].as_str()?
            )),
            Kind::PlanMissing => Some(format!(
                "{}:{}",
                subject["org"].as_str()?,
                subject["year"].as_i64()?
            )),
            Kind::DeclarationOverdue => Some(format!(
                "{}:{}",
                subject["org"].as_str()?,
                subject["period"].as_str()?
            )),
            _ => subject["manifest"].as_str().map(str::to_owned),
        }
    }

    /// Whether the entries so far justify an automatic `ticket.opened` with this id and body,
    /// dated `at`, appended when the ledger's clock reads `now`.
    pub(super) fn justify_automatic(
        &self,
        id: Uuid,
        body: &Value,
        at: Timestamp,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let unjustified = |why: &str| {
            reject(
                Code::Forbidden,
                format!("the entries do not justify this automatic ticket: {why}"),
            )
        };
        let Some(kind) = body["kind"].as_str().and_then(Kind::parse) else {
            return unjustified("not an automatic kind");
        };
        let Some(mut key) = Self::subject_key(kind, &body["subject"]) else {
            return unjustified("its subject does not name what the kind is about");
        };
        // A shortfall caused by a storing has its own subject key.
        let stored_key = format!("{key}:stored");
        if kind == Kind::QuantityShortfall && id == ticket_id(kind.as_str(), &stored_key) {
            key = stored_key;
        }
        let Some(expected) = self.expected_ticket(kind, &key, now) else {
            return unjustified("the condition does not hold");
        };
        if id != expected.id {
            return unjustified("its id is not the UUIDv5 of its kind and subject");
        }
        if body["subject"] != expected.subject {
            return unjustified("its subject is not the condition's");
        }
        if at != expected.at {
            return unjustified("its time is not when the condition arose");
        }
        if body.get("quantity_g") != expected.body().get("quantity_g") {
            return unjustified("its quantity is not the quantity affected");
        }
        Ok(())
    }

    /// The automatic tickets an accepted event calls for at once (§7).
    pub(super) fn tickets_caused_by(
        &self,
        kind: &str,
        manifest: &Uuid,
        now: Timestamp,
    ) -> Vec<AutoTicket> {
        let key = manifest.to_string();
        let stored = format!("{key}:stored");
        let kinds: Vec<(Kind, &str)> = match kind {
            "manifest.received" => vec![
                (Kind::QuantityShortfall, &key),
                (Kind::UnlicensedReceipt, &key),
                (Kind::TransitOverdue, &key),
            ],
            "manifest.rejected" => vec![(Kind::TransitOverdue, &key)],
            "manifest.disposed" => vec![
                (Kind::UnlicensedHandling, &key),
                (Kind::DisposalOverdue, &key),
            ],
            "manifest.stored" => vec![
                (Kind::QuantityShortfall, &stored),
                (Kind::UnlicensedHandling, &key),
                (Kind::DisposalOverdue, &key),
            ],
            _ => Vec::new(),
        };
        kinds
            .into_iter()
            .filter(|(k, key)| !self.tickets.contains_key(&ticket_id(k.as_str(), key)))
            .filter_map(|(k, key)| self.expected_ticket(k, key, now))
            .collect()
    }

    /// The tickets whose deadlines have passed by `now` and that are not open yet (the sweep).
    pub fn overdue_tickets(&self, now: Timestamp) -> Vec<AutoTicket> {
        let mut due = self.due_tickets(now);
        let overdue: Vec<AutoTicket> = self
            .watched
            .before(now)
            .filter_map(|(_, w)| {
                let key = match w {
                    Watched::Transit(m) | Watched::Disposal(m) => m.to_string(),
                    Watched::Storage(lot_key) => {
                        let lot = self.lots.get(&lot_key)?;
                        format!("{}:{}:{}", lot.generator, lot.code, lot.seq)
                    }
                };
                let kind = w.kind();
                if self.tickets.contains_key(&ticket_id(kind.as_str(), &key)) {
                    return None;
                }
                self.expected_ticket(kind, &key, now)
            })
            .collect();
        due.extend(overdue);
        due
    }

    /// Forgets watched deadlines whose ticket is open.
    pub(super) fn unwatch_ticket(&mut self, kind: &str, subject: &Value) {
        let Some(kind) = Kind::parse(kind) else {
            return;
        };
        let item = match kind {
            Kind::TransitOverdue => subject["manifest"]
                .as_str()
                .and_then(|m| Uuid::parse_str(m).ok())
                .map(Watched::Transit),
            Kind::DisposalOverdue => subject["manifest"]
                .as_str()
                .and_then(|m| Uuid::parse_str(m).ok())
                .map(Watched::Disposal),
            Kind::StorageOverdue => subject["lot"]
                .as_u64()
                .zip(subject["code"].as_str())
                .map(|(seq, code)| Watched::Storage(LotKey::new(seq, code))),
            _ => None,
        };
        if let Some(item) = item {
            self.watched.set(item, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn c(day: u32, category: u8, q: i64, class: Class, deadline: Option<&str>) -> Contribution {
        Contribution {
            date: NaiveDate::from_ymd_opt(2027, 3, day).unwrap(),
            category,
            quantity_g: q,
            class,
            deadline: deadline.map(|d| (at(d), Kind::TransitOverdue)),
        }
    }

    /// The figures without a filter, from the total, and the same figures summed bucket by
    /// bucket (a `from` that excludes nothing takes that path).
    fn both(book: &RateBook, t: &str) -> (Figures, Figures) {
        let all = RateFilter::default();
        let from_min = RateFilter {
            from: Some(NaiveDate::MIN),
            ..RateFilter::default()
        };
        (
            book.figures(at(t), &all, |_| true),
            book.figures(at(t), &from_min, |_| true),
        )
    }

    /// The figures of category `k` alone, from its maintained sum, and the same figures summed
    /// bucket by bucket.
    fn both_of(book: &RateBook, t: &str, k: u8) -> (Figures, Figures) {
        let only = RateFilter {
            category: Some(k),
            ..RateFilter::default()
        };
        let from_min = RateFilter {
            from: Some(NaiveDate::MIN),
            category: Some(k),
            ..RateFilter::default()
        };
        (
            book.figures(at(t), &only, |_| true),
            book.figures(at(t), &from_min, |_| true),
        )
    }

    /// Both ways agree for the whole book and for each category, and the categories add up to
    /// the whole.
    fn agree(book: &RateBook, t: &str) -> Figures {
        let (total, summed) = both(book, t);
        assert_eq!(total, summed, "the total at {t}");
        let mut proper = 0;
        for k in [8, 17, 31] {
            let (kept, summed) = both_of(book, t, k);
            assert_eq!(kept, summed, "category {k} at {t}");
            proper += kept.proper_g + kept.improper_g + kept.pending_g + kept.stored_g;
        }
        assert_eq!(
            proper,
            total.proper_g + total.improper_g + total.pending_g + total.stored_g,
            "the categories make the whole at {t}"
        );
        total
    }

    #[test]
    fn the_total_is_the_sum_of_the_buckets_through_changes_deadlines_and_snapshots() {
        let mut book = RateBook::default();
        let (m1, m2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        book.set(
            RateItem::Portion(m1, 0, m1, 0),
            "G1",
            vec![
                c(1, 8, 1_000, Class::Pending, Some("2027-03-02T00:00:00Z")),
                c(1, 8, 250, Class::Proper, None),
            ],
        );
        book.set(
            RateItem::Portion(m2, 0, m2, 0),
            "G2",
            vec![c(2, 17, 4_000, Class::Stored, Some("2027-03-05T00:00:00Z"))],
        );
        book.set(
            RateItem::Treatment(7),
            "G2",
            vec![c(3, 17, 600, Class::TreatedOnsite, None)],
        );
        // Before any deadline: 1,000 pending, 4,000 stored, 850 proper of which 600 on site.
        let total = agree(&book, "2027-03-01T12:00:00Z");
        assert_eq!((total.proper_g, total.treated_onsite_g), (850, 600));
        assert_eq!(
            (total.pending_g, total.stored_g, total.improper_g),
            (1_000, 4_000, 0)
        );
        // HW08 holds G1's line, HW17 G2's stored lot and its treatment; HW31 nothing.
        let hw08 = both_of(&book, "2027-03-01T12:00:00Z", 8).0;
        assert_eq!(
            (hw08.proper_g, hw08.pending_g, hw08.stored_g),
            (250, 1_000, 0)
        );
        let hw17 = both_of(&book, "2027-03-01T12:00:00Z", 17).0;
        assert_eq!(
            (hw17.proper_g, hw17.treated_onsite_g, hw17.stored_g),
            (600, 600, 4_000)
        );
        assert_eq!(both_of(&book, "2027-03-01T12:00:00Z", 31).0.rate, None);
        // The first deadline has passed but is not folded yet: both paths see it improper.
        let total = agree(&book, "2027-03-03T00:00:00Z");
        assert_eq!((total.pending_g, total.improper_g), (0, 1_000));
        // Folded by a sweep, then the first item replaced (received and disposed in full).
        book.advance(at("2027-03-03T00:00:00Z"));
        book.set(
            RateItem::Portion(m1, 0, m1, 0),
            "G1",
            vec![c(1, 8, 1_250, Class::Proper, None)],
        );
        let total = agree(&book, "2027-03-04T00:00:00Z");
        assert_eq!(
            (total.proper_g, total.improper_g, total.stored_g),
            (1_850, 0, 4_000)
        );
        assert_eq!(total.rate, Some(1.0));
        // A snapshot does not store the total; loading one sums it again.
        let bytes = postcard::to_stdvec(&book).unwrap();
        let loaded: RateBook = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(loaded, book);
        assert_eq!(agree(&loaded, "2027-03-06T00:00:00Z").improper_g, 4_000);
        assert_eq!(
            both_of(&loaded, "2027-03-06T00:00:00Z", 17).0.improper_g,
            4_000
        );
    }
}
