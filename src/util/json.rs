//! Reading configuration documents: JSON objects only (serde would also take a
//! positional array for a struct, which no user means), with errors that name the key
//! path of a wrong value (`retrain.epochs: invalid type: string "two", expected usize`).

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `text` as a JSON object into `T`; errors say `what` was being read, or name
/// the key path of the offending value.
pub fn from_json_object<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::ConfigParse(format!("{what}: {e}")))?;
    if !value.is_object() {
        return Err(Error::ConfigParse(format!("{what}: expected a JSON object")));
    }
    from_value(value, what)
}

/// Deserialises `value` into `T`. A wrong value below the top level is a
/// configuration error whose field is its key path (`space.width`,
/// `groups[0].seeds[1]`); an unknown key is named by the object holding it (`space:
/// unknown field ...`). One at the top level (an unknown or missing key there) says
/// `what` was being read.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut segments: Vec<&serde_path_to_error::Segment> = e.path().iter().collect();
        let message = e.inner().to_string();
        if message.starts_with("unknown field") {
            // The path ends with the unknown key itself, which the message names.
            segments.pop();
        }
        if segments.is_empty() {
            return Error::ConfigParse(format!("{what}: {message}"));
        }
        let mut path = String::new();
        for segment in segments {
            if !path.is_empty() && !matches!(segment, serde_path_to_error::Segment::Seq { .. }) {
                path.push('.');
            }
            path.push_str(&segment.to_string());
        }
        Error::config(path, message)
    })
}
