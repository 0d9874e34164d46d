//! The indexes the writer keeps up to date, on SQLite and PostgreSQL: every index is written on
//! every insert, so the schema keeps only those a query reads, and the queries that read them
//! still find their rows through an index rather than a scan of the history.

mod common;

use common::harness::*;
use hwledger::store::{DbUrl, Store};
use serde_json::json;
use sqlx::{Connection, Row};

/// The start-up lookup of the limits in force (`Store::limits_in_force`).
const LIMITS_QUERY: &str =
    "select event from entries where type in ('ledger.genesis', 'ledger.limits_set') order by seq";

/// Who may read a container (`Store::container_party`).
const PARTY_QUERY: &str = "select count(*) from container_trace t join manifests m on m.id = t.manifest where t.container = 'x' and (m.generator = 'y' or m.carrier = 'y' or m.receiver = 'y')";

/// The names of the indexes of the ledger's tables, and the plan of `query` as text (on
/// PostgreSQL with sequential scans priced out, so that the plan shows which index can serve
/// it even on a small table).
async fn indexes_and_plan(db: &TestDb, query: &str) -> (Vec<String>, String) {
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let names = sqlx::query_scalar("select name from sqlite_master where type = 'index'")
                .fetch_all(&mut c)
                .await
                .unwrap();
            let plan: Vec<String> = sqlx::query(&format!("explain query plan {query}"))
                .fetch_all(&mut c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect();
            (names, plan.join("\n"))
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let names = sqlx::query_scalar(
                "select indexname::text from pg_indexes where schemaname = current_schema()",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            sqlx::query("set enable_seqscan = off")
                .execute(&mut c)
                .await
                .unwrap();
            let plan: Vec<String> = sqlx::query(&format!("explain {query}"))
                .fetch_all(&mut c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
            (names, plan.join("\n"))
        }
    }
}

storage_test!(
    the_limits_in_force_are_found_through_an_index_of_limit_entries_only,
    |b| async move {
        let mut l = TestLedger::start(b).await;
        l.register(501, &["generator"], "320404").await;
        let limits = json!({"limits": {"transit_s": 86400, "disposal_s": 86400, "storage_s": 86400, "max_backdate_s": 86400, "shortfall_bp": 50}, "reason": "试点"});
        l.ok(&l.regulator, "ledger.limits_set", limits).await;
        l.register(502, &["carrier"], "320404").await;
        l.restart().await;
        assert_eq!(l.get("/v1/ledger").await.1["limits"]["shortfall_bp"], 50);
        l.stop().await;

        let store = Store::connect(&DbUrl::new(l.db.url.clone())).await.unwrap();
        let limits = store.limits_in_force().await.unwrap().expect("limits");
        assert_eq!(limits.shortfall_bp, 50, "the limits_set entry is read");
        assert_eq!(limits.transit_s, 86_400);
        drop(store);

        let (names, plan) = indexes_and_plan(&l.db, LIMITS_QUERY).await;
        assert!(names.iter().any(|n| n == "entries_limits"), "{names:?}");
        assert!(
            !names.iter().any(|n| n == "entries_type"),
            "no index of every entry by type: {names:?}"
        );
        assert!(plan.contains("entries_limits"), "{plan}");
    }
);

storage_test!(
    a_containers_readers_are_found_without_an_index_by_manifest,
    |b| async move {
        let mut l = TestLedger::start(b).await;
        l.stop().await;
        let (names, plan) = indexes_and_plan(&l.db, PARTY_QUERY).await;
        assert!(
            !names.iter().any(|n| n == "container_trace_manifest"),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n == "container_trace_seq"),
            "{names:?}"
        );
        // The trace rows are found by their key (container, seq), the manifests by id.
        let key = match b {
            Backend::Sqlite => "sqlite_autoindex_container_trace_1",
            Backend::Postgres => "container_trace_pkey",
        };
        assert!(plan.contains(key), "{plan}");
        assert!(
            !plan.contains("SCAN m") && !plan.contains("Seq Scan"),
            "{plan}"
        );
    }
);
