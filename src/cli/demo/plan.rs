//! The demo district's history, planned before anything is sent: every event of a year of
//! declarations, manifests and tickets, with `at` values spread over the time the ledger accepts,
//! and the cases an inspector should find (late, short, unlicensed, left in storage, dumped).
//!
//! The plan is a function of the seed, the clock and the ledger's limits, so two runs at the same
//! moment write the same district. It only prepares events; signing and sending is the caller's.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::district::{
    Role, CARRIERS, COLLECTOR, GENERATORS, INCINERATOR, MEDICAL_PLANT, METAL_RECYCLER,
    OIL_RECYCLER, RECEIVERS,
};
use crate::domain::catalogue::{self, Edition};
use crate::domain::ids::{CodeOrCategory, WasteCode};
use crate::domain::oversight::ticket_id;
use crate::domain::state::Limits;
use crate::protocol::time::{self, Timestamp};

/// The seed of every random choice: quantities, times, plates, ids.
pub const SEED: u64 = 0x0032_0404;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The department that leads the district's casework (牵头单位).
pub const LEAD: &str = "钟楼生态环境局";

/// The storage point every generator of the demo has (its 设施编码).
pub const STORE: &str = "ZC01";

/// The chemical plant with its own incinerator, and that facility's code.
const TREATING_PLANT: usize = 0;
const INCINERATOR_FACILITY: &str = "FS01";

/// The machine shop that keeps its waste oil in drums (一物一码).
const DRUM_SHOP: usize = 10;

/// The two repair shops that hand waste oil to the collector, and the collector's storehouse.
const COLLECTED_SHOPS: [usize; 2] = [18, 19];
const COLLECTOR_STORE: &str = "SJ01";

/// The resin plant whose plan falls short of what it generates.
const UNDER_PLANNED: usize = 5;
/// The paint works that overfills its storage point.
const OVERFILLED: usize = 3;
/// The printer whose load the incinerator disposes of only in part.
const SHORT_DISPOSAL: usize = 28;

/// How much routine history to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// A year of monthly (and, for health care, weekly) declarations and shipments.
    District,
    /// The same organisations and cases with six weeks of routine history: for tests.
    Small,
}

impl Scale {
    /// Days of routine history.
    fn days(self) -> i64 {
        match self {
            Scale::District => 360,
            Scale::Small => 45,
        }
    }
}

/// One event, unsigned.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Uuid,
    pub actor: String,
    pub kind: &'static str,
    pub at: Timestamp,
    pub body: Value,
}

impl Event {
    pub fn json(&self) -> Value {
        json!({
            "v": 1,
            "id": self.id.to_string(),
            "type": self.kind,
            "actor": self.actor,
            "at": time::format_timestamp(self.at),
            "body": self.body,
        })
    }
}

/// An organisation of the demo.
#[derive(Debug, Clone)]
pub struct DemoOrg {
    pub role: Role,
    pub org: String,
    pub name: String,
    pub short: String,
    pub region: String,
    pub industry: String,
}

/// A case worth showing a newcomer, with the manifest or ticket to look at.
#[derive(Debug, Clone)]
pub struct Highlight {
    pub what: String,
    pub manifest: Option<Uuid>,
    pub ticket: Option<Uuid>,
    /// Who to sign in as to see it (besides the regulator).
    pub org: Option<String>,
    /// Where in the console to look, when it is neither a manifest nor a ticket.
    pub place: Option<&'static str>,
}

/// Times between which a sweep of the service must not run: a deadline that has passed on the
/// clock but not in the history (a shipment received on time a year ago) would otherwise open a
/// ticket the history does not call for. The sender never splits a batch inside one.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub from: Timestamp,
    pub to: Timestamp,
}

pub struct Plan {
    pub orgs: Vec<DemoOrg>,
    /// Every event, in the order to send.
    pub events: Vec<Event>,
    pub guards: Vec<Guard>,
    pub highlights: Vec<Highlight>,
    /// Cases the ledger's limits leave no room for, and why.
    pub left_out: Vec<String>,
    pub first_at: Timestamp,
}

/// The first organisation of the demo: if it is registered, the ledger holds the demo.
pub fn marker_org() -> String {
    GENERATORS[0].org(0)
}

/// A UUID (version 4 form) that depends only on `name`, for things found again by id.
pub fn named_uuid(name: &str) -> Uuid {
    let digest = Sha256::digest(format!("hwledger-demo/{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The reopened ticket: its reopening is the plan's last event, so once it has been reopened the
/// whole demo is in the ledger.
pub fn final_ticket() -> Uuid {
    named_uuid("ticket/reopened")
}

/// The organisations of the demo, without the regulator (which the ledger already has).
pub fn orgs() -> Vec<DemoOrg> {
    let mut out = Vec::new();
    for (i, g) in GENERATORS.iter().enumerate() {
        out.push(DemoOrg {
            role: Role::Generator,
            org: g.org(i),
            name: g.name.into(),
            short: g.short.into(),
            region: g.region.into(),
            industry: g.industry.into(),
        });
    }
    for (i, c) in CARRIERS.iter().enumerate() {
        out.push(DemoOrg {
            role: Role::Carrier,
            org: c.org(i),
            name: c.name.into(),
            short: c.short.into(),
            region: c.region.into(),
            industry: "危险货物道路运输".into(),
        });
    }
    for (i, r) in RECEIVERS.iter().enumerate() {
        out.push(DemoOrg {
            role: Role::Receiver,
            org: r.org(i),
            name: r.name.into(),
            short: r.short.into(),
            region: r.region.into(),
            industry: "危险废物经营".into(),
        });
    }
    out
}

/// Why the demo cannot be planned: the ledger's limits leave it no room, or a key is missing.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(String);

/// The shortest backdating window the demo fits in.
pub const MIN_BACKDATE_S: i64 = 2 * DAY;

/// Plans the district at `now` for a ledger with `limits`; `regulator` signs the registry and
/// the tickets; `keys` gives each demo org's public key (hex).
pub fn plan(
    now: Timestamp,
    limits: &Limits,
    scale: Scale,
    regulator: &str,
    keys: &BTreeMap<String, String>,
) -> Result<Plan, PlanError> {
    if limits.max_backdate_s < MIN_BACKDATE_S {
        return Err(PlanError(format!(
            "the ledger accepts events at most {} s in the past; the demo district needs at least {} s (2 days) of backdating to hold any history",
            limits.max_backdate_s, MIN_BACKDATE_S
        )));
    }
    let mut p = Planner::new(now, limits, scale, regulator);
    p.registry(keys)?;
    p.routine();
    p.cases();
    p.manual_tickets();
    p.plans_and_compliance();
    p.finish()
}

/// A line of a manifest as planned.
#[derive(Debug, Clone)]
struct Line {
    code: &'static str,
    quantity_g: i64,
    form: &'static str,
    packaging: &'static str,
    method: &'static str,
}

/// What happens to a manifest after it is opened, with times.
#[derive(Debug, Clone, Default)]
struct Course {
    pickup: Option<Timestamp>,
    /// Received, with the received quantity of each line.
    receipt: Option<(Timestamp, Vec<i64>)>,
    disposal: Option<Timestamp>,
    rejection: Option<(Timestamp, &'static str)>,
    cancellation: Option<(Timestamp, &'static str)>,
}

struct Planner {
    rng: StdRng,
    now: Timestamp,
    today: NaiveDate,
    /// No event is dated later (the final one excepted).
    latest: Timestamp,
    /// No event is dated earlier: the ledger's backdating window, less a margin for the time
    /// the sending takes.
    earliest: Timestamp,
    limits: Limits,
    scale: Scale,
    /// The length of one routine day in seconds: a day, or less when the history is
    /// compressed into a shorter backdating window.
    day: i64,
    /// The length of a day in the cases and tickets, which are placed over the last year
    /// whatever the scale: a day, or less in a shorter window.
    case_day: i64,
    /// Routine day 0.
    start: Timestamp,
    regulator: String,
    orgs: Vec<DemoOrg>,
    /// (at, insertion order, event)
    events: Vec<(Timestamp, usize, Event)>,
    guards: Vec<Guard>,
    highlights: Vec<Highlight>,
    left_out: Vec<String>,
    /// The metal recycler's licence is suspended in this interval: no routine shipments.
    suspension: (Timestamp, Timestamp),
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

impl Planner {
    fn new(now: Timestamp, limits: &Limits, scale: Scale, regulator: &str) -> Planner {
        // Whole seconds, so that the events' `at` are written without fractions.
        let now = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let latest = now - secs(15 * 60);
        // The time sending takes, with room to spare: the ledger judges `at` when each batch
        // arrives.
        let margin = (limits.max_backdate_s / 20).clamp(10 * 60, 2 * HOUR);
        let earliest = now - secs(limits.max_backdate_s) + secs(margin);
        let days = scale.days();
        // Room for the routine history: all of the window but a day at its start for the
        // registry, and never more than a real day per routine day.
        let room = (latest - earliest).num_seconds() - DAY.min(limits.max_backdate_s / 10);
        let day = (room / days).min(DAY);
        let case_day = (room / Scale::District.days()).min(DAY);
        let today = time::cst_date(now);
        let start = if day == DAY {
            time::cst_day_start(today - TimeDelta::days(days))
        } else {
            latest - secs(day * days)
        };
        let suspension = (now - secs(45 * case_day), now - secs(12 * case_day));
        Planner {
            rng: StdRng::seed_from_u64(SEED),
            now,
            today,
            latest,
            earliest,
            limits: *limits,
            scale,
            day,
            case_day,
            start,
            regulator: regulator.to_owned(),
            orgs: orgs(),
            events: Vec::new(),
            guards: Vec::new(),
            highlights: Vec::new(),
            left_out: Vec::new(),
            suspension,
        }
    }

    fn id(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    fn push(&mut self, actor: &str, kind: &'static str, at: Timestamp, body: Value) {
        let event = Event {
            id: self.id(),
            actor: actor.to_owned(),
            kind,
            at,
            body,
        };
        let n = self.events.len();
        self.events.push((at, n, event));
    }

    fn gen(&self, i: usize) -> String {
        GENERATORS[i].org(i)
    }

    fn carrier(&self, i: usize) -> String {
        CARRIERS[i].org(i)
    }

    fn receiver(&self, i: usize) -> String {
        RECEIVERS[i].org(i)
    }

    /// A routine moment: routine day `d` (may be fractional through `offset_s` of a real day),
    /// scaled to the window.
    fn at_day(&self, d: i64, offset_s: i64) -> Timestamp {
        self.start + secs((d * DAY + offset_s) * self.day / DAY)
    }

    /// `n` days of the cases, as a duration.
    fn days(&self, n: i64) -> TimeDelta {
        secs(n * self.case_day)
    }

    /// `n` hours of the cases, as a duration: the gaps within a case that no limit constrains
    /// shrink with its days.
    fn hours(&self, n: i64) -> TimeDelta {
        secs(n * HOUR * self.case_day / DAY)
    }

    /// A working-hours offset within a day: 08:30 to 17:30 CST.
    fn office_hours(&mut self) -> i64 {
        8 * HOUR + 30 * 60 + self.rng.gen_range(0..9 * HOUR)
    }

    fn grams(&mut self, min_kg: u32, max_kg: u32) -> i64 {
        let kg = self.rng.gen_range(min_kg..=max_kg) as i64;
        kg * 1000 + self.rng.gen_range(0..10) * 100
    }

    fn fits(&self, at: Timestamp) -> bool {
        at >= self.earliest && at <= self.latest
    }

    fn date(at: Timestamp) -> String {
        time::format_date(time::cst_date(at))
    }

    fn day_after(&self, days: i64) -> String {
        time::format_date(self.today + TimeDelta::days(days))
    }

    // --- the registry --------------------------------------------------------------------

    fn registry(&mut self, keys: &BTreeMap<String, String>) -> Result<(), PlanError> {
        let t0 = self.earliest;
        let orgs = self.orgs.clone();
        let regulator = self.regulator.clone();
        for (i, o) in orgs.iter().enumerate() {
            let key = keys
                .get(&o.org)
                .ok_or_else(|| PlanError(format!("no key for {}", o.org)))?;
            self.push(
                &regulator,
                "org.registered",
                t0 + secs(i as i64 * 60),
                json!({"org": o.org, "name": o.name, "region": o.region, "roles": [o.role.api()], "keys": [key]}),
            );
        }
        let renewal_at = self.now - secs(160 * DAY);
        let renewal_fits = self.fits(renewal_at) && renewal_at > t0 + secs(2 * HOUR);
        for (i, r) in RECEIVERS.iter().enumerate() {
            let until = if i == MEDICAL_PLANT && renewal_fits {
                self.day_after(-150)
            } else {
                self.day_after(r.valid_until_days)
            };
            let scopes: Vec<Value> = r
                .scopes
                .iter()
                .map(|(codes, activities)| json!({"codes": codes, "activities": activities}))
                .collect();
            let body = json!({
                "license": r.licence,
                "holder": self.receiver(i),
                "capacity_g": r.capacity_t * 1_000_000,
                "valid_from": self.day_after(r.valid_from_days),
                "valid_until": until,
                "scopes": scopes,
            });
            self.push(
                &regulator,
                "license.issued",
                t0 + secs(HOUR + i as i64 * 300),
                body,
            );
        }
        // A storage point (贮存点) at every generator, and the chemical plant's own incinerator
        // (自行处置), after the organisations and before any history.
        let facilities_at = t0 + secs(90 * 60);
        for gi in 0..GENERATORS.len() {
            let org = self.gen(gi);
            self.push(
                &regulator,
                "facility.registered",
                facilities_at + secs(gi as i64 * 10),
                json!({"org": org, "facility": STORE, "kind": "storage", "storage_type": "point",
                       "capacity_g": 3_000_000, "name": "危险废物贮存点"}),
            );
        }
        let org = self.gen(TREATING_PLANT);
        self.push(
            &regulator,
            "facility.registered",
            facilities_at + secs(GENERATORS.len() as i64 * 10),
            json!({"org": org, "facility": INCINERATOR_FACILITY, "kind": "dispose", "capacity_g": 200_000_000,
                   "methods": ["D10"], "name": "厂内危险废物焚烧炉"}),
        );
        let collector = self.receiver(COLLECTOR);
        self.push(
            &regulator,
            "facility.registered",
            facilities_at + secs(GENERATORS.len() as i64 * 10 + 10),
            json!({"org": collector, "facility": COLLECTOR_STORE, "kind": "storage", "storage_type": "warehouse",
                   "capacity_g": 100_000_000, "name": "危险废物收集贮存库"}),
        );
        if renewal_fits {
            let r = &RECEIVERS[MEDICAL_PLANT];
            let scopes: Vec<Value> = r
                .scopes
                .iter()
                .map(|(codes, activities)| json!({"codes": codes, "activities": activities}))
                .collect();
            let body = json!({
                "license": r.licence,
                "capacity_g": r.capacity_t * 1_000_000,
                "valid_until": self.day_after(r.valid_until_days),
                "scopes": scopes,
            });
            self.push(&regulator, "license.amended", renewal_at, body);
        }
        Ok(())
    }

    // --- routine declarations and shipments ----------------------------------------------

    fn routine(&mut self) {
        let days = self.scale.days();
        for (gi, g) in GENERATORS.iter().enumerate() {
            let period = i64::from(g.period_days);
            let mut stock = vec![0i64; g.wastes.len()];
            let periods = days / period;
            for p in 0..periods {
                let jitter = self.rng.gen_range(0..=2.min(period - 1));
                let d = (p + 1) * period - 1 - jitter;
                let mut offset = self.office_hours();
                for (wi, w) in g.wastes.iter().enumerate() {
                    let at = self.at_day(d, offset);
                    offset += 7 * 60;
                    if at > self.latest {
                        continue;
                    }
                    let q = self.grams(w.min_kg, w.max_kg);
                    stock[wi] += q;
                    let late = self.rng.gen_bool(0.2);
                    let mut date = time::cst_date(at);
                    if late && date > time::cst_date(self.earliest) {
                        date -= TimeDelta::days(1);
                    }
                    let org = self.gen(gi);
                    self.push(
                        &org,
                        "waste.declared",
                        at,
                        json!({"generator": org, "code": w.code, "quantity_g": q, "date": time::format_date(date)}),
                    );
                }
                if (p + 1) % i64::from(g.ship_every) == 0 {
                    let gap = if period < 30 {
                        1
                    } else {
                        self.rng.gen_range(1..=4)
                    };
                    let hours = self.office_hours();
                    let at = self.at_day(d + gap, hours);
                    self.ship(gi, at, &mut stock);
                }
            }
        }
    }

    /// Where a code goes, and how it is handled there, for a shipment opened at `at`.
    fn route(&mut self, code: &str, at: Timestamp) -> (usize, &'static str) {
        let category = &code[8..];
        // Routine loads in flight when the licence is suspended would be unlicensed receipts.
        let margin = secs(3 * self.day.max(self.case_day));
        let metal_open = !(self.suspension.0 - margin <= at && at <= self.suspension.1);
        match category {
            "01" => (
                MEDICAL_PLANT,
                if code == "841-001-01" && self.rng.gen_bool(0.3) {
                    "Y11"
                } else {
                    "Y10"
                },
            ),
            "08" => (OIL_RECYCLER, "R9"),
            "17" | "22" if metal_open => (METAL_RECYCLER, "R4"),
            "34" if metal_open => (METAL_RECYCLER, "R6"),
            "17" | "22" | "34" | "35" => (INCINERATOR, "D9"),
            _ => (INCINERATOR, "D10"),
        }
    }

    /// Ships everything in `stock`: one manifest per receiver.
    fn ship(&mut self, gi: usize, at: Timestamp, stock: &mut [i64]) {
        if at > self.latest {
            return;
        }
        let g = &GENERATORS[gi];
        let mut by_receiver: Vec<(usize, Vec<Line>)> = Vec::new();
        for (wi, w) in g.wastes.iter().enumerate() {
            if stock[wi] == 0 {
                continue;
            }
            let (r, method) = self.route(w.code, at);
            let line = Line {
                code: w.code,
                quantity_g: stock[wi],
                form: w.form,
                packaging: w.packaging,
                method,
            };
            stock[wi] = 0;
            match by_receiver.iter_mut().find(|(x, _)| *x == r) {
                Some((_, lines)) => lines.push(line),
                None => by_receiver.push((r, vec![line])),
            }
        }
        let medical = g.period_days < 30;
        let mut t = at;
        for (r, lines) in by_receiver {
            let carrier = if medical { 2 } else { gi % 2 };
            let course = self.routine_course(t, &lines, r, medical);
            let id = self.id();
            self.manifest(id, gi, carrier, r, t, &lines, &course, None);
            t += secs(10 * 60);
        }
    }

    /// Received the same or the next working day, with the scale's small error, then utilised
    /// or disposed of within days (medical waste within two).
    fn routine_course(
        &mut self,
        opened: Timestamp,
        lines: &[Line],
        receiver: usize,
        medical: bool,
    ) -> Course {
        let day = self.day;
        let scale = |s: i64| secs(s * day / DAY);
        let pickup = opened
            + scale(if medical {
                self.rng.gen_range(HOUR / 2..3 * HOUR)
            } else {
                self.rng.gen_range(HOUR..6 * HOUR)
            });
        let transit = scale(self.rng.gen_range(HOUR..(9 * HOUR)))
            .min(secs(self.limits.transit_s / 3).max(secs(60)));
        let received_at = pickup + transit;
        let received: Vec<i64> = lines.iter().map(|l| self.weighed(l.quantity_g)).collect();
        let wait = if medical {
            self.rng.gen_range(6 * HOUR..2 * DAY)
        } else {
            self.rng.gen_range(3 * DAY..40 * DAY)
        };
        let mut disposal = received_at + scale(wait).min(secs(self.limits.disposal_s / 3));
        if receiver == METAL_RECYCLER
            && disposal >= self.suspension.0 - secs(HOUR)
            && disposal <= self.suspension.1 + secs(HOUR)
        {
            disposal = self.suspension.1 + scale(self.rng.gen_range(2 * HOUR..DAY));
        }
        Course {
            pickup: Some(pickup),
            receipt: Some((received_at, received)),
            disposal: Some(disposal),
            ..Course::default()
        }
    }

    /// A receiving weighbridge's reading: within half the tolerance below, or a little above.
    fn weighed(&mut self, q: i64) -> i64 {
        let below = q * self.limits.shortfall_bp / 20_000;
        let above = q / 500;
        let delta = self.rng.gen_range(-below..=above);
        let w = (q + delta) / 100 * 100;
        // Rounding down must not cross the tolerance.
        if (q - w) * 10_000 > q * self.limits.shortfall_bp {
            q
        } else {
            w
        }
    }

    /// Writes a manifest's events, those dated up to `latest`, with their guards.
    #[allow(clippy::too_many_arguments)]
    fn manifest(
        &mut self,
        id: Uuid,
        gi: usize,
        carrier: usize,
        receiver: usize,
        opened: Timestamp,
        lines: &[Line],
        course: &Course,
        note: Option<&str>,
    ) {
        if opened > self.latest {
            return;
        }
        let gen = self.gen(gi);
        let car = self.carrier(carrier);
        let rec = self.receiver(receiver);
        let mut body = json!({
            "manifest": id.to_string(),
            "generator": gen,
            "carrier": car,
            "receiver": rec,
            "lines": lines.iter().map(|l| json!({"code": l.code, "quantity_g": l.quantity_g, "form": l.form, "packaging": l.packaging})).collect::<Vec<_>>(),
        });
        if let Some(n) = note {
            body["note"] = json!(n);
        }
        self.push(&gen, "manifest.opened", opened, body);
        if let Some((at, reason)) = course.cancellation {
            if at <= self.latest {
                self.push(
                    &gen,
                    "manifest.cancelled",
                    at,
                    json!({"manifest": id.to_string(), "reason": reason}),
                );
            }
            return;
        }
        let Some(pickup) = course.pickup.filter(|t| *t <= self.latest) else {
            return;
        };
        let plates = CARRIERS[carrier].plates;
        let plate = plates[self.rng.gen_range(0..plates.len())];
        self.push(
            &car,
            "manifest.picked_up",
            pickup,
            json!({"manifest": id.to_string(), "vehicle": plate}),
        );
        let transit_deadline = pickup + secs(self.limits.transit_s);
        if let Some((at, reason)) = course.rejection {
            if at <= self.latest {
                self.guard(pickup, at, transit_deadline);
                self.push(
                    &rec,
                    "manifest.rejected",
                    at,
                    json!({"manifest": id.to_string(), "reason": reason}),
                );
            }
            return;
        }
        let Some((received_at, received)) = course.receipt.clone() else {
            return;
        };
        if received_at > self.latest {
            return;
        }
        self.guard(pickup, received_at, transit_deadline);
        self.push(
            &rec,
            "manifest.received",
            received_at,
            json!({
                "manifest": id.to_string(),
                "lines": lines.iter().zip(&received).map(|(l, q)| json!({"code": l.code, "quantity_g": q})).collect::<Vec<_>>(),
            }),
        );
        let Some(disposed_at) = course.disposal.filter(|t| *t <= self.latest) else {
            return;
        };
        self.guard(
            received_at,
            disposed_at,
            received_at + secs(self.limits.disposal_s),
        );
        self.push(
            &rec,
            "manifest.disposed",
            disposed_at,
            json!({
                "manifest": id.to_string(),
                "lines": lines.iter().zip(&received).map(|(l, q)| json!({"code": l.code, "quantity_g": q, "method": l.method})).collect::<Vec<_>>(),
            }),
        );
    }

    /// Something started at `from` and ended at `to`, with a deadline: if the deadline lies
    /// between them, the history itself is late and any sweep opens the same ticket; if it lies
    /// after `to` but is already past (or nearly) on the clock, a sweep between the two would
    /// open a ticket the history does not call for.
    fn guard(&mut self, from: Timestamp, to: Timestamp, deadline: Timestamp) {
        if to <= deadline && deadline < self.now + secs(DAY) {
            self.guards.push(Guard { from, to });
        }
    }

    // --- the cases ---------------------------------------------------------------------

    fn cases(&mut self) {
        self.shortfall_assigned_and_closed();
        self.shortfall_open();
        self.unlicensed_receipt();
        self.unlicensed_handling();
        self.transit_late();
        self.transit_missing();
        self.disposal_overdue_pending();
        self.disposal_overdue_late();
        self.stale_lots();
        self.cancelled();
        self.rejected_and_reshipped();
        self.drum_missing_at_receipt();
        self.drums_in_stock();
        self.treated_on_site();
        self.collected_and_shipped_on();
        self.todays_work();
    }

    fn left_out(&mut self, what: &str, why: String) {
        self.left_out.push(format!("{what}: {why}"));
    }

    /// A declaration of exactly what a case ships, just before it.
    fn declare(&mut self, gi: usize, code: &str, q: i64, at: Timestamp) {
        let org = self.gen(gi);
        self.push(
            &org,
            "waste.declared",
            at,
            json!({"generator": org, "code": code, "quantity_g": q, "date": Self::date(at)}),
        );
    }

    fn line_of(gi: usize, code: &'static str, q: i64, method: &'static str) -> Line {
        let w = GENERATORS[gi]
            .wastes
            .iter()
            .find(|w| w.code == code)
            .expect("a case ships a waste its generator produces");
        Line {
            code,
            quantity_g: q,
            form: w.form,
            packaging: w.packaging,
            method,
        }
    }

    /// The quantity received when `short` more than the tolerance is missing.
    fn short_by(&self, q: i64, extra_bp: i64) -> Option<i64> {
        let received = (q - q * (self.limits.shortfall_bp + extra_bp) / 10_000) / 100 * 100;
        (received > 0 && (q - received) * 10_000 > q * self.limits.shortfall_bp).then_some(received)
    }

    fn highlight(
        &mut self,
        what: &str,
        manifest: Option<Uuid>,
        ticket: Option<Uuid>,
        org: Option<String>,
    ) {
        self.highlights.push(Highlight {
            what: what.to_owned(),
            manifest,
            ticket,
            org,
            place: None,
        });
    }

    /// Waste oil arrives 5 % light: the ledger opens `quantity_shortfall`; the bureau assigns it
    /// to the carrier, who reports back with its GPS track, and it is closed.
    fn shortfall_assigned_and_closed(&mut self) {
        const WHAT: &str = "运输途中短少（已交办、整改、销号）";
        let gi = 18;
        let t = self.now - self.days(75);
        let q = 1_850_000;
        let Some(received) = self.short_by(q, 400) else {
            return self.left_out(WHAT, "短少容差过大".into());
        };
        if !self.fits(t - self.hours(1)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let id = named_uuid("manifest/shortfall-closed");
        self.declare(gi, "900-214-08", q, t - self.hours(1));
        let lines = [Self::line_of(gi, "900-214-08", q, "R9")];
        let course = Course {
            pickup: Some(t + self.hours(2)),
            receipt: Some((t + self.hours(7), vec![received])),
            disposal: Some(t + self.days(6)),
            ..Course::default()
        };
        self.manifest(
            id,
            gi,
            0,
            OIL_RECYCLER,
            t,
            &lines,
            &course,
            Some("废机油月度转移"),
        );
        let ticket = ticket_id("quantity_shortfall", &id.to_string());
        let reg = self.regulator.clone();
        let carrier = self.carrier(0);
        let assigned = t + self.days(2);
        self.push(
            &reg,
            "ticket.assigned",
            assigned,
            json!({"ticket": ticket.to_string(), "lead": LEAD, "support": ["常州市公安局钟楼分局", "钟楼区交通运输局"], "responsible": carrier, "due": time::format_date(time::cst_date(assigned) + TimeDelta::days(15))}),
        );
        self.push(
            &carrier,
            "ticket.rectified",
            t + self.days(9),
            json!({"ticket": ticket.to_string(), "note": "经核查，短少系部分油桶底部残留及计量误差，已调取车辆GPS轨迹，途中无异常停靠；已更换计量设备并补充培训。", "evidence": evidence(&ticket, &["车辆GPS轨迹.pdf", "出厂与入厂过磅单.jpg", "整改报告.pdf"])}),
        );
        self.push(
            &reg,
            "ticket.closed",
            t + self.days(12),
            json!({"ticket": ticket.to_string(), "note": "核查轨迹及过磅记录，整改到位，予以销号。"}),
        );
        self.highlight(WHAT, Some(id), Some(ticket), Some(carrier));
    }

    /// Copper etching liquor arrives 4 % light; the ticket is still open.
    fn shortfall_open(&mut self) {
        const WHAT: &str = "运输途中短少（待处理）";
        let gi = 12;
        let t = self.now - self.days(100);
        let q = 8_400_000;
        let Some(received) = self.short_by(q, 300) else {
            return self.left_out(WHAT, "短少容差过大".into());
        };
        if !self.fits(t - self.hours(1)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let id = named_uuid("manifest/shortfall-open");
        self.declare(gi, "398-051-22", q, t - self.hours(1));
        let lines = [Self::line_of(gi, "398-051-22", q, "R4")];
        let course = Course {
            pickup: Some(t + self.hours(1)),
            receipt: Some((t + self.hours(5), vec![received])),
            disposal: Some(t + self.days(8)),
            ..Course::default()
        };
        self.manifest(id, gi, 1, METAL_RECYCLER, t, &lines, &course, None);
        let ticket = ticket_id("quantity_shortfall", &id.to_string());
        let org = self.gen(gi);
        self.highlight(WHAT, Some(id), Some(ticket), Some(org));
    }

    /// The metal recycler's licence is suspended while a load is on the road: the receipt is
    /// unlicensed. The licence is reinstated later and the load utilised then.
    fn unlicensed_receipt(&mut self) {
        const WHAT: &str = "许可证暂扣期间接收（无证接收）";
        let gi = 11;
        let (s, r) = self.suspension;
        let t = s - self.hours(5);
        if !self.fits(t - self.hours(1)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let q = 6_200_000;
        let id = named_uuid("manifest/unlicensed-receipt");
        self.declare(gi, "398-004-22", q, t - self.hours(1));
        let lines = [Self::line_of(gi, "398-004-22", q, "R4")];
        let licence = RECEIVERS[METAL_RECYCLER].licence;
        let reg = self.regulator.clone();
        // Opened and picked up while the licence holds; the suspension falls before receipt.
        let course = Course {
            pickup: Some(t + self.hours(2)),
            ..Course::default()
        };
        self.manifest(id, gi, 1, METAL_RECYCLER, t, &lines, &course, None);
        self.push(
            &reg,
            "license.suspended",
            s,
            json!({"license": licence, "reason": "在线监控数据异常，废水排放超标，责令停业整改"}),
        );
        let rec = self.receiver(METAL_RECYCLER);
        let received_at = s + self.hours(4);
        self.guard(
            t + self.hours(2),
            received_at,
            t + self.hours(2) + secs(self.limits.transit_s),
        );
        self.push(
            &rec,
            "manifest.received",
            received_at,
            json!({"manifest": id.to_string(), "lines": [{"code": "398-004-22", "quantity_g": q}]}),
        );
        self.push(
            &reg,
            "license.reinstated",
            r,
            json!({"license": licence, "reason": "整改完成，经现场核查验收合格，恢复经营"}),
        );
        self.push(
            &rec,
            "manifest.disposed",
            r + self.hours(3),
            json!({"manifest": id.to_string(), "lines": [{"code": "398-004-22", "quantity_g": q, "method": "R4"}]}),
        );
        let ticket = ticket_id("unlicensed_receipt", &id.to_string());
        self.highlight(WHAT, Some(id), Some(ticket), Some(rec));
    }

    /// The oil recycler, licensed to utilise, incinerates a load: unlicensed handling. The
    /// bureau assigns the ticket to it; the due date has passed.
    fn unlicensed_handling(&mut self) {
        const WHAT: &str = "超范围处置（无证处置方式）";
        let gi = 20;
        let t = self.now - self.days(130);
        if !self.fits(t - self.hours(1)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let q = 2_350_000;
        let id = named_uuid("manifest/unlicensed-handling");
        self.declare(gi, "900-249-08", q, t - self.hours(1));
        let lines = [Self::line_of(gi, "900-249-08", q, "D10")];
        let course = Course {
            pickup: Some(t + self.hours(3)),
            receipt: Some((t + self.hours(8), vec![q])),
            disposal: Some(t + self.days(4)),
            ..Course::default()
        };
        self.manifest(id, gi, 0, OIL_RECYCLER, t, &lines, &course, None);
        let ticket = ticket_id("unlicensed_handling", &id.to_string());
        let reg = self.regulator.clone();
        let rec = self.receiver(OIL_RECYCLER);
        let assigned = t + self.days(6);
        let due = (self.today - TimeDelta::days(4)).max(time::cst_date(assigned));
        self.push(
            &reg,
            "ticket.assigned",
            assigned,
            json!({"ticket": ticket.to_string(), "lead": LEAD, "support": ["常州市生态环境综合行政执法局"], "responsible": rec, "due": time::format_date(due)}),
        );
        self.highlight(WHAT, Some(id), Some(ticket), Some(rec));
    }

    /// A truck breaks down: the load arrives two days after the transit limit.
    fn transit_late(&mut self) {
        const WHAT: &str = "运输超期（迟到送达）";
        let gi = 6;
        let late = self.limits.transit_s + 2 * DAY;
        let pickup = (self.now - self.days(60)).min(self.now - secs(late + 3 * DAY));
        if !self.fits(pickup - secs(3 * HOUR)) {
            return self.left_out(WHAT, "运输时限长于可补录时限".into());
        }
        let q = 5_600_000;
        let id = named_uuid("manifest/transit-late");
        self.declare(gi, "336-054-17", q, pickup - secs(3 * HOUR));
        let lines = [Self::line_of(gi, "336-054-17", q, "D9")];
        let received_at = pickup + secs(late);
        let course = Course {
            pickup: Some(pickup),
            receipt: Some((received_at, vec![q - 20_000])),
            disposal: Some(received_at + secs(DAY)),
            ..Course::default()
        };
        self.manifest(
            id,
            gi,
            1,
            INCINERATOR,
            pickup - secs(2 * HOUR),
            &lines,
            &course,
            None,
        );
        let ticket = ticket_id("transit_overdue", &id.to_string());
        let carrier = self.carrier(1);
        self.highlight(WHAT, Some(id), Some(ticket), Some(carrier));
    }

    /// Picked up and never received: the sweeper opens `transit_overdue`.
    fn transit_missing(&mut self) {
        const WHAT: &str = "运输超期（至今未送达）";
        let gi = 15;
        let pickup = self.now - secs(self.limits.transit_s + 3 * DAY);
        if !self.fits(pickup - secs(3 * HOUR)) {
            return self.left_out(WHAT, "运输时限长于可补录时限".into());
        }
        let q = 3_300_000;
        let id = named_uuid("manifest/transit-missing");
        self.declare(gi, "271-001-02", q, pickup - secs(3 * HOUR));
        let lines = [Self::line_of(gi, "271-001-02", q, "D10")];
        let course = Course {
            pickup: Some(pickup),
            ..Course::default()
        };
        self.manifest(
            id,
            gi,
            0,
            INCINERATOR,
            pickup - secs(2 * HOUR),
            &lines,
            &course,
            None,
        );
        let ticket = ticket_id("transit_overdue", &id.to_string());
        let org = self.gen(gi);
        self.highlight(WHAT, Some(id), Some(ticket), Some(org));
    }

    /// Received more than the disposal limit ago and still not disposed of.
    fn disposal_overdue_pending(&mut self) {
        const WHAT: &str = "利用处置超期（至今未处置）";
        let gi = 2;
        let received_at = self.now - secs(self.limits.disposal_s + 9 * DAY);
        let declared = received_at - secs(DAY + 3 * HOUR);
        if !self.fits(declared) {
            return self.left_out(WHAT, "处置时限长于可补录时限".into());
        }
        let q = 4_700_000;
        let id = named_uuid("manifest/disposal-pending");
        self.declare(gi, "261-084-45", q, declared);
        let lines = [Self::line_of(gi, "261-084-45", q, "D10")];
        let pickup = received_at - secs(6 * HOUR);
        let course = Course {
            pickup: Some(pickup),
            receipt: Some((received_at, vec![q])),
            ..Course::default()
        };
        self.lot_guard(declared, pickup);
        self.manifest(
            id,
            gi,
            0,
            INCINERATOR,
            declared + secs(HOUR),
            &lines,
            &course,
            None,
        );
        let ticket = ticket_id("disposal_overdue", &id.to_string());
        let rec = self.receiver(INCINERATOR);
        self.highlight(WHAT, Some(id), Some(ticket), Some(rec));
    }

    /// Disposed of, but weeks after the disposal limit.
    fn disposal_overdue_late(&mut self) {
        const WHAT: &str = "利用处置超期（逾期后处置）";
        let gi = 3;
        let received_at = self.now - secs(self.limits.disposal_s + 26 * DAY);
        let declared = received_at - secs(DAY + 4 * HOUR);
        if !self.fits(declared) {
            return self.left_out(WHAT, "处置时限长于可补录时限".into());
        }
        let q = 2_900_000;
        let id = named_uuid("manifest/disposal-late");
        self.declare(gi, "264-012-12", q, declared);
        let lines = [Self::line_of(gi, "264-012-12", q, "D10")];
        let pickup = received_at - secs(5 * HOUR);
        let course = Course {
            pickup: Some(pickup),
            receipt: Some((received_at, vec![q])),
            disposal: Some(received_at + secs(self.limits.disposal_s + 6 * DAY)),
            ..Course::default()
        };
        self.lot_guard(declared, pickup);
        self.manifest(
            id,
            gi,
            1,
            INCINERATOR,
            declared + secs(HOUR),
            &lines,
            &course,
            None,
        );
        let ticket = ticket_id("disposal_overdue", &id.to_string());
        let rec = self.receiver(INCINERATOR);
        self.highlight(WHAT, Some(id), Some(ticket), Some(rec));
    }

    /// A lot declared at `declared` and shipped at `taken`: if its storage deadline has passed
    /// on the clock, no sweep may fall between the two.
    fn lot_guard(&mut self, declared: Timestamp, taken: Timestamp) {
        let deadline = time::cst_day_start(time::cst_date(declared)) + secs(self.limits.storage_s);
        self.guard(declared, taken, deadline);
    }

    /// Lots kept past the storage limit, of codes their holders never ship: the sweeper opens
    /// `storage_overdue`.
    fn stale_lots(&mut self) {
        let storage_days = self.limits.storage_s.div_euclid(DAY) + 1;
        for (gi, code, q, extra) in [
            (5usize, "261-151-50", 1_260_000i64, 20i64),
            (26, "900-024-29", 18_500, 45),
        ] {
            let date = self.today - TimeDelta::days(storage_days + extra);
            // Declared on the day, when the window reaches back that far; else entered late
            // (an old stock found in an inspection), which a declaration's date allows.
            let on_the_day = time::cst_day_start(date) + secs(10 * HOUR);
            let at = if self.fits(on_the_day) {
                on_the_day
            } else {
                self.earliest + secs(2 * HOUR)
            };
            // While compliance is on, a declaration's date reaches back at most max_backdate.
            if self.limits.compliance_on()
                && date < time::cst_date(at - secs(self.limits.max_backdate_s))
            {
                self.left_out(
                    &format!("贮存超期（{code}）"),
                    "贮存时限长于可补录时限".to_owned(),
                );
                continue;
            }
            let org = self.gen(gi);
            self.push(
                &org,
                "waste.declared",
                at,
                json!({"generator": org, "code": code, "quantity_g": q, "date": time::format_date(date)}),
            );
            let name = GENERATORS[gi].name;
            self.highlight(
                &format!("贮存超期：{name}申报于 {date} 的 {code}，至今未转移"),
                None,
                None,
                Some(org),
            );
        }
    }

    /// Opened, then cancelled before pickup.
    fn cancelled(&mut self) {
        const WHAT: &str = "联单作废（未起运即撤销）";
        let gi = 7;
        let t = self.now - self.days(200);
        if !self.fits(t - self.hours(1)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let q = 3_100_000;
        let id = named_uuid("manifest/cancelled");
        self.declare(gi, "336-064-17", q, t - self.hours(1));
        let lines = [Self::line_of(gi, "336-064-17", q, "D9")];
        let course = Course {
            cancellation: Some((t + self.days(1), "接收单位焚烧线检修，本批次改期转移")),
            ..Course::default()
        };
        self.manifest(id, gi, 0, INCINERATOR, t, &lines, &course, None);
        let org = self.gen(gi);
        self.highlight(WHAT, Some(id), None, Some(org));
    }

    /// Rejected at the gate, then shipped again in sound drums.
    fn rejected_and_reshipped(&mut self) {
        const WHAT: &str = "接收单位拒收退回，重新转移";
        let gi = 16;
        let t = self.now - self.days(150);
        if !self.fits(t - self.hours(1)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let q = 2_400_000;
        let id = named_uuid("manifest/rejected");
        self.declare(gi, "271-002-02", q, t - self.hours(1));
        let lines = [Self::line_of(gi, "271-002-02", q, "D10")];
        let course = Course {
            pickup: Some(t + self.hours(2)),
            rejection: Some((
                t + self.hours(6),
                "包装桶破损渗漏，与联单填报的包装方式不符，拒收退回",
            )),
            ..Course::default()
        };
        self.manifest(id, gi, 0, INCINERATOR, t, &lines, &course, None);
        let again = t + self.days(3);
        let id2 = named_uuid("manifest/reshipped");
        let course = Course {
            pickup: Some(again + self.hours(2)),
            receipt: Some((again + self.hours(7), vec![q - 3_000])),
            disposal: Some(again + self.days(9)),
            ..Course::default()
        };
        self.manifest(
            id2,
            gi,
            0,
            INCINERATOR,
            again,
            &lines,
            &course,
            Some("原联单拒收退回后更换包装重新转移"),
        );
        let org = self.gen(gi);
        self.highlight(WHAT, Some(id), None, Some(org));
    }

    /// A declaration of a lot packed in drums (一物一码) into the generator's storage point: one
    /// container per weight, coded with the org, the code, the CST date of `at` and a serial from
    /// `first`. Returns the containers' ids.
    fn declare_drums(
        &mut self,
        gi: usize,
        code: &str,
        weights: &[i64],
        first: u32,
        at: Timestamp,
    ) -> Vec<String> {
        let org = self.gen(gi);
        let date = time::cst_date(at);
        let ids: Vec<String> = (0..weights.len() as u32)
            .map(|i| container_id(&org, code, date, first + i))
            .collect();
        let containers: Vec<Value> = ids
            .iter()
            .zip(weights)
            .map(|(id, q)| json!({"id": id, "quantity_g": q}))
            .collect();
        self.push(
            &org,
            "waste.declared",
            at,
            json!({"generator": org, "code": code, "quantity_g": weights.iter().sum::<i64>(),
                   "date": time::format_date(date), "facility": STORE, "containers": containers}),
        );
        ids
    }

    /// Waste oil shipped in four drums, scanned at loading; one drum does not arrive. The
    /// receipt weighs the three that came and leaves the fourth out: the ledger opens
    /// `quantity_shortfall` naming the missing drum.
    fn drum_missing_at_receipt(&mut self) {
        const WHAT: &str = "运输途中少一桶（容器未到，问题清单列明缺失容器）";
        let gi = DRUM_SHOP;
        let code = "900-218-08";
        let t = self.now - self.days(25);
        if !self.fits(t - self.hours(2)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let weights = [182_000, 176_500, 179_000, 181_500];
        let ids = self.declare_drums(gi, code, &weights, 1, t - self.hours(2));
        let id = named_uuid("manifest/drum-missing");
        let (gen, car, rec) = (self.gen(gi), self.carrier(0), self.receiver(OIL_RECYCLER));
        let total: i64 = weights.iter().sum();
        self.push(
            &gen,
            "manifest.opened",
            t,
            json!({"manifest": id.to_string(), "generator": gen, "carrier": car, "receiver": rec,
                   "lines": [{"code": code, "quantity_g": total, "form": "液态", "packaging": "200L铁桶", "containers": ids}]}),
        );
        let pickup = t + self.hours(2);
        let plate = CARRIERS[0].plates[0];
        self.push(
            &car,
            "manifest.picked_up",
            pickup,
            json!({"manifest": id.to_string(), "vehicle": plate, "containers": ids}),
        );
        let received_at = pickup + self.hours(5);
        self.guard(pickup, received_at, pickup + secs(self.limits.transit_s));
        // Three drums weighed, a little under what was declared; the fourth left out.
        let weighed: Vec<(String, i64)> = ids[..3]
            .iter()
            .zip(&weights)
            .map(|(c, q)| (c.clone(), q - 500))
            .collect();
        let received: i64 = weighed.iter().map(|(_, q)| q).sum();
        self.push(
            &rec,
            "manifest.received",
            received_at,
            json!({"manifest": id.to_string(), "lines": [{"code": code, "quantity_g": received,
                   "containers": weighed.iter().map(|(c, q)| json!({"id": c, "quantity_g": q})).collect::<Vec<_>>()}]}),
        );
        let disposed_at = received_at + self.days(3);
        self.guard(
            received_at,
            disposed_at,
            received_at + secs(self.limits.disposal_s),
        );
        self.push(
            &rec,
            "manifest.disposed",
            disposed_at,
            json!({"manifest": id.to_string(), "lines": [{"code": code, "quantity_g": received, "method": "R9"}]}),
        );
        let ticket = ticket_id("quantity_shortfall", &id.to_string());
        self.highlight(WHAT, Some(id), Some(ticket), Some(gen));
    }

    /// Oil sludge in three labelled drums at the machine shop's storage point, not yet shipped:
    /// its labels can be printed, its drums ticked on a manifest.
    fn drums_in_stock(&mut self) {
        const WHAT: &str = "按容器申报、尚在贮存点的油泥（可打印容器标签、按容器开具联单）";
        let at = self.now - self.days(3);
        if !self.fits(at) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        self.declare_drums(DRUM_SHOP, "900-200-08", &[158_000, 163_500, 149_000], 1, at);
        let org = self.gen(DRUM_SHOP);
        self.highlight(WHAT, None, None, Some(org));
    }

    /// The chemical plant burns spent solvent in two of three drums, and its laboratory waste,
    /// in its own incinerator (自行处置): no manifest, proper at once.
    fn treated_on_site(&mut self) {
        const WHAT: &str = "自行利用处置：厂内焚烧炉处置废有机溶剂和实验室废物";
        let gi = TREATING_PLANT;
        let t = self.now - self.days(40);
        if !self.fits(t - self.hours(3)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let org = self.gen(gi);
        let solvent = "900-404-06";
        let ids = self.declare_drums(
            gi,
            solvent,
            &[171_000, 168_000, 174_500],
            1,
            t - self.hours(3),
        );
        let date = time::format_date(time::cst_date(t));
        self.push(
            &org,
            "waste.treated",
            t,
            json!({"generator": org, "facility": INCINERATOR_FACILITY, "code": solvent, "quantity_g": 171_000 + 168_000,
                   "method": "D10", "date": date, "containers": ids[..2]}),
        );
        let lab = "900-047-49";
        let q = 86_400;
        self.push(
            &org,
            "waste.declared",
            t - self.hours(2),
            json!({"generator": org, "code": lab, "quantity_g": q, "date": Self::date(t - self.hours(2)), "facility": STORE}),
        );
        self.push(
            &org,
            "waste.treated",
            t + self.hours(1),
            json!({"generator": org, "facility": INCINERATOR_FACILITY, "code": lab, "quantity_g": q,
                   "method": "D10", "date": Self::date(t + self.hours(1))}),
        );
        self.highlight(WHAT, None, None, Some(org));
    }

    /// Two repair shops hand their waste oil to the collector (收集), which stores both receipts
    /// in its storehouse (入库贮存) and a day later ships most of it on to the incinerator on an
    /// onward manifest, received and disposed of there; the rest stays in the collector's lot.
    /// Each shop's portion can be followed from its manifest to the incinerator (流向追溯).
    fn collected_and_shipped_on(&mut self) {
        const WHAT: &str = "收集单位收集两家汽修厂的废机油，入库贮存后转移至焚烧处置（可流向追溯）";
        let code = "900-214-08";
        let t = self.now - self.days(20);
        if !self.fits(t - self.hours(3)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let collector = self.receiver(COLLECTOR);
        let mut first_legs = Vec::new();
        let mut stored_at = t;
        let mut total = 0;
        for (k, (gi, q)) in COLLECTED_SHOPS
            .into_iter()
            .zip([426_000i64, 318_500])
            .enumerate()
        {
            let opened = t + self.hours(3 * k as i64);
            self.declare(gi, code, q, opened - self.hours(2));
            let id = named_uuid(&format!("manifest/collected-{k}"));
            let lines = [Self::line_of(gi, code, q, "D10")];
            let pickup = opened + self.hours(1);
            let received_at = pickup + self.hours(2);
            let course = Course {
                pickup: Some(pickup),
                receipt: Some((received_at, vec![q])),
                ..Course::default()
            };
            self.manifest(id, gi, 0, COLLECTOR, opened, &lines, &course, None);
            // Stored the next morning: that ends the receipt's disposal clock.
            stored_at = received_at + self.hours(16);
            self.guard(
                received_at,
                stored_at,
                received_at + secs(self.limits.disposal_s),
            );
            self.push(
                &collector,
                "manifest.stored",
                stored_at,
                json!({"manifest": id.to_string(), "lines": [{"code": code, "quantity_g": q}],
                       "facility": COLLECTOR_STORE}),
            );
            first_legs.push(id);
            total += q;
        }
        // Onward to the incinerator: the older lot first, then most of the newer one.
        let onward = named_uuid("manifest/collected-onward");
        let shipped = total - 144_500;
        let opened = stored_at + self.days(1);
        let (car, rec) = (self.carrier(1), self.receiver(INCINERATOR));
        self.push(
            &collector,
            "manifest.opened",
            opened,
            json!({"manifest": onward.to_string(), "generator": collector, "carrier": car, "receiver": rec,
                   "lines": [{"code": code, "quantity_g": shipped, "form": "液态", "packaging": "200L铁桶"}],
                   "note": "收集的废机油转移焚烧处置"}),
        );
        let pickup = opened + self.hours(2);
        self.push(
            &car,
            "manifest.picked_up",
            pickup,
            json!({"manifest": onward.to_string(), "vehicle": CARRIERS[1].plates[0]}),
        );
        let received_at = pickup + self.hours(3);
        self.guard(pickup, received_at, pickup + secs(self.limits.transit_s));
        self.push(
            &rec,
            "manifest.received",
            received_at,
            json!({"manifest": onward.to_string(), "lines": [{"code": code, "quantity_g": shipped}]}),
        );
        let disposed_at = received_at + self.days(2);
        self.guard(
            received_at,
            disposed_at,
            received_at + secs(self.limits.disposal_s),
        );
        self.push(
            &rec,
            "manifest.disposed",
            disposed_at,
            json!({"manifest": onward.to_string(), "lines": [{"code": code, "quantity_g": shipped, "method": "D10"}]}),
        );
        let shop = self.gen(COLLECTED_SHOPS[0]);
        self.highlight(WHAT, Some(first_legs[0]), None, Some(shop));
        self.highlight(
            "收集单位开具的后续转移联单（从收集贮存的库存转出）",
            Some(onward),
            None,
            Some(collector),
        );
    }

    /// Work waiting for a newcomer: a manifest to pick up, and one on the road to receive.
    fn todays_work(&mut self) {
        let opened = self.latest - self.hours(3);
        if !self.fits(opened - self.hours(1)) {
            return;
        }
        let gi = 0;
        let q = 1_420_000;
        let id = named_uuid("manifest/awaiting-pickup");
        self.declare(gi, "900-039-49", q, opened - self.hours(1));
        let lines = [Self::line_of(gi, "900-039-49", q, "D10")];
        self.manifest(
            id,
            gi,
            0,
            INCINERATOR,
            opened,
            &lines,
            &Course::default(),
            None,
        );
        let carrier = self.carrier(0);
        self.highlight(
            "待起运的联单（运输单位可扫码起运）",
            Some(id),
            None,
            Some(carrier),
        );

        let gi = 21;
        let q = 860_000;
        let id = named_uuid("manifest/on-the-road");
        self.declare(gi, "900-214-08", q, opened - self.hours(1));
        let lines = [Self::line_of(gi, "900-214-08", q, "R9")];
        let course = Course {
            pickup: Some(opened + self.hours(2)),
            ..Course::default()
        };
        self.manifest(id, gi, 1, OIL_RECYCLER, opened, &lines, &course, None);
        let rec = self.receiver(OIL_RECYCLER);
        self.highlight(
            "运输途中的联单（接收单位可确认接收）",
            Some(id),
            None,
            Some(rec),
        );
    }

    // --- reported dumping ----------------------------------------------------------------

    fn manual_tickets(&mut self) {
        let reg = self.regulator.clone();
        // (name, opened days ago, site, lat, lon, code, summary)
        let sites: [(&str, &str, i64, i64, &str, &str); 8] = [
            (
                "open",
                "钟楼区邹区镇某村沿河废弃鱼塘",
                31_796_200,
                119_830_400,
                "900-249-08",
                "群众举报：废弃鱼塘边发现约20只疑似废矿物油桶，部分渗漏",
            ),
            (
                "assigned",
                "钟楼区北港街道某废弃厂房院内",
                31_760_300,
                119_905_100,
                "336-064-17",
                "巡查发现：废弃厂房院内堆放疑似电镀污泥吨袋约8袋",
            ),
            (
                "assigned-overdue",
                "钟楼区五星街道某工业园区雨水排口附近",
                31_770_100,
                119_930_600,
                "336-052-17",
                "无人机巡查发现：雨水排口附近有含重金属污泥倾倒痕迹",
            ),
            (
                "rectified",
                "钟楼区永红街道某汽修店后巷",
                31_775_400,
                119_945_200,
                "900-214-08",
                "群众举报：汽修店后巷地面有废机油倾倒痕迹",
            ),
            (
                "returned",
                "钟楼区新闸街道某物流园东侧空地",
                31_804_800,
                119_930_200,
                "900-041-49",
                "巡查发现：物流园空地堆放废弃化学品包装桶约30只",
            ),
            (
                "closed",
                "钟楼区西林街道运河支流河岸",
                31_750_200,
                119_931_700,
                "900-404-06",
                "群众举报：河岸边倾倒疑似废有机溶剂，有刺激性气味",
            ),
            (
                "historic",
                "钟楼区荷花池街道某建筑工地回填土中",
                31_785_300,
                119_940_100,
                "900-252-12",
                "施工中挖出疑似历史填埋的漆渣",
            ),
            (
                "reopened",
                "钟楼区邹区镇某灯具厂北侧沟渠",
                31_801_900,
                119_818_700,
                "900-039-49",
                "群众举报：沟渠内倾倒疑似废活性炭",
            ),
        ];
        let suspects: [(&str, Option<usize>); 8] = [
            ("open", None),
            ("assigned", None),
            ("assigned-overdue", Some(9)),
            ("rectified", Some(19)),
            ("returned", Some(0)),
            ("closed", None),
            ("historic", None),
            ("reopened", Some(1)),
        ];
        for ((name, address, lat, lon, code, summary), (_, suspect)) in
            sites.into_iter().zip(suspects)
        {
            let ticket = if name == "reopened" {
                final_ticket()
            } else {
                named_uuid(&format!("ticket/{name}"))
            };
            let suspect_org = suspect.map(|gi| self.gen(gi));
            let ago = match name {
                "open" => 2,
                "assigned" => 9,
                "assigned-overdue" => 40,
                "rectified" => 30,
                "returned" => 50,
                "closed" => 120,
                "historic" => 300,
                _ => 90,
            };
            let opened = self.now - self.days(ago);
            if !self.fits(opened) {
                self.left_out(&format!("偷倒案件（{name}）"), "超出可补录时限".into());
                continue;
            }
            let mut subject =
                json!({"site": {"address": address, "lat": lat, "lon": lon}, "code": code});
            if let Some(o) = &suspect_org {
                subject["org"] = json!(o);
            }
            self.push(
                &reg,
                "ticket.opened",
                opened,
                json!({"ticket": ticket.to_string(), "kind": "reported_dumping", "subject": subject, "summary": summary}),
            );
            let stage = match name {
                "open" => "新立案，待交办",
                "assigned" => "已交办，整改中",
                "assigned-overdue" => "已交办，逾期未整改",
                "rectified" => "已整改，待审核销号",
                "returned" => "整改被退回",
                "closed" => "已销号",
                "historic" => "历史案件，已销号",
                _ => "销号后重新立案",
            };
            self.highlight(
                &format!("偷倒问题（{stage}）：{summary}"),
                None,
                Some(ticket),
                suspect_org.clone(),
            );
            if name == "open" {
                continue;
            }
            let assigned = opened + self.days(1);
            let due = match name {
                "assigned" => self.today + TimeDelta::days(12),
                "assigned-overdue" => self.today - TimeDelta::days(6),
                "returned" => self.today + TimeDelta::days(5),
                _ => time::cst_date(assigned) + TimeDelta::days(20),
            };
            let mut assign = json!({
                "ticket": ticket.to_string(),
                "lead": LEAD,
                "support": support_for(name),
                "due": time::format_date(due.max(time::cst_date(assigned))),
            });
            if let Some(o) = &suspect_org {
                assign["responsible"] = json!(o);
            }
            self.push(&reg, "ticket.assigned", assigned, assign);
            if name.starts_with("assigned") {
                continue;
            }
            // A responsible org reports its own rectification; otherwise the lead department
            // does, through the regulator's account.
            let rectifier = suspect_org.clone().unwrap_or_else(|| reg.clone());
            let rectified = opened + self.days(ago.min(60) / 3 + 2);
            self.push(
                &rectifier,
                "ticket.rectified",
                rectified,
                json!({"ticket": ticket.to_string(), "note": "已清理现场倾倒物，委托有资质单位按联单转移处置，并对周边土壤取样监测。", "evidence": evidence(&ticket, &["现场清理前后照片.jpg", "危险废物转移联单.pdf", "土壤监测报告.pdf"])}),
            );
            match name {
                "rectified" => continue,
                "returned" => {
                    self.push(
                        &reg,
                        "ticket.returned",
                        rectified + self.days(3),
                        json!({"ticket": ticket.to_string(), "reason": "证据不足：未提供清理后废物的转移联单编号及处置单位接收记录，退回补充整改"}),
                    );
                    continue;
                }
                _ => {}
            }
            let closed = rectified + self.days(4);
            self.push(
                &reg,
                "ticket.closed",
                closed,
                json!({"ticket": ticket.to_string(), "note": "现场复核：倾倒物已清理，转移联单与处置记录齐全，监测结果达标，予以销号。"}),
            );
            if name == "reopened" {
                // The plan's last event: sent after everything else.
                self.push(
                    &reg,
                    "ticket.reopened",
                    self.latest + secs(5 * 60),
                    json!({"ticket": ticket.to_string(), "reason": "群众再次举报同一地点仍有倾倒迹象，重新立案"}),
                );
            }
        }
    }

    // --- plans, classes and compliance (HJ 1259-2022) ------------------------------------

    fn plans_and_compliance(&mut self) {
        self.classes_and_plans();
        self.storage_point_overfilled();
        self.disposal_short_today();
    }

    /// The receivers a code goes to as `route` sends it outside the metal recycler's
    /// suspension, and the share of the year's transfers each one is planned for.
    fn planned_receivers(gi: usize, code: &str) -> Vec<(usize, i64)> {
        let mut out = match &code[8..] {
            "01" => vec![(MEDICAL_PLANT, 100)],
            "08" => vec![(OIL_RECYCLER, 100)],
            // The incinerator as a second receiver, as plans name one for when the first cannot take it.
            "17" | "22" | "34" => vec![(METAL_RECYCLER, 90), (INCINERATOR, 10)],
            _ => vec![(INCINERATOR, 100)],
        };
        if COLLECTED_SHOPS.contains(&gi) && code == "900-214-08" {
            out = vec![(OIL_RECYCLER, 70), (COLLECTOR, 30)];
        }
        out
    }

    /// At the start of the year the bureau names the chemical and plating plants 重点监管 and
    /// the circuit-board makers 简化管理 (org.class_set); every generator files its management
    /// plan (plan.filed) for the year: per waste stream a year's expected generation, rounded
    /// to 100 kg, to the receivers its shipments go to. One resin plant planned too little, so
    /// its 计划执行情况 shows generation beyond the plan.
    fn classes_and_plans(&mut self) {
        const WHAT: &str = "年度管理计划：常州钰衡树脂的实际产生量超出计划（计划执行情况）";
        let year = time::cst_year(self.now);
        let january = |day| {
            let d = NaiveDate::from_ymd_opt(year, 1, day).expect("a day of January");
            time::cst_day_start(d) + secs(9 * HOUR + 30 * 60)
        };
        let set_at = january(5).max(self.start);
        let filed_at = january(8).max(set_at + self.hours(2));
        if !self.fits(set_at) || filed_at > self.latest - self.days(1) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let regulator = self.regulator.clone();
        for (gi, g) in GENERATORS.iter().enumerate() {
            let class = match g.industry {
                "化工" | "电镀" => "key",
                "印制电路板" => "simplified",
                _ => continue,
            };
            let org = self.gen(gi);
            self.push(
                &regulator,
                "org.class_set",
                set_at + secs(gi as i64 * 10),
                json!({"org": org, "class": class, "reason": format!("列入常州市{year}年环境监管重点单位名录")}),
            );
        }
        for (gi, g) in GENERATORS.iter().enumerate() {
            let org = self.gen(gi);
            let lines: Vec<Value> = g
                .wastes
                .iter()
                .map(|w| {
                    let per_period = i64::from(w.min_kg + w.max_kg) * 1000 / 2;
                    let mut year_g = per_period * 365 / i64::from(g.period_days);
                    if gi == UNDER_PLANNED {
                        year_g = year_g * 6 / 10;
                    }
                    let year_g = (year_g / 100_000).max(1) * 100_000;
                    let mut line = json!({"code": w.code, "generate_g": year_g});
                    let mut transfers = Vec::new();
                    if gi == TREATING_PLANT && w.code == "900-404-06" {
                        // Part of its solvent is burnt in its own incinerator.
                        line["treat_onsite_g"] = json!(1_000_000);
                    }
                    for (r, share) in Self::planned_receivers(gi, w.code) {
                        transfers.push(json!({"receiver": RECEIVERS[r].org(r), "quantity_g": year_g / 100 * share}));
                    }
                    line["transfers"] = Value::Array(transfers);
                    line
                })
                .collect();
            self.push(
                &org,
                "plan.filed",
                filed_at + secs(gi as i64 * 60),
                json!({"org": org, "year": year, "lines": lines}),
            );
        }
        self.highlights.push(Highlight {
            what: WHAT.to_owned(),
            manifest: None,
            ticket: None,
            org: Some(self.gen(UNDER_PLANNED)),
            place: Some(
                "产废单位的“计划执行情况”页；监管部门在“计划执行情况”中填写其统一社会信用代码",
            ),
        });
    }

    /// A paint works puts a batch of sludge into its storage point (贮存点, 3 t at most) on top
    /// of nothing shipped: 3.4 t. Waste that exists is recorded; the ledger opens 贮存超能力.
    fn storage_point_overfilled(&mut self) {
        const WHAT: &str = "贮存点超出贮存能力（合规问题：贮存超能力）";
        let gi = OVERFILLED;
        let t = self.latest - self.hours(6);
        if !self.fits(t) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let org = self.gen(gi);
        let code = GENERATORS[gi].wastes[0].code;
        self.push(
            &org,
            "waste.declared",
            t,
            json!({"generator": org, "code": code, "quantity_g": 3_400_000, "date": Self::date(t), "facility": STORE}),
        );
        self.highlights.push(Highlight {
            what: WHAT.to_owned(),
            manifest: None,
            ticket: None,
            org: Some(org),
            place: Some("监管部门的“合规问题”页"),
        });
    }

    /// The incinerator signs for a printer's ink sludge today and records disposing of less
    /// than it received: 利用处置量少于接收量 (while compliance is on, which it is from the
    /// genesis of a ledger made by `serve --demo`).
    fn disposal_short_today(&mut self) {
        const WHAT: &str = "处置量少于接收量（合规问题：利用处置量少于接收量）";
        let gi = SHORT_DISPOSAL;
        let opened = self.latest - self.hours(9);
        if !self.fits(opened - self.hours(1)) {
            return self.left_out(WHAT, "超出可补录时限".into());
        }
        let code = "900-253-12";
        let q = 1_600_000;
        let id = named_uuid("manifest/disposal-short");
        self.declare(gi, code, q, opened - self.hours(1));
        let lines = [Self::line_of(gi, code, q, "D10")];
        let received_at = opened + self.hours(3);
        let course = Course {
            pickup: Some(opened + self.hours(1)),
            receipt: Some((received_at, vec![q])),
            ..Course::default()
        };
        self.manifest(id, gi, 0, INCINERATOR, opened, &lines, &course, None);
        // As late as the history goes: disposal_short concerns disposals from 00:00 CST of
        // `compliance_from` on, which for a ledger made by `serve --demo` is its genesis' date.
        let disposed_at = (self.latest - secs(10 * 60)).max(received_at + secs(60));
        self.guard(
            received_at,
            disposed_at,
            received_at + secs(self.limits.disposal_s),
        );
        let rec = self.receiver(INCINERATOR);
        self.push(
            &rec,
            "manifest.disposed",
            disposed_at,
            json!({"manifest": id.to_string(), "lines": [{"code": code, "quantity_g": q - 150_000, "method": "D10"}]}),
        );
        self.highlight(WHAT, Some(id), None, Some(rec));
    }

    fn finish(mut self) -> Result<Plan, PlanError> {
        self.events.sort_by_key(|(at, n, _)| (*at, *n));
        let events: Vec<Event> = self.events.into_iter().map(|(_, _, e)| e).collect();
        check_codes(&events).map_err(PlanError)?;
        let first_at = events.first().map(|e| e.at).unwrap_or(self.now);
        Ok(Plan {
            orgs: self.orgs,
            events,
            guards: self.guards,
            highlights: self.highlights,
            left_out: self.left_out,
            first_at,
        })
    }
}

fn support_for(name: &str) -> Vec<&'static str> {
    match name {
        "assigned" | "rectified" => vec!["钟楼区北港街道办事处", "常州市公安局钟楼分局"],
        "assigned-overdue" => vec!["钟楼区五星街道办事处", "钟楼区住房和城乡建设局"],
        "returned" => vec!["钟楼区新闸街道办事处"],
        _ => vec!["钟楼区邹区镇人民政府", "常州市公安局钟楼分局"],
    }
}

/// Evidence files named in a rectification, with digests that stand in for the files' own.
fn evidence(ticket: &Uuid, names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| {
            let digest = Sha256::digest(format!("{ticket}/{n}").as_bytes());
            json!({"sha256": hex::encode(digest), "name": n})
        })
        .collect()
}

/// A container's 数字识别码 (HJ 1276-2022, protocol §2): the packing unit, the waste code without
/// hyphens, the packing date and a three-digit serial.
fn container_id(org: &str, code: &str, date: NaiveDate, serial: u32) -> String {
    format!(
        "{org}{}{}{serial:03}",
        code.replace('-', ""),
        date.format("%Y%m%d")
    )
}

/// Every waste code an event names is in the catalogue edition in force on the CST date of its
/// `at`; every licence category has codes there.
fn check_codes(events: &[Event]) -> Result<(), String> {
    for e in events {
        let edition = Edition::in_force_on(time::cst_date(e.at));
        // A plan's codes are of the edition in force on 1 January of its year.
        let edition = match (e.kind, e.body["year"].as_i64()) {
            ("plan.filed", Some(y)) => i32::try_from(y)
                .ok()
                .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
                .map_or(edition, Edition::in_force_on),
            _ => edition,
        };
        let mut codes: Vec<&str> = Vec::new();
        match e.kind {
            "waste.declared" | "waste.treated" => codes.extend(e.body["code"].as_str()),
            "manifest.opened" | "manifest.received" | "manifest.disposed" | "plan.filed" => codes
                .extend(
                    e.body["lines"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l["code"].as_str()),
                ),
            "license.issued" | "license.amended" => {
                for scope in e.body["scopes"].as_array().into_iter().flatten() {
                    for c in scope["codes"].as_array().into_iter().flatten() {
                        let c = c.as_str().unwrap_or_default();
                        match CodeOrCategory::parse(c) {
                            Ok(CodeOrCategory::Category(cat)) => {
                                if !catalogue::has_category(edition, cat) {
                                    return Err(format!(
                                        "category {c} has no code in the {} catalogue",
                                        edition.name()
                                    ));
                                }
                            }
                            _ => codes.push(c),
                        }
                    }
                }
            }
            _ => {}
        }
        for c in codes {
            if WasteCode::parse(c).is_err() || catalogue::lookup(edition, c).is_none() {
                return Err(format!(
                    "waste code {c} is not in the {} catalogue in force on {}",
                    edition.name(),
                    time::cst_date(e.at)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn at(s: &str) -> Timestamp {
        time::parse_timestamp(s).unwrap()
    }

    fn keys() -> BTreeMap<String, String> {
        orgs()
            .into_iter()
            .map(|o| (o.org, "00".repeat(32)))
            .collect()
    }

    fn demo_limits(backdate_days: i64) -> Limits {
        Limits {
            max_backdate_s: backdate_days * DAY,
            ..Limits::default()
        }
    }

    #[test]
    fn org_codes_are_valid_and_distinct() {
        let orgs = orgs();
        let mut seen = HashSet::new();
        for o in &orgs {
            crate::domain::ids::OrgId::parse(&o.org).unwrap();
            assert!(seen.insert(o.org.clone()), "{} twice", o.org);
            assert!(!o.short.contains('-'), "{} has a hyphen", o.short);
        }
        let count = |r| orgs.iter().filter(|o| o.role == r).count();
        assert!(count(Role::Generator) >= 30);
        assert_eq!(count(Role::Carrier), 3);
        assert_eq!(count(Role::Receiver), 5);
    }

    #[test]
    fn every_code_is_in_both_catalogues() {
        for g in GENERATORS {
            for w in g.wastes {
                for e in [Edition::E2021, Edition::E2025] {
                    assert!(
                        catalogue::lookup(e, w.code).is_some(),
                        "{} in {e:?}",
                        w.code
                    );
                }
            }
        }
    }

    /// Folds a plan the way the ledger would, for the rules the plan must keep: stock, time
    /// order per manifest and ticket, the backdating window, and the sweeps it must not cross.
    fn replay(plan: &Plan, now: Timestamp, limits: &Limits) {
        let mut stock: HashMap<(String, String), i64> = HashMap::new();
        let mut opened: HashMap<String, (String, Value)> = HashMap::new();
        let mut last_at: HashMap<String, Timestamp> = HashMap::new();
        for (i, e) in plan.events.iter().enumerate() {
            assert!(e.at <= now + secs(300), "{} at {}", e.kind, e.at);
            assert!(
                e.at >= now - secs(limits.max_backdate_s),
                "{} at {} is before the window",
                e.kind,
                e.at
            );
            if i > 0 {
                assert!(plan.events[i - 1].at <= e.at, "sorted by at");
            }
            let b = &e.body;
            if let Some(m) = b["manifest"].as_str().or(b["ticket"].as_str()) {
                let prev = last_at.insert(m.to_owned(), e.at);
                assert!(
                    prev.is_none_or(|p| p <= e.at),
                    "{} goes back in time",
                    e.kind
                );
            }
            match e.kind {
                "waste.declared" => {
                    let date = time::parse_date(b["date"].as_str().unwrap()).unwrap();
                    assert!(date <= time::cst_date(e.at));
                    *stock
                        .entry((e.actor.clone(), b["code"].as_str().unwrap().into()))
                        .or_default() += b["quantity_g"].as_i64().unwrap();
                }
                "manifest.cancelled" | "manifest.rejected" => {
                    let (generator, lines) = &opened[b["manifest"].as_str().unwrap()];
                    for l in lines.as_array().unwrap() {
                        *stock
                            .entry((generator.clone(), l["code"].as_str().unwrap().into()))
                            .or_default() += l["quantity_g"].as_i64().unwrap();
                    }
                }
                "manifest.stored" => {
                    let (_, lines) = &opened[b["manifest"].as_str().unwrap()];
                    assert_eq!(
                        lines.as_array().unwrap().len(),
                        b["lines"].as_array().unwrap().len()
                    );
                    for l in b["lines"].as_array().unwrap() {
                        *stock
                            .entry((e.actor.clone(), l["code"].as_str().unwrap().into()))
                            .or_default() += l["quantity_g"].as_i64().unwrap();
                    }
                }
                "manifest.opened" => {
                    opened.insert(
                        b["manifest"].as_str().unwrap().into(),
                        (e.actor.clone(), b["lines"].clone()),
                    );
                    for l in b["lines"].as_array().unwrap() {
                        let have = stock
                            .entry((e.actor.clone(), l["code"].as_str().unwrap().into()))
                            .or_default();
                        *have -= l["quantity_g"].as_i64().unwrap();
                        assert!(*have >= 0, "insufficient stock for {l}");
                    }
                }
                _ => {}
            }
        }
        assert_eq!(
            plan.events.last().unwrap().body["ticket"],
            json!(final_ticket().to_string())
        );
    }

    #[test]
    fn the_district_fits_a_year_and_keeps_the_rules() {
        let now = at("2026-12-03T09:30:00Z");
        let limits = demo_limits(400);
        let plan = plan(now, &limits, Scale::District, "11320404MB0000001Y", &keys()).unwrap();
        assert!(plan.left_out.is_empty(), "{:?}", plan.left_out);
        replay(&plan, now, &limits);
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &plan.events {
            *kinds.entry(e.kind).or_default() += 1;
        }
        assert!(kinds["manifest.opened"] > 300, "{kinds:?}");
        assert!(kinds["waste.declared"] > 1000, "{kinds:?}");
        assert!(plan.first_at < now - secs(390 * DAY));
        // Every generator files its plan for the year in January; the bureau names 11 classes.
        let plans: Vec<&Event> = plan
            .events
            .iter()
            .filter(|e| e.kind == "plan.filed")
            .collect();
        assert_eq!(plans.len(), GENERATORS.len());
        for e in &plans {
            assert_eq!(e.body["year"], json!(2026));
            assert_eq!(time::format_date(time::cst_date(e.at)), "2026-01-08");
            for line in e.body["lines"].as_array().unwrap() {
                let planned: i64 = line["transfers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["quantity_g"].as_i64().unwrap())
                    .sum();
                assert!(planned <= line["generate_g"].as_i64().unwrap(), "{line}");
            }
        }
        assert_eq!(kinds["org.class_set"], 11, "{kinds:?}");
        let storings: Vec<&Event> = plan
            .events
            .iter()
            .filter(|e| e.kind == "waste.declared" && e.body["facility"] == STORE)
            .filter(|e| e.body["quantity_g"].as_i64() > Some(3_000_000))
            .collect();
        assert_eq!(storings.len(), 1, "one storage point overfilled");
    }

    #[test]
    fn a_fortnight_window_compresses_the_history() {
        let now = at("2026-12-03T09:30:00Z");
        let limits = demo_limits(14);
        for scale in [Scale::District, Scale::Small] {
            let plan = plan(now, &limits, scale, "11320404MB0000001Y", &keys()).unwrap();
            replay(&plan, now, &limits);
            // Only the disposal limit of a year cannot be shown in a fortnight.
            assert_eq!(plan.left_out.len(), 2, "{scale:?}: {:?}", plan.left_out);
            assert!(plan.left_out.iter().all(|l| l.contains("处置超期")));
        }
    }

    #[test]
    fn the_same_moment_plans_the_same_district() {
        let now = at("2026-12-03T09:30:00Z");
        let limits = demo_limits(400);
        let a = plan(now, &limits, Scale::Small, "11320404MB0000001Y", &keys()).unwrap();
        let b = plan(now, &limits, Scale::Small, "11320404MB0000001Y", &keys()).unwrap();
        let ja: Vec<Value> = a.events.iter().map(Event::json).collect();
        let jb: Vec<Value> = b.events.iter().map(Event::json).collect();
        assert_eq!(ja, jb);
    }

    #[test]
    fn too_short_a_window_is_refused() {
        let now = at("2026-12-03T09:30:00Z");
        assert!(plan(
            now,
            &demo_limits(1),
            Scale::Small,
            "11320404MB0000001Y",
            &keys()
        )
        .is_err());
    }
}
