//! Lenient JSON field types: real logs put ints where strings are expected, `null` or `""`
//! where ids should be, and objects where text was planned. These types take whatever
//! comes and never fail the whole event over one odd field.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Text from a JSON string, number or bool; `None` for null, objects and lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    /// The text, `""` when absent.
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }
    /// The text when present and not empty.
    pub fn non_empty(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

/// A scalar read from whatever JSON value comes: its text as [`Text`] gives it (`None`
/// for null, objects and lists), with numbers and bools read directly, not through text.
trait FromScalar: Sized {
    /// From the value's text (`None` for null, objects and lists).
    fn from_text(s: Option<&str>) -> Self;
    /// From a JSON number without sign or fraction.
    fn from_u64(v: u64) -> Self {
        Self::from_text(Some(&v.to_string()))
    }
    /// From a negative JSON integer.
    fn from_i64(v: i64) -> Self {
        Self::from_text(Some(&v.to_string()))
    }
    /// From a JSON number with a fraction or exponent.
    fn from_f64(v: f64) -> Self {
        Self::from_text(Some(&v.to_string()))
    }
    /// From `true` or `false`.
    fn from_bool(v: bool) -> Self {
        Self::from_text(Some(if v { "true" } else { "false" }))
    }
}

struct ScalarVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: FromScalar> Visitor<'de> for ScalarVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(T::from_text(Some(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Ok(T::from_i64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        Ok(T::from_u64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        Ok(T::from_f64(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        Ok(T::from_bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::from_text(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::from_text(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(T::from_text(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::from_text(None))
    }
}

/// A number from a JSON number or a numeric string; `None` for anything else.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Num(pub Option<f64>);

impl FromScalar for Num {
    fn from_text(s: Option<&str>) -> Self {
        Num(match s {
            Some("true" | "false") | None => None,
            Some(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        })
    }
    // A number's text parses back to the same f64 (Rust prints the shortest text that
    // does, and an integer's text rounds as `as f64` does): read it directly.
    fn from_u64(v: u64) -> Self {
        Num(Some(v as f64))
    }
    fn from_i64(v: i64) -> Self {
        Num(Some(v as f64))
    }
    fn from_f64(v: f64) -> Self {
        Num(Some(v).filter(|f| f.is_finite()))
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

/// An unsigned integer id from a JSON number or a numeric string (`3`, `"3"`); `None` for
/// null, `""`, negative or non-numeric values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Id(pub Option<u64>);

impl FromScalar for Id {
    fn from_text(s: Option<&str>) -> Self {
        Id(s.and_then(|s| s.trim().parse::<u64>().ok()))
    }
    fn from_u64(v: u64) -> Self {
        Id(Some(v))
    }
    fn from_i64(v: i64) -> Self {
        Id(u64::try_from(v).ok())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

/// A boolean from `true`/`false`, `"true"`/`"false"`, or 0/1; `None` otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

impl FromScalar for Flag {
    fn from_text(s: Option<&str>) -> Self {
        Flag(match s {
            Some("true" | "True" | "1") => Some(true),
            Some("false" | "False" | "0") => Some(false),
            _ => None,
        })
    }
    fn from_bool(v: bool) -> Self {
        Flag(Some(v))
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(std::marker::PhantomData))
    }
}

/// A value that must be a JSON object to be read as `T`; any other JSON value (string,
/// list, number, null) gives `None` instead of an error.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obj<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Obj(match PayloadValue::<'de, T>::deserialize(d)? {
            PayloadValue::Object(t) => Some(t),
            _ => None,
        }))
    }
}

/// An event's payload (`event` or `data`) in one pass over the message: an object's
/// fields as `T` (typed, lenient), or what else it was.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum PayloadValue<'a, T> {
    /// Missing or null.
    #[default]
    Absent,
    /// An object, read as `T`.
    Object(T),
    /// A list (its items skipped).
    List,
    /// A string (decoded once: it may hold JSON or a url-encoded form).
    Str(Cow<'a, str>),
    /// A number or bool.
    Scalar,
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for PayloadValue<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, T>(std::marker::PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for V<'a, T> {
            type Value = PayloadValue<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(PayloadValue::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PayloadValue::List)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(PayloadValue::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(PayloadValue::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(PayloadValue::Str(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(PayloadValue::Scalar)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(PayloadValue::Scalar)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(PayloadValue::Scalar)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(PayloadValue::Scalar)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(PayloadValue::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(PayloadValue::Absent)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T<'a> {
        #[serde(borrow, default)]
        t: Text<'a>,
        #[serde(default)]
        id: Id,
        #[serde(default)]
        n: Num,
        #[serde(default)]
        f: Flag,
    }

    #[test]
    fn ids_from_ints_strings_nulls_and_empties() {
        fn p(s: &str) -> T<'_> {
            serde_json::from_str(s).unwrap()
        }
        assert_eq!(p(r#"{"id": 3}"#).id, Id(Some(3)));
        assert_eq!(p(r#"{"id": "3"}"#).id, Id(Some(3)));
        assert_eq!(p(r#"{"id": null}"#).id, Id(None));
        assert_eq!(p(r#"{"id": ""}"#).id, Id(None));
        assert_eq!(p(r#"{"id": -1}"#).id, Id(None));
        assert_eq!(p(r#"{"id": {"x": 1}}"#).id, Id(None));
        assert_eq!(p(r#"{"id": 3.0}"#).id, Id(Some(3)));
        assert_eq!(p(r#"{"id": 3.5}"#).id, Id(None));
        assert_eq!(p(r#"{"id": " 12 "}"#).id, Id(Some(12)));
        assert_eq!(p(r#"{"n": "2.5"}"#).n, Num(Some(2.5)));
        assert_eq!(p(r#"{"n": 2.5}"#).n, Num(Some(2.5)));
        assert_eq!(p(r#"{"n": -4}"#).n, Num(Some(-4.0)));
        assert_eq!(
            p(r#"{"n": 18446744073709551615}"#).n,
            Num(Some(u64::MAX as f64))
        );
        assert_eq!(p(r#"{"n": true}"#).n, Num(None));
        assert_eq!(p(r#"{"n": "NaN"}"#).n, Num(None));
        assert_eq!(p(r#"{"n": [1]}"#).n, Num(None));
        assert_eq!(p(r#"{"f": true}"#).f, Flag(Some(true)));
        assert_eq!(p(r#"{"f": 0}"#).f, Flag(Some(false)));
        assert_eq!(p(r#"{"f": 1.0}"#).f, Flag(Some(true)));
        assert_eq!(p(r#"{"f": 2}"#).f, Flag(None));
        assert_eq!(p(r#"{"f": "False"}"#).f, Flag(Some(false)));
        assert_eq!(p(r#"{"t": 12}"#).t.as_str(), "12");
        assert_eq!(p(r#"{"t": [1, 2]}"#).t, Text(None));
        assert!(matches!(
            p(r#"{"t": "plain"}"#).t.0,
            Some(Cow::Borrowed("plain"))
        ));
    }
}
