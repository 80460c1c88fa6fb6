//! JSON objects only, where a struct is expected: serde's derived structs
//! also accept an array and take the fields by position, so `["a","b"]`
//! would pass for `{"title":"a","description":"b"}`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A value read only from a JSON object (a request body, typically).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object<T>(pub T);

impl<T> Object<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Object<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_object(Value::deserialize(deserializer)?, "body").map(Object)
    }
}

/// Reads `T` from `value` if it is an object; otherwise the error names
/// `field` (which serde's messages do for field errors: "field `x` …").
fn from_object<T: DeserializeOwned, E: serde::de::Error>(
    value: Value,
    field: &str,
) -> Result<T, E> {
    match value {
        Value::Object(_) => T::deserialize(value).map_err(E::custom),
        other => Err(E::custom(format!(
            "invalid type: field `{field}` must be an object, not {}",
            kind(&other)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `deserialize_with` for a struct field that must be an object; the error
/// names the field.
pub fn object_field<'de, D, T>(deserializer: D, field: &str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    from_object(Value::deserialize(deserializer)?, field)
}

/// `deserialize_with` for an optional struct field that must be an object
/// or `null`; the error names the field.
pub fn optional_object_field<'de, D, T>(deserializer: D, field: &str) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => from_object(value, field).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        a: String,
        #[serde(default)]
        b: Option<String>,
    }

    #[test]
    fn arrays_are_refused_where_objects_are_expected() {
        let ok: Object<Pair> = serde_json::from_str(r#"{"a":"x"}"#).unwrap();
        assert_eq!(ok.0.a, "x");
        // The derived struct alone takes fields by position.
        assert!(serde_json::from_str::<Pair>(r#"["x","y"]"#).is_ok());
        for body in [r#"["x","y"]"#, "1", "\"x\"", "null", "true"] {
            let err = serde_json::from_str::<Object<Pair>>(body).unwrap_err();
            assert!(
                err.to_string().contains("`body` must be an object"),
                "{err}"
            );
            assert!(!err.is_syntax());
        }
        let err = serde_json::from_str::<Object<Pair>>(r#"{"a":"x","c":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `c`"), "{err}");
    }
}
