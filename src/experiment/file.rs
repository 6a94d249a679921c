//! The experiment file (docs/experiments.md): one factorial group, or a study of
//! several (`{"name": ..., "groups": [...]}`), so that a study need not cross
//! everything with everything. Dataset paths are relative to the file.
//!
//! A group:
//!
//! ```json
//! {"name": "strategies",
//!  "datasets": ["digits", {"data": "idx:../data/mnist", "train_subsample": 10000}],
//!  "spaces": [{"layers": 4, "width": 128, "blocks": 8}],
//!  "strategies": ["darts", "gdas", "drnas", "random"],
//!  "seeds": [0, 1, 2],
//!  "search": {"phases": 5, "epochs": 2},
//!  "retrain_epochs": 10,
//!  "standalone": {"random_dags": 24, "last_blocks": 4},
//!  "baselines": ["chain", "chain_matched", "full"]}
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::search::random_standalone::RandomStandaloneBudget;
use crate::search::{SearchConfig, SpaceOptions};
use crate::search::strategy::StrategyKind;

/// Most DAGs `"random_dags": "all"` trains.
pub const ALL_DAGS_LIMIT: usize = 4096;

/// A dataset of a group: a spec, with an optional subsample of the training file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetEntry {
    /// The `--data` spec (paths resolved against the experiment file's folder).
    pub data: String,
    /// Train on a fixed stratified subset of this many samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_subsample: Option<usize>,
}

/// How many random DAGs a space's standalone trainings cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RandomDags {
    /// This many, drawn uniformly from the space with a seed fixed per space.
    Count(usize),
    /// Every DAG of the space (refused above [`ALL_DAGS_LIMIT`]).
    All,
}

impl Serialize for RandomDags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            RandomDags::Count(n) => s.serialize_u64(*n as u64),
            RandomDags::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for RandomDags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "all" => Ok(RandomDags::All),
            serde_json::Value::Number(n) if n.as_u64().is_some() => Ok(RandomDags::Count(n.as_u64().unwrap() as usize)),
            other => Err(serde::de::Error::custom(format!("random_dags must be a count or \"all\", not {other}"))),
        }
    }
}

impl Default for RandomDags {
    fn default() -> Self {
        RandomDags::Count(0)
    }
}

/// The standalone trainings of a group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Standalone {
    /// Random DAGs per space (the same DAGs on every dataset), or `"all"`; a count of at
    /// least the space's size trains all of its DAGs.
    pub random_dags: RandomDags,
    /// The last phase's blocks with the largest `alpha` trained alone, per search.
    pub last_blocks: usize,
    /// Also compute the training-free proxies of the random DAGs, per seed, at the
    /// weights their standalone trainings start from (ReLU dense spaces only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub proxies: bool,
}

/// A baseline trained beside the searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// The plain MLP of the space's depth and width.
    Chain,
    /// The chain whose width gives the parameter count closest to each search's best.
    ChainMatched,
    /// The DAG with every allowed edge.
    Full,
    /// The plain CNN of a typed space: every chain edge `conv3x3`, `conv` stem
    /// (trained for the group's spaces that have `shape`).
    Cnn,
}

/// One factorial group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// A name for reports.
    #[serde(default)]
    pub name: Option<String>,
    /// The datasets.
    pub datasets: Vec<DatasetEntry>,
    /// The spaces (`blocks` is the supernet's `k`).
    pub spaces: Vec<SpaceOptions>,
    /// The strategies searched (may be empty: a group of standalone trainings).
    #[serde(default)]
    pub strategies: Vec<StrategyKind>,
    /// The seeds: every search and every standalone training runs once per seed.
    pub seeds: Vec<u64>,
    /// Search options (keys of `config.json` but `data`, `train_subsample`, `space`).
    #[serde(default = "empty_object")]
    pub search: serde_json::Value,
    /// Epochs of retraining and of every standalone training.
    #[serde(default)]
    pub retrain_epochs: Option<usize>,
    /// Standalone trainings.
    #[serde(default)]
    pub standalone: Standalone,
    /// Baselines.
    #[serde(default)]
    pub baselines: Vec<Baseline>,
    /// Random search without weight sharing as an arm beside the strategies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_standalone: Option<RandomStandaloneArm>,
}

/// `random_standalone` of a group: how many random DAGs and how many epochs each
/// trains on the weight split; by default as many epochs as one search spends
/// (`search.phases` DAGs of `search.epochs` epochs), the best then retrained with the
/// group's retraining budget, as a search's best is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomStandaloneArm {
    /// DAGs drawn (default `search.phases`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dags: Option<usize>,
    /// Epochs of each (default `search.epochs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
}

impl RandomStandaloneArm {
    /// The budget over the group's search configuration.
    pub fn budget(&self, config: &SearchConfig) -> RandomStandaloneBudget {
        let default = RandomStandaloneBudget::matching(config);
        RandomStandaloneBudget { dags: self.dags.unwrap_or(default.dags), epochs: self.epochs.unwrap_or(default.epochs) }
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// An experiment: a name, its groups and how its report judges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// The experiment's name.
    pub name: String,
    /// Its groups.
    pub groups: Vec<Group>,
    /// The report's margin and families (`"report"` at the top of the file).
    #[serde(default)]
    pub report: ReportOptions,
}

/// The names RQ2 compares a found network against.
pub const RQ2_ARMS: [&str; 5] = ["chain", "chain_matched", "random_mean", "full", "random_standalone"];

/// How the report judges a comparison (docs/reliability.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportOptions {
    /// The equivalence margin of TOST, in percentage points.
    pub margin_points: f64,
    /// The primary comparisons per question (corrected together; the rest exploratory).
    pub primary: Primary,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { margin_points: 0.3, primary: Primary::default() }
    }
}

/// The primary comparisons per question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Primary {
    /// RQ2: what a found network is compared against, per dataset (names of
    /// [`RQ2_ARMS`]).
    pub rq2: Vec<String>,
}

impl Default for Primary {
    fn default() -> Self {
        Primary { rq2: vec!["chain_matched".into(), "random_standalone".into()] }
    }
}

impl ReportOptions {
    /// Checks the margin and the names.
    pub fn check(&self) -> Result<()> {
        if !(self.margin_points.is_finite() && self.margin_points > 0.0) {
            return Err(Error::config("report.margin_points", format!("must be a positive number of percentage points, not {}", self.margin_points)));
        }
        for (i, name) in self.primary.rq2.iter().enumerate() {
            if !RQ2_ARMS.contains(&name.as_str()) {
                return Err(Error::config(format!("report.primary.rq2[{i}]"), format!("unknown comparison {name:?} (one of {})", RQ2_ARMS.join(", "))));
            }
        }
        Ok(())
    }
}

fn parse_report_options(value: Option<serde_json::Value>) -> Result<ReportOptions> {
    let Some(value) = value else { return Ok(ReportOptions::default()) };
    let options: ReportOptions = crate::util::json::from_value(value, "report").map_err(|e| match e {
        Error::Config { field, message } => Error::config(format!("report.{field}"), message),
        other => other,
    })?;
    options.check()?;
    Ok(options)
}

impl Experiment {
    /// Reads an experiment file; dataset paths are resolved against its folder.
    pub fn read(path: &Path) -> Result<Experiment> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base = base.canonicalize().map_err(|e| Error::io(base, e))?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "experiment".into());
        Experiment::parse(&text, &base, &stem).map_err(|e| e.in_context(path.display()))
    }

    /// Parses an experiment document; relative dataset paths are resolved against
    /// `base`; `default_name` names a single group without a name.
    pub fn parse(text: &str, base: &Path, default_name: &str) -> Result<Experiment> {
        let mut value: serde_json::Value = crate::util::json::from_json_object(text, "experiment")?;
        let map = value.as_object_mut().expect("checked to be an object");
        let name = match map.get("name") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => return Err(Error::config("name", format!("must be a string, not {other}"))),
            None => default_name.to_string(),
        };
        let report = parse_report_options(map.remove("report"))?;
        let groups = if let Some(groups) = map.remove("groups") {
            if map.keys().any(|k| k != "name") {
                let extra: Vec<&String> = map.keys().filter(|k| *k != "name").collect();
                return Err(Error::config("experiment", format!("unknown keys beside \"groups\": {extra:?}")));
            }
            let serde_json::Value::Array(groups) = groups else {
                return Err(Error::config("groups", "must be a list of groups"));
            };
            groups
        } else {
            vec![value]
        };
        let groups = groups
            .into_iter()
            .enumerate()
            .map(|(i, g)| parse_group(g, base).map_err(|e| in_group(e, i)))
            .collect::<Result<Vec<_>>>()?;
        if groups.is_empty() {
            return Err(Error::config("groups", "an experiment needs at least one group"));
        }
        Ok(Experiment { name, groups, report })
    }
}

fn in_group(e: Error, i: usize) -> Error {
    match e {
        Error::Config { field, message } => Error::Config { field: format!("groups[{i}].{field}"), message },
        Error::ConfigParse(m) => Error::ConfigParse(format!("groups[{i}]: {m}")),
        other => other,
    }
}

fn parse_group(mut value: serde_json::Value, base: &Path) -> Result<Group> {
    // Datasets may be plain specs.
    if let Some(serde_json::Value::Array(items)) = value.get_mut("datasets") {
        for item in items.iter_mut() {
            if let serde_json::Value::String(spec) = item {
                *item = serde_json::json!({ "data": spec });
            }
        }
    }
    let mut group: Group = crate::util::json::from_value(value, "group")?;
    for d in &mut group.datasets {
        d.data = resolve_spec(&d.data, base);
    }
    check_group(&group)?;
    Ok(group)
}

/// Makes the paths of a `--data` spec absolute against `base` (`digits` and absolute
/// paths stay as they are).
pub fn resolve_spec(spec: &str, base: &Path) -> String {
    let Some((kind, rest)) = spec.split_once(':') else { return spec.to_string() };
    let resolve = |p: &str| {
        let path = Path::new(p);
        if path.is_absolute() {
            p.to_string()
        } else {
            base.join(path).display().to_string()
        }
    };
    let parts: Vec<String> = rest.split(',').map(resolve).collect();
    format!("{kind}:{}", parts.join(","))
}

fn check_group(g: &Group) -> Result<()> {
    let nonempty = |field: &str, n: usize| {
        if n == 0 {
            Err(Error::config(field, "must not be empty"))
        } else {
            Ok(())
        }
    };
    nonempty("datasets", g.datasets.len())?;
    nonempty("spaces", g.spaces.len())?;
    nonempty("seeds", g.seeds.len())?;
    let mut seeds = g.seeds.clone();
    seeds.sort_unstable();
    seeds.dedup();
    if seeds.len() != g.seeds.len() {
        return Err(Error::config("seeds", "are repeated"));
    }
    let Some(search) = g.search.as_object() else {
        return Err(Error::config("search", "must be an object of search options"));
    };
    for key in ["data", "train_subsample", "space"] {
        if search.contains_key(key) {
            return Err(Error::config(format!("search.{key}"), "is set by the group (datasets, spaces), not here"));
        }
    }
    // The search options must make a valid configuration.
    let config = base_config(g)?;
    if let Some(arm) = &g.random_standalone {
        arm.budget(&config).validate("random_standalone")?;
    }
    if g.strategies.is_empty() && g.standalone.last_blocks > 0 {
        return Err(Error::config("standalone.last_blocks", "needs strategies to search"));
    }
    if g.standalone.proxies {
        check_proxies(g)?;
    }
    if g.strategies.is_empty() && g.baselines.contains(&Baseline::ChainMatched) {
        return Err(Error::config("baselines", "chain_matched needs strategies to search"));
    }
    Ok(())
}

/// Refuses `standalone.proxies` where it cannot be computed, with the reason.
fn check_proxies(g: &Group) -> Result<()> {
    if g.standalone.random_dags == RandomDags::Count(0) {
        return Err(Error::config("standalone.proxies", "needs standalone.random_dags (the DAGs whose proxies are computed)"));
    }
    for (i, s) in g.spaces.iter().enumerate() {
        if s.activation != crate::model::space::Activation::Relu {
            return Err(Error::config(
                format!("spaces[{i}].activation"),
                "standalone.proxies needs ReLU spaces: the training-free proxies read the units' on/off codes",
            ));
        }
        if !crate::model::space::is_dense_only(&s.ops) || s.stem != crate::model::ops::Stem::Dense {
            return Err(Error::config(
                format!("spaces[{i}].ops"),
                "standalone.proxies is computed for dense spaces only (no ops on edges, a dense stem)",
            ));
        }
    }
    Ok(())
}

/// The group's search options over the defaults (data, space, strategy and seed are
/// set per unit).
pub fn base_config(g: &Group) -> Result<SearchConfig> {
    let mut value = serde_json::to_value(SearchConfig::default())?;
    merge(&mut value, &g.search);
    if let Some(epochs) = g.retrain_epochs {
        value["retrain"]["epochs"] = serde_json::json!(epochs);
    }
    // A wrong value is named by its path in the group (`search.retrain.epochs`).
    let config: SearchConfig = crate::util::json::from_value(value, "search").map_err(|e| match e {
        Error::Config { field, message } => Error::config(format!("search.{field}"), message),
        other => other,
    })?;
    config.validate()?;
    Ok(config)
}

/// Merges `patch` into `target`, object by object.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}
