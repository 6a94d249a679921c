//! The second study's additions to experiments, on digits at toy sizes: the proxies
//! units (at exactly the initialisation and the first samples its standalone training
//! uses), random search without weight sharing (its best is its candidates' best on the
//! validation split, each candidate trained as it would be alone, the best retrained as
//! a standalone unit), spaces that differ by their longest skip, `--estimate` (runs
//! nothing, a figure per group), and clear errors for files that ask for what cannot be
//! computed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::AtomicBool;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use densenas::data::{load, SplitTensors};
use densenas::experiment::file::Experiment;
use densenas::experiment::plan::shape_of;
use densenas::internal::experiment::{proxies, ProxiesJob};
use densenas::model::dag::Dag;
use densenas::model::device::Precision;
use densenas::model::network::Normalization;
use densenas::model::proxies::{proxy_scores, PROXY_BATCH};
use densenas::search::random_standalone::{random_standalone, RandomStandaloneBudget, RANDOM_STANDALONE_WEIGHT_STREAM};
use densenas::search::SearchConfig;
use densenas::train::{evaluate_network, first_epoch_order, train_dag_until, train_population, Member, MemberResult, PopulationJob, TrainConfig, RETRAIN_BEST_STREAM};

mod common;

const STUDY: &str = r#"{"name": "arms", "groups": [
 {"name": "gt", "datasets": ["digits"], "spaces": [{"layers": 3, "width": 16, "blocks": 4}],
  "strategies": ["darts"], "seeds": [0, 1], "search": {"phases": 2, "epochs": 1}, "retrain_epochs": 2,
  "standalone": {"random_dags": "all", "proxies": true}, "baselines": ["chain"],
  "random_standalone": {"dags": 3, "epochs": 1}},
 {"name": "skips", "datasets": ["digits"],
  "spaces": [{"layers": 5, "width": 16, "blocks": 4, "max_skip": 1}, {"layers": 5, "width": 16, "blocks": 4, "max_skip": 2}],
  "strategies": ["darts"], "seeds": [0], "search": {"phases": 2, "epochs": 1}, "retrain_epochs": 1}
]}"#;

fn densenas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_densenas"));
    c.env("OMP_NUM_THREADS", "1");
    c
}

fn experiment(file: &Path, out: &Path, extra: &[&str]) -> Output {
    densenas().arg("experiment").arg(file).arg("--out").arg(out).args(extra).output().unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn shape_16() -> densenas::internal::experiment::NetworkShape {
    let space: densenas::search::SpaceOptions = serde_json::from_str(r#"{"layers": 3, "width": 16}"#).unwrap();
    shape_of(&space)
}

#[test]
fn a_proxies_unit_reads_the_standalone_trainings_start() {
    tch::set_num_threads(1);
    let splits = load("digits").unwrap();
    let shape = shape_16();
    let dag = Dag::new(3, vec![(0, 2), (1, 2)]).unwrap();
    let seed = 5;
    let job = ProxiesJob { shape: &shape, dag: &dag, seed, device: "cpu", precision: Precision::Float32 };
    let unit = proxies(&splits, &job).unwrap();
    // The standalone training's own path with no epoch gives its first weights.
    let train = &splits.train;
    let space = shape.space(train.features, train.classes, train.shape).unwrap();
    let normalization = Normalization::from_data(&train.x, train.features).unwrap();
    let data = SplitTensors::new(train, Device::Cpu).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(RETRAIN_BEST_STREAM);
    let config = TrainConfig { epochs: 0, ..TrainConfig::default() };
    let never = AtomicBool::new(false);
    let start = train_dag_until(&space, &dag, &normalization, &data, &config, (Kind::Float, Device::Cpu), &mut rng, &mut |_, _| {}, &never)
        .unwrap()
        .unwrap();
    let order = first_epoch_order(&ChaCha8Rng::seed_from_u64(seed).get_seed(), train.len());
    let idx = Tensor::from_slice(&order[..PROXY_BATCH]);
    let (x, _) = data.rows(&idx).unwrap();
    let expected = proxy_scores(&start, &x).unwrap();
    assert_eq!(unit.scores, expected);
    assert!(unit.scores.nwot.is_some() && unit.scores.synflow.is_some() && unit.scores.jacob_cov.is_some(), "{:?}", unit.scores);
    assert_eq!((unit.params, unit.flops), (dag.params(&space), dag.flops(&space)));
    // Another seed: other weights and batch, other scores.
    let other = proxies(&splits, &ProxiesJob { seed: 6, ..job }).unwrap();
    assert_ne!(other.scores, unit.scores);
}

#[test]
fn random_search_without_weight_sharing_picks_on_validation_and_retrains_as_a_standalone_unit() {
    tch::set_num_threads(1);
    let splits = load("digits").unwrap();
    let mut config: SearchConfig = serde_json::from_str(
        r#"{"space": {"layers": 3, "width": 16}, "retrain": {"epochs": 2}, "session": {"seed": 3}}"#,
    )
    .unwrap();
    config.retrain.batch_size = 32;
    config.batch_size = 32;
    let budget = RandomStandaloneBudget { dags: 3, epochs: 1 };
    let never = AtomicBool::new(false);
    let out = random_standalone(&config, &budget, &splits, &never).unwrap().unwrap();
    assert_eq!(out.candidates.len(), 3);
    let best_val = out.candidates.iter().filter_map(|c| c.val_accuracy).fold(f64::NEG_INFINITY, f64::max);
    let first_best = out.candidates.iter().find(|c| c.val_accuracy == Some(best_val)).unwrap();
    assert_eq!(out.best, first_best.dag);

    let space = config.validate_for(&splits).unwrap();
    let normalization = Normalization::from_data(&splits.train.x, splits.train.features).unwrap();
    let (weight, val) = splits.weight_val(config.val_fraction, 3).unwrap();
    let (weight, val) = (SplitTensors::new(&weight, Device::Cpu).unwrap(), SplitTensors::new(&val, Device::Cpu).unwrap());
    // The last candidate trained alone on the weight split gives its recorded accuracy.
    let m = 2;
    let train = TrainConfig { epochs: 1, batch_size: 32, ..config.retrain.clone() };
    let job = PopulationJob { space: &space, normalization: &normalization, data: &weight, config: &train, kind: Kind::Float, device: Device::Cpu };
    let alone = Member::seeded(out.candidates[m].dag.clone(), 3, RANDOM_STANDALONE_WEIGHT_STREAM + m as u64);
    let Some(mut r) = train_population(&job, vec![alone], &mut |_, _| {}, &never).unwrap() else { panic!("stopped") };
    let MemberResult::Trained(net) = r.remove(0) else { panic!("diverged") };
    assert_eq!(Some(evaluate_network(&net, &val, Kind::Float).unwrap().0), out.candidates[m].val_accuracy);
    // The best retrained as a standalone unit of it is retrained: the same test accuracy.
    let all = SplitTensors::new(&splits.train, Device::Cpu).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    rng.set_stream(RETRAIN_BEST_STREAM);
    let net = train_dag_until(&space, &out.best, &normalization, &all, &config.retrain, (Kind::Float, Device::Cpu), &mut rng, &mut |_, _| {}, &never)
        .unwrap()
        .unwrap();
    let test = SplitTensors::new(&splits.test, Device::Cpu).unwrap();
    assert_eq!(evaluate_network(&net, &test, Kind::Float).unwrap().0, out.test_accuracy);
}

#[test]
fn estimate_runs_nothing_then_the_study_reports_the_new_rows() {
    let root = common::temp_dir("experiment_arms");
    let file = write(&root, "arms.json", STUDY);
    let out = root.join("out");
    let o = experiment(&file, &out, &["--estimate"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists(), "--estimate made the experiment folder");
    for group in ["\"gt\"", "\"skips\""] {
        let line = text.lines().find(|l| l.starts_with(&format!("group {group}:"))).unwrap_or_else(|| panic!("no line for {group}:\n{text}"));
        let minutes: f64 = line.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        assert!(minutes > 0.0, "{line}");
    }
    for kind in ["search", "random_standalone", "standalone", "proxies"] {
        assert!(text.lines().any(|l| l.trim_start().starts_with(kind)), "no {kind} row:\n{text}");
    }
    assert!(text.lines().any(|l| l.starts_with("total: ")), "{text}");

    let o = experiment(&file, &out, &["--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let units = std::fs::read_dir(out.join("units")).unwrap().count();
    // Finished units are not counted again, and the folder is left as it is.
    let o = experiment(&file, &out, &["--estimate"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("total: 0 core-minutes"), "{text}");
    assert_eq!(std::fs::read_dir(out.join("units")).unwrap().count(), units);

    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let d = &r["datasets"][0];
    let rows = |key: &str| d[key].as_array().unwrap().clone();
    let arm = rows("rq1").into_iter().find(|x| x["strategy"] == "random_standalone").expect("an RQ1 row of the arm");
    assert_eq!(arm["seeds"], 2);
    // Its best DAGs ranked on the seed-mean ground truth (every DAG of the L=3 space).
    assert_eq!(arm["rank_percentile"]["n"], 2);
    let gap = arm["gap_to_best"]["mean"].as_f64().unwrap();
    let pct = arm["rank_percentile"]["mean"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&gap) && (12.5..=100.0).contains(&pct) && (gap == 0.0) == (pct == 100.0), "{arm}");
    assert!(rows("rq2").iter().any(|x| x["strategy"] == "random_standalone" && x["against"] == "chain"));
    assert!(rows("rq2").iter().any(|x| x["strategy"] == "darts" && x["against"] == "random_standalone" && x["test"]["n"] == 2));
    for p in ["params", "flops", "synflow", "jacob_cov"] {
        let row = rows("rq4").into_iter().find(|x| x["metric"] == p).unwrap_or_else(|| panic!("no RQ4 row of {p}"));
        assert_eq!(row["spearman_rho"]["n"], 8, "{p}");
    }
    // A DAG metric's gain over the parameter count: |rho| of the metric minus |rho| of
    // params, both read from their own rows.
    let rho = |name: &str| {
        let row = rows("rq4").into_iter().find(|x| x["metric"] == name && x["space"]["group"] == "gt").unwrap();
        row["spearman_rho"]["value"].as_f64().unwrap()
    };
    let edges = rows("rq4").into_iter().find(|x| x["metric"] == "num_edges" && x["space"]["group"] == "gt").unwrap();
    let gain = edges["gain_over_params"]["value"].as_f64().unwrap_or_else(|| panic!("no gain: {edges}"));
    assert!((gain - (rho("num_edges").abs() - rho("params").abs())).abs() < 1e-12, "{edges}");
    let skips: Vec<u64> = rows("rq3").iter().filter(|x| x["space"]["group"] == "skips").map(|x| x["space"]["max_skip"].as_u64().unwrap()).collect();
    assert_eq!(skips, vec![1, 2]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("skips: L=5 S=1 D=16") && md.contains("| nwot |"), "{md}");
}

#[test]
fn files_asking_for_what_cannot_be_computed_are_refused_by_field() {
    let parse = |text: &str| Experiment::parse(text, Path::new("/"), "x").unwrap_err().to_string();
    let tanh = r#"{"datasets": ["digits"], "spaces": [{"layers": 3, "width": 8, "activation": "tanh"}], "seeds": [0],
                  "standalone": {"random_dags": 4, "proxies": true}}"#;
    let e = parse(tanh);
    assert!(e.contains("spaces[0].activation") && e.contains("ReLU"), "{e}");
    let none = r#"{"datasets": ["digits"], "spaces": [{"layers": 3, "width": 8}], "seeds": [0], "standalone": {"proxies": true}}"#;
    assert!(parse(none).contains("standalone.proxies"), "{}", parse(none));
    let zero = r#"{"datasets": ["digits"], "spaces": [{"layers": 3, "width": 8}], "seeds": [0], "random_standalone": {"dags": 0}}"#;
    assert!(parse(zero).contains("random_standalone.dags"), "{}", parse(zero));
    let typo = r#"{"datasets": ["digits"], "spaces": [{"layers": 3, "width": 8}], "seeds": [0], "random_standalone": {"dag": 3}}"#;
    assert!(parse(typo).contains("dag"), "{}", parse(typo));
}

#[test]
fn the_estimate_times_a_pdarts_group_whose_stages_need_more_than_one_phase() {
    let root = common::temp_dir("experiment_arms_pdarts");
    let file = write(
        &root,
        "pdarts.json",
        r#"{"name": "pdarts", "datasets": ["digits"], "spaces": [{"layers": 4, "width": 16, "blocks": 3}],
            "strategies": ["pdarts"], "seeds": [0], "retrain_epochs": 1,
            "search": {"phases": 2, "epochs": 1, "session": {"strategy_options": {"pdarts": {"stages": 2}}}}}"#,
    );
    let o = experiment(&file, &root.join("out"), &["--estimate"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.lines().any(|l| l.trim_start().starts_with("search") && l.contains("1 units")), "{text}");
}
