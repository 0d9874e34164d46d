//! Declared waste (申报登记) held at generators, as lots that manifests reserve oldest first.

use chrono::NaiveDate;
use serde::Deserialize;

use super::catalogue;
use super::ids::WasteCode;
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, Role, State, Touched};
use crate::protocol::event::Prepared;
use crate::protocol::time;

/// One `waste.declared`: a quantity of one code at one generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// The seq of the `waste.declared` entry: the lot's identity.
    pub seq: u64,
    pub generator: String,
    pub code: String,
    pub date: NaiveDate,
    pub quantity_g: i64,
    /// Still at the generator, reserved or not.
    pub remaining_g: i64,
    /// The part of `remaining_g` held by opened manifests.
    pub reserved_g: i64,
}

impl Lot {
    pub fn unreserved_g(&self) -> i64 {
        self.remaining_g - self.reserved_g
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declared {
    generator: String,
    code: String,
    quantity_g: i64,
    date: String,
}

impl State {
    pub(super) fn waste_declared(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        self.require_role(&p.header.actor, Role::Generator)?;
        let b: Declared = body(p.body())?;
        if b.generator != p.header.actor {
            return reject(Code::Forbidden, "a generator declares only its own waste");
        }
        let code = self.known_code(p, &b.code)?;
        let date = time::parse_date(&b.date)
            .map_err(|e| Rejection::new(Code::InvalidEvent, format!("date: {e}")))?;
        if date > time::cst_date(p.header.at) {
            return reject(
                Code::BadDate,
                format!("date {} is after the day of the declaration", b.date),
            );
        }
        let seq = self.size;
        self.lot_queues
            .entry((b.generator.clone(), code.as_str().to_owned()))
            .or_default()
            .insert((date, seq));
        self.lots.insert(
            seq,
            Lot {
                seq,
                generator: b.generator,
                code: b.code,
                date,
                quantity_g: b.quantity_g,
                remaining_g: b.quantity_g,
                reserved_g: 0,
            },
        );
        Ok(Outcome::touching(Touched::Lot(seq)))
    }

    /// A waste code known to the catalogue in force on the CST date of the event.
    pub(super) fn known_code(&self, p: &Prepared, code: &str) -> Result<WasteCode, Rejection> {
        let edition = self.edition_of(p);
        WasteCode::parse(code)
            .ok()
            .filter(|c| catalogue::lookup(edition, c.as_str()).is_some())
            .ok_or_else(|| {
                Rejection::new(
                    Code::UnknownWasteCode,
                    format!("{code} is not in the {} catalogue", edition.name()),
                )
            })
    }

    /// The generator's quantity of `code` not yet reserved.
    pub fn unreserved(&self, generator: &str, code: &str) -> i64 {
        self.lot_queues
            .get(&(generator.to_owned(), code.to_owned()))
            .into_iter()
            .flat_map(|q| q.iter())
            .map(|(_, seq)| self.lots[seq].unreserved_g())
            .sum()
    }

    /// Reserves `quantity` of `code` at `generator`, oldest lot first; the caller has checked
    /// that enough is unreserved. Returns the allocation per lot.
    pub(super) fn reserve(
        &mut self,
        generator: &str,
        code: &str,
        quantity: i64,
    ) -> Vec<(u64, i64)> {
        let mut left = quantity;
        let mut taken = Vec::new();
        let key = (generator.to_owned(), code.to_owned());
        let seqs: Vec<u64> = self.lot_queues[&key].iter().map(|(_, s)| *s).collect();
        for seq in seqs {
            if left == 0 {
                break;
            }
            let lot = self.lots.get_mut(&seq).expect("queued lots exist");
            let take = lot.unreserved_g().min(left);
            if take > 0 {
                lot.reserved_g += take;
                left -= take;
                taken.push((seq, take));
            }
        }
        debug_assert_eq!(left, 0, "reserve is called only when the stock suffices");
        taken
    }

    /// Pickup: the reserved quantities leave their lots.
    pub(super) fn take_reserved(&mut self, allocation: &[(u64, i64)]) {
        for (seq, q) in allocation {
            let lot = self.lots.get_mut(seq).expect("allocated lots exist");
            lot.reserved_g -= q;
            lot.remaining_g -= q;
            self.forget_if_empty(*seq);
        }
    }

    /// Cancellation: the reservation is released.
    pub(super) fn release(&mut self, allocation: &[(u64, i64)]) {
        for (seq, q) in allocation {
            self.lots
                .get_mut(seq)
                .expect("allocated lots exist")
                .reserved_g -= q;
        }
    }

    /// Rejection: the shipped quantities return to the lots they came from.
    pub(super) fn give_back(&mut self, allocation: &[(u64, i64)]) {
        for (seq, q) in allocation {
            let lot = self.lots.get_mut(seq).expect("allocated lots exist");
            lot.remaining_g += q;
            let key = (lot.generator.clone(), lot.code.clone());
            let order = (lot.date, lot.seq);
            self.lot_queues.entry(key).or_default().insert(order);
        }
    }

    /// Lots with nothing left leave the reservation queue (they stay in `lots`).
    fn forget_if_empty(&mut self, seq: u64) {
        let lot = &self.lots[&seq];
        if lot.remaining_g == 0 {
            let key = (lot.generator.clone(), lot.code.clone());
            let order = (lot.date, lot.seq);
            if let Some(q) = self.lot_queues.get_mut(&key) {
                q.remove(&order);
            }
        }
    }
}
