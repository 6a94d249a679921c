//! Parsers and option groups shared by the commands.

use clap::Args;

use densenas::model::ops::{Op, Stem};
use densenas::search::SearchConfig;

/// A count from a signed flag (numbers are read signed so that `--width -5` reaches the
/// engine instead of being taken for an unknown flag): a negative value is refused
/// with the engine's range for `field`, the key of a search's configuration that `set`
/// puts the count in (`width: -5 is out of range: at least 1`).
pub fn count(field: &str, value: i64, set: fn(&mut SearchConfig, usize)) -> densenas::Result<usize> {
    SearchConfig::default().set_count(field, value, set)?;
    Ok(value as usize)
}

/// A count from a signed flag that no search configuration holds; `check` is the
/// engine's (or the command's) validation of a candidate count.
pub fn count_with(field: &str, value: i64, check: impl Fn(usize) -> densenas::Result<()>) -> densenas::Result<usize> {
    densenas::search::config::signed_count(field, value, check)
}

/// A seed from a signed flag (read as a wide number, so that the whole `u64` range
/// passes and a negative seed is refused naming `field`).
pub fn seed(field: &str, value: i128) -> densenas::Result<u64> {
    u64::try_from(value)
        .map_err(|_| densenas::Error::config(field, format!("{value} is out of range: allowed 0..={}", u64::MAX)))
}

/// Parses a value of a JSON string enum (`relu`, `layernorm`, ...).
pub fn parse_json_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| e.to_string())
}

/// Parses one op of `--ops dense,conv3x3,...`.
pub fn parse_op(s: &str) -> Result<Op, String> {
    s.trim().parse::<Op>().map_err(|e| e.to_string())
}

/// Parses a shape `C,H,W` (or `CxHxW`).
pub fn parse_shape(s: &str) -> Result<[usize; 3], String> {
    let parts: Vec<&str> = s.split([',', 'x']).map(str::trim).collect();
    let numbers: Vec<usize> = parts.iter().filter_map(|p| p.parse().ok()).collect();
    match numbers[..] {
        [c, h, w] if parts.len() == 3 => Ok([c, h, w]),
        _ => Err(format!("{s:?} is not a shape: write C,H,W, for example 16,7,7")),
    }
}

/// The map options of a typed space (ops on edges, filters and pooling).
#[derive(Args, Clone, Debug, Default)]
pub struct MapArgs {
    /// The vertices' maps C,H,W (C*H*W = width), needed by every op but dense and
    /// identity.
    #[arg(long, value_parser = parse_shape)]
    pub shape: Option<[usize; 3]>,
    /// The input's shape C,H,W [default: what the data's loader knows].
    #[arg(long, value_parser = parse_shape)]
    pub input_shape: Option<[usize; 3]>,
    /// How sources receive the input: dense or conv [default: dense].
    #[arg(long, value_parser = parse_json_enum::<Stem>)]
    pub stem: Option<Stem>,
}
