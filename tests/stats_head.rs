//! The proper-disposal rate for the head at now is answered from the maintained state even while
//! appends land between the request's read of the database head and its turn at the state:
//! such a request must not fall back to replaying the ledger (which takes seconds to minutes on
//! a real ledger).
//!
//! Its own test binary: the check reads the process-wide `hwledger_stats_replay_seconds`
//! histogram and `hwledger_read_catch_ups_total` counter, which no other test here may move.

mod common;

use axum::http::StatusCode;
use common::harness::*;

// Appends from several tasks while stats for the head are asked again and again.
storage_test!(
    stats_for_the_head_never_replay_under_appends,
    |b| async move {
        let l = std::sync::Arc::new(TestLedger::start(b).await);
        let writers: Vec<_> = (0..4u64)
            .map(|w| {
                let l = l.clone();
                tokio::spawn(async move {
                    for i in 0..25u64 {
                        l.register(10_000 + w * 100 + i, &["generator"], "320404")
                            .await;
                    }
                })
            })
            .collect();
        let mut answers = 0;
        while !writers.iter().all(|w| w.is_finished()) {
            let (s, v) = l.get("/v1/stats/disposal").await;
            assert_eq!(s, StatusCode::OK, "{v}");
            assert!(v["size"].as_u64().unwrap() >= 1, "{v}");
            answers += 1;
            tokio::task::yield_now().await;
        }
        for w in writers {
            w.await.unwrap();
        }
        assert!(answers > 0);
        // Answered at the final head as well, with the size of the whole ledger.
        let (_, v) = l.get("/v1/stats/disposal").await;
        assert_eq!(v["size"].as_u64(), Some(l.size().await));
        let replays = l.metric("hwledger_stats_replay_seconds_count").await;
        assert_eq!(
            replays, 0,
            "{answers} requests for the head made {replays} replays"
        );
        // Only this process writes: no read had the writer catch up, even with a round's
        // commit under way as it read the database's head.
        let catch_ups = l.metric("hwledger_read_catch_ups_total").await;
        assert_eq!(
            catch_ups, 0,
            "{answers} requests for the head had the writer catch up {catch_ups} times"
        );
    }
);
