//! Chains as properties of the domain state, without a database: random sequences of
//! declarations, shipments to collectors and a disposer, pickups, receipts short or full,
//! rejections, cancellations, storings (some without a covering licence) and onward manifests
//! are fed to `State::submit`; then the proper-disposal figures of every generator, at now and
//! a year and more later, and every lot's remaining grams must equal those of an independent
//! model that follows the portions of §6 Chains with plain lists.

use chrono::Duration;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use hwledger::domain::ids::OrgId;
use hwledger::domain::oversight::RateFilter;
use hwledger::domain::state::{State, Verdict};
use hwledger::protocol::event::{sign_envelope, Prepared};
use hwledger::protocol::time::{self, Timestamp};

const CODE: &str = "900-214-08";
const DAY_S: i64 = 86_400;
const TRANSIT_S: i64 = 5 * DAY_S;
const DISPOSAL_S: i64 = 365 * DAY_S;
const STORAGE_S: i64 = 365 * DAY_S;

#[derive(Clone)]
struct Party {
    org: String,
    key: SigningKey,
}

fn party(n: u64) -> Party {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    bytes[31] = 0x55;
    Party {
        org: OrgId::with_check(&format!("9132040{n:010}"))
            .unwrap()
            .as_str()
            .to_owned(),
        key: SigningKey::from_bytes(&bytes),
    }
}

// ----- the independent model --------------------------------------------------------------

/// A first leg: (model manifest index).
type Leg = usize;

#[derive(Debug, Clone)]
struct MLot {
    holder: usize,
    date: chrono::NaiveDate,
    /// The order lots were made in (the ledger's seq order).
    made: usize,
    remaining: i64,
    reserved: i64,
    /// None for a declared lot; else its portions (first leg, remaining, reserved) in the
    /// order their first legs were opened.
    portions: Option<Vec<(Leg, i64, i64)>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum MStatus {
    Opened,
    PickedUp,
    Received,
    Disposed,
    Stored,
    Cancelled,
    Rejected,
}

#[derive(Debug, Clone)]
struct MPart {
    lot: usize,
    leg: Option<Leg>,
    q: i64,
    counted: i64,
    stored: i64,
}

#[derive(Debug, Clone)]
struct MManifest {
    id: Uuid,
    from: usize,
    to: usize,
    q: i64,
    status: MStatus,
    parts: Vec<MPart>,
    picked: Option<Timestamp>,
    received_at: Option<Timestamp>,
    received: i64,
    stored: i64,
    storing_covered: bool,
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Sums {
    proper: i64,
    pending: i64,
    stored: i64,
    improper: std::collections::BTreeMap<&'static str, i64>,
}

impl Sums {
    fn bad(&mut self, kind: &'static str, q: i64) {
        if q > 0 {
            *self.improper.entry(kind).or_insert(0) += q;
        }
    }
}

// ----- the world --------------------------------------------------------------------------

/// Parties: 0..3 generators, 3 and 4 collectors (collect + store), 5 a disposer (utilize +
/// dispose only: its storings are not covered), 6 the carrier.
const GENS: usize = 3;
const COLLECTORS: [usize; 2] = [3, 4];
const DISPOSER: usize = 5;

struct World {
    state: State,
    regulator: Party,
    parties: Vec<Party>,
    now: Timestamp,
    lots: Vec<MLot>,
    manifests: Vec<MManifest>,
}

impl World {
    fn new() -> World {
        let ledger = party(1).key;
        let regulator = party(2);
        let now = time::parse_timestamp("2026-06-01T01:00:00Z").unwrap();
        let mut w = World {
            state: State::new(ledger.verifying_key().to_bytes()),
            regulator: regulator.clone(),
            parties: (0..7).map(|i| party(100 + i)).collect(),
            now,
            lots: vec![],
            manifests: vec![],
        };
        let body = json!({
            "origin": "chains.hwledger.local",
            "ledger_key": hex::encode(ledger.verifying_key().to_bytes()),
            "regulator": {"org": regulator.org, "name": "钟楼生态环境局", "region": "320404",
                          "keys": [hex::encode(regulator.key.verifying_key().to_bytes())]},
            "limits": {"transit_s": TRANSIT_S, "disposal_s": DISPOSAL_S, "storage_s": STORAGE_S,
                       "max_backdate_s": 14 * DAY_S, "shortfall_bp": 100}
        });
        w.submit("ledger", &ledger, "ledger.genesis", body);
        let roles = |i: usize| match i {
            0..=2 => "generator",
            6 => "carrier",
            _ => "receiver",
        };
        for i in 0..7 {
            let p = w.parties[i].clone();
            let region = ["320404", "320106", "320411"][i % 3];
            let body = json!({"org": p.org, "name": format!("单位{i}"), "region": region,
                              "roles": [roles(i)], "keys": [hex::encode(p.key.verifying_key().to_bytes())]});
            w.as_regulator("org.registered", body);
        }
        for (i, activities) in [
            (3, json!(["collect", "store"])),
            (4, json!(["collect", "store"])),
            (5, json!(["utilize", "dispose"])),
        ] {
            let body = json!({"license": format!("L{i}"), "holder": w.parties[i].org, "capacity_g": 1_000_000_000,
                              "valid_from": "2020-01-01", "valid_until": "2030-12-31",
                              "scopes": [{"codes": ["HW08"], "activities": activities}]});
            w.as_regulator("license.issued", body);
        }
        w
    }

    fn as_regulator(&mut self, kind: &str, body: Value) {
        let r = self.regulator.clone();
        self.submit(&r.org, &r.key, kind, body);
    }

    fn submit(&mut self, actor: &str, key: &SigningKey, kind: &str, body: Value) {
        let event = json!({"v": 1, "id": Uuid::new_v4().to_string(), "type": kind,
                           "actor": actor, "at": time::format_timestamp(self.now), "body": body});
        let mut p = Prepared::from_value(sign_envelope(&event, key)).expect("a well-formed event");
        p.sig_ok = true;
        match self.state.submit(&p, self.now) {
            Ok(Verdict::Accepted(_)) => {}
            other => panic!("{kind} {}: {other:?}", p.body()),
        }
    }

    fn as_party(&mut self, i: usize, kind: &str, body: Value) {
        let p = self.parties[i].clone();
        self.submit(&p.org, &p.key, kind, body);
    }

    fn today(&self) -> chrono::NaiveDate {
        time::cst_date(self.now)
    }

    /// Unreserved grams at a holder.
    fn unreserved(&self, holder: usize) -> i64 {
        self.lots
            .iter()
            .filter(|l| l.holder == holder)
            .map(|l| l.remaining - l.reserved)
            .sum()
    }

    fn declare(&mut self, g: usize, q: i64) {
        let body = json!({"generator": self.parties[g].org, "code": CODE, "quantity_g": q,
                          "date": time::format_date(self.today())});
        self.as_party(g, "waste.declared", body);
        self.lots.push(MLot {
            holder: g,
            date: self.today(),
            made: self.lots.len(),
            remaining: q,
            reserved: 0,
            portions: None,
        });
    }

    fn open(&mut self, from: usize, to: usize, q: i64) {
        let id = Uuid::new_v4();
        let body = json!({"manifest": id, "generator": self.parties[from].org, "carrier": self.parties[6].org,
                          "receiver": self.parties[to].org, "lines": [{"code": CODE, "quantity_g": q}]});
        self.as_party(from, "manifest.opened", body);
        // Oldest first by (date, made); within a stored lot its portions, then the rest.
        let me = self.manifests.len();
        let mut order: Vec<usize> = (0..self.lots.len())
            .filter(|&i| self.lots[i].holder == from)
            .collect();
        order.sort_by_key(|&i| (self.lots[i].date, self.lots[i].made));
        let mut left = q;
        let mut parts = Vec::new();
        for i in order {
            if left == 0 {
                break;
            }
            let lot = &mut self.lots[i];
            let take = (lot.remaining - lot.reserved).min(left);
            if take <= 0 {
                continue;
            }
            lot.reserved += take;
            left -= take;
            match &mut lot.portions {
                None => parts.push(MPart {
                    lot: i,
                    leg: Some(me),
                    q: take,
                    counted: 0,
                    stored: 0,
                }),
                Some(portions) => {
                    let mut rest = take;
                    for (leg, remaining, reserved) in portions.iter_mut() {
                        let t = (*remaining - *reserved).min(rest);
                        if t > 0 {
                            *reserved += t;
                            rest -= t;
                            parts.push(MPart {
                                lot: i,
                                leg: Some(*leg),
                                q: t,
                                counted: 0,
                                stored: 0,
                            });
                        }
                    }
                    if rest > 0 {
                        parts.push(MPart {
                            lot: i,
                            leg: None,
                            q: rest,
                            counted: 0,
                            stored: 0,
                        });
                    }
                }
            }
        }
        assert_eq!(left, 0);
        self.manifests.push(MManifest {
            id,
            from,
            to,
            q,
            status: MStatus::Opened,
            parts,
            picked: None,
            received_at: None,
            received: 0,
            stored: 0,
            storing_covered: false,
        });
    }

    /// Moves a manifest's parts in their lots: -1 release, 0 take, +1 return.
    fn move_parts(&mut self, m: usize, how: i8) {
        for part in self.manifests[m].parts.clone() {
            let lot = &mut self.lots[part.lot];
            match how {
                -1 => lot.reserved -= part.q,
                0 => {
                    lot.reserved -= part.q;
                    lot.remaining -= part.q;
                }
                _ => lot.remaining += part.q,
            }
            if let (Some(portions), Some(leg)) = (&mut lot.portions, part.leg) {
                if let Some(p) = portions.iter_mut().find(|p| p.0 == leg) {
                    match how {
                        -1 => p.2 -= part.q,
                        0 => {
                            p.2 -= part.q;
                            p.1 -= part.q;
                        }
                        _ => p.1 += part.q,
                    }
                }
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        self.now += Duration::hours(7);
        let n = self.manifests.len();
        let with = |w: &World, st: MStatus, k: usize| -> Option<usize> {
            let c: Vec<usize> = (0..n).filter(|&i| w.manifests[i].status == st).collect();
            (!c.is_empty()).then(|| c[k % c.len()])
        };
        match *op {
            Op::Declare { g, q } => self.declare(g % GENS, q),
            Op::Open { from, to, q } => {
                // Collectors twice: onward manifests are what is under test.
                let senders: Vec<usize> = (0..GENS)
                    .chain(COLLECTORS)
                    .chain(COLLECTORS)
                    .chain([DISPOSER])
                    .collect();
                let from = senders[from % senders.len()];
                let receivers: Vec<usize> = COLLECTORS
                    .into_iter()
                    .chain([DISPOSER])
                    .filter(|&r| r != from)
                    .collect();
                let to = receivers[to % receivers.len()];
                let have = self.unreserved(from);
                if have > 0 {
                    self.open(from, to, 1 + q % have);
                }
            }
            Op::PickUp(k) => {
                if let Some(m) = with(self, MStatus::Opened, k) {
                    let id = self.manifests[m].id;
                    self.as_party(
                        6,
                        "manifest.picked_up",
                        json!({"manifest": id, "vehicle": "苏D·P0001"}),
                    );
                    self.move_parts(m, 0);
                    self.manifests[m].status = MStatus::PickedUp;
                    self.manifests[m].picked = Some(self.now);
                }
            }
            Op::Cancel(k) => {
                if let Some(m) = with(self, MStatus::Opened, k) {
                    let (id, from) = (self.manifests[m].id, self.manifests[m].from);
                    self.as_party(
                        from,
                        "manifest.cancelled",
                        json!({"manifest": id, "reason": "改期"}),
                    );
                    self.move_parts(m, -1);
                    self.manifests[m].status = MStatus::Cancelled;
                }
            }
            Op::Reject(k) => {
                if let Some(m) = with(self, MStatus::PickedUp, k) {
                    let (id, to) = (self.manifests[m].id, self.manifests[m].to);
                    self.as_party(
                        to,
                        "manifest.rejected",
                        json!({"manifest": id, "reason": "不符"}),
                    );
                    self.move_parts(m, 1);
                    self.manifests[m].status = MStatus::Rejected;
                }
            }
            Op::Receive { k, short_permille } => {
                if let Some(m) = with(self, MStatus::PickedUp, k) {
                    let mm = &self.manifests[m];
                    let r = mm.q - mm.q * i64::from(short_permille) / 1000;
                    let (id, to) = (mm.id, mm.to);
                    self.as_party(
                        to,
                        "manifest.received",
                        json!({"manifest": id, "lines": [{"code": CODE, "quantity_g": r}]}),
                    );
                    let mm = &mut self.manifests[m];
                    mm.status = MStatus::Received;
                    mm.received = r;
                    mm.received_at = Some(self.now);
                    let mut left = r;
                    for p in &mut mm.parts {
                        p.counted = p.q.min(left);
                        left -= p.counted;
                    }
                }
            }
            Op::Handle {
                k,
                loss_permille,
                store,
            } => {
                if let Some(m) = with(self, MStatus::Received, k) {
                    let mm = self.manifests[m].clone();
                    if !store && mm.to == DISPOSER {
                        self.as_party(
                            mm.to,
                            "manifest.disposed",
                            json!({"manifest": mm.id,
                            "lines": [{"code": CODE, "quantity_g": mm.received, "method": "R9"}]}),
                        );
                        self.manifests[m].status = MStatus::Disposed;
                        return;
                    }
                    let s = mm.received - mm.received * i64::from(loss_permille) / 1000;
                    self.as_party(
                        mm.to,
                        "manifest.stored",
                        json!({"manifest": mm.id,
                        "lines": [{"code": CODE, "quantity_g": s}]}),
                    );
                    let covered = mm.to != DISPOSER;
                    let mm = &mut self.manifests[m];
                    mm.status = MStatus::Stored;
                    mm.stored = s;
                    mm.storing_covered = covered;
                    let mut left = s;
                    for p in &mut mm.parts {
                        p.stored = p.counted.min(left);
                        left -= p.stored;
                    }
                    if s > 0 {
                        let mut portions: Vec<(Leg, i64, i64)> = Vec::new();
                        if covered {
                            for p in &mm.parts {
                                let Some(leg) = p.leg.filter(|_| p.stored > 0) else {
                                    continue;
                                };
                                match portions.iter_mut().find(|x| x.0 == leg) {
                                    Some(x) => x.1 += p.stored,
                                    None => portions.push((leg, p.stored, 0)),
                                }
                            }
                            // First legs in the order they were opened (model index order).
                            portions.sort_by_key(|x| x.0);
                        }
                        let date = time::cst_date(mm.received_at.unwrap());
                        let holder = mm.to;
                        self.lots.push(MLot {
                            holder,
                            date,
                            made: self.lots.len(),
                            remaining: s,
                            reserved: 0,
                            portions: Some(portions),
                        });
                    }
                }
            }
        }
    }

    /// §8 for one generator at `t`, from the model.
    fn model_figures(&self, g: usize, t: Timestamp) -> Sums {
        let mut s = Sums::default();
        let deadline_of =
            |date: chrono::NaiveDate| time::cst_day_start(date) + Duration::seconds(STORAGE_S);
        for lot in &self.lots {
            match &lot.portions {
                None if lot.holder == g && lot.remaining > 0 => {
                    if deadline_of(lot.date) < t {
                        s.bad("storage_overdue", lot.remaining);
                    } else {
                        s.stored += lot.remaining;
                    }
                }
                None => {}
                Some(portions) => {
                    for (leg, remaining, _) in portions {
                        if self.manifests[*leg].from != g || *remaining == 0 {
                            continue;
                        }
                        if deadline_of(lot.date) < t {
                            s.bad("storage_overdue", *remaining);
                        } else {
                            s.pending += remaining;
                        }
                    }
                }
            }
        }
        let tolerance_bp = 100;
        for m in &self.manifests {
            if !matches!(
                m.status,
                MStatus::PickedUp | MStatus::Received | MStatus::Disposed | MStatus::Stored
            ) {
                continue;
            }
            let counted = m.received.min(m.q);
            let beyond = (m.q - counted) * 10_000 > m.q * tolerance_bp;
            let mut legs: Vec<(Leg, i64, i64, i64)> = Vec::new();
            for p in &m.parts {
                let Some(leg) = p.leg else { continue };
                match legs.iter_mut().find(|x| x.0 == leg) {
                    Some(x) => {
                        x.1 += p.q;
                        x.2 += p.counted;
                        x.3 += p.stored;
                    }
                    None => legs.push((leg, p.q, p.counted, p.stored)),
                }
            }
            for (leg, x, y, z) in legs {
                if self.manifests[leg].from != g {
                    continue;
                }
                match m.status {
                    MStatus::PickedUp => {
                        if m.picked.unwrap() + Duration::seconds(TRANSIT_S) < t {
                            s.bad("transit_overdue", x);
                        } else {
                            s.pending += x;
                        }
                    }
                    _ => {
                        if beyond {
                            s.bad("quantity_shortfall", x - y);
                        }
                        match m.status {
                            MStatus::Disposed => s.proper += y,
                            MStatus::Stored => {
                                s.bad("quantity_shortfall", y - z);
                                if !m.storing_covered {
                                    s.bad("unlicensed_handling", z);
                                }
                            }
                            _ => {
                                if m.received_at.unwrap() + Duration::seconds(DISPOSAL_S) < t {
                                    s.bad("disposal_overdue", y);
                                } else {
                                    s.pending += y;
                                }
                            }
                        }
                    }
                }
            }
        }
        s
    }
}

#[derive(Debug, Clone)]
enum Op {
    Declare {
        g: usize,
        q: i64,
    },
    Open {
        from: usize,
        to: usize,
        q: i64,
    },
    PickUp(usize),
    Cancel(usize),
    Reject(usize),
    Receive {
        k: usize,
        short_permille: u16,
    },
    Handle {
        k: usize,
        loss_permille: u16,
        store: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..GENS, 1i64..5_000).prop_map(|(g, q)| Op::Declare { g, q }),
        4 => (0usize..64, 0usize..64, 0i64..1_000_000).prop_map(|(from, to, q)| Op::Open { from, to, q }),
        4 => (0usize..64).prop_map(Op::PickUp),
        1 => (0usize..64).prop_map(Op::Cancel),
        1 => (0usize..64).prop_map(Op::Reject),
        4 => (0usize..64, prop_oneof![3 => Just(0u16), 1 => 0u16..60]).prop_map(|(k, short_permille)| Op::Receive { k, short_permille }),
        4 => (0usize..64, prop_oneof![3 => Just(0u16), 1 => 0u16..30], any::<bool>())
            .prop_map(|(k, loss_permille, store)| Op::Handle { k, loss_permille, store }),
    ]
}

fn check(w: &World) -> Result<(), TestCaseError> {
    // Every lot's remaining grams.
    let mut mine: Vec<(String, i64)> = w
        .lots
        .iter()
        .map(|l| (w.parties[l.holder].org.clone(), l.remaining))
        .collect();
    let mut theirs: Vec<(String, i64)> = w
        .state
        .lots
        .values()
        .map(|l| (l.generator.clone(), l.remaining_g))
        .collect();
    mine.sort();
    theirs.sort();
    prop_assert_eq!(mine, theirs, "lots");
    for t in [
        w.now,
        w.now + Duration::days(370),
        w.now + Duration::days(800),
    ] {
        for g in 0..GENS {
            let want = w.model_figures(g, t);
            let filter = RateFilter {
                org: Some(w.parties[g].org.clone()),
                ..Default::default()
            };
            let got = w.state.disposal_figures(t, &filter);
            let got_improper: std::collections::BTreeMap<&'static str, i64> = got
                .improper_by_kind
                .iter()
                .filter(|(_, q)| **q > 0)
                .map(|(k, q)| (*k, *q))
                .collect();
            prop_assert_eq!(
                (got.proper_g, got.pending_g, got.stored_g, got_improper),
                (
                    want.proper,
                    want.pending,
                    want.stored,
                    want.improper.clone()
                ),
                "generator {} at {}",
                g,
                time::format_timestamp(t)
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, .. ProptestConfig::default() })]

    #[test]
    fn portions_are_followed_through_collectors_to_the_gram(ops in proptest::collection::vec(op(), 1..120)) {
        let mut w = World::new();
        for op in &ops {
            w.apply(op);
        }
        check(&w)?;
    }
}

/// A fixed long walk that reaches every kind of leg: three hops, rejections, storings with and
/// without a licence, shortfalls.
#[test]
fn a_long_walk_through_collectors_keeps_the_books() {
    let mut w = World::new();
    for g in 0..GENS {
        w.apply(&Op::Declare { g, q: 10_000 });
    }
    let mut ops = Vec::new();
    for round in 0..12usize {
        ops.push(Op::Open {
            from: round,
            to: round / 2,
            q: 3_000 + round as i64 * 911,
        });
        ops.push(Op::PickUp(round));
        if round % 5 == 4 {
            ops.push(Op::Reject(round));
        }
        ops.push(Op::Receive {
            k: round,
            short_permille: if round % 3 == 0 { 40 } else { 0 },
        });
        ops.push(Op::Handle {
            k: round,
            loss_permille: if round % 4 == 1 { 20 } else { 0 },
            store: round % 2 == 0,
        });
    }
    for op in &ops {
        w.apply(op);
        check(&w).unwrap();
    }
    let hops = w
        .manifests
        .iter()
        .filter(|m| m.from >= GENS && m.status != MStatus::Cancelled)
        .count();
    assert!(
        hops >= 3,
        "the walk shipped on from collectors ({hops} onward manifests)"
    );
}
