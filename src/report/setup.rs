//! The "Setup" section of `report.md` (never in `report.json`, which stays equal across
//! machines and reruns): the machine and libraries the report was written with, and
//! the study's unit time and wall time read from its finished units.

use std::collections::BTreeSet;

use crate::experiment::unit::UnitResult;
use crate::experiment::ExperimentDir;

/// What the report was written with.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// The CPU model (`/proc/cpuinfo`).
    pub cpu_model: Option<String>,
    /// Physical cores (distinct core ids per package).
    pub cores: Option<usize>,
    /// Hardware threads available to the process.
    pub threads: Option<usize>,
    /// The libtorch in use (read beside the loaded library).
    pub libtorch: Option<String>,
    /// ONNX Runtime's version, or why it is unavailable.
    pub onnx_runtime: String,
    /// The densenas version.
    pub densenas: String,
    /// Seconds summed over the finished units.
    pub unit_seconds: f64,
    /// Seconds from the first finished unit's start to the last one's end (from the
    /// result files' times, so pauses between pieces of a study count).
    pub wall_seconds: Option<f64>,
}

/// The setup of this process and the finished units `ids` of `dir`.
pub fn collect(dir: &ExperimentDir, ids: &[String]) -> Setup {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let (mut unit_seconds, mut start, mut end) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
    for id in ids {
        let Some(result) = dir.result(id) else { continue };
        let seconds = unit_seconds_of(&result);
        unit_seconds += seconds;
        let path = dir.unit_dir(id).join("result.json");
        if let Some(t) = std::fs::metadata(&path).and_then(|m| m.modified()).ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
            let t = t.as_secs_f64();
            end = end.max(t);
            start = start.min(t - seconds);
        }
    }
    Setup {
        cpu_model: cpuinfo_field(&cpuinfo, "model name"),
        cores: physical_cores(&cpuinfo),
        threads: std::thread::available_parallelism().ok().map(|n| n.get()),
        libtorch: libtorch_version(),
        onnx_runtime: onnx_runtime_version(),
        densenas: crate::VERSION.to_string(),
        unit_seconds,
        wall_seconds: (end >= start).then(|| end - start),
    }
}

fn unit_seconds_of(r: &UnitResult) -> f64 {
    match r {
        UnitResult::Search(s) => s.seconds,
        UnitResult::Standalone(s) => s.seconds,
        UnitResult::RandomStandalone(s) => s.seconds,
        UnitResult::Proxies(s) => s.seconds,
    }
}

fn cpuinfo_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Distinct (physical id, core id) pairs of `/proc/cpuinfo`.
fn physical_cores(text: &str) -> Option<usize> {
    let mut cores = BTreeSet::new();
    for block in text.split("\n\n") {
        let (Some(p), Some(c)) = (cpuinfo_field(block, "physical id"), cpuinfo_field(block, "core id")) else { continue };
        cores.insert((p, c));
    }
    (!cores.is_empty()).then_some(cores.len())
}

/// The version of the libtorch this process has loaded: `version.py` or
/// `build-version` beside the folder of `libtorch_cpu.so` (as a PyTorch wheel or a
/// libtorch archive lays them out).
fn libtorch_version() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let lib = maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find(|p| p.contains("libtorch_cpu"))?;
    let root = std::path::Path::new(lib).parent()?.parent()?;
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        return text.lines().find_map(|l| l.strip_prefix("__version__ = ").map(|v| v.trim_matches(['\'', '"']).to_string()));
    }
    std::fs::read_to_string(root.join("build-version")).ok().map(|v| v.trim().to_string())
}

/// ONNX Runtime's version (from the loaded library's file name, `libonnxruntime.so.1.N.M`
/// once links are resolved), or why it is unavailable.
fn onnx_runtime_version() -> String {
    if let Err(e) = crate::io::ort_runtime::check_available() {
        return format!("not available ({e})");
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let lib = maps.lines().filter_map(|l| l.split_whitespace().nth(5)).find(|p| p.contains("libonnxruntime"));
    let name = lib.and_then(|p| std::fs::canonicalize(p).ok()).and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    match name.as_deref().and_then(|n| n.split_once(".so.")).map(|(_, v)| v.to_string()) {
        Some(v) => v,
        None => format!("(version unknown: {})", ort::info()),
    }
}
