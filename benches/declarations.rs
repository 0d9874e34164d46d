//! Declarations benchmark: the cost of a unit's declaration report (申报, HJ 1259) and of the
//! sweep at 1 April, on a province-sized ledger.
//!
//! `cargo bench --bench declarations [-- --manifests 1000000 --units 50000 --reports 2000]`
//!
//! The ledger is built in memory through the domain's one `submit` (the rules the sequencer,
//! start-up and `verify` all run), with the ledger's clock set to each entry's time, so that a
//! year passes in minutes: the genesis (compliance from 2027-01-01), `--units` generators (1 %
//! of them set to 重点监管, monthly declarations; 5 % to 简化管理, quarterly; the rest 登记管理,
//! yearly), 20 licensed receivers and 10 carriers; 80 % of the units file a plan for 2027. Then
//! `--manifests` manifests through 2027, each preceded by the `waste.declared` it ships (so each
//! manifest is 3 entries: declared, opened, picked up; receipts and disposals do not touch a
//! unit's report). Half of the manifests come from 100 large units (about 5,000 each at 1 M
//! manifests, every day of the year), the rest spread over the others. Like the sequencer, the
//! bench appends the automatic tickets each entry calls for (`unplanned_transfer` for units
//! without a plan) and, before the first entry after a due moment, the tickets it is due
//! (`declaration_overdue` of the key and simplified units that do not declare).
//!
//! Measured, with the whole year in place:
//! - the report of one unit for a period (`Compliance::report`, as `GET /v1/reports/declaration`
//!   and `declaration.filed` compute it, including its JCS and SHA-256): p50 and p99 over
//!   `--reports` random (unit, period) pairs, for large units and for all;
//! - the sweep at 1 April 2028, 00:00:00.001 CST: computing the due tickets (every unit's
//!   `plan_missing` for 2028 and yearly `declaration_overdue` for 2027) and appending them
//!   through the rules, which justify each one again.
//!
//! No database is involved: these are the in-memory costs the writer and the readers pay.

#[path = "common/alloc.rs"]
mod alloc;

use std::time::{Duration, Instant};

use clap::Parser;
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use hwledger::domain::compliance::Period;
use hwledger::domain::ids::OrgId;
use hwledger::domain::oversight::AutoTicket;
use hwledger::domain::state::{State, Verdict};
use hwledger::protocol::event::{Prepared, LEDGER_ACTOR};
use hwledger::protocol::time::{self, Timestamp};

#[path = "common/machine.rs"]
mod machine;

#[derive(Parser, Debug)]
struct Args {
    /// Manifests opened and picked up in 2027.
    #[arg(long, default_value_t = 1_000_000)]
    manifests: usize,
    /// Generating units.
    #[arg(long, default_value_t = 50_000)]
    units: usize,
    /// Reports computed for the percentiles.
    #[arg(long, default_value_t = 2000)]
    reports: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Ignored (cargo bench passes it).
    #[arg(long, hide = true)]
    bench: bool,
}

const CODES: [&str; 3] = ["900-249-08", "900-214-08", "900-041-49"];
const RECEIVERS: usize = 20;
const CARRIERS: usize = 10;
const LARGE: usize = 100;

struct Party {
    org: String,
    key_hex: String,
}

fn party(n: u64) -> Party {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0x7b;
    let key = SigningKey::from_bytes(&seed);
    Party {
        org: OrgId::with_check(&format!("9132040{n:010}"))
            .expect("a valid prefix")
            .as_str()
            .to_owned(),
        key_hex: hex::encode(key.verifying_key().to_bytes()),
    }
}

/// The writer's side: the state, and the clock each entry is recorded at.
struct Ledger {
    state: State,
    ledger_key_hex: String,
    entries: u64,
    tickets: u64,
}

impl Ledger {
    fn envelope(actor: &str, key_hex: &str, kind: &str, at: Timestamp, body: Value) -> Prepared {
        let env = json!({
            "event": {"v": 1, "id": Uuid::new_v4().to_string(), "type": kind, "actor": actor,
                      "at": time::format_timestamp(at), "body": body},
            "key": key_hex,
            "sig": "00".repeat(64),
        });
        let mut p = Prepared::from_value(env).expect("the bench's events fit their schemas");
        // The signatures are not what this bench measures.
        p.sig_ok = true;
        p
    }

    /// Appends one event as the sequencer would: first the tickets of due moments passed, then
    /// the event, then the tickets it calls for.
    fn append(&mut self, actor: &Party, kind: &str, body: Value, at: Timestamp) {
        let due = self.state.due_tickets(at);
        self.tickets(&due, at);
        let p = Self::envelope(&actor.org, &actor.key_hex, kind, at, body);
        match self.state.submit(&p, at) {
            Ok(Verdict::Accepted(o)) => {
                self.entries += 1;
                self.tickets(&o.followups, at);
            }
            other => panic!("{kind} at {}: {other:?}", time::format_timestamp(at)),
        }
    }

    fn tickets(&mut self, tickets: &[AutoTicket], now: Timestamp) {
        for t in tickets {
            let env = json!({
                "event": {"v": 1, "id": t.id.to_string(), "type": "ticket.opened", "actor": LEDGER_ACTOR,
                          "at": time::format_timestamp(t.at), "body": t.body()},
                "key": self.ledger_key_hex,
                "sig": "00".repeat(64),
            });
            let mut p = Prepared::from_value(env).expect("a ticket fits its schema");
            p.sig_ok = true;
            match self.state.submit(&p, now) {
                Ok(Verdict::Accepted(_)) => {
                    self.entries += 1;
                    self.tickets += 1;
                }
                other => panic!("ticket {}: {other:?}", t.kind.as_str()),
            }
        }
    }
}

fn at(s: &str) -> Timestamp {
    time::parse_timestamp(s).expect("a timestamp")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.units > LARGE, "--units must be above {LARGE}");
    let machine = machine::Machine::probe();
    println!("hwledger declarations benchmark");
    println!("{}", machine.describe());
    let mut rng = StdRng::seed_from_u64(args.seed);

    let ledger_key = SigningKey::from_bytes(&[9; 32]);
    let ledger_key_hex = hex::encode(ledger_key.verifying_key().to_bytes());
    let regulator = party(1);
    let t0 = at("2027-01-02T01:00:00Z");
    let mut l = Ledger {
        state: State::new(ledger_key.verifying_key().to_bytes()),
        ledger_key_hex: ledger_key_hex.clone(),
        entries: 0,
        tickets: 0,
    };
    let genesis = json!({
        "origin": "bench.hwledger.local", "ledger_key": ledger_key_hex,
        "regulator": {"org": regulator.org, "name": "示例生态环境局", "region": "320404", "keys": [regulator.key_hex]},
        "limits": {"transit_s": 432_000, "disposal_s": 31_536_000, "storage_s": 31_536_000,
                   "max_backdate_s": 1_209_600, "shortfall_bp": 100, "plan_excess_bp": 2000,
                   "compliance_from": "2027-01-01"}
    });
    let ledger_party = Party {
        org: LEDGER_ACTOR.into(),
        key_hex: ledger_key_hex.clone(),
    };
    l.append(&ledger_party, "ledger.genesis", genesis, t0);

    let started = Instant::now();
    let units: Vec<Party> = (0..args.units as u64).map(|i| party(1000 + i)).collect();
    let receivers: Vec<Party> = (0..RECEIVERS as u64).map(|i| party(100 + i)).collect();
    let carriers: Vec<Party> = (0..CARRIERS as u64).map(|i| party(200 + i)).collect();
    let register = |l: &mut Ledger, p: &Party, role: &str, region: &str| {
        l.append(
            &regulator,
            "org.registered",
            json!({"org": p.org, "name": format!("单位{}", &p.org[8..17]), "region": region,
                   "roles": [role], "keys": [p.key_hex]}),
            t0,
        );
    };
    for (i, u) in units.iter().enumerate() {
        register(&mut l, u, "generator", &format!("3204{:02}", i % 12 + 1));
    }
    for r in &receivers {
        register(&mut l, r, "receiver", "320411");
    }
    for c in &carriers {
        register(&mut l, c, "carrier", "320404");
    }
    for (i, r) in receivers.iter().enumerate() {
        l.append(
            &regulator,
            "license.issued",
            json!({"license": format!("JS0411OOD{i:03}-1"), "holder": r.org, "capacity_g": 1_000_000_000_000_000_i64,
                   "valid_from": "2027-01-01", "valid_until": "2030-12-31",
                   "scopes": [{"codes": ["HW08", "HW49"], "activities": ["store", "dispose"]}]}),
            t0,
        );
    }
    // Classes: 1 % key (monthly), 5 % simplified (quarterly), the rest derived (registered).
    for (i, u) in units.iter().enumerate() {
        let class = match i % 100 {
            0 => "key",
            1..=5 => "simplified",
            _ => continue,
        };
        l.append(
            &regulator,
            "org.class_set",
            json!({"org": u.org, "class": class, "reason": "名录"}),
            t0,
        );
    }
    // Each unit ships one to three codes to two receivers; 80 % file a plan listing them.
    let profile: Vec<(Vec<&str>, [usize; 2])> = (0..args.units)
        .map(|_| {
            let n = rng.gen_range(1..=3);
            let first = rng.gen_range(0..RECEIVERS);
            (CODES[..n].to_vec(), [first, (first + 1) % RECEIVERS])
        })
        .collect();
    for (i, u) in units.iter().enumerate() {
        if i % 5 == 4 {
            continue;
        }
        let (codes, rs) = &profile[i];
        let lines: Vec<Value> = codes
            .iter()
            .map(|c| json!({"code": c, "generate_g": 1_000_000_000_i64,
                            "transfers": rs.iter().map(|r| json!({"receiver": receivers[*r].org, "quantity_g": 500_000_000})).collect::<Vec<_>>()}))
            .collect();
        l.append(
            u,
            "plan.filed",
            json!({"org": u.org, "year": 2027, "lines": lines}),
            t0,
        );
    }
    let setup_entries = l.entries;
    println!(
        "setup: {setup_entries} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The year: manifests in time order, half from the large units.
    let year_start = at("2027-01-03T00:00:00Z");
    let span_ms = (at("2027-12-31T12:00:00Z") - year_start).num_milliseconds();
    let started = Instant::now();
    let mut last_report = Instant::now();
    for i in 0..args.manifests {
        let when =
            year_start + chrono::Duration::milliseconds(span_ms * i as i64 / args.manifests as i64);
        let u = if rng.gen_bool(0.5) {
            rng.gen_range(0..LARGE)
        } else {
            rng.gen_range(LARGE..args.units)
        };
        let (codes, rs) = &profile[u];
        let code = codes[rng.gen_range(0..codes.len())];
        let receiver = &receivers[rs[rng.gen_range(0..2)]];
        let carrier = &carriers[rng.gen_range(0..CARRIERS)];
        let q: i64 = rng.gen_range(100_000..5_000_000);
        let unit = &units[u];
        l.append(
            unit,
            "waste.declared",
            json!({"generator": unit.org, "code": code, "quantity_g": q, "date": time::format_date(time::cst_date(when))}),
            when,
        );
        let m = Uuid::from_u128(0x1000_0000_0000_4000_8000_0000_0000_0000 + i as u128);
        l.append(
            unit,
            "manifest.opened",
            json!({"manifest": m.to_string(), "generator": unit.org, "carrier": carrier.org,
                   "receiver": receiver.org, "lines": [{"code": code, "quantity_g": q}]}),
            when,
        );
        l.append(
            carrier,
            "manifest.picked_up",
            json!({"manifest": m.to_string(), "vehicle": "苏D12345"}),
            when,
        );
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "  {} of {} manifests, {} entries, {:.0} s",
                i + 1,
                args.manifests,
                l.entries,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let built = started.elapsed().as_secs_f64();
    println!(
        "the year: {} manifests, {} entries in all ({} automatic tickets) in {built:.1} s ({:.0} entries/s through the rules, no database)",
        args.manifests,
        l.entries,
        l.tickets,
        (l.entries - setup_entries) as f64 / built
    );

    // Reports for (unit, period), with the year in place.
    let periods: Vec<Period> = ["2027", "2027-Q2", "2027-Q4", "2027-03", "2027-11"]
        .iter()
        .map(|p| Period::parse(p).expect("a period"))
        .collect();
    let mut large = Vec::new();
    let mut all = Vec::new();
    for k in 0..args.reports {
        let u = if k % 2 == 0 {
            rng.gen_range(0..LARGE)
        } else {
            rng.gen_range(0..args.units)
        };
        let period = periods[rng.gen_range(0..periods.len())];
        let t = Instant::now();
        let report = l.state.compliance.report(&units[u].org, &period);
        let d = t.elapsed();
        std::hint::black_box(&report);
        if u < LARGE {
            large.push(d);
        }
        all.push(d);
    }
    large.sort();
    all.sort();
    let year_report = l
        .state
        .compliance
        .report(&units[0].org, &Period::parse("2027").unwrap());
    let lines = year_report.body["lines"].as_array().map_or(0, Vec::len);
    println!(
        "report of one unit for a period: all units p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} reports); large units (about {} manifests a year each) p50 {:.3} ms, p99 {:.3} ms ({} reports); a large unit's year has {lines} lines",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        all.len(),
        args.manifests / 2 / LARGE,
        percentile(&large, 0.5),
        percentile(&large, 0.99),
        large.len(),
    );

    // The due moments of January to March 2028 are settled by an entry on 20 March; then the
    // sweep at 1 April 2028.
    let march = at("2028-03-20T02:00:00Z");
    l.append(
        &regulator,
        "org.registered",
        json!({"org": party(99).org, "name": "迟到单位", "region": "320404", "roles": ["carrier"], "keys": [party(99).key_hex]}),
        march,
    );
    let april = at("2028-03-31T16:00:00.001Z");
    let t = Instant::now();
    let due = l.state.due_tickets(april);
    let computed = t.elapsed();
    let before = l.tickets;
    let t = Instant::now();
    l.tickets(&due, april);
    let appended = t.elapsed();
    let plan_missing = due
        .iter()
        .filter(|t| t.kind.as_str() == "plan_missing")
        .count();
    println!(
        "sweep at 1 April 2028 with {} units: {} due tickets ({plan_missing} plan_missing, {} declaration_overdue) computed in {:.1} ms and appended through the rules in {:.1} ms ({:.1} µs a ticket)",
        args.units,
        due.len(),
        due.len() - plan_missing,
        computed.as_secs_f64() * 1e3,
        appended.as_secs_f64() * 1e3,
        appended.as_secs_f64() * 1e6 / (l.tickets - before).max(1) as f64
    );
    // Every unit that declared waste in 2027 filed no plan for 2028.
    let declared = units
        .iter()
        .filter(|u| {
            !l.state
                .compliance
                .report(&u.org, &Period::parse("2027").unwrap())
                .body["lines"]
                .as_array()
                .is_none_or(Vec::is_empty)
        })
        .count();
    anyhow::ensure!(
        plan_missing == declared,
        "{declared} units declared waste in 2027 and filed no plan for 2028, but {plan_missing} plan_missing"
    );
    let next = l.state.due_tickets(april);
    anyhow::ensure!(next.is_empty(), "the sweep left {} due tickets", next.len());
    // As the sequencer does after a sweep: the due moment is settled, so that reads (the
    // compliance figures) and the next rounds need not judge every unit again.
    l.state.settle_swept(april);
    let t = Instant::now();
    let again = l.state.due_tickets(april);
    println!(
        "after the sweep settled 1 April: the due tickets are asked again in {:.3} ms ({} left)",
        t.elapsed().as_secs_f64() * 1e3,
        again.len()
    );
    println!("ledger of {} entries after the sweep", l.entries);
    Ok(())
}
