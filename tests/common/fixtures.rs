//! Licences, declarations and manifests for the integration tests: small helpers that sign as
//! the right party and assert that the event was appended, and a [`Scene`] with a generator, a
//! carrier and a licensed receiver.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::harness::*;
use hwledger::protocol::time;

/// Waste codes of the 2025 catalogue used throughout.
pub const OIL: &str = "900-249-08"; // HW08
pub const OIL2: &str = "900-214-08"; // HW08
pub const PACKAGING: &str = "900-041-49"; // HW49
pub const FLY_ASH: &str = "772-002-18"; // HW18
/// In the 2021 edition only.
pub const ONLY_2021: &str = "336-100-21";
/// In the 2025 edition only.
pub const ONLY_2025: &str = "900-054-29";

/// Regions: two districts of Changzhou (city 3204) and one of Nanjing (city 3201).
pub const ZHONGLOU: &str = "320404";
pub const XINBEI: &str = "320411";
pub const GULOU_NJ: &str = "320106";

pub const ALL_ACTIVITIES: &[&str] = &["collect", "store", "utilize", "dispose"];

// ----- time -------------------------------------------------------------------------------

/// An instant as an event timestamp.
pub fn ts(t: DateTime<Utc>) -> String {
    time::format_timestamp(time::truncate_millis(t))
}

/// The CST date of an instant.
pub fn cst(t: DateTime<Utc>) -> NaiveDate {
    time::cst_date(t)
}

pub fn cst_today() -> NaiveDate {
    cst(Utc::now())
}

pub fn date(d: NaiveDate) -> String {
    time::format_date(d)
}

/// The CST date `n` days from today, as text.
pub fn cst_day(n: i64) -> String {
    date(cst_today() + Duration::days(n))
}

/// The latest instant at `hour`:00:00 UTC that is at least `margin_s` seconds ago.
pub fn last_utc_hour(hour: u32, margin_s: i64) -> DateTime<Utc> {
    let limit = Utc::now() - Duration::seconds(margin_s);
    let mut t = limit
        .date_naive()
        .and_hms_opt(hour, 0, 0)
        .expect("an hour")
        .and_utc();
    if t > limit {
        t -= Duration::days(1);
    }
    t
}

// ----- posting ----------------------------------------------------------------------------

/// An unsigned event with a fresh id and the given `at`.
pub fn event_at(actor: &str, kind: &str, body: Value, at: &str) -> Value {
    let mut e = event(actor, kind, body);
    e["at"] = json!(at);
    e
}

/// Signs and posts an event dated `at`.
pub async fn submit_at(
    l: &TestLedger,
    actor: &Actor,
    kind: &str,
    body: Value,
    at: &str,
) -> (StatusCode, Value) {
    l.post(&sign(&event_at(&actor.org, kind, body, at), &actor.key))
        .await
}

/// Like [`submit_at`], asserting that the event was appended.
pub async fn ok_at(l: &TestLedger, actor: &Actor, kind: &str, body: Value, at: &str) -> Value {
    let (s, v) = submit_at(l, actor, kind, body, at).await;
    assert_eq!(s, StatusCode::CREATED, "{kind} at {at} refused: {v}");
    v
}

/// Asserts that an answer is the problem `status`/`code` and that the ledger did not grow.
pub async fn assert_refused(
    l: &TestLedger,
    size_before: u64,
    answer: (StatusCode, Value),
    status: u16,
    code: &str,
    what: &str,
) {
    assert_eq!(
        (answer.0.as_u16(), answer.1["code"].as_str().unwrap_or("")),
        (status, code),
        "{what}: unexpected answer {}",
        answer.1
    );
    assert_eq!(
        l.size().await,
        size_before,
        "{what}: nothing may be appended after {code}"
    );
}

/// Submits (dated now) and asserts the refusal and that nothing was appended.
pub async fn refused(
    l: &TestLedger,
    actor: &Actor,
    kind: &str,
    body: Value,
    status: u16,
    code: &str,
) {
    let before = l.size().await;
    let answer = l.submit(actor, kind, body.clone()).await;
    assert_refused(l, before, answer, status, code, &format!("{kind} {body}")).await;
}

/// Like [`refused`], dated `at`.
pub async fn refused_at(
    l: &TestLedger,
    actor: &Actor,
    kind: &str,
    body: Value,
    at: &str,
    status: u16,
    code: &str,
) {
    let before = l.size().await;
    let answer = submit_at(l, actor, kind, body.clone(), at).await;
    assert_refused(
        l,
        before,
        answer,
        status,
        code,
        &format!("{kind} at {at} {body}"),
    )
    .await;
}

/// The seq of an appended entry.
pub fn seq(entry: &Value) -> u64 {
    entry["seq"].as_u64().expect("an entry with a seq")
}

// ----- licences ---------------------------------------------------------------------------

pub fn scope(codes: &[&str], activities: &[&str]) -> Value {
    json!({"codes": codes, "activities": activities})
}

pub fn licence_body(
    number: &str,
    holder: &Actor,
    capacity_g: i64,
    valid_from: &str,
    valid_until: &str,
    scopes: Value,
) -> Value {
    json!({"license": number, "holder": holder.org, "capacity_g": capacity_g,
           "valid_from": valid_from, "valid_until": valid_until, "scopes": scopes})
}

/// Issues a licence valid from a year ago to a year ahead (CST dates).
pub async fn issue_licence(
    l: &TestLedger,
    holder: &Actor,
    number: &str,
    capacity_g: i64,
    scopes: Value,
) -> Value {
    issue_licence_valid(
        l,
        holder,
        number,
        capacity_g,
        &cst_day(-365),
        &cst_day(365),
        scopes,
    )
    .await
}

pub async fn issue_licence_valid(
    l: &TestLedger,
    holder: &Actor,
    number: &str,
    capacity_g: i64,
    valid_from: &str,
    valid_until: &str,
    scopes: Value,
) -> Value {
    l.ok(
        &l.regulator,
        "license.issued",
        licence_body(number, holder, capacity_g, valid_from, valid_until, scopes),
    )
    .await
}

/// `license.suspended`, `license.reinstated` or `license.revoked` by the regulator.
pub async fn licence_move(l: &TestLedger, kind: &str, number: &str) -> (StatusCode, Value) {
    l.submit(
        &l.regulator,
        kind,
        json!({"license": number, "reason": "检查"}),
    )
    .await
}

// ----- stock and manifests ----------------------------------------------------------------

/// The id (HJ 1276) of container `serial` of `org`'s lot of `code` packed on the CST date `date`.
pub fn container_id(org: &Actor, code: &str, date: &str, serial: u32) -> String {
    format!(
        "{}{}{}{serial:03}",
        org.org,
        code.replace('-', ""),
        date.replace('-', "")
    )
}

pub fn declare_body(gen: &Actor, code: &str, quantity_g: i64, date: &str) -> Value {
    json!({"generator": gen.org, "code": code, "quantity_g": quantity_g, "date": date})
}

/// Declares a lot dated `date`; returns its seq.
pub async fn declare(l: &TestLedger, gen: &Actor, code: &str, quantity_g: i64, date: &str) -> u64 {
    seq(&l
        .ok(
            gen,
            "waste.declared",
            declare_body(gen, code, quantity_g, date),
        )
        .await)
}

pub fn lines(lines: &[(&str, i64)]) -> Value {
    Value::Array(
        lines
            .iter()
            .map(|(c, q)| json!({"code": c, "quantity_g": q}))
            .collect(),
    )
}

pub fn open_body(
    id: &str,
    gen: &Actor,
    carrier: &Actor,
    receiver: &Actor,
    l: &[(&str, i64)],
) -> Value {
    json!({"manifest": id, "generator": gen.org, "carrier": carrier.org,
           "receiver": receiver.org, "lines": lines(l)})
}

pub fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// Opens a manifest; returns its id.
pub async fn open(
    l: &TestLedger,
    gen: &Actor,
    carrier: &Actor,
    receiver: &Actor,
    ls: &[(&str, i64)],
) -> String {
    let id = new_id();
    l.ok(
        gen,
        "manifest.opened",
        open_body(&id, gen, carrier, receiver, ls),
    )
    .await;
    id
}

pub async fn cancel(l: &TestLedger, gen: &Actor, m: &str) -> Value {
    l.ok(
        gen,
        "manifest.cancelled",
        json!({"manifest": m, "reason": "改期"}),
    )
    .await
}

pub fn pick_up_body(m: &str) -> Value {
    json!({"manifest": m, "vehicle": "苏D·A1234"})
}

pub async fn pick_up(l: &TestLedger, carrier: &Actor, m: &str) -> Value {
    l.ok(carrier, "manifest.picked_up", pick_up_body(m)).await
}

pub fn receive_body(m: &str, ls: &[(&str, i64)]) -> Value {
    json!({"manifest": m, "lines": lines(ls)})
}

pub async fn receive(l: &TestLedger, receiver: &Actor, m: &str, ls: &[(&str, i64)]) -> Value {
    l.ok(receiver, "manifest.received", receive_body(m, ls))
        .await
}

pub async fn reject(l: &TestLedger, receiver: &Actor, m: &str) -> Value {
    l.ok(
        receiver,
        "manifest.rejected",
        json!({"manifest": m, "reason": "包装破损"}),
    )
    .await
}

pub fn dispose_body(m: &str, ls: &[(&str, i64, &str)]) -> Value {
    json!({"manifest": m, "lines": ls.iter().map(|(c, q, method)| json!({"code": c, "quantity_g": q, "method": method})).collect::<Vec<_>>()})
}

pub async fn dispose(l: &TestLedger, receiver: &Actor, m: &str, ls: &[(&str, i64, &str)]) -> Value {
    l.ok(receiver, "manifest.disposed", dispose_body(m, ls))
        .await
}

// ----- reads ------------------------------------------------------------------------------

pub async fn manifest(l: &TestLedger, id_or_number: &str) -> Value {
    let (s, v) = l.get(&format!("/v1/manifests/{id_or_number}")).await;
    assert_eq!(s, StatusCode::OK, "GET manifest {id_or_number}: {v}");
    v
}

pub async fn status(l: &TestLedger, m: &str) -> String {
    manifest(l, m).await["status"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The lots of a generator (with `all=true`: also the empty ones), by seq.
pub async fn stock(l: &TestLedger, gen: &Actor, all: bool) -> Vec<Value> {
    let path = format!(
        "/v1/stock?generator={}{}",
        gen.org,
        if all { "&all=true" } else { "" }
    );
    let (s, v) = l.get(&path).await;
    assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
    assert_eq!(v["generator"], gen.org.as_str());
    v["lots"].as_array().cloned().unwrap_or_default()
}

/// (remaining_g, reserved_g) of the lot declared at `seq`, or None when it is not listed.
pub async fn lot(l: &TestLedger, gen: &Actor, seq: u64, all: bool) -> Option<(i64, i64)> {
    stock(l, gen, all)
        .await
        .into_iter()
        .find(|lot| lot["seq"] == seq)
        .map(|lot| {
            (
                lot["remaining_g"].as_i64().expect("remaining_g"),
                lot["reserved_g"].as_i64().expect("reserved_g"),
            )
        })
}

/// Runs `hwledger verify --db` on the test's database: (success, output).
pub async fn verify_db(l: &TestLedger) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hwledger"))
        .args([
            "verify",
            "--db",
            &l.db.url,
            "--ledger-key",
            &l.ledger_public(),
        ])
        .output()
        .await
        .expect("hwledger runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

// ----- a scene ----------------------------------------------------------------------------

/// A generator (Zhonglou), a carrier and a receiver licensed for HW08 and HW49 (every
/// activity) with `capacity_g`, registered by the genesis regulator as orgs `base`..`base+2`.
pub struct Scene {
    pub gen: Actor,
    pub carrier: Actor,
    pub receiver: Actor,
    pub licence: String,
}

impl Scene {
    pub async fn new(l: &TestLedger, base: u64) -> Scene {
        Scene::with_capacity(l, base, 1_000_000_000).await
    }

    pub async fn with_capacity(l: &TestLedger, base: u64, capacity_g: i64) -> Scene {
        let gen = l.register(base, &["generator"], ZHONGLOU).await;
        let carrier = l.register(base + 1, &["carrier"], ZHONGLOU).await;
        let receiver = l.register(base + 2, &["receiver"], "320400").await;
        let licence = format!("JSCZ-{base}");
        issue_licence(
            l,
            &receiver,
            &licence,
            capacity_g,
            json!([scope(&["HW08", PACKAGING], ALL_ACTIVITIES)]),
        )
        .await;
        Scene {
            gen,
            carrier,
            receiver,
            licence,
        }
    }

    /// Declares a lot dated today (CST) at the generator; returns its seq.
    pub async fn declare(&self, l: &TestLedger, code: &str, quantity_g: i64) -> u64 {
        declare(l, &self.gen, code, quantity_g, &cst_day(0)).await
    }

    pub async fn open(&self, l: &TestLedger, ls: &[(&str, i64)]) -> String {
        open(l, &self.gen, &self.carrier, &self.receiver, ls).await
    }

    pub fn open_body(&self, id: &str, ls: &[(&str, i64)]) -> Value {
        open_body(id, &self.gen, &self.carrier, &self.receiver, ls)
    }
}

/// Runs one statement on the test's database, behind the service's back.
pub async fn tamper(l: &TestLedger, b: Backend, sql: &str) {
    use sqlx::Connection;
    match b {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&l.db.url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&l.db.url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
}
