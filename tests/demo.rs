//! The demo district, as a newcomer meets it: `serve --demo` on an empty database builds it
//! through the API, leaves a key file per organisation that signs in, verifies, and does nothing
//! more when started again; `hwledger demo --url` fits it into a ledger's fortnight of
//! backdating and refuses a ledger that holds other entries.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::cli::*;
use common::harness::*;
use serde_json::{json, Value};

const FORTNIGHT_S: i64 = 14 * 86_400;
const IMPROPER_KINDS: [&str; 6] = [
    "quantity_shortfall",
    "unlicensed_receipt",
    "unlicensed_handling",
    "transit_overdue",
    "disposal_overdue",
    "storage_overdue",
];

fn get(url: &str) -> Value {
    ureq::get(url)
        .call()
        .expect("GET answers")
        .into_json()
        .expect("JSON")
}

/// GETs `path` with a read token of `org` signed by the key in `key_file`.
fn get_as(base: &str, key_file: &Path, org: &str, path: &str) -> Result<Value, String> {
    let key = hwledger::protocol::keys::load(key_file).unwrap();
    let token = hwledger::protocol::token::mint(
        &key,
        org,
        "hwledger.local",
        chrono::Utc::now().timestamp(),
        300,
    );
    ureq::get(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .map(|r| r.into_json().unwrap())
        .map_err(|e| e.to_string())
}

/// Waits until the log holds `needle`; fails early if the service stopped.
fn wait_for_log(log: &Path, needle: &str, child: &mut std::process::Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the service stopped ({status}) before {needle:?}:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The key files of a demo folder: (file name, org code), the code read from the name.
fn key_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap().to_owned();
            let org = stem.rsplit('-').next().unwrap().to_owned();
            (p, org)
        })
        .collect();
    out.sort();
    out
}

fn all_tickets(base: &str, regulator_key: &Path) -> Vec<Value> {
    let page = get_as(base, regulator_key, REGULATOR_ORG, "/v1/tickets?limit=1000").unwrap();
    assert!(page["next"].is_null(), "one page holds the demo's tickets");
    page["tickets"].as_array().unwrap().clone()
}

/// Waits until the sweeper has ticketed every passed deadline of the history.
fn wait_for_tickets(base: &str, regulator_key: &Path, kinds: &[&str]) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let tickets = all_tickets(base, regulator_key);
        let have: BTreeSet<&str> = tickets.iter().filter_map(|t| t["kind"].as_str()).collect();
        if kinds.iter().all(|k| have.contains(k)) {
            return tickets;
        }
        assert!(
            Instant::now() < deadline,
            "ticket kinds {have:?}, expected {kinds:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The checks a newcomer's first look makes: who is there, which key signs in as whom, what
/// the problem list holds.
fn check_district(base: &str, keys: &Path, tickets: &[Value]) {
    let regulator_key = keys.join(format!("监管-钟楼区生态环境局-{REGULATOR_ORG}.pem"));
    assert!(
        regulator_key.exists(),
        "the regulator's key is in the folder"
    );
    let readme = std::fs::read_to_string(keys.join("README.txt")).unwrap();
    let mut roles: BTreeMap<String, usize> = BTreeMap::new();
    for (file, org) in key_files(keys) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(readme.contains(name), "README.txt lists {name}");
        // The org's own key signs a token the service takes for that org.
        let me = get_as(base, &file, &org, &format!("/v1/orgs/{org}"))
            .unwrap_or_else(|e| panic!("{name} does not sign in: {e}"));
        assert_eq!(me["org"], json!(org));
        get_as(base, &file, &org, "/v1/tickets").expect("an org lists its tickets");
        let role = me["roles"][0].as_str().unwrap().to_owned();
        let label = name.split('-').next().unwrap();
        let expected = match role.as_str() {
            "regulator" => "监管",
            "generator" => "产废",
            "carrier" => "运输",
            "receiver" => "接收",
            other => panic!("role {other}"),
        };
        assert_eq!(label, expected, "{name} names the role");
        *roles.entry(role).or_default() += 1;
    }
    assert!(roles["generator"] >= 30, "{roles:?}");
    assert_eq!(roles["carrier"], 3, "{roles:?}");
    assert_eq!(roles["receiver"], 5, "{roles:?}");
    assert_eq!(roles["regulator"], 1, "{roles:?}");

    let kinds: BTreeSet<&str> = tickets.iter().filter_map(|t| t["kind"].as_str()).collect();
    // The two year-long limits fit only a ledger that allows backdating that far.
    for k in IMPROPER_KINDS {
        if !matches!(k, "disposal_overdue" | "storage_overdue") || kinds.contains(k) {
            assert!(kinds.contains(k), "a {k} ticket: {kinds:?}");
        }
    }
    let dumping: Vec<&Value> = tickets
        .iter()
        .filter(|t| t["kind"] == "reported_dumping")
        .collect();
    let statuses: BTreeSet<&str> = dumping
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    for s in ["open", "assigned", "rectified", "closed"] {
        assert!(
            statuses.contains(s),
            "a reported_dumping ticket {s}: {statuses:?}"
        );
    }
    let moved = |kind: &str| {
        dumping.iter().any(|t| {
            t["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["type"] == kind)
        })
    };
    assert!(moved("ticket.returned"), "one was returned");
    assert!(moved("ticket.reopened"), "one was reopened");
    for t in &dumping {
        let site = &t["subject"]["site"];
        assert!(site["address"].is_string() && site["lat"].is_i64() && site["lon"].is_i64());
    }
    // A responsible org rectified its own ticket.
    assert!(tickets.iter().any(|t| {
        t["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["type"] == "ticket.rectified")
            && t["responsible"].is_string()
    }));
    check_containers(base, &regulator_key, tickets, roles["generator"]);
    check_chains(base, &regulator_key);
}

/// Collectors in the demo: manifests stored by a collector (入库贮存), and an onward manifest it
/// opened from its stock, received and disposed of by the incinerator; the collector keeps the
/// rest in a lot that remembers where it came from.
/// Classes, plans, declarations and a compliance ticket (HJ 1259-2022), as the console's
/// plan, declaration and compliance pages show them.
fn check_plans(base: &str, regulator_key: &Path, tickets: &[Value]) {
    let mut entries = Vec::new();
    let mut from = 0;
    loop {
        let page = get_as(
            base,
            regulator_key,
            REGULATOR_ORG,
            &format!("/v1/entries?from={from}&limit=1000"),
        )
        .unwrap();
        let got = page["entries"].as_array().unwrap().clone();
        if got.is_empty() {
            break;
        }
        from += got.len();
        entries.extend(got);
    }
    let of = |kind: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|e| e["event"]["type"] == kind)
            .collect()
    };
    let plans = of("plan.filed");
    assert_eq!(plans.len(), 30, "a plan per generator");
    assert_eq!(of("org.class_set").len(), 11);
    // A plan reads back with what was declared against it.
    let plan = &plans[0]["event"]["body"];
    let view = get_as(
        base,
        regulator_key,
        REGULATOR_ORG,
        &format!(
            "/v1/plans/{}/{}",
            plan["org"].as_str().unwrap(),
            plan["year"]
        ),
    )
    .unwrap();
    assert_eq!(
        view["lines"].as_array().unwrap().len(),
        plan["lines"].as_array().unwrap().len()
    );
    assert!(
        view["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["declared_g"].as_i64() > Some(0)),
        "{view}"
    );
    // Declarations, each over the report the ledger still computes for its period.
    let declarations = of("declaration.filed");
    assert!(
        declarations.len() >= 8,
        "the 重点监管 units declare last month"
    );
    for d in &declarations {
        let b = &d["event"]["body"];
        let report = get_as(
            base,
            regulator_key,
            REGULATOR_ORG,
            &format!(
                "/v1/reports/declaration?org={}&period={}&size={}",
                b["org"].as_str().unwrap(),
                b["period"].as_str().unwrap(),
                d["seq"]
            ),
        )
        .unwrap();
        assert_eq!(report["report_sha256"], b["report_sha256"], "{b}");
        assert!(!report["lines"].as_array().unwrap().is_empty());
    }
    let over: Vec<&Value> = tickets
        .iter()
        .filter(|t| t["kind"] == "storage_over_capacity")
        .collect();
    assert_eq!(over.len(), 1, "the overfilled storage point");
    assert_eq!(over[0]["quantity_g"], 400_000);
    assert_eq!(over[0]["subject"]["facility"], "ZC01");
}

fn check_chains(base: &str, regulator_key: &Path) {
    let read = |path: &str| get_as(base, regulator_key, REGULATOR_ORG, path).unwrap();
    let stored = read("/v1/manifests?status=stored&limit=100");
    let stored = stored["manifests"].as_array().unwrap();
    assert_eq!(stored.len(), 2, "two manifests stored by the collector");
    let collector = stored[0]["receiver"].as_str().unwrap();
    let first = read(&format!(
        "/v1/manifests/{}",
        stored[0]["manifest"].as_str().unwrap()
    ));
    let line = &first["lines"][0];
    assert_eq!(line["stored_g"], line["received_g"], "{first}");
    assert!(line["lot"].is_u64(), "{first}");
    let onward = line["onward"].as_array().unwrap();
    assert_eq!(onward.len(), 1, "one onward manifest: {first}");
    let onward = read(&format!(
        "/v1/manifests/{}",
        onward[0]["manifest"].as_str().unwrap()
    ));
    assert_eq!(onward["generator"], json!(collector), "{onward}");
    assert_eq!(onward["status"], "disposed", "{onward}");
    let origin = onward["lines"][0]["origin"].as_array().unwrap();
    assert_eq!(origin.len(), 2, "from both stored lots: {onward}");
    assert!(origin.iter().all(|o| o["manifest"].is_string()), "{onward}");
    let stock = read(&format!("/v1/stock?generator={collector}"));
    let lots = stock["lots"].as_array().unwrap();
    assert_eq!(lots.len(), 1, "the rest stays at the collector: {stock}");
    assert!(lots[0]["origin"]["number"].is_string(), "{stock}");
    assert_eq!(lots[0]["facility"], "SJ01", "{stock}");
}

/// Protocol v2 in the demo: a storage point at every generator and an incinerator at one, drums
/// with codes in stock, a drum missing at a receipt named by its shortfall ticket, and waste
/// treated on site.
fn check_containers(base: &str, regulator_key: &Path, tickets: &[Value], generators: usize) {
    let read = |path: &str| get_as(base, regulator_key, REGULATOR_ORG, path).unwrap();
    let facilities = read("/v1/facilities");
    let facilities = facilities["facilities"].as_array().unwrap();
    let points = facilities
        .iter()
        .filter(|f| f["kind"] == "storage" && f["storage_type"] == "point")
        .count();
    assert_eq!(points, generators, "a storage point per generator");
    assert!(
        facilities
            .iter()
            .any(|f| f["kind"] == "dispose" && f["methods"] == json!(["D10"])),
        "an incinerator: {facilities:?}"
    );

    // The shortfall ticket of the receipt that left a drum out names it; the drum is missing.
    let named: Vec<&Value> = tickets
        .iter()
        .filter(|t| t["kind"] == "quantity_shortfall")
        .filter(|t| {
            t["subject"]["containers"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
        })
        .collect();
    assert_eq!(named.len(), 1, "one shortfall ticket names a container");
    let drums = named[0]["subject"]["containers"].as_array().unwrap();
    let drum = drums[0].as_str().unwrap();
    assert_eq!(drum.len(), 37, "a 37-character code: {drum}");
    let c = read(&format!("/v1/containers/{drum}"));
    assert_eq!(c["status"], "missing");
    let steps: Vec<&str> = c["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "waste.declared",
            "manifest.opened",
            "manifest.picked_up",
            "manifest.received",
            "manifest.disposed"
        ]
    );
    let m = read(&format!(
        "/v1/manifests/{}",
        named[0]["subject"]["manifest"].as_str().unwrap()
    ));
    assert_eq!(m["lines"][0]["containers"].as_array().unwrap().len(), 4);

    // Drums still in stock at the packer, with labels to print.
    let packer = c["org"].as_str().unwrap();
    let stock = read(&format!("/v1/stock?generator={packer}"));
    assert!(
        stock["lots"].as_array().unwrap().iter().any(|l| {
            l["facility"] == "ZC01"
                && l["containers"].as_array().is_some_and(|cs| {
                    !cs.is_empty() && cs.iter().all(|c| c["status"] == "in_stock")
                })
        }),
        "drums in stock: {stock}"
    );

    // Treated on site counts as proper.
    let stats = read("/v1/stats/disposal");
    assert!(
        stats["treated_onsite_g"].as_i64().unwrap() > 0,
        "treated on site: {stats}"
    );
}

fn verify(d: &Path, base: &str, keys: &Path) {
    let ledger_key = get(&format!("{base}/v1/ledger"))["ledger_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let regulator_key = keys.join(format!("监管-钟楼区生态环境局-{REGULATOR_ORG}.pem"));
    let out = hwledger(
        d,
        &[
            "verify",
            "--url",
            base,
            "--key",
            regulator_key.to_str().unwrap(),
            "--org",
            REGULATOR_ORG,
            "--ledger-key",
            &ledger_key,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    key_files(dir)
        .into_iter()
        .map(|(p, _)| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

storage_test!(serve_demo_builds_the_district_once, |b| async move {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = TestDb::new(b).await;
    // On SQLite the database sits in a folder of its own, so the keys go beside it.
    std::fs::create_dir(d.join("data")).unwrap();
    let db_flag = match b {
        Backend::Sqlite => "sqlite://data/ledger.db".to_owned(),
        Backend::Postgres => db.url.clone(),
    };
    let keys = match b {
        Backend::Sqlite => d.join("data/demo-keys"),
        Backend::Postgres => d.join("demo-keys"),
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = d.join("serve.log");
    let demo = ["--demo", "--demo-scale", "small", "--sweep-interval", "1s"];
    let mut child = serve_with(d, Some(&db_flag), port, &demo, Some(&log));
    let logged = wait_for_log(&log, "the demo district's ledger", &mut child);
    assert!(logged.contains("demo district built"), "{logged}");
    assert!(
        logged.contains("README.txt"),
        "the log says where the keys are: {logged}"
    );

    // The bureau's usual backdating is back, set by its regulator once the history was in.
    let ledger = get(&format!("{base}/v1/ledger"));
    assert_eq!(ledger["limits"]["max_backdate_s"], json!(FORTNIGHT_S));
    let regulator_key = keys.join(format!("监管-钟楼区生态环境局-{REGULATOR_ORG}.pem"));
    let size = ledger["size"].as_u64().unwrap();
    let tail = get_as(
        &base,
        &regulator_key,
        REGULATOR_ORG,
        &format!("/v1/entries?from={}", size.saturating_sub(50)),
    )
    .unwrap();
    let reset: Vec<&Value> = tail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "ledger.limits_set")
        .collect();
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0]["event"]["body"]["reason"], "演示数据录入完毕");
    let genesis = get_as(&base, &regulator_key, REGULATOR_ORG, "/v1/entries/0").unwrap();
    assert_eq!(
        genesis["event"]["body"]["limits"]["max_backdate_s"],
        json!(400 * 86_400)
    );
    assert_eq!(
        genesis["event"]["body"]["regulator"]["name"],
        "常州市钟楼生态环境局"
    );

    let tickets = wait_for_tickets(&base, &regulator_key, &IMPROPER_KINDS);
    check_district(&base, &keys, &tickets);
    check_plans(&base, &regulator_key, &tickets);
    verify(d, &base, &keys);

    // Started again with --demo, it builds nothing and rewrites no key.
    let before = snapshot(&keys);
    let size = get(&format!("{base}/v1/ledger"))["size"].as_u64().unwrap();
    assert!(sigterm(child).success());
    std::fs::write(&log, "").unwrap();
    let mut child = serve_with(d, Some(&db_flag), port, &demo, Some(&log));
    wait_for_log(&log, "already holds the demo district", &mut child);
    // The demo command says the same.
    let out = hwledger(
        d,
        &[
            "demo",
            "--url",
            &base,
            "--regulator-key",
            regulator_key.to_str().unwrap(),
            "--out",
            keys.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing to do"), "{}", text(&out));
    assert_eq!(get(&format!("{base}/v1/ledger"))["size"], json!(size));
    assert_eq!(snapshot(&keys), before);
    assert!(sigterm(child).success());
});

storage_test!(
    demo_command_fits_a_fortnight_and_refuses_other_ledgers,
    |b| async move {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let db = TestDb::new(b).await;
        let db_flag = (b == Backend::Postgres).then_some(db.url.as_str());
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let child = serve_with(d, db_flag, port, &["--sweep-interval", "1s"], None);
        let demo = |extra: &[&str]| {
            let mut args = vec![
                "demo",
                "--url",
                &base,
                "--regulator-key",
                "hwledger-keys/regulator.pem",
                "--scale",
                "small",
            ];
            args.extend(extra);
            hwledger(d, &args)
        };

        // A ledger that holds anything but its genesis is refused.
        let public =
            String::from_utf8(hwledger(d, &["keygen", "--out", "plant.pem"]).stdout).unwrap();
        std::fs::write(
            d.join("register.json"),
            json!({"type": "org.registered", "actor": REGULATOR_ORG,
               "body": {"org": org_id(9001), "name": "常州某化工有限公司", "region": "320404",
                        "roles": ["generator"], "keys": [public.trim()]}})
            .to_string(),
        )
        .unwrap();
        let url = base.as_str();
        let out = hwledger(
            d,
            &[
                "submit",
                "--key",
                "hwledger-keys/regulator.pem",
                "--url",
                url,
                "register.json",
            ],
        );
        assert!(out.status.success(), "{}", text(&out));
        let out = demo(&[]);
        assert!(!out.status.success());
        assert!(text(&out).contains("--force"), "{}", text(&out));
        assert_eq!(get(&format!("{base}/v1/ledger"))["size"], json!(2));
        assert!(!d.join("demo-keys").exists(), "a refusal writes nothing");

        // Forced, it fits the history into the fortnight the ledger allows, and says what did not fit.
        let out = demo(&["--force"]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("left out"), "{}", text(&out));
        let keys = d.join("demo-keys");
        let regulator_key = keys.join(format!("监管-钟楼区生态环境局-{REGULATOR_ORG}.pem"));
        let ledger = get(&format!("{base}/v1/ledger"));
        assert_eq!(ledger["limits"]["max_backdate_s"], json!(FORTNIGHT_S));
        let kinds: Vec<&str> = IMPROPER_KINDS
            .into_iter()
            .filter(|k| !matches!(*k, "disposal_overdue" | "storage_overdue"))
            .collect();
        let tickets = wait_for_tickets(&base, &regulator_key, &kinds);
        for kind in ["disposal_overdue", "storage_overdue"] {
            assert!(
                !tickets.iter().any(|t| t["kind"] == kind),
                "a year's {kind} limit does not fit a fortnight"
            );
        }
        check_district(&base, &keys, &tickets);

        // Again: nothing to do.
        let size = get(&format!("{base}/v1/ledger"))["size"].clone();
        let out = demo(&[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("nothing to do"), "{}", text(&out));
        assert_eq!(get(&format!("{base}/v1/ledger"))["size"], size);
        assert!(sigterm(child).success());
    }
);
