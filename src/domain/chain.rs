//! Collectors and onward chains (收集 → 转移, §6 `manifest.stored` and Chains): a receiver puts
//! what it received into its own stock instead of disposing of it, as one lot per line that
//! remembers its origin and holds the portions of the first legs it came from; the receiver may
//! then ship it on, on manifests it opens from those lots.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::container::{Cid, ContainerStatus, Weighed};
use super::facility::FacilityKind;
use super::ids::WasteCode;
use super::licence::Activity;
use super::manifest::{count, Manifest, ManifestStatus};
use super::oversight::{
    class_at, line_portions, portion_classes, shortfall_beyond_tolerance, Class, Kind, Sums,
};
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, Role, State, Touched};
use super::stock::{FirstLeg, Lot, LotKey, Origin, Portion};
use crate::protocol::event::Prepared;
use crate::protocol::time::{self, Timestamp};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredLine {
    code: String,
    quantity_g: i64,
    containers: Option<Vec<Weighed>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    manifest: Uuid,
    lines: Vec<StoredLine>,
    facility: Option<String>,
}

impl State {
    pub(super) fn manifest_stored(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        let storage_s = self.limits().storage_s;
        self.require_role(&p.header.actor, Role::Receiver)?;
        let b: Stored = body(p.body())?;
        let m = self.manifest_for(p, &b.manifest, |m| &m.receiver, "receiver")?;
        Self::require_status(m, "manifest.stored", ManifestStatus::Received)?;
        let codes: Vec<&str> = b.lines.iter().map(|l| l.code.as_str()).collect();
        let order = super::manifest::match_codes(m, &codes)?;
        for (ml, &i) in m.lines.iter().zip(&order) {
            let received = ml.received_g.unwrap_or(0);
            if b.lines[i].quantity_g > received {
                return reject(
                    Code::OverReceived,
                    format!(
                        "{}: {} g stored, {received} g received",
                        ml.code, b.lines[i].quantity_g
                    ),
                );
            }
        }
        if let Some(f) = &b.facility {
            self.active_facility(&m.receiver, f, &[FacilityKind::Storage])?;
        }
        // The lots are dated the CST date of the receipt (the storage clock of 固废法 Art. 81).
        let date = time::cst_date(m.received_at.expect("a received manifest"));
        let mut seen: HashSet<&str> = HashSet::new();
        for (ml, &i) in m.lines.iter().zip(&order) {
            let line = &b.lines[i];
            match &line.containers {
                Some(list) => {
                    let code = WasteCode::parse(&ml.code).expect("opened lines have valid codes");
                    self.check_new_containers(list, &m.receiver, &code, date, line.quantity_g)?;
                    for c in list {
                        if !seen.insert(c.id.as_str()) {
                            return reject(
                                Code::ContainerExists,
                                format!("container {} is listed twice", c.id),
                            );
                        }
                    }
                }
                // A line whose manifest line names containers keeps those received and counted
                // above 0, at their received weights; that needs a receipt that weighed them.
                None if ml.containers.is_some() && line.quantity_g > 0 => {
                    let kept = ml.containers.iter().flatten();
                    if kept.clone().any(|c| c.received_g.is_none()) {
                        return reject(
                            Code::ContainersMismatch,
                            format!(
                                "the receipt did not weigh the {} line's containers one by one: list new containers (relabel)",
                                ml.code
                            ),
                        );
                    }
                    let sum: i64 = kept.filter_map(|c| c.received_g).sum();
                    if sum != line.quantity_g {
                        return reject(
                            Code::ContainersMismatch,
                            format!(
                                "the {} line's containers kept weigh {sum} g at receipt; the line stores {} g",
                                ml.code, line.quantity_g
                            ),
                        );
                    }
                }
                None => {}
            }
        }
        let added: i64 = b.lines.iter().map(|l| l.quantity_g).sum();
        self.check_room(&m.receiver, b.facility.as_deref(), added)?;

        // Every rule holds: the lines are stored, each with a quantity above 0 as a lot.
        let day = time::cst_date(p.header.at);
        let covered: Vec<bool> = m
            .lines
            .iter()
            .map(|l| {
                let code = WasteCode::parse(&l.code).expect("opened lines have valid codes");
                [Activity::Store, Activity::Collect]
                    .into_iter()
                    .any(|a| self.covered(&m.receiver, &code, a, day))
            })
            .collect();
        let opened_seq = |first_leg: &FirstLeg| {
            self.manifests
                .get(&first_leg.0)
                .map_or(u64::MAX, |f| f.opened_seq)
        };
        // Portions of the new lots: the stored parts, merged by first leg, when both the
        // receipt and the storing were covered.
        let mut new_portions: Vec<Vec<Portion>> = Vec::with_capacity(m.lines.len());
        let mut stored_parts: Vec<Vec<i64>> = Vec::with_capacity(m.lines.len());
        for ((ml, &i), covered) in m.lines.iter().zip(&order).zip(&covered) {
            let stored = count(
                ml.parts.iter().map(|p| p.counted_g.unwrap_or(0)),
                b.lines[i].quantity_g,
            );
            let mut portions: Vec<Portion> = Vec::new();
            if *covered && ml.receipt_covered == Some(true) {
                for (part, z) in ml.parts.iter().zip(&stored) {
                    let Some(first_leg) = part.first_leg.filter(|_| *z > 0) else {
                        continue;
                    };
                    match portions.iter_mut().find(|p| p.first_leg == first_leg) {
                        Some(p) => {
                            p.quantity_g += z;
                            p.remaining_g += z;
                        }
                        None => portions.push(Portion {
                            first_leg,
                            opened_seq: opened_seq(&first_leg),
                            quantity_g: *z,
                            remaining_g: *z,
                            reserved_g: 0,
                        }),
                    }
                }
                portions.sort_by_key(|p| (p.opened_seq, p.first_leg));
            }
            new_portions.push(portions);
            stored_parts.push(stored);
        }
        let (receiver, manifest_id) = (m.receiver.clone(), m.id);
        let all_containers: Vec<String> = m.lines.iter().flat_map(|l| l.container_ids()).collect();
        let seq = self.size;
        let mut touched = vec![Touched::Manifest(manifest_id)];
        let mut steps: Vec<(String, Option<i64>)> =
            all_containers.into_iter().map(|id| (id, None)).collect();
        let mut made: Vec<(usize, LotKey, Lot)> = Vec::new();
        let lines = &self.manifests[&manifest_id].lines;
        for (j, (ml, &i)) in lines.iter().zip(&order).enumerate() {
            let line = &b.lines[i];
            if line.quantity_g == 0 {
                continue;
            }
            let key = LotKey::new(seq, &ml.code);
            let containers: Option<Vec<Cid>> = match &line.containers {
                Some(list) => Some(list.iter().map(|c| Cid::checked(&c.id)).collect()),
                None => ml.containers.as_ref().map(|cs| {
                    cs.iter()
                        .filter(|c| c.received_g.is_some_and(|r| r > 0))
                        .map(|c| c.id)
                        .collect()
                }),
            };
            made.push((
                j,
                key,
                Lot {
                    seq,
                    generator: receiver.clone(),
                    code: ml.code.clone(),
                    date,
                    quantity_g: line.quantity_g,
                    remaining_g: line.quantity_g,
                    reserved_g: 0,
                    facility: b.facility.clone(),
                    containers,
                    storage_s,
                    origin: Some(Origin {
                        manifest: manifest_id,
                        line: j as u16,
                        stored_at: p.header.at,
                    }),
                    portions: std::mem::take(&mut new_portions[j]),
                    onward: Vec::new(),
                },
            ));
        }
        // The manifest.
        let m = self.manifests.get_mut(&manifest_id).expect("checked");
        for (j, (line, &i)) in m.lines.iter_mut().zip(&order).enumerate() {
            line.stored_g = Some(b.lines[i].quantity_g);
            line.storing_covered = Some(covered[j]);
            for (part, z) in line.parts.iter_mut().zip(&stored_parts[j]) {
                part.stored_g = Some(*z);
            }
            line.lot = made.iter().find(|(x, ..)| *x == j).map(|(_, k, _)| *k);
        }
        m.status = ManifestStatus::Stored;
        m.closed_at = Some(p.header.at);
        m.last_at = p.header.at;
        // The lots and their containers.
        for (j, key, lot) in made {
            let i = order[j];
            match &b.lines[i].containers {
                Some(list) => self.pack_new_containers(key, list, &mut steps, &mut touched),
                None => {
                    // Kept containers hold their received weight from now on.
                    for id in lot.containers.iter().flatten() {
                        if let Some(c) = self.containers.get_mut(id) {
                            c.quantity_g = c.received_g.unwrap_or(c.quantity_g);
                            c.lot = key;
                            c.status = ContainerStatus::InStock;
                            c.manifest = None;
                            c.received_g = None;
                        }
                        touched.push(Touched::Container(id.to_string()));
                    }
                }
            }
            if lot.containers.is_none() {
                self.lot_queues
                    .entry((receiver.clone(), lot.code.clone()))
                    .or_default()
                    .insert((date, key));
            } else {
                *self
                    .container_lots_held
                    .entry((receiver.clone(), lot.code.clone()))
                    .or_insert(0) += 1;
            }
            if let Some(f) = &lot.facility {
                self.facility_stock_changed(&receiver, f, lot.quantity_g, p.header.at);
            }
            touched.push(Touched::Lot(key));
            self.lots.insert(key, lot);
        }
        // What the receiver did not keep stays as the receipt left it.
        self.close_delivered_containers(manifest_id);
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
    }
}

/// `GET /v1/chains/{manifest}` (§9): where the portions on a manifest's lines went.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChainsView {
    pub manifest: Uuid,
    pub number: String,
    pub chains: Vec<ChainView>,
}

/// One first leg's portion, judged as §8 at now.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChainView {
    pub first_leg: FirstLegView,
    /// What left the generator on the first leg: proper + improper + pending + left out.
    pub quantity_g: i64,
    pub proper_g: i64,
    pub improper_g: i64,
    pub pending_g: i64,
    pub left_out_g: i64,
    /// The improper kinds above 0.
    #[schema(value_type = Object)]
    pub improper_by_kind: BTreeMap<&'static str, i64>,
    pub legs: Vec<LegView>,
    pub lots: Vec<ChainLotView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FirstLegView {
    pub manifest: Uuid,
    pub number: String,
    pub code: String,
    pub generator: String,
    pub picked_up_at: String,
}

/// A manifest line that carries the portion, with what became of the portion on it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LegView {
    pub manifest: Uuid,
    pub number: String,
    pub generator: String,
    pub receiver: String,
    pub status: String,
    /// The lots (seqs) the line took the portion from.
    pub from_lots: Vec<u64>,
    pub quantity_g: i64,
    pub counted_g: Option<i64>,
    pub stored_g: Option<i64>,
    /// The lot the line stored the portion into.
    pub lot: Option<u64>,
    pub proper_g: i64,
    #[schema(value_type = Object)]
    pub improper_by_kind: BTreeMap<&'static str, i64>,
    pub pending_g: i64,
    pub left_out_g: i64,
}

/// A stored lot that took the portion.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChainLotView {
    pub org: String,
    pub lot: u64,
    pub date: String,
    pub quantity_g: i64,
    pub remaining_g: i64,
    pub overdue: bool,
}

/// Sums of a leg, a lot or a chain: the rate's sums (no portion on a leg or in a lot at a
/// receiver is ever `stored` or treated on site), and what was left out as weighing error.
#[derive(Debug, Default, Clone)]
struct Tally {
    sums: Sums,
    left_out: i64,
}

impl Tally {
    fn merge(&mut self, o: &Tally) {
        self.sums.merge(&o.sums);
        self.left_out += o.left_out;
    }
}

impl State {
    /// The chains of a manifest's portions at `now`. With `reader` (an org that is not a
    /// regulator), a chain whose first leg is not the reader's shows only the legs the reader is
    /// a party of and the lots it holds, and its sums are of those.
    pub fn chains_of(&self, id: &Uuid, now: Timestamp, reader: Option<&str>) -> Option<ChainsView> {
        let m = self.manifests.get(id)?;
        let limits = self.limits();
        let shipped = |m: &Manifest| {
            !matches!(
                m.status,
                ManifestStatus::Opened | ManifestStatus::Cancelled | ManifestStatus::Rejected
            )
        };
        let mut first_legs: Vec<FirstLeg> = Vec::new();
        for line in &m.lines {
            for fl in line.parts.iter().filter_map(|p| p.first_leg) {
                if !first_legs.contains(&fl) {
                    first_legs.push(fl);
                }
            }
        }
        let mut chains: Vec<(u64, String, ChainView)> = Vec::new();
        for fl in first_legs {
            let Some(first) = self.manifests.get(&fl.0).filter(|f| shipped(f)) else {
                continue;
            };
            let first_line = &first.lines[fl.1 as usize];
            let full = reader.is_none_or(|r| r == first.generator);
            let mut total = Tally::default();
            let mut legs = Vec::new();
            let mut lots = Vec::new();
            let onward = self
                .onward_legs
                .get(&fl)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (lm, li) in std::iter::once(&fl).chain(onward) {
                let Some(leg) = self.manifests.get(lm).filter(|x| shipped(x)) else {
                    continue;
                };
                if !full
                    && !reader.is_some_and(|r| {
                        [&leg.generator, &leg.carrier, &leg.receiver].contains(&&r.to_owned())
                    })
                {
                    continue;
                }
                let line = &leg.lines[*li as usize];
                let Some((_, x)) = line_portions(line).into_iter().find(|(f, _)| *f == fl) else {
                    continue;
                };
                let mut tally = Tally::default();
                for (q, class, deadline) in portion_classes(leg, line, &x, &limits) {
                    tally.sums.add(class_at(class, deadline, now), q);
                }
                let received = leg.received_at.is_some();
                if received && !shortfall_beyond_tolerance(line, &limits) {
                    tally.left_out += x.shipped_g - x.counted_g;
                }
                let mut from_lots: Vec<u64> = Vec::new();
                for p in line.parts.iter().filter(|p| p.first_leg == Some(fl)) {
                    if !from_lots.contains(&p.lot.seq) {
                        from_lots.push(p.lot.seq);
                    }
                }
                // The lot the storing made holds the portion when the storing was covered.
                let stored_lot = line
                    .lot
                    .and_then(|k| self.lots.get(&k))
                    .and_then(|lot| Some((lot, lot.portions.iter().find(|p| p.first_leg == fl)?)));
                if let Some((lot, portion)) = stored_lot {
                    if full || reader == Some(lot.generator.as_str()) {
                        let overdue = portion.remaining_g > 0
                            && now > super::oversight::storage_deadline(lot);
                        let mut t = Tally::default();
                        t.sums.add(
                            if overdue {
                                Class::Improper(Kind::StorageOverdue)
                            } else {
                                Class::Pending
                            },
                            portion.remaining_g,
                        );
                        total.merge(&t);
                        lots.push(ChainLotView {
                            org: lot.generator.clone(),
                            lot: lot.seq,
                            date: time::format_date(lot.date),
                            quantity_g: portion.quantity_g,
                            remaining_g: portion.remaining_g,
                            overdue,
                        });
                    }
                }
                total.merge(&tally);
                legs.push(LegView {
                    manifest: leg.id,
                    number: leg.number.clone(),
                    generator: leg.generator.clone(),
                    receiver: leg.receiver.clone(),
                    status: leg.status.as_str().to_owned(),
                    from_lots,
                    quantity_g: x.shipped_g,
                    counted_g: received.then_some(x.counted_g),
                    stored_g: (leg.status == ManifestStatus::Stored).then_some(x.stored_g),
                    lot: stored_lot.map(|(lot, _)| lot.seq),
                    proper_g: tally.sums.proper,
                    improper_by_kind: tally.sums.improper_above_zero(),
                    pending_g: tally.sums.pending,
                    left_out_g: tally.left_out,
                });
            }
            let first_x = line_portions(first_line)
                .into_iter()
                .find(|(f, _)| *f == fl)
                .map_or(0, |(_, x)| x.shipped_g);
            chains.push((
                first.opened_seq,
                first_line.code.clone(),
                ChainView {
                    first_leg: FirstLegView {
                        manifest: first.id,
                        number: first.number.clone(),
                        code: first_line.code.clone(),
                        generator: first.generator.clone(),
                        picked_up_at: first
                            .picked_up_at
                            .map(time::format_timestamp)
                            .unwrap_or_default(),
                    },
                    quantity_g: first_x,
                    proper_g: total.sums.proper,
                    improper_g: total.sums.improper.iter().sum(),
                    pending_g: total.sums.pending,
                    left_out_g: total.left_out,
                    improper_by_kind: total.sums.improper_above_zero(),
                    legs,
                    lots,
                },
            ));
        }
        chains.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Some(ChainsView {
            manifest: m.id,
            number: m.number.clone(),
            chains: chains.into_iter().map(|(_, _, c)| c).collect(),
        })
    }
}
