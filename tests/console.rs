//! What the web console needs of the service beside the spec's reads, on SQLite and PostgreSQL:
//! the registry list (`GET /v1/orgs`), the licences that cover a waste code
//! (`GET /v1/licenses?covers=`), manifests by the CST date of their opening
//! (`GET /v1/manifests?from=&to=`), and the console's own files with their headers.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use common::fixtures::*;
use common::harness::*;
use serde_json::{json, Value};

use hwledger::api::web::{WebSource, CSP};
use hwledger::service::LimitFlags;

/// The `field` of every item of `list` in `v`.
fn column(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("a list {list}: {v}"))
        .iter()
        .map(|x| x[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// GETs `path` as `actor`, asserting 200.
async fn read(l: &TestLedger, actor: &Actor, path: &str) -> Value {
    let (s, v) = l.get_as(actor, path).await;
    assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
    v
}

// ----- the registry list --------------------------------------------------------------------

storage_test!(
    the_registry_lists_by_role_and_region_in_registration_order,
    |b| async move {
        let l = TestLedger::start(b).await;
        let gen_zl = l.register(1, &["generator"], ZHONGLOU).await;
        let carrier_xb = l.register(2, &["carrier"], XINBEI).await;
        let both_nj = l.register(3, &["generator", "carrier"], GULOU_NJ).await;
        let receiver_city = l.register(4, &["receiver"], "320400").await;
        let gen_sh = l.register(5, &["generator"], "310101").await;
        let reg = REGULATOR_ORG.to_owned();
        let all = [
            reg.clone(),
            gen_zl.org.clone(),
            carrier_xb.org.clone(),
            both_nj.org.clone(),
            receiver_city.org.clone(),
            gen_sh.org.clone(),
        ];

        // Any registered org may read it, as it may read one org; each item is the org's view.
        let v = read(&l, &gen_sh, "/v1/orgs").await;
        assert_eq!(column(&v, "orgs", "org"), all);
        assert_eq!(v["next"], Value::Null);
        let (_, one) = l
            .get_as(&gen_sh, &format!("/v1/orgs/{}", both_nj.org))
            .await;
        assert_eq!(
            one["class"]["class"], "registered",
            "an org shows its management class"
        );
        assert_eq!(
            v["orgs"][3], one,
            "the list shows what GET /v1/orgs/{{org}} shows"
        );
        assert_eq!(v["orgs"][3]["roles"], json!(["generator", "carrier"]));
        assert_eq!(v["orgs"][3]["keys"][0]["key"], both_nj.public());

        let orgs = |q: &'static str| {
            let l = &l;
            let who = &carrier_xb;
            async move { column(&read(l, who, &format!("/v1/orgs?{q}")).await, "orgs", "org") }
        };
        assert_eq!(
            orgs("role=generator").await,
            [
                gen_zl.org.as_str(),
                both_nj.org.as_str(),
                gen_sh.org.as_str()
            ]
        );
        assert_eq!(
            orgs("role=carrier").await,
            [carrier_xb.org.as_str(), both_nj.org.as_str()]
        );
        assert_eq!(orgs("role=receiver").await, [receiver_city.org.as_str()]);
        assert_eq!(orgs("role=regulator").await, [reg.as_str()]);
        // Region prefixes of every length: province, city, county, and the odd lengths between.
        assert_eq!(orgs("region=3").await, all.to_vec());
        assert_eq!(orgs("region=32").await, all[..5].to_vec());
        assert_eq!(orgs("region=31").await, [gen_sh.org.as_str()]);
        assert_eq!(orgs("region=320").await, all[..5].to_vec());
        assert_eq!(
            orgs("region=3204").await,
            [
                reg.as_str(),
                gen_zl.org.as_str(),
                carrier_xb.org.as_str(),
                receiver_city.org.as_str()
            ]
        );
        assert_eq!(
            orgs("region=32040").await,
            [
                reg.as_str(),
                gen_zl.org.as_str(),
                receiver_city.org.as_str()
            ]
        );
        assert_eq!(
            orgs("region=320404").await,
            [reg.as_str(), gen_zl.org.as_str()]
        );
        assert_eq!(orgs("region=320411").await, [carrier_xb.org.as_str()]);
        assert_eq!(orgs("region=320405").await, Vec::<String>::new());
        assert_eq!(orgs("region=4").await, Vec::<String>::new());
        assert_eq!(
            orgs("role=generator&region=32").await,
            [gen_zl.org.as_str(), both_nj.org.as_str()]
        );
        assert_eq!(
            orgs("role=carrier&region=3201").await,
            [both_nj.org.as_str()]
        );
        assert_eq!(
            orgs("role=receiver&region=3201").await,
            Vec::<String>::new()
        );

        // Pages of two, each `next` the cursor of the one after; filters hold across pages.
        let mut seen = Vec::new();
        let mut path = "/v1/orgs?limit=2".to_owned();
        loop {
            let v = read(&l, &gen_zl, &path).await;
            seen.extend(column(&v, "orgs", "org"));
            match v["next"].as_str() {
                Some(next) => path = format!("/v1/orgs?limit=2&after={next}"),
                None => break,
            }
        }
        assert_eq!(seen, all);
        let v = read(&l, &gen_zl, "/v1/orgs?role=generator&limit=1").await;
        assert_eq!(column(&v, "orgs", "org"), [gen_zl.org.as_str()]);
        let next = v["next"].as_str().expect("a next page").to_owned();
        let v = read(
            &l,
            &gen_zl,
            &format!("/v1/orgs?role=generator&limit=1&after={next}"),
        )
        .await;
        assert_eq!(column(&v, "orgs", "org"), [both_nj.org.as_str()]);

        // A key added later shows in the list too.
        let extra = key(777);
        l.ok(
            &gen_zl,
            "org.key_added",
            json!({"org": gen_zl.org, "key": hex::encode(extra.verifying_key().to_bytes())}),
        )
        .await;
        let v = read(&l, &gen_zl, "/v1/orgs?region=320404").await;
        assert_eq!(v["orgs"][1]["keys"].as_array().unwrap().len(), 2);

        // A token is needed; bad values and unknown parameters are refused.
        assert_problem(&l.get_with("/v1/orgs", None).await, 401, "token_missing");
        for q in [
            "role=boss",
            "role=Generator",
            "role=",
            "region=",
            "region=32a",
            "region=3204041",
            "region=%EF%BC%93",
            "limit=0",
            "limit=1001",
            "after=x",
            "regions=32",
            "org=1",
        ] {
            assert_problem(
                &l.get_as(&gen_zl, &format!("/v1/orgs?{q}")).await,
                400,
                "invalid_query",
            );
        }
    }
);

// ----- licences that cover a waste code ------------------------------------------------------

storage_test!(
    only_licences_that_cover_the_receipt_are_listed,
    |b| async move {
        let l = TestLedger::start(b).await;
        let gen = l.register(10, &["generator"], ZHONGLOU).await;
        let carrier = l.register(11, &["carrier"], ZHONGLOU).await;
        let mut receivers = Vec::new();
        for n in 20..30 {
            receivers.push(l.register(n, &["receiver"], "320400").await);
        }
        let r = |i: usize| &receivers[i];
        let valid = (cst_day(-30), cst_day(30));
        let issue = |i: usize, number: &'static str, scopes: Value, from: String, until: String| {
            let l = &l;
            let holder = r(i).clone();
            async move {
                issue_licence_valid(l, &holder, number, 1_000_000_000, &from, &until, scopes).await;
            }
        };
        // Covering: the code itself for storage; the category for disposal; utilisation among
        // others, in a second scope.
        issue(
            0,
            "L-CODE-STORE",
            json!([scope(&[OIL], &["store"])]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        issue(
            1,
            "L-CAT-DISPOSE",
            json!([scope(&["HW08"], &["dispose"])]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        issue(
            2,
            "L-SECOND-SCOPE",
            json!([
                scope(&[PACKAGING], ALL_ACTIVITIES),
                scope(&[OIL2, OIL], &["collect", "utilize"])
            ]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        // Not covering: suspended, revoked, expired, not yet valid, collection only, another code,
        // another category.
        issue(
            3,
            "L-SUSPENDED",
            json!([scope(&["HW08"], ALL_ACTIVITIES)]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        assert_eq!(
            licence_move(&l, "license.suspended", "L-SUSPENDED").await.0,
            StatusCode::CREATED
        );
        issue(
            4,
            "L-REVOKED",
            json!([scope(&["HW08"], ALL_ACTIVITIES)]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        assert_eq!(
            licence_move(&l, "license.revoked", "L-REVOKED").await.0,
            StatusCode::CREATED
        );
        issue(
            5,
            "L-EXPIRED",
            json!([scope(&["HW08"], ALL_ACTIVITIES)]),
            cst_day(-60),
            cst_day(-1),
        )
        .await;
        issue(
            6,
            "L-LATER",
            json!([scope(&["HW08"], ALL_ACTIVITIES)]),
            cst_day(1),
            cst_day(60),
        )
        .await;
        issue(
            7,
            "L-COLLECT",
            json!([scope(&[OIL, "HW08"], &["collect"])]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        issue(
            8,
            "L-OTHER-CODE",
            json!([scope(&[OIL2], ALL_ACTIVITIES)]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        issue(
            9,
            "L-OTHER-CAT",
            json!([scope(&["HW49"], ALL_ACTIVITIES)]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        // A suspended licence that was reinstated covers again.
        issue(
            3,
            "L-REINSTATED",
            json!([scope(&[OIL], &["dispose"])]),
            valid.0.clone(),
            valid.1.clone(),
        )
        .await;
        licence_move(&l, "license.suspended", "L-REINSTATED").await;
        licence_move(&l, "license.reinstated", "L-REINSTATED").await;

        let numbers = |q: String| {
            let l = &l;
            let gen = gen.clone();
            async move {
                column(
                    &read(l, &gen, &format!("/v1/licenses?{q}")).await,
                    "licenses",
                    "license",
                )
            }
        };
        let today = [
            "L-CAT-DISPOSE",
            "L-CODE-STORE",
            "L-REINSTATED",
            "L-SECOND-SCOPE",
        ];
        assert_eq!(numbers(format!("covers={OIL}")).await, today);
        assert_eq!(
            numbers(format!("covers={OIL}&date={}", cst_day(0))).await,
            today
        );
        // On another day, the licences valid then (status is the one in force now).
        assert_eq!(
            numbers(format!("covers={OIL}&date={}", cst_day(-1))).await,
            [
                "L-CAT-DISPOSE",
                "L-CODE-STORE",
                "L-EXPIRED",
                "L-REINSTATED",
                "L-SECOND-SCOPE"
            ]
        );
        assert_eq!(
            numbers(format!("covers={OIL}&date={}", cst_day(31))).await,
            ["L-LATER"]
        );
        // The category covers every code of it; the code alone covers only itself.
        assert_eq!(
            numbers(format!("covers={OIL2}")).await,
            ["L-CAT-DISPOSE", "L-OTHER-CODE", "L-SECOND-SCOPE"]
        );
        assert_eq!(
            numbers(format!("covers={PACKAGING}")).await,
            ["L-OTHER-CAT", "L-SECOND-SCOPE"]
        );
        assert_eq!(
            numbers(format!("covers={FLY_ASH}")).await,
            Vec::<String>::new()
        );
        // With a holder: that holder's only.
        assert_eq!(
            numbers(format!("covers={OIL}&holder={}", r(1).org)).await,
            ["L-CAT-DISPOSE"]
        );
        assert_eq!(
            numbers(format!("covers={OIL}&holder={}", r(3).org)).await,
            ["L-REINSTATED"]
        );
        assert_eq!(
            numbers(format!("covers={OIL}&holder={}", r(9).org)).await,
            Vec::<String>::new()
        );
        // Without covers, the list is unchanged: every licence.
        assert_eq!(numbers(String::new()).await.len(), 11);

        // The service's own rule agrees: a manifest to a receiver listed opens, to one not listed
        // it is refused as unlicensed.
        declare(&l, &gen, OIL, 1_000_000, &cst_day(0)).await;
        let listed: Vec<String> = read(&l, &gen, &format!("/v1/licenses?covers={OIL}")).await
            ["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["holder"].as_str().unwrap().to_owned())
            .collect();
        for (i, receiver) in receivers.iter().enumerate() {
            let id = new_id();
            let answer = l
                .submit(
                    &gen,
                    "manifest.opened",
                    open_body(&id, &gen, &carrier, receiver, &[(OIL, 1000)]),
                )
                .await;
            if listed.contains(&receiver.org) {
                assert_eq!(answer.0, StatusCode::CREATED, "receiver {i}: {}", answer.1);
            } else {
                assert_problem(&answer, 422, "unlicensed_receiver");
            }
        }

        // Bad queries.
        for q in [
            "covers=999-999-99".to_owned(),
            "covers=900-249-0".to_owned(),
            "covers=HW08".to_owned(),
            "covers=".to_owned(),
            format!("covers={ONLY_2025}&date=2024-12-31"),
            format!("covers={OIL}&date=2026-02-30"),
            format!("covers={OIL}&date=20260301"),
            format!("date={}", cst_day(0)),
            format!("covers={OIL}&activity=store"),
        ] {
            assert_problem(
                &l.get_as(&gen, &format!("/v1/licenses?{q}")).await,
                400,
                "invalid_query",
            );
        }
        // A code of the 2021 edition only is still a code on a 2025 date (its lots may be shipped).
        let (s, v) = l
            .get_as(&gen, &format!("/v1/licenses?covers={ONLY_2021}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_problem(
            &l.get_with(&format!("/v1/licenses?covers={OIL}"), None)
                .await,
            401,
            "token_missing",
        );
    }
);

// ----- manifests by the date of their opening -------------------------------------------------

/// `d` at `h:m:s.ms` China Standard Time, as an event timestamp.
fn cst_at(d: NaiveDate, h: u32, m: u32, s: u32, ms: u32) -> String {
    let local = d.and_hms_milli_opt(h, m, s, ms).unwrap();
    ts(Utc.from_utc_datetime(&(local - Duration::hours(8))))
}

storage_test!(manifests_by_the_cst_date_of_their_opening, |b| async move {
    let l = TestLedger::start_with(
        b,
        LimitFlags {
            max_backdate_s: Some(30 * 86_400),
            ..Default::default()
        },
    )
    .await;
    let s = Scene::new(&l, 40).await;
    let other = l.register(43, &["generator"], ZHONGLOU).await;
    let today = cst_today();
    let d = today - Duration::days(5);
    declare(&l, &s.gen, OIL, 100_000_000, &date(d - Duration::days(3))).await;
    declare(&l, &other, OIL, 100_000_000, &date(d - Duration::days(3))).await;
    let open_at = |at: String, g: &Actor| {
        let l = &l;
        let (g, c, r) = (g.clone(), s.carrier.clone(), s.receiver.clone());
        async move {
            let id = new_id();
            ok_at(
                l,
                &g,
                "manifest.opened",
                open_body(&id, &g, &c, &r, &[(OIL, 1000)]),
                &at,
            )
            .await;
            id
        }
    };
    // In ledger order: the last instant of d − 1, the first and last of d, the first of d + 1
    // (CST), then one entered late but dated d, then one of today by another generator.
    let eve = open_at(cst_at(d - Duration::days(1), 23, 59, 59, 999), &s.gen).await;
    let first = open_at(cst_at(d, 0, 0, 0, 0), &s.gen).await;
    let last = open_at(cst_at(d, 23, 59, 59, 999), &s.gen).await;
    let next = open_at(cst_at(d + Duration::days(1), 0, 0, 0, 0), &s.gen).await;
    let late = open_at(cst_at(d, 12, 0, 0, 0), &s.gen).await;
    let now = open_at(ts(Utc::now()), &other).await;
    pick_up(&l, &s.carrier, &first).await;

    let ids = |q: String| {
        let l = &l;
        async move {
            column(
                &read(l, &l.regulator, &format!("/v1/manifests?{q}")).await,
                "manifests",
                "manifest",
            )
        }
    };
    let (dd, d1, d2) = (
        date(d),
        date(d + Duration::days(1)),
        date(d + Duration::days(2)),
    );
    assert_eq!(
        ids(format!("from={dd}&to={d1}")).await,
        [first.as_str(), last.as_str(), late.as_str()]
    );
    assert_eq!(ids(format!("from={d1}&to={d2}")).await, [next.as_str()]);
    assert_eq!(ids(format!("to={dd}")).await, [eve.as_str()]);
    assert_eq!(
        ids(format!("from={d1}")).await,
        [next.as_str(), now.as_str()]
    );
    assert_eq!(
        ids(format!("from={dd}&to={dd}")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(format!("from={d2}&to={dd}")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(format!("from={}", date(today + Duration::days(1)))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(format!("from={}&to={d2}", date(d - Duration::days(1)))).await,
        [
            eve.as_str(),
            first.as_str(),
            last.as_str(),
            next.as_str(),
            late.as_str()
        ]
    );
    // With the other filters and the cursor.
    assert_eq!(
        ids(format!("from={dd}&to={d1}&status=picked_up")).await,
        [first.as_str()]
    );
    assert_eq!(
        ids(format!("from={dd}&to={d1}&status=opened")).await,
        [last.as_str(), late.as_str()]
    );
    assert_eq!(
        ids(format!("from={dd}&generator={}", other.org)).await,
        [now.as_str()]
    );
    assert_eq!(
        ids(format!("to={d2}&generator={}", other.org)).await,
        Vec::<String>::new()
    );
    let mut seen = Vec::new();
    let mut q = format!("from={dd}&to={d2}&limit=1");
    loop {
        let v = read(&l, &l.regulator, &format!("/v1/manifests?{q}")).await;
        seen.extend(column(&v, "manifests", "manifest"));
        match v["next"].as_str() {
            Some(n) => q = format!("from={dd}&to={d2}&limit=1&after={n}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [first.as_str(), last.as_str(), next.as_str(), late.as_str()]
    );
    // A party sees its own only, dates or not.
    let v = read(&l, &other, &format!("/v1/manifests?from={dd}")).await;
    assert_eq!(column(&v, "manifests", "manifest"), [now.as_str()]);
    let v = read(&l, &s.carrier, &format!("/v1/manifests?from={d1}")).await;
    assert_eq!(
        column(&v, "manifests", "manifest"),
        [next.as_str(), now.as_str()]
    );

    for q in [
        "from=2026-02-30",
        "to=20260301",
        "from=2026-3-01",
        "to=",
        "from=today",
    ] {
        assert_problem(
            &l.get(&format!("/v1/manifests?{q}")).await,
            400,
            "invalid_query",
        );
    }

    // The stored dates agree with a replay, and the migration that added them for older rows
    // computes the same ones on this backend.
    let (ok, out) = verify_db(&l).await;
    assert!(ok, "{out}");
    recompute_dates_as_the_migration_does(&l).await;
    let (ok, out) = verify_db(&l).await;
    assert!(ok, "after the migration's backfill: {out}");
    assert_eq!(
        ids(format!("from={dd}&to={d1}")).await,
        [first.as_str(), last.as_str(), late.as_str()]
    );
});

/// Blanks `manifests.opened_date` and runs the backfill statement of migration 0005.
async fn recompute_dates_as_the_migration_does(l: &TestLedger) {
    use sqlx::Connection;
    let migration = match l.db.backend {
        Backend::Sqlite => include_str!("../migrations/sqlite/0005_registry_and_dates.sql"),
        Backend::Postgres => include_str!("../migrations/postgres/0005_registry_and_dates.sql"),
    };
    let start = migration.find("update manifests").expect("the backfill");
    let statement = &migration[start..start + migration[start..].find(';').unwrap()];
    let blank = "update manifests set opened_date = ''";
    match l.db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&l.db.url).await.unwrap();
            sqlx::query(blank).execute(&mut c).await.unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&l.db.url).await.unwrap();
            sqlx::query(blank).execute(&mut c).await.unwrap();
            sqlx::query(statement).execute(&mut c).await.unwrap();
        }
    }
}

// ----- the console's files ------------------------------------------------------------------

async fn fetch(
    l: &TestLedger,
    path: &str,
    etag: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::get(path);
    if let Some(e) = etag {
        req = req.header(header::IF_NONE_MATCH, e);
    }
    l.respond(req.body(Body::empty()).unwrap()).await
}

fn header_of(h: &axum::http::HeaderMap, name: header::HeaderName) -> &str {
    h.get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

storage_test!(the_console_is_served_with_its_headers, |b| async move {
    let l = TestLedger::start(b).await;
    let (s, h, body) = fetch(&l, "/", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        header_of(&h, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_of(&h, header::CONTENT_SECURITY_POLICY), CSP);
    assert!(CSP.contains("script-src 'self'") && !CSP.contains("unsafe-inline"));
    assert_eq!(header_of(&h, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header_of(&h, header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(header_of(&h, header::CACHE_CONTROL), "no-cache");
    assert!(body.as_str().unwrap().contains("assets/app/main.js"));
    // Every answer carries the CSP, the API's included.
    let (_, h, _) = fetch(&l, "/v1/ledger", None).await;
    assert_eq!(header_of(&h, header::CONTENT_SECURITY_POLICY), CSP);

    let (s, h, _) = fetch(&l, "/assets/app/main.js", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        header_of(&h, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    let etag = header_of(&h, header::ETAG).to_owned();
    assert!(
        etag.starts_with('"') && etag.len() == 34,
        "a strong ETag: {etag}"
    );
    let (s, h, body) = fetch(&l, "/assets/app/main.js", Some(&etag)).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    assert_eq!(body, Value::String(String::new()));
    assert_eq!(header_of(&h, header::ETAG), etag);
    let (s, _, _) = fetch(
        &l,
        "/assets/app/main.js",
        Some(&format!("\"other\", {etag}")),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    let (s, _, _) = fetch(&l, "/assets/app/main.js", Some("\"stale\"")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, h, _) = fetch(&l, "/assets/css/console.css", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        header_of(&h, header::CONTENT_TYPE),
        "text/css; charset=utf-8"
    );

    // Nothing outside the console's folder, however the path is spelt.
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/%2E%2E/%2E%2E/Cargo.toml",
        "/assets/app/..%2f..%2f..%2fCargo.toml",
        "/assets/..%5cCargo.toml",
        "/assets//etc/passwd",
        "/assets/%2fetc%2fpasswd",
        "/assets/app/nothing.js",
    ] {
        let (s, h, v) = fetch(&l, path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        assert_eq!(
            header_of(&h, header::CONTENT_TYPE),
            "application/problem+json",
            "{path}"
        );
        assert_eq!(v["code"], "not_found", "{path}");
    }
});

storage_test!(a_console_folder_on_disk_keeps_to_itself, |b| async move {
    let mut l = TestLedger::start(b).await;
    let dir = tempfile::tempdir().unwrap();
    let web = dir.path().join("web");
    std::fs::create_dir_all(web.join("assets/app")).unwrap();
    std::fs::write(web.join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(web.join("assets/app/main.js"), "export {};\n").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    let service = l.service.as_mut().unwrap();
    service.state.web = WebSource::Dir(Arc::new(web));
    l.router = service.router();

    let (s, h, _) = fetch(&l, "/", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(header_of(&h, header::CONTENT_SECURITY_POLICY), CSP);
    let (s, h, v) = fetch(&l, "/assets/app/main.js", None).await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, Value::String("export {};\n".into()))
    );
    assert_eq!(
        header_of(&h, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    for path in [
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/assets/app/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
    ] {
        let (s, _, v) = fetch(&l, path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {v}");
        assert_eq!(v["code"], "not_found", "{path}");
    }
});

storage_test!(the_additions_are_in_the_openapi_document, |b| async move {
    let l = TestLedger::start(b).await;
    let (_, doc) = l.get_with("/openapi.json", None).await;
    let params = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has parameters"))
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(params("/v1/orgs"), ["role", "region", "limit", "after"]);
    assert!(!doc["paths"]["/v1/orgs"]["get"]["security"].is_null());
    assert_eq!(params("/v1/licenses"), ["holder", "covers", "date"]);
    let manifests = params("/v1/manifests");
    assert!(manifests.contains(&"from".to_owned()) && manifests.contains(&"to".to_owned()));
    for schema in ["OrgPage", "OrgView", "LicencePage", "ManifestPage"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert_eq!(
        doc["components"]["schemas"]["OrgPage"]["required"],
        json!(["orgs"]),
        "next may be null"
    );
});
