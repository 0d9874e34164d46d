//! Query strings as the API's `Query` extractor reads them (`serde_urlencoded::from_str` into
//! the query structs of `src/api`, mirrored in `hwledger_fuzz`), then the pure parsers the
//! handlers apply to the fields: dates, timestamps, periods, categories, statuses, roles, org
//! ids, waste codes and stock cursors.
//!
//! Asserts: nothing panics; a refusal has a message; a date, period, category, waste code, org
//! id or cursor that parses has one spelling (it prints back as written).

#![no_main]

use hwledger::domain::compliance::Period;
use hwledger::domain::ids::{Category, OrgId, WasteCode};
use hwledger::domain::manifest::ManifestStatus;
use hwledger::domain::state::Role;
use hwledger::domain::ticket::TicketStatus;
use hwledger::protocol::time;
use hwledger::store::LotCursor;
use hwledger_fuzz::{each_query, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    each_query(query, &mut |parsed| match parsed {
        Parsed::CodesQuery(q) => {
            date(q.date.as_deref());
            category(q.category.as_deref());
        }
        Parsed::ReportQuery(q) => {
            org(Some(&q.org));
            if let Some(p) = Period::parse(&q.period) {
                assert_eq!(p.to_string(), q.period, "a period has one spelling");
            }
        }
        Parsed::FacilitiesQuery(q) => org(q.org.as_deref()),
        Parsed::EntriesQuery(_) | Parsed::InclusionQuery(_) | Parsed::ConsistencyQuery(_) => {}
        Parsed::OrgsQuery(q) => {
            if let Some(r) = q.role.as_deref().and_then(Role::parse) {
                assert_eq!(Some(r.as_str()), q.role.as_deref());
            }
        }
        Parsed::ManifestQuery(q) => {
            let _ = q.status.as_deref().map(ManifestStatus::parse);
            date(q.from.as_deref());
            date(q.to.as_deref());
            for o in [&q.generator, &q.carrier, &q.receiver] {
                org(o.as_deref());
            }
        }
        Parsed::StockQuery(q) => {
            org(q.generator.as_deref());
            if let Some(c) = q.after.as_deref().and_then(LotCursor::parse) {
                assert_eq!(LotCursor::parse(&c.to_string()), Some(c));
            }
        }
        Parsed::LicenceQuery(q) => {
            date(q.date.as_deref());
            if let Some(Ok(code)) = q.covers.as_deref().map(WasteCode::parse) {
                assert_eq!(Some(code.as_str()), q.covers.as_deref());
            }
        }
        Parsed::StatsQuery(q) => {
            date(q.from.as_deref());
            date(q.to.as_deref());
            category(q.category.as_deref());
            org(q.org.as_deref());
            if let Some(Err(e)) = q.as_of.as_deref().map(time::parse_timestamp) {
                assert!(!e.to_string().is_empty());
            }
        }
        Parsed::TicketQuery(q) => {
            let _ = q.status.as_deref().map(TicketStatus::parse);
            org(q.org.as_deref());
        }
        Parsed::ExportQuery(q) => {
            let _ = q.status.as_deref().map(TicketStatus::parse);
            org(q.org.as_deref());
        }
    });
});

fn date(s: Option<&str>) {
    match s.map(time::parse_date) {
        Some(Ok(d)) => assert_eq!(
            Some(time::format_date(d).as_str()),
            s,
            "a date has one spelling"
        ),
        Some(Err(e)) => assert!(!e.to_string().is_empty()),
        None => {}
    }
}

fn category(s: Option<&str>) {
    match s.map(Category::parse) {
        Some(Ok(c)) => assert_eq!(
            Some(c.to_string().as_str()),
            s,
            "a category has one spelling"
        ),
        Some(Err(e)) => assert!(!e.to_string().is_empty()),
        None => {}
    }
}

fn org(s: Option<&str>) {
    match s.map(OrgId::parse) {
        Some(Ok(o)) => assert_eq!(Some(o.as_str()), s),
        Some(Err(e)) => assert!(!e.to_string().is_empty()),
        None => {}
    }
}
