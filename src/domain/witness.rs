//! The witness policy (spec §5a): which witnesses the ledger submits its checkpoints to, and how
//! many must cosign one. It lives in the ledger (`ledger.witnesses_set`, signed by a regulator),
//! so that everyone verifying knows the policy in force at every size.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, State};
use crate::protocol::event::Prepared;

/// One witness of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyWitness {
    /// Its key name, as in its signature lines.
    pub name: String,
    /// Its Ed25519 public key, lowercase hex.
    pub key: String,
    /// Its submission prefix: the ledger posts to `<url>/add-checkpoint`.
    pub url: String,
}

/// A witness policy: the witnesses and the quorum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub witnesses: Vec<PolicyWitness>,
    pub quorum: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessesSet {
    witnesses: Vec<PolicyWitness>,
    quorum: u32,
    #[allow(dead_code)]
    reason: String,
}

/// Every policy the ledger has set, by the seq of its entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policies {
    by_seq: BTreeMap<u64, Policy>,
}

impl Policies {
    /// The policy in force at size `size`: that of the last `ledger.witnesses_set` among
    /// entries `0..size` (none: no witnesses, quorum 0).
    pub fn at(&self, size: u64) -> &Policy {
        static NONE: Policy = Policy {
            witnesses: Vec::new(),
            quorum: 0,
        };
        self.by_seq
            .range(..size)
            .next_back()
            .map_or(&NONE, |(_, p)| p)
    }

    /// The sizes from which each policy is in force (its entry's seq + 1), with the policy, in
    /// order.
    pub fn changes(&self) -> impl Iterator<Item = (u64, &Policy)> {
        self.by_seq.iter().map(|(seq, p)| (seq + 1, p))
    }
}

impl State {
    /// `ledger.witnesses_set`: a regulator sets the witness policy from this entry on.
    pub(super) fn witnesses_set(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: WitnessesSet = body(p.body())?;
        let mut names = HashSet::new();
        let mut keys = HashSet::new();
        for w in &b.witnesses {
            if !names.insert(w.name.as_str()) {
                return reject(
                    Code::InvalidPolicy,
                    format!("the witness name {} is listed twice", w.name),
                );
            }
            if !keys.insert(w.key.as_str()) {
                return reject(
                    Code::InvalidPolicy,
                    format!("the witness key {} is listed twice", w.key),
                );
            }
            let scheme = w
                .url
                .strip_prefix("https://")
                .or_else(|| w.url.strip_prefix("http://"));
            if scheme.is_none_or(str::is_empty) || w.url.ends_with('/') {
                return reject(
                    Code::InvalidPolicy,
                    format!(
                        "the URL of witness {} must start with http:// or https:// and not end in '/'",
                        w.name
                    ),
                );
            }
        }
        if b.quorum as usize > b.witnesses.len() {
            return reject(
                Code::InvalidPolicy,
                format!(
                    "the quorum {} is more than the {} witnesses listed",
                    b.quorum,
                    b.witnesses.len()
                ),
            );
        }
        self.witness_policies.by_seq.insert(
            self.size,
            Policy {
                witnesses: b.witnesses,
                quorum: b.quorum,
            },
        );
        Ok(Outcome::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_in_force_is_the_last_one_before_the_size() {
        let mut p = Policies::default();
        assert_eq!(*p.at(100), Policy::default());
        let one = Policy {
            witnesses: vec![],
            quorum: 0,
        };
        let two = Policy {
            witnesses: vec![PolicyWitness {
                name: "w".into(),
                key: "00".repeat(32),
                url: "https://w.example".into(),
            }],
            quorum: 1,
        };
        p.by_seq.insert(5, one.clone());
        p.by_seq.insert(9, two.clone());
        // Entry 5 is in force from size 6 on.
        assert_eq!(*p.at(5), Policy::default());
        assert_eq!(*p.at(6), one);
        assert_eq!(*p.at(9), one);
        assert_eq!(*p.at(10), two);
        assert_eq!(*p.at(u64::MAX), two);
        assert_eq!(p.changes().map(|(s, _)| s).collect::<Vec<_>>(), vec![6, 10]);
    }
}
