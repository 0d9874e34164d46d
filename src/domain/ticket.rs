//! The problem list (问题清单): tickets for suspected illegal transfer and dumping, closed off
//! one by one only with evidence (销号管理). Spec §6 `ticket.*` rows and §7.
//!
//! A ticket moves `open` → `assigned` → `rectified` → `closed`, with `rectified` → `assigned`
//! when a rectification is sent back and `closed` → `open` when it is reopened. Whether it is
//! overdue is a question about today, so it is answered at read time ([`Ticket::overdue`]) and
//! never stored: a stored flag would go stale at midnight with no entry to rewrite it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::oversight::{AUTOMATIC_KINDS, COMPLIANCE_KINDS};
use super::rejection::{reject, Code, Rejection};
use super::state::{body, Outcome, State, Touched};
use crate::protocol::event::{Prepared, LEDGER_ACTOR};
use crate::protocol::time::{self, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Assigned,
    Rectified,
    Closed,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 4] = [
        TicketStatus::Open,
        TicketStatus::Assigned,
        TicketStatus::Rectified,
        TicketStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::Assigned => "assigned",
            TicketStatus::Rectified => "rectified",
            TicketStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<TicketStatus> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The label a Chinese reader of an export expects (开启, 已交办, 已整改, 已销号).
    pub fn label_zh(self) -> &'static str {
        match self {
            TicketStatus::Open => "开启",
            TicketStatus::Assigned => "已交办",
            TicketStatus::Rectified => "已整改",
            TicketStatus::Closed => "已销号",
        }
    }
}

/// Where a problem was found on the ground; coordinates are WGS-84 micro-degrees (§1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub address: String,
    pub lat: Option<i64>,
    pub lon: Option<i64>,
}

/// What a ticket is about, as the opening event names it. Absent parts serialise as null so
/// that every ticket has the same shape in the API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub manifest: Option<Uuid>,
    pub org: Option<String>,
    pub code: Option<String>,
    /// The seq of the entry that made a lot.
    pub lot: Option<u64>,
    pub site: Option<Site>,
    /// A facility of `org` (version 2).
    #[serde(default)]
    pub facility: Option<String>,
    /// The seq of the causing entry (version 2).
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub year: Option<i32>,
    #[serde(default)]
    pub period: Option<String>,
    /// Container ids, in byte order (version 2).
    #[serde(default)]
    pub containers: Option<Vec<String>>,
}

/// A ticket of the problem list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ticket {
    pub id: Uuid,
    pub kind: String,
    pub status: TicketStatus,
    pub subject: Subject,
    pub summary: String,
    pub quantity_g: Option<i64>,
    /// The leading department (牵头) of the latest assignment.
    pub lead: Option<String>,
    /// The assisting departments (配合) of the latest assignment.
    pub support: Vec<String>,
    /// The org that must rectify, which may then sign `ticket.rectified` itself.
    pub responsible: Option<String>,
    pub due: Option<NaiveDate>,
    pub opened_seq: u64,
    pub opened_at: Timestamp,
    /// The `at` of the closing, while closed.
    pub closed_at: Option<Timestamp>,
    /// The `at` of its latest event: later events may not be dated before it.
    pub last_at: Timestamp,
    /// The seqs of its events, in order.
    pub history: Vec<u64>,
}

impl Ticket {
    /// Whether the ticket is past its due date on the CST date `today`: a ticket due on day *d*
    /// is overdue from *d*+1 00:00 CST until it is closed.
    pub fn overdue(&self, today: NaiveDate) -> bool {
        overdue(self.status, self.due, today)
    }
}

/// [`Ticket::overdue`] for the parts a stored row keeps.
pub fn overdue(status: TicketStatus, due: Option<NaiveDate>, today: NaiveDate) -> bool {
    status != TicketStatus::Closed && due.is_some_and(|d| today > d)
}

/// Whether the ledger, rather than a regulator, opens tickets of this kind (§7).
pub fn is_automatic(kind: &str) -> bool {
    AUTOMATIC_KINDS.contains(&kind) || COMPLIANCE_KINDS.contains(&kind)
}

/// Whether an entry is an automatic ticket, the ledger's own `ticket.opened`: dated when its
/// condition arose, however long ago (§3 step 5), and exempt from the due-moment check (§7).
pub fn is_automatic_ticket(p: &Prepared) -> bool {
    p.header.actor == LEDGER_ACTOR && p.header.kind == "ticket.opened"
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Opened {
    ticket: Uuid,
    kind: String,
    subject: Subject,
    summary: String,
    quantity_g: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Assigned {
    ticket: Uuid,
    lead: String,
    support: Option<Vec<String>>,
    responsible: Option<String>,
    due: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the note and evidence live in the entry; the state needs only the move
struct Evidence {
    sha256: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Rectified {
    ticket: Uuid,
    note: String,
    evidence: Vec<Evidence>,
}

/// `ticket.returned` and `ticket.reopened`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WithReason {
    ticket: Uuid,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Closed {
    ticket: Uuid,
    note: String,
}

/// A move read from its body: the ticket, and for an assignment what it sets.
struct Move {
    ticket: Uuid,
    assignment: Option<Assignment>,
}

struct Assignment {
    lead: String,
    support: Vec<String>,
    responsible: Option<String>,
    due: NaiveDate,
}

fn read_move(kind: &str, value: &serde_json::Value) -> Result<Move, Rejection> {
    let plain = |ticket| Move {
        ticket,
        assignment: None,
    };
    Ok(match kind {
        "ticket.assigned" => {
            let b: Assigned = body(value)?;
            let due = time::parse_date(&b.due)
                .map_err(|e| Rejection::new(Code::InvalidEvent, format!("due: {e}")))?;
            Move {
                ticket: b.ticket,
                assignment: Some(Assignment {
                    lead: b.lead,
                    support: b.support.unwrap_or_default(),
                    responsible: b.responsible,
                    due,
                }),
            }
        }
        "ticket.rectified" => plain(body::<Rectified>(value)?.ticket),
        "ticket.closed" => plain(body::<Closed>(value)?.ticket),
        _ => plain(body::<WithReason>(value)?.ticket),
    })
}

/// The status a move starts from and the one it leads to.
fn transition(kind: &str) -> (TicketStatus, TicketStatus) {
    use TicketStatus::*;
    match kind {
        "ticket.assigned" => (Open, Assigned),
        "ticket.rectified" => (Assigned, Rectified),
        "ticket.returned" => (Rectified, Assigned),
        // No closeout (销号) without a rectification and its evidence.
        "ticket.closed" => (Rectified, Closed),
        _ => (Closed, Open),
    }
}

impl State {
    pub(super) fn ticket_opened(
        &mut self,
        p: &Prepared,
        now: Timestamp,
    ) -> Result<Outcome, Rejection> {
        let h = &p.header;
        let b: Opened = body(p.body())?;
        let automatic = is_automatic(&b.kind);
        // Step 6. The ledger is the only witness of the automatic conditions, and a regulator
        // opening one by hand would take the id the ledger derives for it.
        if h.actor == LEDGER_ACTOR {
            if !automatic {
                return reject(
                    Code::Forbidden,
                    format!("the ledger opens only the automatic kinds, not {}", b.kind),
                );
            }
        } else {
            self.require_regulator(&h.actor)?;
            // The version-2 kinds are the ledger's only while compliance is on (§6): a ledger
            // recorded before them may hold manual tickets of those names.
            if AUTOMATIC_KINDS.contains(&b.kind.as_str())
                || (automatic && self.limits().compliance_on())
            {
                return reject(
                    Code::Forbidden,
                    format!("{} tickets are opened by the ledger itself", b.kind),
                );
            }
        }
        let automatic = h.actor == LEDGER_ACTOR;
        // Step 7: the objects the body names, then the row's rules.
        if let Some(m) = &b.subject.manifest {
            if !self.manifests.contains_key(m) {
                return reject(Code::UnknownManifest, format!("no manifest {m}"));
            }
        }
        if let Some(org) = &b.subject.org {
            self.existing_org(org)?;
        }
        if let Some(lot) = b.subject.lot {
            if self
                .lots
                .range(super::stock::LotKey::range_of(lot))
                .next()
                .is_none()
            {
                return reject(
                    Code::InvalidEvent,
                    format!("subject.lot {lot} is not the seq of a waste.declared entry"),
                );
            }
        }
        if self.tickets.contains_key(&b.ticket) {
            return reject(Code::TicketExists, format!("ticket {} exists", b.ticket));
        }
        if automatic {
            self.justify_automatic(b.ticket, p.body(), h.at, now)?;
        }
        self.tickets.insert(
            b.ticket,
            Ticket {
                id: b.ticket,
                kind: b.kind,
                status: TicketStatus::Open,
                subject: b.subject,
                summary: b.summary,
                quantity_g: b.quantity_g,
                lead: None,
                support: Vec::new(),
                responsible: None,
                due: None,
                opened_seq: self.size,
                opened_at: h.at,
                closed_at: None,
                last_at: h.at,
                history: vec![self.size],
            },
        );
        Ok(Outcome::touching(Touched::Ticket(b.ticket)))
    }

    /// `ticket.assigned`, `.rectified`, `.returned`, `.closed` and `.reopened`.
    pub(super) fn ticket_moved(&mut self, p: &Prepared) -> Result<Outcome, Rejection> {
        let h = &p.header;
        let kind = h.kind.as_str();
        let by_regulator = self.require_regulator(&h.actor);
        // Step 6 for the moves only a regulator signs; the responsible org's right to report its
        // own rectification can only be judged once the ticket is found.
        if kind != "ticket.rectified" {
            by_regulator.clone()?;
        }
        let m = read_move(kind, p.body())?;
        let t = self.tickets.get(&m.ticket).ok_or_else(|| {
            Rejection::new(Code::UnknownTicket, format!("no ticket {}", m.ticket))
        })?;
        if let Some(org) = m.assignment.as_ref().and_then(|a| a.responsible.as_ref()) {
            self.existing_org(org)?;
        }
        if by_regulator.is_err() && t.responsible.as_deref() != Some(h.actor.as_str()) {
            return reject(
                Code::Forbidden,
                format!(
                    "only a regulator or the ticket's responsible org ({}) may report its rectification",
                    t.responsible.as_deref().unwrap_or("none assigned")
                ),
            );
        }
        if h.at < t.last_at {
            return Err(Rejection::rule(
                Code::BadTimestamp,
                format!(
                    "at is before the ticket's last event ({})",
                    time::format_timestamp(t.last_at)
                ),
            ));
        }
        let (from, to) = transition(kind);
        if t.status != from {
            return reject(
                Code::InvalidTransition,
                format!(
                    "{kind} needs a ticket that is {}; it is {}",
                    from.as_str(),
                    t.status.as_str()
                ),
            );
        }
        let seq = self.size;
        let t = self.tickets.get_mut(&m.ticket).expect("checked");
        if let Some(a) = m.assignment {
            // A new assignment replaces the previous one whole, so an org no longer named loses
            // its right to report the rectification.
            t.lead = Some(a.lead);
            t.support = a.support;
            t.responsible = a.responsible;
            t.due = Some(a.due);
        }
        // A reopened ticket keeps its last assignment (who led, who was responsible, and its
        // due date) until it is assigned again, so a problem that came back after its deadline
        // reads as overdue until a regulator sets a new one.
        t.closed_at = (to == TicketStatus::Closed).then_some(h.at);
        t.status = to;
        t.last_at = h.at;
        t.history.push(seq);
        Ok(Outcome::touching(Touched::Ticket(m.ticket)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_from_the_day_after_due_until_closed() {
        let d = NaiveDate::from_ymd_opt(2025, 8, 15).unwrap();
        let next = d.succ_opt().unwrap();
        assert!(!overdue(TicketStatus::Assigned, Some(d), d));
        assert!(overdue(TicketStatus::Assigned, Some(d), next));
        assert!(overdue(TicketStatus::Open, Some(d), next));
        assert!(overdue(TicketStatus::Rectified, Some(d), next));
        assert!(!overdue(TicketStatus::Closed, Some(d), next));
        assert!(!overdue(TicketStatus::Open, None, next));
    }

    #[test]
    fn every_move_has_one_source_status() {
        for (kind, from, to) in [
            ("ticket.assigned", "open", "assigned"),
            ("ticket.rectified", "assigned", "rectified"),
            ("ticket.returned", "rectified", "assigned"),
            ("ticket.closed", "rectified", "closed"),
            ("ticket.reopened", "closed", "open"),
        ] {
            let (f, t) = transition(kind);
            assert_eq!((f.as_str(), t.as_str()), (from, to));
        }
    }

    #[test]
    fn statuses_round_trip() {
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TicketStatus::parse("done"), None);
    }
}
