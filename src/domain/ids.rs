//! Identifiers of §2 as types: organisation codes, regions, waste codes and categories. `parse` is
//! the only way in, so a value of one of these types is always well formed.
//!
//! Well formed is not the same as known: whether an org is registered or a waste code is in the
//! catalogue in force is decided by the registry and the catalogue.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not an identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("invalid org id {input:?}: {reason}")]
    OrgId { input: String, reason: String },
    #[error("invalid region {0:?}: expected 6 digits")]
    Region(String),
    #[error(
        "invalid waste code {0:?}: expected NNN-NNN-NN whose last two digits are a category 01..99"
    )]
    WasteCode(String),
    #[error("invalid waste category {0:?}: expected HW01 to HW99")]
    Category(String),
}

/// The characters of a unified social credit code, valued 0..30 in this order (GB 32100-2015).
/// I, O, S, V and Z are left out because they are easily misread.
const ORG_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// An organisation's 18-character unified social credit code (统一社会信用代码), check character
/// verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgId(String);

impl OrgId {
    pub fn parse(s: &str) -> Result<OrgId, IdError> {
        let fail = |reason: String| IdError::OrgId {
            input: clip(s),
            reason,
        };
        if s.len() != 18 || !s.is_ascii() {
            return Err(fail("expected 18 characters".to_owned()));
        }
        let expected = check_character(&s[..17]).map_err(fail)?;
        let found = s.as_bytes()[17];
        if !ORG_ALPHABET.contains(&found) {
            return Err(fail(format!(
                "character {:?} at position 18 is not one of 0-9 A-H J-N P Q R T U W X Y",
                char::from(found)
            )));
        }
        if found != expected {
            return Err(fail(format!(
                "check character is {:?}, expected {:?}",
                char::from(found),
                char::from(expected)
            )));
        }
        Ok(OrgId(s.to_owned()))
    }

    /// Completes a 17-character prefix with its check character (for fixtures, tests, tools).
    pub fn with_check(prefix17: &str) -> Result<OrgId, IdError> {
        let fail = |reason: String| IdError::OrgId {
            input: clip(prefix17),
            reason,
        };
        if prefix17.len() != 17 || !prefix17.is_ascii() {
            return Err(fail("expected a 17-character prefix".to_owned()));
        }
        let check = check_character(prefix17).map_err(fail)?;
        let mut code = prefix17.to_owned();
        code.push(char::from(check));
        Ok(OrgId(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check character of 17 ASCII characters: (31 − Σ value × 3^(i−1) mod 31) mod 31.
fn check_character(prefix: &str) -> Result<u8, String> {
    let mut sum = 0u32;
    let mut weight = 1u32;
    for (i, c) in prefix.bytes().enumerate() {
        let value = ORG_ALPHABET.iter().position(|&a| a == c).ok_or_else(|| {
            format!(
                "character {:?} at position {} is not one of 0-9 A-H J-N P Q R T U W X Y",
                char::from(c),
                i + 1
            )
        })?;
        // `value` is below 31, so the cast is lossless.
        sum += value as u32 * weight;
        weight = weight * 3 % 31;
    }
    Ok(ORG_ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// A 6-digit administrative division code (GB/T 2260), e.g. `320404`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Region(String);

impl Region {
    pub fn parse(s: &str) -> Result<Region, IdError> {
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Region(s.to_owned()))
        } else {
            Err(IdError::Region(clip(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 4 digits: province and city, as used in manifest numbers.
    pub fn city(&self) -> &str {
        &self.0[..4]
    }

    /// The first 2 digits.
    pub fn province(&self) -> &str {
        &self.0[..2]
    }
}

/// A waste code `NNN-NNN-NN` in form only; membership of a catalogue edition is the catalogue's
/// business.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WasteCode(String);

impl WasteCode {
    pub fn parse(s: &str) -> Result<WasteCode, IdError> {
        let b = s.as_bytes();
        let shaped = b.len() == 10
            && b.iter().enumerate().all(|(i, &c)| match i {
                3 | 7 => c == b'-',
                _ => c.is_ascii_digit(),
            });
        // The last two digits are the category, and there is no HW00.
        if shaped && &b[8..] != b"00" {
            Ok(WasteCode(s.to_owned()))
        } else {
            Err(IdError::WasteCode(clip(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The category `HWnn` named by the last two digits.
    pub fn category(&self) -> Category {
        let b = self.0.as_bytes();
        Category((b[8] - b'0') * 10 + (b[9] - b'0'))
    }
}

/// A waste category `HW01` to `HW99`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(u8);

impl Category {
    pub fn parse(s: &str) -> Result<Category, IdError> {
        let fail = || IdError::Category(clip(s));
        let digits = s.strip_prefix("HW").ok_or_else(fail)?.as_bytes();
        match digits {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                let n = (a - b'0') * 10 + (b - b'0');
                Category::from_number(n).ok_or_else(fail)
            }
            _ => Err(fail()),
        }
    }

    /// The category with number `n`, if it is in 1..=99.
    pub fn from_number(n: u8) -> Option<Category> {
        (1..=99).contains(&n).then_some(Category(n))
    }

    pub fn number(&self) -> u8 {
        self.0
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HW{:02}", self.0)
    }
}

/// What a licence scope names: one waste code, or a whole category.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeOrCategory {
    Code(WasteCode),
    Category(Category),
}

impl CodeOrCategory {
    pub fn parse(s: &str) -> Result<CodeOrCategory, IdError> {
        if s.starts_with("HW") {
            Category::parse(s).map(CodeOrCategory::Category)
        } else {
            WasteCode::parse(s).map(CodeOrCategory::Code)
        }
    }

    /// Whether this names `code`, directly or through its category.
    pub fn covers(&self, code: &WasteCode) -> bool {
        match self {
            CodeOrCategory::Code(c) => c == code,
            CodeOrCategory::Category(c) => *c == code.category(),
        }
    }
}

impl fmt::Display for CodeOrCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeOrCategory::Code(c) => c.fmt(f),
            CodeOrCategory::Category(c) => c.fmt(f),
        }
    }
}

/// Display, `FromStr` and serde as a plain string, deserializing through `parse` so that no
/// unchecked value gets in by way of JSON.
macro_rules! string_form {
    ($($t:ident),*) => {$(
        impl FromStr for $t {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $t::parse(s)
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $t::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

string_form!(OrgId, Region, WasteCode, Category, CodeOrCategory);

macro_rules! display_inner {
    ($($t:ident),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

display_inner!(OrgId, Region, WasteCode);

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

    #[test]
    fn accepts_real_codes() {
        for code in [
            "91350100M000100Y43",
            "91110000802100433B",
            "91440300708461136T",
            "11320404MB0000001Y",
        ] {
            let org = OrgId::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(org.as_str(), code);
            assert_eq!(org.to_string(), code);
        }
    }

    #[test]
    fn with_check_completes_a_prefix() {
        assert_eq!(
            OrgId::with_check("11320404MB0000001").unwrap().as_str(),
            "11320404MB0000001Y"
        );
        assert_eq!(
            OrgId::with_check("91350100M000100Y4").unwrap().as_str(),
            "91350100M000100Y43"
        );
        assert!(OrgId::with_check("11320404MB000000").is_err());
        assert!(OrgId::with_check("11320404MB000000I").is_err());
    }

    #[test]
    fn check_character_follows_the_formula() {
        // A check value of 0 must give '0', not 31.
        let mut found_zero = false;
        for n in 0..2000u32 {
            let prefix = format!("9132040{n:010}");
            let org = OrgId::with_check(&prefix).unwrap();
            let sum: u32 = prefix
                .bytes()
                .enumerate()
                .map(|(i, c)| {
                    let v = ORG_ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
                    v * 3u32.pow(i as u32) % 31
                })
                .sum();
            let check = ORG_ALPHABET[((31 - sum % 31) % 31) as usize];
            assert_eq!(org.as_str().as_bytes()[17], check);
            found_zero |= check == b'0';
            assert!(OrgId::parse(org.as_str()).is_ok());
        }
        assert!(found_zero);
    }

    #[test]
    fn refuses_bad_org_ids() {
        for bad in [
            "",
            "91350100M000100Y4",
            "91350100M000100Y433",
            "91350100M000100Y44",
            "91350100m000100y43",
            "91350100M000100I43",
            "91350100M000100O43",
            "9135010０M000100Y43",
            "11320404MB0000001Z",
        ] {
            assert!(OrgId::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let message = OrgId::parse("91350100M000100Y44").unwrap_err().to_string();
        assert!(message.contains("expected '3'"), "{message}");
    }

    #[test]
    fn regions() {
        let r = Region::parse("320404").unwrap();
        assert_eq!(
            (r.as_str(), r.city(), r.province()),
            ("320404", "3204", "32")
        );
        for bad in ["32040", "3204040", "32040a", "", "３２０４０４"] {
            assert!(Region::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn waste_codes_and_categories() {
        let c = WasteCode::parse("900-041-49").unwrap();
        assert_eq!(c.category(), Category::parse("HW49").unwrap());
        assert_eq!(c.category().number(), 49);
        assert_eq!(
            WasteCode::parse("841-001-01")
                .unwrap()
                .category()
                .to_string(),
            "HW01"
        );
        for bad in [
            "900-041-4",
            "900041-49",
            "900-041-49 ",
            "900-041-00",
            "90a-041-49",
            "900_041_49",
        ] {
            assert!(WasteCode::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Category::parse("HW08").unwrap().to_string(), "HW08");
        for bad in ["HW00", "HW8", "HW100", "hw08", "HW0a", "08", ""] {
            assert!(Category::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Category::parse("HW99").is_ok());
    }

    #[test]
    fn code_or_category() {
        let code = WasteCode::parse("900-249-08").unwrap();
        let by_category = CodeOrCategory::parse("HW08").unwrap();
        let by_code = CodeOrCategory::parse("900-249-08").unwrap();
        assert!(by_category.covers(&code));
        assert!(by_code.covers(&code));
        assert!(!CodeOrCategory::parse("HW09").unwrap().covers(&code));
        assert_eq!(by_category.to_string(), "HW08");
        assert_eq!(by_code.to_string(), "900-249-08");
        assert!(CodeOrCategory::parse("HW").is_err());
        assert!(CodeOrCategory::parse("HW-08").is_err());
    }

    #[test]
    fn serde_goes_through_parse() {
        let org: OrgId = serde_json::from_str("\"11320404MB0000001Y\"").unwrap();
        assert_eq!(
            serde_json::to_string(&org).unwrap(),
            "\"11320404MB0000001Y\""
        );
        assert!(serde_json::from_str::<OrgId>("\"11320404MB0000001X\"").is_err());
        let cat: Category = serde_json::from_str("\"HW49\"").unwrap();
        assert_eq!(serde_json::to_string(&cat).unwrap(), "\"HW49\"");
        let scope: Vec<CodeOrCategory> = serde_json::from_str(r#"["HW08", "900-041-49"]"#).unwrap();
        assert_eq!(
            serde_json::to_value(&scope).unwrap(),
            serde_json::json!(["HW08", "900-041-49"])
        );
        assert!(serde_json::from_str::<Region>("320404").is_err());
        assert_eq!("320404".parse::<Region>().unwrap().province(), "32");
    }

    #[test]
    fn errors_stay_short() {
        let long = "9".repeat(100_000);
        assert!(OrgId::parse(&long).unwrap_err().to_string().len() < 200);
        assert!(WasteCode::parse(&long).unwrap_err().to_string().len() < 200);
    }
}
