//! The manifest lifecycle as properties of the domain state, without a database: random
//! sequences of declarations, openings, pickups, receipts, rejections, disposals, cancellations
//! and licence moves, and of version 2 declarations into storage facilities and on-site
//! treatments (valid and invalid, signed by the right party or not, in order or not) are fed to
//! `State::submit`, and after every event the stock, the statuses, the capacity figures, the
//! facilities' stock and treated quantities, the storage-over-capacity conditions and the
//! manifest numbers must stay consistent with an independent model; a refused event must change
//! nothing.
//! Deterministic tests at the end pin the CST calendar rules (year of a number, catalogue
//! edition, lot dates, licence validity, capacity year) at instants no real clock reaches.

use std::collections::{BTreeMap, HashMap};

use chrono::Duration;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use hwledger::domain::container::ContainerStatus;
use hwledger::domain::ids::OrgId;
use hwledger::domain::licence::Licence;
use hwledger::domain::manifest::{Manifest, ManifestStatus};
use hwledger::domain::rejection::{Code, Rejection};
use hwledger::domain::state::{Org, State, Verdict};
use hwledger::domain::stock::{Lot, LotKey};
use hwledger::protocol::event::{sign_envelope, Prepared};
use hwledger::protocol::time::{self, Timestamp};

// ----- a small world ----------------------------------------------------------------------

#[derive(Clone)]
struct Party {
    org: String,
    key: SigningKey,
}

fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[31] = 0x77;
    SigningKey::from_bytes(&bytes)
}

fn party(n: u64) -> Party {
    Party {
        org: OrgId::with_check(&format!("9132040{n:010}"))
            .unwrap()
            .as_str()
            .to_owned(),
        key: key(n),
    }
}

fn hexkey(k: &SigningKey) -> String {
    hex::encode(k.verifying_key().to_bytes())
}

fn ts(t: Timestamp) -> String {
    time::format_timestamp(t)
}

fn at(s: &str) -> Timestamp {
    time::parse_timestamp(s).unwrap()
}

/// Codes the random events use: three HW08/HW49 codes, one HW18, one known only to the 2021
/// catalogue (so unknown in 2026).
const CODES: [&str; 5] = [
    "900-249-08",
    "900-214-08",
    "900-041-49",
    "772-002-18",
    "336-100-21",
];
const METHODS: [&str; 5] = ["R9", "D10", "C3", "D1", "X99"];
/// Facility ids the random events name: every generator's store, its utilisation and
/// disposal facilities, and one nobody registered.
const FACILITIES: [&str; 4] = ["S1", "R1", "D1", "NOPE"];
/// The yearly capacities of every generator's utilisation and disposal facilities.
const TREAT_R1_G: i64 = 1_500;
const TREAT_D1_G: i64 = 800;
/// A treatment with the method of the facility it names.
const OWN_METHOD: usize = usize::MAX;
/// The capacity of every generator's store, small enough to be exceeded.
const FACILITY_STORE_G: i64 = 2_000;
const VEHICLE: &str = "苏D·A1234";

struct World {
    state: State,
    ledger: SigningKey,
    regulator: Party,
    gens: Vec<Party>,
    carriers: Vec<Party>,
    receivers: Vec<Party>,
    /// Every registered party, the regulator first.
    all: Vec<Party>,
    licences: Vec<String>,
    now: Timestamp,
    /// Every manifest id an opening was tried with.
    ids: Vec<Uuid>,
    /// What was accepted, with the clock it was accepted at, for a replay.
    accepted: Vec<(Prepared, Timestamp)>,
    /// What the model of the rules expected of the last event: Some(None) accepted,
    /// Some(Some(code)) refused, None when the model has no opinion.
    expected: Option<Option<Code>>,
}

impl World {
    /// A genesis at `start`, no orgs but the regulator.
    fn genesis(start: Timestamp) -> World {
        let ledger = key(1);
        let regulator = party(2);
        let mut w = World {
            state: State::new(ledger.verifying_key().to_bytes()),
            ledger: ledger.clone(),
            regulator: regulator.clone(),
            gens: vec![],
            carriers: vec![],
            receivers: vec![],
            all: vec![regulator.clone()],
            licences: vec![],
            now: start,
            ids: vec![],
            accepted: vec![],
            expected: None,
        };
        let body = json!({
            "origin": "props.hwledger.local",
            "ledger_key": hexkey(&ledger),
            "regulator": {"org": regulator.org, "name": "钟楼生态环境局", "region": "320404", "keys": [hexkey(&regulator.key)]},
            "limits": {"transit_s": 432_000, "disposal_s": 31_536_000, "storage_s": 31_536_000,
                       "max_backdate_s": 1_209_600, "shortfall_bp": 100}
        });
        w.must("ledger", &ledger.clone(), "ledger.genesis", body, start);
        w
    }

    /// The standard cast: three generators (two in Changzhou, one in Nanjing), two carriers,
    /// two receivers and one org with every role, with licences valid through 2027.
    fn standard(start: Timestamp) -> World {
        let mut w = World::genesis(start);
        let cast: [(u64, &[&str], &'static str); 8] = [
            (10, &["generator"], "320404"),
            (11, &["generator"], "320106"),
            (12, &["generator"], "320411"),
            (20, &["carrier"], "320404"),
            (21, &["carrier"], "320106"),
            (30, &["receiver"], "320400"),
            (31, &["receiver"], "320100"),
            (40, &["generator", "carrier", "receiver"], "320404"),
        ];
        for (n, roles, region) in cast {
            let p = w.register(n, roles, region);
            if roles.contains(&"generator") {
                w.gens.push(p.clone());
            }
            if roles.contains(&"carrier") {
                w.carriers.push(p.clone());
            }
            if roles.contains(&"receiver") {
                w.receivers.push(p.clone());
            }
        }
        let (v0, v1, x) = (
            w.receivers[0].clone(),
            w.receivers[1].clone(),
            w.receivers[2].clone(),
        );
        let all = ["collect", "store", "utilize", "dispose"];
        w.licence(
            "L0",
            &v0,
            6_000,
            json!([{"codes": ["HW08", "900-041-49"], "activities": all}]),
        );
        w.licence(
            "L1",
            &v0,
            5_000,
            json!([{"codes": ["HW18"], "activities": ["store"]}]),
        );
        w.licence(
            "L2",
            &v1,
            3_000,
            json!([{"codes": ["HW08"], "activities": ["dispose"]}]),
        );
        w.licence(
            "L3",
            &v1,
            2_000,
            json!([{"codes": ["HW49"], "activities": ["collect"]}]),
        );
        w.licence(
            "L4",
            &x,
            4_000,
            json!([{"codes": ["HW08", "HW49"], "activities": all}]),
        );
        // Version 2: every generator has a small store, a utilisation and a disposal facility.
        let reg = w.regulator.clone();
        for g in w.gens.clone() {
            for body in [
                json!({"org": g.org, "facility": "S1", "kind": "storage", "storage_type": "warehouse",
                       "capacity_g": FACILITY_STORE_G, "name": "贮存库"}),
                json!({"org": g.org, "facility": "R1", "kind": "utilize", "methods": ["R9"],
                       "capacity_g": TREAT_R1_G, "name": "再生装置"}),
                json!({"org": g.org, "facility": "D1", "kind": "dispose", "methods": ["D10"],
                       "capacity_g": TREAT_D1_G, "name": "焚烧炉"}),
            ] {
                w.must(&reg.org, &reg.key, "facility.registered", body, start);
            }
        }
        w
    }

    fn register(&mut self, n: u64, roles: &[&str], region: &'static str) -> Party {
        let p = party(n);
        let body = json!({"org": p.org, "name": format!("单位{n}"), "region": region, "roles": roles, "keys": [hexkey(&p.key)]});
        let reg = self.regulator.clone();
        self.must(&reg.org, &reg.key, "org.registered", body, self.now);
        self.all.push(p.clone());
        p
    }

    fn licence(&mut self, number: &str, holder: &Party, capacity: i64, scopes: Value) {
        self.licence_valid(number, holder, capacity, "2020-01-01", "2027-12-31", scopes);
    }

    fn licence_valid(
        &mut self,
        number: &str,
        holder: &Party,
        capacity: i64,
        from: &str,
        until: &str,
        scopes: Value,
    ) {
        let body = json!({"license": number, "holder": holder.org, "capacity_g": capacity,
                          "valid_from": from, "valid_until": until, "scopes": scopes});
        let reg = self.regulator.clone();
        self.must(&reg.org, &reg.key, "license.issued", body, self.now);
        self.licences.push(number.to_owned());
    }

    /// Signs an event and prepares it as the sequencer would, with the signature checked.
    fn prepare(
        actor: &str,
        key: &SigningKey,
        kind: &str,
        body: Value,
        at: Timestamp,
    ) -> Option<Prepared> {
        let event = json!({"v": 1, "id": Uuid::new_v4().to_string(), "type": kind,
                           "actor": actor, "at": ts(at), "body": body});
        let mut p = Prepared::from_value(sign_envelope(&event, key)).ok()?;
        p.sig_ok = true;
        Some(p)
    }

    /// Submits at the world's clock; `None` when step 1 (the shape) refuses it.
    fn try_submit(
        &mut self,
        actor: &str,
        key: &SigningKey,
        kind: &str,
        body: Value,
        at: Timestamp,
    ) -> Option<Result<Verdict, Rejection>> {
        let p = Self::prepare(actor, key, kind, body, at)?;
        let r = self.state.submit(&p, self.now);
        if matches!(r, Ok(Verdict::Accepted(_))) {
            self.accepted.push((p, self.now));
        }
        Some(r)
    }

    /// Submits and returns the refusal code, or None when accepted.
    fn submit_code(
        &mut self,
        actor: &str,
        key: &SigningKey,
        kind: &str,
        body: Value,
        at: Timestamp,
    ) -> Option<Code> {
        self.expected = self.model(actor, key, kind, &body, at);
        match self.try_submit(actor, key, kind, body, at) {
            None => Some(Code::InvalidEvent),
            Some(Ok(Verdict::Accepted(_))) => None,
            Some(Ok(Verdict::Replay(s))) => panic!("a fresh event id replays seq {s}"),
            Some(Err(r)) => Some(r.code),
        }
    }

    fn must(&mut self, actor: &str, key: &SigningKey, kind: &str, body: Value, at: Timestamp) {
        if let Some(code) = self.submit_code(actor, key, kind, body.clone(), at) {
            panic!("{kind} refused ({code}): {body}");
        }
    }

    fn as_party(&mut self, p: &Party, kind: &str, body: Value, at: Timestamp) -> Option<Code> {
        self.submit_code(&p.org.clone(), &p.key.clone(), kind, body, at)
    }
}

// ----- what is compared -------------------------------------------------------------------

/// Everything of the state a test can see: the pub fields and pub figures.
#[derive(Debug, PartialEq)]
struct Snapshot {
    size: u64,
    orgs: BTreeMap<String, Org>,
    licences: BTreeMap<String, Licence>,
    lots: BTreeMap<LotKey, Lot>,
    manifests: BTreeMap<Uuid, Manifest>,
    keys: usize,
    unreserved: Vec<i64>,
    intake: Vec<i64>,
    facilities: BTreeMap<(String, String), hwledger::domain::facility::Facility>,
    treatments: BTreeMap<u64, hwledger::domain::treatment::Treatment>,
    crossings: Vec<String>,
    containers: BTreeMap<String, hwledger::domain::container::Container>,
}

fn snapshot(w: &World) -> Snapshot {
    let s = &w.state;
    let mut unreserved = Vec::new();
    for g in &w.all {
        for c in CODES {
            unreserved.push(s.unreserved(&g.org, c));
        }
    }
    let mut intake = Vec::new();
    for r in &w.all {
        for y in [2024, 2025, 2026, 2027] {
            intake.push(s.intake(&r.org, y));
        }
    }
    Snapshot {
        size: s.size,
        orgs: s.orgs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        licences: s
            .licences
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        lots: s.lots.iter().map(|(k, v)| (*k, v.clone())).collect(),
        manifests: s.manifests.iter().map(|(k, v)| (*k, v.clone())).collect(),
        keys: s.keys.len(),
        unreserved,
        intake,
        facilities: s
            .facilities
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        treatments: s.treatments.iter().map(|(k, v)| (*k, v.clone())).collect(),
        crossings: {
            let mut c: Vec<String> = s.crossings.keys().cloned().collect();
            c.sort();
            c
        },
        containers: s
            .containers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn allowed(from: ManifestStatus, to: ManifestStatus) -> bool {
    use ManifestStatus::*;
    from == to
        || matches!(
            (from, to),
            (Opened, PickedUp)
                | (Opened, Cancelled)
                | (PickedUp, Received)
                | (PickedUp, Rejected)
                | (Received, Disposed)
        )
}

/// The invariants that hold after every event.
fn check_invariants(w: &World) -> Result<(), TestCaseError> {
    let s = &w.state;
    use ManifestStatus::*;
    // Lots: 0 ≤ reserved ≤ remaining ≤ quantity.
    for lot in s.lots.values() {
        prop_assert!(
            lot.reserved_g >= 0,
            "lot {} reserved {} < 0",
            lot.seq,
            lot.reserved_g
        );
        prop_assert!(
            lot.remaining_g >= 0,
            "lot {} remaining {} < 0",
            lot.seq,
            lot.remaining_g
        );
        prop_assert!(
            lot.reserved_g <= lot.remaining_g,
            "lot {}: reserved {} > remaining {}",
            lot.seq,
            lot.reserved_g,
            lot.remaining_g
        );
        prop_assert!(
            lot.remaining_g <= lot.quantity_g,
            "lot {}: remaining {} > quantity {}",
            lot.seq,
            lot.remaining_g,
            lot.quantity_g
        );
    }
    // Each line's allocation covers its quantity from lots of its generator and code.
    let mut reserved: HashMap<LotKey, i64> = HashMap::new();
    let mut taken: HashMap<LotKey, i64> = HashMap::new();
    for m in s.manifests.values() {
        for line in &m.lines {
            let total: i64 = line.lots.iter().map(|(_, q)| q).sum();
            prop_assert_eq!(
                total,
                line.quantity_g,
                "manifest {} line {} allocation",
                m.id,
                &line.code
            );
            for (seq, q) in &line.lots {
                let lot = &s.lots[seq];
                prop_assert_eq!(&lot.generator, &m.generator);
                prop_assert_eq!(&lot.code, &line.code);
                prop_assert!(*q > 0);
                match m.status {
                    Opened => *reserved.entry(*seq).or_default() += q,
                    PickedUp | Received | Disposed | Stored => *taken.entry(*seq).or_default() += q,
                    Cancelled | Rejected => {}
                }
            }
        }
    }
    // Containers: a lot of containers holds what its containers in stock or reserved hold, and
    // has reserved what its reserved ones hold; a container's status follows its manifest; a
    // line without containers never takes from a lot of containers.
    for lot in s.lots.values() {
        let Some(ids) = &lot.containers else { continue };
        let (mut held, mut reserved) = (0, 0);
        for id in ids {
            let c = &s.containers[id];
            prop_assert_eq!(c.lot, lot.key());
            prop_assert_eq!(
                hwledger::domain::container::packer(id),
                lot.generator.as_str()
            );
            match c.status {
                ContainerStatus::InStock => held += c.quantity_g,
                ContainerStatus::Reserved => {
                    held += c.quantity_g;
                    reserved += c.quantity_g
                }
                _ => {}
            }
        }
        prop_assert_eq!(
            lot.remaining_g,
            held,
            "remaining of lot {} of containers",
            lot.seq
        );
        prop_assert_eq!(
            lot.reserved_g,
            reserved,
            "reserved of lot {} of containers",
            lot.seq
        );
    }
    for m in s.manifests.values() {
        for line in &m.lines {
            if line.containers.is_none() {
                for (seq, _) in &line.lots {
                    prop_assert!(
                        s.lots[seq].containers.is_none(),
                        "a container-less line took from lot {}",
                        seq.seq
                    );
                }
            }
            for id in line.container_ids() {
                let c = &s.containers[&id];
                let want = match m.status {
                    Opened => Some(ContainerStatus::Reserved),
                    PickedUp => Some(ContainerStatus::Shipped),
                    Received | Disposed => None,
                    // Kept by a storing: in the receiver's stock, in a lot of its own.
                    Stored | Cancelled | Rejected => continue,
                };
                match want {
                    Some(st) => prop_assert_eq!(c.status, st, "container {} of {}", &id, m.id),
                    None => prop_assert!(
                        matches!(
                            c.status,
                            ContainerStatus::Received | ContainerStatus::Missing
                        ),
                        "container {} of received {}",
                        &id,
                        m.id
                    ),
                }
                prop_assert_eq!(c.manifest, Some(m.id));
            }
        }
    }
    // Treatments take from lots of their generator and code dated on or before them.
    let mut treated_g = 0;
    for t in s.treatments.values() {
        let total: i64 = t.lots.iter().map(|(_, q)| q).sum();
        prop_assert_eq!(total, t.quantity_g, "treatment {} takes", t.seq);
        for (seq, q) in &t.lots {
            let lot = &s.lots[seq];
            prop_assert_eq!(&lot.generator, &t.generator);
            prop_assert_eq!(&lot.code, &t.code);
            prop_assert!(
                lot.date <= t.date,
                "treatment {} took from a later lot",
                t.seq
            );
            *taken.entry(*seq).or_default() += q;
        }
        treated_g += t.quantity_g;
    }
    // Facilities: a store's stock is what remains of its lots; a treating facility's grams per
    // year are its treatments', within its capacity.
    for f in s.facilities.values() {
        let stock: i64 = s
            .lots
            .values()
            .filter(|l| l.generator == f.org && l.facility.as_deref() == Some(f.facility.as_str()))
            .map(|l| l.remaining_g)
            .sum();
        prop_assert_eq!(f.stock_g, stock, "stock of {}:{}", &f.org, &f.facility);
        for y in [2025, 2026, 2027] {
            let by_treatments: i64 = s
                .treatments
                .values()
                .filter(|t| {
                    t.generator == f.org && t.facility == f.facility && time::year_of(t.date) == y
                })
                .map(|t| t.quantity_g)
                .sum();
            prop_assert_eq!(
                f.treated_in(y),
                by_treatments,
                "treated by {}:{} in {}",
                &f.org,
                &f.facility,
                y
            );
            prop_assert!(by_treatments <= f.capacity_g);
        }
    }
    // The rate counts every treated gram as proper, treated on site.
    let figures = s.disposal_figures(w.now, &Default::default());
    prop_assert_eq!(figures.treated_onsite_g, treated_g, "treated_onsite_g");
    // What lots hold reserved is what opened manifests hold; what left them is what was picked
    // up and not returned, or treated.
    for lot in s.lots.values() {
        prop_assert_eq!(
            lot.reserved_g,
            reserved.get(&lot.key()).copied().unwrap_or(0),
            "reserved of lot {}",
            lot.seq
        );
        prop_assert_eq!(
            lot.quantity_g - lot.remaining_g,
            taken.get(&lot.key()).copied().unwrap_or(0),
            "taken from lot {}",
            lot.seq
        );
    }
    let gone: i64 = s.lots.values().map(|l| l.quantity_g - l.remaining_g).sum();
    let shipped: i64 = s
        .manifests
        .values()
        .filter(|m| matches!(m.status, PickedUp | Received | Disposed))
        .map(|m| m.shipped_g())
        .sum();
    prop_assert_eq!(
        gone,
        shipped + treated_g,
        "sum over lots of quantity − remaining"
    );
    // unreserved() agrees with the container-less lots.
    for g in &w.all {
        for c in CODES {
            let from_lots: i64 = s
                .lots
                .values()
                .filter(|l| l.generator == g.org && l.code == c && l.containers.is_none())
                .map(|l| l.remaining_g - l.reserved_g)
                .sum();
            prop_assert_eq!(
                s.unreserved(&g.org, c),
                from_lots,
                "unreserved {} {}",
                &g.org,
                c
            );
        }
    }
    // Capacity figures: received in the CST year of receipt, plus everything in flight.
    for r in &w.all {
        for y in [2025, 2026, 2027] {
            let mut want = 0;
            for m in s.manifests.values().filter(|m| m.receiver == r.org) {
                match m.status {
                    Opened | PickedUp => want += m.shipped_g(),
                    Received | Disposed | Stored => {
                        if time::cst_year(m.received_at.expect("received")) == y {
                            want += m
                                .lines
                                .iter()
                                .map(|l| l.received_g.expect("counted"))
                                .sum::<i64>();
                        }
                    }
                    Cancelled | Rejected => {}
                }
            }
            prop_assert_eq!(s.intake(&r.org, y), want, "intake of {} in {}", &r.org, y);
        }
    }
    // Numbers: YYYY + city + serial, serials 1..n per (year, city) in opening order.
    let mut by_series: BTreeMap<String, Vec<(u64, u32)>> = BTreeMap::new();
    for m in s.manifests.values() {
        prop_assert_eq!(m.number.len(), 14, "number {}", &m.number);
        let region = &s.orgs[&m.generator].region;
        prop_assert_eq!(&m.number[..4], time::cst_year(m.opened_at).to_string());
        prop_assert_eq!(&m.number[4..8], &region[..4]);
        let serial: u32 = m.number[8..].parse().unwrap();
        by_series
            .entry(m.number[..8].to_owned())
            .or_default()
            .push((m.opened_seq, serial));
    }
    for (series, mut v) in by_series {
        v.sort();
        let serials: Vec<u32> = v.iter().map(|(_, n)| *n).collect();
        let want: Vec<u32> = (1..=serials.len() as u32).collect();
        prop_assert_eq!(serials, want, "serials of {}", series);
    }
    Ok(())
}

/// A new manifest's lines take their lots oldest first by (date, seq): every lot of the same
/// generator and code before the last one it drew from has nothing unreserved left.
fn check_oldest_first(w: &World, m: &Manifest) -> Result<(), TestCaseError> {
    // Only lines without containers take oldest first, and only from container-less lots.
    for line in m.lines.iter().filter(|l| l.containers.is_none()) {
        let order = |key: &LotKey| {
            let l = &w.state.lots[key];
            (l.date, l.seq)
        };
        let drawn: Vec<(chrono::NaiveDate, u64)> =
            line.lots.iter().map(|(s, _)| order(s)).collect();
        prop_assert!(
            drawn.windows(2).all(|p| p[0] < p[1]),
            "lots drawn out of order: {:?}",
            drawn
        );
        let last = *drawn.last().expect("a line draws from some lot");
        for lot in w.state.lots.values() {
            if lot.generator == m.generator
                && lot.code == line.code
                && lot.containers.is_none()
                && (lot.date, lot.seq) < last
            {
                prop_assert_eq!(
                    lot.remaining_g - lot.reserved_g,
                    0,
                    "older lot {} left unreserved",
                    lot.seq
                );
            }
        }
    }
    Ok(())
}

// ----- a model of the rules ---------------------------------------------------------------

/// The catalogue codes of `CODES` known to the 2025 edition (all but the last).
fn known_2025(code: &str) -> bool {
    CODES[..4].contains(&code)
}

const METHOD_KINDS: [(&str, &str); 4] = [
    ("R9", "utilize"),
    ("D10", "dispose"),
    ("C3", "utilize"),
    ("D1", "dispose"),
];

impl World {
    fn has_role(&self, org: &str, role: &str) -> bool {
        self.state
            .orgs
            .get(org)
            .is_some_and(|o| o.roles.iter().any(|r| r.as_str() == role))
    }

    /// Whether a licence of `holder` covers `code` for one of `activities` on `day`, judged
    /// from the licences' fields alone.
    fn model_covered(
        &self,
        holder: &str,
        code: &str,
        activities: &[&str],
        day: chrono::NaiveDate,
    ) -> bool {
        let category = format!("HW{}", &code[8..]);
        self.state.licences.values().any(|l| {
            l.holder == holder
                && l.status.as_str() == "active"
                && l.valid_from <= day
                && day <= l.valid_until
                && l.scopes.iter().any(|s| {
                    s.codes.iter().any(|c| *c == code || *c == category)
                        && s.activities.iter().any(|a| {
                            let a = serde_json::to_value(a).unwrap();
                            activities.iter().any(|x| a == *x)
                        })
                })
        })
    }

    /// The receiver's intake in `year`, from the manifests alone.
    fn model_intake(&self, receiver: &str, year: i32) -> i64 {
        use ManifestStatus::*;
        self.state
            .manifests
            .values()
            .filter(|m| m.receiver == receiver)
            .map(|m| match m.status {
                Opened | PickedUp => m.shipped_g(),
                Received | Disposed if time::cst_year(m.received_at.unwrap()) == year => {
                    m.lines.iter().map(|l| l.received_g.unwrap()).sum()
                }
                _ => 0,
            })
            .sum()
    }

    /// What §3 (steps 3, 6, 7) and §6 say of an event, for the kinds the random walks make.
    fn model(
        &self,
        actor: &str,
        key: &SigningKey,
        kind: &str,
        body: &Value,
        at: Timestamp,
    ) -> Option<Option<Code>> {
        use ManifestStatus::*;
        if self.state.size < 2 || !self.state.orgs.contains_key(&self.gens.first()?.org) {
            return None; // still setting up
        }
        let lines = body["lines"].as_array();
        // Step 1: shapes the walks can get wrong.
        if let Some(ls) = lines {
            if ls.is_empty() {
                return Some(Some(Code::InvalidEvent));
            }
            if kind == "manifest.opened" {
                let mut seen = std::collections::HashSet::new();
                if !ls
                    .iter()
                    .all(|l| seen.insert(l["code"].as_str().unwrap().to_owned()))
                {
                    return Some(Some(Code::InvalidEvent));
                }
            }
        }
        // Step 3: the key is the actor's.
        let owner = self
            .all
            .iter()
            .find(|p| p.key.verifying_key() == key.verifying_key())
            .map(|p| p.org.as_str());
        if owner != Some(actor) {
            return Some(Some(Code::UnknownKey));
        }
        let day = time::cst_date(at);
        let role = |r: &str| self.has_role(actor, r);
        let refuse = |c: Code| Some(Some(c));
        let manifest = body["manifest"]
            .as_str()
            .map(|m| Uuid::parse_str(m).unwrap());
        // The shared steps of the manifest moves: signer role, the manifest, its party, its order.
        let moved = |role_name: &str,
                     party: fn(&Manifest) -> &String,
                     from: ManifestStatus|
         -> Result<&Manifest, Option<Option<Code>>> {
            // A manifest's opener is a generator, or a receiver shipping what it stored.
            let signer_ok = match role_name {
                "opener" => role("generator") || role("receiver"),
                r => role(r),
            };
            if !signer_ok {
                return Err(refuse(Code::Forbidden));
            }
            let Some(m) = self.state.manifests.get(&manifest.unwrap()) else {
                return Err(refuse(Code::UnknownManifest));
            };
            if party(m) != actor {
                return Err(refuse(Code::Forbidden));
            }
            if at < m.last_at {
                return Err(refuse(Code::BadTimestamp));
            }
            if m.status != from {
                return Err(refuse(Code::InvalidTransition));
            }
            Ok(m)
        };
        // Receipt and disposal lines: exactly one per manifest line.
        let lines_match = |m: &Manifest| {
            let ls = lines.unwrap();
            let mut codes: Vec<&str> = ls.iter().map(|l| l["code"].as_str().unwrap()).collect();
            codes.sort();
            let mut want: Vec<&str> = m.lines.iter().map(|l| l.code.as_str()).collect();
            want.sort();
            codes == want
        };
        let line_of = |code: &str| lines.unwrap().iter().find(|l| l["code"] == code).unwrap();
        Some(match kind {
            "waste.declared" => {
                let facility = body["facility"].as_str();
                let reused = body["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| {
                        self.state
                            .containers
                            .get(c["id"].as_str().unwrap())
                            .is_some()
                    });
                if !role("generator") || body["generator"] != actor {
                    Some(Code::Forbidden)
                } else if reused {
                    Some(Code::ContainerExists)
                } else if facility.is_some_and(|f| f != "S1") {
                    Some(Code::UnknownFacility)
                } else if !known_2025(body["code"].as_str().unwrap()) {
                    Some(Code::UnknownWasteCode)
                } else if time::parse_date(body["date"].as_str().unwrap()).unwrap() > day {
                    Some(Code::BadDate)
                } else {
                    None
                }
            }
            "manifest.opened" => {
                let ls = lines.unwrap();
                let (carrier, receiver) = (
                    body["carrier"].as_str().unwrap(),
                    body["receiver"].as_str().unwrap(),
                );
                let codes: Vec<&str> = ls.iter().map(|l| l["code"].as_str().unwrap()).collect();
                let shipped: i64 = ls.iter().map(|l| l["quantity_g"].as_i64().unwrap()).sum();
                let capacity: i64 = self
                    .state
                    .licences
                    .values()
                    .filter(|l| {
                        l.holder == receiver
                            && l.status.as_str() == "active"
                            && l.valid_from <= day
                            && day <= l.valid_until
                    })
                    .map(|l| l.capacity_g)
                    .sum();
                let unreserved = |code: &str| -> i64 {
                    self.state
                        .lots
                        .values()
                        .filter(|l| {
                            l.generator == actor && l.code == code && l.containers.is_none()
                        })
                        .map(|l| l.remaining_g - l.reserved_g)
                        .sum()
                };
                if !(role("generator") || role("receiver")) || body["generator"] != actor {
                    Some(Code::Forbidden)
                } else if self.state.manifests.contains_key(&manifest.unwrap()) {
                    Some(Code::ManifestExists)
                } else if !self.state.orgs.contains_key(carrier)
                    || !self.state.orgs.contains_key(receiver)
                {
                    Some(Code::UnknownOrg)
                } else if codes.iter().any(|c| {
                    // A code the edition in force dropped still moves the lots that hold it.
                    !known_2025(c)
                        && !self
                            .state
                            .lots
                            .values()
                            .any(|l| l.generator == actor && l.code == *c && l.remaining_g > 0)
                }) {
                    Some(Code::UnknownWasteCode)
                } else if !self.has_role(carrier, "carrier") {
                    Some(Code::NotACarrier)
                } else if !codes
                    .iter()
                    .all(|c| self.model_covered(receiver, c, &["store", "utilize", "dispose"], day))
                {
                    Some(Code::UnlicensedReceiver)
                } else if self.model_intake(receiver, time::cst_year(at)) + shipped > capacity {
                    Some(Code::CapacityExceeded)
                } else {
                    // Line by line: named containers exactly, else container-less stock.
                    let mut verdict = None;
                    for l in ls {
                        let code = l["code"].as_str().unwrap();
                        let q = l["quantity_g"].as_i64().unwrap();
                        let Some(ids) = l["containers"].as_array() else {
                            if unreserved(code) < q {
                                verdict = Some(Code::InsufficientStock);
                                break;
                            }
                            continue;
                        };
                        let mut sum = 0;
                        for id in ids {
                            let Some(c) = self.state.containers.get(id.as_str().unwrap()) else {
                                verdict = Some(Code::UnknownContainer);
                                break;
                            };
                            let lot = &self.state.lots[&c.lot];
                            if c.status != ContainerStatus::InStock
                                || lot.generator != actor
                                || lot.code != code
                            {
                                verdict = Some(Code::ContainerUnavailable);
                                break;
                            }
                            sum += c.quantity_g;
                        }
                        if verdict.is_none() && sum != q {
                            verdict = Some(Code::ContainersMismatch);
                        }
                        if verdict.is_some() {
                            break;
                        }
                    }
                    verdict
                }
            }
            "waste.treated" => {
                let (facility, code) = (
                    body["facility"].as_str().unwrap(),
                    body["code"].as_str().unwrap(),
                );
                let method = body["method"].as_str().unwrap();
                let date = time::parse_date(body["date"].as_str().unwrap()).unwrap();
                let lots = || {
                    self.state
                        .lots
                        .values()
                        .filter(move |l| l.generator == actor && l.code == code)
                };
                // Without named containers a treatment takes container-less stock only.
                let unreserved: i64 = lots()
                    .filter(|l| l.date <= date && l.containers.is_none())
                    .map(|l| l.remaining_g - l.reserved_g)
                    .sum();
                let capacity = match facility {
                    "R1" => TREAT_R1_G,
                    _ => TREAT_D1_G,
                };
                let treated: i64 = self
                    .state
                    .treatments
                    .values()
                    .filter(|t| {
                        t.generator == actor
                            && t.facility == facility
                            && time::year_of(t.date) == time::year_of(date)
                    })
                    .map(|t| t.quantity_g)
                    .sum();
                let qty = body["quantity_g"].as_i64().unwrap();
                if !role("generator") || body["generator"] != actor {
                    Some(Code::Forbidden)
                } else if !matches!(facility, "R1" | "D1") {
                    Some(Code::UnknownFacility)
                } else if !known_2025(code) && !lots().any(|l| l.remaining_g > 0) {
                    Some(Code::UnknownWasteCode)
                } else if date > day {
                    Some(Code::BadDate)
                } else if !METHOD_KINDS.iter().any(|(c, _)| *c == method) {
                    Some(Code::UnknownMethod)
                } else if (facility, method) != ("R1", "R9") && (facility, method) != ("D1", "D10")
                {
                    Some(Code::MethodNotAllowed)
                } else if unreserved < qty {
                    Some(Code::InsufficientStock)
                } else if treated + qty > capacity {
                    Some(Code::CapacityExceeded)
                } else {
                    None
                }
            }
            "manifest.cancelled" => match moved("opener", |m| &m.generator, Opened) {
                Err(e) => return e,
                Ok(_) => None,
            },
            "manifest.picked_up" => match moved("carrier", |m| &m.carrier, Opened) {
                Err(e) => return e,
                Ok(m) => {
                    let mut named: Vec<String> =
                        m.lines.iter().flat_map(|l| l.container_ids()).collect();
                    let mut scanned: Vec<String> = body["containers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| c.as_str().unwrap().to_owned())
                        .collect();
                    named.sort();
                    scanned.sort();
                    (named != scanned).then_some(Code::ContainersMismatch)
                }
            },
            "manifest.rejected" => match moved("receiver", |m| &m.receiver, PickedUp) {
                Err(e) => return e,
                Ok(_) => None,
            },
            "manifest.received" => match moved("receiver", |m| &m.receiver, PickedUp) {
                Err(e) => return e,
                Ok(m) if !lines_match(m) => Some(Code::LinesMismatch),
                Ok(_) => None,
            },
            "manifest.disposed" => match moved("receiver", |m| &m.receiver, Received) {
                Err(e) => return e,
                Ok(m) if !lines_match(m) => Some(Code::LinesMismatch),
                Ok(_)
                    if lines
                        .unwrap()
                        .iter()
                        .any(|l| !METHOD_KINDS.iter().any(|(c, _)| l["method"] == *c)) =>
                {
                    Some(Code::UnknownMethod)
                }
                Ok(m)
                    if m.lines.iter().any(|ml| {
                        line_of(&ml.code)["quantity_g"].as_i64().unwrap() > ml.received_g.unwrap()
                    }) =>
                {
                    Some(Code::OverReceived)
                }
                Ok(_) => None,
            },
            "license.suspended" | "license.reinstated" | "license.revoked" => {
                if !role("regulator") {
                    return refuse(Code::Forbidden);
                }
                let Some(l) = self.state.licences.get(body["license"].as_str().unwrap()) else {
                    return refuse(Code::UnknownLicense);
                };
                let from = l.status.as_str();
                if matches!(
                    (kind, from),
                    ("license.suspended", "active")
                        | ("license.reinstated", "suspended")
                        | ("license.revoked", "active" | "suspended")
                ) {
                    None
                } else {
                    Some(Code::InvalidTransition)
                }
            }
            _ => return None,
        })
    }
}

// ----- random events ----------------------------------------------------------------------

/// Who signs: the right party, another registered org as itself, or the right actor with
/// another org's key.
#[derive(Debug, Clone, Copy)]
enum Who {
    Right,
    Other(usize),
    ForeignKey(usize),
}

/// How a receipt's or disposal's lines relate to the manifest's.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Exact,
    Reversed,
    DropLast,
    Extra,
    Repeat,
}

#[derive(Debug, Clone)]
enum Op {
    Declare {
        gen: usize,
        code: usize,
        qty: i64,
        age_days: i64,
        ahead: bool,
        facility: Option<usize>,
        who: Who,
    },
    DeclareDrums {
        gen: usize,
        code: usize,
        drums: Vec<i64>,
        reuse: bool,
        who: Who,
    },
    OpenDrums {
        gen: usize,
        carrier: usize,
        receiver: usize,
        n: usize,
        who: Who,
    },
    Treat {
        gen: usize,
        facility: usize,
        code: usize,
        qty: i64,
        method: usize,
        age_days: i64,
        ahead: bool,
        who: Who,
    },
    Open {
        gen: usize,
        carrier: usize,
        receiver: usize,
        lines: Vec<(usize, i64)>,
        reuse: Option<usize>,
        who: Who,
    },
    Cancel {
        m: usize,
        who: Who,
    },
    PickUp {
        m: usize,
        who: Who,
    },
    Receive {
        m: usize,
        counts: Vec<i64>,
        shape: Shape,
        who: Who,
    },
    Reject {
        m: usize,
        who: Who,
    },
    Dispose {
        m: usize,
        counts: Vec<i64>,
        methods: Vec<usize>,
        shape: Shape,
        who: Who,
    },
    Licence {
        lic: usize,
        kind: usize,
        who: Who,
    },
}

#[derive(Debug, Clone)]
struct Step {
    op: Op,
    advance_s: i64,
    backdate_s: i64,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        8 => Just(Who::Right),
        1 => (0usize..16).prop_map(Who::Other),
        1 => (0usize..16).prop_map(Who::ForeignKey),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        8 => Just(Shape::Exact),
        2 => Just(Shape::Reversed),
        1 => Just(Shape::DropLast),
        1 => Just(Shape::Extra),
        1 => Just(Shape::Repeat),
    ]
}

/// Mostly codes of the 2025 catalogue, now and then one it does not know.
fn line_code() -> impl Strategy<Value = usize> {
    prop_oneof![12 => 0usize..4, 1 => Just(4usize)]
}

fn op() -> impl Strategy<Value = Op> {
    let m = 0usize..64;
    prop_oneof![
        3 => (0usize..4, 0usize..5, 1i64..3000, 0i64..40, proptest::bool::weighted(0.05),
              proptest::option::weighted(0.5, prop_oneof![8 => Just(0usize), 1 => Just(1usize), 1 => Just(3usize)]), who())
            .prop_map(|(gen, code, qty, age_days, ahead, facility, who)| Op::Declare { gen, code, qty, age_days, ahead, facility, who }),
        2 => (0usize..4, 0usize..4, proptest::collection::vec(1i64..1500, 1..4), proptest::bool::weighted(0.1), who())
            .prop_map(|(gen, code, drums, reuse, who)| Op::DeclareDrums { gen, code, drums, reuse, who }),
        2 => (0usize..4, 0usize..7, 0usize..7, 1usize..4, who())
            .prop_map(|(gen, carrier, receiver, n, who)| Op::OpenDrums { gen, carrier, receiver, n, who }),
        2 => (0usize..4, prop_oneof![4 => 1usize..3, 1 => Just(0usize), 1 => Just(3usize)], line_code(), 1i64..2500,
              prop_oneof![6 => Just(OWN_METHOD), 1 => 0usize..5], 0i64..40, proptest::bool::weighted(0.05), who())
            .prop_map(|(gen, facility, code, qty, method, age_days, ahead, who)| Op::Treat { gen, facility, code, qty, method, age_days, ahead, who }),
        5 => (0usize..4, 0usize..7, 0usize..7, proptest::collection::vec((line_code(), 1i64..4000), 1..4)
                  .prop_filter_map("mostly distinct codes", |mut ls| {
                      // Keep a repeated code now and then (a shape error); usually drop repeats.
                      if ls.len() < 3 || ls[0].1 % 8 != 0 {
                          let mut seen = std::collections::HashSet::new();
                          ls.retain(|(c, _)| seen.insert(*c));
                      }
                      Some(ls)
                  }),
              proptest::option::weighted(0.05, 0usize..64), who())
            .prop_map(|(gen, carrier, receiver, lines, reuse, who)| Op::Open { gen, carrier, receiver, lines, reuse, who }),
        1 => (m.clone(), who()).prop_map(|(m, who)| Op::Cancel { m, who }),
        4 => (m.clone(), who()).prop_map(|(m, who)| Op::PickUp { m, who }),
        4 => (m.clone(), proptest::collection::vec(0i64..3000, 4), shape(), who())
            .prop_map(|(m, counts, shape, who)| Op::Receive { m, counts, shape, who }),
        1 => (m.clone(), who()).prop_map(|(m, who)| Op::Reject { m, who }),
        4 => (m, proptest::collection::vec(0i64..3000, 4), proptest::collection::vec(0usize..5, 4), shape(), who())
            .prop_map(|(m, counts, methods, shape, who)| Op::Dispose { m, counts, methods, shape, who }),
        1 => (0usize..5, 0usize..3, who()).prop_map(|(lic, kind, who)| Op::Licence { lic, kind, who }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        op(),
        0i64..3600,
        prop_oneof![7 => Just(0i64), 3 => 1i64..7200],
    )
        .prop_map(|(op, advance_s, backdate_s)| Step {
            op,
            advance_s,
            backdate_s,
        })
}

/// Picks from `preferred` mostly, otherwise any registered org, or one nobody registered.
fn pick(w: &World, preferred: &[Party], i: usize) -> Party {
    if i < 2 * preferred.len() {
        preferred[i % preferred.len()].clone()
    } else if i % 5 == 4 {
        party(999)
    } else {
        w.all[i % w.all.len()].clone()
    }
}

impl World {
    /// A manifest to act on: mostly one in the status the move needs (in opening order), else
    /// any id tried so far, or one that never existed.
    fn manifest_id(&self, m: usize, wanted: ManifestStatus) -> Uuid {
        let mut fitting: Vec<&Manifest> = self
            .state
            .manifests
            .values()
            .filter(|x| x.status == wanted)
            .collect();
        fitting.sort_by_key(|x| x.opened_seq);
        let mut any: Vec<&Manifest> = self.state.manifests.values().collect();
        any.sort_by_key(|x| x.opened_seq);
        if m % 10 < 7 && !fitting.is_empty() {
            fitting[m % fitting.len()].id
        } else if m % 10 < 9 && !any.is_empty() {
            any[m % any.len()].id
        } else if m % 10 == 9 && !self.ids.is_empty() {
            // Possibly an id whose opening was refused.
            self.ids[m % self.ids.len()]
        } else {
            Uuid::from_u128(0xdead_0000 + m as u128)
        }
    }

    /// Signs as `right` unless `who` says otherwise.
    fn signer(&self, right: &Party, who: Who) -> (String, SigningKey) {
        match who {
            Who::Right => (right.org.clone(), right.key.clone()),
            Who::Other(i) => {
                let p = &self.all[i % self.all.len()];
                (p.org.clone(), p.key.clone())
            }
            Who::ForeignKey(i) => {
                let p = &self.all[i % self.all.len()];
                (right.org.clone(), p.key.clone())
            }
        }
    }

    fn counted_lines(
        &self,
        id: &Uuid,
        counts: &[i64],
        methods: Option<&[usize]>,
        shape: Shape,
    ) -> Value {
        let codes: Vec<String> = match self.state.manifests.get(id) {
            Some(m) => m.lines.iter().map(|l| l.code.clone()).collect(),
            None => vec![CODES[0].to_owned()],
        };
        let mut lines: Vec<Value> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut l = json!({"code": c, "quantity_g": counts[i % counts.len()]});
                if let Some(ms) = methods {
                    l["method"] = json!(METHODS[ms[i % ms.len()]]);
                }
                l
            })
            .collect();
        match shape {
            Shape::Exact => {}
            Shape::Reversed => lines.reverse(),
            Shape::DropLast => {
                lines.pop();
            }
            Shape::Extra => {
                let mut extra = lines[0].clone();
                extra["code"] = json!("900-200-08");
                lines.push(extra);
            }
            Shape::Repeat => {
                let again = lines[0].clone();
                lines.push(again);
            }
        }
        Value::Array(lines)
    }

    /// Applies one random step; returns the kind submitted, the manifest it names (if any) and
    /// the refusal code (None when accepted, or when step 1 refused it).
    fn apply(&mut self, step: &Step) -> (&'static str, Option<Uuid>, Option<Code>) {
        self.now += Duration::seconds(step.advance_s);
        let at = self.now - Duration::seconds(step.backdate_s);
        let gen_of = |w: &World, id: &Uuid| w.state.manifests.get(id).map(|m| m.generator.clone());
        let party_named = |w: &World, org: Option<String>, fallback: &Party| {
            org.and_then(|o| w.all.iter().find(|p| p.org == o).cloned())
                .unwrap_or_else(|| fallback.clone())
        };
        match &step.op {
            Op::Declare {
                gen,
                code,
                qty,
                age_days,
                ahead,
                facility,
                who,
            } => {
                let g = self.gens[gen % self.gens.len()].clone();
                let date = time::cst_date(at) + Duration::days(if *ahead { 1 } else { -age_days });
                let mut body = json!({"generator": g.org, "code": CODES[*code], "quantity_g": qty, "date": time::format_date(date)});
                if let Some(f) = facility {
                    body["facility"] = json!(FACILITIES[*f]);
                }
                let (actor, key) = self.signer(&g, *who);
                (
                    "waste.declared",
                    None,
                    self.submit_code(&actor, &key, "waste.declared", body, at),
                )
            }
            Op::DeclareDrums {
                gen,
                code,
                drums,
                reuse,
                who,
            } => {
                let g = self.gens[gen % self.gens.len()].clone();
                let day = time::cst_date(at);
                let code = CODES[*code];
                let stem = format!(
                    "{}{}{}",
                    g.org,
                    code.replace('-', ""),
                    time::format_date(day).replace('-', "")
                );
                let taken = self
                    .state
                    .containers
                    .iter()
                    .map(|(id, _)| id)
                    .filter(|id| id.starts_with(&stem))
                    .count();
                let first = if *reuse && taken > 0 { 1 } else { taken + 1 };
                let list: Vec<Value> = drums
                    .iter()
                    .enumerate()
                    .map(|(i, q)| json!({"id": format!("{stem}{:03}", first + i), "quantity_g": q}))
                    .collect();
                let body = json!({"generator": g.org, "code": code, "quantity_g": drums.iter().sum::<i64>(),
                                  "date": time::format_date(day), "containers": list});
                let (actor, key) = self.signer(&g, *who);
                (
                    "waste.declared",
                    None,
                    self.submit_code(&actor, &key, "waste.declared", body, at),
                )
            }
            Op::OpenDrums {
                gen,
                carrier,
                receiver,
                n,
                who,
            } => {
                let g = self.gens[gen % self.gens.len()].clone();
                let c = pick(self, &self.carriers, *carrier);
                let r = pick(self, &self.receivers, *receiver);
                // The generator's containers in stock, of the code of the first, up to n.
                let mut mine: Vec<(
                    &hwledger::domain::container::Cid,
                    &hwledger::domain::container::Container,
                )> = self
                    .state
                    .containers
                    .iter()
                    .filter(|(id, c)| {
                        id.starts_with(&g.org) && c.status == ContainerStatus::InStock
                    })
                    .collect();
                mine.sort_by(|a, b| a.0.cmp(b.0));
                let line = match mine.first() {
                    Some((_, first)) => {
                        let code = self.state.lots[&first.lot].code.clone();
                        let chosen: Vec<_> = mine
                            .iter()
                            .filter(|(_, x)| self.state.lots[&x.lot].code == code)
                            .take(*n)
                            .collect();
                        json!({"code": code, "quantity_g": chosen.iter().map(|(_, x)| x.quantity_g).sum::<i64>(),
                               "containers": chosen.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>()})
                    }
                    None => json!({"code": CODES[0], "quantity_g": 100,
                                   "containers": [format!("{}{}20260301999", g.org, CODES[0].replace('-', ""))]}),
                };
                let id = Uuid::new_v4();
                self.ids.push(id);
                let body = json!({"manifest": id, "generator": g.org, "carrier": c.org, "receiver": r.org, "lines": [line]});
                let (actor, key) = self.signer(&g, *who);
                (
                    "manifest.opened",
                    Some(id),
                    self.submit_code(&actor, &key, "manifest.opened", body, at),
                )
            }
            Op::Treat {
                gen,
                facility,
                code,
                qty,
                method,
                age_days,
                ahead,
                who,
            } => {
                let g = self.gens[gen % self.gens.len()].clone();
                let date = time::cst_date(at) + Duration::days(if *ahead { 1 } else { -age_days });
                let method = match (*method, FACILITIES[*facility]) {
                    (OWN_METHOD, "D1") => "D10",
                    (OWN_METHOD, _) => "R9",
                    (m, _) => METHODS[m],
                };
                let body = json!({"generator": g.org, "facility": FACILITIES[*facility], "code": CODES[*code],
                                  "quantity_g": qty, "method": method, "date": time::format_date(date)});
                let (actor, key) = self.signer(&g, *who);
                (
                    "waste.treated",
                    None,
                    self.submit_code(&actor, &key, "waste.treated", body, at),
                )
            }
            Op::Open {
                gen,
                carrier,
                receiver,
                lines,
                reuse,
                who,
            } => {
                let g = self.gens[gen % self.gens.len()].clone();
                let c = pick(self, &self.carriers, *carrier);
                let r = pick(self, &self.receivers, *receiver);
                let id = match reuse {
                    Some(i) if !self.ids.is_empty() => self.ids[i % self.ids.len()],
                    _ => Uuid::new_v4(),
                };
                self.ids.push(id);
                let lines: Vec<Value> = lines
                    .iter()
                    .map(|(c, q)| json!({"code": CODES[*c], "quantity_g": q}))
                    .collect();
                let body = json!({"manifest": id, "generator": g.org, "carrier": c.org, "receiver": r.org, "lines": lines});
                let (actor, key) = self.signer(&g, *who);
                (
                    "manifest.opened",
                    Some(id),
                    self.submit_code(&actor, &key, "manifest.opened", body, at),
                )
            }
            Op::Cancel { m, who } => {
                let id = self.manifest_id(*m, ManifestStatus::Opened);
                let right = party_named(self, gen_of(self, &id), &self.gens[0].clone());
                let (actor, key) = self.signer(&right, *who);
                let body = json!({"manifest": id, "reason": "改期"});
                (
                    "manifest.cancelled",
                    Some(id),
                    self.submit_code(&actor, &key, "manifest.cancelled", body, at),
                )
            }
            Op::PickUp { m, who } => {
                let id = self.manifest_id(*m, ManifestStatus::Opened);
                let c = self.state.manifests.get(&id).map(|m| m.carrier.clone());
                let right = party_named(self, c, &self.carriers[0].clone());
                let (actor, key) = self.signer(&right, *who);
                let mut body = json!({"manifest": id, "vehicle": VEHICLE});
                let named: Vec<String> = self
                    .state
                    .manifests
                    .get(&id)
                    .map(|m| m.lines.iter().flat_map(|l| l.container_ids()).collect())
                    .unwrap_or_default();
                if !named.is_empty() {
                    body["containers"] = json!(named);
                }
                (
                    "manifest.picked_up",
                    Some(id),
                    self.submit_code(&actor, &key, "manifest.picked_up", body, at),
                )
            }
            Op::Receive {
                m,
                counts,
                shape,
                who,
            } => {
                let id = self.manifest_id(*m, ManifestStatus::PickedUp);
                let r = self.state.manifests.get(&id).map(|m| m.receiver.clone());
                let right = party_named(self, r, &self.receivers[0].clone());
                let (actor, key) = self.signer(&right, *who);
                let body =
                    json!({"manifest": id, "lines": self.counted_lines(&id, counts, None, *shape)});
                (
                    "manifest.received",
                    Some(id),
                    self.submit_code(&actor, &key, "manifest.received", body, at),
                )
            }
            Op::Reject { m, who } => {
                let id = self.manifest_id(*m, ManifestStatus::PickedUp);
                let r = self.state.manifests.get(&id).map(|m| m.receiver.clone());
                let right = party_named(self, r, &self.receivers[0].clone());
                let (actor, key) = self.signer(&right, *who);
                let body = json!({"manifest": id, "reason": "包装破损"});
                (
                    "manifest.rejected",
                    Some(id),
                    self.submit_code(&actor, &key, "manifest.rejected", body, at),
                )
            }
            Op::Dispose {
                m,
                counts,
                methods,
                shape,
                who,
            } => {
                let id = self.manifest_id(*m, ManifestStatus::Received);
                // Mostly dispose of what was received, so that disposals do happen.
                let received: Option<Vec<i64>> = self
                    .state
                    .manifests
                    .get(&id)
                    .and_then(|m| m.lines.iter().map(|l| l.received_g).collect());
                let counts: Vec<i64> = match received {
                    Some(r) if counts[0] % 4 != 0 => r
                        .iter()
                        .zip(counts)
                        .map(|(r, c)| r - (c % 3).min(*r))
                        .collect(),
                    _ => counts.clone(),
                };
                let r = self.state.manifests.get(&id).map(|m| m.receiver.clone());
                let right = party_named(self, r, &self.receivers[0].clone());
                let (actor, key) = self.signer(&right, *who);
                let body = json!({"manifest": id, "lines": self.counted_lines(&id, &counts, Some(methods), *shape)});
                (
                    "manifest.disposed",
                    Some(id),
                    self.submit_code(&actor, &key, "manifest.disposed", body, at),
                )
            }
            Op::Licence { lic, kind, who } => {
                let kind = ["license.suspended", "license.reinstated", "license.revoked"][*kind];
                let body =
                    json!({"license": self.licences[lic % self.licences.len()], "reason": "检查"});
                let reg = self.regulator.clone();
                let (actor, key) = self.signer(&reg, *who);
                (kind, None, self.submit_code(&actor, &key, kind, body, at))
            }
        }
    }
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut w = World::standard(at("2026-03-02T01:00:00Z"));
    // Some stock to start with.
    for (i, g) in w.gens.clone().iter().enumerate() {
        for code in &CODES[..4] {
            let body = json!({"generator": g.org, "code": code, "quantity_g": 1000 + 500 * i as i64, "date": "2026-02-20"});
            w.must(&g.org, &g.key, "waste.declared", body, w.now);
        }
    }
    check_invariants(&w)?;
    for s in steps {
        let before = snapshot(&w);
        let (kind, id, refusal) = w.apply(s);
        let after = snapshot(&w);
        if let Some(expected) = w.expected {
            prop_assert_eq!(
                refusal.map(Code::as_str),
                expected.map(Code::as_str),
                "{} decided otherwise than the model of §3 and §6 (None: accepted)",
                kind
            );
        }
        match refusal {
            Some(code) => {
                prop_assert_eq!(
                    &after,
                    &before,
                    "{} refused with {} changed the state",
                    kind,
                    code.as_str()
                );
            }
            None if after.size == before.size => {
                // Step 1 refused it (not a valid shape): nothing changes either.
                prop_assert_eq!(&after, &before);
            }
            None => {
                prop_assert_eq!(after.size, before.size + 1);
                // A store taken from within its capacity to above it is a condition keyed by
                // the entry; any other change is not.
                let seq = before.size;
                for (k, f) in &after.facilities {
                    let was = before.facilities.get(k).map_or(0, |b| b.stock_g);
                    let crossed = f.kind == hwledger::domain::facility::FacilityKind::Storage
                        && was <= f.capacity_g
                        && f.stock_g > f.capacity_g;
                    let key = format!("{}:{}:{}", k.0, k.1, seq);
                    prop_assert_eq!(
                        after.crossings.contains(&key),
                        crossed,
                        "{} by {}: stock {} → {} of {}",
                        key,
                        kind,
                        was,
                        f.stock_g,
                        f.capacity_g
                    );
                }
                // Statuses move only along the allowed transitions; only the named manifest moves.
                for (mid, b) in &before.manifests {
                    let a = after.manifests.get(mid);
                    prop_assert!(a.is_some(), "manifest {} disappeared", mid);
                    let a = a.unwrap();
                    prop_assert!(
                        allowed(b.status, a.status),
                        "{}: {:?} → {:?} by {}",
                        mid,
                        b.status,
                        a.status,
                        kind
                    );
                    if a != b {
                        prop_assert_eq!(Some(*mid), id, "{} changed another manifest", kind);
                        prop_assert!(
                            b.status != a.status,
                            "{} changed a manifest without moving it",
                            kind
                        );
                    }
                }
                for (mid, a) in &after.manifests {
                    if !before.manifests.contains_key(mid) {
                        prop_assert_eq!(kind, "manifest.opened");
                        prop_assert_eq!(a.status, ManifestStatus::Opened);
                        prop_assert_eq!(Some(*mid), id);
                    }
                }
                if kind == "manifest.opened" {
                    check_oldest_first(&w, &after.manifests[&id.unwrap()])?;
                }
                let new = after.manifests.len() - before.manifests.len();
                prop_assert_eq!(new, usize::from(kind == "manifest.opened"));
                if kind.starts_with("manifest.") && kind != "manifest.opened" {
                    let mid = id.unwrap();
                    prop_assert_ne!(before.manifests[&mid].status, after.manifests[&mid].status);
                }
            }
        }
        check_invariants(&w)?;
    }
    // A replay of what was accepted, at the same clock readings, rebuilds the same state.
    let mut again = State::new(w.ledger.verifying_key().to_bytes());
    for (p, now) in &w.accepted {
        let r = again.submit(p, *now);
        prop_assert!(
            matches!(r, Ok(Verdict::Accepted(_))),
            "replay refused {}: {:?}",
            p.header.kind,
            r.err()
        );
    }
    let replayed = World {
        state: again,
        ledger: w.ledger.clone(),
        regulator: w.regulator.clone(),
        gens: w.gens.clone(),
        carriers: w.carriers.clone(),
        receivers: w.receivers.clone(),
        all: w.all.clone(),
        licences: w.licences.clone(),
        now: w.now,
        ids: vec![],
        accepted: vec![],
        expected: None,
    };
    prop_assert_eq!(snapshot(&replayed), snapshot(&w), "a replay differs");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn random_lifecycles_keep_the_books(steps in proptest::collection::vec(step(), 1..60)) {
        run(&steps)?;
    }
}

/// The random walks do reach every status (a guard against a generator that only makes
/// refusals).
#[test]
fn random_walks_reach_every_status() {
    const WALKS: usize = 30;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::HashSet::new();
    let mut judged = 0;
    let mut outcomes: BTreeMap<(&str, Option<&str>), usize> = BTreeMap::new();
    let mut crossings = 0;
    let mut moved_containers = 0;
    for _ in 0..WALKS {
        let steps = proptest::collection::vec(step(), 60)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut w = World::standard(at("2026-03-02T01:00:00Z"));
        for g in w.gens.clone() {
            for code in &CODES[..4] {
                let body = json!({"generator": g.org, "code": code, "quantity_g": 2000, "date": "2026-02-20"});
                w.must(&g.org, &g.key, "waste.declared", body, w.now);
            }
        }
        for s in &steps {
            let (kind, _, refusal) = w.apply(s);
            if let Some(expected) = w.expected {
                judged += 1;
                *outcomes
                    .entry((kind, refusal.map(Code::as_str)))
                    .or_insert(0) += 1;
                assert_eq!(refusal, expected, "{kind}");
            }
        }
        seen.extend(w.state.manifests.values().map(|m| m.status));
        crossings += w.state.crossings.len();
        moved_containers += w
            .state
            .containers
            .iter()
            .map(|(_, c)| c)
            .filter(|c| c.status != ContainerStatus::InStock)
            .count();
    }
    assert!(crossings > 0, "no walk took a store over its capacity");
    assert!(
        moved_containers > 0,
        "no walk named a container on a manifest"
    );
    eprintln!("containers moved in the walks: {moved_containers}");
    for s in [
        ManifestStatus::Opened,
        ManifestStatus::PickedUp,
        ManifestStatus::Received,
        ManifestStatus::Disposed,
        ManifestStatus::Cancelled,
        ManifestStatus::Rejected,
    ] {
        assert!(seen.contains(&s), "no random walk reached {s:?}");
    }
    // Every step was judged by the model, and the walks reach most outcomes.
    assert_eq!(judged, WALKS * 60);
    if std::env::var_os("SHOW_OUTCOMES").is_some() {
        for (k, n) in &outcomes {
            eprintln!("{k:?}: {n}");
        }
    }
    for (kind, code) in [
        ("manifest.opened", None),
        ("manifest.opened", Some("insufficient_stock")),
        ("manifest.opened", Some("unlicensed_receiver")),
        ("manifest.opened", Some("capacity_exceeded")),
        ("manifest.received", Some("lines_mismatch")),
        ("manifest.disposed", Some("unknown_method")),
        ("manifest.picked_up", Some("forbidden")),
        ("manifest.picked_up", Some("bad_timestamp")),
        ("waste.declared", Some("bad_date")),
        ("waste.declared", Some("unknown_facility")),
        ("waste.treated", None),
        ("waste.treated", Some("unknown_facility")),
        ("waste.treated", Some("method_not_allowed")),
        ("waste.treated", Some("insufficient_stock")),
        ("waste.treated", Some("capacity_exceeded")),
        ("waste.declared", Some("container_exists")),
        ("manifest.opened", Some("unknown_container")),
    ] {
        assert!(
            outcomes.contains_key(&(kind, code)),
            "no walk made {kind} → {code:?}"
        );
    }
}

// ----- the CST calendar, at instants no test clock reaches --------------------------------

/// A world at `start` with generator G (Zhonglou), carrier C and receiver R holding licence
/// "R-1" for HW08/HW49/HW29 valid `from`..=`until` with `capacity`.
fn calendar_world(
    start: &str,
    from: &str,
    until: &str,
    capacity: i64,
) -> (World, Party, Party, Party) {
    let mut w = World::genesis(at(start));
    let g = w.register(10, &["generator"], "320404");
    let c = w.register(20, &["carrier"], "320404");
    let r = w.register(30, &["receiver"], "320400");
    w.licence_valid(
        "R-1",
        &r,
        capacity,
        from,
        until,
        json!([{"codes": ["HW08", "HW49", "HW21", "HW29"], "activities": ["store", "dispose"]}]),
    );
    (w, g, c, r)
}

impl World {
    /// Submits as `p` with the ledger's clock at `now` and the event at `at`.
    fn at(&mut self, p: &Party, kind: &str, body: Value, at_: &str, now: &str) -> Option<Code> {
        self.now = at(now);
        self.as_party(p, kind, body, at(at_))
    }

    fn open_at(
        &mut self,
        g: &Party,
        c: &Party,
        r: &Party,
        code: &str,
        q: i64,
        at_: &str,
    ) -> (Uuid, Option<Code>) {
        let id = Uuid::new_v4();
        let body = json!({"manifest": id, "generator": g.org, "carrier": c.org, "receiver": r.org,
                          "lines": [{"code": code, "quantity_g": q}]});
        (id, self.at(g, "manifest.opened", body, at_, at_))
    }

    fn declare_at(&mut self, g: &Party, code: &str, q: i64, date: &str, at_: &str) -> Option<Code> {
        let body = json!({"generator": g.org, "code": code, "quantity_g": q, "date": date});
        self.at(g, "waste.declared", body, at_, at_)
    }
}

#[test]
fn manifest_numbers_take_the_cst_year() {
    let (mut w, g, c, r) = calendar_world(
        "2025-12-20T00:00:00Z",
        "2025-01-01",
        "2026-12-31",
        1_000_000,
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 1000, "2025-12-20", "2025-12-20T00:00:00Z"),
        None
    );
    let number = |w: &mut World, at_: &str| {
        let (id, code) = w.open_at(&g, &c, &r, "900-249-08", 1, at_);
        assert_eq!(code, None, "opening at {at_}");
        w.state.manifests[&id].number.clone()
    };
    // 23:59:59 CST on 31 December 2025, then 00:00 CST on 1 January 2026 (still the 31st in UTC).
    assert_eq!(number(&mut w, "2025-12-31T15:59:59Z"), "20253204000001");
    assert_eq!(number(&mut w, "2025-12-31T16:00:00Z"), "20263204000001");
    assert_eq!(number(&mut w, "2025-12-31T23:00:00Z"), "20263204000002");
    // A paper manifest of 31 December entered late takes the next 2025 number.
    w.now = at("2026-01-02T00:00:00Z");
    let id = Uuid::new_v4();
    let body = json!({"manifest": id, "generator": g.org, "carrier": c.org, "receiver": r.org,
                      "lines": [{"code": "900-249-08", "quantity_g": 1}]});
    assert_eq!(
        w.as_party(&g, "manifest.opened", body, at("2025-12-31T10:00:00Z")),
        None
    );
    assert_eq!(w.state.manifests[&id].number, "20253204000002");
}

#[test]
fn the_catalogue_edition_changes_at_cst_midnight() {
    let (mut w, g, _, _) = calendar_world(
        "2024-12-30T00:00:00Z",
        "2024-01-01",
        "2026-12-31",
        1_000_000,
    );
    // 336-100-21 is in the 2021 edition only; 900-054-29 in the 2025 edition only.
    assert_eq!(
        w.declare_at(&g, "336-100-21", 10, "2024-12-31", "2024-12-31T15:59:59Z"),
        None
    );
    assert_eq!(
        w.declare_at(&g, "900-054-29", 10, "2024-12-31", "2024-12-31T15:59:59Z"),
        Some(Code::UnknownWasteCode)
    );
    assert_eq!(
        w.declare_at(&g, "336-100-21", 10, "2024-12-31", "2024-12-31T16:00:00Z"),
        Some(Code::UnknownWasteCode)
    );
    assert_eq!(
        w.declare_at(&g, "900-054-29", 10, "2024-12-31", "2024-12-31T16:00:00Z"),
        None
    );
    // Licence scopes are checked against the edition in force too.
    let reg = w.regulator.clone();
    let r2 = w.register(31, &["receiver"], "320400");
    let body = |code: &str, n: &str| {
        json!({"license": n, "holder": r2.org, "capacity_g": 1, "valid_from": "2024-01-01",
                                   "valid_until": "2026-01-01", "scopes": [{"codes": [code], "activities": ["store"]}]})
    };
    assert_eq!(
        w.at(
            &reg,
            "license.issued",
            body("900-054-29", "X-1"),
            "2024-12-31T15:59:59Z",
            "2024-12-31T15:59:59Z"
        ),
        Some(Code::UnknownWasteCode)
    );
    assert_eq!(
        w.at(
            &reg,
            "license.issued",
            body("900-054-29", "X-1"),
            "2024-12-31T16:00:00Z",
            "2024-12-31T16:00:00Z"
        ),
        None
    );
}

#[test]
fn lots_of_a_dropped_code_still_ship_and_treat() {
    // 336-100-21 is in the 2021 edition only: declared on 31 December 2024, it still ships in
    // 2025 from the lot that holds it; a generator holding none of it is refused.
    let (mut w, g, c, r) = calendar_world(
        "2024-12-30T00:00:00Z",
        "2024-01-01",
        "2026-12-31",
        1_000_000,
    );
    assert_eq!(
        w.declare_at(
            &g,
            "336-100-21",
            1_000,
            "2024-12-31",
            "2024-12-31T10:00:00Z"
        ),
        None
    );
    let g2 = w.register(11, &["generator"], "320404");
    assert_eq!(
        w.open_at(&g2, &c, &r, "336-100-21", 10, "2025-01-02T00:00:00Z")
            .1,
        Some(Code::UnknownWasteCode)
    );
    assert_eq!(
        w.open_at(&g, &c, &r, "336-100-21", 600, "2025-01-02T00:00:00Z")
            .1,
        None
    );
    // Once its last lot is reserved it is still held; once shipped and gone, it is not.
    assert_eq!(
        w.open_at(&g, &c, &r, "336-100-21", 400, "2025-01-02T00:01:00Z")
            .1,
        None
    );
    assert_eq!(
        w.open_at(&g, &c, &r, "336-100-21", 1, "2025-01-02T00:02:00Z")
            .1,
        Some(Code::InsufficientStock)
    );
}

#[test]
fn backdating_is_bounded_while_compliance_is_on() {
    let (mut w, g, _, _) = calendar_world(
        "2026-03-01T00:00:00Z",
        "2025-01-01",
        "2026-12-31",
        1_000_000,
    );
    // Compliance off (the limits of version 1): any earlier date.
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-02-01", "2026-03-20T00:00:00Z"),
        None
    );
    let reg = w.regulator.clone();
    let limits = json!({"limits": {"transit_s": 432_000, "disposal_s": 31_536_000,
                                   "storage_s": 31_536_000, "max_backdate_s": 1_209_600,
                                   "shortfall_bp": 100, "compliance_from": "2026-01-01"},
                        "reason": "启用合规检查"});
    assert_eq!(
        w.at(
            &reg,
            "ledger.limits_set",
            limits,
            "2026-03-20T00:00:00Z",
            "2026-03-20T00:00:00Z"
        ),
        None
    );
    // 00:00 UTC on 20 March − 14 days is 08:00 CST on 6 March: the 6th is the earliest date.
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-03-05", "2026-03-20T00:00:00Z"),
        Some(Code::BadDate)
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-03-06", "2026-03-20T00:00:00Z"),
        None
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-03-21", "2026-03-20T00:00:00Z"),
        Some(Code::BadDate)
    );
}

#[test]
fn lot_dates_are_judged_in_cst() {
    let (mut w, g, _, _) = calendar_world("2026-01-01T00:00:00Z", "2025-01-01", "2026-12-31", 1);
    // 17:00 UTC on 1 January is 01:00 CST on 2 January.
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-01-02", "2026-01-01T17:00:00Z"),
        None
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-01-03", "2026-01-01T17:00:00Z"),
        Some(Code::BadDate)
    );
    // 15:59:59 UTC is still 1 January in China.
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-01-02", "2026-01-01T15:59:59Z"),
        Some(Code::BadDate)
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-01-01", "2026-01-01T15:59:59Z"),
        None
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 10, "2026-01-02", "2026-01-01T16:00:00Z"),
        None
    );
}

#[test]
fn licence_validity_is_judged_in_cst() {
    let (mut w, g, c, r) = calendar_world(
        "2026-01-01T00:00:00Z",
        "2026-01-01",
        "2026-01-01",
        1_000_000,
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 1000, "2025-12-31", "2026-01-01T00:00:00Z"),
        None
    );
    // Valid on 1 January (CST) only: from 2025-12-31T16:00Z to 2026-01-01T15:59:59.999Z.
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 1, "2026-01-01T15:59:59Z")
            .1,
        None
    );
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 1, "2026-01-01T16:00:00Z")
            .1,
        Some(Code::UnlicensedReceiver)
    );
    let (mut w, g, c, r) = calendar_world(
        "2025-12-31T00:00:00Z",
        "2026-01-01",
        "2026-12-31",
        1_000_000,
    );
    assert_eq!(
        w.declare_at(&g, "900-249-08", 1000, "2025-12-31", "2025-12-31T00:00:00Z"),
        None
    );
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 1, "2025-12-31T15:59:59Z")
            .1,
        Some(Code::UnlicensedReceiver)
    );
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 1, "2025-12-31T16:00:00Z")
            .1,
        None
    );
}

#[test]
fn capacity_counts_receipts_in_the_cst_year() {
    let (mut w, g, c, r) = calendar_world("2025-12-30T00:00:00Z", "2025-01-01", "2027-12-31", 1000);
    assert_eq!(
        w.declare_at(
            &g,
            "900-249-08",
            10_000,
            "2025-12-30",
            "2025-12-30T00:00:00Z"
        ),
        None
    );
    // Received at 23:00 CST on 31 December 2025: counts in 2025.
    let (m, code) = w.open_at(&g, &c, &r, "900-249-08", 1000, "2025-12-31T14:00:00Z");
    assert_eq!(code, None);
    assert_eq!(
        w.at(
            &c,
            "manifest.picked_up",
            json!({"manifest": m, "vehicle": VEHICLE}),
            "2025-12-31T14:30:00Z",
            "2025-12-31T14:30:00Z"
        ),
        None
    );
    let receipt = json!({"manifest": m, "lines": [{"code": "900-249-08", "quantity_g": 1000}]});
    assert_eq!(
        w.at(
            &r,
            "manifest.received",
            receipt,
            "2025-12-31T15:00:00Z",
            "2025-12-31T15:00:00Z"
        ),
        None
    );
    assert_eq!(w.state.intake(&r.org, 2025), 1000);
    assert_eq!(w.state.intake(&r.org, 2026), 0);
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 1, "2025-12-31T15:59:59Z")
            .1,
        Some(Code::CapacityExceeded)
    );
    // From 00:00 CST on 1 January 2026 the year's capacity is fresh.
    let (m2, code) = w.open_at(&g, &c, &r, "900-249-08", 1000, "2025-12-31T16:00:00Z");
    assert_eq!(code, None);
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 1, "2025-12-31T16:00:01Z")
            .1,
        Some(Code::CapacityExceeded)
    );
    // A manifest opened in 2025 but still in flight counts against 2026; received in 2026 it
    // stays in 2026.
    assert_eq!(
        w.at(
            &g,
            "manifest.cancelled",
            json!({"manifest": m2, "reason": "r"}),
            "2025-12-31T16:10:00Z",
            "2025-12-31T16:10:00Z"
        ),
        None
    );
    let (m3, code) = w.open_at(&g, &c, &r, "900-249-08", 600, "2025-12-31T16:20:00Z");
    assert_eq!(code, None);
    assert_eq!(
        w.at(
            &c,
            "manifest.picked_up",
            json!({"manifest": m3, "vehicle": VEHICLE}),
            "2025-12-31T16:30:00Z",
            "2025-12-31T16:30:00Z"
        ),
        None
    );
    let receipt = json!({"manifest": m3, "lines": [{"code": "900-249-08", "quantity_g": 590}]});
    assert_eq!(
        w.at(
            &r,
            "manifest.received",
            receipt,
            "2025-12-31T17:00:00Z",
            "2025-12-31T17:00:00Z"
        ),
        None
    );
    assert_eq!(w.state.intake(&r.org, 2026), 590);
    assert_eq!(w.state.intake(&r.org, 2025), 1000);
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 411, "2026-01-01T00:00:00Z")
            .1,
        Some(Code::CapacityExceeded)
    );
    assert_eq!(
        w.open_at(&g, &c, &r, "900-249-08", 410, "2026-01-01T00:00:00Z")
            .1,
        None
    );
}

#[test]
fn the_clock_bounds_at_and_the_manifest_order() {
    let (mut w, g, c, _) = calendar_world("2026-03-01T00:00:00Z", "2026-01-01", "2026-12-31", 1000);
    let body = |q: i64| json!({"generator": g.org, "code": "900-249-08", "quantity_g": q, "date": "2026-02-01"});
    w.now = at("2026-03-01T00:00:00Z");
    assert_eq!(
        w.as_party(&g, "waste.declared", body(1), at("2026-03-01T00:05:00Z")),
        None,
        "300 s ahead"
    );
    assert_eq!(
        w.as_party(&g, "waste.declared", body(1), at("2026-03-01T00:05:01Z")),
        Some(Code::BadTimestamp)
    );
    assert_eq!(
        w.as_party(&g, "waste.declared", body(1), at("2026-02-15T00:00:00Z")),
        None,
        "14 days back"
    );
    assert_eq!(
        w.as_party(&g, "waste.declared", body(1), at("2026-02-14T23:59:59Z")),
        Some(Code::BadTimestamp)
    );
    // A carrier signing a declaration is forbidden.
    assert_eq!(
        w.as_party(&c, "waste.declared", body(1), at("2026-03-01T00:00:00Z")),
        Some(Code::Forbidden)
    );
}
