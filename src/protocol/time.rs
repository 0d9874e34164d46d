//! Timestamps and dates as the protocol writes them (§1): strict RFC 3339 UTC parsing, and the
//! China Standard Time (UTC+8) calendar that every date rule is judged in.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};

/// An instant, always in UTC.
pub type Timestamp = DateTime<Utc>;

/// China Standard Time has had no daylight saving since 1991, so a fixed offset is exact.
const CST: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// A timestamp or date that is not in the protocol's one accepted form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("invalid timestamp {input:?}: {reason}")]
    Timestamp { input: String, reason: &'static str },
    #[error("invalid date {input:?}: {reason}")]
    Date { input: String, reason: &'static str },
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` strictly: an uppercase `T` and `Z`, 1 to 9 fraction
/// digits, no offsets, no leap second, and a real calendar date.
///
/// Strictness matters because the text is signed: two spellings of one instant would let a
/// client's idea of "the same event" differ from the ledger's.
pub fn parse_timestamp(s: &str) -> Result<Timestamp, TimeError> {
    let fail = |reason| TimeError::Timestamp {
        input: clip(s),
        reason,
    };
    let b = s.as_bytes();
    if b.len() < 20 {
        return Err(fail("expected YYYY-MM-DDTHH:MM:SS[.fraction]Z"));
    }
    let date = date_from_bytes(&b[..10]).ok_or_else(|| fail("not a valid calendar date"))?;
    if b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(fail("expected YYYY-MM-DDTHH:MM:SS[.fraction]Z"));
    }
    let (hour, minute, second) = match (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19]))
    {
        (Some(h), Some(m), Some(s)) => (h, m, s),
        _ => return Err(fail("expected YYYY-MM-DDTHH:MM:SS[.fraction]Z")),
    };
    let nanos = match &b[19..] {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] => {
            if fraction.is_empty() || fraction.len() > 9 {
                return Err(fail("the fraction must have 1 to 9 digits"));
            }
            let value = digits(fraction).ok_or_else(|| fail("the fraction must be digits"))?;
            value * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return Err(fail("must end in an uppercase Z (UTC), with no offset")),
    };
    // `from_hms_nano_opt` rejects second 60 on its own, so leap seconds are refused here.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
        .ok_or_else(|| fail("not a valid time of day"))?;
    Ok(date.and_time(time).and_utc())
}

/// Parses a date `YYYY-MM-DD` strictly.
pub fn parse_date(s: &str) -> Result<NaiveDate, TimeError> {
    let b = s.as_bytes();
    if b.len() != 10 {
        return Err(TimeError::Date {
            input: clip(s),
            reason: "expected YYYY-MM-DD",
        });
    }
    date_from_bytes(b).ok_or_else(|| TimeError::Date {
        input: clip(s),
        reason: "expected a valid calendar date YYYY-MM-DD",
    })
}

/// The date of `t` in China Standard Time.
pub fn cst_date(t: Timestamp) -> NaiveDate {
    t.with_timezone(&CST).date_naive()
}

/// The year of `t` in China Standard Time.
pub fn cst_year(t: Timestamp) -> i32 {
    cst_date(t).year()
}

/// The instant date `d` begins: `d` 00:00 CST, that is 16:00 UTC the day before.
pub fn cst_day_start(d: NaiveDate) -> Timestamp {
    d.and_time(NaiveTime::MIN).and_utc() - TimeDelta::hours(8)
}

/// The ledger's `recorded_at`: milliseconds, always three fraction digits, so that the text of
/// the clock is the same length whatever the instant.
pub fn format_millis(t: Timestamp) -> String {
    truncate_millis(t)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Drops everything below the millisecond, so a stored clock reading and its text agree.
pub fn truncate_millis(t: Timestamp) -> Timestamp {
    let nanos = t.nanosecond() / 1_000_000 * 1_000_000;
    // Always valid: the result is not above the original nanosecond.
    t.with_nanosecond(nanos).unwrap_or(t)
}

/// A timestamp for an event the ledger writes: whole seconds with no fraction, otherwise only
/// the fraction digits needed, so a copied `at` keeps its value without trailing zeros.
pub fn format_timestamp(t: Timestamp) -> String {
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// `YYYY-MM-DD`.
pub fn format_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// `YYYY-MM-DD` from exactly 10 bytes.
fn date_from_bytes(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// The value of a run of ASCII digits (at most 9, so it fits), or `None` if any byte is not one.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Keeps error messages short when the input is an arbitrarily long string from a client.
fn clip(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ts(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn parses_whole_seconds_and_fractions() {
        assert_eq!(
            ts("2026-11-28T12:00:00Z"),
            Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
        );
        assert_eq!(ts("2026-11-28T12:00:00.5Z").nanosecond(), 500_000_000);
        assert_eq!(ts("2026-11-28T12:00:00.123Z").nanosecond(), 123_000_000);
        assert_eq!(ts("2026-11-28T12:00:00.000000001Z").nanosecond(), 1);
        assert_eq!(
            ts("2026-11-28T23:59:59.999999999Z").nanosecond(),
            999_999_999
        );
        assert_eq!(ts("2024-02-29T00:00:00Z").day(), 29);
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28T12:00:00",
            "2026-11-28T12:00:00z",
            "2026-11-28t12:00:00Z",
            "2026-11-28 12:00:00Z",
            "2026-11-28T12:00:00+08:00",
            "2026-11-28T12:00:00+00:00",
            "2026-11-28T12:00:00.Z",
            "2026-11-28T12:00:00.1234567890Z",
            "2026-11-28T12:00:00.12a Z",
            "2026-11-28T12:00:00ZZ",
            "2026-11-28T12:00Z",
            "2026-11-28T24:00:00Z",
            "2026-11-28T12:60:00Z",
            "2016-12-31T23:59:60Z",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "+2026-11-28T12:00:00Z",
            "2026-1-28T12:00:00Z",
            "２０２６-11-28T12:00:00Z",
            " 2026-11-28T12:00:00Z",
            "2026-11-28T12:00:00Z ",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            date("2025-01-01"),
            NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
        );
        for bad in [
            "2025-1-01",
            "2025-01-1",
            "20250101",
            "2025-02-29",
            "2025-01-01Z",
            "2025/01/01",
            "",
            " 2025-01-01",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn cst_day_turns_at_16_utc() {
        assert_eq!(cst_date(ts("2026-03-01T15:59:59.999Z")), date("2026-03-01"));
        assert_eq!(cst_date(ts("2026-03-01T16:00:00Z")), date("2026-03-02"));
        assert_eq!(
            cst_day_start(date("2026-03-02")),
            ts("2026-03-01T16:00:00Z")
        );
    }

    #[test]
    fn cst_year_turns_at_16_utc_on_new_years_eve() {
        assert_eq!(cst_year(ts("2024-12-31T15:59:59Z")), 2024);
        assert_eq!(cst_date(ts("2024-12-31T16:00:00Z")), date("2025-01-01"));
        assert_eq!(cst_year(ts("2024-12-31T16:00:00Z")), 2025);
        assert_eq!(
            cst_day_start(date("2025-01-01")),
            ts("2024-12-31T16:00:00Z")
        );
    }

    #[test]
    fn day_start_is_the_first_instant_of_the_cst_date() {
        for d in ["2024-02-29", "2025-01-01", "2026-12-31", "2000-01-01"] {
            let start = cst_day_start(date(d));
            assert_eq!(cst_date(start), date(d));
            assert_eq!(
                cst_date(start - TimeDelta::nanoseconds(1)),
                date(d).pred_opt().unwrap()
            );
        }
    }

    #[test]
    fn millis_always_have_three_digits() {
        assert_eq!(
            format_millis(ts("2026-11-28T12:00:00Z")),
            "2026-11-28T12:00:00.000Z"
        );
        assert_eq!(
            format_millis(ts("2026-11-28T12:00:00.123999Z")),
            "2026-11-28T12:00:00.123Z"
        );
        assert_eq!(
            truncate_millis(ts("2026-11-28T12:00:00.123999Z")),
            ts("2026-11-28T12:00:00.123Z")
        );
        assert_eq!(
            format_millis(ts("2026-11-28T12:00:00.5Z")),
            "2026-11-28T12:00:00.500Z"
        );
    }

    #[test]
    fn timestamps_use_the_fewest_fraction_digits() {
        assert_eq!(
            format_timestamp(ts("2026-11-28T12:00:00.000Z")),
            "2026-11-28T12:00:00Z"
        );
        assert_eq!(
            format_timestamp(ts("2026-11-28T12:00:00.120Z")),
            "2026-11-28T12:00:00.12Z"
        );
        assert_eq!(
            format_timestamp(ts("2026-11-28T12:00:00.000000001Z")),
            "2026-11-28T12:00:00.000000001Z"
        );
    }

    #[test]
    fn round_trips() {
        for s in [
            "2026-11-28T12:00:00Z",
            "2024-12-31T16:00:00.5Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            assert_eq!(format_timestamp(ts(s)), s);
        }
        for s in ["2026-11-28T12:00:00.000Z", "2026-11-28T12:00:00.123Z"] {
            assert_eq!(format_millis(ts(s)), s);
        }
        for s in ["2024-02-29", "2025-01-01", "0001-01-01"] {
            assert_eq!(format_date(date(s)), s);
        }
    }

    #[test]
    fn errors_name_the_input_briefly() {
        let long = "x".repeat(10_000);
        let message = parse_timestamp(&long).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(parse_date("2025-13-01")
            .unwrap_err()
            .to_string()
            .contains("2025-13-01"));
    }
}

/// Serde for an optional date written `YYYY-MM-DD` (a limit's `compliance_from`).
pub mod opt_date {
    use chrono::NaiveDate;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_date(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| super::parse_date(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Serde for a date that may be absent (outer `None`) or null (`Some(None)`).
pub mod opt_opt_date {
    use chrono::NaiveDate;
    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<NaiveDate>>, D::Error> {
        super::opt_date::deserialize(d).map(Some)
    }
}

/// The year of a CST date.
pub fn year_of(d: NaiveDate) -> i32 {
    chrono::Datelike::year(&d)
}
