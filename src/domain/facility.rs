//! Facilities (设施) of an org: storage facilities holding lots up to a capacity at once, and
//! utilisation and disposal facilities treating up to a capacity per CST year with their methods
//! (§6 `facility.*`). A storage facility over its capacity is recorded, never refused: the ledger
//! opens `storage_over_capacity` (§7).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalogue::{self, MethodKind};
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, State, Touched};
use crate::protocol::event::Prepared;
use crate::protocol::time::Timestamp;

/// The most a 贮存点 may hold (GB 18597-2023 8.3.5).
pub const POINT_CAPACITY_G: i64 = 3_000_000;

/// The largest figure a stock or total may reach (§1): 2^53 − 1.
pub const MAX_FIGURE: i64 = 9_007_199_254_740_991;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityKind {
    Storage,
    Utilize,
    Dispose,
}

impl FacilityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Storage => "storage",
            FacilityKind::Utilize => "utilize",
            FacilityKind::Dispose => "dispose",
        }
    }

    /// The method kind a treatment facility takes; none for storage.
    fn method_kind(self) -> Option<MethodKind> {
        match self {
            FacilityKind::Storage => None,
            FacilityKind::Utilize => Some(MethodKind::Utilize),
            FacilityKind::Dispose => Some(MethodKind::Dispose),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FacilityStatus {
    Active,
    Closed,
}

impl FacilityStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityStatus::Active => "active",
            FacilityStatus::Closed => "closed",
        }
    }
}

/// A facility, by (org, facility).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facility {
    pub org: String,
    pub facility: String,
    pub kind: FacilityKind,
    pub storage_type: Option<String>,
    pub capacity_g: i64,
    pub methods: Vec<String>,
    pub name: String,
    pub address: Option<String>,
    pub status: FacilityStatus,
    pub registered_seq: u64,
    pub updated_seq: u64,
    /// Storage: what remains of the lots in it.
    pub stock_g: i64,
    /// Utilize, dispose: grams treated per CST year of the treatments' `date`.
    pub treated: BTreeMap<i32, i64>,
}

impl Facility {
    pub fn key(&self) -> (String, String) {
        (self.org.clone(), self.facility.clone())
    }

    pub fn treated_in(&self, year: i32) -> i64 {
        self.treated.get(&year).copied().unwrap_or(0)
    }
}

/// A storage facility taken over its capacity by one entry (§6 Facilities): the condition of a
/// `storage_over_capacity` ticket, keyed `<org>:<facility>:<seq>`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Crossing {
    pub org: String,
    pub facility: String,
    pub seq: u64,
    /// The causing entry's `at`.
    pub at: Timestamp,
    /// Stock − capacity just after the entry.
    pub excess_g: i64,
}

impl Crossing {
    pub fn key(&self) -> String {
        format!("{}:{}:{}", self.org, self.facility, self.seq)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Registered {
    org: String,
    facility: String,
    kind: FacilityKind,
    storage_type: Option<String>,
    capacity_g: i64,
    methods: Option<Vec<String>>,
    name: String,
    address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Amended {
    org: String,
    facility: String,
    capacity_g: i64,
    methods: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Closed {
    org: String,
    facility: String,
    #[allow(dead_code)]
    reason: String,
}

/// `unknown_method`, then `method_not_allowed` for a method of another kind than the
/// facility's (every method, for a storage facility).
fn check_methods(kind: FacilityKind, methods: &[String]) -> Result<(), Rejection> {
    for m in methods {
        if catalogue::method(m).is_none() {
            return reject(
                Code::UnknownMethod,
                format!("{m:?} is not a handling method code"),
            );
        }
    }
    for m in methods {
        let method_kind = catalogue::method(m).expect("checked").kind;
        if kind.method_kind() != Some(method_kind) {
            return reject(
                Code::MethodNotAllowed,
                format!("{m} is not a method of a {} facility", kind.as_str()),
            );
        }
    }
    Ok(())
}

fn check_capacity(storage_type: Option<&str>, capacity_g: i64) -> Result<(), Rejection> {
    if storage_type == Some("point") && capacity_g > POINT_CAPACITY_G {
        return reject(
            Code::BadCapacity,
            format!(
                "a 贮存点 holds at most {POINT_CAPACITY_G} g (GB 18597-2023 8.3.5); {capacity_g} g asked"
            ),
        );
    }
    Ok(())
}

impl State {
    /// `quantity_too_large`: the stock of `org`'s facility, if one is named, stays within
    /// 2^53−1 g (§1) once `added` grams join it.
    pub(super) fn check_room(
        &self,
        org: &str,
        facility: Option<&str>,
        added: i64,
    ) -> Result<(), Rejection> {
        match facility.and_then(|f| self.facility(org, f)) {
            Some(f) if f.stock_g + added > MAX_FIGURE => reject(
                Code::QuantityTooLarge,
                format!("the stock of facility {} would exceed 2^53-1 g", f.facility),
            ),
            _ => Ok(()),
        }
    }

    /// The facility (org, facility), whatever its status.
    pub fn facility(&self, org: &str, facility: &str) -> Option<&Facility> {
        self.facilities.get(&(org.to_owned(), facility.to_owned()))
    }

    /// An active facility of `org` of one of `kinds`, else `unknown_facility`.
    pub(super) fn active_facility(
        &self,
        org: &str,
        facility: &str,
        kinds: &[FacilityKind],
    ) -> Result<&Facility, Rejection> {
        self.facility(org, facility)
            .filter(|f| f.status == FacilityStatus::Active && kinds.contains(&f.kind))
            .ok_or_else(|| {
                let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                Rejection::new(
                    Code::UnknownFacility,
                    format!(
                        "{facility} is not an active {} facility of {org}",
                        kinds.join(" or ")
                    ),
                )
            })
    }

    fn existing_facility(&self, org: &str, facility: &str) -> Result<&Facility, Rejection> {
        self.facility(org, facility).ok_or_else(|| {
            Rejection::new(
                Code::UnknownFacility,
                format!("{facility} is not a facility of {org}"),
            )
        })
    }

    pub(super) fn facility_registered(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: Registered = body(p.body())?;
        self.existing_org(&b.org)?;
        if self.facility(&b.org, &b.facility).is_some() {
            return reject(
                Code::FacilityExists,
                format!("{} of {} is already registered", b.facility, b.org),
            );
        }
        let methods = b.methods.unwrap_or_default();
        check_methods(b.kind, &methods)?;
        check_capacity(b.storage_type.as_deref(), b.capacity_g)?;
        let f = Facility {
            org: b.org,
            facility: b.facility,
            kind: b.kind,
            storage_type: b.storage_type,
            capacity_g: b.capacity_g,
            methods,
            name: b.name,
            address: b.address,
            status: FacilityStatus::Active,
            registered_seq: self.size,
            updated_seq: self.size,
            stock_g: 0,
            treated: BTreeMap::new(),
        };
        let key = f.key();
        self.facilities.insert(key.clone(), f);
        Ok(Outcome::touching(Touched::Facility(key.0, key.1)))
    }

    pub(super) fn facility_amended(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: Amended = body(p.body())?;
        let f = self.existing_facility(&b.org, &b.facility)?;
        if f.status != FacilityStatus::Active {
            return reject(
                Code::InvalidTransition,
                format!("{} of {} is closed", b.facility, b.org),
            );
        }
        if let Some(methods) = &b.methods {
            check_methods(f.kind, methods)?;
        }
        check_capacity(f.storage_type.as_deref(), b.capacity_g)?;
        let (stock, old_capacity) = (f.stock_g, f.capacity_g);
        let seq = self.size;
        let f = self
            .facilities
            .get_mut(&(b.org.clone(), b.facility.clone()))
            .expect("checked");
        f.capacity_g = b.capacity_g;
        if let Some(methods) = b.methods {
            f.methods = methods;
        }
        f.updated_seq = seq;
        if f.kind == FacilityKind::Storage {
            self.note_crossing(&b.org, &b.facility, stock, old_capacity, p.header.at);
        }
        Ok(Outcome::touching(Touched::Facility(b.org, b.facility)))
    }

    pub(super) fn facility_closed(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: Closed = body(p.body())?;
        let f = self.existing_facility(&b.org, &b.facility)?;
        if f.status != FacilityStatus::Active {
            return reject(
                Code::InvalidTransition,
                format!("{} of {} is already closed", b.facility, b.org),
            );
        }
        let seq = self.size;
        let f = self
            .facilities
            .get_mut(&(b.org.clone(), b.facility.clone()))
            .expect("checked");
        f.status = FacilityStatus::Closed;
        f.updated_seq = seq;
        Ok(Outcome::touching(Touched::Facility(b.org, b.facility)))
    }

    /// Changes the stock of a storage facility by `delta` (a lot in it grew or shrank) and
    /// notes whether the entry being applied takes it over its capacity.
    pub(super) fn facility_stock_changed(
        &mut self,
        org: &str,
        facility: &str,
        delta: i64,
        at: Timestamp,
    ) {
        let Some(f) = self
            .facilities
            .get_mut(&(org.to_owned(), facility.to_owned()))
        else {
            return;
        };
        let before = f.stock_g;
        f.stock_g += delta;
        let capacity = f.capacity_g;
        self.touched_facilities
            .insert((org.to_owned(), facility.to_owned()));
        self.note_crossing(org, facility, before, capacity, at);
    }

    /// Records a `storage_over_capacity` condition when the stock was within the capacity in
    /// force before the entry and is above the one in force after it. An entry that moves
    /// stock in and out of a facility is judged once, on its net effect.
    fn note_crossing(
        &mut self,
        org: &str,
        facility: &str,
        stock_before: i64,
        capacity_before: i64,
        at: Timestamp,
    ) {
        let key = (org.to_owned(), facility.to_owned());
        self.crossing_candidates
            .entry(key)
            .or_insert((stock_before, capacity_before, at));
    }

    /// The `storage_over_capacity` conditions the entry just applied gives rise to, in subject
    /// key order; each is remembered so that its ticket is justified.
    pub(super) fn settle_crossings(&mut self) -> Vec<String> {
        let seq = self.size;
        let mut keys = Vec::new();
        for ((org, facility), (stock_before, capacity_before, at)) in
            std::mem::take(&mut self.crossing_candidates)
        {
            let Some(f) = self.facility(&org, &facility) else {
                continue;
            };
            if stock_before <= capacity_before && f.stock_g > f.capacity_g {
                let c = Crossing {
                    org,
                    facility,
                    seq,
                    at,
                    excess_g: f.stock_g - f.capacity_g,
                };
                let key = c.key();
                self.crossings.insert(key.clone(), c);
                keys.push(key);
            }
        }
        keys.sort();
        keys
    }
}
