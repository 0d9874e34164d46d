//! Protocol version 2: containers (一物一码, HJ 1276-2022) declared with their lot, named by
//! manifest lines, scanned at pickup, weighed at receipt and treated on site, and the container
//! view with its trace, through the real router on SQLite and PostgreSQL.

mod common;

use axum::http::StatusCode;
use common::fixtures::*;
use common::harness::*;
use hwledger::store::{history_text, trace_text, DbUrl, Store};
use serde_json::{json, Value};

/// The id of container `serial` of `org`'s lot of `code` packed on the CST date `date`.
fn cid(org: &str, code: &str, date: &str, serial: u32) -> String {
    format!(
        "{org}{}{}{serial:03}",
        code.replace('-', ""),
        date.replace('-', "")
    )
}

fn declare_drums(gen: &Actor, code: &str, date: &str, drums: &[(String, i64)]) -> Value {
    let total: i64 = drums.iter().map(|(_, q)| q).sum();
    json!({"generator": gen.org, "code": code, "quantity_g": total, "date": date,
           "containers": drums.iter().map(|(id, q)| json!({"id": id, "quantity_g": q})).collect::<Vec<_>>()})
}

fn line(code: &str, q: i64, ids: &[&String]) -> Value {
    json!({"code": code, "quantity_g": q, "containers": ids})
}

async fn container(l: &TestLedger, id: &str) -> Value {
    let (s, v) = l.get(&format!("/v1/containers/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

storage_test!(
    containers_are_declared_named_scanned_and_weighed,
    |b| async move {
        let l = TestLedger::start(b).await;
        let s = Scene::new(&l, 600).await;
        let gen = &s.gen;
        let today = cst_day(0);
        let d = |n: u32| cid(&gen.org, OIL, &today, n);

        // Creation: every segment is the lot's (unit, code, date, serial), in list order; new in
        // the ledger and in the event; they sum to the lot.
        let bad = [
            (cid(&s.carrier.org, OIL, &today, 1), "another unit's code"),
            (cid(&gen.org, OIL2, &today, 1), "another waste code"),
            (cid(&gen.org, OIL, &cst_day(-1), 1), "another date"),
            (cid(&gen.org, OIL, &today, 0), "serial 000"),
            (format!("{}X", d(1)), "38 characters"),
        ];
        for (id, what) in bad {
            let body = declare_drums(gen, OIL, &today, &[(id, 100)]);
            let before = l.size().await;
            let answer = l.submit(gen, "waste.declared", body).await;
            assert_refused(&l, before, answer, 422, "bad_container_id", what).await;
        }
        refused(
            &l,
            gen,
            "waste.declared",
            declare_drums(gen, OIL, &today, &[(d(1), 100), (d(1), 100)]),
            422,
            "container_exists",
        )
        .await;
        let mut short = declare_drums(gen, OIL, &today, &[(d(1), 100), (d(2), 100)]);
        short["quantity_g"] = json!(201);
        refused(&l, gen, "waste.declared", short, 422, "containers_mismatch").await;
        let drums: Vec<(String, i64)> = (1..=4).map(|n| (d(n), 200_000)).collect();
        let lot = seq(&l
            .ok(
                gen,
                "waste.declared",
                declare_drums(gen, OIL, &today, &drums),
            )
            .await);
        refused(
            &l,
            gen,
            "waste.declared",
            declare_drums(gen, OIL, &today, &[(d(1), 100)]),
            422,
            "container_exists",
        )
        .await;
        let packaging = cid(&gen.org, PACKAGING, &today, 1);
        l.ok(
            gen,
            "waste.declared",
            declare_drums(gen, PACKAGING, &today, &[(packaging.clone(), 50_000)]),
        )
        .await;
        let lots = stock(&l, gen, false).await;
        assert_eq!(lots[0]["seq"], lot);
        assert_eq!(
            lots[0]["containers"][0],
            json!({"id": d(1), "quantity_g": 200_000, "status": "in_stock"})
        );

        // Waste in containers ships only by naming them: a container-less line finds no stock.
        refused(
            &l,
            gen,
            "manifest.opened",
            s.open_body(&new_id(), &[(OIL, 1)]),
            422,
            "insufficient_stock",
        )
        .await;
        let open = |id: &str, lines: Value| json!({"manifest": id, "generator": gen.org, "carrier": s.carrier.org, "receiver": s.receiver.org, "lines": lines});
        let (c1, c2, c3, c4) = (d(1), d(2), d(3), d(4));
        let ghost = d(9);
        refused(
            &l,
            gen,
            "manifest.opened",
            open(&new_id(), json!([line(OIL, 200_000, &[&ghost])])),
            422,
            "unknown_container",
        )
        .await;
        refused(
            &l,
            gen,
            "manifest.opened",
            open(&new_id(), json!([line(OIL, 50_000, &[&packaging])])),
            422,
            "container_unavailable",
        )
        .await;
        refused(
            &l,
            gen,
            "manifest.opened",
            open(&new_id(), json!([line(OIL, 300_000, &[&c1, &c2])])),
            422,
            "containers_mismatch",
        )
        .await;
        refused(
            &l,
            gen,
            "manifest.opened",
            open(&new_id(), json!([line(OIL, 200_000, &[&c1, &c1])])),
            400,
            "invalid_event",
        )
        .await;
        let m = new_id();
        l.ok(
            gen,
            "manifest.opened",
            open(&m, json!([line(OIL, 600_000, &[&c1, &c2, &c3])])),
        )
        .await;
        refused(
            &l,
            gen,
            "manifest.opened",
            open(&new_id(), json!([line(OIL, 200_000, &[&c1])])),
            422,
            "container_unavailable",
        )
        .await;
        assert_eq!(lot_of(&l, gen, lot).await, (800_000, 600_000));
        assert_eq!(container(&l, &c1).await["status"], "reserved");

        // Pickup scans exactly the manifest's containers.
        let pick =
            |ids: Vec<&String>| json!({"manifest": m, "vehicle": "苏D·A1234", "containers": ids});
        refused(
            &l,
            &s.carrier,
            "manifest.picked_up",
            pick_up_body(&m),
            422,
            "containers_mismatch",
        )
        .await;
        refused(
            &l,
            &s.carrier,
            "manifest.picked_up",
            pick(vec![&c1, &c2]),
            422,
            "containers_mismatch",
        )
        .await;
        refused(
            &l,
            &s.carrier,
            "manifest.picked_up",
            pick(vec![&c1, &c2, &c3, &c4]),
            422,
            "containers_mismatch",
        )
        .await;
        refused(
            &l,
            &s.carrier,
            "manifest.picked_up",
            pick(vec![&c1, &c2, &ghost]),
            422,
            "containers_mismatch",
        )
        .await;
        l.ok(&s.carrier, "manifest.picked_up", pick(vec![&c3, &c1, &c2]))
            .await;
        assert_eq!(container(&l, &c2).await["status"], "shipped");

        // A receipt that leaves one drum out: it counts 0, and the shortfall ticket names it.
        let recv = |ls: Value| json!({"manifest": m, "lines": ls});
        refused(
            &l,
            &s.receiver,
            "manifest.received",
            recv(json!([{"code": OIL, "quantity_g": 400_000,
        "containers": [{"id": c1, "quantity_g": 200_000}, {"id": c4, "quantity_g": 200_000}]}])),
            422,
            "containers_mismatch",
        )
        .await;
        refused(
            &l,
            &s.receiver,
            "manifest.received",
            recv(json!([{"code": OIL, "quantity_g": 400_000,
        "containers": [{"id": c1, "quantity_g": 200_000}, {"id": c2, "quantity_g": 100_000}]}])),
            422,
            "containers_mismatch",
        )
        .await;
        l.ok(
            &s.receiver,
            "manifest.received",
            recv(json!([{"code": OIL, "quantity_g": 400_000,
        "containers": [{"id": c1, "quantity_g": 199_000}, {"id": c2, "quantity_g": 201_000}]}])),
        )
        .await;
        let (_, t) = l.get("/v1/tickets?kind=quantity_shortfall").await;
        let t = &t["tickets"][0];
        assert_eq!(t["subject"]["manifest"], m.as_str());
        assert_eq!(t["subject"]["containers"], json!([c3]));
        assert_eq!(t["quantity_g"], 200_000);
        assert_eq!(container(&l, &c3).await["status"], "missing");
        let c1v = container(&l, &c1).await;
        assert_eq!(c1v["status"], "received");
        let types: Vec<&str> = c1v["trace"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "waste.declared",
                "manifest.opened",
                "manifest.picked_up",
                "manifest.received"
            ]
        );
        assert_eq!(c1v["trace"][3]["quantity_g"], 199_000);
        assert_eq!(c1v["trace"][0]["quantity_g"], 200_000);
        assert_eq!(c1v["org"], gen.org.as_str());
        assert_eq!(c1v["lot"], lot);
        let mv = manifest(&l, &m).await;
        assert_eq!(
            mv["lines"][0]["containers"][0],
            json!({"id": c1, "quantity_g": 200_000, "received_g": 199_000})
        );
        assert_eq!(
            mv["lines"][0]["containers"][2],
            json!({"id": c3, "quantity_g": 200_000, "received_g": 0})
        );
        dispose(&l, &s.receiver, &m, &[(OIL, 400_000, "R9")]).await;
        assert_eq!(
            container(&l, &c1).await["trace"].as_array().unwrap().len(),
            5
        );

        // Who reads a container: the packer, a party of a manifest naming it, a regulator.
        let (st, _) = l.get_as(&s.receiver, &format!("/v1/containers/{c1}")).await;
        assert_eq!(st, StatusCode::OK);
        let (st, _) = l.get_as(gen, &format!("/v1/containers/{c4}")).await;
        assert_eq!(st, StatusCode::OK);
        let (st, _) = l.get_as(&s.receiver, &format!("/v1/containers/{c4}")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, _) = l.get(&format!("/v1/containers/{ghost}")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Every drum weighed: no ticket.
        let m2 = new_id();
        l.ok(
            gen,
            "manifest.opened",
            open(
                &m2,
                json!([
                    line(OIL, 200_000, &[&c4]),
                    line(PACKAGING, 50_000, &[&packaging])
                ]),
            ),
        )
        .await;
        l.ok(
            &s.carrier,
            "manifest.picked_up",
            json!({"manifest": m2, "vehicle": "苏D·A1234", "containers": [c4, packaging]}),
        )
        .await;
        l.ok(&s.receiver, "manifest.received", json!({"manifest": m2, "lines": [
        {"code": OIL, "quantity_g": 199_500, "containers": [{"id": c4, "quantity_g": 199_500}]},
        {"code": PACKAGING, "quantity_g": 50_000, "containers": [{"id": packaging, "quantity_g": 50_000}]}]})).await;
        let (_, t) = l.get("/v1/tickets?kind=quantity_shortfall").await;
        assert_eq!(
            t["tickets"].as_array().unwrap().len(),
            1,
            "within tolerance, every drum counted"
        );
        assert_eq!(container(&l, &c4).await["status"], "received");

        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");

        // The database renders the trace and the manifest history as `verify` does, so that
        // `verify --db` compares each run's rows as one text, nulls included.
        let store = Store::connect(&DbUrl::new(l.db.url.clone())).await.unwrap();
        let size = store.head().await.unwrap().size;
        let trace = store.container_trace_between(0, size).await.unwrap();
        assert!(
            trace.iter().any(|s| s.manifest.is_none())
                && trace.iter().any(|s| s.quantity_g.is_none())
                && trace
                    .iter()
                    .any(|s| s.manifest.is_some() && s.quantity_g.is_some()),
            "{trace:?}"
        );
        assert_eq!(
            store.container_trace_text_between(0, size).await.unwrap(),
            trace_text(&trace)
        );
        let history: Vec<_> = store
            .history_between(0, size)
            .await
            .unwrap()
            .into_iter()
            .map(|(m, h)| (Some(m), h))
            .collect();
        assert!(!history.is_empty());
        assert_eq!(
            store.history_text_between(0, size).await.unwrap(),
            history_text(&history)
        );

        // A trace row altered or removed behind the service's back is caught at its entry.
        let received = container(&l, &c4).await["trace"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == "manifest.received")
            .unwrap()["seq"]
            .as_u64()
            .unwrap();
        let finding =
            format!("entry {received}: the container_trace table differs from the ledger here");
        let row = format!("container = '{c4}' and seq = {received}");
        for (alter, undo) in [
            (
                format!("update container_trace set quantity_g = 200000 where {row}"),
                format!("update container_trace set quantity_g = 199500 where {row}"),
            ),
            (
                format!("update container_trace set type = 'manifest.picked_up' where {row}"),
                format!("update container_trace set type = 'manifest.received' where {row}"),
            ),
        ] {
            tamper(&l, b, &alter).await;
            let (ok, out) = verify_db(&l).await;
            assert!(!ok && out.contains(&finding), "{alter}: {out}");
            tamper(&l, b, &undo).await;
        }
        // The seqs by which a container's row finds its trace: one left out is caught, and
        // until then the trace read through the API lacks that step.
        let listed = format!("trace_seqs from containers where id = '{c4}'");
        tamper(
            &l,
            b,
            &format!("update containers set trace_seqs = replace(trace_seqs, '{received},', '') where id = '{c4}'"),
        )
        .await;
        assert!(
            !container(&l, &c4).await["trace"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["seq"] == received),
            "{listed}"
        );
        let (ok, out) = verify_db(&l).await;
        assert!(
            !ok && out.contains(&format!(
                "the containers table lists other trace steps for {c4} than the container_trace table holds"
            )),
            "{listed}: {out}"
        );
        // Put back out of order (first), it is caught too; the row deleted next is found
        // before it, at its entry.
        tamper(
            &l,
            b,
            &format!(
                "update containers set trace_seqs = '{received},' || trace_seqs where id = '{c4}'"
            ),
        )
        .await;
        let (ok, out) = verify_db(&l).await;
        assert!(
            !ok && out.contains("trace steps for"),
            "out of order: {out}"
        );

        tamper(&l, b, &format!("delete from container_trace where {row}")).await;
        let (ok, out) = verify_db(&l).await;
        assert!(!ok && out.contains(&finding), "deleted: {out}");
    }
);

storage_test!(
    containers_return_on_cancellation_and_rejection_and_are_treated,
    |b| async move {
        let l = TestLedger::start(b).await;
        let reg = l.regulator.clone();
        let s = Scene::new(&l, 700).await;
        let gen = &s.gen;
        let day = cst_day(-1);
        let d = |n: u32| cid(&gen.org, OIL, &day, n);
        let drums: Vec<(String, i64)> = (1..=3).map(|n| (d(n), 100_000)).collect();
        let lot = seq(&l
            .ok(gen, "waste.declared", declare_drums(gen, OIL, &day, &drums))
            .await);
        let (c1, c2, c3) = (d(1), d(2), d(3));
        let open = |id: &str, ids: &[&String], q: i64| json!({"manifest": id, "generator": gen.org, "carrier": s.carrier.org, "receiver": s.receiver.org, "lines": [line(OIL, q, ids)]});
        let m = new_id();
        l.ok(gen, "manifest.opened", open(&m, &[&c1], 100_000))
            .await;
        cancel(&l, gen, &m).await;
        assert_eq!(container(&l, &c1).await["status"], "in_stock");
        let m = new_id();
        l.ok(gen, "manifest.opened", open(&m, &[&c1, &c2], 200_000))
            .await;
        l.ok(
            &s.carrier,
            "manifest.picked_up",
            json!({"manifest": m, "vehicle": "苏D", "containers": [c1, c2]}),
        )
        .await;
        assert_eq!(lot_of(&l, gen, lot).await, (100_000, 0));
        reject(&l, &s.receiver, &m).await;
        assert_eq!(container(&l, &c2).await["status"], "in_stock");
        assert_eq!(lot_of(&l, gen, lot).await, (300_000, 0));

        // On-site treatment of named containers: of the generator, in stock, of the code, dated
        // on or before the treatment.
        l.ok(
            &reg,
            "facility.registered",
            json!({"org": gen.org, "facility": "R1", "kind": "utilize",
        "methods": ["R9"], "capacity_g": 10_000_000, "name": "再生装置"}),
        )
        .await;
        let treat = |ids: &[&String], q: i64, date: &str| {
            json!({"generator": gen.org, "facility": "R1",
        "code": OIL, "quantity_g": q, "method": "R9", "date": date, "containers": ids})
        };
        let ghost = d(9);
        refused(
            &l,
            gen,
            "waste.treated",
            treat(&[&ghost], 100_000, &day),
            422,
            "unknown_container",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            treat(&[&c1], 100_000, &cst_day(-2)),
            422,
            "container_unavailable",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            treat(&[&c1, &c2], 100_000, &day),
            422,
            "containers_mismatch",
        )
        .await;
        refused(
            &l,
            gen,
            "waste.treated",
            treat(&[&c1, &c1], 200_000, &day),
            400,
            "invalid_event",
        )
        .await;
        l.ok(gen, "waste.treated", treat(&[&c1, &c3], 200_000, &day))
            .await;
        assert_eq!(container(&l, &c3).await["status"], "treated");
        assert_eq!(lot_of(&l, gen, lot).await, (100_000, 0));
        refused(
            &l,
            gen,
            "waste.treated",
            treat(&[&c3], 100_000, &day),
            422,
            "container_unavailable",
        )
        .await;
        // Container-less treatment finds no container stock.
        refused(
            &l,
            gen,
            "waste.treated",
            json!({"generator": gen.org, "facility": "R1", "code": OIL,
        "quantity_g": 1, "method": "R9", "date": day}),
            422,
            "insufficient_stock",
        )
        .await;
        let (_, st) = l.get("/v1/stats/disposal").await;
        assert_eq!(st["treated_onsite_g"], 200_000, "{st}");
        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");
    }
);

storage_test!(
    closed_containers_leave_memory_and_are_still_known,
    |b| async move {
        let mut l = TestLedger::start(b).await;
        let reg = l.regulator.clone();
        let s = Scene::new(&l, 800).await;
        let gen = &s.gen;
        let day = cst_day(-1);
        let d = |n: u32| cid(&gen.org, OIL, &day, n);
        let (c1, c2, c3, c4) = (d(1), d(2), d(3), d(4));
        let drums: Vec<(String, i64)> = [&c1, &c2, &c3]
            .iter()
            .map(|id| ((*id).clone(), 100_000))
            .collect();
        let lot = seq(&l
            .ok(gen, "waste.declared", declare_drums(gen, OIL, &day, &drums))
            .await);
        l.ok(
            &reg,
            "facility.registered",
            json!({"org": gen.org, "facility": "R1", "kind": "utilize",
        "methods": ["R9"], "capacity_g": 10_000_000, "name": "再生装置"}),
        )
        .await;
        // c1 is treated on site; c2 and c3 are delivered, c3 counted missing, and disposed of.
        l.ok(
            gen,
            "waste.treated",
            json!({"generator": gen.org, "facility": "R1",
            "code": OIL, "quantity_g": 100_000, "method": "R9", "date": day, "containers": [c1]}),
        )
        .await;
        let m = new_id();
        l.ok(
            gen,
            "manifest.opened",
            json!({"manifest": m, "generator": gen.org,
            "carrier": s.carrier.org, "receiver": s.receiver.org,
            "lines": [line(OIL, 200_000, &[&c2, &c3])]}),
        )
        .await;
        l.ok(
            &s.carrier,
            "manifest.picked_up",
            json!({"manifest": m, "vehicle": "苏D", "containers": [c2, c3]}),
        )
        .await;
        l.ok(&s.receiver, "manifest.received", json!({"manifest": m, "lines": [
            {"code": OIL, "quantity_g": 100_000, "containers": [{"id": c2, "quantity_g": 100_000}]}]}))
            .await;
        dispose(&l, &s.receiver, &m, &[(OIL, 100_000, "R9")]).await;

        let lookups = "hwledger_container_lookups_total{found=\"true\"}";
        for round in ["before a restart", "after a restart"] {
            let before = l.metric(lookups).await;
            // A closed container's id stays taken, and it is named nowhere.
            for id in [&c1, &c2, &c3] {
                refused(
                    &l,
                    gen,
                    "waste.declared",
                    declare_drums(gen, OIL, &day, &[(id.clone(), 100)]),
                    422,
                    "container_exists",
                )
                .await;
                refused(
                    &l,
                    gen,
                    "manifest.opened",
                    json!({"manifest": new_id(), "generator": gen.org, "carrier": s.carrier.org,
                        "receiver": s.receiver.org, "lines": [line(OIL, 100_000, &[id])]}),
                    422,
                    "container_unavailable",
                )
                .await;
            }
            // The answers came from the database: the closed containers are not in memory.
            let after = l.metric(lookups).await;
            assert!(
                after >= before + 6,
                "{round}: the database was asked about each closed container"
            );
            assert_eq!(container(&l, &c1).await["status"], "treated", "{round}");
            assert_eq!(container(&l, &c2).await["status"], "received", "{round}");
            assert_eq!(container(&l, &c3).await["status"], "missing", "{round}");
            let lots = stock(&l, gen, true).await;
            let ours = lots
                .iter()
                .find(|x| x["seq"] == lot)
                .expect("the lot is listed");
            assert_eq!(
                ours["containers"][0],
                json!({"id": c1, "quantity_g": 100_000, "status": "treated"}),
                "{round}"
            );
            l.restart().await;
        }
        // A new container of the same lot's day is still welcome, and the ledger verifies.
        l.ok(
            gen,
            "waste.declared",
            declare_drums(gen, OIL, &day, &[(c4.clone(), 100_000)]),
        )
        .await;
        assert_eq!(container(&l, &c4).await["status"], "in_stock");
        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");
    }
);

/// (remaining_g, reserved_g) of a lot.
async fn lot_of(l: &TestLedger, gen: &Actor, seq: u64) -> (i64, i64) {
    lot(l, gen, seq, true).await.expect("the lot is listed")
}

storage_test!(
    a_lot_lists_its_containers_in_the_order_they_were_declared,
    |b| async move {
        let l = TestLedger::start(b).await;
        let s = Scene::new(&l, 600).await;
        let gen = &s.gen;
        let today = cst_day(0);
        let d = |n: u32| cid(&gen.org, OIL, &today, n);
        // Declared out of byte order: the list keeps the declaration's order.
        let order = [7u32, 2, 9, 1, 5, 3, 8, 4, 6];
        let drums: Vec<(String, i64)> = order
            .iter()
            .map(|&n| (d(n), 1_000 * i64::from(n)))
            .collect();
        l.ok(
            gen,
            "waste.declared",
            declare_drums(gen, OIL, &today, &drums),
        )
        .await;
        let listed = |lots: Vec<Value>| -> Vec<(String, i64)> {
            lots[0]["containers"]
                .as_array()
                .expect("a lot of containers lists them")
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_owned(),
                        c["quantity_g"].as_i64().unwrap(),
                    )
                })
                .collect()
        };
        assert_eq!(listed(stock(&l, gen, false).await), drums);
        let (ok, out) = verify_db(&l).await;
        assert!(ok, "{out}");
    }
);
