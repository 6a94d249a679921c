//! Reading configuration documents: JSON objects only (serde would also take a
//! positional array for a struct, which no user means).

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Parses `text` as a JSON object into `T`; errors say `what` was being read.
pub fn from_json_object<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::ConfigParse(format!("{what}: {e}")))?;
    if !value.is_object() {
        return Err(Error::ConfigParse(format!("{what}: expected a JSON object")));
    }
    serde_json::from_value(value).map_err(|e| Error::ConfigParse(format!("{what}: {e}")))
}
