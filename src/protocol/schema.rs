//! Step 1 of §3: the shape of an envelope, its event and the body for the event's type, checked
//! against the JSON Schemas in `schemas/`, which are embedded so validation never touches the
//! network or the file system.
//!
//! Two shape rules JSON Schema cannot state are checked here too, so that every shape failure is
//! one answer (`invalid_event`): numbers written with a fraction or exponent (§1), and the
//! distinct line codes of `manifest.opened` (§6).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use jsonschema::{Draft, Resource, Validator};
use serde_json::Value;

/// The base every schema's `$id` lives under; relative `$ref`s resolve against it.
const BASE_URI: &str = "https://hwledger.local/schemas/";

/// Longest value quoted in a message; a longer one is called "the value", since a client may
/// send a megabyte of it.
const MAX_QUOTED: usize = 80;

/// Longest message returned, enough to list every event type when an unknown one is refused.
const MAX_MESSAGE: usize = 1000;

macro_rules! event_types {
    ($($t:literal),* $(,)?) => {
        /// Every event type of §6, in the order the spec lists them.
        pub const EVENT_TYPES: &[&str] = &[$($t),*];

        static DOCUMENTS: &[(&str, &str)] = &[
            ("defs.schema.json", include_str!("../../schemas/defs.schema.json")),
            ("envelope.schema.json", include_str!("../../schemas/envelope.schema.json")),
            $((
                concat!("events/", $t, ".schema.json"),
                include_str!(concat!("../../schemas/events/", $t, ".schema.json")),
            )),*
        ];
    };
}

event_types!(
    "ledger.genesis",
    "ledger.limits_set",
    "ledger.witnesses_set",
    "org.registered",
    "org.key_added",
    "org.key_revoked",
    "org.class_set",
    "license.issued",
    "license.amended",
    "license.suspended",
    "license.reinstated",
    "license.revoked",
    "facility.registered",
    "facility.amended",
    "facility.closed",
    "waste.declared",
    "waste.treated",
    "manifest.opened",
    "manifest.cancelled",
    "manifest.picked_up",
    "manifest.received",
    "manifest.rejected",
    "manifest.disposed",
    "manifest.stored",
    "plan.filed",
    "declaration.filed",
    "ticket.opened",
    "ticket.assigned",
    "ticket.rectified",
    "ticket.returned",
    "ticket.closed",
    "ticket.reopened",
);

/// The raw schema documents, for serving or docs: (path relative to `schemas/`, JSON text).
pub fn documents() -> &'static [(&'static str, &'static str)] {
    DOCUMENTS
}

struct Validators {
    envelope: Validator,
    bodies: HashMap<&'static str, Validator>,
}

/// Compiled once: building a validator resolves every `$ref` and compiles every pattern, which
/// costs far more than a validation.
static VALIDATORS: LazyLock<Validators> = LazyLock::new(compile);

/// The documents are part of the binary and covered by tests, so a failure here is a build
/// defect, not a run-time condition to recover from.
fn compile() -> Validators {
    let mut options = jsonschema::options().with_draft(Draft::Draft202012);
    for (path, text) in DOCUMENTS {
        let contents: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("schemas/{path} is not valid JSON: {e}"));
        let resource = Resource::from_contents(contents)
            .unwrap_or_else(|e| panic!("schemas/{path} is not a usable schema: {e}"));
        options = options.with_resource(format!("{BASE_URI}{path}"), resource);
    }
    let build = |path: &str| {
        let text = DOCUMENTS
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, text)| *text)
            .unwrap_or_else(|| panic!("schemas/{path} is not embedded"));
        let schema: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("schemas/{path} is not valid JSON: {e}"));
        options
            .build(&schema)
            .unwrap_or_else(|e| panic!("schemas/{path} does not compile: {e}"))
    };
    Validators {
        envelope: build("envelope.schema.json"),
        bodies: EVENT_TYPES
            .iter()
            .map(|t| (*t, build(&format!("events/{t}.schema.json"))))
            .collect(),
    }
}

/// Step 1 of §3: the envelope, its event, and the body for the event's type.
///
/// The error is one line naming the JSON pointer and the problem, e.g.
/// `/event/body/lines/0/quantity_g: 0 is less than the minimum of 1`.
pub fn validate_envelope(envelope: &Value) -> Result<(), String> {
    only_integers(envelope, &mut String::new())?;
    VALIDATORS
        .envelope
        .validate(envelope)
        .map_err(|e| describe(&e))?;
    let event = &envelope["event"];
    match event["type"].as_str() {
        Some(event_type) => beyond_schema(event_type, &event["body"], "/event/body"),
        None => Ok(()),
    }
}

/// Just the body for a given type (used when the ledger builds its own events). Pointers in the
/// error are relative to the body.
pub fn validate_body(event_type: &str, body: &Value) -> Result<(), String> {
    let validator = VALIDATORS
        .bodies
        .get(event_type)
        .ok_or_else(|| clip(format!("unknown event type {event_type:?}")))?;
    only_integers(body, &mut String::new())?;
    validator.validate(body).map_err(|e| describe(&e))?;
    beyond_schema(event_type, body, "")
}

fn describe(error: &jsonschema::ValidationError<'_>) -> String {
    let pointer = error.instance_path.to_string();
    let pointer = pointer_text(&pointer);
    let quoted_len = error.instance.to_string().chars().count();
    clip(if quoted_len > MAX_QUOTED {
        format!("{pointer}: {}", error.masked_with("the value"))
    } else {
        format!("{pointer}: {error}")
    })
}

fn pointer_text(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(root)"
    } else {
        pointer
    }
}

/// JSON Schema's `integer` accepts `1.0`, but §1 refuses any number written with a fraction or
/// an exponent, since its canonical form would be ambiguous. `serde_json` keeps such numbers
/// apart from 64-bit integers (as do integers beyond 64 bits, which are out of range anyway).
fn only_integers(value: &Value, pointer: &mut String) -> Result<(), String> {
    match value {
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => Err(clip(format!(
            "{}: {n} is not an integer written without fraction or exponent",
            pointer_text(pointer)
        ))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| descend(pointer, &i.to_string(), |p| only_integers(item, p))),
        Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let token = key.replace('~', "~0").replace('/', "~1");
            descend(pointer, &token, |p| only_integers(item, p))
        }),
        _ => Ok(()),
    }
}

fn descend<T>(pointer: &mut String, token: &str, f: impl FnOnce(&mut String) -> T) -> T {
    let len = pointer.len();
    pointer.push('/');
    pointer.push_str(token);
    let result = f(pointer);
    pointer.truncate(len);
    result
}

/// Most container ids one event may name (§3 step 1), so that every event fits the body limit.
pub const MAX_CONTAINER_IDS: usize = 10_000;

/// §1: no string of a submitted event, member names included, holds U+0000 (PostgreSQL cannot
/// store it). Recorded entries are not held to it: a version-1 SQLite ledger may hold some.
pub fn no_nul(value: &Value, pointer: &str) -> Result<(), String> {
    let bad = |p: &str| {
        Err(clip(format!(
            "{}: U+0000 is not allowed in a string",
            pointer_text(p)
        )))
    };
    match value {
        Value::String(s) if s.contains('\0') => bad(pointer),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| no_nul(v, &format!("{pointer}/{i}"))),
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            let here = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
            if k.contains('\0') {
                return bad(&here);
            }
            no_nul(v, &here)
        }),
        _ => Ok(()),
    }
}

/// The container ids an event names, wherever its body lists `containers`.
fn container_ids(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(container_ids).sum(),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("containers", Value::Array(items)) => items.len(),
                _ => container_ids(v),
            })
            .sum(),
        _ => 0,
    }
}

/// Shape rules of §6 that JSON Schema cannot express, run once the schema has passed.
fn beyond_schema(event_type: &str, body: &Value, prefix: &str) -> Result<(), String> {
    let named = container_ids(body);
    if named > MAX_CONTAINER_IDS {
        return Err(clip(format!(
            "{}: the event names {named} container ids; at most {MAX_CONTAINER_IDS} are allowed",
            pointer_text(prefix)
        )));
    }
    if event_type == "manifest.received" {
        // Weighed containers: distinct ids within a line.
        for (i, line) in body["lines"].as_array().into_iter().flatten().enumerate() {
            let mut seen = HashSet::new();
            for (j, c) in line["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(id) = c["id"].as_str() {
                    if !seen.insert(id) {
                        return Err(clip(format!(
                            "{prefix}/lines/{i}/containers/{j}/id: {id:?} repeats an earlier container"
                        )));
                    }
                }
            }
        }
    }
    if event_type == "plan.filed" {
        // Distinct codes across lines, distinct receivers within a line.
        let mut codes = HashSet::new();
        for (i, line) in body["lines"].as_array().into_iter().flatten().enumerate() {
            if let Some(code) = line["code"].as_str() {
                if !codes.insert(code) {
                    return Err(clip(format!(
                        "{prefix}/lines/{i}/code: {code:?} repeats an earlier line's code"
                    )));
                }
            }
            let mut receivers = HashSet::new();
            for (j, t) in line["transfers"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(r) = t["receiver"].as_str() {
                    if !receivers.insert(r) {
                        return Err(clip(format!(
                            "{prefix}/lines/{i}/transfers/{j}/receiver: {r:?} repeats an earlier transfer's receiver"
                        )));
                    }
                }
            }
        }
    }
    if event_type == "manifest.opened" {
        let lines = body["lines"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut seen = HashSet::new();
        for (i, line) in lines.iter().enumerate() {
            if let Some(code) = line["code"].as_str() {
                if !seen.insert(code) {
                    return Err(clip(format!(
                        "{prefix}/lines/{i}/code: {code:?} repeats an earlier line's code"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn clip(mut message: String) -> String {
    if let Some((end, _)) = message.char_indices().nth(MAX_MESSAGE) {
        message.truncate(end);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REGULATOR: &str = "11320404MB0000001Y";
    const GENERATOR: &str = "91320404MA1MXQ2K0T";
    const CARRIER: &str = "91320411MA1P8Y3C2H";
    const RECEIVER: &str = "91320400MA1Q0RNC9M";
    const KEY: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    const SIG: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
    const MANIFEST: &str = "0f8b1c2e-5a7d-4e3b-9c1a-2b3c4d5e6f70";
    const TICKET: &str = "7a1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0";

    fn limits() -> Value {
        json!({
            "transit_s": 432_000, "disposal_s": 31_536_000, "storage_s": 31_536_000,
            "max_backdate_s": 1_209_600, "shortfall_bp": 100
        })
    }

    fn scopes() -> Value {
        json!([
            {"codes": ["HW08", "900-041-49"], "activities": ["collect", "store", "utilize"]},
            {"codes": ["HW18"], "activities": ["dispose"]}
        ])
    }

    /// A realistic body for every type.
    fn examples() -> Vec<(&'static str, Value)> {
        vec![
            (
                "ledger.genesis",
                json!({
                    "origin": "hwledger.czhb.gov.cn/changzhou",
                    "ledger_key": KEY,
                    "regulator": {"org": REGULATOR, "name": "常州市钟楼生态环境局", "region": "320404", "keys": [KEY]},
                    "limits": limits()
                }),
            ),
            (
                "ledger.limits_set",
                json!({"limits": limits(), "reason": "按省厅通知将在途时限调整为5日"}),
            ),
            (
                "ledger.witnesses_set",
                json!({
                    "witnesses": [{"name": "witness.jshb.gov.cn/w1", "key": KEY, "url": "https://witness.jshb.gov.cn/w1"}],
                    "quorum": 1, "reason": "省厅见证服务上线"
                }),
            ),
            (
                "org.registered",
                json!({
                    "org": GENERATOR, "name": "常州市某精密机械有限公司", "region": "320404",
                    "roles": ["generator"], "keys": [KEY]
                }),
            ),
            ("org.key_added", json!({"org": GENERATOR, "key": KEY})),
            (
                "org.key_revoked",
                json!({"org": GENERATOR, "key": KEY, "reason": "密钥随旧电脑报废"}),
            ),
            (
                "org.class_set",
                json!({"org": GENERATOR, "class": "key", "reason": "列入重点排污单位名录"}),
            ),
            (
                "license.issued",
                json!({
                    "license": "JSCZ0404OOD001-3", "holder": RECEIVER, "capacity_g": 20_000_000_000_i64,
                    "valid_from": "2025-03-01", "valid_until": "2030-02-28", "scopes": scopes()
                }),
            ),
            (
                "license.amended",
                json!({
                    "license": "JSCZ0404OOD001-3", "capacity_g": 30_000_000_000_i64,
                    "valid_until": "2030-02-28", "scopes": scopes()
                }),
            ),
            (
                "license.suspended",
                json!({"license": "JSCZ0404OOD001-3", "reason": "焚烧炉排放超标，停产整治"}),
            ),
            (
                "license.reinstated",
                json!({"license": "JSCZ0404OOD001-3", "reason": "整治完成，验收合格"}),
            ),
            (
                "license.revoked",
                json!({"license": "JSCZ0404OOD001-3", "reason": "伪造转移联单"}),
            ),
            (
                "facility.registered",
                json!({
                    "org": GENERATOR, "facility": "TS001", "kind": "storage", "storage_type": "warehouse",
                    "capacity_g": 20_000_000, "name": "危废贮存库", "address": "厂区东北角"
                }),
            ),
            (
                "facility.amended",
                json!({"org": GENERATOR, "facility": "TS001", "capacity_g": 30_000_000}),
            ),
            (
                "facility.closed",
                json!({"org": GENERATOR, "facility": "TS001", "reason": "拆除"}),
            ),
            (
                "waste.declared",
                json!({
                    "generator": GENERATOR, "code": "900-249-08",
                    "quantity_g": 1_250_000, "date": "2025-06-30"
                }),
            ),
            (
                "waste.treated",
                json!({
                    "generator": GENERATOR, "facility": "RS01", "code": "900-249-08",
                    "quantity_g": 250_000, "method": "R9", "date": "2025-06-30"
                }),
            ),
            (
                "manifest.opened",
                json!({
                    "manifest": MANIFEST, "generator": GENERATOR, "carrier": CARRIER, "receiver": RECEIVER,
                    "lines": [
                        {"code": "900-249-08", "quantity_g": 1_000_000, "form": "液态", "packaging": "200L铁桶"},
                        {"code": "900-041-49", "quantity_g": 35_000}
                    ],
                    "note": "含油抹布单独袋装"
                }),
            ),
            (
                "manifest.cancelled",
                json!({"manifest": MANIFEST, "reason": "承运车辆故障，改日转移"}),
            ),
            (
                "manifest.picked_up",
                json!({"manifest": MANIFEST, "vehicle": "苏D·A1234"}),
            ),
            (
                "manifest.received",
                json!({
                    "manifest": MANIFEST,
                    "lines": [{"code": "900-249-08", "quantity_g": 998_500}, {"code": "900-041-49", "quantity_g": 0}]
                }),
            ),
            (
                "manifest.rejected",
                json!({"manifest": MANIFEST, "reason": "包装破损，渗漏"}),
            ),
            (
                "manifest.disposed",
                json!({
                    "manifest": MANIFEST,
                    "lines": [
                        {"code": "900-249-08", "quantity_g": 998_500, "method": "R9"},
                        {"code": "900-041-49", "quantity_g": 0, "method": "D10"}
                    ]
                }),
            ),
            (
                "manifest.stored",
                json!({
                    "manifest": MANIFEST,
                    "lines": [
                        {"code": "900-249-08", "quantity_g": 998_500, "containers": [
                            {"id": "91320404MA1XYZ1234900249082025031800001", "quantity_g": 998_500}]},
                        {"code": "900-041-49", "quantity_g": 0}
                    ],
                    "facility": "ZC01"
                }),
            ),
            (
                "plan.filed",
                json!({
                    "org": GENERATOR, "year": 2026,
                    "lines": [
                        {"code": "900-249-08", "generate_g": 12_000_000, "treat_onsite_g": 2_000_000,
                         "transfers": [{"receiver": RECEIVER, "quantity_g": 10_000_000}]},
                        {"code": "900-041-49", "generate_g": 500_000, "transfers": []}
                    ]
                }),
            ),
            (
                "declaration.filed",
                json!({
                    "org": GENERATOR, "period": "2026-Q2",
                    "report_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                }),
            ),
            (
                "ticket.opened",
                json!({
                    "ticket": TICKET, "kind": "reported_dumping",
                    "subject": {"org": GENERATOR, "code": "900-249-08", "lot": 42,
                                "site": {"address": "钟楼区邹区镇某河道旁空地", "lat": 31_782_345, "lon": 119_853_210}},
                    "summary": "群众举报河道旁倾倒疑似废矿物油约20桶",
                    "quantity_g": 4_000_000
                }),
            ),
            (
                "ticket.assigned",
                json!({
                    "ticket": TICKET, "lead": "钟楼生态环境局", "support": ["邹区镇人民政府", "钟楼区水利局"],
                    "responsible": GENERATOR, "due": "2025-08-15"
                }),
            ),
            (
                "ticket.rectified",
                json!({
                    "ticket": TICKET, "note": "已清运至有资质单位处置，现场恢复",
                    "evidence": [{"sha256": KEY, "name": "现场照片1.jpg"}, {"sha256": KEY, "name": "处置合同.pdf"}]
                }),
            ),
            (
                "ticket.returned",
                json!({"ticket": TICKET, "reason": "缺少处置单位接收凭证"}),
            ),
            (
                "ticket.closed",
                json!({"ticket": TICKET, "note": "复核通过，予以销号"}),
            ),
            (
                "ticket.reopened",
                json!({"ticket": TICKET, "reason": "复查发现同一地点再次倾倒"}),
            ),
        ]
    }

    fn body_of(event_type: &str) -> Value {
        examples()
            .into_iter()
            .find(|(t, _)| *t == event_type)
            .map(|(_, body)| body)
            .unwrap()
    }

    fn envelope(event_type: &str, body: Value) -> Value {
        json!({
            "event": {"v": 1, "id": "5f0c6f3e-1b2a-4c3d-8e9f-0a1b2c3d4e5f", "type": event_type,
                      "actor": GENERATOR, "at": "2025-07-01T08:30:00Z", "body": body},
            "key": KEY,
            "sig": SIG
        })
    }

    /// `body` with `f` applied, for the refusal table.
    fn with(event_type: &str, f: impl FnOnce(&mut Value)) -> Value {
        let mut body = body_of(event_type);
        f(&mut body);
        body
    }

    #[test]
    fn every_type_has_an_example_that_passes() {
        let examples = examples();
        assert_eq!(examples.len(), EVENT_TYPES.len());
        for ((t, body), expected) in examples.iter().zip(EVENT_TYPES) {
            assert_eq!(t, expected);
            validate_body(t, body).unwrap_or_else(|e| panic!("{t}: {e}"));
            validate_envelope(&envelope(t, body.clone())).unwrap_or_else(|e| panic!("{t}: {e}"));
        }
    }

    #[test]
    fn optional_fields_may_be_absent() {
        let minimal = [
            (
                "manifest.opened",
                json!({
                    "manifest": MANIFEST, "generator": GENERATOR, "carrier": CARRIER, "receiver": RECEIVER,
                    "lines": [{"code": "900-249-08", "quantity_g": 1}]
                }),
            ),
            (
                "ticket.opened",
                json!({
                    "ticket": TICKET, "kind": "transit_overdue",
                    "subject": {"manifest": MANIFEST}, "summary": "在途超时"
                }),
            ),
            (
                "ticket.opened",
                json!({
                    "ticket": TICKET, "kind": "reported_dumping",
                    "subject": {"site": {"address": "某地"}}, "summary": "举报", "quantity_g": 0
                }),
            ),
            (
                "ticket.assigned",
                json!({"ticket": TICKET, "lead": "钟楼生态环境局", "due": "2025-08-15"}),
            ),
        ];
        for (t, body) in minimal {
            validate_body(t, &body).unwrap_or_else(|e| panic!("{t}: {e}"));
        }
    }

    #[test]
    fn every_type_refuses_bad_bodies() {
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "facility.registered",
                with("facility.registered", |b| b["facility"] = json!("有 空格")),
                "/facility",
            ),
            (
                "facility.registered",
                with("facility.registered", |b| b["methods"] = json!(["R9"])),
                "(root)",
            ),
            (
                "facility.amended",
                with("facility.amended", |b| b["methods"] = json!([])),
                "/methods",
            ),
            (
                "facility.closed",
                with("facility.closed", |b| b["extra"] = json!(1)),
                "(root)",
            ),
            (
                "waste.treated",
                with("waste.treated", |b| b["quantity_g"] = json!(0)),
                "/quantity_g",
            ),
            (
                "waste.treated",
                with("waste.treated", |b| b["containers"] = json!([])),
                "/containers",
            ),
            (
                "ledger.genesis",
                with("ledger.genesis", |b| {
                    b["origin"] = json!("hwledger example")
                }),
                "/origin",
            ),
            (
                "ledger.genesis",
                with("ledger.genesis", |b| b["origin"] = json!("a+b")),
                "/origin",
            ),
            (
                "ledger.genesis",
                with("ledger.genesis", |b| b["regulator"]["keys"] = json!([])),
                "/regulator/keys",
            ),
            (
                "ledger.genesis",
                with("ledger.genesis", |b| b["regulator"]["extra"] = json!(1)),
                "/regulator",
            ),
            (
                "ledger.limits_set",
                with("ledger.limits_set", |b| {
                    b["limits"]["shortfall_bp"] = json!(10001)
                }),
                "/limits/shortfall_bp",
            ),
            (
                "ledger.limits_set",
                with("ledger.limits_set", |b| b["limits"]["transit_s"] = json!(0)),
                "/limits/transit_s",
            ),
            (
                "ledger.limits_set",
                with("ledger.limits_set", |b| {
                    b["limits"].as_object_mut().unwrap().remove("storage_s");
                }),
                "/limits",
            ),
            (
                "ledger.witnesses_set",
                with("ledger.witnesses_set", |b| {
                    b["witnesses"][0]["name"] = json!("w 1")
                }),
                "/witnesses/0/name",
            ),
            (
                "ledger.witnesses_set",
                with("ledger.witnesses_set", |b| {
                    b["witnesses"][0]["name"] = json!("w\u{1}")
                }),
                "/witnesses/0/name",
            ),
            (
                "ledger.witnesses_set",
                with("ledger.witnesses_set", |b| b["quorum"] = json!(-1)),
                "/quorum",
            ),
            (
                "ledger.witnesses_set",
                with("ledger.witnesses_set", |b| {
                    b["witnesses"] = json!(vec![b["witnesses"][0].clone(); 17])
                }),
                "/witnesses",
            ),
            (
                "org.registered",
                with("org.registered", |b| b["roles"] = json!([])),
                "/roles",
            ),
            (
                "org.registered",
                with("org.registered", |b| {
                    b["roles"] = json!(["generator", "generator"])
                }),
                "/roles",
            ),
            (
                "org.registered",
                with("org.registered", |b| b["roles"] = json!(["dumper"])),
                "/roles/0",
            ),
            (
                "org.registered",
                with("org.registered", |b| b["region"] = json!("32040")),
                "/region",
            ),
            (
                "org.registered",
                with("org.registered", |b| b["keys"] = json!([KEY, KEY])),
                "/keys",
            ),
            (
                "org.key_added",
                with("org.key_added", |b| b["key"] = json!(KEY.to_uppercase())),
                "/key",
            ),
            (
                "org.key_added",
                with("org.key_added", |b| b["org"] = json!("")),
                "/org",
            ),
            (
                "org.key_revoked",
                with("org.key_revoked", |b| {
                    b.as_object_mut().unwrap().remove("reason");
                }),
                "(root)",
            ),
            (
                "license.issued",
                with("license.issued", |b| b["scopes"] = json!([])),
                "/scopes",
            ),
            (
                "license.issued",
                with("license.issued", |b| {
                    b["scopes"] = json!(vec![
                        json!({"codes": ["HW08"], "activities": ["store"]});
                        101
                    ])
                }),
                "/scopes",
            ),
            (
                "license.issued",
                with("license.issued", |b| {
                    b["scopes"][0]["activities"] = json!(["transport"])
                }),
                "/scopes/0/activities/0",
            ),
            (
                "license.issued",
                with("license.issued", |b| b["scopes"][0]["codes"] = json!([])),
                "/scopes/0/codes",
            ),
            (
                "license.issued",
                with("license.issued", |b| b["valid_from"] = json!("2025-3-1")),
                "/valid_from",
            ),
            (
                "license.issued",
                with("license.issued", |b| {
                    b["capacity_g"] = json!(1_000_000_000_000_001_i64)
                }),
                "/capacity_g",
            ),
            (
                "license.amended",
                with("license.amended", |b| b["capacity_g"] = json!("30t")),
                "/capacity_g",
            ),
            (
                "license.amended",
                with("license.amended", |b| {
                    b.as_object_mut().unwrap().remove("scopes");
                }),
                "(root)",
            ),
            (
                "license.suspended",
                with("license.suspended", |b| b["reason"] = json!("")),
                "/reason",
            ),
            (
                "license.reinstated",
                with("license.reinstated", |b| b["license"] = json!(7)),
                "/license",
            ),
            (
                "license.revoked",
                with("license.revoked", |b| {
                    b["reason"] = json!("长".repeat(2001))
                }),
                "/reason",
            ),
            (
                "waste.declared",
                with("waste.declared", |b| b["quantity_g"] = json!(0)),
                "/quantity_g",
            ),
            (
                "waste.declared",
                with("waste.declared", |b| b["quantity_g"] = json!(-5)),
                "/quantity_g",
            ),
            (
                "waste.declared",
                with("waste.declared", |b| b["code"] = json!("")),
                "/code",
            ),
            (
                "manifest.opened",
                with("manifest.opened", |b| b["lines"] = json!([])),
                "/lines",
            ),
            (
                "manifest.opened",
                with("manifest.opened", |b| {
                    b["lines"] = json!((0..51)
                        .map(|i| json!({"code": format!("900-{i:03}-49"), "quantity_g": 1}))
                        .collect::<Vec<_>>());
                }),
                "/lines",
            ),
            (
                "manifest.opened",
                with("manifest.opened", |b| {
                    b["lines"][0]["quantity_g"] = json!(0)
                }),
                "/lines/0/quantity_g",
            ),
            (
                "manifest.opened",
                with("manifest.opened", |b| b["lines"][1]["weight"] = json!(1)),
                "/lines/1",
            ),
            (
                "manifest.opened",
                with("manifest.opened", |b| {
                    b["manifest"] = json!("0F8B1C2E-5A7D-4E3B-9C1A-2B3C4D5E6F70")
                }),
                "/manifest",
            ),
            (
                "manifest.opened",
                with("manifest.opened", |b| {
                    b["lines"][1]["code"] = json!("900-249-08")
                }),
                "/lines/1/code",
            ),
            (
                "manifest.cancelled",
                with("manifest.cancelled", |b| {
                    b["manifest"] = json!("0f8b1c2e5a7d4e3b9c1a2b3c4d5e6f70")
                }),
                "/manifest",
            ),
            (
                "manifest.picked_up",
                with("manifest.picked_up", |b| b["vehicle"] = json!("")),
                "/vehicle",
            ),
            (
                "manifest.received",
                with("manifest.received", |b| {
                    b["lines"][0]["quantity_g"] = json!(-1)
                }),
                "/lines/0/quantity_g",
            ),
            (
                "manifest.received",
                with("manifest.received", |b| {
                    b["lines"][0]["method"] = json!("R9")
                }),
                "/lines/0",
            ),
            (
                "manifest.rejected",
                with("manifest.rejected", |b| b["reason"] = Value::Null),
                "/reason",
            ),
            (
                "manifest.disposed",
                with("manifest.disposed", |b| {
                    b["lines"][0].as_object_mut().unwrap().remove("method");
                }),
                "/lines/0",
            ),
            (
                "manifest.disposed",
                with("manifest.disposed", |b| b["lines"] = json!([])),
                "/lines",
            ),
            (
                "manifest.stored",
                with("manifest.stored", |b| {
                    b["lines"][0]["method"] = json!("D10")
                }),
                "/lines/0",
            ),
            (
                "manifest.stored",
                with("manifest.stored", |b| {
                    b["lines"][0]["containers"][0]["quantity_g"] = json!(0);
                }),
                "/lines/0/containers/0/quantity_g",
            ),
            (
                "org.class_set",
                with("org.class_set", |b| b["class"] = json!("重点监管")),
                "/class",
            ),
            (
                "plan.filed",
                with("plan.filed", |b| b["lines"] = json!([])),
                "/lines",
            ),
            (
                "plan.filed",
                with("plan.filed", |b| {
                    b["lines"][0]["transfers"][0]["quantity_g"] = json!(-1)
                }),
                "/lines/0/transfers/0/quantity_g",
            ),
            (
                "plan.filed",
                with("plan.filed", |b| {
                    b["lines"][1]["code"] = json!("900-249-08")
                }),
                "/lines/1/code",
            ),
            (
                "plan.filed",
                with("plan.filed", |b| {
                    let t = b["lines"][0]["transfers"][0].clone();
                    b["lines"][0]["transfers"] = json!([t.clone(), t]);
                }),
                "/lines/0/transfers/1/receiver",
            ),
            (
                "declaration.filed",
                with("declaration.filed", |b| b["period"] = json!("2026-Q5")),
                "/period",
            ),
            (
                "declaration.filed",
                with("declaration.filed", |b| b["report_sha256"] = json!("ABC")),
                "/report_sha256",
            ),
            (
                "ticket.opened",
                with("ticket.opened", |b| b["kind"] = json!("ReportedDumping")),
                "/kind",
            ),
            (
                "ticket.opened",
                with("ticket.opened", |b| {
                    b["subject"]["site"]["lat"] = json!(90_000_001)
                }),
                "/subject/site/lat",
            ),
            (
                "ticket.opened",
                with("ticket.opened", |b| {
                    b["subject"]["site"]["lon"] = json!(-180_000_001)
                }),
                "/subject/site/lon",
            ),
            (
                "ticket.opened",
                with("ticket.opened", |b| b["subject"]["lot"] = json!(-1)),
                "/subject/lot",
            ),
            (
                "ticket.opened",
                with("ticket.opened", |b| b["subject"]["site"]["zoom"] = json!(3)),
                "/subject/site",
            ),
            (
                "ticket.opened",
                with("ticket.opened", |b| b["subject"]["plate"] = json!("苏D")),
                "/subject",
            ),
            (
                "ticket.assigned",
                with("ticket.assigned", |b| {
                    b["due"] = json!("2025-08-15T00:00:00Z")
                }),
                "/due",
            ),
            (
                "ticket.assigned",
                with("ticket.assigned", |b| b["support"] = json!("钟楼区水利局")),
                "/support",
            ),
            (
                "ticket.rectified",
                with("ticket.rectified", |b| b["evidence"] = json!([])),
                "/evidence",
            ),
            (
                "ticket.rectified",
                with("ticket.rectified", |b| {
                    b["evidence"][0]["sha256"] = json!("abc")
                }),
                "/evidence/0/sha256",
            ),
            (
                "ticket.rectified",
                with("ticket.rectified", |b| {
                    b["evidence"] = json!(vec![json!({"sha256": KEY, "name": "照片.jpg"}); 51]);
                }),
                "/evidence",
            ),
            (
                "ticket.returned",
                with("ticket.returned", |b| b["extra"] = json!("x")),
                "(root)",
            ),
            (
                "ticket.closed",
                with("ticket.closed", |b| b["note"] = json!(["ok"])),
                "/note",
            ),
            (
                "ticket.reopened",
                with("ticket.reopened", |b| b["ticket"] = json!("not-a-uuid")),
                "/ticket",
            ),
        ];
        let mut covered = HashSet::new();
        for (t, body, pointer) in cases {
            let error = validate_body(t, &body).expect_err(&format!("{t} should refuse {body}"));
            assert!(
                error.starts_with(&format!("{pointer}: ")),
                "{t}: expected {pointer}, got {error}"
            );
            let error = validate_envelope(&envelope(t, body)).expect_err(t);
            let expected = if pointer == "(root)" {
                "/event/body".to_owned()
            } else {
                format!("/event/body{pointer}")
            };
            assert!(
                error.starts_with(&format!("{expected}: ")),
                "{t}: expected {expected}, got {error}"
            );
            covered.insert(t);
        }
        assert_eq!(
            covered.len(),
            EVENT_TYPES.len(),
            "a type has no refusal case"
        );
    }

    #[test]
    fn messages_name_the_pointer_and_the_problem() {
        let body = with("manifest.opened", |b| {
            b["lines"][0]["quantity_g"] = json!(0)
        });
        assert_eq!(
            validate_envelope(&envelope("manifest.opened", body)).unwrap_err(),
            "/event/body/lines/0/quantity_g: 0 is less than the minimum of 1"
        );
    }

    /// An edit that spoils a valid envelope.
    type Change = fn(&mut Value);

    #[test]
    fn envelope_refusals() {
        let good = envelope("waste.declared", body_of("waste.declared"));
        validate_envelope(&good).unwrap();
        let cases: Vec<(&str, Change, &str)> = vec![
            ("extra envelope field", |e| e["note"] = json!("x"), "(root)"),
            (
                "extra event field",
                |e| e["event"]["seq"] = json!(3),
                "/event",
            ),
            ("v = 2", |e| e["event"]["v"] = json!(2), "/event/v"),
            ("v as string", |e| e["event"]["v"] = json!("1"), "/event/v"),
            (
                "uppercase key",
                |e| e["key"] = json!(KEY.to_uppercase()),
                "/key",
            ),
            (
                "uppercase sig",
                |e| e["sig"] = json!(SIG.to_uppercase()),
                "/sig",
            ),
            ("short sig", |e| e["sig"] = json!(&SIG[..126]), "/sig"),
            (
                "bad uuid",
                |e| e["event"]["id"] = json!("5f0c6f3e-1b2a-4c3d-8e9f-0a1b2c3d4e5"),
                "/event/id",
            ),
            (
                "braced uuid",
                |e| e["event"]["id"] = json!("{5f0c6f3e-1b2a-4c3d-8e9f-0a1b2c3d4e5f}"),
                "/event/id",
            ),
            (
                "unknown type",
                |e| e["event"]["type"] = json!("manifest.lost"),
                "/event/type",
            ),
            (
                "no Z",
                |e| e["event"]["at"] = json!("2025-07-01T08:30:00"),
                "/event/at",
            ),
            (
                "offset",
                |e| e["event"]["at"] = json!("2025-07-01T16:30:00+08:00"),
                "/event/at",
            ),
            (
                "empty actor",
                |e| e["event"]["actor"] = json!(""),
                "/event/actor",
            ),
            (
                "body not object",
                |e| e["event"]["body"] = json!([]),
                "/event/body",
            ),
            (
                "missing sig",
                |e| {
                    e.as_object_mut().unwrap().remove("sig");
                },
                "(root)",
            ),
            (
                "missing body",
                |e| {
                    e["event"].as_object_mut().unwrap().remove("body");
                },
                "/event",
            ),
            ("float v", |e| e["event"]["v"] = json!(1.0), "/event/v"),
            (
                "float quantity",
                |e| e["event"]["body"]["quantity_g"] = json!(1000.0),
                "/event/body/quantity_g",
            ),
        ];
        for (what, change, pointer) in cases {
            let mut e = good.clone();
            change(&mut e);
            let error = validate_envelope(&e).expect_err(what);
            assert!(
                error.starts_with(&format!("{pointer}: ")),
                "{what}: expected {pointer}, got {error}"
            );
        }
        assert!(validate_envelope(&json!([good])).is_err());
    }

    #[test]
    fn body_checks_follow_the_type() {
        // A valid body of one type is not a valid body of another.
        let e = envelope("manifest.cancelled", body_of("manifest.picked_up"));
        assert!(validate_envelope(&e)
            .unwrap_err()
            .starts_with("/event/body"));
        assert!(validate_body("manifest.lost", &json!({})).is_err());
    }

    #[test]
    fn floats_and_huge_numbers_are_refused() {
        assert!(validate_body(
            "waste.declared",
            &with("waste.declared", |b| b["quantity_g"] = json!(5.0))
        )
        .is_err());
        let huge: Value = serde_json::from_str(&format!(
            r#"{{"generator":"{GENERATOR}","code":"900-249-08","quantity_g":100000000000000000000,"date":"2025-06-30"}}"#
        ))
        .unwrap();
        assert!(validate_body("waste.declared", &huge).is_err());
        let exponent: Value = serde_json::from_str(&format!(
            r#"{{"generator":"{GENERATOR}","code":"900-249-08","quantity_g":1e3,"date":"2025-06-30"}}"#
        ))
        .unwrap();
        assert_eq!(
            validate_body("waste.declared", &exponent).unwrap_err(),
            "/quantity_g: 1000.0 is not an integer written without fraction or exponent"
        );
    }

    #[test]
    fn long_values_give_short_messages() {
        let body = with("license.revoked", |b| {
            b["reason"] = json!("长".repeat(100_000))
        });
        assert_eq!(
            validate_body("license.revoked", &body).unwrap_err(),
            "/reason: the value is longer than 2000 characters"
        );
        let body = with("license.revoked", |b| b["reason"] = json!(vec![0; 100_000]));
        let error = validate_body("license.revoked", &body).unwrap_err();
        assert_eq!(error, "/reason: the value is not of type \"string\"");
    }

    #[test]
    fn documents_are_complete_and_self_consistent() {
        let docs = documents();
        assert_eq!(docs.len(), EVENT_TYPES.len() + 2);
        for (path, text) in docs {
            let doc: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                doc["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{path}"
            );
            assert_eq!(doc["$id"], format!("{BASE_URI}{path}"), "{path}");
        }
        let envelope: Value = serde_json::from_str(docs[1].1).unwrap();
        assert_eq!(
            envelope["properties"]["event"]["properties"]["type"]["enum"],
            json!(EVENT_TYPES)
        );
    }

    #[test]
    fn every_object_forbids_unknown_fields() {
        fn walk(value: &Value, path: &str, at: &str) {
            match value {
                Value::Object(map) => {
                    if map.get("type") == Some(&json!("object")) && map.contains_key("properties") {
                        assert_eq!(
                            map.get("additionalProperties"),
                            Some(&json!(false)),
                            "{path}{at}"
                        );
                    }
                    for (k, v) in map {
                        walk(v, path, &format!("{at}/{k}"));
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, path, at)),
                _ => {}
            }
        }
        for (path, text) in documents() {
            walk(&serde_json::from_str(text).unwrap(), path, "");
        }
    }

    #[test]
    fn every_type_has_a_compiled_validator() {
        assert_eq!(VALIDATORS.bodies.len(), EVENT_TYPES.len());
    }
}
