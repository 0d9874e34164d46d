//! Transfer manifests (转移联单): opened by the generator, picked up by the carrier, received and
//! then utilised or disposed of by the licensed receiver; numbered per year and city.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::catalogue;
use super::container::{Cid, ContainerStatus};
use super::licence::Activity;
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, Role, State, Touched};
use super::stock::{FirstLeg, LotKey, PortionStep};
use crate::protocol::event::Prepared;
use crate::protocol::time::{self, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestStatus {
    Opened,
    PickedUp,
    Received,
    Disposed,
    /// Received and put into the receiver's own stock (收集, 贮存).
    Stored,
    Cancelled,
    Rejected,
}

impl ManifestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestStatus::Opened => "opened",
            ManifestStatus::PickedUp => "picked_up",
            ManifestStatus::Received => "received",
            ManifestStatus::Disposed => "disposed",
            ManifestStatus::Stored => "stored",
            ManifestStatus::Cancelled => "cancelled",
            ManifestStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ManifestStatus> {
        use ManifestStatus::*;
        [
            Opened, PickedUp, Received, Disposed, Stored, Cancelled, Rejected,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// One line of a manifest: what was shipped, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub code: String,
    pub quantity_g: i64,
    pub form: Option<String>,
    pub packaging: Option<String>,
    pub received_g: Option<i64>,
    pub disposed_g: Option<i64>,
    pub method: Option<String>,
    /// Where the shipped quantity was reserved: (lot seq, grams), oldest lot first.
    pub lots: Vec<(LotKey, i64)>,
    /// Whether a licence of the receiver covered the receipt of this line when it was received.
    pub receipt_covered: Option<bool>,
    /// Whether a licence of the receiver covered the line's handling method when disposed of.
    pub handling_covered: Option<bool>,
    /// The containers the line names, if any.
    pub containers: Option<Vec<LineContainer>>,
    /// The line's waste as parts (§6 Chains), in part order.
    pub parts: Vec<Part>,
    /// What a storing put into the receiver's stock.
    pub stored_g: Option<i64>,
    /// The lot the line was stored into (a storing of quantity > 0).
    pub lot: Option<LotKey>,
    /// Whether a licence of the receiver covered the storing (`store` or `collect`).
    pub storing_covered: Option<bool>,
    /// The least licence number (byte order) of the receiver that covered the line at its
    /// opening: the licence a declaration reports the transfer under.
    pub licence: Option<String>,
}

/// A part of a line's waste (§6 Chains): what it took from one lot, of one portion (named by
/// its first leg) or unattributed, with what the receipt counted and the storing stored of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Part {
    pub lot: LotKey,
    pub first_leg: Option<FirstLeg>,
    pub quantity_g: i64,
    pub counted_g: Option<i64>,
    pub stored_g: Option<i64>,
}

/// Gives each part, in order, min(its quantity, what is left of `n`) (a **count**, §6 Chains).
pub fn count(quantities: impl Iterator<Item = i64>, mut n: i64) -> Vec<i64> {
    quantities
        .map(|q| {
            let c = q.min(n).max(0);
            n -= c;
            c
        })
        .collect()
}

/// A container a manifest line names: what it held, and its weight at receipt when the receipt
/// weighed it (0 when left out of a receipt line that lists containers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineContainer {
    pub id: Cid,
    pub quantity_g: i64,
    pub received_g: Option<i64>,
}

impl Line {
    /// The ids of the line's containers.
    pub fn container_ids(&self) -> Vec<String> {
        self.containers
            .iter()
            .flatten()
            .map(|c| c.id.to_string())
            .collect()
    }

    /// The line's containers counted 0 at receipt, in byte order.
    pub fn containers_counted_zero(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .containers
            .iter()
            .flatten()
            .filter(|c| c.received_g == Some(0))
            .map(|c| c.id.to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The counted quantity of §8: what was received, at most what was shipped.
    pub fn counted_g(&self) -> Option<i64> {
        self.received_g.map(|r| r.min(self.quantity_g))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub id: Uuid,
    pub number: String,
    pub status: ManifestStatus,
    pub generator: String,
    pub carrier: String,
    pub receiver: String,
    pub vehicle: Option<String>,
    pub note: Option<String>,
    pub lines: Vec<Line>,
    pub opened_seq: u64,
    pub opened_at: Timestamp,
    pub picked_up_at: Option<Timestamp>,
    pub received_at: Option<Timestamp>,
    /// Pickup + the transit limit in force just after the pickup (§7): a later
    /// `ledger.limits_set` does not move it.
    pub transit_due: Option<Timestamp>,
    /// Receipt + the disposal limit in force just after the receipt.
    pub disposal_due: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// The `at` of its latest event: later events may not be dated before it.
    pub last_at: Timestamp,
    /// Grams of its lines taken from lots of `waste.declared` outside the plan in force at
    /// its opening, when that calls for `unplanned_transfer` (§7).
    pub unplanned_g: Option<i64>,
}

impl Manifest {
    pub fn shipped_g(&self) -> i64 {
        self.lines.iter().map(|l| l.quantity_g).sum()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenLine {
    code: String,
    quantity_g: i64,
    form: Option<String>,
    packaging: Option<String>,
    containers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Opened {
    manifest: Uuid,
    generator: String,
    carrier: String,
    receiver: String,
    lines: Vec<OpenLine>,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WithReason {
    manifest: Uuid,
    #[allow(dead_code)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PickedUp {
    manifest: Uuid,
    vehicle: String,
    containers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CountedLine {
    code: String,
    quantity_g: i64,
    method: Option<String>,
    containers: Option<Vec<super::container::Weighed>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counted {
    manifest: Uuid,
    lines: Vec<CountedLine>,
}

/// Matches the lines of a receipt or disposal to the manifest's lines: exactly one each, in any
/// order. Returns, per manifest line, the index of its counterpart.
fn match_lines(manifest: &Manifest, lines: &[CountedLine]) -> Result<Vec<usize>, Rejection> {
    let codes: Vec<&str> = lines.iter().map(|l| l.code.as_str()).collect();
    match_codes(manifest, &codes)
}

/// Matches the codes of an event's lines to the manifest's lines (`lines_mismatch`).
pub(super) fn match_codes(manifest: &Manifest, codes: &[&str]) -> Result<Vec<usize>, Rejection> {
    let mut seen = HashSet::new();
    if codes.len() != manifest.lines.len() || !codes.iter().all(|c| seen.insert(*c)) {
        return reject(
            Code::LinesMismatch,
            format!(
                "give exactly one line for each of the manifest's {} lines",
                manifest.lines.len()
            ),
        );
    }
    manifest
        .lines
        .iter()
        .map(|ml| {
            codes.iter().position(|c| *c == ml.code).ok_or_else(|| {
                Rejection::new(Code::LinesMismatch, format!("no line for {}", ml.code))
            })
        })
        .collect()
}

impl State {
    /// The manifest `id`, checked to exist, to be signed by its party in `role`, and not to be
    /// dated before its last event.
    pub(super) fn manifest_for(
        &self,
        p: &Prepared,
        id: &Uuid,
        party: fn(&Manifest) -> &str,
        role: &str,
    ) -> Result<&Manifest, Rejection> {
        let m = self
            .manifests
            .get(id)
            .ok_or_else(|| Rejection::new(Code::UnknownManifest, format!("no manifest {id}")))?;
        if party(m) != p.header.actor {
            return reject(
                Code::Forbidden,
                format!("only the manifest's {role} {} may sign this", party(m)),
            );
        }
        if p.header.at < m.last_at {
            return Err(Rejection::rule(
                Code::BadTimestamp,
                format!(
                    "at is before the manifest's last event ({})",
                    time::format_timestamp(m.last_at)
                ),
            ));
        }
        Ok(m)
    }

    pub(super) fn require_status(
        m: &Manifest,
        kind: &str,
        from: ManifestStatus,
    ) -> Result<(), Rejection> {
        if m.status == from {
            Ok(())
        } else {
            reject(
                Code::InvalidTransition,
                format!(
                    "{kind} needs a manifest that is {}; it is {}",
                    from.as_str(),
                    m.status.as_str()
                ),
            )
        }
    }

    /// The receiver's intake counted against its capacity in `year`: received that year plus
    /// everything in flight to it.
    pub fn intake(&self, receiver: &str, year: i32) -> i64 {
        self.intake_received
            .get(&(receiver.to_owned(), year))
            .copied()
            .unwrap_or(0)
            + self.intake_in_flight.get(receiver).copied().unwrap_or(0)
    }

    /// A manifest's opener (移出人): a generator shipping its own waste, or a receiver shipping
    /// waste it stored (§6).
    fn require_opener(&self, actor: &str) -> Result<(), Rejection> {
        if self
            .orgs
            .get(actor)
            .is_some_and(|o| o.has(Role::Generator) || o.has(Role::Receiver))
        {
            Ok(())
        } else {
            reject(
                Code::Forbidden,
                format!("{actor} has neither the generator nor the receiver role"),
            )
        }
    }

    /// The manifests whose lines stored the lots of an allocation (their `onward` changes).
    fn origins_touched(&self, allocation: &[(LotKey, i64)]) -> Vec<Touched> {
        allocation
            .iter()
            .filter_map(|(k, _)| self.lots.get(k)?.origin)
            .map(|o| Touched::Manifest(o.manifest))
            .collect()
    }

    pub(super) fn manifest_opened(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_opener(&p.header.actor)?;
        let b: Opened = body(p.body())?;
        if b.generator != p.header.actor {
            return reject(
                Code::Forbidden,
                "an opener opens only manifests of its own waste",
            );
        }
        if self.manifests.contains_key(&b.manifest) {
            return reject(
                Code::ManifestExists,
                format!("manifest {} exists", b.manifest),
            );
        }
        let carrier = self.existing_org(&b.carrier)?;
        self.existing_org(&b.receiver)?;
        let codes = b
            .lines
            .iter()
            .map(|l| self.code_to_move(p, &b.generator, &l.code))
            .collect::<Result<Vec<_>, _>>()?;
        if !carrier.has(Role::Carrier) {
            return reject(
                Code::NotACarrier,
                format!("{} does not have the carrier role", b.carrier),
            );
        }
        let day = time::cst_date(p.header.at);
        let licences = codes
            .iter()
            .map(|code| {
                self.least_covering_receipt(&b.receiver, code, day)
                    .ok_or_else(|| {
                        Rejection::new(
                            Code::UnlicensedReceiver,
                            format!(
                                "no licence of {} covers {code} for storage, utilisation or disposal on {day}",
                                b.receiver
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<String>, Rejection>>()?;
        let shipped: i64 = b.lines.iter().map(|l| l.quantity_g).sum();
        let year = time::cst_year(p.header.at);
        let capacity: i64 = self
            .licences_of(&b.receiver)
            .filter(|l| l.in_force_on(day))
            .map(|l| l.capacity_g)
            .sum();
        let intake = self.intake(&b.receiver, year);
        if intake + shipped > capacity {
            return reject(
                Code::CapacityExceeded,
                format!(
                    "{} has {capacity} g of licensed capacity for {year}; {intake} g are received or on the way, this manifest ships {shipped} g",
                    b.receiver
                ),
            );
        }
        // Line by line: named containers exactly, else container-less stock.
        let mut named: Vec<Option<Vec<(LotKey, i64)>>> = Vec::with_capacity(b.lines.len());
        for l in &b.lines {
            if let Some(ids) = &l.containers {
                named.push(Some(self.check_named_containers(
                    ids,
                    &b.generator,
                    &l.code,
                    l.quantity_g,
                    |_| true,
                )?));
                continue;
            }
            let have = self.unreserved(&b.generator, &l.code);
            if have < l.quantity_g {
                return reject(
                    Code::InsufficientStock,
                    format!(
                        "{} has {have} g of {} declared, unreserved and not in containers; the line ships {} g",
                        b.generator, l.code, l.quantity_g
                    ),
                );
            }
            named.push(None);
        }
        if shipped > super::facility::MAX_FIGURE {
            return reject(
                Code::QuantityTooLarge,
                format!("the manifest's total quantity {shipped} g exceeds 2^53-1 g"),
            );
        }
        // Every rule holds: number it, reserve its stock, count it against capacity.
        let region = &self.orgs[&b.generator].region;
        let city = region.get(..4).unwrap_or(region).to_owned();
        let serial = self.serials.entry((year, city.clone())).or_insert(0);
        *serial += 1;
        let number = format!("{year}{city}{:06}", *serial);
        let mut lines = Vec::with_capacity(b.lines.len());
        let mut steps = Vec::new();
        let mut touched = vec![Touched::Manifest(b.manifest)];
        for (i, (l, take)) in b.lines.into_iter().zip(named).enumerate() {
            let (mut lots, containers) = match (take, l.containers) {
                (Some(take), Some(ids)) => {
                    for (lot, q) in &take {
                        self.lots.get_mut(lot).expect("checked").reserved_g += q;
                    }
                    self.set_containers(&ids, ContainerStatus::Reserved, Some(b.manifest));
                    let list = ids
                        .iter()
                        .map(|id| LineContainer {
                            id: Cid::checked(id),
                            quantity_g: self.containers[id].quantity_g,
                            received_g: None,
                        })
                        .collect();
                    steps.extend(ids.iter().map(|id| (id.clone(), None)));
                    touched.extend(ids.into_iter().map(Touched::Container));
                    (take, Some(list))
                }
                _ => (self.reserve(&b.generator, &l.code, l.quantity_g), None),
            };
            let own = (b.manifest, i as u16);
            let parts = self.reserve_parts(&mut lots, own);
            for first_leg in parts.iter().filter_map(|p| p.first_leg) {
                if first_leg != own {
                    let legs = self.onward_legs.entry(first_leg).or_default();
                    if !legs.contains(&own) {
                        legs.push(own);
                    }
                }
            }
            for (key, q) in &lots {
                if let Some(lot) = self.lots.get_mut(key).filter(|l| l.origin.is_some()) {
                    lot.onward.push((b.manifest, *q));
                }
            }
            touched.extend(self.origins_touched(&lots));
            lines.push(Line {
                code: l.code,
                quantity_g: l.quantity_g,
                form: l.form,
                packaging: l.packaging,
                received_g: None,
                disposed_g: None,
                method: None,
                lots,
                receipt_covered: None,
                handling_covered: None,
                containers,
                parts,
                stored_g: None,
                lot: None,
                storing_covered: None,
                licence: Some(licences[i].clone()),
            });
        }
        *self.intake_in_flight.entry(b.receiver.clone()).or_insert(0) += shipped;
        touched.extend(
            lines
                .iter()
                .flat_map(|l| l.lots.iter().map(|(s, _)| Touched::Lot(*s))),
        );
        let mut manifest = Manifest {
            id: b.manifest,
            number,
            status: ManifestStatus::Opened,
            generator: b.generator,
            carrier: b.carrier,
            receiver: b.receiver,
            vehicle: None,
            note: b.note,
            lines,
            opened_seq: self.size,
            opened_at: p.header.at,
            picked_up_at: None,
            received_at: None,
            transit_due: None,
            disposal_due: None,
            closed_at: None,
            last_at: p.header.at,
            unplanned_g: None,
        };
        manifest.unplanned_g = self.unplanned_g(&manifest);
        self.manifests.insert(b.manifest, manifest);
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
    }

    /// A cancelled or rejected manifest leaves the `onward` of the lots it reserved from.
    fn forget_onward(&mut self, m: &Manifest) {
        for l in &m.lines {
            for (key, _) in &l.lots {
                if let Some(lot) = self.lots.get_mut(key) {
                    lot.onward.retain(|(id, _)| *id != m.id);
                }
            }
        }
    }

    fn lots_touched(&self, m: &Manifest) -> Vec<Touched> {
        let mut t = vec![Touched::Manifest(m.id)];
        for l in &m.lines {
            t.extend(self.origins_touched(&l.lots));
        }
        t.extend(
            m.lines
                .iter()
                .flat_map(|l| l.lots.iter().map(|(s, _)| Touched::Lot(*s))),
        );
        t.extend(
            Self::manifest_containers(m)
                .into_iter()
                .map(Touched::Container),
        );
        t
    }

    /// Every container a manifest names, line by line.
    fn manifest_containers(m: &Manifest) -> Vec<String> {
        m.lines.iter().flat_map(|l| l.container_ids()).collect()
    }

    /// Trace steps without a quantity for every container a manifest names.
    fn container_steps(m: &Manifest) -> Vec<(String, Option<i64>)> {
        Self::manifest_containers(m)
            .into_iter()
            .map(|id| (id, None))
            .collect()
    }

    pub(super) fn manifest_cancelled(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_opener(&p.header.actor)?;
        let b: WithReason = body(p.body())?;
        let m = self.manifest_for(p, &b.manifest, |m| &m.generator, "generator")?;
        Self::require_status(m, "manifest.cancelled", ManifestStatus::Opened)?;
        let m = self.manifests.remove(&b.manifest).expect("checked");
        for l in &m.lines {
            self.release(&l.lots);
            self.move_portions(&l.parts, PortionStep::Release);
        }
        self.forget_onward(&m);
        let ids = Self::manifest_containers(&m);
        self.set_containers(&ids, ContainerStatus::InStock, None);
        *self.intake_in_flight.entry(m.receiver.clone()).or_insert(0) -= m.shipped_g();
        let touched = self.lots_touched(&m);
        let steps = Self::container_steps(&m);
        let m = self.manifests.entry(b.manifest).or_insert(m);
        m.status = ManifestStatus::Cancelled;
        m.closed_at = Some(p.header.at);
        m.last_at = p.header.at;
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
    }

    pub(super) fn manifest_picked_up(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        let transit_s = self.limits().transit_s;
        self.require_role(&p.header.actor, Role::Carrier)?;
        let b: PickedUp = body(p.body())?;
        let m = self.manifest_for(p, &b.manifest, |m| &m.carrier, "carrier")?;
        Self::require_status(m, "manifest.picked_up", ManifestStatus::Opened)?;
        // The scan at loading: exactly the manifest's containers (转移办法 Art. 13).
        let named: HashSet<String> = Self::manifest_containers(m).into_iter().collect();
        let scanned: Option<HashSet<&String>> = b.containers.as_ref().map(|c| c.iter().collect());
        let matches = match &scanned {
            None => named.is_empty(),
            Some(s) => s.len() == named.len() && s.iter().all(|id| named.contains(*id)),
        };
        if !matches {
            let missing = named
                .iter()
                .filter(|id| !scanned.as_ref().is_some_and(|s| s.contains(id)))
                .count();
            let extra = scanned
                .iter()
                .flatten()
                .filter(|id| !named.contains(**id))
                .count();
            return reject(
                Code::ContainersMismatch,
                format!(
                    "the scan is not the manifest's {} containers: {missing} missing, {extra} not of the manifest",
                    named.len()
                ),
            );
        }
        let m = self.manifests.remove(&b.manifest).expect("checked");
        for l in &m.lines {
            self.take_reserved(&l.lots, p.header.at);
            self.move_portions(&l.parts, PortionStep::Take);
        }
        let ids = Self::manifest_containers(&m);
        self.set_containers(&ids, ContainerStatus::Shipped, Some(m.id));
        let touched = self.lots_touched(&m);
        let steps = Self::container_steps(&m);
        let m = self.manifests.entry(b.manifest).or_insert(m);
        m.status = ManifestStatus::PickedUp;
        m.vehicle = Some(b.vehicle);
        m.picked_up_at = Some(p.header.at);
        m.transit_due = Some(p.header.at + chrono::Duration::seconds(transit_s));
        m.last_at = p.header.at;
        self.book_transferred(&b.manifest, 1);
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
    }

    pub(super) fn manifest_received(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        let disposal_s = self.limits().disposal_s;
        self.require_role(&p.header.actor, Role::Receiver)?;
        let b: Counted = body(p.body())?;
        let m = self.manifest_for(p, &b.manifest, |m| &m.receiver, "receiver")?;
        Self::require_status(m, "manifest.received", ManifestStatus::PickedUp)?;
        // The schema already refuses a receipt line with a method.
        let order = match_lines(m, &b.lines)?;
        // Weighed containers: of that manifest line, summing to the line's quantity.
        for (ml, &i) in m.lines.iter().zip(&order) {
            let Some(list) = &b.lines[i].containers else {
                continue;
            };
            let own: HashSet<String> = ml.container_ids().into_iter().collect();
            for c in list {
                if !own.contains(&c.id) {
                    return reject(
                        Code::ContainersMismatch,
                        format!("{} is not a container of the {} line", c.id, ml.code),
                    );
                }
            }
            let sum: i64 = list.iter().map(|c| c.quantity_g).sum();
            if sum != b.lines[i].quantity_g {
                return reject(
                    Code::ContainersMismatch,
                    format!(
                        "the {} line's containers weigh {sum} g; the line says {} g",
                        ml.code, b.lines[i].quantity_g
                    ),
                );
            }
        }
        let received: i64 = b.lines.iter().map(|l| l.quantity_g).sum();
        let (receiver, shipped) = (m.receiver.clone(), m.shipped_g());
        let day = time::cst_date(p.header.at);
        let covered: Vec<bool> = m
            .lines
            .iter()
            .map(|l| {
                let code =
                    super::ids::WasteCode::parse(&l.code).expect("opened lines have valid codes");
                self.covers_receipt(&m.receiver, &code, day)
            })
            .collect();
        let m = self.manifests.get_mut(&b.manifest).expect("checked");
        let mut statuses: Vec<(String, ContainerStatus, Option<i64>)> = Vec::new();
        for ((line, i), covered) in m.lines.iter_mut().zip(order).zip(covered) {
            line.received_g = Some(b.lines[i].quantity_g);
            line.receipt_covered = Some(covered);
            let counted = count(
                line.parts.iter().map(|p| p.quantity_g),
                b.lines[i].quantity_g,
            );
            for (part, c) in line.parts.iter_mut().zip(counted) {
                part.counted_g = Some(c);
            }
            let weighed: Option<std::collections::HashMap<&str, i64>> = b.lines[i]
                .containers
                .as_ref()
                .map(|w| w.iter().map(|x| (x.id.as_str(), x.quantity_g)).collect());
            for c in line.containers.iter_mut().flatten() {
                // A container left out of a line that lists containers counts 0; a line that
                // lists none did not weigh them one by one.
                c.received_g = weighed
                    .as_ref()
                    .map(|w| w.get(c.id.as_str()).copied().unwrap_or(0));
                let status = match c.received_g {
                    Some(0) => ContainerStatus::Missing,
                    _ => ContainerStatus::Received,
                };
                statuses.push((c.id.to_string(), status, c.received_g));
            }
        }
        m.status = ManifestStatus::Received;
        m.received_at = Some(p.header.at);
        m.disposal_due = Some(p.header.at + chrono::Duration::seconds(disposal_s));
        m.last_at = p.header.at;
        *self.intake_in_flight.entry(receiver.clone()).or_insert(0) -= shipped;
        *self
            .intake_received
            .entry((receiver, time::cst_year(p.header.at)))
            .or_insert(0) += received;
        let mut touched = vec![Touched::Manifest(b.manifest)];
        let mut steps = Vec::new();
        for (id, status, weight) in statuses {
            self.set_containers(std::slice::from_ref(&id), status, Some(b.manifest));
            if let Some(c) = self.containers.get_mut(&id) {
                c.received_g = weight;
            }
            steps.push((id.clone(), weight));
            touched.push(Touched::Container(id));
        }
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
    }

    pub(super) fn manifest_rejected(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_role(&p.header.actor, Role::Receiver)?;
        let b: WithReason = body(p.body())?;
        let m = self.manifest_for(p, &b.manifest, |m| &m.receiver, "receiver")?;
        Self::require_status(m, "manifest.rejected", ManifestStatus::PickedUp)?;
        let returned: Vec<(LotKey, i64)> = m.lines.iter().flat_map(|l| l.lots.clone()).collect();
        if self.stock_after_return(&returned) > super::facility::MAX_FIGURE {
            return reject(
                Code::QuantityTooLarge,
                "the waste returned would take a storage facility's stock above 2^53-1 g",
            );
        }
        self.book_transferred(&b.manifest, -1);
        let m = self.manifests.remove(&b.manifest).expect("checked");
        for l in &m.lines {
            self.give_back(&l.lots, p.header.at);
            self.move_portions(&l.parts, PortionStep::Return);
        }
        self.forget_onward(&m);
        let ids = Self::manifest_containers(&m);
        self.set_containers(&ids, ContainerStatus::InStock, None);
        *self.intake_in_flight.entry(m.receiver.clone()).or_insert(0) -= m.shipped_g();
        let touched = self.lots_touched(&m);
        let steps = Self::container_steps(&m);
        let m = self.manifests.entry(b.manifest).or_insert(m);
        m.status = ManifestStatus::Rejected;
        m.closed_at = Some(p.header.at);
        m.last_at = p.header.at;
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
    }

    pub(super) fn manifest_disposed(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_role(&p.header.actor, Role::Receiver)?;
        let b: Counted = body(p.body())?;
        let m = self.manifest_for(p, &b.manifest, |m| &m.receiver, "receiver")?;
        Self::require_status(m, "manifest.disposed", ManifestStatus::Received)?;
        let order = match_lines(m, &b.lines)?;
        for l in &b.lines {
            let method = l.method.as_deref().unwrap_or_default();
            if catalogue::method(method).is_none() {
                return reject(
                    Code::UnknownMethod,
                    format!("{method:?} is not a handling method code"),
                );
            }
        }
        for (line, &i) in m.lines.iter().zip(&order) {
            let received = line.received_g.unwrap_or(0);
            if b.lines[i].quantity_g > received {
                return reject(
                    Code::OverReceived,
                    format!(
                        "{}: {} g disposed of, {received} g received",
                        line.code, b.lines[i].quantity_g
                    ),
                );
            }
        }
        let day = time::cst_date(p.header.at);
        let covered: Vec<bool> = m
            .lines
            .iter()
            .zip(&order)
            .map(|(l, &i)| {
                let code =
                    super::ids::WasteCode::parse(&l.code).expect("opened lines have valid codes");
                let method = b.lines[i].method.as_deref().and_then(catalogue::method);
                method.is_some_and(|me| {
                    self.covered(&m.receiver, &code, Activity::for_method(me.kind), day)
                })
            })
            .collect();
        let m = self.manifests.get_mut(&b.manifest).expect("checked");
        for ((line, i), covered) in m.lines.iter_mut().zip(order).zip(covered) {
            line.disposed_g = Some(b.lines[i].quantity_g);
            line.method = b.lines[i].method.clone();
            line.handling_covered = Some(covered);
        }
        m.status = ManifestStatus::Disposed;
        m.closed_at = Some(p.header.at);
        m.last_at = p.header.at;
        // The disposal of the manifest that delivered them joins the containers' traces.
        let steps = Self::container_steps(m);
        self.close_delivered_containers(b.manifest);
        Ok(Outcome {
            touched: vec![Touched::Manifest(b.manifest)],
            containers: steps,
            ..Default::default()
        })
    }
}
