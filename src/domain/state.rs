//! The domain state folded from the ledger, and the checks of spec §3 steps 2–7.
//!
//! [`State::submit`] is the one function that decides whether an event may be appended. The live
//! sequencer, start-up catch-up, `verify` and any rebuild all call it, so the service and an
//! auditor recomputing from the entries cannot disagree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use chrono::NaiveDate;

use super::catalogue::Edition;
use super::container::Containers;
use super::facility::{Crossing, Facility};
use super::licence::Licence;
use super::manifest::Manifest;
use super::oversight::{AutoTicket, Kind, RateBook, Schedule, Watched};
use super::recorded::{Lookup, RecordedIds};
use super::rejection::{reject, Code, Rejection};
use super::stock::{Lot, LotKey};
use super::ticket::Ticket;
use super::treatment::Treatment;
use crate::protocol::event::{Prepared, LEDGER_ACTOR};
use crate::protocol::time::{self, Timestamp};

/// How far ahead of the ledger's clock an event's `at` may be (§3 step 5).
pub const MAX_AHEAD_S: i64 = 300;

/// The limits of §7, as written at genesis and by `ledger.limits_set`. The members version 2
/// adds are optional, and absent from a version-1 ledger's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub transit_s: i64,
    pub disposal_s: i64,
    pub storage_s: i64,
    pub max_backdate_s: i64,
    pub shortfall_bp: i64,
    /// The storage limit of lots of `waste.declared` (a local rule); absent: `storage_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_storage_s: Option<i64>,
    /// Basis points a plan's `generate_g` may be exceeded by; absent: 2000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_excess_bp: Option<i64>,
    /// From this CST date on, compliance is on; absent: off.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::protocol::time::opt_date"
    )]
    pub compliance_from: Option<NaiveDate>,
}

/// The default of `plan_excess_bp` (§7).
pub const PLAN_EXCESS_BP: i64 = 2000;

impl Limits {
    /// The storage limit of a lot at its generator.
    pub fn generator_storage(&self) -> i64 {
        self.generator_storage_s.unwrap_or(self.storage_s)
    }

    pub fn plan_excess(&self) -> i64 {
        self.plan_excess_bp.unwrap_or(PLAN_EXCESS_BP)
    }

    /// Whether compliance is on (§7).
    pub fn compliance_on(&self) -> bool {
        self.compliance_from.is_some()
    }

    /// The limits after a `ledger.limits_set`: an absent optional member keeps the value in
    /// force, and `"compliance_from": null` switches compliance off.
    pub fn patched(&self, p: &LimitsPatch) -> Limits {
        Limits {
            transit_s: p.transit_s,
            disposal_s: p.disposal_s,
            storage_s: p.storage_s,
            max_backdate_s: p.max_backdate_s,
            shortfall_bp: p.shortfall_bp,
            generator_storage_s: p.generator_storage_s.or(self.generator_storage_s),
            plan_excess_bp: p.plan_excess_bp.or(self.plan_excess_bp),
            compliance_from: match p.compliance_from {
                Some(c) => c,
                None => self.compliance_from,
            },
        }
    }
}

/// The limits of a `ledger.limits_set`, where an absent member and a null one differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsPatch {
    pub transit_s: i64,
    pub disposal_s: i64,
    pub storage_s: i64,
    pub max_backdate_s: i64,
    pub shortfall_bp: i64,
    #[serde(default)]
    pub generator_storage_s: Option<i64>,
    #[serde(default)]
    pub plan_excess_bp: Option<i64>,
    #[serde(
        default,
        deserialize_with = "crate::protocol::time::opt_opt_date::deserialize"
    )]
    pub compliance_from: Option<Option<NaiveDate>>,
}

impl Default for Limits {
    /// The defaults §7 writes at genesis.
    fn default() -> Self {
        const DAY: i64 = 86_400;
        Limits {
            transit_s: 5 * DAY,
            disposal_s: 365 * DAY,
            storage_s: 365 * DAY,
            max_backdate_s: 14 * DAY,
            shortfall_bp: 100,
            generator_storage_s: None,
            plan_excess_bp: None,
            compliance_from: None,
        }
    }
}

/// The roles an organisation may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Regulator,
    Generator,
    Carrier,
    Receiver,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Regulator => "regulator",
            Role::Generator => "generator",
            Role::Carrier => "carrier",
            Role::Receiver => "receiver",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        use Role::*;
        [Regulator, Generator, Carrier, Receiver]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A registered organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Org {
    pub org: String,
    pub name: String,
    pub region: String,
    pub roles: BTreeSet<Role>,
    /// Its keys in the order they were added.
    pub keys: Vec<[u8; 32]>,
    pub registered_seq: u64,
}

impl Org {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Who a key belongs to and whether it still signs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRecord {
    /// The org, or `None` for the ledger key.
    pub owner: Option<String>,
    pub added_seq: u64,
    pub revoked_seq: Option<u64>,
}

/// A projection row that an applied event changed; the store rewrites exactly these.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Touched {
    Org(String),
    Licence(String),
    /// A stock lot, by the seq of its `waste.declared`.
    Lot(LotKey),
    Manifest(Uuid),
    Ticket(Uuid),
    /// A facility, by (org, facility).
    Facility(String, String),
    /// An on-site treatment, by the seq of its `waste.treated`.
    Treatment(u64),
    /// A container, by its id.
    Container(String),
}

/// What an accepted event did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub touched: Vec<Touched>,
    /// Automatic tickets the event calls for at once, to be appended right after it.
    pub followups: Vec<AutoTicket>,
    /// The containers the event made, reserved, released, scanned, received, returned or
    /// treated, or whose manifest it closed, in order, with the quantity it gave each (declared,
    /// weighed at receipt) or none: the steps of their traces.
    pub containers: Vec<(String, Option<i64>)>,
}

impl Outcome {
    pub fn touching(t: Touched) -> Outcome {
        Outcome {
            touched: vec![t],
            followups: Vec::new(),
            containers: Vec::new(),
        }
    }
}

/// The answer of steps 2–7 for one envelope.
#[derive(Debug)]
pub enum Verdict {
    /// Step 2: the same event is recorded at this seq; nothing is appended.
    Replay(u64),
    /// The event is appended at the state's previous size.
    Accepted(Outcome),
}

/// Everything the rules need, folded from the entries applied so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub ledger_key: [u8; 32],
    /// Number of entries applied: the seq the next accepted event gets.
    pub size: u64,
    pub origin: Option<String>,
    #[serde(with = "crate::domain::as_json")]
    pub limits: Option<Limits>,
    pub orgs: HashMap<String, Org>,
    pub keys: HashMap<[u8; 32], KeyRecord>,
    /// The event ids recorded, for step 2 (idempotent resubmission).
    ids: RecordedIds,
    pub licences: HashMap<String, Licence>,
    pub(super) licences_by_holder: HashMap<String, Vec<String>>,
    /// Every declared lot, by the seq of its declaration.
    pub lots: BTreeMap<LotKey, Lot>,
    /// (generator, code) → its lots with something left, in reservation order (date, seq).
    pub(super) lot_queues: HashMap<(String, String), BTreeSet<(NaiveDate, LotKey)>>,
    /// (holder, code) → how many of its lots made of containers have something left.
    pub(super) container_lots_held: HashMap<(String, String), u32>,
    pub manifests: HashMap<Uuid, Manifest>,
    /// First leg → the later lines that took some of its portion, in opening order (a chain's
    /// legs beyond the first; §9 `GET /v1/chains`).
    pub(super) onward_legs: HashMap<super::stock::FirstLeg, Vec<(Uuid, u16)>>,
    /// (CST year, city) → the last manifest serial given.
    pub(super) serials: HashMap<(i32, String), u32>,
    /// (receiver, CST year) → grams received that year, for capacity.
    pub(super) intake_received: HashMap<(String, i32), i64>,
    /// receiver → grams shipped to it on manifests opened or picked up.
    pub(super) intake_in_flight: HashMap<String, i64>,
    /// The problem list (问题清单).
    pub tickets: HashMap<Uuid, Ticket>,
    /// The running sums of the proper-disposal rate.
    pub rate: RateBook,
    /// Deadlines the sweeper watches, for conditions without a ticket yet.
    pub(super) watched: Schedule<Watched>,
    /// Facilities, by (org, facility).
    pub facilities: HashMap<(String, String), Facility>,
    /// On-site treatments, by the seq of their entry.
    pub treatments: HashMap<u64, Treatment>,
    /// Containers (一物一码), by id.
    pub containers: Containers,
    /// Every `storage_over_capacity` condition that arose, by subject key.
    pub crossings: HashMap<String, Crossing>,
    /// While an entry is applied: the storage facilities whose stock or capacity it changed,
    /// with the stock, capacity and `at` before it.
    pub(super) crossing_candidates: HashMap<(String, String), (i64, i64, Timestamp)>,
    /// While an entry is applied: the facilities whose stock it changed.
    pub(super) touched_facilities: BTreeSet<(String, String)>,
    /// Classes, plans, declarations and the books their reports are computed from.
    pub compliance: super::compliance::Compliance,
    /// Every witness policy set, by the seq of its entry (§5a).
    pub witness_policies: super::witness::Policies,
}

/// The body of `ledger.genesis`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Genesis {
    origin: String,
    ledger_key: String,
    regulator: GenesisRegulator,
    limits: Limits,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisRegulator {
    org: String,
    name: String,
    region: String,
    keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSet {
    limits: LimitsPatch,
    #[allow(dead_code)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRegistered {
    org: String,
    name: String,
    region: String,
    roles: Vec<Role>,
    keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyAdded {
    org: String,
    key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRevoked {
    org: String,
    key: String,
    #[allow(dead_code)]
    reason: String,
}

/// Reads a body that has passed its schema into its typed form.
pub(crate) fn body<T: DeserializeOwned>(value: &Value) -> Result<T, Rejection> {
    T::deserialize(value).map_err(|e| Rejection::new(Code::InvalidEvent, format!("body: {e}")))
}

fn key_bytes(hex_key: &str) -> Result<[u8; 32], Rejection> {
    crate::protocol::event::parse_hex::<32>(hex_key)
        .filter(crate::protocol::keys::acceptable_public_key)
        .ok_or_else(|| {
            Rejection::new(
                Code::InvalidEvent,
                format!("{hex_key} is not an acceptable Ed25519 public key"),
            )
        })
}

impl State {
    /// An empty ledger whose genesis must be signed by `ledger_key`.
    pub fn new(ledger_key: [u8; 32]) -> State {
        State {
            ledger_key,
            size: 0,
            origin: None,
            limits: None,
            orgs: HashMap::new(),
            keys: HashMap::new(),
            ids: RecordedIds::default(),
            licences: HashMap::new(),
            licences_by_holder: HashMap::new(),
            onward_legs: HashMap::new(),
            lots: BTreeMap::new(),
            lot_queues: HashMap::new(),
            container_lots_held: HashMap::new(),
            manifests: HashMap::new(),
            serials: HashMap::new(),
            intake_received: HashMap::new(),
            intake_in_flight: HashMap::new(),
            tickets: HashMap::new(),
            rate: RateBook::default(),
            watched: Schedule::default(),
            facilities: HashMap::new(),
            treatments: HashMap::new(),
            containers: Containers::default(),
            crossings: HashMap::new(),
            crossing_candidates: HashMap::new(),
            touched_facilities: BTreeSet::new(),
            compliance: Default::default(),
            witness_policies: Default::default(),
        }
    }

    /// The limits in force (the defaults before genesis).
    pub fn limits(&self) -> Limits {
        self.limits.unwrap_or_default()
    }

    pub fn org(&self, org: &str) -> Option<&Org> {
        self.orgs.get(org)
    }

    /// A state that keeps out of memory what the database answers for, behind filters in
    /// memory: the event ids recorded, by the unique index of `entries.id` (see
    /// [`RecordedIds`]), and the closed containers, by the `containers` query table (see
    /// [`Containers`]). The service's states.
    pub fn with_database_lookups(mut self) -> State {
        self.ids = std::mem::take(&mut self.ids).into_filtered();
        self.containers = std::mem::take(&mut self.containers).into_filtered();
        self
    }

    /// The event ids recorded. Before [`State::submit`] is given an envelope whose id
    /// [`RecordedIds::needs_answer`], the database's answer for that id must be handed to
    /// [`RecordedIds::answer`].
    pub fn ids(&mut self) -> &mut RecordedIds {
        &mut self.ids
    }

    fn is_regulator(&self, actor: &str) -> bool {
        self.orgs.get(actor).is_some_and(|o| o.has(Role::Regulator))
    }

    /// Steps 2–7 of §3 for one prepared envelope, with `now` the ledger's clock for this entry
    /// (its `recorded_at`). On acceptance the state has absorbed the event as entry `self.size - 1`.
    pub fn submit(&mut self, p: &Prepared, now: Timestamp) -> Result<Verdict, Rejection> {
        self.decide(p, now, false)
    }

    /// [`State::submit`]; `stored` when the envelope is an entry read from the database, whose
    /// unique index of `entries.id` has already done step 2 for a state with filtered ids.
    fn decide(&mut self, p: &Prepared, now: Timestamp, stored: bool) -> Result<Verdict, Rejection> {
        let h = &p.header;
        // Step 2: idempotency.
        if !(stored && self.ids.is_filtered()) {
            match self.ids.lookup(&h.id) {
                Lookup::Recorded(seq, digest) => {
                    return if digest == p.event_digest() {
                        Ok(Verdict::Replay(seq))
                    } else {
                        reject(
                            Code::DuplicateEventId,
                            format!("event {} is recorded at seq {seq} with other content", h.id),
                        )
                    };
                }
                Lookup::New => {}
                // The caller did not ask the database. Were the id recorded, the unique index
                // would refuse the round's insert, so nothing wrong can be committed.
                Lookup::Unanswered => debug_assert!(false, "event {} was not asked about", h.id),
            }
        }
        // Step 3: the key is the actor's and not revoked.
        if h.actor == LEDGER_ACTOR {
            if p.key != self.ledger_key {
                return reject(Code::UnknownKey, "the key is not the ledger key");
            }
        } else {
            match self.keys.get(&p.key) {
                Some(k) if k.owner.as_deref() == Some(h.actor.as_str()) => {
                    if let Some(seq) = k.revoked_seq {
                        return reject(
                            Code::RevokedKey,
                            format!("the key was revoked at seq {seq}"),
                        );
                    }
                }
                _ => {
                    return reject(
                        Code::UnknownKey,
                        format!("the key is not a key of {}", h.actor),
                    )
                }
            }
        }
        // Step 4.
        if !p.sig_ok {
            return reject(
                Code::BadSignature,
                "the signature does not verify over the event",
            );
        }
        // Step 5.
        let ahead = (h.at - now).num_milliseconds();
        if ahead > MAX_AHEAD_S * 1000 {
            return reject(
                Code::BadTimestamp,
                format!("at is {} s after the ledger's clock", ahead / 1000),
            );
        }
        let max_backdate = match (h.kind.as_str(), &self.limits) {
            ("ledger.genesis", None) => body::<Genesis>(p.body())?.limits.max_backdate_s,
            _ => self.limits().max_backdate_s,
        };
        if -ahead > max_backdate * 1000 && !super::ticket::is_automatic_ticket(p) {
            return reject(
                Code::BadTimestamp,
                format!(
                    "at is {} s before the ledger's clock; at most {max_backdate} s are allowed",
                    -ahead / 1000
                ),
            );
        }
        // Due moments passed before this entry's time are settled first: their tickets must
        // already be in the ledger (§7).
        if !super::ticket::is_automatic_ticket(p) {
            self.settle_due(now)?;
        }
        // Steps 6 and 7, then the state absorbs the event.
        self.containers.set_stored(stored);
        let mut outcome = match self.apply_rules(p, now) {
            Ok(o) => o,
            Err(r) => {
                // A refused event changes nothing; its bookkeeping goes too.
                self.crossing_candidates.clear();
                self.touched_facilities.clear();
                return Err(r);
            }
        };
        self.after_rules(p, &mut outcome, now);
        let seq = self.size;
        if stored {
            self.ids.insert_stored(h.id, || (seq, p.event_digest()));
            // No query rows are written from this state for a stored entry.
            self.containers.evict();
        } else {
            self.ids.insert(h.id, (seq, p.event_digest()));
        }
        self.size += 1;
        Ok(Verdict::Accepted(outcome))
    }

    /// Keeps the derived oversight state in step with an accepted event, and finds the
    /// automatic tickets it calls for.
    fn after_rules(&mut self, p: &Prepared, outcome: &mut Outcome, now: Timestamp) {
        match p.header.kind.as_str() {
            "ledger.limits_set" => self.rebuild_oversight(),
            "ticket.opened" => {
                let b = p.body();
                let kind = b["kind"].as_str().unwrap_or_default();
                self.unwatch_ticket(kind, &b["subject"]);
                if p.header.actor == LEDGER_ACTOR {
                    if let Some(k) = Kind::parse(kind).filter(|k| k.is_compliance_v2()) {
                        let id = b["ticket"]
                            .as_str()
                            .and_then(|t| Uuid::parse_str(t).ok())
                            .unwrap_or_default();
                        self.note_arisen(id, k, &b["subject"], p.header.at);
                    }
                }
            }
            _ => {}
        }
        outcome.touched.extend(
            std::mem::take(&mut self.touched_facilities)
                .into_iter()
                .map(|(o, f)| Touched::Facility(o, f)),
        );
        for t in &outcome.touched {
            match t {
                Touched::Manifest(id) => self.refresh_manifest(id),
                Touched::Lot(key) => self.refresh_lot(*key),
                Touched::Treatment(seq) => self.refresh_treatment(*seq),
                _ => {}
            }
        }
        // Tickets follow their cause in §7's row order, then by subject key.
        if let Some(m) = p.body()["manifest"]
            .as_str()
            .and_then(|m| Uuid::parse_str(m).ok())
        {
            outcome.followups = self.tickets_caused_by(&p.header.kind, &m, now);
        }
        let crossings = self.settle_crossings();
        if p.header.actor != LEDGER_ACTOR {
            let (early, late) = self.compliance_caused(p);
            outcome.followups.extend(early.iter().cloned());
            outcome.followups.extend(
                crossings
                    .iter()
                    .filter_map(|key| self.expected_ticket(Kind::StorageOverCapacity, key, now)),
            );
            outcome.followups.extend(late.iter().cloned());
            self.compliance.caused = early.into_iter().chain(late).collect();
        }
    }

    /// Applies an entry that is already recorded, trusting its signature (start-up, catch-up,
    /// replays of a prefix): every rule is still checked, and a refusal means the entries were
    /// altered.
    pub fn apply_recorded(&mut self, e: &crate::protocol::event::Entry) -> Result<Outcome, String> {
        self.apply_recorded_prepared(e, Self::prepare_recorded(e))
    }

    /// The part of [`State::apply_recorded`] that needs no state (reading the event and
    /// checking its shape), so that it may run on other threads ahead of the replay.
    pub fn prepare_recorded(e: &crate::protocol::event::Entry) -> Result<Prepared, String> {
        let mut p = Prepared::from_entry(e).map_err(|m| format!("entry {}: {m}", e.seq))?;
        p.sig_ok = true;
        Ok(p)
    }

    /// [`State::apply_recorded`] with the entry already read by [`State::prepare_recorded`].
    pub fn apply_recorded_prepared(
        &mut self,
        e: &crate::protocol::event::Entry,
        p: Result<Prepared, String>,
    ) -> Result<Outcome, String> {
        if e.seq != self.size {
            return Err(format!(
                "entry {} comes where entry {} belongs",
                e.seq, self.size
            ));
        }
        let p = p?;
        let now = time::parse_timestamp(&e.recorded_at)
            .map_err(|m| format!("entry {} has a bad recorded_at: {m}", e.seq))?;
        match self.decide(&p, now, true) {
            Ok(Verdict::Accepted(o)) => Ok(o),
            Ok(Verdict::Replay(s)) => Err(format!("entry {} repeats the event of {s}", e.seq)),
            Err(r) => Err(format!("entry {} breaks a rule: {r}", e.seq)),
        }
    }

    /// Steps 6 and 7: who may sign, then the event's rules in the order §6 lists them. Nothing
    /// is changed unless every rule holds.
    fn apply_rules(&mut self, p: &Prepared, now: Timestamp) -> Result<Outcome, Rejection> {
        let h = &p.header;
        if self.size == 0 && h.kind != "ledger.genesis" {
            return reject(Code::Forbidden, "the first entry must be ledger.genesis");
        }
        match h.kind.as_str() {
            "ledger.genesis" => self.genesis(p),
            "ledger.limits_set" => {
                self.require_regulator(&h.actor)?;
                let b: LimitsSet = body(p.body())?;
                self.limits = Some(self.limits().patched(&b.limits));
                Ok(Outcome::default())
            }
            "ledger.witnesses_set" => self.witnesses_set(p),
            "org.registered" => self.org_registered(p),
            "org.key_added" => self.key_added(p),
            "org.key_revoked" => self.key_revoked(p),
            "license.issued" => self.licence_issued(p),
            "license.amended" => self.licence_amended(p),
            "license.suspended" | "license.reinstated" | "license.revoked" => {
                self.licence_status(p)
            }
            "facility.registered" => self.facility_registered(p),
            "facility.amended" => self.facility_amended(p),
            "facility.closed" => self.facility_closed(p),
            "waste.declared" => self.waste_declared(p),
            "waste.treated" => self.waste_treated(p),
            "manifest.opened" => self.manifest_opened(p),
            "manifest.cancelled" => self.manifest_cancelled(p),
            "manifest.picked_up" => self.manifest_picked_up(p),
            "manifest.received" => self.manifest_received(p),
            "manifest.rejected" => self.manifest_rejected(p),
            "manifest.disposed" => self.manifest_disposed(p),
            "manifest.stored" => self.manifest_stored(p),
            "org.class_set" => self.org_class_set(p),
            "plan.filed" => self.plan_filed(p),
            "declaration.filed" => self.declaration_filed(p),
            "ticket.opened" => self.ticket_opened(p, now),
            "ticket.assigned" | "ticket.rectified" | "ticket.returned" | "ticket.closed"
            | "ticket.reopened" => self.ticket_moved(p),
            other => reject(
                Code::InvalidEvent,
                format!("event type {other} is not accepted by this ledger"),
            ),
        }
    }

    pub(super) fn require_regulator(&self, actor: &str) -> Result<(), Rejection> {
        self.require_role(actor, Role::Regulator)
    }

    /// Step 6 for the signer columns that name a role.
    pub(super) fn require_role(&self, actor: &str, role: Role) -> Result<(), Rejection> {
        if self.orgs.get(actor).is_some_and(|o| o.has(role)) {
            Ok(())
        } else {
            reject(
                Code::Forbidden,
                format!("{actor} does not have the {} role", role.as_str()),
            )
        }
    }

    /// The catalogue edition in force on the CST date of the event.
    pub(super) fn edition_of(&self, p: &Prepared) -> Edition {
        Edition::in_force_on(time::cst_date(p.header.at))
    }

    fn genesis(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        if p.header.actor != LEDGER_ACTOR || self.size != 0 {
            return reject(
                Code::Forbidden,
                "ledger.genesis is signed by the ledger, as entry 0 only",
            );
        }
        let b: Genesis = body(p.body())?;
        if key_bytes(&b.ledger_key)? != self.ledger_key {
            return reject(
                Code::InvalidEvent,
                "ledger_key is not the key that signs the genesis",
            );
        }
        let keys = self.new_org_keys(&b.regulator.org, &b.regulator.keys)?;
        self.origin = Some(b.origin);
        self.limits = Some(b.limits);
        self.keys.insert(
            self.ledger_key,
            KeyRecord {
                owner: None,
                added_seq: 0,
                revoked_seq: None,
            },
        );
        let org = b.regulator.org.clone();
        self.insert_org(Org {
            org: b.regulator.org,
            name: b.regulator.name,
            region: b.regulator.region,
            roles: BTreeSet::from([Role::Regulator]),
            keys,
            registered_seq: 0,
        });
        Ok(Outcome::touching(Touched::Org(org)))
    }

    /// Validates the keys of a new organisation (invalid_org_id, org_exists, key_in_use).
    fn new_org_keys(&self, org: &str, keys: &[String]) -> Result<Vec<[u8; 32]>, Rejection> {
        crate::domain::ids::OrgId::parse(org)
            .map_err(|e| Rejection::new(Code::InvalidOrgId, format!("{org}: {e}")))?;
        if self.orgs.contains_key(org) {
            return reject(Code::OrgExists, format!("{org} is already registered"));
        }
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let bytes = key_bytes(k)?;
            if self.key_taken(&bytes) || out.contains(&bytes) {
                return reject(Code::KeyInUse, format!("key {k} is already in use"));
            }
            out.push(bytes);
        }
        Ok(out)
    }

    fn key_taken(&self, key: &[u8; 32]) -> bool {
        *key == self.ledger_key || self.keys.contains_key(key)
    }

    fn insert_org(&mut self, org: Org) {
        for k in &org.keys {
            self.keys.insert(
                *k,
                KeyRecord {
                    owner: Some(org.org.clone()),
                    added_seq: self.size,
                    revoked_seq: None,
                },
            );
        }
        self.orgs.insert(org.org.clone(), org);
    }

    fn org_registered(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: OrgRegistered = body(p.body())?;
        crate::domain::ids::Region::parse(&b.region)
            .map_err(|e| Rejection::new(Code::InvalidEvent, format!("region: {e}")))?;
        let keys = self.new_org_keys(&b.org, &b.keys)?;
        let org = b.org.clone();
        self.insert_org(Org {
            org: b.org,
            name: b.name,
            region: b.region,
            roles: b.roles.into_iter().collect(),
            keys,
            registered_seq: self.size,
        });
        Ok(Outcome::touching(Touched::Org(org)))
    }

    /// Signer check shared by the key events: a regulator, or the org itself.
    fn require_regulator_or_self(&self, actor: &str, org: &str) -> Result<(), Rejection> {
        if actor == org || self.is_regulator(actor) {
            Ok(())
        } else {
            reject(
                Code::Forbidden,
                format!("only a regulator or {org} itself may sign this"),
            )
        }
    }

    pub(super) fn existing_org(&self, org: &str) -> Result<&Org, Rejection> {
        self.orgs
            .get(org)
            .ok_or_else(|| Rejection::new(Code::UnknownOrg, format!("{org} is not registered")))
    }

    fn key_added(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        let b: KeyAdded = body(p.body())?;
        self.require_regulator_or_self(&p.header.actor, &b.org)?;
        self.existing_org(&b.org)?;
        let key = key_bytes(&b.key)?;
        if self.key_taken(&key) {
            return reject(Code::KeyInUse, format!("key {} is already in use", b.key));
        }
        self.keys.insert(
            key,
            KeyRecord {
                owner: Some(b.org.clone()),
                added_seq: self.size,
                revoked_seq: None,
            },
        );
        self.orgs.get_mut(&b.org).expect("checked").keys.push(key);
        Ok(Outcome::touching(Touched::Org(b.org)))
    }

    fn key_revoked(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        let b: KeyRevoked = body(p.body())?;
        self.require_regulator_or_self(&p.header.actor, &b.org)?;
        let org = self.existing_org(&b.org)?;
        let key = crate::protocol::event::parse_hex::<32>(&b.key);
        let record = key
            .filter(|k| org.keys.contains(k))
            .and_then(|k| self.keys.get(&k).map(|r| (k, r)));
        let Some((key, record)) = record else {
            return Err(Rejection::rule(
                Code::UnknownKey,
                format!("{} is not a key of {}", b.key, b.org),
            ));
        };
        if let Some(seq) = record.revoked_seq {
            return reject(
                Code::InvalidTransition,
                format!("the key was already revoked at seq {seq}"),
            );
        }
        let active = org
            .keys
            .iter()
            .filter(|k| self.keys.get(*k).is_some_and(|r| r.revoked_seq.is_none()))
            .count();
        if p.header.actor == b.org && active <= 1 {
            return reject(
                Code::LastKey,
                "an organisation may not revoke its own last active key",
            );
        }
        let seq = self.size;
        self.keys.get_mut(&key).expect("checked").revoked_seq = Some(seq);
        Ok(Outcome::touching(Touched::Org(b.org)))
    }
}
