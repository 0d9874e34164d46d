//! On-site treatment (自行利用/处置, HJ 1259 B.4): a generator treats waste it declared in one of
//! its own utilisation or disposal facilities (§6 `waste.treated`). The stock leaves its lots at
//! once, and the rate counts it as proper (`treated_onsite_g`, §8).

use chrono::NaiveDate;
use serde::Deserialize;

use super::catalogue;
use super::container::ContainerStatus;
use super::facility::FacilityKind;
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, Role, State, Touched};
use crate::protocol::event::Prepared;
use crate::protocol::time;

/// One `waste.treated`, by the seq of its entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Treatment {
    pub seq: u64,
    pub generator: String,
    pub facility: String,
    pub code: String,
    pub quantity_g: i64,
    pub method: String,
    pub date: NaiveDate,
    /// Where the waste was taken from: (lot seq, grams), oldest lot first.
    pub lots: Vec<(super::stock::LotKey, i64)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Treated {
    generator: String,
    facility: String,
    code: String,
    quantity_g: i64,
    method: String,
    date: String,
    containers: Option<Vec<String>>,
}

impl State {
    pub(super) fn waste_treated(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_role(&p.header.actor, Role::Generator)?;
        let b: Treated = body(p.body())?;
        if b.generator != p.header.actor {
            return reject(Code::Forbidden, "a generator treats only its own waste");
        }
        self.active_facility(
            &b.generator,
            &b.facility,
            &[FacilityKind::Utilize, FacilityKind::Dispose],
        )?;
        self.code_to_move(p, &b.generator, &b.code)?;
        let date = time::parse_date(&b.date)
            .map_err(|e| Rejection::new(Code::InvalidEvent, format!("date: {e}")))?;
        self.check_event_date(p, date)?;
        if catalogue::method(&b.method).is_none() {
            return reject(
                Code::UnknownMethod,
                format!("{:?} is not a handling method code", b.method),
            );
        }
        let f = self
            .facility(&b.generator, &b.facility)
            .expect("checked above");
        if !f.methods.contains(&b.method) {
            return reject(
                Code::MethodNotAllowed,
                format!(
                    "{} is not a method of facility {} ({})",
                    b.method,
                    b.facility,
                    f.methods.join(", ")
                ),
            );
        }
        let (capacity, year) = (f.capacity_g, time::year_of(date));
        let treated = f.treated_in(year);
        // Named containers: of the generator's lots of waste.declared dated on or before
        // `date` (a container elsewhere is unavailable); else container-less stock.
        let named = match &b.containers {
            Some(ids) => Some(self.check_named_containers(
                ids,
                &b.generator,
                &b.code,
                b.quantity_g,
                |lot| lot.date <= date && lot.origin.is_none(),
            )?),
            None => None,
        };
        let have = self.unreserved_until(&b.generator, &b.code, date);
        if named.is_none() && have < b.quantity_g {
            return reject(
                Code::InsufficientStock,
                format!(
                    "{} has {have} g of {} declared by {} and unreserved; the treatment takes {} g",
                    b.generator, b.code, b.date, b.quantity_g
                ),
            );
        }
        if treated + b.quantity_g > capacity {
            return reject(
                Code::CapacityExceeded,
                format!(
                    "facility {} treats at most {capacity} g a year; {treated} g are treated in {year}, this treatment adds {} g",
                    b.facility, b.quantity_g
                ),
            );
        }
        // Every rule holds: the stock leaves its lots (oldest first, or the named containers').
        let mut steps = Vec::new();
        let lots = match (named, &b.containers) {
            (Some(take), Some(ids)) => {
                for (lot, q) in &take {
                    self.take_from_lot(*lot, *q, p.header.at);
                }
                self.set_containers(ids, ContainerStatus::Treated, None);
                for id in ids {
                    self.containers.close(id);
                }
                steps.extend(ids.iter().map(|id| (id.clone(), None)));
                take
            }
            _ => self.take_until(&b.generator, &b.code, date, b.quantity_g, p.header.at),
        };
        let seq = self.size;
        let f = self
            .facilities
            .get_mut(&(b.generator.clone(), b.facility.clone()))
            .expect("checked above");
        *f.treated.entry(year).or_insert(0) += b.quantity_g;
        let mut touched = vec![
            Touched::Facility(b.generator.clone(), b.facility.clone()),
            Touched::Treatment(seq),
        ];
        touched.extend(lots.iter().map(|(s, _)| Touched::Lot(*s)));
        touched.extend(
            b.containers
                .iter()
                .flatten()
                .cloned()
                .map(Touched::Container),
        );
        self.book_treated(&b.generator, &b.code, date, &b.method, b.quantity_g);
        self.treatments.insert(
            seq,
            Treatment {
                seq,
                generator: b.generator,
                facility: b.facility,
                code: b.code,
                quantity_g: b.quantity_g,
                method: b.method,
                date,
                lots,
            },
        );
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
    }
}
