//! Parsing JSON request bodies with faults a client can act on: the parse error, or the field
//! whose value has the wrong type.

use serde::de::DeserializeOwned;

/// A body that is not the JSON an endpoint takes (SPEC section 3, step 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("request body is not valid JSON: {0}")]
    NotJson(String),
    #[error("request body must be a JSON object")]
    NotObject,
    #[error("invalid value for {field}: {detail}")]
    WrongType { field: String, detail: String },
}

/// Parses a JSON object into `T`. Unknown keys are left to `T` (ignored unless it denies them).
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    // serde would take an array as a struct in sequence form: only an object is a body.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(BodyError::NotObject),
            Err(e) => Err(BodyError::NotJson(e.to_string())),
        };
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => BodyError::WrongType { field, detail: without_position(&inner) },
            _ => BodyError::NotJson(inner.to_string()),
        }
    })?;
    de.end().map_err(|e| BodyError::NotJson(e.to_string()))?;
    Ok(value)
}

/// serde_json's message without its " at line L column C" suffix, which means nothing to a
/// client that did not format the body by hand.
fn without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// For `PATCH` bodies: tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
/// Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}
