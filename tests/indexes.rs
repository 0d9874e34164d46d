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

/// A container's trace (`Store::container`), with the seqs its row lists.
const TRACE_QUERY: &str = "select container, seq, type, at, manifest, quantity_g from container_trace where container = 'x' and seq in (3, 5, 8) order by seq";

/// Who may read a container (`Store::manifests_party`), with the manifests of its trace.
const PARTY_QUERY: &str = "select count(*) from manifests where id in ('a', 'b') and (generator = 'y' or carrier = 'y' or receiver = 'y')";

/// The trace rows of a run of entries (`Store::container_trace_between`, `verify --db`).
const RUN_QUERY: &str = "select container, seq, type, at, manifest, quantity_g from container_trace where seq >= 100 and seq < 2100 order by seq, container";

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
    a_containers_trace_is_found_by_its_key_of_entry_and_container_alone,
    |b| async move {
        let mut l = TestLedger::start(b).await;
        l.stop().await;
        let (names, plan) = indexes_and_plan(&l.db, TRACE_QUERY).await;
        // The trace is keyed by (seq, container), written at its end; no other index of it.
        for gone in ["container_trace_manifest", "container_trace_seq"] {
            assert!(!names.iter().any(|n| n == gone), "{gone}: {names:?}");
        }
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("container_trace") && n != "container_trace_pkey"),
            "{names:?}"
        );
        // A container's trace rows are found by their key, from the seqs its row lists; the
        // manifests of its trace, for who may read it, by id.
        match b {
            Backend::Sqlite => assert!(
                plan.contains("SEARCH container_trace USING PRIMARY KEY (seq=? AND container=?)"),
                "{plan}"
            ),
            Backend::Postgres => assert!(plan.contains("container_trace_pkey"), "{plan}"),
        }
        assert!(
            !plan.contains("SCAN container_trace") && !plan.contains("Seq Scan"),
            "{plan}"
        );
        let (_, plan) = indexes_and_plan(&l.db, PARTY_QUERY).await;
        match b {
            Backend::Sqlite => assert!(
                plan.contains("SEARCH manifests USING INDEX sqlite_autoindex_manifests_1 (id=?)"),
                "{plan}"
            ),
            Backend::Postgres => assert!(plan.contains("manifests_pkey"), "{plan}"),
        }
        assert!(
            !plan.contains("SCAN manifests") && !plan.contains("Seq Scan"),
            "{plan}"
        );
        // A run of entries' rows is one range of the same key (on SQLite read in its order;
        // PostgreSQL's planner may sort a bitmap scan of a small table).
        let (_, plan) = indexes_and_plan(&l.db, RUN_QUERY).await;
        match b {
            Backend::Sqlite => {
                assert!(
                    plan.contains("SEARCH container_trace USING PRIMARY KEY (seq>? AND seq<?)"),
                    "{plan}"
                );
                assert!(!plan.contains("TEMP B-TREE"), "{plan}");
            }
            Backend::Postgres => assert!(
                plan.contains("Index Cond: ((seq >= 100) AND (seq < 2100))")
                    && plan.contains("container_trace_pkey"),
                "{plan}"
            ),
        }
    }
);

storage_test!(
    a_postgresql_database_whose_statistics_are_never_refreshed_is_named_at_start,
    |b| async move {
        let db = TestDb::new(b).await;
        if b == Backend::Postgres {
            // Without `track_counts` autovacuum never runs, so no ANALYZE refreshes the
            // planner's statistics of the query tables (superuser only, as in CI).
            let name = db.url.rsplit('/').next().unwrap().to_owned();
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(&format!("alter database {name} set track_counts = off"))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
        let store = Store::connect(&DbUrl::new(db.url.clone())).await.unwrap();
        let warnings = store.maintenance_warnings().await.unwrap();
        match b {
            Backend::Sqlite => assert!(warnings.is_empty(), "{warnings:?}"),
            Backend::Postgres => {
                assert_eq!(warnings.len(), 1, "{warnings:?}");
                assert!(
                    warnings[0].contains("track_counts = off"),
                    "{}",
                    warnings[0]
                );
                assert!(warnings[0].contains("ANALYZE"), "{}", warnings[0]);
            }
        }
    }
);
