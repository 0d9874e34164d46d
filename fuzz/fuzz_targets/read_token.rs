//! Read tokens as the API reads the `Authorization: Bearer` header (`protocol::token::parse`,
//! then `check_time` and the signature check), on the input as token text; and tokens minted by
//! `token::mint` with an org, issue time and lifetime drawn from the input.
//!
//! Asserts: nothing panics; a refusal has a message; a parsed token's lifetime is 1 to 600 s
//! and its audience the ledger's; under another origin it is refused for its audience; a minted
//! token parses back to its org, key and times exactly when its lifetime is allowed and its
//! times are safe integers (and is refused for its lifetime, or as malformed, otherwise), and its
//! signature verifies.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use hwledger::protocol::jcs::MAX_SAFE_INTEGER;
use hwledger::protocol::token::{self, TokenErrorCode, MAX_LIFETIME_S, MAX_TOKEN_LEN};
use hwledger_fuzz::{fuzz_key, ORIGIN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        read(text);
    }
    let mut u = Unstructured::new(data);
    if let (Ok(org), Ok(iat), Ok(lifetime), Ok(now)) = (
        String::arbitrary(&mut u),
        i64::arbitrary(&mut u),
        i64::arbitrary(&mut u),
        i64::arbitrary(&mut u),
    ) {
        round_trip(&org, iat, lifetime, now);
        // Realistic times too: the draws above are mostly far beyond 2^53.
        round_trip(&org, 1_780_000_000 + iat % 1_000_000, lifetime % 1000, now);
    }
});

fn read(text: &str) {
    match token::parse(text, ORIGIN) {
        Ok(parsed) => {
            let lifetime = i128::from(parsed.exp) - i128::from(parsed.iat);
            assert!((1..=i128::from(MAX_LIFETIME_S)).contains(&lifetime));
            assert!(text.len() <= MAX_TOKEN_LEN);
            let _ = token::check_time(parsed.iat, parsed.exp, parsed.iat);
            let _ = parsed.signature_ok();
            let other = token::parse(text, "other.ledger").expect_err("a token names one ledger");
            assert_eq!(other.code, TokenErrorCode::Audience);
        }
        Err(e) => {
            assert!(!e.detail.trim().is_empty(), "a refusal has a message");
            assert_ne!(e.code, TokenErrorCode::Missing);
        }
    }
}

fn round_trip(org: &str, iat: i64, lifetime: i64, now: i64) {
    let key = fuzz_key();
    let minted = token::mint(&key, org, ORIGIN, iat, lifetime);
    let exp = iat.saturating_add(lifetime);
    let safe = |n: i64| n.unsigned_abs() <= MAX_SAFE_INTEGER;
    let allowed = i128::from(exp) - i128::from(iat);
    let result = token::parse(&minted, ORIGIN);
    if minted.len() > MAX_TOKEN_LEN || !safe(iat) || !safe(exp) {
        assert_eq!(
            result.map(|_| ()).unwrap_err().code,
            TokenErrorCode::Malformed
        );
    } else if !(1..=i128::from(MAX_LIFETIME_S)).contains(&allowed) {
        assert_eq!(
            result.map(|_| ()).unwrap_err().code,
            TokenErrorCode::Lifetime
        );
    } else {
        let parsed = result.unwrap_or_else(|e| panic!("a minted token is refused: {e}"));
        assert_eq!(parsed.org, org);
        assert_eq!(parsed.kid, key.verifying_key().to_bytes());
        assert_eq!((parsed.iat, parsed.exp), (iat, exp));
        assert!(parsed.signature_ok(), "a minted token's signature verifies");
        let _ = token::check_time(parsed.iat, parsed.exp, now);
    }
}
