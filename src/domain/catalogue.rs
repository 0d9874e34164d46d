//! Reference data embedded in the binary: the two editions of the National Catalogue of
//! Hazardous Wastes (国家危险废物名录), the 2021 exemption list, and the handling method codes.
//!
//! The CSV files in `data/` are parsed on first use. They are part of the build and checked by
//! the tests below, so a malformed file is a build defect and panics rather than returning an
//! error every caller would have to carry.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ids::{Category, CodeOrCategory, WasteCode};

/// An edition of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Edition {
    #[serde(rename = "2021")]
    E2021,
    #[serde(rename = "2025")]
    E2025,
}

impl Edition {
    /// The edition in force on CST date `d`: 2021 through 2024-12-31, 2025 from 2025-01-01.
    /// Dates before 2021 also get the 2021 edition, the oldest the ledger knows.
    pub fn in_force_on(d: NaiveDate) -> Edition {
        if d < FIRST_DAY_OF_2025 {
            Edition::E2021
        } else {
            Edition::E2025
        }
    }

    /// `"2021"` or `"2025"`.
    pub fn name(&self) -> &'static str {
        match self {
            Edition::E2021 => "2021",
            Edition::E2025 => "2025",
        }
    }
}

const FIRST_DAY_OF_2025: NaiveDate = match NaiveDate::from_ymd_opt(2025, 1, 1) {
    Some(d) => d,
    None => panic!("2025-01-01 is a date"),
};

/// One waste code of an edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeInfo {
    pub code: String,
    pub category: Category,
    pub category_name: String,
    pub industry: String,
    pub description: String,
    /// Hazard characteristics: T toxicity, C corrosivity, I ignitability, R reactivity, In
    /// infectivity. `T,I` has the first and may have the others; `T/C` has one or more of them.
    pub hazard: String,
}

struct Catalogue {
    codes: Vec<CodeInfo>,
    index: HashMap<String, usize>,
    categories: [bool; 100],
}

static CATALOGUE_2021: LazyLock<Catalogue> = LazyLock::new(|| {
    load_catalogue(
        "hw_catalogue_2021.csv",
        include_str!("../../data/hw_catalogue_2021.csv"),
    )
});

static CATALOGUE_2025: LazyLock<Catalogue> = LazyLock::new(|| {
    load_catalogue(
        "hw_catalogue_2025.csv",
        include_str!("../../data/hw_catalogue_2025.csv"),
    )
});

fn catalogue(e: Edition) -> &'static Catalogue {
    match e {
        Edition::E2021 => &CATALOGUE_2021,
        Edition::E2025 => &CATALOGUE_2025,
    }
}

/// Every code of the edition, in the catalogue's order (by category).
pub fn codes(e: Edition) -> &'static [CodeInfo] {
    &catalogue(e).codes
}

/// The code's entry in the edition, if the edition lists it.
pub fn lookup(e: Edition, code: &str) -> Option<&'static CodeInfo> {
    let catalogue = catalogue(e);
    catalogue.index.get(code).map(|&i| &catalogue.codes[i])
}

/// Whether the edition has at least one code in category `c`.
pub fn has_category(e: Edition, c: Category) -> bool {
    catalogue(e).categories[usize::from(c.number())]
}

fn load_catalogue(name: &str, text: &str) -> Catalogue {
    let rows = load(
        name,
        text,
        &[
            "category",
            "category_name",
            "industry",
            "code",
            "description",
            "hazard",
            "page",
        ],
    );
    let mut codes = Vec::with_capacity(rows.len());
    let mut index = HashMap::with_capacity(rows.len());
    let mut categories = [false; 100];
    for (line, row) in rows.into_iter().enumerate() {
        let [category, category_name, industry, code, description, hazard, _page]: [String; 7] =
            row.try_into().expect("width checked by load");
        let at = || format!("{name} record {}", line + 1);
        let parsed = WasteCode::parse(&code).unwrap_or_else(|e| panic!("{}: {e}", at()));
        let category = Category::parse(&category).unwrap_or_else(|e| panic!("{}: {e}", at()));
        assert_eq!(
            parsed.category(),
            category,
            "{}: code {code} is not in its category",
            at()
        );
        for (field, value) in [
            ("category_name", &category_name),
            ("description", &description),
            ("hazard", &hazard),
        ] {
            assert!(!value.is_empty(), "{}: empty {field}", at());
        }
        categories[usize::from(category.number())] = true;
        let previous = index.insert(code.clone(), codes.len());
        assert!(previous.is_none(), "{}: duplicate code {code}", at());
        codes.push(CodeInfo {
            code,
            category,
            category_name,
            industry,
            description,
            hazard,
        });
    }
    Catalogue {
        codes,
        index,
        categories,
    }
}

/// Whether a handling method recovers the waste or gets rid of it; a disposal line needs a
/// licence for this activity (§6, coverage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MethodKind {
    Utilize,
    Dispose,
}

impl MethodKind {
    /// `"utilize"` or `"dispose"`, the licence activity of the same name.
    pub fn as_str(&self) -> &'static str {
        match self {
            MethodKind::Utilize => "utilize",
            MethodKind::Dispose => "dispose",
        }
    }
}

/// A handling method code (R, C, D and Y codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Method {
    pub code: String,
    pub kind: MethodKind,
    pub name: String,
}

static METHODS: LazyLock<Vec<Method>> = LazyLock::new(|| {
    let name = "handling_methods.csv";
    let rows = load(
        name,
        include_str!("../../data/handling_methods.csv"),
        &["code", "kind", "name"],
    );
    let mut methods: Vec<Method> = Vec::with_capacity(rows.len());
    for row in rows {
        let [code, kind, method_name]: [String; 3] = row.try_into().expect("width checked by load");
        let kind = match kind.as_str() {
            "utilize" => MethodKind::Utilize,
            "dispose" => MethodKind::Dispose,
            other => panic!("{name}: method {code} has unknown kind {other:?}"),
        };
        assert!(
            !code.is_empty() && methods.iter().all(|m| m.code != code),
            "{name}: empty or duplicate method code {code:?}"
        );
        methods.push(Method {
            code,
            kind,
            name: method_name,
        });
    }
    methods
});

/// Every handling method, in the file's order.
pub fn methods() -> &'static [Method] {
    &METHODS
}

/// The method with this exact code; there are few enough that a scan is as fast as a map.
pub fn method(code: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.code == code)
}

/// One row of the 2021 exemption list (豁免管理清单): an exempted stage of one item. An item
/// exempting several stages has several rows with the same `no`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exemption {
    /// The item's number in the list, 1 to 32.
    pub no: u32,
    /// As printed: a waste code, a category `HWnn`, several codes run together (the official
    /// table lists them one per line), a class described in words, or `-`. See
    /// [`Exemption::targets`] for the parsed form.
    pub code_or_category: String,
    pub waste: String,
    /// The exempted stage, e.g. 收集, 运输, 利用, 处置, 全部环节.
    pub stage: String,
    pub condition: String,
    /// What the exemption grants.
    pub content: String,
}

impl Exemption {
    /// The codes or categories `code_or_category` names; empty when it names a class in words.
    pub fn targets(&self) -> Vec<CodeOrCategory> {
        const CODE_LEN: usize = "NNN-NNN-NN".len();
        let s = self.code_or_category.as_str();
        if let Ok(c) = CodeOrCategory::parse(s) {
            return vec![c];
        }
        if s.is_ascii() && !s.is_empty() && s.len() % CODE_LEN == 0 {
            let run: Option<Vec<_>> = (0..s.len())
                .step_by(CODE_LEN)
                .map(|i| {
                    WasteCode::parse(&s[i..i + CODE_LEN])
                        .ok()
                        .map(CodeOrCategory::Code)
                })
                .collect();
            if let Some(codes) = run {
                return codes;
            }
        }
        Vec::new()
    }
}

static EXEMPTIONS: LazyLock<Vec<Exemption>> = LazyLock::new(|| {
    let name = "hw_exemptions_2021.csv";
    let rows = load(
        name,
        include_str!("../../data/hw_exemptions_2021.csv"),
        &[
            "no",
            "code_or_category",
            "waste",
            "stage",
            "condition",
            "content",
        ],
    );
    rows.into_iter()
        .map(|row| {
            let [no, code_or_category, waste, stage, condition, content]: [String; 6] =
                row.try_into().expect("width checked by load");
            Exemption {
                no: no
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: item number {no:?} is not a number")),
                code_or_category,
                waste,
                stage,
                condition,
                content,
            }
        })
        .collect()
});

/// The 2021 exemption list, one row per exempted stage, in the list's order.
pub fn exemptions() -> &'static [Exemption] {
    &EXEMPTIONS
}

/// The data records of an embedded CSV file, after checking its header and that every record has
/// the header's width.
fn load(name: &str, text: &str, header: &[&str]) -> Vec<Vec<String>> {
    let mut records = parse_csv(text)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter();
    let found = records.next().unwrap_or_default();
    assert_eq!(found, header, "{name}: unexpected header");
    records
        .enumerate()
        .map(|(i, record)| {
            assert_eq!(
                record.len(),
                header.len(),
                "{name}: record {} has {} fields, expected {}",
                i + 1,
                record.len(),
                header.len()
            );
            record
        })
        .collect()
}

/// RFC 4180 CSV: fields separated by commas, records by CRLF or LF; a field in double quotes may
/// hold commas, line breaks and doubled quotes. A final line break does not start a new record.
/// A byte-order mark, which spreadsheet programs write, is skipped.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    if text.is_empty() {
        return Ok(records);
    }
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let opened = line;
            loop {
                match chars.next() {
                    None => return Err(format!("line {opened}: unterminated quoted field")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => {
                        if c == '\n' {
                            line += 1;
                        }
                        field.push(c);
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                match c {
                    ',' | '\r' | '\n' => break,
                    '"' => return Err(format!("line {line}: quote inside an unquoted field")),
                    _ => {
                        field.push(c);
                        chars.next();
                    }
                }
            }
        }
        record.push(field);
        match chars.next() {
            Some(',') => {}
            Some('\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            Some('\n') => {
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            None => {
                records.push(record);
                return Ok(records);
            }
            Some(c) => return Err(format!("line {line}: unexpected {c:?} after a field")),
        }
        if chars.peek().is_none() {
            return Ok(records);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn code_set(e: Edition) -> BTreeSet<&'static str> {
        codes(e).iter().map(|c| c.code.as_str()).collect()
    }

    #[test]
    fn editions_have_their_announced_sizes() {
        assert_eq!(codes(Edition::E2021).len(), 467);
        assert_eq!(codes(Edition::E2025).len(), 470);
    }

    #[test]
    fn editions_differ_as_announced() {
        let old = code_set(Edition::E2021);
        let new = code_set(Edition::E2025);
        let removed: Vec<_> = old.difference(&new).copied().collect();
        let added: Vec<_> = new.difference(&old).copied().collect();
        assert_eq!(removed, ["261-100-11", "336-100-21"]);
        assert_eq!(
            added,
            [
                "321-035-48",
                "321-036-48",
                "321-037-48",
                "321-038-48",
                "900-054-29"
            ]
        );
        assert!(lookup(Edition::E2025, "900-054-29").is_some());
        assert!(lookup(Edition::E2021, "900-054-29").is_none());
        assert!(lookup(Edition::E2021, "336-100-21").is_some());
        assert!(lookup(Edition::E2025, "336-100-21").is_none());
        assert_eq!(lookup(Edition::E2025, "772-003-18").unwrap().hazard, "T/In");
    }

    #[test]
    fn every_code_ends_in_its_category() {
        for e in [Edition::E2021, Edition::E2025] {
            for info in codes(e) {
                let code = WasteCode::parse(&info.code).unwrap();
                assert_eq!(code.category(), info.category, "{}", info.code);
                assert!(has_category(e, info.category));
                assert_eq!(lookup(e, &info.code), Some(info));
            }
        }
    }

    #[test]
    fn categories() {
        let hw08 = Category::parse("HW08").unwrap();
        assert!(has_category(Edition::E2021, hw08));
        assert!(!has_category(
            Edition::E2025,
            Category::parse("HW41").unwrap()
        ));
        let count = (1..=99)
            .filter_map(Category::from_number)
            .filter(|&c| has_category(Edition::E2025, c))
            .count();
        assert_eq!(count, 46);
        let info = lookup(Edition::E2021, "900-249-08").unwrap();
        assert_eq!(info.category_name, "废矿物油与含矿物油废物");
    }

    #[test]
    fn quoted_fields_survive() {
        let info = lookup(Edition::E2021, "263-004-04").unwrap();
        assert!(
            info.description.starts_with("2,4,5-三氯苯氧乙酸"),
            "{}",
            info.description
        );
        assert_eq!(info.hazard, "T");
        assert_eq!(
            lookup(Edition::E2021, "900-402-06").unwrap().hazard,
            "T,I,R"
        );
    }

    #[test]
    fn unknown_codes_are_not_found() {
        for e in [Edition::E2021, Edition::E2025] {
            assert!(lookup(e, "900-123-49").is_none());
            assert!(lookup(e, "HW08").is_none());
            assert!(lookup(e, "").is_none());
        }
    }

    #[test]
    fn methods_parse() {
        assert_eq!(methods().len(), 22);
        assert_eq!(method("R9").unwrap().kind, MethodKind::Utilize);
        assert_eq!(method("D10").unwrap().kind, MethodKind::Dispose);
        assert_eq!(method("C1").unwrap().kind, MethodKind::Dispose);
        assert_eq!(method("Y10").unwrap().name, "医疗废物焚烧");
        assert!(method("r9").is_none());
        assert!(method("D99").is_none());
        let json = serde_json::to_value(method("C2").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "C2", "kind": "utilize", "name": "生产建筑材料"})
        );
        assert_eq!(MethodKind::Dispose.as_str(), "dispose");
    }

    #[test]
    fn exemptions_load() {
        let all = exemptions();
        assert_eq!(all.len(), 57);
        assert_eq!(all.first().unwrap().no, 1);
        assert_eq!(all.last().unwrap().no, 32);
        assert_eq!(all.iter().map(|e| e.no).collect::<BTreeSet<_>>().len(), 32);
        let coal_tar = all.iter().find(|e| e.no == 10).unwrap();
        assert_eq!(
            coal_tar
                .targets()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["252-002-11", "252-017-11", "451-003-11"]
        );
        let medical = all.iter().find(|e| e.no == 2).unwrap();
        assert_eq!(medical.targets(), [CodeOrCategory::parse("HW01").unwrap()]);
        assert!(all
            .iter()
            .find(|e| e.no == 26)
            .unwrap()
            .targets()
            .is_empty());
        assert!(all.last().unwrap().targets().is_empty());
    }

    #[test]
    fn edition_boundary() {
        assert_eq!(Edition::in_force_on(date("2021-01-01")), Edition::E2021);
        assert_eq!(Edition::in_force_on(date("2024-12-31")), Edition::E2021);
        assert_eq!(Edition::in_force_on(date("2025-01-01")), Edition::E2025);
        assert_eq!(Edition::in_force_on(date("2030-06-01")), Edition::E2025);
        assert_eq!(Edition::in_force_on(date("2019-06-01")), Edition::E2021);
        assert_eq!(Edition::E2021.name(), "2021");
        assert_eq!(serde_json::to_value(Edition::E2025).unwrap(), "2025");
    }

    #[test]
    fn code_info_serializes_for_the_api() {
        let json = serde_json::to_value(lookup(Edition::E2025, "841-001-01").unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "code": "841-001-01", "category": "HW01", "category_name": "医疗废物",
                "industry": "卫生", "description": "感染性废物", "hazard": "In"
            })
        );
    }

    #[test]
    fn csv_reader_follows_rfc_4180() {
        let text = "a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"two\r\nlines\",\r\n\"\",,\"\"";
        assert_eq!(
            parse_csv(text).unwrap(),
            vec![
                vec!["a", "b", "c"],
                vec!["1", "x, y", "say \"hi\""],
                vec!["2", "two\r\nlines", ""],
                vec!["", "", ""],
            ]
        );
        assert_eq!(
            parse_csv("\u{feff}a\nb\n").unwrap(),
            vec![vec!["a"], vec!["b"]]
        );
        assert_eq!(parse_csv("").unwrap(), Vec::<Vec<String>>::new());
        assert!(parse_csv("a,\"b\n").is_err());
        assert!(parse_csv("a,b\"c\n").is_err());
        assert!(parse_csv("a,\"b\"c\n").is_err());
        assert!(parse_csv("a\rb\n").is_err());
    }
}
