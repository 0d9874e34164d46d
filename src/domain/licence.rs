//! Hazardous-waste business licences (经营许可证): issue, amendment, suspension, revocation, and
//! coverage of a waste code for an activity on a date.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::catalogue::{self, Edition};
use super::ids::{CodeOrCategory, WasteCode};
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, State, Touched};
use crate::protocol::event::Prepared;
use crate::protocol::time;

/// What a licence allows its holder to do with the waste in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Collect,
    Store,
    Utilize,
    Dispose,
}

impl Activity {
    /// The activities of which a receipt needs one (spec §6, Coverage): a receiver takes waste
    /// in to store, utilise or dispose of it.
    pub const RECEIPT: [Activity; 3] = [Activity::Store, Activity::Utilize, Activity::Dispose];

    /// The activity a handling method of this kind needs.
    pub fn for_method(kind: catalogue::MethodKind) -> Activity {
        match kind {
            catalogue::MethodKind::Utilize => Activity::Utilize,
            catalogue::MethodKind::Dispose => Activity::Dispose,
        }
    }
}

/// Codes or categories, and the activities allowed for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub codes: Vec<String>,
    pub activities: Vec<Activity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    Active,
    Suspended,
    Revoked,
}

impl LicenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceStatus::Active => "active",
            LicenceStatus::Suspended => "suspended",
            LicenceStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<LicenceStatus> {
        use LicenceStatus::*;
        [Active, Suspended, Revoked]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Licence {
    pub license: String,
    pub holder: String,
    /// Yearly capacity (年经营规模), grams per calendar year.
    pub capacity_g: i64,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub scopes: Vec<Scope>,
    pub status: LicenceStatus,
    pub issued_seq: u64,
    /// The seq of the last event that changed it.
    pub updated_seq: u64,
}

impl Licence {
    /// Active (neither suspended nor revoked) and within its validity on `d`.
    pub fn in_force_on(&self, d: NaiveDate) -> bool {
        self.status == LicenceStatus::Active && self.valid_from <= d && d <= self.valid_until
    }

    /// Whether it covers `code` for `activity` on `d` (spec §6, Coverage).
    pub fn covers(&self, code: &WasteCode, activity: Activity, d: NaiveDate) -> bool {
        self.in_force_on(d)
            && self.scopes.iter().any(|s| {
                s.activities.contains(&activity)
                    && s.codes
                        .iter()
                        .any(|c| CodeOrCategory::parse(c).is_ok_and(|c| c.covers(code)))
            })
    }

    /// Whether it covers the receipt of `code` on `d`: for one of [`Activity::RECEIPT`].
    pub fn covers_receipt(&self, code: &WasteCode, d: NaiveDate) -> bool {
        Activity::RECEIPT
            .into_iter()
            .any(|a| self.covers(code, a, d))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Issued {
    license: String,
    holder: String,
    capacity_g: i64,
    valid_from: String,
    valid_until: String,
    scopes: Vec<Scope>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Amended {
    license: String,
    capacity_g: i64,
    valid_until: String,
    scopes: Vec<Scope>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    license: String,
    #[allow(dead_code)]
    reason: String,
}

fn date(s: &str, field: &str) -> Result<NaiveDate, Rejection> {
    time::parse_date(s).map_err(|e| Rejection::new(Code::InvalidEvent, format!("{field}: {e}")))
}

/// Every code of the scopes is known to `edition` or is a category of it.
fn check_scope_codes(scopes: &[Scope], edition: Edition) -> Result<(), Rejection> {
    for code in scopes.iter().flat_map(|s| &s.codes) {
        let known = match CodeOrCategory::parse(code) {
            Ok(CodeOrCategory::Code(c)) => catalogue::lookup(edition, c.as_str()).is_some(),
            Ok(CodeOrCategory::Category(c)) => catalogue::has_category(edition, c),
            Err(_) => false,
        };
        if !known {
            return reject(
                Code::UnknownWasteCode,
                format!(
                    "{code} is neither a code nor a category of the {} catalogue",
                    edition.name()
                ),
            );
        }
    }
    Ok(())
}

impl State {
    /// Whether some licence of `holder` covers `code` for `activity` on `d`.
    pub fn covered(
        &self,
        holder: &str,
        code: &WasteCode,
        activity: Activity,
        d: NaiveDate,
    ) -> bool {
        self.licences_of(holder)
            .any(|l| l.covers(code, activity, d))
    }

    /// Whether some licence of `holder` covers the receipt of `code` on `d`.
    pub fn covers_receipt(&self, holder: &str, code: &WasteCode, d: NaiveDate) -> bool {
        self.licences_of(holder).any(|l| l.covers_receipt(code, d))
    }

    /// The least number (byte order) of the licences of `holder` that cover the receipt of
    /// `code` on `d`: the licence a declaration reports a transfer under (§6 Declarations).
    pub fn least_covering_receipt(
        &self,
        holder: &str,
        code: &WasteCode,
        d: NaiveDate,
    ) -> Option<String> {
        self.licences_of(holder)
            .filter(|l| l.covers_receipt(code, d))
            .map(|l| l.license.as_str())
            .min()
            .map(str::to_owned)
    }

    /// The licences held by `holder`.
    pub fn licences_of<'a>(&'a self, holder: &str) -> impl Iterator<Item = &'a Licence> + 'a {
        self.licences_by_holder
            .get(holder)
            .into_iter()
            .flatten()
            .filter_map(|n| self.licences.get(n))
    }

    pub(super) fn licence_issued(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: Issued = body(p.body())?;
        let valid_from = date(&b.valid_from, "valid_from")?;
        let valid_until = date(&b.valid_until, "valid_until")?;
        let holder = self.existing_org(&b.holder)?;
        if !holder.has(super::state::Role::Receiver) {
            return reject(
                Code::NotAReceiver,
                format!("{} does not have the receiver role", b.holder),
            );
        }
        if self.licences.contains_key(&b.license) {
            return reject(
                Code::LicenseExists,
                format!("licence {} already exists", b.license),
            );
        }
        check_scope_codes(&b.scopes, self.edition_of(p))?;
        let seq = self.size;
        self.licences_by_holder
            .entry(b.holder.clone())
            .or_default()
            .push(b.license.clone());
        self.licences.insert(
            b.license.clone(),
            Licence {
                license: b.license.clone(),
                holder: b.holder,
                capacity_g: b.capacity_g,
                valid_from,
                valid_until,
                scopes: b.scopes,
                status: LicenceStatus::Active,
                issued_seq: seq,
                updated_seq: seq,
            },
        );
        Ok(Outcome::touching(Touched::Licence(b.license)))
    }

    fn existing_licence(&self, license: &str) -> Result<&Licence, Rejection> {
        self.licences
            .get(license)
            .ok_or_else(|| Rejection::new(Code::UnknownLicense, format!("no licence {license}")))
    }

    pub(super) fn licence_amended(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: Amended = body(p.body())?;
        let valid_until = date(&b.valid_until, "valid_until")?;
        if self.existing_licence(&b.license)?.status == LicenceStatus::Revoked {
            return reject(
                Code::InvalidTransition,
                format!("licence {} is revoked", b.license),
            );
        }
        check_scope_codes(&b.scopes, self.edition_of(p))?;
        let seq = self.size;
        let l = self.licences.get_mut(&b.license).expect("checked");
        l.capacity_g = b.capacity_g;
        l.valid_until = valid_until;
        l.scopes = b.scopes;
        l.updated_seq = seq;
        Ok(Outcome::touching(Touched::Licence(b.license)))
    }

    /// `license.suspended`, `license.reinstated`, `license.revoked`.
    pub(super) fn licence_status(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_regulator(&p.header.actor)?;
        let b: StatusChange = body(p.body())?;
        let from = self.existing_licence(&b.license)?.status;
        use LicenceStatus::*;
        let to = match (p.header.kind.as_str(), from) {
            ("license.suspended", Active) => Suspended,
            ("license.reinstated", Suspended) => Active,
            ("license.revoked", Active | Suspended) => Revoked,
            (kind, from) => {
                return reject(
                    Code::InvalidTransition,
                    format!(
                        "{kind} is not allowed for a licence that is {}",
                        from.as_str()
                    ),
                )
            }
        };
        let seq = self.size;
        let l = self.licences.get_mut(&b.license).expect("checked");
        l.status = to;
        l.updated_seq = seq;
        Ok(Outcome::touching(Touched::Licence(b.license)))
    }
}
