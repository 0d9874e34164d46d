//! Declared waste (申报登记) held at generators, as lots that manifests reserve and on-site
//! treatments take oldest first.
//!
//! A lot is named by the seq of the entry that made it and its code (`LotKey`). Lots made by
//! storings at receivers (`manifest.stored`, src/domain/chain.rs) remember their origin and hold
//! portions of the first legs they came from; a take from a lot of `waste.declared` is of the
//! portion whose first leg is the taking line itself.

use chrono::NaiveDate;
use serde::Deserialize;

use super::catalogue;
use super::container::{Cid, Container, ContainerStatus, Weighed};
use super::facility::FacilityKind;
use super::ids::WasteCode;
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, Role, State, Touched};
use crate::protocol::event::Prepared;
use crate::protocol::time::{self, Timestamp};

/// A lot's name (§6 Stock): the seq of the entry that made it, and its code. A `waste.declared`
/// makes one lot; a storing makes one per manifest line, and a manifest's lines have distinct
/// codes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct LotKey {
    pub seq: u64,
    /// The 8 digits of the waste code as a number (codes are checked before a lot is made).
    code: u32,
}

impl LotKey {
    pub fn new(seq: u64, code: &str) -> LotKey {
        let code = code.bytes().filter(u8::is_ascii_digit).fold(0u32, |n, d| {
            n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
        });
        LotKey { seq, code }
    }

    /// The smallest and the largest key of the lots made by the entry `seq`.
    /// Above every key (for ranges).
    pub const MAX: LotKey = LotKey {
        seq: u64::MAX,
        code: u32::MAX,
    };

    pub fn range_of(seq: u64) -> std::ops::RangeInclusive<LotKey> {
        LotKey { seq, code: 0 }..=LotKey {
            seq,
            code: u32::MAX,
        }
    }
}

/// One lot: a quantity of one code at one holder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The storage facility of the holder it is kept in, if named.
    pub facility: Option<String>,
    /// The ids of its containers, in the order declared; `None` for a container-less lot
    /// (the only lots manifest lines without containers and FIFO take from).
    pub containers: Option<Vec<Cid>>,
    /// The storage limit in force just after the lot was made (§7): its deadline is 00:00 CST
    /// of `date` + this, and a later `ledger.limits_set` does not move it.
    pub storage_s: i64,
    /// For a lot stored at a receiver: the manifest line it was stored from, and the storing's
    /// `at`. `None` for a lot of `waste.declared`.
    pub origin: Option<Origin>,
    /// For a stored lot: its portions, by the seq of their first leg's opening (§6 Chains); its
    /// grams beyond them are unattributed. Empty for a lot of `waste.declared`.
    pub portions: Vec<Portion>,
    /// For a stored lot: the manifests neither cancelled nor rejected that reserved from it,
    /// with the grams they took, in opening order (the `onward` of its origin line).
    pub onward: Vec<(uuid::Uuid, i64)>,
}

/// How a manifest's move changes the portions of the lots it reserved from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortionStep {
    Release,
    Take,
    Return,
}

/// Where a stored lot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub manifest: uuid::Uuid,
    pub line: u16,
    pub stored_at: Timestamp,
}

/// The manifest line on which a portion of waste left the generator that declared it.
pub type FirstLeg = (uuid::Uuid, u16);

/// What a stored lot holds of one first leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Portion {
    pub first_leg: FirstLeg,
    /// The seq of the first leg's `manifest.opened` (the order of portions).
    pub opened_seq: u64,
    /// What the storing put in the lot of it.
    pub quantity_g: i64,
    /// Still at the holder, reserved or not.
    pub remaining_g: i64,
    /// The part of `remaining_g` held by opened manifests.
    pub reserved_g: i64,
}

impl Portion {
    pub fn unreserved_g(&self) -> i64 {
        self.remaining_g - self.reserved_g
    }
}

impl Lot {
    pub fn key(&self) -> LotKey {
        LotKey::new(self.seq, &self.code)
    }

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
    facility: Option<String>,
    containers: Option<Vec<Weighed>>,
}

impl State {
    pub(super) fn waste_declared(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        let storage_s = self.limits().generator_storage();
        self.require_role(&p.header.actor, Role::Generator)?;
        let b: Declared = body(p.body())?;
        if b.generator != p.header.actor {
            return reject(Code::Forbidden, "a generator declares only its own waste");
        }
        if let Some(f) = &b.facility {
            self.active_facility(&b.generator, f, &[FacilityKind::Storage])?;
        }
        let code = self.known_code(p, &b.code)?;
        let date = time::parse_date(&b.date)
            .map_err(|e| Rejection::new(Code::InvalidEvent, format!("date: {e}")))?;
        self.check_event_date(p, date)?;
        if let Some(list) = &b.containers {
            self.check_new_containers(list, &b.generator, &code, date, b.quantity_g)?;
        }
        self.check_room(&b.generator, b.facility.as_deref(), b.quantity_g)?;
        let seq = self.size;
        let key = LotKey::new(seq, &b.code);
        if let Some(f) = &b.facility {
            self.facility_stock_changed(&b.generator, f, b.quantity_g, p.header.at);
        }
        if b.containers.is_none() {
            self.lot_queues
                .entry((b.generator.clone(), code.as_str().to_owned()))
                .or_default()
                .insert((date, key));
        } else {
            *self
                .container_lots_held
                .entry((b.generator.clone(), code.as_str().to_owned()))
                .or_insert(0) += 1;
        }
        let mut steps = Vec::new();
        let mut touched = vec![Touched::Lot(key)];
        self.pack_new_containers(
            key,
            b.containers.as_deref().unwrap_or_default(),
            &mut steps,
            &mut touched,
        );
        self.book_generated(&b.generator, &b.code, date, b.quantity_g);
        self.lots.insert(
            key,
            Lot {
                seq,
                generator: b.generator,
                code: b.code,
                date,
                quantity_g: b.quantity_g,
                remaining_g: b.quantity_g,
                reserved_g: 0,
                facility: b.facility,
                containers: b
                    .containers
                    .map(|l| l.iter().map(|c| Cid::checked(&c.id)).collect()),
                storage_s,
                origin: None,
                portions: Vec::new(),
                onward: Vec::new(),
            },
        );
        Ok(Outcome {
            touched,
            containers: steps,
            ..Default::default()
        })
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

    /// The code of a line or treatment that moves the holder's existing stock: known to the
    /// catalogue in force, or one the holder still holds a lot of (§2: a code a later edition
    /// dropped still moves the lots made under the edition that listed it).
    pub(super) fn code_to_move(
        &self,
        p: &Prepared,
        holder: &str,
        code: &str,
    ) -> Result<WasteCode, Rejection> {
        match self.known_code(p, code) {
            Ok(c) => Ok(c),
            Err(e) if self.held_lots(holder, code) == 0 => Err(e),
            Err(e) => WasteCode::parse(code).map_err(|_| e),
        }
    }

    /// A date of a declaration or treatment (§6): not after the CST date of `at` and, while
    /// compliance is on (§7), not before the CST date of `at` − `max_backdate`.
    pub(super) fn check_event_date(&self, p: &Prepared, date: NaiveDate) -> Result<(), Rejection> {
        let at = p.header.at;
        if date > time::cst_date(at) {
            return reject(
                Code::BadDate,
                format!(
                    "date {date} is after the CST day of the event ({})",
                    time::cst_date(at)
                ),
            );
        }
        let limits = self.limits();
        if limits.compliance_on() {
            let earliest = time::cst_date(at - chrono::Duration::seconds(limits.max_backdate_s));
            if date < earliest {
                return reject(
                    Code::BadDate,
                    format!("date {date} is before {earliest}, the earliest max_backdate allows"),
                );
            }
        }
        Ok(())
    }

    /// The generator's quantity of `code` not yet reserved.
    pub fn unreserved(&self, generator: &str, code: &str) -> i64 {
        self.lot_queues
            .get(&(generator.to_owned(), code.to_owned()))
            .into_iter()
            .flat_map(|q| q.iter())
            .map(|(_, key)| self.lots[key].unreserved_g())
            .sum()
    }

    /// Reserves `quantity` of `code` at `generator`, oldest lot first; the caller has checked
    /// that enough is unreserved. Returns the allocation per lot.
    pub(super) fn reserve(
        &mut self,
        generator: &str,
        code: &str,
        quantity: i64,
    ) -> Vec<(LotKey, i64)> {
        let mut left = quantity;
        let mut taken = Vec::new();
        let queue = (generator.to_owned(), code.to_owned());
        let keys: Vec<LotKey> = self.lot_queues[&queue].iter().map(|(_, k)| *k).collect();
        for key in keys {
            if left == 0 {
                break;
            }
            let lot = self.lots.get_mut(&key).expect("queued lots exist");
            let take = lot.unreserved_g().min(left);
            if take > 0 {
                lot.reserved_g += take;
                left -= take;
                taken.push((key, take));
            }
        }
        debug_assert_eq!(left, 0, "reserve is called only when the stock suffices");
        taken
    }

    /// The lots of `code` the holder has with something left (a code the catalogue in force no
    /// longer lists may still be held).
    pub fn held_lots(&self, holder: &str, code: &str) -> usize {
        let key = (holder.to_owned(), code.to_owned());
        self.lot_queues.get(&key).map_or(0, |q| q.len())
            + self
                .container_lots_held
                .get(&key)
                .map_or(0, |n| *n as usize)
    }

    /// The holder's unreserved quantity of `code` in its lots of `waste.declared` dated on or
    /// before `date` (what on-site treatment may take).
    pub fn unreserved_until(&self, holder: &str, code: &str, date: NaiveDate) -> i64 {
        self.lot_queues
            .get(&(holder.to_owned(), code.to_owned()))
            .into_iter()
            .flat_map(|q| q.range(..=(date, LotKey::MAX)))
            .map(|(_, key)| &self.lots[key])
            .filter(|l| l.origin.is_none())
            .map(|l| l.unreserved_g())
            .sum()
    }

    /// Takes `quantity` of `code` at once from the holder's unreserved stock in lots dated on
    /// or before `date`, oldest first (on-site treatment); the caller has checked that it
    /// suffices.
    pub(super) fn take_until(
        &mut self,
        holder: &str,
        code: &str,
        date: NaiveDate,
        quantity: i64,
        at: Timestamp,
    ) -> Vec<(LotKey, i64)> {
        let queue = (holder.to_owned(), code.to_owned());
        let keys: Vec<LotKey> = self.lot_queues[&queue]
            .range(..=(date, LotKey::MAX))
            .map(|(_, k)| *k)
            .collect();
        let mut left = quantity;
        let mut taken = Vec::new();
        for key in keys {
            if left == 0 {
                break;
            }
            if self.lots[&key].origin.is_some() {
                continue;
            }
            let take = self.lots[&key].unreserved_g().min(left);
            if take > 0 {
                self.change_remaining(key, -take, at);
                left -= take;
                taken.push((key, take));
            }
        }
        debug_assert_eq!(left, 0, "take_until is called only when the stock suffices");
        taken
    }

    /// Takes `quantity` out of one lot at once (named containers treated on site).
    pub(super) fn take_from_lot(&mut self, key: LotKey, quantity: i64, at: Timestamp) {
        self.change_remaining(key, -quantity, at);
    }

    /// A lot's remaining quantity changes: its facility's stock follows, and an emptied lot
    /// leaves the queue (a refilled one rejoins it in its place).
    fn change_remaining(&mut self, lot_key: LotKey, delta: i64, at: Timestamp) {
        let lot = self.lots.get_mut(&lot_key).expect("known lots");
        let before = lot.remaining_g;
        lot.remaining_g += delta;
        let (holder, facility) = (lot.generator.clone(), lot.facility.clone());
        if let Some(f) = facility {
            self.facility_stock_changed(&holder, &f, delta, at);
        }
        let lot = &self.lots[&lot_key];
        let key = (lot.generator.clone(), lot.code.clone());
        if lot.containers.is_some() {
            match (before > 0, lot.remaining_g > 0) {
                (true, false) => {
                    if let Some(n) = self.container_lots_held.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            self.container_lots_held.remove(&key);
                        }
                    }
                }
                (false, true) => *self.container_lots_held.entry(key).or_insert(0) += 1,
                _ => {}
            }
            return;
        }
        let order = (lot.date, lot_key);
        if lot.remaining_g == 0 {
            if let Some(q) = self.lot_queues.get_mut(&key) {
                q.remove(&order);
            }
        } else {
            self.lot_queues.entry(key).or_default().insert(order);
        }
    }

    /// Pickup: the reserved quantities leave their lots.
    pub(super) fn take_reserved(&mut self, allocation: &[(LotKey, i64)], at: Timestamp) {
        for (key, q) in allocation {
            self.lots
                .get_mut(key)
                .expect("allocated lots exist")
                .reserved_g -= q;
            self.change_remaining(*key, -q, at);
        }
    }

    /// Cancellation: the reservation is released.
    pub(super) fn release(&mut self, allocation: &[(LotKey, i64)]) {
        for (key, q) in allocation {
            self.lots
                .get_mut(key)
                .expect("allocated lots exist")
                .reserved_g -= q;
        }
    }

    /// Rejection: the shipped quantities return to the lots they came from.
    pub(super) fn give_back(&mut self, allocation: &[(LotKey, i64)], at: Timestamp) {
        for (key, q) in allocation {
            self.change_remaining(*key, *q, at);
        }
    }

    /// Makes the new containers of a lot, in stock, with their trace steps.
    pub(super) fn pack_new_containers(
        &mut self,
        lot: LotKey,
        list: &[Weighed],
        steps: &mut Vec<(String, Option<i64>)>,
        touched: &mut Vec<Touched>,
    ) {
        for c in list {
            self.containers.insert(
                Cid::checked(&c.id),
                Container {
                    lot,
                    quantity_g: c.quantity_g,
                    status: ContainerStatus::InStock,
                    manifest: None,
                    received_g: None,
                },
            );
            steps.push((c.id.clone(), Some(c.quantity_g)));
            touched.push(Touched::Container(c.id.clone()));
        }
    }

    /// Splits a line's allocation into its parts (§6 Chains), in part order: by the (`date`,
    /// seq) of the lots, within a stored lot its unreserved portions in order, then its
    /// unattributed grams; a take from a lot of `waste.declared` is of the portion whose first
    /// leg is the line itself (`own`). Reserves the portions taken. The allocation is put in
    /// part order too.
    pub(super) fn reserve_parts(
        &mut self,
        allocation: &mut [(LotKey, i64)],
        own: FirstLeg,
    ) -> Vec<super::manifest::Part> {
        allocation.sort_by_key(|(k, _)| (self.lots[k].date, *k));
        let mut parts = Vec::new();
        for &(key, q) in allocation.iter() {
            let part = |first_leg, quantity_g| super::manifest::Part {
                lot: key,
                first_leg,
                quantity_g,
                counted_g: None,
                stored_g: None,
            };
            let lot = self.lots.get_mut(&key).expect("allocated lots exist");
            if lot.origin.is_none() {
                parts.push(part(Some(own), q));
                continue;
            }
            let mut left = q;
            for portion in &mut lot.portions {
                let take = portion.unreserved_g().min(left);
                if take > 0 {
                    portion.reserved_g += take;
                    left -= take;
                    parts.push(part(Some(portion.first_leg), take));
                }
            }
            if left > 0 {
                parts.push(part(None, left));
            }
        }
        parts
    }

    /// Moves the portions of a line's parts with their lots: `Release` (cancellation), `Take`
    /// (pickup), `Return` (rejection).
    pub(super) fn move_portions(&mut self, parts: &[super::manifest::Part], step: PortionStep) {
        for part in parts {
            let Some(first_leg) = part.first_leg else {
                continue;
            };
            let Some(lot) = self.lots.get_mut(&part.lot) else {
                continue;
            };
            let Some(portion) = lot.portions.iter_mut().find(|p| p.first_leg == first_leg) else {
                // A take from a lot of `waste.declared`: the lot has no portions.
                continue;
            };
            match step {
                PortionStep::Release => portion.reserved_g -= part.quantity_g,
                PortionStep::Take => {
                    portion.reserved_g -= part.quantity_g;
                    portion.remaining_g -= part.quantity_g;
                }
                PortionStep::Return => portion.remaining_g += part.quantity_g,
            }
        }
    }

    /// What a rejection would take a storage facility's stock to, at most (§1: 2^53−1).
    pub(super) fn stock_after_return(&self, allocation: &[(LotKey, i64)]) -> i64 {
        let mut by_facility: std::collections::HashMap<(String, String), i64> =
            std::collections::HashMap::new();
        for (key, q) in allocation {
            let lot = &self.lots[key];
            if let Some(f) = &lot.facility {
                *by_facility
                    .entry((lot.generator.clone(), f.clone()))
                    .or_insert(0) += q;
            }
        }
        by_facility
            .into_iter()
            .map(|((o, f), q)| self.facility(&o, &f).map_or(0, |f| f.stock_g) + q)
            .max()
            .unwrap_or(0)
    }
}
