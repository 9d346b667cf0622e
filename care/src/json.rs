//! JSON in and out for the CLI commands, and the text formats of dates, times of day, weekdays
//! and time zones in JSON.
//!
//! serde reports what is wrong ("unknown field `capp`", "invalid type: string, expected u32")
//! but not where. A coordinator editing a file of 200 volunteers needs the where, so on failure
//! [`decode`] finds the path by probing the parsed document: see [`locate`].

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::{invalid, Error};

/// Parses `input` as a `T`; errors name the JSON path of the bad field.
pub(crate) fn decode<T: DeserializeOwned>(input: &str) -> Result<T, Error> {
    let value: Value = serde_json::from_str(input).map_err(|e| Error::Json {
        detail: e.to_string(),
    })?;
    T::deserialize(&value).map_err(|e| {
        let reason = e.to_string();
        match missing_field(&reason) {
            Some(field) => invalid(locate_missing::<T>(&value, &reason, field), "missing"),
            None => invalid(locate::<T>(&value, &reason), reason),
        }
    })
}

/// Pretty JSON for the CLI.
pub(crate) fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value)
        .expect("results are plain structs with string keys, which always serialize")
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn display(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        out.push_str("input");
    }
    out
}

fn get<'a>(mut value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    for step in path {
        value = match (step, value) {
            (Step::Key(k), Value::Object(map)) => map.get(k)?,
            (Step::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

fn get_mut<'a>(mut value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    for step in path {
        value = match (step, value) {
            (Step::Key(k), Value::Object(map)) => map.get_mut(k)?,
            (Step::Index(i), Value::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(value)
}

fn children(value: &Value) -> Vec<Step> {
    match value {
        Value::Object(map) => map.keys().map(|k| Step::Key(k.clone())).collect(),
        Value::Array(items) => (0..items.len()).map(Step::Index).collect(),
        _ => Vec::new(),
    }
}

fn missing_field(reason: &str) -> Option<&str> {
    reason.strip_prefix("missing field `")?.strip_suffix('`')
}

fn failure<T: DeserializeOwned>(value: &Value) -> Option<String> {
    T::deserialize(value).err().map(|e| e.to_string())
}

/// Where the error `reason` (raised while reading a value, not a missing field) comes from.
///
/// serde stops at the first bad value it reads. Removing a value that is not on the path to it
/// leaves that first error unchanged (every value read before it was fine, and checks for
/// missing fields come only after an object's values are read); removing the value on the path
/// changes or clears it. So the path is found by descending into the one child whose removal
/// changes the error. Where two siblings fail identically neither stands out, and the path
/// stops at their parent.
fn locate<T: DeserializeOwned>(root: &Value, reason: &str) -> String {
    let mut path = Vec::new();
    'descend: while let Some(node) = get(root, &path) {
        for child in children(node) {
            let mut probe = root.clone();
            match (get_mut(&mut probe, &path), &child) {
                (Some(Value::Object(map)), Step::Key(k)) => {
                    map.remove(k);
                }
                (Some(Value::Array(items)), Step::Index(i)) => {
                    items.remove(*i);
                }
                _ => continue,
            }
            if failure::<T>(&probe).as_deref() != Some(reason) {
                path.push(child);
                continue 'descend;
            }
        }
        break;
    }
    display(&path)
}

/// Where the required `field` is missing: the object that, given the field (as `null`), fails
/// differently. An object of a type without the field fails with "unknown field" (inputs deny
/// unknown fields), and one read after the culprit still fails as before. An object with the
/// field optional may also fail differently, but serde reads it, and so fails on it, before the
/// object that lacks the field finishes; so the culprit is the last such object in that
/// order, children before parents. (No input type has an optional field that an enclosing type
/// requires, which would break this.)
fn locate_missing<T: DeserializeOwned>(root: &Value, reason: &str, field: &str) -> String {
    let unknown = format!("unknown field `{field}`");
    let mut objects = Vec::new();
    post_order(root, &mut Vec::new(), &mut objects);
    let mut culprit = Vec::new();
    for path in objects {
        let mut probe = root.clone();
        let Some(Value::Object(map)) = get_mut(&mut probe, &path) else {
            continue;
        };
        if map.contains_key(field) {
            continue;
        }
        map.insert(field.to_owned(), Value::Null);
        match failure::<T>(&probe) {
            Some(r) if r == reason || r.starts_with(&unknown) => {}
            _ => culprit = path,
        }
    }
    culprit.push(Step::Key(field.to_owned()));
    display(&culprit)
}

fn post_order(value: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                at.push(Step::Key(k.clone()));
                post_order(v, at, out);
                at.pop();
            }
            out.push(at.clone());
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(Step::Index(i));
                post_order(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// `"Europe/London"`: an IANA time zone name.
pub(crate) mod tz {
    use chrono_tz::Tz;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tz.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(|_| {
            D::Error::custom(format!(
                "unknown time zone {name:?} (expected an IANA name such as \"Europe/London\")"
            ))
        })
    }
}

/// `"2026-03-29"`.
pub(crate) mod date {
    use chrono::NaiveDate;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&date.format("%Y-%m-%d"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|_| D::Error::custom(format!("{text} is not a date (expected YYYY-MM-DD)")))
    }
}

/// `"19:00"`: a time of day, 00:00–23:59.
pub(crate) mod clock {
    use chrono::NaiveTime;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&time.format("%H:%M"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(&text, "%H:%M").map_err(|_| {
            D::Error::custom(format!(
                "{text:?} is not a time of day (expected HH:MM, 00:00–23:59)"
            ))
        })
    }
}

/// `"mon"` … `"sun"` (full names and any case accepted).
pub(crate) mod weekday {
    use chrono::Weekday;
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&day.to_string().to_lowercase())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|_| {
            D::Error::custom(format!(
                "{text:?} is not a day of the week (expected mon, tue, wed, thu, fri, sat or sun)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        id: String,
        size: u32,
        #[serde(default)]
        tags: Vec<String>,
    }

    fn err(input: &str) -> String {
        decode::<Outer>(input).unwrap_err().to_string()
    }

    #[test]
    fn wrong_types_and_unknown_fields_name_their_path() {
        let doc = r#"{"name":"a","items":[{"id":"x","size":1},{"id":"y","size":"two"}]}"#;
        assert_eq!(
            err(doc),
            "items[1].size: invalid type: string \"two\", expected u32"
        );
        let doc = r#"{"name":"a","items":[{"id":"x","size":1,"sise":2}]}"#;
        assert!(err(doc).starts_with("items[0].sise: unknown field `sise`"));
        let doc = r#"{"name":"a","items":[{"id":"x","size":1,"tags":[1]}]}"#;
        assert!(err(doc).starts_with("items[0].tags[0]: invalid type"));
    }

    #[test]
    fn missing_fields_name_the_object_that_lacks_them() {
        let doc = r#"{"name":"a","items":[{"id":"x","size":1},{"id":"y"}]}"#;
        assert_eq!(err(doc), "items[1].size: missing");
        let doc = r#"{"items":[]}"#;
        assert_eq!(err(doc), "name: missing");
        // `id` is read before `size`: removing it must not be mistaken for the culprit.
        let doc = r#"{"name":"a","items":[{"size":1},{"id":"y","size":2}]}"#;
        assert_eq!(err(doc), "items[0].id: missing");
    }

    #[test]
    fn not_json_is_a_json_error() {
        assert!(matches!(decode::<Outer>("{"), Err(Error::Json { .. })));
        assert_eq!(
            err("3"),
            "input: invalid type: integer `3`, expected struct Outer"
        );
    }
}
