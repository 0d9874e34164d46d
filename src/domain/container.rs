//! Containers (一物一码, HJ 1276-2022): a lot declared in containers consists of them, each with
//! its 37-character 数字识别码; waste in containers ships only by naming them, each is scanned at
//! pickup and weighed at receipt (§6 Containers).
//!
//! A container's identity segments (packing unit, waste code, date) are those of its lot, so the
//! state keeps only what changes: its lot, quantity, status and the manifest holding it. The
//! trace of the entries that touched it is a projection (`container_trace`), written from the
//! steps each accepted entry reports.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::ids::WasteCode;
use super::rejection::{reject, Code, Rejection};
use super::state::State;
use crate::protocol::time;

/// The length of a 数字识别码: unit (18), waste code (8), packing date (8), serial (3).
pub const CONTAINER_ID_LEN: usize = 37;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ContainerStatus {
    InStock,
    Reserved,
    Shipped,
    /// Counted above 0 at receipt, or not weighed one by one.
    Received,
    /// Left out of, or at 0 in, a receipt line that lists containers.
    Missing,
    Treated,
}

impl ContainerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::InStock => "in_stock",
            ContainerStatus::Reserved => "reserved",
            ContainerStatus::Shipped => "shipped",
            ContainerStatus::Received => "received",
            ContainerStatus::Missing => "missing",
            ContainerStatus::Treated => "treated",
        }
    }
}

/// One container, by its id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Container {
    /// The seq of the entry that made the lot it was last put in.
    pub lot: super::stock::LotKey,
    /// What it holds in that lot.
    pub quantity_g: i64,
    pub status: ContainerStatus,
    /// The manifest that reserved it, while reserved, shipped, received or missing.
    pub manifest: Option<Uuid>,
    /// Its weight at receipt, when the receipt weighed it.
    pub received_g: Option<i64>,
}

/// A container named with its quantity (`waste.declared`, a receipt line).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weighed {
    pub id: String,
    pub quantity_g: i64,
}

/// The packing unit of a container id (its first segment).
pub fn packer(id: &str) -> &str {
    id.get(..18).unwrap_or(id)
}

/// Whether `id` has the segments of §2 for a container packed by `holder` on `date` holding
/// `code`: unit, waste code without hyphens, date `YYYYMMDD`, serial 001–999.
pub fn segments_match(id: &str, holder: &str, code: &str, date: NaiveDate) -> Result<(), String> {
    if id.len() != CONTAINER_ID_LEN || !id.is_ascii() {
        return Err(format!("{id:?} is not {CONTAINER_ID_LEN} ASCII characters"));
    }
    let (unit, rest) = id.split_at(18);
    let (waste, rest) = rest.split_at(8);
    let (day, serial) = rest.split_at(8);
    if unit != holder {
        return Err(format!("{id}: the unit {unit} is not {holder}"));
    }
    if waste != code.replace('-', "") {
        return Err(format!("{id}: the waste code {waste} is not {code}"));
    }
    if day != time::format_date(date).replace('-', "") {
        return Err(format!(
            "{id}: the packing date {day} is not the lot's date {}",
            time::format_date(date)
        ));
    }
    let n: u32 = serial
        .parse()
        .ok()
        .filter(|_| serial.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(0);
    if !(1..=999).contains(&n) {
        return Err(format!("{id}: the serial {serial} is not 001 to 999"));
    }
    Ok(())
}

impl State {
    /// The checks of new containers for a lot of `quantity_g` of `code` at `holder` dated
    /// `date`, one by one in list order (`bad_container_id`, `container_exists`), then their sum
    /// (`containers_mismatch`).
    pub(super) fn check_new_containers(
        &self,
        list: &[Weighed],
        holder: &str,
        code: &WasteCode,
        date: NaiveDate,
        quantity_g: i64,
    ) -> Result<(), Rejection> {
        let mut seen = HashSet::new();
        for c in list {
            segments_match(&c.id, holder, code.as_str(), date)
                .map_err(|m| Rejection::new(Code::BadContainerId, m))?;
            if self.containers.contains_key(&c.id) || !seen.insert(c.id.as_str()) {
                return reject(
                    Code::ContainerExists,
                    format!("container {} already exists", c.id),
                );
            }
        }
        let sum: i64 = list.iter().map(|c| c.quantity_g).sum();
        if sum != quantity_g {
            return reject(
                Code::ContainersMismatch,
                format!("the containers hold {sum} g; the lot is {quantity_g} g"),
            );
        }
        Ok(())
    }

    /// The checks of containers named to take from stock at `holder` (a manifest line, a
    /// treatment): each exists (`unknown_container`), is in stock at the holder, of `code`,
    /// unreserved and in a lot `lot_ok` accepts (`container_unavailable`); then they hold
    /// `quantity_g` (`containers_mismatch`). Returns the (lot, grams) they take, by lot in the
    /// order first named.
    pub(super) fn check_named_containers(
        &self,
        ids: &[String],
        holder: &str,
        code: &str,
        quantity_g: i64,
        lot_ok: impl Fn(&super::stock::Lot) -> bool,
    ) -> Result<Vec<(super::stock::LotKey, i64)>, Rejection> {
        let mut take: Vec<(super::stock::LotKey, i64)> = Vec::new();
        for id in ids {
            let c = self.containers.get(id).ok_or_else(|| {
                Rejection::new(Code::UnknownContainer, format!("no container {id}"))
            })?;
            let lot = &self.lots[&c.lot];
            if c.status != ContainerStatus::InStock
                || lot.generator != holder
                || lot.code != code
                || !lot_ok(lot)
            {
                return reject(
                    Code::ContainerUnavailable,
                    format!(
                        "container {id} is {} in lot {} of {} ({}); not available here",
                        c.status.as_str(),
                        c.lot.seq,
                        lot.generator,
                        lot.code
                    ),
                );
            }
            match take.iter_mut().find(|(l, _)| *l == c.lot) {
                Some((_, q)) => *q += c.quantity_g,
                None => take.push((c.lot, c.quantity_g)),
            }
        }
        let sum: i64 = take.iter().map(|(_, q)| q).sum();
        if sum != quantity_g {
            return reject(
                Code::ContainersMismatch,
                format!("the containers hold {sum} g; the line is {quantity_g} g"),
            );
        }
        Ok(take)
    }

    /// Moves containers to a status (and the manifest holding them).
    pub(super) fn set_containers(
        &mut self,
        ids: &[String],
        status: ContainerStatus,
        manifest: Option<Uuid>,
    ) {
        for id in ids {
            if let Some(c) = self.containers.get_mut(id) {
                c.status = status;
                c.manifest = manifest;
                if matches!(status, ContainerStatus::InStock | ContainerStatus::Reserved) {
                    c.received_g = None;
                }
            }
        }
    }
}
