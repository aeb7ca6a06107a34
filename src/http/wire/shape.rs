//! Plain-words reasons for a request body that is not JSON or does not fit
//! its shape.
//!
//! serde's texts name Rust types (`invalid type: string "5", expected
//! u64`) and never the field. Here a parsed [`Value`] is handed to the
//! body's `Deserialize` through [`Walk`], a deserializer whose error,
//! [`ShapeError`], keeps serde's category (wrong type, missing, unknown
//! field) and the path of the field it happened in, so the message can say
//! which field and what it must be. Syntax errors keep serde_json's line
//! and column with its phrase said plainly.

use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeSeed, Error as _, Expected, IntoDeserializer, Unexpected, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::Value;
use thiserror::Error;

/// Longest text of the client's own that a message quotes, in characters.
const QUOTE_MAX: usize = 40;

/// A body's JSON value does not fit the shape asked for.
#[derive(Debug, Error)]
#[error("{}", self.describe())]
pub struct ShapeError {
    /// Where it happened, innermost first (reversed for display).
    path: Vec<Step>,
    kind: Kind,
}

#[derive(Debug)]
enum Step {
    Field(String),
    Item(usize),
}

#[derive(Debug)]
enum Kind {
    /// A value of the wrong type, or out of its type's range.
    Mismatch {
        expected: String,
        got: Got,
    },
    /// A list of the wrong length.
    Length {
        expected: String,
        len: usize,
    },
    Missing(&'static str),
    Unknown {
        field: String,
        accepted: &'static [&'static str],
    },
    Twice(&'static str),
    Other(String),
}

/// What the client sent instead, kept apart from its wording so that a
/// secret's value is never repeated back.
#[derive(Debug)]
enum Got {
    Text(String),
    Number(String),
    Bool(bool),
    Null,
    List,
    Object,
    Other(String),
}

impl Got {
    fn of(u: &Unexpected<'_>) -> Got {
        match *u {
            Unexpected::Str(s) => Got::Text(s.to_owned()),
            Unexpected::Char(c) => Got::Text(c.to_string()),
            Unexpected::Unsigned(n) => Got::Number(n.to_string()),
            Unexpected::Signed(n) => Got::Number(n.to_string()),
            Unexpected::Float(n) => Got::Number(n.to_string()),
            Unexpected::Bool(b) => Got::Bool(b),
            Unexpected::Unit | Unexpected::Option => Got::Null,
            Unexpected::Seq => Got::List,
            Unexpected::Map => Got::Object,
            ref other => Got::Other(other.to_string()),
        }
    }

    fn words(&self, secret: bool) -> String {
        match self {
            Got::Text(_) if secret => "some other text".to_owned(),
            Got::Number(_) if secret => "a number".to_owned(),
            Got::Bool(_) if secret => "true or false".to_owned(),
            Got::Text(s) if s.chars().count() > QUOTE_MAX => {
                let head: String = s.chars().take(QUOTE_MAX).collect();
                format!("the text {}…", quote(&head))
            }
            Got::Text(s) => format!("the text {}", quote(s)),
            Got::Number(n) => format!("the number {n}"),
            Got::Bool(b) => format!("{b}"),
            Got::Null => "null".to_owned(),
            Got::List => "a list".to_owned(),
            Got::Object => "an object".to_owned(),
            Got::Other(s) => s.clone(),
        }
    }
}

/// `s` in JSON's double quotes, escaped as JSON escapes it.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Fields whose values are never repeated in a message.
const SECRETS: &[&str] = &["password", "key"];

/// What a field of a request body must be, in words, by its name; serde's
/// own expectation (`"u64"`, `"a string"`) in plain words for the rest.
fn must_be(field: &str, item: bool, serde_expected: &str) -> String {
    let known = match (field, item) {
        ("url", _) => Some("text holding an absolute URL, such as \"https://example.com/page\""),
        ("slug", _) => Some("text of 1 to 64 letters, digits, '_' or '-', such as \"my-link\""),
        ("expires_at", _) => Some("a date and time as text, such as \"2030-01-31T12:00:00Z\""),
        ("max_clicks", _) => Some("a whole number of at least 1"),
        ("redirect_status", _) => Some("one of the numbers 301, 302, 307 or 308"),
        ("tags", false) => Some("a list of tags, such as [\"work\", \"docs\"]"),
        ("tags", true) => Some("a tag as text, such as \"work\""),
        ("password", _) => Some("text (the password)"),
        ("key", _) => Some("text (the API key)"),
        ("scope", _) => Some("one of the texts \"read\", \"write\" or \"admin\""),
        _ => None,
    };
    if let Some(k) = known {
        return k.to_owned();
    }
    match serde_expected {
        "a string" => "text in double quotes".to_owned(),
        "a sequence" => "a list in square brackets".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number of at least 0".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        other => other.to_owned(),
    }
}

impl ShapeError {
    fn new(kind: Kind) -> Self {
        ShapeError {
            path: Vec::new(),
            kind,
        }
    }

    /// The same error, one level further out: inside `step`.
    fn within(mut self, step: Step) -> Self {
        self.path.push(step);
        self
    }

    /// The path as the client wrote it: `tags[0]`, `url`.
    fn path_with(&self, last: Option<&str>) -> String {
        let mut out = String::new();
        for step in self.path.iter().rev() {
            match step {
                Step::Field(f) if out.is_empty() => out.push_str(f),
                Step::Field(f) => {
                    out.push('.');
                    out.push_str(f);
                }
                Step::Item(i) => out.push_str(&format!("[{i}]")),
            }
        }
        if let Some(f) = last {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(f);
        }
        out
    }

    /// The outermost field named, and whether the error is in an item of it.
    fn top(&self) -> (&str, bool) {
        let field = match self.path.last() {
            Some(Step::Field(f)) => f.as_str(),
            _ => "",
        };
        let item = self.path.iter().any(|s| matches!(s, Step::Item(_)));
        (field, item)
    }

    fn describe(&self) -> String {
        let (field, item) = self.top();
        let secret = SECRETS.contains(&field);
        let at = self.path_with(None);
        match &self.kind {
            Kind::Mismatch { expected, got } => format!(
                "{at}: must be {}, not {}",
                must_be(field, item, expected),
                got.words(secret)
            ),
            Kind::Length { expected, len } => format!(
                "{at}: must be {}, not a list of {len} items",
                must_be(field, item, expected)
            ),
            Kind::Missing(f) => match must_be(f, false, "") {
                what if what.is_empty() => format!("{}: is required", self.path_with(Some(f))),
                what => format!(
                    "{}: is required; it must be {what}",
                    self.path_with(Some(f))
                ),
            },
            Kind::Unknown { field: f, accepted } => {
                let name = self.path_with(Some(f));
                if accepted.is_empty() {
                    format!("'{name}' is not a field kurz knows here; this object takes none")
                } else {
                    format!(
                        "'{name}' is not a field kurz knows here; the accepted fields are {}",
                        accepted.join(", ")
                    )
                }
            }
            Kind::Twice(f) => format!("{}: is given twice", self.path_with(Some(f))),
            Kind::Other(msg) if at.is_empty() => msg.clone(),
            Kind::Other(msg) => format!("{at}: {msg}"),
        }
    }
}

impl de::Error for ShapeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ShapeError::new(Kind::Other(msg.to_string()))
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        ShapeError::new(Kind::Mismatch {
            expected: exp.to_string(),
            got: Got::of(&unexp),
        })
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        ShapeError::new(Kind::Length {
            expected: exp.to_string(),
            len,
        })
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        ShapeError::new(Kind::Unknown {
            field: field.to_owned(),
            accepted: expected,
        })
    }

    fn missing_field(field: &'static str) -> Self {
        ShapeError::new(Kind::Missing(field))
    }

    fn duplicate_field(field: &'static str) -> Self {
        ShapeError::new(Kind::Twice(field))
    }
}

/// A parsed JSON value as a serde deserializer that reports [`ShapeError`].
pub struct Walk(pub Value);

impl<'de> de::Deserializer<'de> for Walk {
    type Error = ShapeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => {
                let len = items.len();
                let mut seq = Items(items.into_iter().enumerate());
                let out = visitor.visit_seq(&mut seq)?;
                if seq.0.len() == 0 {
                    Ok(out)
                } else {
                    Err(de::Error::invalid_length(len, &"fewer items"))
                }
            }
            Value::Object(map) => {
                let mut fields = Fields {
                    entries: map.into_iter(),
                    value: None,
                };
                let out = visitor.visit_map(&mut fields)?;
                match fields.entries.next() {
                    None => Ok(out),
                    Some((k, _)) => Err(ShapeError::custom(format!("'{k}' is not expected"))),
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        match self.0 {
            // A unit variant written as its name.
            Value::String(s) => {
                let name: StringDeserializer<ShapeError> = s.into_deserializer();
                visitor.visit_enum(name)
            }
            other => Walk(other).deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct Items(std::iter::Enumerate<std::vec::IntoIter<Value>>);

impl<'de> de::SeqAccess<'de> for Items {
    type Error = ShapeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ShapeError> {
        match self.0.next() {
            None => Ok(None),
            Some((i, v)) => seed
                .deserialize(Walk(v))
                .map(Some)
                .map_err(|e| e.within(Step::Item(i))),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Fields {
    entries: serde_json::map::IntoIter,
    /// The value of the key just read, with that key.
    value: Option<(String, Value)>,
}

impl<'de> de::MapAccess<'de> for Fields {
    type Error = ShapeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ShapeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let name: StringDeserializer<ShapeError> = key.clone().into_deserializer();
        self.value = Some((key, value));
        seed.deserialize(name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ShapeError> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| ShapeError::custom("a value was asked for before its key"))?;
        seed.deserialize(Walk(value))
            .map_err(|e| e.within(Step::Field(key)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Why bytes are not JSON at all, in plain words, with serde_json's line
/// and column.
pub fn syntax(e: &serde_json::Error) -> String {
    if e.is_eof() {
        return if e.line() <= 1 && e.column() == 0 {
            "the body is empty: send a JSON object, such as {\"url\": \"https://example.com/page\"}"
                .to_owned()
        } else {
            "the body ends before its JSON does: a '}', ']' or '\"' is missing".to_owned()
        };
    }
    let text = e.to_string();
    // serde_json ends every message with its position; it is given below.
    let phrase = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(p, _)| p);
    let plain = if phrase.starts_with("control character") {
        "a text holds a raw control character (write a line break as \\n and a tab as \\t)"
            .to_owned()
    } else if phrase == "key must be a string" {
        "a field name must be text in double quotes".to_owned()
    } else if phrase == "expected value" {
        "expected a JSON value (text in double quotes, a number, true, false, null, a list or an object)"
            .to_owned()
    } else if phrase == "trailing characters" {
        "there is more after the JSON object".to_owned()
    } else {
        phrase.replace('`', "'")
    };
    format!(
        "the body is not valid JSON: {plain}, at line {} column {}",
        e.line(),
        e.column()
    )
}

#[cfg(test)]
mod tests;
