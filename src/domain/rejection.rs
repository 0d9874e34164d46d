//! The refusal codes of the protocol (spec §3, §6, §9) and the refusal a rule returns.

use std::fmt;

/// Every code an envelope can be refused with. The HTTP status is part of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    InvalidEvent,
    DuplicateEventId,
    UnknownKey,
    RevokedKey,
    BadSignature,
    BadTimestamp,
    Forbidden,
    InvalidOrgId,
    OrgExists,
    KeyInUse,
    LastKey,
    UnknownOrg,
    UnknownManifest,
    UnknownTicket,
    UnknownLicense,
    NotAReceiver,
    NotACarrier,
    LicenseExists,
    UnknownWasteCode,
    UnknownMethod,
    BadDate,
    ManifestExists,
    UnlicensedReceiver,
    CapacityExceeded,
    InsufficientStock,
    InvalidTransition,
    LinesMismatch,
    OverReceived,
    TicketExists,
    UnknownFacility,
    FacilityExists,
    BadCapacity,
    MethodNotAllowed,
    QuantityTooLarge,
    BadContainerId,
    ContainerExists,
    ContainersMismatch,
    UnknownContainer,
    ContainerUnavailable,
    ReportMismatch,
    InvalidPolicy,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidEvent => "invalid_event",
            Code::DuplicateEventId => "duplicate_event_id",
            Code::UnknownKey => "unknown_key",
            Code::RevokedKey => "revoked_key",
            Code::BadSignature => "bad_signature",
            Code::BadTimestamp => "bad_timestamp",
            Code::Forbidden => "forbidden",
            Code::InvalidOrgId => "invalid_org_id",
            Code::OrgExists => "org_exists",
            Code::KeyInUse => "key_in_use",
            Code::LastKey => "last_key",
            Code::UnknownOrg => "unknown_org",
            Code::UnknownManifest => "unknown_manifest",
            Code::UnknownTicket => "unknown_ticket",
            Code::UnknownLicense => "unknown_license",
            Code::NotAReceiver => "not_a_receiver",
            Code::NotACarrier => "not_a_carrier",
            Code::LicenseExists => "license_exists",
            Code::UnknownWasteCode => "unknown_waste_code",
            Code::UnknownMethod => "unknown_method",
            Code::BadDate => "bad_date",
            Code::ManifestExists => "manifest_exists",
            Code::UnlicensedReceiver => "unlicensed_receiver",
            Code::CapacityExceeded => "capacity_exceeded",
            Code::InsufficientStock => "insufficient_stock",
            Code::InvalidTransition => "invalid_transition",
            Code::LinesMismatch => "lines_mismatch",
            Code::OverReceived => "over_received",
            Code::TicketExists => "ticket_exists",
            Code::UnknownFacility => "unknown_facility",
            Code::FacilityExists => "facility_exists",
            Code::BadCapacity => "bad_capacity",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::QuantityTooLarge => "quantity_too_large",
            Code::BadContainerId => "bad_container_id",
            Code::ContainerExists => "container_exists",
            Code::ContainersMismatch => "containers_mismatch",
            Code::UnknownContainer => "unknown_container",
            Code::ContainerUnavailable => "container_unavailable",
            Code::ReportMismatch => "report_mismatch",
            Code::InvalidPolicy => "invalid_policy",
        }
    }

    /// The HTTP status the spec gives this code.
    pub fn status(self) -> u16 {
        match self {
            Code::InvalidEvent => 400,
            Code::DuplicateEventId => 409,
            Code::UnknownKey | Code::RevokedKey | Code::BadSignature => 401,
            Code::Forbidden => 403,
            // bad_timestamp is 422 both at step 5 and as a per-object ordering rule.
            _ => 422,
        }
    }

    /// A short English title for problem documents.
    pub fn title(self) -> &'static str {
        match self {
            Code::InvalidEvent => "The envelope or event is malformed",
            Code::DuplicateEventId => "An event with this id but different content is recorded",
            Code::UnknownKey => "The key is not a key of the actor",
            Code::RevokedKey => "The key has been revoked",
            Code::BadSignature => "The signature does not verify",
            Code::BadTimestamp => "The event's time is out of bounds",
            Code::Forbidden => "The actor may not sign this event",
            Code::InvalidOrgId => "Not a valid unified social credit code",
            Code::OrgExists => "The organisation is already registered",
            Code::KeyInUse => "The key already belongs to an organisation",
            Code::LastKey => "An organisation may not revoke its own last active key",
            Code::UnknownOrg => "No such organisation",
            Code::UnknownManifest => "No such manifest",
            Code::UnknownTicket => "No such ticket",
            Code::UnknownLicense => "No such licence",
            Code::NotAReceiver => "The holder is not a receiver",
            Code::NotACarrier => "The carrier does not have the carrier role",
            Code::LicenseExists => "A licence with this number exists",
            Code::UnknownWasteCode => "Waste code unknown to the catalogue in force",
            Code::UnknownMethod => "Unknown handling method",
            Code::BadDate => "The date is out of bounds",
            Code::ManifestExists => "The manifest exists",
            Code::UnlicensedReceiver => "No licence of the receiver covers the waste",
            Code::CapacityExceeded => "The receiver's licensed yearly capacity would be exceeded",
            Code::InsufficientStock => "The generator's declared stock does not suffice",
            Code::InvalidTransition => "The move is not allowed from the current status",
            Code::LinesMismatch => "The lines do not match the manifest's lines",
            Code::OverReceived => "More disposed of than received",
            Code::TicketExists => "The ticket exists",
            Code::UnknownFacility => "No such active facility of the org",
            Code::FacilityExists => "The facility is already registered",
            Code::BadCapacity => "The capacity is not allowed for this facility",
            Code::MethodNotAllowed => "The method is not allowed for this facility",
            Code::QuantityTooLarge => "A figure would exceed 2^53-1",
            Code::BadContainerId => "The container id's segments are not those of its lot",
            Code::ContainerExists => "The container exists",
            Code::ContainersMismatch => "The containers do not match",
            Code::UnknownContainer => "No such container",
            Code::ContainerUnavailable => "The container is not available here",
            Code::ReportMismatch => "The report hash is not the report the ledger computes",
            Code::InvalidPolicy => "The witness policy is not valid",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an envelope was refused: a code and a human explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    /// The HTTP status: the code's own, except that every rule of step 7 answers 422.
    pub status: u16,
    pub detail: String,
}

impl Rejection {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            status: code.status(),
            detail: detail.into(),
        }
    }

    /// A refusal by an event's own rules (§3 step 7), which is always 422, even for a code such
    /// as `unknown_key` that step 3 answers with 401.
    pub fn rule(code: Code, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            status: 422,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Rejection {}

/// Shorthand for returning a refusal from a rule.
pub fn reject<T>(code: Code, detail: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(code, detail))
}
