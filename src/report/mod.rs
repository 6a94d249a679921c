//! Reports of experiments (docs/experiments.md): `report.json`, `report.md` (headings
//! "RQ1" to "RQ5", and "RQ6" when a group searches a typed space) and `plots/*.svg`,
//! computed from an experiment folder's finished units. Statistics in [`stats`], tables
//! in [`build`], text in [`markdown`], plots in [`plots`], the typed-space question in
//! [`rq6`], RQ4's training-free predictors in [`proxies`], the arm of random search without
//! weight sharing in [`random_search`], the resolution of a DAG ranking in [`resolution`], the words of a verdict in
//! [`verdict`], the comparisons of strategies and of spaces in [`contrasts`], the
//! generated answers in [`answers`] and the machine's description in [`setup`].

pub(crate) mod answers;
pub(crate) mod build;
pub(crate) mod contrasts;
pub(crate) mod markdown;
pub(crate) mod plots;
pub(crate) mod proxies;
pub(crate) mod random_search;
pub mod resolution;
pub(crate) mod rq6;
pub(crate) mod setup;
pub mod stats;
pub mod verdict;

use std::path::Path;

pub use build::{judge, Comparison, Report, SpaceLabel};

use crate::error::{Error, Result};
use crate::experiment::{Experiment, ExperimentDir};
use crate::util::atomic::write_atomic;

/// Writes `report.json`, `report.md` and `plots/` of the experiment folder `dir`
/// (from the experiment recorded there and its finished units) and returns the report.
pub fn write(dir: &Path) -> Result<Report> {
    let folder = ExperimentDir::open(dir)?;
    let path = dir.join("experiment.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let experiment: Experiment = serde_json::from_str(&text).map_err(|e| Error::data(&path, format!("not an experiment ({e})")))?;
    let report = build::build(&experiment, &folder)?;
    let finished: Vec<String> = crate::experiment::plan::known_units_of(&experiment, &folder)?.into_iter().map(|u| u.id).collect();
    let setup = setup::collect(&folder, &finished);
    write_atomic(&dir.join("report.json"), (serde_json::to_string_pretty(&report)? + "\n").as_bytes())?;
    write_atomic(&dir.join("report.md"), markdown::render_with_setup(&report, Some(&setup)).as_bytes())?;
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    for (name, svg) in plots::all(&report) {
        write_atomic(&plots.join(name), svg.as_bytes())?;
    }
    Ok(report)
}
