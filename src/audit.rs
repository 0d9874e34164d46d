//! Offline recomputation of a ledger from its entries alone: the core of `hwledger verify`.
//!
//! An [`Auditor`] takes the entries in order and checks, for each, its place in the sequence,
//! its link to the previous entry, the hash its source states, its `recorded_at`, its
//! signature, and every rule, by feeding it to the same [`State::submit`] the service uses. The
//! first entry that fails is named with the reason.

use std::fmt;

use crate::domain::state::{State, Verdict};
use crate::protocol::event::{self, Entry, Hash, Prepared, ZERO_HASH};
use crate::protocol::merkle::{self, Frontier};
use crate::protocol::time::{self, Timestamp};
use crate::store::ContainerStep;

/// The first problem found, at an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub seq: u64,
    pub reason: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "entry {}: {}", self.seq, self.reason)
    }
}

/// Replays a ledger entry by entry.
pub struct Auditor {
    state: State,
    frontier: Frontier,
    prev: Hash,
    last_recorded: Option<Timestamp>,
    /// Roots of the prefixes a caller asked to remember (for older checkpoints).
    watch: Vec<(u64, Option<Hash>)>,
    /// The container trace rows the entries call for, when asked to keep them.
    steps: Option<Vec<ContainerStep>>,
}

impl Auditor {
    pub fn new(ledger_key: [u8; 32]) -> Auditor {
        Auditor {
            state: State::new(ledger_key),
            frontier: Frontier::new(),
            prev: ZERO_HASH,
            last_recorded: None,
            watch: Vec::new(),
            steps: None,
        }
    }

    /// Asks to keep the container trace rows (`container_trace`) each accepted entry calls
    /// for, to compare with a database's; [`Auditor::take_container_steps`] hands them over.
    pub fn keep_container_steps(&mut self) {
        self.steps.get_or_insert_with(Vec::new);
    }

    /// The container trace rows kept since the last call, in entry order.
    pub fn take_container_steps(&mut self) -> Vec<ContainerStep> {
        self.steps.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Asks to remember the root of the prefix of `size` entries when the replay passes it.
    pub fn remember_root_at(&mut self, size: u64) {
        self.watch.push((
            size,
            if size == 0 {
                Some(merkle::empty_root())
            } else {
                None
            },
        ));
    }

    /// The remembered root of the prefix of `size` entries.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        self.watch
            .iter()
            .find(|(s, _)| *s == size)
            .and_then(|(_, r)| *r)
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub fn head(&self) -> Hash {
        self.prev
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The `recorded_at` of the last entry checked.
    pub fn last_recorded(&self) -> Option<Timestamp> {
        self.last_recorded
    }

    /// Checks the next run of consecutive entries; `stated` is the hash the source claims for
    /// each (an export's `hash`, the database's hash column), if it claims one.
    pub fn check(&mut self, entries: &[(Entry, Option<Hash>)]) -> Result<(), Finding> {
        let prepared = Self::prepare(entries);
        self.apply(entries, prepared)
    }

    /// The first stage of [`Auditor::check`], which needs no state and so may run on other
    /// threads while the previous run is applied: each entry's shape (its event read and checked
    /// against the schemas), spread over the cores, and then its signature, likewise.
    pub fn prepare(entries: &[(Entry, Option<Hash>)]) -> Vec<Result<Prepared, String>> {
        let mut prepared = event::map_on_cores(entries, |(e, _)| Prepared::from_entry(e));
        event::verify_shaped(&mut prepared);
        prepared
    }

    /// The second stage of [`Auditor::check`]: the entries in order, with what
    /// [`Auditor::prepare`] made of them. The first failure is the finding.
    pub fn apply(
        &mut self,
        entries: &[(Entry, Option<Hash>)],
        prepared: Vec<Result<Prepared, String>>,
    ) -> Result<(), Finding> {
        for ((entry, stated), p) in entries.iter().zip(prepared) {
            let fail = |reason: String| Finding {
                seq: entry.seq,
                reason,
            };
            let expected = self.size();
            if entry.seq != expected {
                return Err(fail(format!("expected seq {expected} here")));
            }
            if entry.prev != self.prev {
                return Err(fail(format!(
                    "prev {} is not the hash of the entry before, {}",
                    hex::encode(entry.prev),
                    hex::encode(self.prev)
                )));
            }
            let hash = entry.hash();
            if let Some(s) = stated {
                if *s != hash {
                    return Err(fail(format!(
                        "the stated hash {} is not the entry's hash {}: the entry was altered",
                        hex::encode(s),
                        hex::encode(hash)
                    )));
                }
            }
            let recorded = time::parse_timestamp(&entry.recorded_at)
                .map_err(|e| fail(format!("recorded_at {:?}: {e}", entry.recorded_at)))?;
            if self.last_recorded.is_some_and(|last| recorded < last) {
                return Err(fail("recorded_at goes back in time".into()));
            }
            let p = p.map_err(|e| fail(format!("not a valid event: {e}")))?;
            match self.state.submit(&p, recorded) {
                Ok(Verdict::Accepted(outcome)) => {
                    if let Some(steps) = &mut self.steps {
                        let manifest = crate::sequencer::manifest_of(&p);
                        steps.extend(outcome.containers.into_iter().map(|(id, q)| ContainerStep {
                            container: id,
                            seq: entry.seq,
                            kind: p.header.kind.clone(),
                            at: p.header.at_text.clone(),
                            manifest,
                            quantity_g: q,
                        }));
                    }
                }
                Ok(Verdict::Replay(seq)) => {
                    return Err(fail(format!("repeats the event recorded at seq {seq}")))
                }
                Err(r) => return Err(fail(format!("the ledger should have refused it: {r}"))),
            }
            self.frontier.push(merkle::leaf_hash(&hash));
            self.prev = hash;
            self.last_recorded = Some(recorded);
            let size = self.size();
            if let Some((_, r)) = self.watch.iter_mut().find(|(s, _)| *s == size) {
                *r = Some(self.frontier.root());
            }
        }
        Ok(())
    }
}
