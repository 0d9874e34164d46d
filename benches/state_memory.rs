//! Where the derived state's memory goes: loads a snapshot and reports the heap bytes each part
//! of the state holds, per item and per ledger entry.
//!
//! ```text
//! cargo bench --bench state_memory -- SNAPSHOT LEDGER_KEY_PEM
//! ```
//!
//! `SNAPSHOT` is a file the service wrote (by default `FILE.snapshot` beside a SQLite database);
//! `LEDGER_KEY_PEM` is the ledger's key, whose public half the snapshot must be signed by. The
//! bytes are those the state asked the allocator for (each allocation's requested size, without
//! the allocator's own rounding and overhead); the service holds two such states, the
//! writer's and the published one read by the API.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};

use hwledger::domain::manifest::ManifestStatus;
use hwledger::domain::ticket::TicketStatus;

/// The system allocator, counting the bytes held.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed to `System` unchanged; only a counter is updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn held() -> i64 {
    HELD.load(Ordering::Relaxed) as i64
}

/// Runs `free` and returns the bytes it gave back.
fn freed(free: impl FnOnce()) -> i64 {
    let before = held();
    free();
    before - held()
}

/// How many items a part holds, and what they are.
type Count = Option<(u64, &'static str)>;

struct Report {
    entries: u64,
    /// (part, bytes, items)
    rows: Vec<(String, i64, Count)>,
}

impl Report {
    fn add(&mut self, part: &str, bytes: i64, count: Count) {
        self.rows.push((part.to_string(), bytes, count));
    }

    fn print(&self, total: i64) {
        println!(
            "{:<50} {:>8} {:>7} {:>26} {:>10}",
            "part of the state", "MB", "share", "B per item", "B / entry"
        );
        for (part, bytes, count) in &self.rows {
            let per_item = match count {
                Some((n, what)) if *n > 0 => format!("{} ({n} {what})", bytes / *n as i64),
                _ => String::new(),
            };
            println!(
                "{:<50} {:>8.1} {:>6.1}% {:>26} {:>10.0}",
                part,
                *bytes as f64 / 1e6,
                100.0 * *bytes as f64 / total as f64,
                per_item,
                *bytes as f64 / self.entries as f64
            );
        }
        println!(
            "{:<50} {:>8.1} {:>6.1}% {:>26} {:>10.0}",
            "the whole state",
            total as f64 / 1e6,
            100.0,
            "",
            total as f64 / self.entries as f64
        );
        println!(
            "at this mix, 10 million entries would hold {:.1} GB per copy of the state",
            total as f64 / self.entries as f64 * 1e7 / 1e9
        );
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [snapshot, key] = args.as_slice() else {
        // `cargo bench` with no arguments runs every bench: this one has nothing to measure
        // without a snapshot, and says so rather than failing the others' run.
        eprintln!(
            "state_memory: nothing measured; usage: cargo bench --bench state_memory -- SNAPSHOT LEDGER_KEY_PEM"
        );
        return Ok(());
    };
    let key = hwledger::protocol::keys::load(Path::new(key))?;
    let before = held();
    let (_, mut state) = hwledger::snapshot::read(Path::new(snapshot), &key.verifying_key())
        .map_err(|e| anyhow::anyhow!("{snapshot}: {e}"))?;
    let total = held() - before;
    println!("snapshot {snapshot}: {} entries", state.size);
    let mut r = Report {
        entries: state.size.max(1),
        rows: Vec::new(),
    };

    let closed = |s: ManifestStatus| {
        matches!(
            s,
            ManifestStatus::Disposed
                | ManifestStatus::Stored
                | ManifestStatus::Cancelled
                | ManifestStatus::Rejected
        )
    };
    let n = state.manifests.len() as u64;
    let n_closed = state
        .manifests
        .values()
        .filter(|m| closed(m.status))
        .count() as u64;
    let drums = freed(|| {
        for m in state.manifests.values_mut() {
            for l in &mut m.lines {
                l.containers = None;
            }
        }
    });
    let (closed_part, open_part): (Vec<_>, Vec<_>) = std::mem::take(&mut state.manifests)
        .into_iter()
        .partition(|(_, m)| closed(m.status));
    let closed_bytes = freed(|| drop(closed_part));
    let open_bytes = freed(|| drop(open_part));
    r.add(
        "manifests: their lines' container lists",
        drums,
        Some((n, "manifests")),
    );
    r.add(
        "manifests closed (disposed, stored, ...)",
        closed_bytes,
        Some((n_closed, "closed")),
    );
    r.add("manifests open", open_bytes, Some((n - n_closed, "open")));

    let lots = state.lots.len() as u64;
    let empty = state.lots.values().filter(|l| l.remaining_g == 0).count() as u64;
    let drums = freed(|| {
        for l in state.lots.values_mut() {
            l.containers = None;
        }
    });
    r.add("lots: their container lists", drums, Some((lots, "lots")));
    let bytes = freed(|| drop(std::mem::take(&mut state.lots)));
    r.add(
        "lots (one per declaration or storing)",
        bytes,
        Some((lots, "lots")),
    );
    println!("  of {lots} lots, {empty} have nothing left");

    let tickets = state.tickets.len() as u64;
    let closed_tickets = state
        .tickets
        .values()
        .filter(|t| t.status == TicketStatus::Closed)
        .count();
    let bytes = freed(|| drop(std::mem::take(&mut state.tickets)));
    r.add("tickets", bytes, Some((tickets, "tickets")));
    println!("  of {tickets} tickets, {closed_tickets} are closed");

    let live = state.containers.len() as u64;
    let out = state.containers.closed_out();
    let bytes = freed(|| drop(std::mem::take(&mut state.containers)));
    r.add(
        "containers in memory, and the closed ones' filter",
        bytes,
        Some((live, "in memory")),
    );
    println!("  {live} containers in memory, {out} closed and out of memory");

    let bytes = freed(|| drop(std::mem::take(&mut state.compliance)));
    r.add("compliance (classes, plans, books)", bytes, None);
    let n = state.treatments.len() as u64;
    let bytes = freed(|| drop(std::mem::take(&mut state.treatments)));
    r.add("on-site treatments", bytes, Some((n, "treatments")));
    let n = state.orgs.len() as u64;
    let bytes = freed(|| {
        drop(std::mem::take(&mut state.orgs));
        drop(std::mem::take(&mut state.keys));
        drop(std::mem::take(&mut state.licences));
        drop(std::mem::take(&mut state.facilities));
        drop(std::mem::take(&mut state.crossings));
    });
    r.add(
        "orgs, keys, licences, facilities, crossings",
        bytes,
        Some((n, "orgs")),
    );
    let bytes = freed(|| drop(state));
    r.add(
        "the rest (event ids, queues, chains, deadlines)",
        bytes,
        None,
    );
    r.print(total);
    Ok(())
}
