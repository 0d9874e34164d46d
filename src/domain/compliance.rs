//! Management classes, plans and declarations (HJ 1259-2022), and the compliance tickets of
//! spec §7 that concern them: `unplanned_transfer`, `plan_exceeded`, `plan_missing`,
//! `declaration_overdue`, and `disposal_short`.
//!
//! A declaration's report is computed from the ledger and its hash signed by the unit, so the
//! figures the unit declares are exactly those the entries hold. The report needs, per (org,
//! code), sums by CST date of what was generated, treated on site and transferred; entries may
//! be backdated, so these are kept as sums per day ([`DaySums`]) and a period's figures are a
//! range over its days, never a scan of the entries.
//!
//! Due moments (the 16th of each month and 1 April, 00:00 CST) are settled in ledger order: an
//! entry recorded after a due moment may be appended only once the tickets that moment calls
//! for are in the ledger ([`State::settle_due`]), so the sequencer appends them first and
//! `verify` checks that it did.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::catalogue::Edition;
use super::facility::{FacilityKind, FacilityStatus};
use super::licence::LicenceStatus;
use super::manifest::Manifest;
use super::oversight::{ticket_id, AutoTicket, Kind};
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Limits, Outcome, Role, State, Touched};
use crate::protocol::event::Prepared;
use crate::protocol::jcs;
use crate::protocol::time::{self, Timestamp};

/// Declared grams in a year from which a unit is `key` (100 t) or `simplified` (10 t).
const KEY_FROM_G: i64 = 100_000_000;
const SIMPLIFIED_FROM_G: i64 = 10_000_000;

/// A management class (管理类别, HJ 1259-2022 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MgmtClass {
    /// 重点监管: monthly and yearly declarations.
    Key,
    /// 简化管理: quarterly and yearly.
    Simplified,
    /// 登记管理: yearly.
    Registered,
}

impl MgmtClass {
    pub fn as_str(self) -> &'static str {
        match self {
            MgmtClass::Key => "key",
            MgmtClass::Simplified => "simplified",
            MgmtClass::Registered => "registered",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            MgmtClass::Key => "重点监管",
            MgmtClass::Simplified => "简化管理",
            MgmtClass::Registered => "登记管理",
        }
    }

    /// Whether a unit of this class declares for periods of this kind.
    pub fn declares(self, kind: PeriodKind) -> bool {
        matches!(
            (self, kind),
            (_, PeriodKind::Year)
                | (MgmtClass::Key, PeriodKind::Month)
                | (MgmtClass::Simplified, PeriodKind::Quarter)
        )
    }
}

/// A unit's class for a year, and whether a regulator set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClassOf {
    pub class: MgmtClass,
    pub set: bool,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum PeriodKind {
    Month,
    Quarter,
    Year,
}

/// A declaration period (§1): `YYYY-MM`, `YYYY-Qn` or `YYYY`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Period {
    pub year: i32,
    pub kind: PeriodKind,
    /// The month (1..=12) or quarter (1..=4); 0 for a year.
    pub n: u32,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        let b = s.as_bytes();
        if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let year: i32 = s[..4].parse().ok()?;
        if year < 1 {
            return None;
        }
        let rest = &s[4..];
        let period = if rest.is_empty() {
            Period {
                year,
                kind: PeriodKind::Year,
                n: 0,
            }
        } else if let Some(q) = rest.strip_prefix("-Q") {
            let n = match q {
                "1" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return None,
            };
            Period {
                year,
                kind: PeriodKind::Quarter,
                n,
            }
        } else {
            let m = rest.strip_prefix('-')?;
            if m.len() != 2 || !m.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let n: u32 = m.parse().ok()?;
            if !(1..=12).contains(&n) {
                return None;
            }
            Period {
                year,
                kind: PeriodKind::Month,
                n,
            }
        };
        Some(period)
    }

    pub fn month(year: i32, month: u32) -> Period {
        Period {
            year,
            kind: PeriodKind::Month,
            n: month,
        }
    }

    pub fn quarter(year: i32, quarter: u32) -> Period {
        Period {
            year,
            kind: PeriodKind::Quarter,
            n: quarter,
        }
    }

    pub fn year(year: i32) -> Period {
        Period {
            year,
            kind: PeriodKind::Year,
            n: 0,
        }
    }

    /// Its first CST date.
    pub fn start(&self) -> NaiveDate {
        let month = match self.kind {
            PeriodKind::Month => self.n,
            PeriodKind::Quarter => 3 * self.n - 2,
            PeriodKind::Year => 1,
        };
        NaiveDate::from_ymd_opt(self.year, month, 1).expect("a valid period")
    }

    /// The first CST date of the next period of its kind.
    pub fn end(&self) -> NaiveDate {
        let months = match self.kind {
            PeriodKind::Month => 1,
            PeriodKind::Quarter => 3,
            PeriodKind::Year => 12,
        };
        self.start() + chrono::Months::new(months)
    }

    /// Its due moment *D* (§6): 00:00 CST of the 16th of the month after a month, of the 16th
    /// of the first month after a quarter, and of 1 April after a year.
    pub fn due(&self) -> Timestamp {
        let end = self.end();
        let day = match self.kind {
            PeriodKind::Year => NaiveDate::from_ymd_opt(self.year + 1, 4, 1).expect("a date"),
            _ => end.with_day(16).expect("every month has a 16th"),
        };
        time::cst_day_start(day)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Year => write!(f, "{:04}", self.year),
            PeriodKind::Quarter => write!(f, "{:04}-Q{}", self.year, self.n),
            PeriodKind::Month => write!(f, "{:04}-{:02}", self.year, self.n),
        }
    }
}

/// The due moments after `t` in order: 00:00 CST of every 16th and of every 1 April.
pub fn next_due_after(t: Timestamp) -> Timestamp {
    let d = time::cst_date(t);
    let mut candidates = Vec::with_capacity(3);
    for months in 0..2 {
        let first = d.with_day(1).expect("a date") + chrono::Months::new(months);
        candidates.push(first.with_day(16).expect("a date"));
        if first.month() == 4 {
            candidates.push(first);
        }
    }
    candidates
        .into_iter()
        .map(time::cst_day_start)
        .filter(|c| *c > t)
        .min()
        .expect("a 16th within two months")
}

/// The periods whose due moment is `d`.
pub fn periods_due_at(d: Timestamp) -> Vec<Period> {
    let day = time::cst_date(d);
    if time::cst_day_start(day) != d {
        return Vec::new();
    }
    let mut out = Vec::new();
    if day.day() == 16 {
        let prev = day.with_day(1).expect("a date") - chrono::Months::new(1);
        out.push(Period::month(prev.year(), prev.month()));
        if prev.month() % 3 == 0 {
            out.push(Period::quarter(prev.year(), prev.month() / 3));
        }
    }
    if day.day() == 1 && day.month() == 4 {
        out.push(Period::year(day.year() - 1));
    }
    out
}

/// Grams by CST date, with their total.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct DaySums {
    by_day: BTreeMap<NaiveDate, i64>,
    total: i64,
}

impl DaySums {
    pub fn add(&mut self, d: NaiveDate, q: i64) {
        let e = self.by_day.entry(d).or_insert(0);
        *e += q;
        if *e == 0 {
            self.by_day.remove(&d);
        }
        self.total += q;
    }

    /// Grams dated in [from, to).
    pub fn range(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if from >= to {
            return 0;
        }
        self.by_day.range(from..to).map(|(_, q)| q).sum()
    }

    /// Grams dated before `d`: summed from whichever end of the days is nearer, so that a
    /// question about a recent date reads only the days after it.
    pub fn before(&self, d: NaiveDate) -> i64 {
        let (Some((first, _)), Some((last, _))) =
            (self.by_day.first_key_value(), self.by_day.last_key_value())
        else {
            return 0;
        };
        if (d - *first) <= (*last - d) {
            self.by_day.range(..d).map(|(_, q)| q).sum()
        } else {
            self.total - self.by_day.range(d..).map(|(_, q)| q).sum::<i64>()
        }
    }
}

/// What one code of one unit's own waste did, by date.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct CodeBook {
    pub generated: DaySums,
    pub treated: DaySums,
    /// (date, method) → grams treated on site.
    treated_by: BTreeMap<(NaiveDate, String), i64>,
    pub transferred: DaySums,
    /// (date, receiver, licence) → grams transferred.
    transferred_by: BTreeMap<(NaiveDate, String, String), i64>,
}

fn bump<K: Ord>(map: &mut BTreeMap<K, i64>, key: K, q: i64) {
    use std::collections::btree_map::Entry;
    match map.entry(key) {
        Entry::Occupied(mut e) => {
            *e.get_mut() += q;
            if *e.get() == 0 {
                e.remove();
            }
        }
        Entry::Vacant(e) => {
            if q != 0 {
                e.insert(q);
            }
        }
    }
}

impl CodeBook {
    /// The stock before `d`: generated less treated and transferred.
    fn stock_before(&self, d: NaiveDate) -> i64 {
        self.generated.before(d) - self.treated.before(d) - self.transferred.before(d)
    }

    /// Whether the report for [from, to) has a line for this code.
    fn has_line(&self, from: NaiveDate, to: NaiveDate) -> bool {
        self.stock_before(from) != 0
            || self.stock_before(to) != 0
            || self.generated.range(from, to) != 0
            || self.treated.range(from, to) != 0
            || self.transferred.range(from, to) != 0
    }
}

/// A plan line (管理计划).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLine {
    pub code: String,
    pub generate_g: i64,
    pub treat_onsite_g: Option<i64>,
    pub transfers: Vec<PlanTransfer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTransfer {
    pub receiver: String,
    pub quantity_g: i64,
}

/// A unit's plan for a year: its last `plan.filed` for that year.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub seq: u64,
    pub at: Timestamp,
    pub lines: Vec<PlanLine>,
}

impl Plan {
    fn line(&self, code: &str) -> Option<&PlanLine> {
        self.lines.iter().find(|l| l.code == code)
    }

    /// Whether the plan lists a transfer of `code` to `receiver`.
    pub fn plans_transfer(&self, code: &str, receiver: &str) -> bool {
        self.line(code)
            .is_some_and(|l| l.transfers.iter().any(|t| t.receiver == receiver))
    }
}

/// A filed declaration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Declaration {
    pub seq: u64,
    pub at: Timestamp,
    pub report_sha256: String,
}

/// A compliance condition that arose, for `compliance_by_kind` (§8).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Arisen {
    pub kind: Kind,
    pub at: Timestamp,
    /// The subject's org, or its manifest's generator.
    pub org: String,
    pub code: Option<String>,
}

/// Everything classes, plans and declarations need, folded from the entries.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Compliance {
    /// org → the class a regulator set (`None`: `derived` again).
    class_set: HashMap<String, Option<MgmtClass>>,
    /// (org, year) → the class for a year, fixed at its due moment (1 April of the next year).
    frozen: HashMap<(String, i32), ClassOf>,
    pub plans: HashMap<(String, i32), Plan>,
    pub declarations: HashMap<(String, Period), Declaration>,
    /// org → code → its own waste by date.
    books: HashMap<String, BTreeMap<String, CodeBook>>,
    /// (org, year) → grams it declared dated in that year.
    declared_year: HashMap<(String, i32), i64>,
    /// (org, year, code) → grams of a code it declared dated in that year.
    declared_code_year: HashMap<(String, i32, String), i64>,
    /// year → the orgs that declared waste dated in it.
    declarers: HashMap<i32, BTreeSet<String>>,
    /// (org, pickup year, code, receiver) → grams from its lots of `waste.declared` shipped.
    shipped: HashMap<(String, i32, String, String), i64>,
    /// The next due moment not yet settled (None before genesis).
    due_next: Option<Timestamp>,
    /// The compliance conditions ticketed by the ledger, by ticket id.
    pub arisen: HashMap<Uuid, Arisen>,
    /// The compliance tickets the last entry that is not an automatic ticket called for.
    pub(super) caused: Vec<AutoTicket>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassSet {
    org: String,
    class: String,
    #[allow(dead_code)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFiled {
    org: String,
    year: i32,
    lines: Vec<PlanLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclarationFiled {
    org: String,
    period: String,
    report_sha256: String,
}

/// A declaration report (§6 Declarations), with its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Exactly `{"org","period","lines"}`.
    pub body: Value,
    pub sha256: String,
    /// The lines of `body`, as numbers.
    pub lines: Vec<ReportLine>,
}

/// One line of a report, as numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportLine {
    pub code: String,
    pub generated_g: i64,
    pub treated_onsite: Vec<(String, i64)>,
    pub transferred: Vec<(String, String, i64)>,
    pub opening_stock_g: i64,
    pub closing_stock_g: i64,
}

/// The report's hash: SHA-256 of `hwledger/report/v1` LF JCS(report), lowercase hex.
pub fn report_hash(report: &Value) -> String {
    let mut h = Sha256::new();
    h.update(b"hwledger/report/v1\n");
    h.update(jcs::canonical(report));
    hex::encode(h.finalize())
}

impl Compliance {
    fn book(&mut self, org: &str, code: &str) -> &mut CodeBook {
        self.books
            .entry(org.to_owned())
            .or_default()
            .entry(code.to_owned())
            .or_default()
    }

    /// Grams of `code` the org declared dated in `year`.
    pub fn declared_in(&self, org: &str, year: i32, code: &str) -> i64 {
        self.declared_code_year
            .get(&(org.to_owned(), year, code.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Grams from the org's lots of `waste.declared` of `code` shipped to `receiver` on
    /// manifests picked up in `year` and not rejected.
    pub fn shipped_in(&self, org: &str, year: i32, code: &str, receiver: &str) -> i64 {
        self.shipped
            .get(&(org.to_owned(), year, code.to_owned(), receiver.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The plan in force for `org` at `at` (§6 Plans).
    pub fn plan_in_force(&self, org: &str, at: Timestamp) -> Option<&Plan> {
        let year = time::cst_year(at);
        let key = (org.to_owned(), year);
        if let Some(p) = self.plans.get(&key) {
            return Some(p);
        }
        let april = time::cst_day_start(NaiveDate::from_ymd_opt(year, 4, 1)?);
        if at < april {
            return self.plans.get(&(org.to_owned(), year - 1));
        }
        None
    }

    /// The report lines of `org` for [from, to).
    fn report_lines(&self, org: &str, from: NaiveDate, to: NaiveDate) -> Vec<ReportLine> {
        let Some(codes) = self.books.get(org) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (code, b) in codes {
            let mut treated: BTreeMap<&str, i64> = BTreeMap::new();
            for ((_, method), q) in b
                .treated_by
                .range((from, String::new())..(to, String::new()))
            {
                *treated.entry(method).or_insert(0) += q;
            }
            let mut transferred: BTreeMap<(&str, &str), i64> = BTreeMap::new();
            for ((_, receiver, licence), q) in b
                .transferred_by
                .range((from, String::new(), String::new())..(to, String::new(), String::new()))
            {
                *transferred.entry((receiver, licence)).or_insert(0) += q;
            }
            let line = ReportLine {
                code: code.clone(),
                generated_g: b.generated.range(from, to),
                treated_onsite: treated
                    .into_iter()
                    .filter(|(_, q)| *q != 0)
                    .map(|(m, q)| (m.to_owned(), q))
                    .collect(),
                transferred: transferred
                    .into_iter()
                    .filter(|(_, q)| *q != 0)
                    .map(|((r, l), q)| (r.to_owned(), l.to_owned(), q))
                    .collect(),
                opening_stock_g: b.stock_before(from),
                closing_stock_g: b.stock_before(to),
            };
            let nonzero = line.generated_g != 0
                || !line.treated_onsite.is_empty()
                || !line.transferred.is_empty()
                || line.opening_stock_g != 0
                || line.closing_stock_g != 0;
            if nonzero {
                out.push(line);
            }
        }
        out
    }

    /// The report of `org` for `period` on the entries folded so far.
    pub fn report(&self, org: &str, period: &Period) -> Report {
        let figures = self.report_lines(org, period.start(), period.end());
        let lines: Vec<Value> = figures
            .iter()
            .map(|l| {
                json!({
                    "code": &l.code,
                    "generated_g": l.generated_g,
                    "treated_onsite": l.treated_onsite.iter().map(|(m, q)| json!({"method": m, "quantity_g": q})).collect::<Vec<_>>(),
                    "transferred": l.transferred.iter().map(|(r, lic, q)| json!({"receiver": r, "license": lic, "quantity_g": q})).collect::<Vec<_>>(),
                    "opening_stock_g": l.opening_stock_g,
                    "closing_stock_g": l.closing_stock_g,
                })
            })
            .collect();
        let body = json!({"org": org, "period": period.to_string(), "lines": lines});
        let sha256 = report_hash(&body);
        Report {
            body,
            sha256,
            lines: figures,
        }
    }

    /// Whether the report of `org` for [from, to) has a line.
    fn report_has_line(&self, org: &str, from: NaiveDate, to: NaiveDate) -> bool {
        self.books
            .get(org)
            .is_some_and(|codes| codes.values().any(|b| b.has_line(from, to)))
    }

    pub fn due_next(&self) -> Option<Timestamp> {
        self.due_next
    }
}

impl State {
    /// `org.class_set`.
    pub(super) fn org_class_set(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: ClassSet = body(p.body())?;
        self.existing_org(&b.org)?;
        let class = match b.class.as_str() {
            "key" => Some(MgmtClass::Key),
            "simplified" => Some(MgmtClass::Simplified),
            "registered" => Some(MgmtClass::Registered),
            "derived" => None,
            other => {
                return reject(
                    Code::InvalidEvent,
                    format!("class {other:?} is not a management class"),
                )
            }
        };
        self.compliance.class_set.insert(b.org.clone(), class);
        Ok(Outcome::touching(Touched::Org(b.org)))
    }

    /// `plan.filed`.
    pub(super) fn plan_filed(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_role(&p.header.actor, Role::Generator)?;
        let b: PlanFiled = body(p.body())?;
        if b.org != p.header.actor {
            return reject(Code::Forbidden, "a unit files only its own plan");
        }
        // Objects the body names come first (§3 step 7).
        for l in &b.lines {
            for t in &l.transfers {
                self.existing_org(&t.receiver)?;
            }
        }
        let year = time::cst_year(p.header.at);
        if b.year != year && b.year != year + 1 {
            return reject(
                Code::BadDate,
                format!(
                    "a plan filed in {year} is for {year} or {}, not {}",
                    year + 1,
                    b.year
                ),
            );
        }
        let edition = Edition::in_force_on(
            NaiveDate::from_ymd_opt(b.year, 1, 1).expect("a year of the schema's range"),
        );
        for l in &b.lines {
            self.known_code_in(edition, &l.code)?;
        }
        for l in &b.lines {
            for t in &l.transfers {
                if !self.orgs[&t.receiver].has(Role::Receiver) {
                    return reject(
                        Code::NotAReceiver,
                        format!("{} does not have the receiver role", t.receiver),
                    );
                }
            }
        }
        self.compliance.plans.insert(
            (b.org.clone(), b.year),
            Plan {
                seq: self.size,
                at: p.header.at,
                lines: b.lines,
            },
        );
        Ok(Outcome::touching(Touched::Org(b.org)))
    }

    /// `declaration.filed`.
    pub(super) fn declaration_filed(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_role(&p.header.actor, Role::Generator)?;
        let b: DeclarationFiled = body(p.body())?;
        if b.org != p.header.actor {
            return reject(Code::Forbidden, "a unit files only its own declaration");
        }
        let period = Period::parse(&b.period).ok_or_else(|| {
            Rejection::new(
                Code::InvalidEvent,
                format!("period {:?} is not YYYY-MM, YYYY-Qn or YYYY", b.period),
            )
        })?;
        if p.header.at < time::cst_day_start(period.end()) {
            return reject(
                Code::BadDate,
                format!(
                    "the period {period} ends at {} 00:00 CST; a declaration for it is filed after that",
                    time::format_date(period.end())
                ),
            );
        }
        let report = self.compliance.report(&b.org, &period);
        if report.sha256 != b.report_sha256 {
            return reject(
                Code::ReportMismatch,
                format!(
                    "the report of {} for {period} on the entries before this one hashes to {}",
                    b.org, report.sha256
                ),
            );
        }
        self.compliance.declarations.insert(
            (b.org.clone(), period),
            Declaration {
                seq: self.size,
                at: p.header.at,
                report_sha256: b.report_sha256,
            },
        );
        Ok(Outcome::touching(Touched::Org(b.org)))
    }

    /// The class of `org` for CST year `year` (§6 Management class), judged on the entries
    /// recorded up to 1 April of the next year, or on those so far if that is later.
    pub fn class_of(&self, org: &str, year: i32) -> ClassOf {
        self.class_with(org, year, &self.treaters())
    }

    /// [`State::class_of`] for several orgs at once (a page of the registry).
    pub fn classes_of<'a>(
        &self,
        orgs: impl IntoIterator<Item = &'a str>,
        year: i32,
    ) -> Vec<ClassOf> {
        let treaters = self.treaters();
        orgs.into_iter()
            .map(|o| self.class_with(o, year, &treaters))
            .collect()
    }

    fn class_with(&self, org: &str, year: i32, treaters: &HashSet<&str>) -> ClassOf {
        if let Some(c) = self.compliance.frozen.get(&(org.to_owned(), year)) {
            return *c;
        }
        self.class_now(org, year, treaters)
    }

    /// The orgs holding an active utilize or dispose facility.
    fn treaters(&self) -> HashSet<&str> {
        self.facilities
            .values()
            .filter(|f| {
                f.status == FacilityStatus::Active
                    && matches!(f.kind, FacilityKind::Utilize | FacilityKind::Dispose)
            })
            .map(|f| f.org.as_str())
            .collect()
    }

    fn class_now(&self, org: &str, year: i32, treaters: &HashSet<&str>) -> ClassOf {
        if let Some(Some(class)) = self.compliance.class_set.get(org) {
            return ClassOf {
                class: *class,
                set: true,
            };
        }
        let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("a year");
        let last = NaiveDate::from_ymd_opt(year, 12, 31).expect("a year");
        let treats = treaters.contains(org);
        let licensed = self.licences_of(org).any(|l| {
            l.status != LicenceStatus::Revoked && l.valid_from <= last && l.valid_until >= first
        });
        let most = (1..=3)
            .map(|back| {
                self.compliance
                    .declared_year
                    .get(&(org.to_owned(), year - back))
                    .copied()
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        let class = if treats || licensed || most >= KEY_FROM_G {
            MgmtClass::Key
        } else if most >= SIMPLIFIED_FROM_G {
            MgmtClass::Simplified
        } else {
            MgmtClass::Registered
        };
        ClassOf { class, set: false }
    }

    /// Folds a new lot of `waste.declared` into the books.
    pub(super) fn book_generated(&mut self, org: &str, code: &str, date: NaiveDate, q: i64) {
        let c = &mut self.compliance;
        c.book(org, code).generated.add(date, q);
        let year = date.year();
        *c.declared_year.entry((org.to_owned(), year)).or_insert(0) += q;
        *c.declared_code_year
            .entry((org.to_owned(), year, code.to_owned()))
            .or_insert(0) += q;
        c.declarers.entry(year).or_default().insert(org.to_owned());
    }

    /// Folds an on-site treatment into the books.
    pub(super) fn book_treated(
        &mut self,
        org: &str,
        code: &str,
        date: NaiveDate,
        method: &str,
        q: i64,
    ) {
        let b = self.compliance.book(org, code);
        b.treated.add(date, q);
        bump(&mut b.treated_by, (date, method.to_owned()), q);
    }

    /// Folds a pickup (`sign` 1) or a rejection after it (`sign` −1) into the books: the parts
    /// taken from the opener's lots of `waste.declared`, each dated max(the pickup's CST date,
    /// its lot's date).
    pub(super) fn book_transferred(&mut self, id: &Uuid, sign: i64) {
        let Some(m) = self.manifests.get(id) else {
            return;
        };
        let Some(picked_up) = m.picked_up_at else {
            return;
        };
        let receiver = m.receiver.clone();
        let day = time::cst_date(picked_up);
        let year = time::cst_year(picked_up);
        let mut moves = Vec::new();
        for l in &m.lines {
            for (key, q) in &l.lots {
                let Some(lot) = self.lots.get(key).filter(|lot| lot.origin.is_none()) else {
                    continue;
                };
                moves.push((
                    lot.generator.clone(),
                    l.code.clone(),
                    day.max(lot.date),
                    l.licence.clone().unwrap_or_default(),
                    *q,
                ));
            }
        }
        for (org, code, date, licence, q) in moves {
            let q = sign * q;
            let b = self.compliance.book(&org, &code);
            b.transferred.add(date, q);
            bump(&mut b.transferred_by, (date, receiver.clone(), licence), q);
            let key = (org, year, code, receiver.clone());
            let v = self.compliance.shipped.entry(key.clone()).or_insert(0);
            *v += q;
            if *v == 0 {
                self.compliance.shipped.remove(&key);
            }
        }
    }

    /// Whether compliance concerns a year or period beginning on `start` (§7).
    fn concerns(limits: &Limits, start: NaiveDate) -> bool {
        limits.compliance_from.is_some_and(|from| start >= from)
    }

    /// Grams of an opening's lines that take from lots of `waste.declared` and are not planned
    /// (§6 Plans), when that opening calls for `unplanned_transfer`; judged on the entries
    /// before the opening.
    pub(super) fn unplanned_g(&self, m: &Manifest) -> Option<i64> {
        let limits = self.limits();
        let year = time::cst_year(m.opened_at);
        if !Self::concerns(&limits, NaiveDate::from_ymd_opt(year, 1, 1)?) {
            return None;
        }
        let plan = self.compliance.plan_in_force(&m.generator, m.opened_at);
        let grams: i64 = m
            .lines
            .iter()
            .filter(|l| !plan.is_some_and(|p| p.plans_transfer(&l.code, &m.receiver)))
            .map(|l| {
                l.lots
                    .iter()
                    .filter(|(k, _)| self.lots.get(k).is_some_and(|lot| lot.origin.is_none()))
                    .map(|(_, q)| q)
                    .sum::<i64>()
            })
            .sum();
        (grams > 0).then_some(grams)
    }

    /// The compliance tickets an accepted entry calls for at once, in §7's row order then by
    /// subject key (`disposal_short` first, then `unplanned_transfer`, then `plan_exceeded`).
    pub(super) fn compliance_caused(&self, p: &Prepared) -> (Vec<AutoTicket>, Vec<AutoTicket>) {
        let limits = self.limits();
        let mut early = Vec::new();
        let mut late = Vec::new();
        if !limits.compliance_on() {
            return (early, late);
        }
        let b = p.body();
        let at = p.header.at;
        let manifest = b["manifest"]
            .as_str()
            .and_then(|m| Uuid::parse_str(m).ok())
            .and_then(|m| self.manifests.get(&m));
        match (p.header.kind.as_str(), manifest) {
            ("manifest.disposed", Some(m)) => {
                let from = limits.compliance_from.map(time::cst_day_start);
                let short: i64 = m
                    .lines
                    .iter()
                    .map(|l| (l.counted_g().unwrap_or(0) - l.disposed_g.unwrap_or(0)).max(0))
                    .sum();
                if short > 0 && from.is_some_and(|f| at >= f) {
                    early.push(self.auto_ticket(
                        Kind::DisposalShort,
                        &format!("{}:disposal", m.id),
                        json!({"manifest": m.id.to_string()}),
                        at,
                        Some(short),
                        format!("联单{}利用处置量少于接收量{short}克", m.number),
                    ));
                }
            }
            ("manifest.opened", Some(m)) => {
                if let Some(q) = m.unplanned_g {
                    late.push(self.auto_ticket(
                        Kind::UnplannedTransfer,
                        &m.id.to_string(),
                        json!({"manifest": m.id.to_string()}),
                        at,
                        Some(q),
                        format!(
                            "联单{}的转移未列入{}的管理计划（接收单位{}）",
                            m.number, m.generator, m.receiver
                        ),
                    ));
                }
            }
            ("waste.declared", _) => {
                let (Some(org), Some(code), Some(date)) = (
                    b["generator"].as_str(),
                    b["code"].as_str(),
                    b["date"].as_str().and_then(|d| time::parse_date(d).ok()),
                ) else {
                    return (early, late);
                };
                late.extend(self.plan_exceeded(org, date.year(), code, at));
            }
            ("plan.filed", _) => {
                let (Some(org), Some(year)) = (b["org"].as_str(), b["year"].as_i64()) else {
                    return (early, late);
                };
                let year = year as i32;
                let codes: Vec<String> = self
                    .compliance
                    .books
                    .get(org)
                    .map(|c| c.keys().cloned().collect())
                    .unwrap_or_default();
                for code in codes {
                    late.extend(self.plan_exceeded(org, year, &code, at));
                }
            }
            _ => {}
        }
        let fresh = |t: &AutoTicket| !self.tickets.contains_key(&t.id);
        early.retain(fresh);
        late.retain(fresh);
        (early, late)
    }

    /// `plan_exceeded` for (org, year, code) after an entry dated `at`, if it holds.
    fn plan_exceeded(&self, org: &str, year: i32, code: &str, at: Timestamp) -> Option<AutoTicket> {
        let limits = self.limits();
        if !Self::concerns(&limits, NaiveDate::from_ymd_opt(year, 1, 1)?) {
            return None;
        }
        let plan = self.compliance.plans.get(&(org.to_owned(), year))?;
        let planned = plan.line(code).map_or(0, |l| l.generate_g);
        let declared = self.compliance.declared_in(org, year, code);
        let over = i128::from(declared) * 10_000
            > i128::from(planned) * i128::from(10_000 + limits.plan_excess());
        over.then(|| {
            self.auto_ticket(
                Kind::PlanExceeded,
                &format!("{org}:{year}:{code}"),
                json!({"org": org, "year": year, "code": code}),
                at,
                Some(declared - planned),
                format!("{org}在{year}年申报的{code}为{declared}克，超出管理计划产生量{planned}克"),
            )
        })
    }

    fn auto_ticket(
        &self,
        kind: Kind,
        key: &str,
        subject: Value,
        at: Timestamp,
        quantity_g: Option<i64>,
        summary: String,
    ) -> AutoTicket {
        AutoTicket {
            id: ticket_id(kind.as_str(), key),
            kind,
            subject,
            at,
            quantity_g: quantity_g.unwrap_or(0),
            summary,
        }
    }

    /// The tickets due moment `d` calls for (§7 `plan_missing`, `declaration_overdue`), judged
    /// on the entries so far, which must be those recorded up to `d`.
    pub fn tickets_due_at(&self, d: Timestamp) -> Vec<AutoTicket> {
        let mut out = Vec::new();
        if !self.limits().compliance_on() {
            return out;
        }
        let day = time::cst_date(d);
        if day.month() == 4 && day.day() == 1 && time::cst_day_start(day) == d {
            let year = day.year();
            let mut orgs: BTreeSet<&String> = BTreeSet::new();
            for y in [year - 1, year] {
                orgs.extend(self.compliance.declarers.get(&y).into_iter().flatten());
            }
            out.extend(
                orgs.into_iter()
                    .filter_map(|org| self.plan_missing(org, year)),
            );
        }
        let treaters = self.treaters();
        for period in periods_due_at(d) {
            out.extend(
                self.compliance
                    .books
                    .keys()
                    .filter_map(|org| self.declaration_overdue(org, period, &treaters)),
            );
        }
        out.sort_by_key(|t| (t.kind, subject_key_of(t)));
        out.retain(|t| !self.tickets.contains_key(&t.id));
        out
    }

    /// `plan_missing` for (org, year), judged on the entries so far as at its due moment.
    fn plan_missing(&self, org: &str, year: i32) -> Option<AutoTicket> {
        let limits = self.limits();
        let d = time::cst_day_start(NaiveDate::from_ymd_opt(year, 4, 1)?);
        let declared = |y: i32| {
            self.compliance
                .declared_year
                .get(&(org.to_owned(), y))
                .is_some_and(|q| *q > 0)
        };
        let holds = Self::concerns(&limits, NaiveDate::from_ymd_opt(year, 1, 1)?)
            && self.orgs.get(org).is_some_and(|o| o.has(Role::Generator))
            && (declared(year - 1) || declared(year))
            && !self.compliance.plans.contains_key(&(org.to_owned(), year));
        holds.then(|| {
            self.auto_ticket(
                Kind::PlanMissing,
                &format!("{org}:{year}"),
                json!({"org": org, "year": year}),
                d,
                None,
                format!("{org}未在{year}年3月31日前备案{year}年度管理计划"),
            )
        })
    }

    /// `declaration_overdue` for (org, period), judged on the entries so far as at its due
    /// moment.
    fn declaration_overdue(
        &self,
        org: &str,
        period: Period,
        treaters: &HashSet<&str>,
    ) -> Option<AutoTicket> {
        let holds = Self::concerns(&self.limits(), period.start())
            && self.orgs.get(org).is_some_and(|o| o.has(Role::Generator))
            && !self
                .compliance
                .declarations
                .contains_key(&(org.to_owned(), period))
            && self
                .class_with(org, period.year, treaters)
                .class
                .declares(period.kind)
            && self
                .compliance
                .report_has_line(org, period.start(), period.end());
        holds.then(|| {
            let text = period.to_string();
            self.auto_ticket(
                Kind::DeclarationOverdue,
                &format!("{org}:{text}"),
                json!({"org": org, "period": text}),
                period.due(),
                None,
                format!("{org}未按期申报{text}的危险废物产生、利用处置、转移和贮存情况"),
            )
        })
    }

    /// Whether due moment `d` has passed by `now` and is not settled yet: only then may its
    /// tickets be appended.
    fn due_open(&self, d: Timestamp, now: Timestamp) -> bool {
        self.compliance.due_next.is_some_and(|next| d >= next) && d < now
    }

    /// The due ticket with this subject key, if the entries call for it now: its due moment
    /// has passed and is not settled, and its condition holds.
    fn expected_due(&self, kind: Kind, key: &str, now: Timestamp) -> Option<AutoTicket> {
        let (org, rest) = key.rsplit_once(':')?;
        let t = match kind {
            Kind::PlanMissing => {
                let year: i32 = rest.parse().ok()?;
                if year.to_string() != rest || !self.limits().compliance_on() {
                    return None;
                }
                self.plan_missing(org, year)?
            }
            _ => {
                let period = Period::parse(rest)?;
                if !self.limits().compliance_on() {
                    return None;
                }
                self.declaration_overdue(org, period, &self.treaters())?
            }
        };
        self.due_open(t.at, now).then_some(t)
    }

    /// The due tickets of every due moment before `now` not yet settled and not yet in the
    /// ledger, in order of due moment.
    pub fn due_tickets(&self, now: Timestamp) -> Vec<AutoTicket> {
        let mut out = Vec::new();
        let mut d = self.compliance.due_next;
        while let Some(due) = d.filter(|due| *due < now) {
            out.extend(self.tickets_due_at(due));
            d = Some(next_due_after(due));
        }
        out
    }

    /// Before an entry recorded at `now` that is not an automatic ticket: every due moment
    /// before `now` must have its tickets in the ledger; then the classes of a year whose due
    /// moment passed are fixed, and the moment is settled.
    pub(super) fn settle_due(&mut self, now: Timestamp) -> Result<(), Rejection> {
        let Some(mut due) = self.compliance.due_next else {
            self.compliance.due_next = Some(next_due_after(now));
            return Ok(());
        };
        while due < now {
            if let Some(missing) = self.tickets_due_at(due).first() {
                return reject(
                    Code::Forbidden,
                    format!(
                        "the ledger's {} ticket {} for the due moment {} must come before any later entry",
                        missing.kind.as_str(),
                        missing.id,
                        time::format_timestamp(due)
                    ),
                );
            }
            let day = time::cst_date(due);
            if day.month() == 4 && day.day() == 1 {
                let year = day.year() - 1;
                let generators: Vec<String> = self
                    .orgs
                    .values()
                    .filter(|o| o.has(Role::Generator))
                    .map(|o| o.org.clone())
                    .collect();
                let treaters: HashSet<String> =
                    self.treaters().into_iter().map(str::to_owned).collect();
                let treaters: HashSet<&str> = treaters.iter().map(String::as_str).collect();
                for org in generators {
                    let c = self.class_now(&org, year, &treaters);
                    self.compliance.frozen.insert((org, year), c);
                }
            }
            due = next_due_after(due);
            self.compliance.due_next = Some(due);
        }
        Ok(())
    }

    /// After a sweep appended the due tickets of every due moment before `now`: settles those
    /// moments at once, as the next entry would, so that reads and later rounds do not judge
    /// every unit again until then. Settling is a function of the state and the time, and only
    /// automatic tickets can come between, so a replay that settles at the next entry reaches
    /// the same state. A moment whose tickets are not all in the ledger stays unsettled.
    pub fn settle_swept(&mut self, now: Timestamp) {
        if self.compliance.due_next.is_some() {
            let _ = self.settle_due(now);
        }
    }

    /// Records a compliance ticket the ledger opened, for `compliance_by_kind`.
    pub(super) fn note_arisen(&mut self, id: Uuid, kind: Kind, subject: &Value, at: Timestamp) {
        let org = match subject["org"].as_str() {
            Some(o) => o.to_owned(),
            None => subject["manifest"]
                .as_str()
                .and_then(|m| Uuid::parse_str(m).ok())
                .and_then(|m| self.manifests.get(&m))
                .map(|m| m.generator.clone())
                .unwrap_or_default(),
        };
        self.compliance.arisen.insert(
            id,
            Arisen {
                kind,
                at,
                org,
                code: subject["code"].as_str().map(str::to_owned),
            },
        );
    }

    /// The compliance conditions of the new kinds that have arisen by `t`: those ticketed, and
    /// those of due moments passed but not yet settled.
    pub fn compliance_arisen(&self, t: Timestamp) -> Vec<Arisen> {
        let mut out: Vec<Arisen> = self
            .compliance
            .arisen
            .values()
            .filter(|a| a.at <= t)
            .cloned()
            .collect();
        for ticket in self.due_tickets(t) {
            out.push(Arisen {
                kind: ticket.kind,
                at: ticket.at,
                org: ticket.subject["org"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                code: None,
            });
        }
        out
    }

    /// Whether an automatic ticket of a kind of this module is one the entries call for now.
    pub(super) fn expected_compliance(
        &self,
        kind: Kind,
        key: &str,
        now: Timestamp,
    ) -> Option<AutoTicket> {
        match kind {
            Kind::PlanMissing | Kind::DeclarationOverdue => self.expected_due(kind, key, now),
            _ => {
                let id = ticket_id(kind.as_str(), key);
                self.compliance.caused.iter().find(|t| t.id == id).cloned()
            }
        }
    }

    /// A catalogue code known to `edition` (`unknown_waste_code`).
    fn known_code_in(&self, edition: Edition, code: &str) -> Result<(), Rejection> {
        let known = super::ids::WasteCode::parse(code)
            .ok()
            .is_some_and(|c| super::catalogue::lookup(edition, c.as_str()).is_some());
        if known {
            Ok(())
        } else {
            reject(
                Code::UnknownWasteCode,
                format!("{code} is not in the {} catalogue", edition.name()),
            )
        }
    }
}

/// The subject key of a ticket this module opens.
fn subject_key_of(t: &AutoTicket) -> String {
    match t.kind {
        Kind::PlanMissing => format!(
            "{}:{}",
            t.subject["org"].as_str().unwrap_or_default(),
            t.subject["year"]
        ),
        Kind::DeclarationOverdue => format!(
            "{}:{}",
            t.subject["org"].as_str().unwrap_or_default(),
            t.subject["period"].as_str().unwrap_or_default()
        ),
        _ => t.id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        time::parse_timestamp(s).unwrap()
    }

    #[test]
    fn periods_parse_and_print_as_written() {
        for s in ["2026-01", "2026-12", "2026-Q1", "2026-Q4", "2026"] {
            assert_eq!(Period::parse(s).unwrap().to_string(), s);
        }
        for s in [
            "2026-13", "2026-00", "2026-Q5", "2026-Q0", "26", "2026-1", "0000", "2026Q1",
        ] {
            assert!(Period::parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn due_moments_are_the_16th_and_1_april_at_cst_midnight() {
        // 2027-02-15T16:00:00Z is 2027-02-16 00:00 CST.
        assert_eq!(
            Period::parse("2027-01").unwrap().due(),
            ts("2027-02-15T16:00:00Z")
        );
        assert_eq!(
            Period::parse("2026-Q4").unwrap().due(),
            ts("2027-01-15T16:00:00Z")
        );
        assert_eq!(
            Period::parse("2026").unwrap().due(),
            ts("2027-03-31T16:00:00Z")
        );
        assert_eq!(
            next_due_after(ts("2027-02-15T15:59:59Z")),
            ts("2027-02-15T16:00:00Z")
        );
        assert_eq!(
            next_due_after(ts("2027-02-15T16:00:00Z")),
            ts("2027-03-15T16:00:00Z")
        );
        assert_eq!(
            next_due_after(ts("2027-03-16T00:00:00Z")),
            ts("2027-03-31T16:00:00Z")
        );
        assert_eq!(
            next_due_after(ts("2027-03-31T16:00:00Z")),
            ts("2027-04-15T16:00:00Z")
        );
        assert_eq!(
            periods_due_at(ts("2027-01-15T16:00:00Z")),
            vec![Period::month(2026, 12), Period::quarter(2026, 4)]
        );
        assert_eq!(
            periods_due_at(ts("2027-03-31T16:00:00Z")),
            vec![Period::year(2026)]
        );
        assert_eq!(
            periods_due_at(ts("2027-03-15T16:00:00Z")),
            vec![Period::month(2027, 2)]
        );
    }

    #[test]
    fn day_sums_answer_from_either_end() {
        let mut s = DaySums::default();
        let d = |m, day| NaiveDate::from_ymd_opt(2027, m, day).unwrap();
        s.add(d(1, 5), 10);
        s.add(d(3, 1), 20);
        s.add(d(12, 30), 40);
        assert_eq!(s.before(d(1, 5)), 0);
        assert_eq!(s.before(d(1, 6)), 10);
        assert_eq!(s.before(d(12, 30)), 30);
        assert_eq!(s.before(d(12, 31)), 70);
        assert_eq!(s.range(d(2, 1), d(12, 31)), 60);
        s.add(d(3, 1), -20);
        assert_eq!(s.before(d(12, 30)), 10);
    }
}
