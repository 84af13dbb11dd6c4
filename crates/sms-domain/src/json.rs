//! Parsing JSON request bodies with faults a client can act on: the parse error, or the field
//! whose value has the wrong type.

use serde::de::DeserializeOwned;

/// A body that is not the JSON an endpoint takes (checked after size and content type).
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
    require_object(bytes)?;
    if may_hold_nul(bytes) {
        return from_value(parse_value(bytes)?);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(classify)?;
    de.end().map_err(|e| BodyError::NotJson(e.to_string()))?;
    Ok(value)
}

/// Parses a JSON object body into a generic value, for a caller that needs the body both as a
/// value (to hash it) and as `T` ([`from_value`]): parsed once.
pub fn parse_value(bytes: &[u8]) -> Result<serde_json::Value, BodyError> {
    require_object(bytes)?;
    serde_json::from_slice(bytes).map_err(|e| BodyError::NotJson(e.to_string()))
}

/// `T` from a value [`parse_value`] answered, with the same faults as [`parse_object`]. A field
/// of `T` whose string holds the NUL character (U+0000) is refused as a value of the wrong type:
/// no store keeps it (PostgreSQL cannot), and no client means it. Unknown keys stay ignored,
/// whatever they hold.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, BodyError> {
    let with_nul = nul_paths(&value, String::new());
    let mut ignored = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| ignored.push(render(&path));
    let parsed: T =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(value, &mut note)).map_err(classify)?;
    let known = with_nul.into_iter().find(|p| !ignored.iter().any(|q| covers(q, p)));
    match known {
        Some(field) => Err(BodyError::WrongType { field, detail: NUL_DETAIL.into() }),
        None => Ok(parsed),
    }
}

/// Why a string with the NUL character is refused.
const NUL_DETAIL: &str = "invalid type: string containing the NUL character, expected a string without it";

/// Whether the body may hold a NUL character: JSON can only carry it escaped (`\u0000`), so a
/// body without that spelling has none and takes the direct path.
fn may_hold_nul(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w[0] == b'\\' && w[1] == b'u' && w[2..].iter().all(|b| *b == b'0'))
}

/// The paths (`message`, `a.b`, `tags[0]`) of the strings holding a NUL character.
fn nul_paths(value: &serde_json::Value, path: String) -> Vec<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => vec![path],
        Value::Array(items) => {
            items.iter().enumerate().flat_map(|(i, v)| nul_paths(v, format!("{path}[{i}]"))).collect()
        }
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| nul_paths(v, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }))
            .collect(),
        _ => Vec::new(),
    }
}

/// A path of serde_ignored's in the form of [`nul_paths`].
fn render(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render(parent)),
        Path::Map { parent, key } => match render(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => render(parent),
    }
}

/// Whether `inner` lies within the ignored value at `outer`.
fn covers(outer: &str, inner: &str) -> bool {
    inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| outer.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// A form field (a provider callback's) with the NUL character, refused like a JSON one.
pub fn refuse_nul_in_form(params: &[(String, String)]) -> Result<(), BodyError> {
    match params.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        Some((name, _)) => Err(BodyError::WrongType { field: name.replace('\0', ""), detail: NUL_DETAIL.into() }),
        None => Ok(()),
    }
}

/// serde would take an array as a struct in sequence form: only an object is a body.
fn require_object(bytes: &[u8]) -> Result<(), BodyError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(());
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Ok(_) => Err(BodyError::NotObject),
        Err(e) => Err(BodyError::NotJson(e.to_string())),
    }
}

fn classify(err: serde_path_to_error::Error<serde_json::Error>) -> BodyError {
    let field = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => BodyError::WrongType { field, detail: without_position(&inner) },
        _ => BodyError::NotJson(inner.to_string()),
    }
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

/// An optional integer that accepts any JSON number without a fractional part (`1` and `1.0`),
/// as JSON Schema's `integer` does. Use with `#[serde(default, deserialize_with = "integer")]`.
pub fn integer<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    let number: Option<serde_json::Number> = serde::Deserialize::deserialize(de)?;
    number.map(|n| whole::<T, D::Error>(&n)).transpose()
}

/// [`integer`] for `PATCH` bodies, telling `null` (`Some(None)`) from absent (`None`).
pub fn double_option_integer<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    integer(de).map(Some)
}

fn whole<T: TryFrom<i64>, E: serde::de::Error>(n: &serde_json::Number) -> Result<T, E> {
    const LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53: every whole f64 below it is exact.
    let value = n.as_i64().or_else(|| {
        n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < LIMIT).map(|f| {
            #[allow(clippy::cast_possible_truncation)]
            let whole = f as i64;
            whole
        })
    });
    value
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| E::custom(format!("invalid value: {n}, expected an integer in range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct NulBody {
        message: Option<String>,
        tags: Option<Vec<String>>,
    }

    #[test]
    fn a_nul_character_is_refused_naming_the_field() {
        let err = parse_object::<NulBody>(br#"{"message": "a\u0000b"}"#).err();
        assert_eq!(err, Some(BodyError::WrongType { field: "message".into(), detail: NUL_DETAIL.into() }));
        let err = parse_object::<NulBody>(br#"{"tags": ["ok", "\u0000"]}"#).err();
        assert_eq!(err, Some(BodyError::WrongType { field: "tags[1]".into(), detail: NUL_DETAIL.into() }));
        // An escaped backslash before `u0000` is text, not a NUL.
        let escaped = parse_object::<NulBody>(br#"{"message": "\\u0000"}"#);
        assert_eq!(escaped, Ok(NulBody { message: Some("\\u0000".into()), tags: None }));
        assert!(parse_object::<NulBody>(br#"{"other": {"deep": ["\u0000"]}}"#).is_ok(), "unknown keys stay ignored");
        let err = parse_object::<NulBody>(br#"{"other": "\u0000", "message": "x\u0000"}"#).err();
        assert_eq!(err, Some(BodyError::WrongType { field: "message".into(), detail: NUL_DETAIL.into() }));
        let form = [("From".to_owned(), "+1".to_owned()), ("Body".to_owned(), "x\0".to_owned())];
        assert_eq!(
            refuse_nul_in_form(&form).err().map(|e| e.to_string()),
            Some(format!("invalid value for Body: {NUL_DETAIL}"))
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "integer")]
        n: Option<i32>,
        #[serde(default, deserialize_with = "double_option_integer")]
        m: Option<Option<i64>>,
    }

    #[test]
    fn integers_may_be_written_as_whole_floats() {
        let parsed: Result<Body, _> = parse_object(br#"{"n": 1.0, "m": null}"#);
        assert!(matches!(parsed, Ok(Body { n: Some(1), m: Some(None) })));
        let parsed: Result<Body, _> = parse_object(br#"{"n": 7}"#);
        assert!(matches!(parsed, Ok(Body { n: Some(7), m: None })));
        // Large whole floats are read exactly (serde_json's `float_roundtrip`; without it this
        // one was read as 2251799813685247.25 and refused).
        let parsed: Result<Body, _> = parse_object(br#"{"m": 2251799813685247.0}"#);
        assert!(matches!(parsed, Ok(Body { n: None, m: Some(Some(2_251_799_813_685_247)) })), "{parsed:?}");
        for bad in [r#"{"n": 1.5}"#, r#"{"n": "1"}"#, r#"{"n": 99999999999}"#, r#"{"n": 1e300}"#] {
            match parse_object::<Body>(bad.as_bytes()) {
                Err(BodyError::WrongType { field, .. }) => assert_eq!(field, "n", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
