//! Read access (spec §9) through the real router, on SQLite and PostgreSQL: which reads need a
//! token, every way a token is refused and the order of those checks, and what each org sees of
//! every read endpoint.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::fixtures::*;
use common::harness::*;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use hwledger::protocol::token;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A token made by hand: any header and claims, signed by `signer` over `header.claims`.
fn craft(header: &Value, claims: &Value, signer: &SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64(&signer.sign(input.as_bytes()).to_bytes()))
}

fn header_of(key: &SigningKey) -> Value {
    json!({"alg": "EdDSA", "kid": hex::encode(key.verifying_key().to_bytes()), "typ": "JWT"})
}

fn claims_of(org: &str, iat: i64, exp: i64) -> Value {
    json!({"iss": org, "aud": ORIGIN, "iat": iat, "exp": exp})
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Waits for the start of a second, so that a request made at once is judged in the second its
/// token was minted in (for the one-second-wide bounds).
async fn second_start() {
    let ms = chrono::Utc::now().timestamp_subsec_millis();
    if ms > 200 {
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(1000 - ms) + 5)).await;
    }
}

/// Every read that needs a token, with one valid path each.
fn protected(w: &World) -> Vec<String> {
    vec![
        "/v1/entries".into(),
        "/v1/entries/0".into(),
        format!("/v1/orgs/{}", w.g1.org),
        "/v1/licenses".into(),
        format!("/v1/licenses/{}", w.lic1),
        format!("/v1/stock?generator={}", w.g1.org),
        "/v1/manifests".into(),
        format!("/v1/manifests/{}", w.m[0]),
        "/v1/tickets".into(),
        format!("/v1/tickets/{}", w.t_manual),
        "/v1/tickets.csv".into(),
        "/v1/stats/disposal".into(),
    ]
}

/// Parties and objects: two generators, two carriers, two receivers, and one unrelated org of
/// each role (a second regulator among them); four manifests between different parties, the
/// first received short (an automatic ticket); a manual ticket with a responsible org and one
/// about an org; stock at both generators.
struct World {
    g1: Actor,
    g2: Actor,
    c1: Actor,
    c2: Actor,
    v1: Actor,
    v2: Actor,
    ug: Actor,
    uc: Actor,
    uv: Actor,
    ur: Actor,
    lic1: String,
    /// m[0]: g1 → c1 → v1 (received short), m[1]: g2 → c2 → v2, m[2]: g1 → c2 → v2,
    /// m[3]: g2 → c1 → v1; in opening order.
    m: Vec<String>,
    /// The automatic `quantity_shortfall` ticket of m[0].
    t_auto: String,
    /// A dumping site, assigned with g2 responsible.
    t_manual: String,
    /// About c2.
    t_org: String,
}

impl World {
    async fn new(l: &TestLedger) -> World {
        let g1 = l.register(101, &["generator"], ZHONGLOU).await;
        let g2 = l.register(102, &["generator"], XINBEI).await;
        let c1 = l.register(103, &["carrier"], ZHONGLOU).await;
        let c2 = l.register(104, &["carrier"], ZHONGLOU).await;
        let v1 = l.register(105, &["receiver"], "320400").await;
        let v2 = l.register(106, &["receiver"], "320400").await;
        let ug = l.register(107, &["generator"], ZHONGLOU).await;
        let uc = l.register(108, &["carrier"], ZHONGLOU).await;
        let uv = l.register(109, &["receiver"], ZHONGLOU).await;
        let ur = l.register(110, &["regulator"], ZHONGLOU).await;
        let scopes = json!([scope(&["HW08"], ALL_ACTIVITIES)]);
        issue_licence(l, &v1, "JSCZ-V1", 1_000_000_000, scopes.clone()).await;
        issue_licence(l, &v2, "JSCZ-V2", 1_000_000_000, scopes).await;
        declare(l, &g1, OIL, 10_000, &cst_day(0)).await;
        declare(l, &g2, OIL, 20_000, &cst_day(0)).await;
        let m0 = open(l, &g1, &c1, &v1, &[(OIL, 1_000)]).await;
        let m1 = open(l, &g2, &c2, &v2, &[(OIL, 1_000)]).await;
        let m2 = open(l, &g1, &c2, &v2, &[(OIL, 1_000)]).await;
        let m3 = open(l, &g2, &c1, &v1, &[(OIL, 1_000)]).await;
        pick_up(l, &c1, &m0).await;
        receive(l, &v1, &m0, &[(OIL, 900)]).await;
        let t_auto = ticket_of(l, "quantity_shortfall").await;
        let t_manual = new_id();
        l.ok(
            &l.regulator,
            "ticket.opened",
            json!({"ticket": t_manual, "kind": "reported_dumping", "subject": {"code": OIL, "site": {"address": "钟楼区某河道旁"}},
                   "summary": "群众举报倾倒"}),
        )
        .await;
        l.ok(
            &l.regulator,
            "ticket.assigned",
            json!({"ticket": t_manual, "lead": "钟楼生态环境局", "responsible": g2.org, "due": cst_day(30)}),
        )
        .await;
        let t_org = new_id();
        l.ok(
            &l.regulator,
            "ticket.opened",
            json!({"ticket": t_org, "kind": "illegal_storage", "subject": {"org": c2.org}, "summary": "核查"}),
        )
        .await;
        World {
            g1,
            g2,
            c1,
            c2,
            v1,
            v2,
            ug,
            uc,
            uv,
            ur,
            lic1: "JSCZ-V1".into(),
            m: vec![m0, m1, m2, m3],
            t_auto,
            t_manual,
            t_org,
        }
    }

    /// Everyone who reads, with a name for messages.
    fn everyone<'a>(&'a self, l: &'a TestLedger) -> Vec<(&'static str, &'a Actor)> {
        vec![
            ("regulator", &l.regulator),
            ("g1", &self.g1),
            ("g2", &self.g2),
            ("c1", &self.c1),
            ("c2", &self.c2),
            ("v1", &self.v1),
            ("v2", &self.v2),
            ("unrelated generator", &self.ug),
            ("unrelated carrier", &self.uc),
            ("unrelated receiver", &self.uv),
            ("second regulator", &self.ur),
        ]
    }

    fn regulates(&self, l: &TestLedger, a: &Actor) -> bool {
        a.org == l.regulator.org || a.org == self.ur.org
    }

    /// The manifests (indexes into `m`) `a` may read.
    fn manifests_of(&self, l: &TestLedger, a: &Actor) -> Vec<usize> {
        let parties = [
            [&self.g1, &self.c1, &self.v1],
            [&self.g2, &self.c2, &self.v2],
            [&self.g1, &self.c2, &self.v2],
            [&self.g2, &self.c1, &self.v1],
        ];
        (0..4)
            .filter(|&i| self.regulates(l, a) || parties[i].iter().any(|p| p.org == a.org))
            .collect()
    }

    /// The tickets `a` may read, in opening order.
    fn tickets_of(&self, l: &TestLedger, a: &Actor) -> Vec<String> {
        let mut out = Vec::new();
        let m0_parties = [&self.g1.org, &self.c1.org, &self.v1.org];
        if self.regulates(l, a) || m0_parties.contains(&&a.org) {
            out.push(self.t_auto.clone());
        }
        if self.regulates(l, a) || a.org == self.g2.org {
            out.push(self.t_manual.clone());
        }
        if self.regulates(l, a) || a.org == self.c2.org {
            out.push(self.t_org.clone());
        }
        out
    }
}

/// The id of the one automatic ticket of `kind`.
async fn ticket_of(l: &TestLedger, kind: &str) -> String {
    let (s, v) = l.get(&format!("/v1/tickets?kind={kind}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let tickets = v["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 1, "{v}");
    tickets[0]["ticket"].as_str().unwrap().to_owned()
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .map(|x| x[field].as_str().unwrap().to_owned())
        .collect()
}

/// The ticket ids of a CSV export, in row order.
fn csv_ids(body: &Value) -> Vec<String> {
    let text = body.as_str().expect("CSV text");
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let mut lines = text.split("\r\n");
    assert!(lines.next().unwrap().starts_with("编号,"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

/// Walks a list one item per page through its cursors.
async fn walk(l: &TestLedger, a: &Actor, path: &str, items: &str, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page_path = match &after {
            Some(c) => format!("{path}{sep}limit=1&after={c}"),
            None => format!("{path}{sep}limit=1"),
        };
        let (s, v) = l.get_as(a, &page_path).await;
        assert_eq!(s, StatusCode::OK, "{page_path}: {v}");
        out.extend(ids(&v[items], id));
        match v["next"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => return out,
        }
    }
}

storage_test!(public_reads_need_no_token_and_others_do, |b| async move {
    let l = TestLedger::start(b).await;
    let w = World::new(&l).await;
    for path in [
        "/v1/checkpoint",
        "/v1/ledger",
        "/v1/catalogue/codes",
        "/v1/catalogue/methods",
        "/healthz",
        "/metrics",
        "/openapi.json",
    ] {
        let (s, v) = l.get_with(path, None).await;
        assert_eq!(s, StatusCode::OK, "{path} is public: {v}");
    }
    for path in protected(&w) {
        let (s, headers, v) = l
            .respond(Request::get(&path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(
            (s.as_u16(), v["code"].as_str()),
            (401, Some("token_missing")),
            "{path}: {v}"
        );
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer", "{path}");
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/problem+json",
            "{path}"
        );
        // Posting events stays as it was: envelopes are signed.
    }
    let (s, _) = l
        .submit(
            &w.g1,
            "waste.declared",
            declare_body(&w.g1, OIL, 5, &cst_day(0)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "appends need no token");
    // The OpenAPI document names the scheme on the protected reads only.
    let (_, doc) = l.get_with("/openapi.json", None).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );
    let secured = |path: &str| !doc["paths"][path]["get"]["security"].is_null();
    for path in [
        "/v1/entries",
        "/v1/entries/{seq}",
        "/v1/orgs/{org}",
        "/v1/licenses",
        "/v1/licenses/{license}",
        "/v1/stock",
        "/v1/manifests",
        "/v1/manifests/{id}",
        "/v1/tickets",
        "/v1/tickets/{id}",
        "/v1/tickets.csv",
        "/v1/stats/disposal",
    ] {
        assert!(secured(path), "{path} names the bearer scheme");
    }
    for path in [
        "/v1/checkpoint",
        "/v1/ledger",
        "/v1/catalogue/codes",
        "/healthz",
    ] {
        assert!(!secured(path), "{path} is public");
    }
});

storage_test!(every_bad_token_has_its_code, |b| async move {
    let l = TestLedger::start(b).await;
    let g = l.register(201, &["generator"], ZHONGLOU).await;
    let carrier = l.register(202, &["carrier"], ZHONGLOU).await;
    let now = unix_now();
    let path = "/v1/manifests";
    let good = claims_of(&g.org, now, now + 300);
    let unregistered = key(9999);
    let expect = |auth: String, code: &'static str| {
        let l = &l;
        async move {
            let (s, headers, v) = l
                .respond(
                    Request::get(path)
                        .header("authorization", &auth)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(
                (s.as_u16(), v["code"].as_str()),
                (401, Some(code)),
                "{auth}: {v}"
            );
            let challenge = if code == "token_missing" {
                "Bearer"
            } else {
                "Bearer error=\"invalid_token\""
            };
            assert_eq!(headers[header::WWW_AUTHENTICATE], challenge);
        }
    };
    let accepted = |auth: String| {
        let l = &l;
        async move {
            let (s, v) = l.get_with(path, Some(&auth)).await;
            assert_eq!(s, StatusCode::OK, "{auth}: {v}");
        }
    };
    // The header.
    let (s, v) = l.get_with(path, None).await;
    assert_problem(&(s, v), 401, "token_missing");
    expect(format!("Basic {}", b64(b"user:pass")), "token_missing").await;
    expect("Bearer".into(), "token_missing").await;
    expect("Bearer ".into(), "token_missing").await;
    // The scheme is case-insensitive (RFC 7235).
    accepted(format!("bearer {}", token_of(&g))).await;
    // The form.
    expect(bearer("garbage"), "token_malformed").await;
    expect(bearer("a.b"), "token_malformed").await;
    expect(bearer("!!!.abc.def"), "token_malformed").await;
    let t = token_of(&g);
    let (h, rest) = t.split_once('.').unwrap();
    expect(bearer(&format!("{h}=.{rest}")), "token_malformed").await;
    expect(
        bearer(&format!("{}.{rest}", b64(b"[1]"))),
        "token_malformed",
    )
    .await;
    for claim in ["iss", "aud", "iat", "exp"] {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(claim);
        expect(
            bearer(&craft(&header_of(&g.key), &c, &g.key)),
            "token_malformed",
        )
        .await;
    }
    let mut c = good.clone();
    c["exp"] = json!(format!("{}", now + 300));
    expect(
        bearer(&craft(&header_of(&g.key), &c, &g.key)),
        "token_malformed",
    )
    .await;
    let mut h = header_of(&g.key);
    h.as_object_mut().unwrap().remove("kid");
    expect(bearer(&craft(&h, &good, &g.key)), "token_malformed").await;
    // The algorithm, named even when the rest would not fit EdDSA.
    let mut h = header_of(&g.key);
    h["alg"] = json!("none");
    let claims = b64(good.to_string().as_bytes());
    expect(
        bearer(&format!("{}.{claims}.", b64(h.to_string().as_bytes()))),
        "token_algorithm",
    )
    .await;
    h["alg"] = json!("HS256");
    expect(
        bearer(&format!(
            "{}.{claims}.{}",
            b64(h.to_string().as_bytes()),
            b64(&[7; 32])
        )),
        "token_algorithm",
    )
    .await;
    // The audience.
    let mut c = good.clone();
    c["aud"] = json!("other.hwledger.local");
    expect(
        bearer(&craft(&header_of(&g.key), &c, &g.key)),
        "token_audience",
    )
    .await;
    // The key: unknown, of another org.
    let t = token::mint(&unregistered, &g.org, ORIGIN, now, 300);
    expect(bearer(&t), "token_key").await;
    let t = token::mint(&carrier.key, &g.org, ORIGIN, now, 300);
    expect(bearer(&t), "token_key").await;
    let t = token::mint(&g.key, "ledger", ORIGIN, now, 300);
    expect(bearer(&t), "token_key").await;
    // The signature: a flipped bit, and another key's signature under g's kid.
    let t = token_of(&g);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig[0] ^= 0x01;
    expect(bearer(&format!("{input}.{}", b64(&sig))), "token_signature").await;
    expect(
        bearer(&craft(&header_of(&g.key), &good, &carrier.key)),
        "token_signature",
    )
    .await;
    // The time window: 60 s of skew on exp and on iat.
    let now = unix_now();
    expect(
        bearer(&token::mint(&g.key, &g.org, ORIGIN, now - 361, 300)),
        "token_expired",
    )
    .await;
    accepted(bearer(&token::mint(&g.key, &g.org, ORIGIN, now - 359, 300))).await;
    second_start().await;
    let now = unix_now();
    expect(
        bearer(&token::mint(&g.key, &g.org, ORIGIN, now + 61, 300)),
        "token_expired",
    )
    .await;
    accepted(bearer(&token::mint(&g.key, &g.org, ORIGIN, now + 59, 300))).await;
    // The lifetime: at most 600 s, and positive.
    let now = unix_now();
    expect(
        bearer(&token::mint(&g.key, &g.org, ORIGIN, now, 601)),
        "token_lifetime",
    )
    .await;
    accepted(bearer(&token::mint(&g.key, &g.org, ORIGIN, now, 600))).await;
    expect(
        bearer(&token::mint(&g.key, &g.org, ORIGIN, now, 0)),
        "token_lifetime",
    )
    .await;
    expect(
        bearer(&craft(
            &header_of(&g.key),
            &claims_of(&g.org, now + 10, now),
            &g.key,
        )),
        "token_lifetime",
    )
    .await;

    // The order of the checks: with two faults, the earlier check answers.
    let now = unix_now();
    let mut h = header_of(&g.key);
    h["alg"] = json!("HS256");
    let mut c = claims_of(&g.org, now, now + 900);
    c["aud"] = json!("elsewhere");
    expect(bearer(&craft(&h, &c, &g.key)), "token_algorithm").await;
    expect(
        bearer(&craft(&header_of(&g.key), &c, &g.key)),
        "token_audience",
    )
    .await;
    let late_and_long = claims_of(&g.org, now - 2000, now - 1000);
    expect(
        bearer(&craft(&header_of(&g.key), &late_and_long, &g.key)),
        "token_lifetime",
    )
    .await;
    let expired_unknown = token::mint(&unregistered, &g.org, ORIGIN, now - 1000, 300);
    expect(bearer(&expired_unknown), "token_expired").await;
    let unknown_forged = craft(
        &header_of(&unregistered),
        &claims_of(&g.org, now, now + 300),
        &g.key,
    );
    expect(bearer(&unknown_forged), "token_key").await;
    let mut c = claims_of(&g.org, now, now + 300);
    c.as_object_mut().unwrap().remove("exp");
    let mut h = header_of(&g.key);
    h["alg"] = json!("RS256");
    expect(bearer(&craft(&h, &c, &g.key)), "token_algorithm").await;

    // Revocation is read on every request, also for a token already verified once.
    let second = key(2011);
    l.ok(
        &g,
        "org.key_added",
        json!({"org": g.org, "key": hex::encode(second.verifying_key().to_bytes())}),
    )
    .await;
    let before = token_of(&g);
    accepted(bearer(&before)).await;
    l.ok(
        &g,
        "org.key_revoked",
        json!({"org": g.org, "key": g.public(), "reason": "泄露"}),
    )
    .await;
    expect(bearer(&before), "token_key").await;
    expect(bearer(&token_of(&g)), "token_key").await;
    let renewed = Actor {
        org: g.org.clone(),
        key: second,
    };
    accepted(bearer(&token_of(&renewed))).await;
});

storage_test!(
    a_revocation_through_one_service_holds_at_once_in_another,
    |b| async move {
        let l = TestLedger::start(b).await;
        let g = l.register(301, &["generator"], ZHONGLOU).await;
        let (second, other) = l.second_process().await;
        let t = bearer(&token_of(&g));
        assert_eq!(
            other.get_with("/v1/manifests", Some(&t)).await.0,
            StatusCode::OK
        );
        l.ok(
            &l.regulator,
            "org.key_revoked",
            json!({"org": g.org, "key": g.public(), "reason": "停业"}),
        )
        .await;
        assert_problem(
            &other.get_with("/v1/manifests", Some(&t)).await,
            401,
            "token_key",
        );
        second.shutdown().await;
    }
);

storage_test!(who_sees_what, |b| async move {
    let l = TestLedger::start(b).await;
    let w = World::new(&l).await;
    let (_, all) = l.get("/v1/manifests").await;
    let numbers: Vec<String> = all["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["number"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids(&all["manifests"], "manifest"), w.m);
    // A 404 for what one may not see reads exactly as for what does not exist.
    let missing_manifest = new_id();
    let missing_ticket = new_id();
    let (_, no_route) = l.get("/v1/no-such-path").await;

    for (name, a) in w.everyone(&l) {
        let regulator = w.regulates(&l, a);
        let get = |path: String| {
            let l = &l;
            async move { l.get_as(a, &path).await }
        };

        // The list of entries is for regulators; one entry is readable by the org that signed
        // it and by the parties of the manifest or ticket it concerns, and is otherwise 404
        // exactly as an entry that does not exist.
        let (s, v) = get("/v1/entries".into()).await;
        if regulator {
            assert_eq!(s, StatusCode::OK, "{name}: {v}");
            let (s, v) = get(format!("/v1/entries?from={}", u64::MAX)).await;
            assert_eq!((s, &v["entries"]), (StatusCode::OK, &json!([])), "{name}");
        } else {
            assert_eq!(
                (s, &v),
                (StatusCode::NOT_FOUND, &no_route),
                "{name} /v1/entries"
            );
        }
        let (_, absent) = l.get("/v1/entries/999999").await;
        let (s, v) = get("/v1/entries/999999".into()).await;
        assert_eq!((s, &v), (StatusCode::NOT_FOUND, &absent), "{name}");
        let mine = w.manifests_of(&l, a);
        for (i, id) in w.m.iter().enumerate() {
            let (_, m) = l.get(&format!("/v1/manifests/{id}")).await;
            for h in m["history"].as_array().unwrap() {
                let seq = h["seq"].as_u64().unwrap();
                let (s, v) = get(format!("/v1/entries/{seq}")).await;
                if regulator || mine.contains(&i) {
                    assert_eq!(s, StatusCode::OK, "{name} entry {seq} of manifest {i}: {v}");
                    assert_eq!(v["hash"], h["hash"], "{name}");
                } else {
                    let (_, absent) = l.get(&format!("/v1/entries/{}", u64::MAX)).await;
                    assert_eq!(s, StatusCode::NOT_FOUND, "{name} entry {seq}");
                    assert_eq!(v["code"], "not_found");
                    assert_eq!(
                        v["detail"].as_str().unwrap().replace(&seq.to_string(), "N"),
                        absent["detail"]
                            .as_str()
                            .unwrap()
                            .replace(&u64::MAX.to_string(), "N"),
                        "{name}: worded as if entry {seq} did not exist"
                    );
                }
            }
        }
        // The genesis is the ledger's and concerns no org: regulators only.
        let (s, _) = get("/v1/entries/0".into()).await;
        assert_eq!(
            s.as_u16(),
            if regulator { 200 } else { 404 },
            "{name} entry 0"
        );

        // The registry is public to every org.
        for path in [
            format!("/v1/orgs/{}", w.g1.org),
            format!("/v1/orgs/{}", w.uv.org),
            format!("/v1/licenses/{}", w.lic1),
        ] {
            let (s, v) = get(path.clone()).await;
            assert_eq!(s, StatusCode::OK, "{name} {path}: {v}");
        }
        let (_, v) = get("/v1/licenses".into()).await;
        assert_eq!(
            ids(&v["licenses"], "license"),
            ["JSCZ-V1", "JSCZ-V2"],
            "{name}"
        );
        let (_, v) = get(format!("/v1/licenses?holder={}", w.v2.org)).await;
        assert_eq!(ids(&v["licenses"], "license"), ["JSCZ-V2"], "{name}");

        // Stock: its own only.
        for (gen, quantity) in [(&w.g1, 10_000), (&w.g2, 20_000)] {
            let path = format!("/v1/stock?generator={}", gen.org);
            let (s, v) = get(path.clone()).await;
            if regulator || a.org == gen.org {
                assert_eq!(s, StatusCode::OK, "{name} {path}: {v}");
                assert_eq!(v["lots"][0]["quantity_g"], quantity, "{name}");
            } else {
                assert_eq!(
                    (s.as_u16(), v["code"].as_str(), v["detail"].as_str()),
                    (
                        404,
                        Some("not_found"),
                        Some(format!("stock of {} not found", gen.org).as_str())
                    ),
                    "{name} {path}"
                );
            }
        }
        let (s, v) = get(format!("/v1/stock?generator={}", org_id(99_999))).await;
        assert_eq!(s.as_u16(), if regulator { 200 } else { 404 }, "{name}: {v}");

        // Manifests: where it is a party; lists hold exactly those, in opening order.
        let mine = w.manifests_of(&l, a);
        let mine_ids: Vec<String> = mine.iter().map(|&i| w.m[i].clone()).collect();
        let (s, v) = get("/v1/manifests".into()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ids(&v["manifests"], "manifest"), mine_ids, "{name}");
        assert_eq!(
            walk(&l, a, "/v1/manifests", "manifests", "manifest").await,
            mine_ids,
            "{name}, a page at a time"
        );
        let (_, v) = get("/v1/manifests?status=opened".into()).await;
        let opened: Vec<String> = mine
            .iter()
            .filter(|&&i| i != 0)
            .map(|&i| w.m[i].clone())
            .collect();
        assert_eq!(ids(&v["manifests"], "manifest"), opened, "{name} opened");
        let (_, v) = get(format!("/v1/manifests?generator={}", w.g1.org)).await;
        let of_g1: Vec<String> = mine
            .iter()
            .filter(|&&i| i == 0 || i == 2)
            .map(|&i| w.m[i].clone())
            .collect();
        assert_eq!(
            ids(&v["manifests"], "manifest"),
            of_g1,
            "{name} generator=g1"
        );
        let (_, v) = get(format!(
            "/v1/manifests?carrier={}&receiver={}",
            w.c1.org, w.v1.org
        ))
        .await;
        let c1_v1: Vec<String> = mine
            .iter()
            .filter(|&&i| i == 0 || i == 3)
            .map(|&i| w.m[i].clone())
            .collect();
        assert_eq!(
            ids(&v["manifests"], "manifest"),
            c1_v1,
            "{name} carrier=c1&receiver=v1"
        );
        for (i, (id, number)) in w.m.iter().zip(&numbers).enumerate() {
            for key in [id, number] {
                let (s, v) = get(format!("/v1/manifests/{key}")).await;
                if mine.contains(&i) {
                    assert_eq!(s, StatusCode::OK, "{name} manifest {i}: {v}");
                    assert_eq!(v["manifest"], id.as_str());
                } else {
                    let (_, absent) = l.get(&format!("/v1/manifests/{missing_manifest}")).await;
                    let absent = absent.to_string().replace(&missing_manifest, key);
                    assert_eq!(
                        (s, v.to_string()),
                        (StatusCode::NOT_FOUND, absent),
                        "{name} manifest {i}"
                    );
                }
            }
        }

        // Tickets: its subject or responsible org, or of a manifest it may read.
        let tickets = w.tickets_of(&l, a);
        let (_, v) = get("/v1/tickets".into()).await;
        assert_eq!(ids(&v["tickets"], "ticket"), tickets, "{name} tickets");
        assert_eq!(
            walk(&l, a, "/v1/tickets", "tickets", "ticket").await,
            tickets,
            "{name} tickets, a page at a time"
        );
        let (s, v) = get("/v1/tickets.csv".into()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(csv_ids(&v), tickets, "{name} CSV");
        // The org filter narrows what one may see, never widens it.
        let (_, v) = get(format!("/v1/tickets?org={}", w.g2.org)).await;
        let of_g2: Vec<String> = tickets
            .iter()
            .filter(|t| **t == w.t_manual)
            .cloned()
            .collect();
        assert_eq!(ids(&v["tickets"], "ticket"), of_g2, "{name} org=g2");
        let (_, v) = get(format!("/v1/tickets.csv?org={}", w.c1.org)).await;
        let of_c1: Vec<String> = tickets
            .iter()
            .filter(|t| **t == w.t_auto)
            .cloned()
            .collect();
        assert_eq!(csv_ids(&v), of_c1, "{name} CSV org=c1");
        for t in [&w.t_auto, &w.t_manual, &w.t_org] {
            let (s, v) = get(format!("/v1/tickets/{t}")).await;
            if tickets.contains(t) {
                assert_eq!(s, StatusCode::OK, "{name} ticket {t}: {v}");
            } else {
                let (_, absent) = l.get(&format!("/v1/tickets/{missing_ticket}")).await;
                let absent = absent.to_string().replace(&missing_ticket, t);
                assert_eq!(
                    (s, v.to_string()),
                    (StatusCode::NOT_FOUND, absent),
                    "{name} ticket {t}"
                );
            }
        }

        // The rate: regulators any org or none; others their own, which is the default.
        let figures = |v: &Value| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("as_of");
            v
        };
        let (s, v) = get("/v1/stats/disposal".into()).await;
        assert_eq!(s, StatusCode::OK, "{name}: {v}");
        let (_, whole) = l.get("/v1/stats/disposal").await;
        let (_, own) = l.get(&format!("/v1/stats/disposal?org={}", a.org)).await;
        assert_eq!(
            figures(&v),
            figures(if regulator { &whole } else { &own }),
            "{name}"
        );
        let (s, v) = get(format!("/v1/stats/disposal?org={}", a.org)).await;
        assert_eq!(
            (s, figures(&v)),
            (StatusCode::OK, figures(&own)),
            "{name} org=itself"
        );
        let (s, v) = get(format!("/v1/stats/disposal?org={}&category=HW08", w.g1.org)).await;
        if regulator || a.org == w.g1.org {
            assert_eq!(s, StatusCode::OK, "{name}: {v}");
        } else {
            assert_problem(&(s, v), 404, "not_found");
        }
    }
    // The figures differ by org, so the comparisons above tell them apart.
    let (_, whole) = l.get("/v1/stats/disposal").await;
    let (_, g1) = l.get_as(&w.g1, "/v1/stats/disposal").await;
    // m[0] took 1,000 g of g1's 10,000; the others are not picked up yet.
    assert_eq!(whole["stored_g"], 9_000 + 20_000);
    assert_eq!(g1["stored_g"], 9_000);
});

storage_test!(replays_of_the_past_are_rationed_per_org, |b| async move {
    let l = TestLedger::start(b).await;
    let g = l.register(95_001, &["generator"], "320404").await;
    let h = l.register(95_002, &["generator"], "320404").await;
    let size = l.size().await;
    let past = format!("/v1/stats/disposal?size={}", size - 1);
    // Each figure of an earlier size replays the ledger; an org has six a minute.
    for n in 1..=6 {
        let (status, v) = l.get_as(&g, &past).await;
        assert_eq!(status, 200, "replay {n}: {v}");
    }
    let (status, headers, v) = l
        .respond(
            axum::http::Request::get(&past)
                .header("authorization", format!("Bearer {}", token_of(&g)))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        (status.as_u16(), v["code"].as_str()),
        (429, Some("rate_limited")),
        "{v}"
    );
    let after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&after));
    // The head costs no replay; another org has its own share; regulators are not rationed.
    assert_eq!(l.get_as(&g, "/v1/stats/disposal").await.0, 200);
    assert_eq!(l.get_as(&h, &past).await.0, 200);
    for _ in 0..8 {
        assert_eq!(l.get(&past).await.0, 200);
    }
});
