//! Read tokens (spec §9): a compact JWS (RFC 7515) carrying a JWT (RFC 7519) that an org signs
//! itself with one of its Ed25519 keys (`alg` EdDSA, RFC 8037), naming the key in `kid`.
//!
//! Pure: this module checks everything a token says about itself. Whether `kid` is a live key of
//! `iss` needs the registry, and is the service's part (`api::auth`).
//!
//! The order of the checks (the first failure is the answer, `docs/protocol.md`): a bearer token
//! is present (`token_missing`); three base64url parts with a JSON header holding `alg`
//! (`token_malformed`); `alg` is EdDSA (`token_algorithm`); the rest of the form
//! (`token_malformed`); `aud` (`token_audience`); the lifetime (`token_lifetime`); the time window
//! (`token_expired`); the key (`token_key`, by the service); the signature (`token_signature`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use serde_json::Value;

use super::event::parse_hex;
use super::jcs;

/// The longest lifetime (`exp − iat`) a token may have, in seconds.
pub const MAX_LIFETIME_S: i64 = 600;
/// The lifetime `hwledger token` gives by default, in seconds.
pub const DEFAULT_LIFETIME_S: i64 = 300;
/// How far the caller's clock may be from the ledger's, on `iat` and on `exp`, in seconds.
pub const CLOCK_SKEW_S: i64 = 60;
/// Longer tokens are refused unread; a real one is about 330 characters.
pub const MAX_TOKEN_LEN: usize = 2048;

/// The problem codes of refused tokens (all 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenErrorCode {
    Missing,
    Malformed,
    Expired,
    Lifetime,
    Audience,
    Algorithm,
    Signature,
    Key,
}

impl TokenErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenErrorCode::Missing => "token_missing",
            TokenErrorCode::Malformed => "token_malformed",
            TokenErrorCode::Expired => "token_expired",
            TokenErrorCode::Lifetime => "token_lifetime",
            TokenErrorCode::Audience => "token_audience",
            TokenErrorCode::Algorithm => "token_algorithm",
            TokenErrorCode::Signature => "token_signature",
            TokenErrorCode::Key => "token_key",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            TokenErrorCode::Missing => "A bearer token is required",
            TokenErrorCode::Malformed => "The token is malformed",
            TokenErrorCode::Expired => "The token is not valid at this time",
            TokenErrorCode::Lifetime => "The token's lifetime is not allowed",
            TokenErrorCode::Audience => "The token is for another ledger",
            TokenErrorCode::Algorithm => "The token's algorithm is not EdDSA",
            TokenErrorCode::Signature => "The token's signature does not verify",
            TokenErrorCode::Key => "The token's key is not a live key of its issuer",
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", code.as_str())]
pub struct TokenError {
    pub code: TokenErrorCode,
    pub detail: String,
}

impl TokenError {
    pub fn new(code: TokenErrorCode, detail: impl Into<String>) -> TokenError {
        TokenError {
            code,
            detail: detail.into(),
        }
    }
}

fn malformed(detail: impl Into<String>) -> TokenError {
    TokenError::new(TokenErrorCode::Malformed, detail)
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    typ: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A read token of `org` for the ledger `origin`, issued at `iat` (Unix seconds) and valid for
/// `lifetime_s` seconds, signed with `key`.
pub fn mint(key: &SigningKey, org: &str, origin: &str, iat: i64, lifetime_s: i64) -> String {
    let kid = hex::encode(key.verifying_key().to_bytes());
    let header = Header {
        alg: "EdDSA",
        kid: &kid,
        typ: "JWT",
    };
    let claims = Claims {
        iss: org,
        aud: origin,
        iat,
        exp: iat.saturating_add(lifetime_s),
    };
    let signing_input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&header).expect("headers serialise")),
        b64(&serde_json::to_vec(&claims).expect("claims serialise"))
    );
    let sig = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig.to_bytes()))
}

/// A token whose form, algorithm, audience and lifetime were checked, but not yet its time
/// window, its key or its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `iss`: the org the token speaks for.
    pub org: String,
    /// `kid`: the public key that signed it.
    pub kid: [u8; 32],
    pub iat: i64,
    pub exp: i64,
    signing_input: String,
    sig: [u8; 64],
}

/// Decodes one base64url part (no padding, canonical) as strict JSON: an object.
fn json_part(part: &str, name: &str) -> Result<serde_json::Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| malformed(format!("the {name} is not base64url without padding: {e}")))?;
    match jcs::parse_strict(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(format!("the {name} is not a JSON object"))),
        Err(e) => Err(malformed(format!("the {name} is not valid JSON: {e}"))),
    }
}

fn string_member<'m>(
    map: &'m serde_json::Map<String, Value>,
    name: &str,
    part: &str,
) -> Result<&'m str, TokenError> {
    match map.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(malformed(format!("{part} member {name} is not a string"))),
        None => Err(malformed(format!("{part} member {name} is missing"))),
    }
}

fn integer_claim(map: &serde_json::Map<String, Value>, name: &str) -> Result<i64, TokenError> {
    match map.get(name) {
        Some(v) => v
            .as_i64()
            .ok_or_else(|| malformed(format!("claim {name} is not an integer"))),
        None => Err(malformed(format!("claim {name} is missing"))),
    }
}

/// Checks what a token says about itself, in the order above up to the lifetime:
/// its form (three base64url parts, a JSON header with `alg`), `alg` = EdDSA, the rest of its
/// form (`kid` as 64 lowercase hex characters, no `crit`, claims `iss`, `aud`, `iat`, `exp`, a
/// 64-byte signature), `aud` = `origin`, and a lifetime of 1 to 600 s.
pub fn parse(token: &str, origin: &str) -> Result<Parsed, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(malformed(format!(
            "a token is at most {MAX_TOKEN_LEN} characters"
        )));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "a token is three base64url parts separated by dots (compact JWS)",
        ));
    };
    let header_map = json_part(header, "header")?;
    let alg = string_member(&header_map, "alg", "header")?;
    if alg != "EdDSA" {
        return Err(TokenError::new(
            TokenErrorCode::Algorithm,
            format!("alg is {alg:?}; only EdDSA (Ed25519) tokens are taken"),
        ));
    }
    if header_map.contains_key("crit") {
        return Err(malformed(
            "the header has crit extensions, which are not supported",
        ));
    }
    let kid = string_member(&header_map, "kid", "header")?;
    if kid.len() != 64 || kid.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(malformed(
            "kid is not a public key: 64 lowercase hex characters",
        ));
    }
    let kid = parse_hex::<32>(kid)
        .ok_or_else(|| malformed("kid is not a public key: 64 lowercase hex characters"))?;
    let claims_map = json_part(claims, "claims")?;
    let org = string_member(&claims_map, "iss", "claims")?.to_owned();
    let aud = string_member(&claims_map, "aud", "claims")?;
    let iat = integer_claim(&claims_map, "iat")?;
    let exp = integer_claim(&claims_map, "exp")?;
    let sig_bytes = URL_SAFE_NO_PAD.decode(sig).map_err(|e| {
        malformed(format!(
            "the signature is not base64url without padding: {e}"
        ))
    })?;
    let sig: [u8; 64] = sig_bytes
        .try_into()
        .map_err(|_| malformed("the signature is not 64 bytes"))?;
    if aud != origin {
        return Err(TokenError::new(
            TokenErrorCode::Audience,
            format!("aud is {aud:?}; this ledger is {origin:?}"),
        ));
    }
    let lifetime = i128::from(exp) - i128::from(iat);
    if lifetime <= 0 || lifetime > i128::from(MAX_LIFETIME_S) {
        return Err(TokenError::new(
            TokenErrorCode::Lifetime,
            format!("exp − iat is {lifetime} s; it must be 1 to {MAX_LIFETIME_S} s"),
        ));
    }
    Ok(Parsed {
        org,
        kid,
        iat,
        exp,
        signing_input: token[..header.len() + 1 + claims.len()].to_owned(),
        sig,
    })
}

/// Whether a token issued at `iat` and expiring at `exp` may be used at `now` (Unix seconds),
/// allowing [`CLOCK_SKEW_S`] either way.
pub fn check_time(iat: i64, exp: i64, now: i64) -> Result<(), TokenError> {
    if i128::from(now) > i128::from(exp) + i128::from(CLOCK_SKEW_S) {
        return Err(TokenError::new(
            TokenErrorCode::Expired,
            format!(
                "the token expired {} s ago",
                i128::from(now) - i128::from(exp)
            ),
        ));
    }
    if i128::from(iat) > i128::from(now) + i128::from(CLOCK_SKEW_S) {
        return Err(TokenError::new(
            TokenErrorCode::Expired,
            format!(
                "the token is issued {} s in the future; check the caller's clock",
                i128::from(iat) - i128::from(now)
            ),
        ));
    }
    Ok(())
}

impl Parsed {
    /// Verifies the Ed25519 signature over `header.claims` with `kid`, by the strict equation
    /// (as for events).
    pub fn signature_ok(&self) -> bool {
        let Ok(key) = VerifyingKey::from_bytes(&self.kid) else {
            return false;
        };
        key.verify_strict(
            self.signing_input.as_bytes(),
            &Signature::from_bytes(&self.sig),
        )
        .is_ok()
    }

    pub fn signature_error() -> TokenError {
        TokenError::new(
            TokenErrorCode::Signature,
            "the signature does not verify with the key named by kid",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "test.hwledger.local";
    const ORG: &str = "11320404MB0000001Y";

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn encode(header: &Value, claims: &Value, k: &SigningKey) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = k.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    }

    fn header() -> Value {
        serde_json::json!({"alg": "EdDSA", "kid": hex::encode(key().verifying_key().to_bytes()), "typ": "JWT"})
    }

    fn claims() -> Value {
        serde_json::json!({"iss": ORG, "aud": ORIGIN, "iat": 1000, "exp": 1300})
    }

    fn code(token: &str) -> Option<TokenErrorCode> {
        parse(token, ORIGIN).err().map(|e| e.code)
    }

    #[test]
    fn a_minted_token_reads_back_and_verifies() {
        let t = mint(&key(), ORG, ORIGIN, 1000, 300);
        let p = parse(&t, ORIGIN).unwrap();
        assert_eq!(p.org, ORG);
        assert_eq!(p.kid, key().verifying_key().to_bytes());
        assert_eq!((p.iat, p.exp), (1000, 1300));
        assert!(p.signature_ok());
        let parts: Vec<&str> = t.split('.').collect();
        let h: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(h, header());
        let c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(c, claims());
        assert!(!t.contains('='), "no padding");
    }

    #[test]
    fn the_form_is_checked_before_the_algorithm_and_the_algorithm_before_the_rest() {
        assert_eq!(code("abc"), Some(TokenErrorCode::Malformed));
        assert_eq!(code("a.b.c.d"), Some(TokenErrorCode::Malformed));
        assert_eq!(code("!!.e30.AA"), Some(TokenErrorCode::Malformed));
        // HS256 with a 32-byte signature: the algorithm is named, not the signature's length.
        let mut h = header();
        h["alg"] = "HS256".into();
        let t = format!(
            "{}.{}.{}",
            b64(h.to_string().as_bytes()),
            b64(b"{}"),
            b64(&[0; 32])
        );
        assert_eq!(code(&t), Some(TokenErrorCode::Algorithm));
        h["alg"] = "none".into();
        let t = format!(
            "{}.{}.",
            b64(h.to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        assert_eq!(code(&t), Some(TokenErrorCode::Algorithm));
        let mut h = header();
        h.as_object_mut().unwrap().remove("alg");
        assert_eq!(
            code(&encode(&h, &claims(), &key())),
            Some(TokenErrorCode::Malformed)
        );
    }

    #[test]
    fn every_missing_or_mistyped_member_is_malformed() {
        for name in ["iss", "aud", "iat", "exp"] {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(name);
            assert_eq!(
                code(&encode(&header(), &c, &key())),
                Some(TokenErrorCode::Malformed),
                "{name}"
            );
        }
        let mut c = claims();
        c["iat"] = serde_json::json!(1000.5);
        assert_eq!(
            code(&encode(&header(), &c, &key())),
            Some(TokenErrorCode::Malformed)
        );
        let mut h = header();
        h["kid"] = h["kid"].as_str().unwrap().to_uppercase().into();
        assert_eq!(
            code(&encode(&h, &claims(), &key())),
            Some(TokenErrorCode::Malformed)
        );
        let mut h = header();
        h["crit"] = serde_json::json!(["exp"]);
        assert_eq!(
            code(&encode(&h, &claims(), &key())),
            Some(TokenErrorCode::Malformed)
        );
        // A duplicated claim would be ambiguous.
        let dup = format!(
            "{}.{}",
            b64(header().to_string().as_bytes()),
            b64(br#"{"iss":"a","iss":"b","aud":"test.hwledger.local","iat":1,"exp":2}"#)
        );
        let t = format!("{dup}.{}", b64(&key().sign(dup.as_bytes()).to_bytes()));
        assert_eq!(code(&t), Some(TokenErrorCode::Malformed));
        // Padding, or a signature of the wrong length.
        let t = mint(&key(), ORG, ORIGIN, 1000, 300);
        assert_eq!(code(&format!("{t}==")), Some(TokenErrorCode::Malformed));
        let short = &t[..t.len() - 4];
        assert_eq!(code(short), Some(TokenErrorCode::Malformed));
    }

    #[test]
    fn audience_then_lifetime() {
        let t = mint(&key(), ORG, "other.ledger", 1000, 601);
        assert_eq!(code(&t), Some(TokenErrorCode::Audience));
        assert_eq!(
            code(&mint(&key(), ORG, ORIGIN, 1000, 601)),
            Some(TokenErrorCode::Lifetime)
        );
        assert_eq!(
            code(&mint(&key(), ORG, ORIGIN, 1000, 0)),
            Some(TokenErrorCode::Lifetime)
        );
        assert_eq!(
            code(&mint(&key(), ORG, ORIGIN, 1000, -5)),
            Some(TokenErrorCode::Lifetime)
        );
        assert_eq!(code(&mint(&key(), ORG, ORIGIN, 1000, 600)), None);
        let mut c = claims();
        c["iat"] = i64::MIN.into();
        c["exp"] = i64::MAX.into();
        assert_eq!(
            code(&encode(&header(), &c, &key())),
            Some(TokenErrorCode::Malformed),
            "beyond 2^53"
        );
    }

    #[test]
    fn sixty_seconds_of_skew_either_way() {
        assert!(check_time(0, 300, 360).is_ok());
        assert_eq!(
            check_time(0, 300, 361).unwrap_err().code,
            TokenErrorCode::Expired
        );
        assert!(check_time(1060, 1300, 1000).is_ok());
        assert_eq!(
            check_time(1061, 1300, 1000).unwrap_err().code,
            TokenErrorCode::Expired
        );
    }

    #[test]
    fn a_changed_byte_breaks_the_signature() {
        let t = mint(&key(), ORG, ORIGIN, 1000, 300);
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[10] ^= 1;
        let flipped = format!("{input}.{}", b64(&sig));
        assert!(!parse(&flipped, ORIGIN).unwrap().signature_ok());
        // Another key's signature over the same input.
        let other = SigningKey::from_bytes(&[8; 32]);
        let forged = format!("{input}.{}", b64(&other.sign(input.as_bytes()).to_bytes()));
        assert!(!parse(&forged, ORIGIN).unwrap().signature_ok());
    }
}
