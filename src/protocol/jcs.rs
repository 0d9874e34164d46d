//! Strict JSON input and its RFC 8785 (JCS) canonical form.
//!
//! Everything the ledger signs or hashes is canonicalised, so input whose
//! canonical form would be ambiguous (duplicate keys, non-integer or unsafe
//! numbers, invalid UTF-8) is refused before it gets that far.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The largest magnitude an integer may have: 2^53 − 1, the range in which
/// every JSON implementation reads integers exactly.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// [`MAX_SAFE_INTEGER`] as a float, which holds it exactly.
const MAX_SAFE_FLOAT: f64 = 9_007_199_254_740_991.0;

/// Why [`parse_strict`] refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid UTF-8 at byte {0}")]
    InvalidUtf8(usize),
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A key given twice in one object; a long key is quoted cut short.
    #[error("duplicate key {0:?}")]
    DuplicateKey(String),
    #[error("number {0} is not an integer")]
    NotAnInteger(String),
    #[error("integer {0} is out of range (|n| must be at most 2^53-1)")]
    OutOfRange(String),
}

/// Parses JSON text, refusing what RFC 8785 cannot canonicalise unambiguously:
/// invalid UTF-8, duplicated object keys at any depth, numbers written with a
/// fraction or an exponent, integers beyond ±(2^53 − 1), and trailing text.
///
/// `-0` is refused too: the parser cannot tell it apart from `-0.0`.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|e| JsonError::InvalidUtf8(e.valid_up_to()))?;
    let refusal = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = StrictValue { refusal: &refusal }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    parsed.map_err(|e| {
        // A refusal raised by the visitor is the real cause; serde_json only
        // sees it as an opaque custom error.
        refusal.take().unwrap_or_else(|| JsonError::Syntax {
            line: e.line(),
            column: e.column(),
            message: syntax_message(&e),
        })
    })
}

/// The RFC 8785 canonical bytes of `value`.
///
/// Written straight from the value: members in the order of their names' UTF-16 code units,
/// strings escaped as ECMAScript's `JSON.stringify` escapes them (`"`, `\` and the control
/// characters only), numbers as ECMAScript writes a double. Checked against the RFC's test
/// vectors (`tests/jcs_vectors.rs`) and, on random values, against an independent
/// implementation (the `serde_json_canonicalizer` crate, in the tests below).
pub fn canonical(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            // A map's own order is usually already the canonical one (code points and UTF-16
            // code units order alike below U+10000); sort only when it is not.
            if !members.is_sorted_by(|a, b| utf16_cmp(a.0, b.0).is_le()) {
                members.sort_unstable_by(|a, b| utf16_cmp(a.0, b.0));
            }
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

/// Orders two strings by their UTF-16 code units, as RFC 8785 orders member names.
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// ECMAScript's number to string for the double nearest `n`: integers of at most 2^53 in
/// magnitude are exact doubles and print as their digits.
fn write_number(n: &Number, out: &mut Vec<u8>) {
    const EXACT: u64 = 1 << 53;
    use std::io::Write;
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT) {
        write!(out, "{u}").expect("writing to a Vec cannot fail");
    } else if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        write!(out, "{i}").expect("writing to a Vec cannot fail");
    } else {
        let f = n.as_f64().expect("a JSON number is finite");
        let mut buffer = ryu_js::Buffer::new();
        out.extend_from_slice(buffer.format_finite(f).as_bytes());
    }
}

/// A JSON string as `JSON.stringify` writes it: `"` and `\` escaped, the control characters
/// below U+0020 as `\b`, `\t`, `\n`, `\f`, `\r` or `\u00xx`, everything else as it is.
fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut unicode = *b"\\u0000";
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => {
                unicode[4] = HEX[usize::from(b >> 4)];
                unicode[5] = HEX[usize::from(b & 0x0f)];
                &unicode
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Longest key quoted in a [`JsonError::DuplicateKey`], in characters: a key may be as long as
/// the body, and the message goes back to the client.
const MAX_QUOTED_KEY: usize = 80;

/// `key`, cut to [`MAX_QUOTED_KEY`] characters and an ellipsis when longer.
fn clip_key(key: &str) -> String {
    match key.char_indices().nth(MAX_QUOTED_KEY) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_owned(),
    }
}

/// serde_json's message without the position it appends, since
/// [`JsonError::Syntax`] carries the position itself.
fn syntax_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
}

/// Deserialises a [`Value`] while checking the strict rules, recording the
/// first refusal so that [`parse_strict`] can report it precisely.
#[derive(Clone, Copy)]
struct StrictValue<'a> {
    refusal: &'a Cell<Option<JsonError>>,
}

impl StrictValue<'_> {
    fn refuse<E: de::Error>(self, why: JsonError) -> E {
        let error = E::custom(&why);
        self.refusal.set(Some(why));
        error
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        if n > MAX_SAFE_INTEGER {
            return Err(self.refuse(JsonError::OutOfRange(n.to_string())));
        }
        Ok(Value::Number(Number::from(n)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        if n.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(self.refuse(JsonError::OutOfRange(n.to_string())));
        }
        Ok(Value::Number(Number::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        // serde_json hands over a float for a fraction, an exponent, `-0`, or
        // an integer too long for 64 bits. Beyond 2^53 every float is whole,
        // so the magnitude is the more useful thing to report there.
        let why = if n.abs() > MAX_SAFE_FLOAT {
            JsonError::OutOfRange(format!("{n:?}"))
        } else {
            JsonError::NotAnInteger(format!("{n:?}"))
        };
        Err(self.refuse(why))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(self.refuse(JsonError::DuplicateKey(clip_key(&key))));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(text: &str) -> JsonError {
        parse_strict(text.as_bytes()).expect_err(text)
    }

    #[test]
    fn accepts_plain_json() {
        let value = parse_strict(br#" {"b":[1,-2,true,null],"a":{"c":"\u00e9"}} "#).unwrap();
        assert_eq!(value, json!({"a": {"c": "é"}, "b": [1, -2, true, null]}));
    }

    #[test]
    fn accepts_the_safe_integer_bounds() {
        #[allow(clippy::cast_precision_loss)]
        let exact = MAX_SAFE_INTEGER as f64;
        assert_eq!(MAX_SAFE_FLOAT, exact);
        let value = parse_strict(b"[9007199254740991,-9007199254740991,0]").unwrap();
        assert_eq!(
            value,
            json!([9_007_199_254_740_991_i64, -9_007_199_254_740_991_i64, 0])
        );
    }

    #[test]
    fn refuses_invalid_utf8() {
        assert_eq!(
            parse_strict(b"{\"a\":\"\xff\"}"),
            Err(JsonError::InvalidUtf8(6))
        );
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        assert_eq!(
            refusal(r#"{"id":1,"id":2}"#),
            JsonError::DuplicateKey("id".into())
        );
        assert_eq!(
            refusal(r#"{"a":[{"x":{"k":1,"k":1}}]}"#),
            JsonError::DuplicateKey("k".into())
        );
        // Escapes are decoded before keys are compared.
        assert_eq!(
            refusal(r#"{"a":1,"\u0061":2}"#),
            JsonError::DuplicateKey("a".into())
        );
        assert_eq!(
            refusal(r#"{"id":1,"id":2}"#).to_string(),
            r#"duplicate key "id""#
        );
    }

    /// A key may be as long as the body: a refusal quotes at most 80 characters of it, so that
    /// one long key twice is not answered with a message as long as the body (the input of
    /// `fuzz/corpus/strict_json/crash-long-duplicate-key`).
    #[test]
    fn a_long_duplicate_key_is_quoted_briefly() {
        let key = "k".repeat(1000);
        let error = refusal(&format!(r#"{{"{key}":1,"{key}":2}}"#));
        assert_eq!(
            error,
            JsonError::DuplicateKey(format!("{}…", "k".repeat(MAX_QUOTED_KEY)))
        );
        assert!(error.to_string().chars().count() < 120, "{error}");
        // Cut at a character, not a byte.
        let key = "键".repeat(100);
        let error = refusal(&format!(r#"{{"{key}":1,"{key}":2}}"#));
        assert_eq!(
            error,
            JsonError::DuplicateKey(format!("{}…", "键".repeat(MAX_QUOTED_KEY)))
        );
        // A key of exactly the limit is quoted whole.
        let key = "k".repeat(MAX_QUOTED_KEY);
        assert_eq!(
            refusal(&format!(r#"{{"{key}":1,"{key}":2}}"#)),
            JsonError::DuplicateKey(key)
        );
    }

    #[test]
    fn refuses_fractions_and_exponents() {
        assert_eq!(refusal("1.0"), JsonError::NotAnInteger("1.0".into()));
        assert_eq!(refusal("[1e3]"), JsonError::NotAnInteger("1000.0".into()));
        assert_eq!(
            refusal(r#"{"q":-0.5}"#),
            JsonError::NotAnInteger("-0.5".into())
        );
        assert_eq!(refusal("1E0"), JsonError::NotAnInteger("1.0".into()));
        assert_eq!(refusal("-0"), JsonError::NotAnInteger("-0.0".into()));
        assert_eq!(refusal("1.5").to_string(), "number 1.5 is not an integer");
    }

    #[test]
    fn refuses_integers_beyond_2_pow_53() {
        assert_eq!(
            refusal("9007199254740992"),
            JsonError::OutOfRange("9007199254740992".into())
        );
        assert_eq!(
            refusal("[-9007199254740993]"),
            JsonError::OutOfRange("-9007199254740993".into())
        );
        // Too long for 64 bits: serde_json reads it as a float.
        assert!(matches!(
            refusal("123456789012345678901234567890"),
            JsonError::OutOfRange(_)
        ));
        assert!(matches!(refusal("1e300"), JsonError::OutOfRange(_)));
        assert!(refusal("9007199254740993")
            .to_string()
            .starts_with("integer 9007199254740993 is out of range"));
    }

    #[test]
    fn refuses_trailing_text() {
        assert!(matches!(refusal("{} x"), JsonError::Syntax { .. }));
        assert!(matches!(refusal("1 2"), JsonError::Syntax { .. }));
        assert!(parse_strict(b"{}\n\t ").is_ok());
    }

    #[test]
    fn reports_syntax_errors_with_their_position() {
        let error = refusal(r#"{"a": tru}"#);
        let JsonError::Syntax { line, column, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!((*line, *column), (1, 10));
        assert!(
            error
                .to_string()
                .starts_with("invalid JSON at line 1 column 10: "),
            "{error}"
        );
        assert!(!error.to_string().ends_with("column 10"), "{error}");
    }

    #[test]
    fn refuses_lone_surrogates() {
        assert!(matches!(refusal(r#""\ud800""#), JsonError::Syntax { .. }));
    }

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let value = parse_strict(br#"{ "b": 2, "a": [ 1, "\u20ac" ], "": null }"#).unwrap();
        assert_eq!(
            canonical(&value),
            r#"{"":null,"a":[1,"€"],"b":2}"#.as_bytes()
        );
    }

    #[test]
    fn canonical_handles_floats() {
        assert_eq!(canonical(&json!([1.5, 1e30, 4.0])), b"[1.5,1e+30,4]");
    }

    #[test]
    fn canonical_orders_names_by_utf16_code_units() {
        // U+1F600 is a surrogate pair (D83D DE00), below U+E000 in UTF-16 though above it
        // as a code point; control characters and the two escapes are written escaped.
        let value =
            json!({"\u{e000}": 1, "\u{1f600}": 2, "a\u{1}\"\\\n": [9007199254740993u64, -0.0]});
        assert_eq!(
            String::from_utf8(canonical(&value)).unwrap(),
            "{\"a\\u0001\\\"\\\\\\n\":[9007199254740992,0],\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
    }

    mod against_an_independent_implementation {
        use super::super::canonical;
        use proptest::prelude::*;
        use serde_json::Value;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[\\u{0}-\\u{1f}\"\\\\/a-c\\u{7f}\\u{e000}-\\u{e002}\\u{fffd}-\\u{ffff}\\u{10000}\\u{1f600}]{0,6}",
            ]
        }

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                (-(1i64 << 54)..(1i64 << 54)).prop_map(Value::from),
                any::<f64>()
                    .prop_filter("JSON numbers are finite", |f| f.is_finite())
                    .prop_map(Value::from),
                text().prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(text(), inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn canonical_is_serde_json_canonicalizer_s(value in json()) {
                let theirs = serde_json_canonicalizer::to_vec(&value).unwrap();
                prop_assert_eq!(
                    String::from_utf8(canonical(&value)).unwrap(),
                    String::from_utf8(theirs).unwrap()
                );
            }
        }
    }
}
