//! DARTS+, beta regularisation and the Hessian monitor through the command line on
//! the digits (tiny spaces, a few epochs): the early stop fires in a dense and a typed
//! search and is recorded (phase, step, rule) in history.jsonl and summary.json; a
//! DARTS+ search whose rules never fire is DARTS bit for bit; the ranking rule does not
//! fire while the ranking keeps changing; the monitor leaves a search bit-identical and
//! writes its trace; bad combinations are refused naming the key.

use std::path::{Path, PathBuf};
use std::process::Command;

use densenas::model::dag::Dag;
use densenas::model::ops::Op;
use densenas::search::strategy::{alpha_order, strict_leader, DartsPlusConfig, StopMonitor, StopRule};
use serde_json::{json, Value};

mod common;

fn densenas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_densenas"));
    c.env("OMP_NUM_THREADS", "1");
    c
}

const DENSE: &str = "--layers 3 --width 16 --blocks 4 --phases 2 --epochs 2 --retrain-epochs 0 --quiet";
const TYPED: &str = "--layers 4 --width 32 --blocks 4 --phases 2 --epochs 2 --retrain-epochs 0 --quiet \
                     --shape 2,4,4 --stem conv --ops dense,conv3x3,identity";

/// Runs a search with `args` (and `config`'s keys when given) into `dir`; panics with
/// its stderr when it fails.
fn search(dir: &Path, args: &str, config: Option<Value>) -> Value {
    let mut cmd = densenas();
    cmd.arg("search").args(args.split_whitespace()).arg("--out").arg(dir).arg("--overwrite");
    if let Some(config) = config {
        let path = dir.with_extension("json");
        std::fs::write(&path, config.to_string()).unwrap();
        cmd.arg("--config").arg(path);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args}: {}", String::from_utf8_lossy(&out.stderr));
    read_json(&dir.join("summary.json"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn history(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("history.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn darts_plus(options: Value) -> Value {
    json!({"session": {"strategy": "darts-plus", "strategy_options": {"darts_plus": options}}})
}

/// Every early stop of the summary is in the phase's summary and on each of the
/// phase's history records, and only there; returns the stops.
fn check_recorded(dir: &Path, summary: &Value) -> Vec<Value> {
    let stops = summary["early_stops"].as_array().cloned().unwrap_or_default();
    let hist = history(dir);
    for phase in summary["phases"].as_array().unwrap() {
        let p = phase["phase"].as_u64().unwrap();
        let stop = stops.iter().find(|s| s["phase"] == p).cloned().unwrap_or(Value::Null);
        assert_eq!(phase["early_stop"], stop, "phase {p} summary");
        for r in hist.iter().filter(|r| r["phase"] == p) {
            assert_eq!(r["early_stop"], stop, "phase {p} history record {r}");
        }
    }
    stops
}

#[test]
fn darts_plus_stops_dense_and_typed_searches_early_and_records_it() {
    let root = common::temp_dir("darts-plus-stop");
    // Dense: the ranking rule (patience 3 checks, a check every other step).
    let dir = root.join("dense");
    let s = search(&dir, &format!("{DENSE} --seed 1"), Some(darts_plus(json!({"patience": 3}))));
    assert_eq!(s["strategy"], "darts-plus");
    let stops = check_recorded(&dir, &s);
    assert!(!stops.is_empty(), "no early stop in {s}");
    let phase_steps = read_json(&dir.join("alpha.json")).as_array().unwrap().iter().map(|p| p.as_array().unwrap().len()).collect::<Vec<_>>();
    for stop in &stops {
        assert_eq!(stop["rule"], "ranking");
        // The phase ended at the recorded step: its alpha trace has step + 1 entries.
        let (p, step) = (stop["phase"].as_u64().unwrap() as usize, stop["step"].as_u64().unwrap() as usize);
        assert_eq!(phase_steps[p], step + 1, "phase {p}");
        // Patience 3 at one check every 2 steps: at least 4 checks, the first at step 1.
        assert!(step >= 7, "{stop}");
    }
    // Typed: the skip rule alone (one identity edge in the leading block suffices).
    let dir = root.join("typed");
    let s = search(&dir, &format!("{TYPED} --seed 2"), Some(darts_plus(json!({"ranking": false, "max_identity": 1}))));
    let stops = check_recorded(&dir, &s);
    assert!(!stops.is_empty(), "no early stop in {s}");
    let hist = history(&dir);
    for stop in &stops {
        assert_eq!(stop["rule"], "skip");
        // The leading block when the phase stopped (the one largest alpha, recorded at
        // the phase's end, which follows the stop) has an identity edge, and alpha had
        // moved: the first check (step 1) comes after two architecture steps.
        let leaders: Vec<_> = hist.iter().filter(|r| r["phase"] == stop["phase"] && r["rank_by_alpha"] == 1).collect();
        assert_eq!(leaders.len(), 1, "{leaders:?}");
        assert!(leaders[0]["dag"]["ops"].as_array().unwrap().contains(&json!("identity")), "{}", leaders[0]);
    }
}

#[test]
fn darts_plus_whose_rules_never_fire_is_darts_bit_for_bit() {
    let root = common::temp_dir("darts-plus-never");
    let args = format!("{DENSE} --seed 4");
    let a = search(&root.join("darts"), &args, Some(json!({"session": {"strategy": "darts"}})));
    let b = search(&root.join("plus"), &args, Some(darts_plus(json!({"patience": 1000000}))));
    assert!(b.get("early_stops").is_none(), "{b}");
    assert_eq!(a["best"], b["best"]);
    assert_eq!(history(&root.join("darts")), history(&root.join("plus")));
    assert_eq!(read_json(&root.join("darts/alpha.json")), read_json(&root.join("plus/alpha.json")));
}

#[test]
fn the_ranking_rule_fires_only_on_an_unchanged_ranking() {
    let chain = [Dag::chain(3), Dag::chain(3), Dag::chain(3)];
    let config = |patience, top_n| DartsPlusConfig { patience, top_n, ..DartsPlusConfig::default() };
    // A ranking that changes at every check never stops the phase.
    let mut m = StopMonitor::new(config(2, None));
    for i in 0..100 {
        let alpha = if i % 2 == 0 { [0.3, 0.2, 0.1] } else { [0.2, 0.3, 0.1] };
        assert_eq!(m.check(&alpha, &chain, false), None, "check {i}");
    }
    // An unchanged one stops it at the check after `patience` repeats.
    let mut m = StopMonitor::new(config(3, None));
    let fired: Vec<_> = (0..5).map(|i| m.check(&[0.1, 0.5 + i as f64, 0.3], &chain, false)).collect();
    assert_eq!(fired, [None, None, None, Some(StopRule::Ranking), Some(StopRule::Ranking)]);
    // Top 1: changes below the leader do not count.
    let mut m = StopMonitor::new(config(2, Some(1)));
    let fired: Vec<_> = [[0.9, 0.1, 0.2], [0.9, 0.2, 0.1], [0.9, 0.1, 0.2]].iter().map(|a| m.check(a, &chain, false)).collect();
    assert_eq!(fired, [None, None, Some(StopRule::Ranking)]);
    assert_eq!(alpha_order(&[0.1, 0.3, 0.3, -1.0]), [1, 2, 0, 3]);
    assert_eq!((strict_leader(&[0.1, 0.3, 0.3]), strict_leader(&[0.4, 0.3, 0.3]), strict_leader(&[0.0; 3])), (None, Some(0), None));
    // The skip rule needs the identity op in the space, a strictly leading block, and
    // max_identity identity edges in it.
    let skip = Dag::with_ops(3, vec![(0, 1), (1, 2)], vec![Op::Identity, Op::Identity]).unwrap();
    let one = Dag::with_ops(3, vec![(0, 1), (1, 2)], vec![Op::Identity, Op::Dense]).unwrap();
    let dags = [one.clone(), skip.clone(), one];
    let mut m = StopMonitor::new(DartsPlusConfig { ranking: false, ..DartsPlusConfig::default() });
    assert_eq!(m.check(&[0.5, 0.1, 0.0], &dags, true), None);
    assert_eq!(m.check(&[0.0, 0.5, 0.1], &dags, false), None);
    assert_eq!(m.check(&[0.0; 3], &dags, true), None);
    assert_eq!(m.check(&[0.0, 0.5, 0.1], &dags, true), Some(StopRule::Skip));
    // The Hessian rule: a rise to `hessian_rise` times the first positive eigenvalue.
    let mut m = StopMonitor::new(DartsPlusConfig { hessian_rise: Some(1.5), ..DartsPlusConfig::default() });
    let fired: Vec<_> = [-0.1, 0.2, 0.29, 0.31].iter().map(|&e| m.check_eigenvalue(e)).collect();
    assert_eq!(fired, [None, None, None, Some(StopRule::Hessian)]);
}

fn strip_hessian(mut records: Vec<Value>) -> Vec<Value> {
    for r in &mut records {
        assert!(r["hessian_eigenvalue"].as_f64().unwrap().is_finite(), "{r}");
        r.as_object_mut().unwrap().remove("hessian_eigenvalue");
    }
    records
}

#[test]
fn the_hessian_monitor_leaves_the_search_bit_identical_and_writes_its_trace() {
    let root = common::temp_dir("hessian-monitor");
    for (name, args) in [("dense", format!("{DENSE} --seed 5")), ("typed", format!("{TYPED} --seed 5"))] {
        let (off, on) = (root.join(format!("{name}-off")), root.join(format!("{name}-on")));
        let a = search(&off, &args, None);
        let b = search(&on, &format!("{args} --hessian-every 1"), None);
        assert!(a.get("hessian").is_none());
        assert_eq!(history(&off), strip_hessian(history(&on)), "{name}");
        assert_eq!(read_json(&off.join("alpha.json")), read_json(&on.join("alpha.json")), "{name}");
        assert_eq!(std::fs::read(off.join("best.onnx")).unwrap(), std::fs::read(on.join("best.onnx")).unwrap());
        // One measurement per epoch of every phase, at the end of the epoch.
        let trace = b["hessian"].as_array().unwrap();
        assert_eq!(trace.len(), 4, "{name}: {trace:?}");
        for (i, point) in trace.iter().enumerate() {
            assert_eq!((point["phase"].as_u64(), point["epoch"].as_u64()), (Some(i as u64 / 2), Some(i as u64 % 2)));
            assert!(point["eigenvalue"].as_f64().unwrap().is_finite());
        }
        // The phase's last measurement is in its summary.
        assert_eq!(b["phases"][1]["hessian_eigenvalue"], trace[3]["eigenvalue"]);
        let svg = std::fs::read_to_string(on.join("plots/hessian.svg")).unwrap();
        assert!(svg.contains("<polyline") && svg.contains("architecture Hessian"));
        assert!(!off.join("plots/hessian.svg").exists());
    }
}

#[test]
fn beta_regularisation_starts_at_zero_and_then_changes_alpha() {
    let root = common::temp_dir("beta-reg");
    let args = format!("{DENSE} --seed 6");
    search(&root.join("plain"), &args, None);
    search(&root.join("beta"), &format!("{args} --beta-reg 2"), None);
    let config = read_json(&root.join("beta/config.json"));
    assert_eq!(config["session"]["beta_reg"], 2.0);
    let (a, b) = (read_json(&root.join("plain/alpha.json")), read_json(&root.join("beta/alpha.json")));
    // lambda(0) = 0: the first architecture step of a phase is the unregularised one.
    assert_eq!(a[0][0], b[0][0]);
    let last = a[0].as_array().unwrap().len() - 1;
    assert_ne!(a[0][last], b[0][last]);
    // The regulariser pulls alpha towards equal values: a smaller spread at the end.
    let spread = |v: &Value| {
        let x: Vec<f64> = v.as_array().unwrap().iter().map(|a| a.as_f64().unwrap()).collect();
        x.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - x.iter().cloned().fold(f64::INFINITY, f64::min)
    };
    assert!(spread(&b[0][last]) < spread(&a[0][last]), "{} against {}", b[0][last], a[0][last]);
}

fn refused(args: &str, words: &[&str]) {
    let dir: PathBuf = common::temp_dir("refused").join("run");
    let out = densenas().arg("search").args(args.split_whitespace()).arg("--out").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args} was accepted");
    for w in words {
        assert!(stderr.contains(w), "{args}: {w:?} not in {stderr}");
    }
    assert!(!dir.join("summary.json").exists());
}

#[test]
fn beta_regularisation_and_the_monitor_are_refused_where_they_do_not_apply() {
    refused("--strategy drnas --beta-reg 1", &["beta_reg", "drnas", "Dirichlet"]);
    refused("--strategy gdas --beta-reg 1", &["beta_reg", "gdas", "sampling"]);
    refused("--strategy darts --beta-reg -1", &["beta_reg", "out of range"]);
    refused("--strategy random --hessian-every 1", &["hessian_every", "random"]);
    refused("--strategy proxyless --hessian-every 2", &["hessian_every", "proxyless"]);
    refused("--hessian-every 0", &["hessian_every", "at least 1"]);
    refused("--strategy darts-pluss", &["darts-plus"]);
    let config = common::temp_dir("refused-config").join("c.json");
    std::fs::write(&config, darts_plus(json!({"hessian_rise": 1.3})).to_string()).unwrap();
    refused(&format!("--config {}", config.display()), &["hessian_rise", "hessian_every"]);
    std::fs::write(&config, darts_plus(json!({"patience": 0})).to_string()).unwrap();
    refused(&format!("--config {}", config.display()), &["strategy_options.darts_plus.patience"]);
}

#[test]
fn the_strategies_bench_has_a_darts_plus_row() {
    let out = densenas()
        .args(["bench", "--suite", "strategies", "--strategies", "darts,darts-plus", "--blocks", "2"])
        .args(["--layers", "2", "--width", "8", "--steps", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r["strategy"].as_str().unwrap()).collect();
    assert_eq!(names, ["darts", "darts-plus"]);
    assert!(rows.iter().all(|r| r["samples_per_second"].as_f64().unwrap() > 0.0 && r["blocks"] == 2));
}

/// A search stopped after its second phase and resumed from the checkpoint ends as the
/// uninterrupted one: the early stops and the Hessian trace travel in the checkpoint.
#[test]
fn early_stops_and_the_hessian_trace_survive_a_resume() {
    use densenas::io::folder_search::{resume_in_folder, search_in_folder};
    use densenas::search::{Control, Event, SearchConfig};
    use std::sync::atomic::{AtomicBool, Ordering};

    let root = common::temp_dir("darts-plus-resume");
    let mut config: SearchConfig = serde_json::from_value(darts_plus(json!({"patience": 3}))).unwrap();
    config.space.layers = 3;
    config.space.width = 16;
    config.space.blocks = 4;
    config.phases = 3;
    config.epochs = 2;
    config.retrain.epochs = 0;
    config.threads = Some(1);
    config.hessian_every = Some(1);
    config.session.seed = 1;
    let stop = AtomicBool::new(false);
    let whole = search_in_folder(&root.join("whole"), &config, &mut Control { on_event: &mut |_| {}, stop: &stop }, false, false).unwrap();
    let stops = &whole.outcome.summary.early_stops;
    assert!(!stops.is_empty() && !whole.outcome.summary.hessian.is_empty(), "{:?}", whole.outcome.summary);

    let dir = root.join("stopped");
    let mut on_event = |e: Event<'_>| {
        if let Event::Phase(report) = e {
            if report.phase == 1 {
                stop.store(true, Ordering::SeqCst);
            }
        }
    };
    let first = search_in_folder(&dir, &config, &mut Control { on_event: &mut on_event, stop: &stop }, false, false).unwrap();
    assert!(first.outcome.summary.interrupted);
    stop.store(false, Ordering::SeqCst);
    let resumed = resume_in_folder(&dir, None, &mut Control { on_event: &mut |_| {}, stop: &stop }, false).unwrap();
    assert_eq!(resumed.outcome.summary.resumed.map(|r| r.from_phase), Some(2));
    let summary = |d: &Path| {
        let mut s = common::comparable(read_json(&d.join("summary.json")));
        s.as_object_mut().unwrap().remove("resumed");
        s
    };
    assert_eq!(summary(&dir), summary(&root.join("whole")));
    assert_eq!(history(&dir), history(&root.join("whole")));
    assert_eq!(read_json(&dir.join("alpha.json")), read_json(&root.join("whole/alpha.json")));
}
