//! P-DARTS (`pdarts`): the stage depths and the split of the phases over the stages,
//! the density carried by vertex from one stage's space to the next, the pruning rule,
//! pruned candidates held at 0 by the density's update and never drawn, and options
//! refused with errors naming the key; through the command line on the digits, a dense
//! and a typed search that deepen in stages and prune, and a search killed in stage 2
//! that resumes bit for bit.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use densenas::model::density::Pruned;
use densenas::model::supernet::{BlockMasks, Supernet};
use densenas::Normalization;
use tch::{Kind, Tensor};
use densenas::model::ops::Op;
use densenas::search::stages::{carry_over, min_depth, prune_mask, stage_depths, stage_of, stage_phases, stage_space};
use densenas::search::strategy::PdartsConfig;
use densenas::{Dag, DagDensity, Space, SpaceConfig};

fn dense(layers: usize, blocks: usize) -> Space {
    let mut c = SpaceConfig::new(4, 2, layers, 8);
    c.blocks = blocks;
    Space::new(c).unwrap()
}

fn typed(layers: usize, blocks: usize) -> Space {
    let mut c = SpaceConfig::new(4, 2, layers, 8);
    c.blocks = blocks;
    c.ops = vec![Op::Dense, Op::Conv3x3, Op::Identity];
    c.shape = Some([2, 2, 2]);
    Space::new(c).unwrap()
}

fn err_text<T: std::fmt::Debug>(r: densenas::Result<T>) -> String {
    r.expect_err("an error was expected").to_string()
}

#[test]
fn phases_split_over_stages_and_too_few_are_refused() {
    assert_eq!(stage_phases(6, 3).unwrap(), vec![2, 2, 2]);
    assert_eq!(stage_phases(7, 3).unwrap(), vec![3, 2, 2]);
    assert_eq!(stage_phases(8, 3).unwrap(), vec![3, 3, 2]);
    assert!(err_text(stage_phases(2, 3)).contains("phases"));
    let per = [3, 2, 2];
    let got: Vec<(usize, bool)> = (0..7).map(|p| stage_of(p, &per)).collect();
    assert_eq!(got, vec![(0, true), (0, false), (0, false), (1, true), (1, false), (2, true), (2, false)]);
}

#[test]
fn the_first_depth_is_the_smallest_holding_k_distinct_dags() {
    // A dense space of depth d holds 2^(d(d-1)/2) DAGs; a typed one with 3 ops 4^(...).
    let smallest = |holds: &dyn Fn(usize) -> f64, k: usize| (1..).find(|&d| holds(d) >= k as f64).unwrap();
    for k in [1, 2, 3, 8, 9, 64, 65] {
        let expect = smallest(&|d| 2f64.powi((d * (d - 1) / 2) as i32), k);
        assert_eq!(min_depth(&dense(6, k), 0.05).unwrap(), expect, "dense, k = {k}");
        let expect = smallest(&|d| 4f64.powi((d * (d - 1) / 2) as i32), k);
        assert_eq!(min_depth(&typed(5, k), 0.05).unwrap(), expect, "typed, k = {k}");
    }
    // A stage space clips the longest skip and the edge bounds to its depth.
    let mut c = SpaceConfig::new(4, 2, 6, 8);
    (c.max_skip, c.max_edges) = (Some(4), Some(9));
    let s = stage_space(&Space::new(c).unwrap(), 3).unwrap();
    assert_eq!((s.layers(), s.max_skip(), s.max_edges(), s.num_edges()), (3, 2, 3, 3));
}

#[test]
fn default_depths_rise_evenly_from_the_smallest_to_l() {
    let config = PdartsConfig::default();
    // k = 8: depth 3 is the smallest; ceil(6 / 3) = 2 is below it.
    assert_eq!(stage_depths(&config, &dense(6, 8), 0.05).unwrap(), vec![3, 5, 6]);
    // k = 2: depth 2 holds 2 DAGs; ceil(8 / 3) = 3 is above it.
    assert_eq!(stage_depths(&config, &dense(8, 2), 0.05).unwrap(), vec![3, 6, 8]);
    let two = PdartsConfig { stages: 2, ..PdartsConfig::default() };
    assert_eq!(stage_depths(&two, &dense(4, 4), 0.05).unwrap(), vec![3, 4]);
    let one = PdartsConfig { stages: 1, ..PdartsConfig::default() };
    assert_eq!(stage_depths(&one, &dense(4, 4), 0.05).unwrap(), vec![4]);
    // Five stages cannot rise strictly from 3 to 6.
    let five = PdartsConfig { stages: 5, ..PdartsConfig::default() };
    assert!(err_text(stage_depths(&five, &dense(6, 8), 0.05)).contains("strategy_options.pdarts.stages"));
}

#[test]
fn explicit_depths_are_checked_naming_the_key() {
    let with = |d: Vec<usize>| PdartsConfig { stages: d.len(), depths: Some(d), ..PdartsConfig::default() };
    let space = dense(6, 8);
    assert_eq!(stage_depths(&with(vec![3, 4, 6]), &space, 0.05).unwrap(), vec![3, 4, 6]);
    for bad in [vec![2, 4, 6], vec![3, 3, 6], vec![3, 5, 5], vec![4, 5, 7]] {
        let text = err_text(stage_depths(&with(bad.clone()), &space, 0.05));
        assert!(text.contains("strategy_options.pdarts.depths"), "{bad:?}: {text}");
    }
    let mismatched = PdartsConfig { stages: 3, depths: Some(vec![3, 6]), ..PdartsConfig::default() };
    assert!(err_text(mismatched.validate()).contains("strategy_options.pdarts.depths"));
}

#[test]
fn options_out_of_range_are_refused_naming_the_key() {
    let d = PdartsConfig::default;
    let cases = [
        (PdartsConfig { stages: 0, ..d() }, "stages"),
        (PdartsConfig { prune_below: 0.6, ..d() }, "prune_below"),
        (PdartsConfig { prune_below: f64::NAN, ..d() }, "prune_below"),
        (PdartsConfig { top_ops: Some(0), ..d() }, "top_ops"),
        (PdartsConfig { identity_dropout: 1.0, ..d() }, "identity_dropout"),
        (PdartsConfig { identity_dropout: -0.1, ..d() }, "identity_dropout"),
    ];
    for (config, key) in cases {
        let text = err_text(config.validate());
        assert!(text.contains(&format!("strategy_options.pdarts.{key}")), "{key}: {text}");
    }
    assert!(d().validate().is_ok());
    // Unknown keys are refused too.
    assert!(serde_json::from_str::<PdartsConfig>(r#"{"stage": 2}"#).is_err());
}

#[test]
fn the_density_carries_over_by_vertex_and_new_edges_start_from_the_prior() {
    let (old_space, new_space) = (typed(3, 4), typed(5, 4));
    let mut old = DagDensity::new(&old_space, 0.5, 0.05).unwrap();
    let dags = [
        Dag::with_ops(3, vec![(0, 1), (1, 2)], vec![Op::Conv3x3, Op::Identity]).unwrap(),
        Dag::with_ops(3, vec![(0, 2)], vec![Op::Dense]).unwrap(),
    ];
    old.update(&dags, &[0.7, 0.3], 0.5).unwrap();
    let mut mask = Pruned::none(3, 3);
    mask.ops[0][2] = true;
    old.prune(&mask).unwrap();
    let new = carry_over(&old, &old_space, &new_space, 0.3, 0.05).unwrap();
    for (e, &(i, j)) in new_space.edges().iter().enumerate() {
        match old_space.edge_index(i, j) {
            Some(o) => {
                assert_eq!(new.probabilities()[e], old.probabilities()[o], "edge ({i}, {j})");
                assert_eq!(new.op_probabilities()[e], old.op_probabilities()[o], "edge ({i}, {j})");
                assert_eq!(new.pruned().ops[e], old.pruned().ops[o], "edge ({i}, {j})");
            }
            None => {
                assert_eq!(new.probabilities()[e], 0.3, "edge ({i}, {j})");
                assert_eq!(new.op_probabilities()[e], vec![1.0 / 3.0; 3], "edge ({i}, {j})");
                assert!(!new.pruned().edges[e] && new.pruned().ops[e].iter().all(|&b| !b));
            }
        }
    }
}

#[test]
fn the_rule_prunes_rare_edges_and_ops_outside_the_top_n() {
    let space = typed(3, 4);
    let p = vec![0.05, 0.5, 0.9];
    let op_p = vec![vec![0.2, 0.3, 0.5], vec![0.4, 0.4, 0.2], vec![0.1, 0.6, 0.3]];
    let density = DagDensity::from_probabilities(&space, p, Some(op_p), 0.0).unwrap();
    let mask = prune_mask(&density, 0.1, Some(2));
    assert_eq!(mask.edges, vec![true, false, false]);
    assert_eq!(mask.ops, vec![vec![true, false, false], vec![false, false, true], vec![true, false, false]]);
    let none = prune_mask(&density, 0.0, None);
    assert!(!none.any());
}

/// Every code vector of `space` within its edge bounds that avoids the pruned candidates.
fn allowed_codes(space: &Space, pruned: &Pruned) -> HashSet<Vec<u8>> {
    let (n, ops) = (space.num_edges(), space.ops().len());
    let mut out = HashSet::new();
    let mut codes = vec![0u8; n];
    loop {
        let count = codes.iter().filter(|&&c| c > 0).count();
        let ok = codes.iter().enumerate().all(|(e, &c)| c == 0 || (!pruned.edges[e] && !pruned.ops[e][c as usize - 1]));
        if ok && (space.min_edges()..=space.max_edges()).contains(&count) {
            out.insert(codes.clone());
        }
        let Some(e) = (0..n).rev().find(|&e| (codes[e] as usize) < ops) else { return out };
        codes[e] += 1;
        codes[e + 1..].iter_mut().for_each(|c| *c = 0);
    }
}

#[test]
fn pruned_candidates_stay_at_zero_and_are_never_drawn() {
    let space = typed(4, 4);
    let mut density = DagDensity::new(&space, 0.5, 0.05).unwrap();
    let mut mask = Pruned::none(space.num_edges(), 3);
    mask.edges[1] = true;
    mask.ops[0][2] = true;
    mask.ops[4] = vec![true, true, false];
    density.prune(&mask).unwrap();
    assert_eq!(density.probabilities()[1], 0.0);
    assert_eq!(density.op_probabilities()[0], vec![0.5, 0.5, 0.0]);
    assert_eq!(density.op_probabilities()[4], vec![0.0, 0.0, 1.0]);
    // An update that rewards the pruned candidates leaves them at 0; the live entries
    // stay inside the clamp.
    let rewarded = Dag::with_ops(4, vec![(0, 1), (0, 2), (1, 3)], vec![Op::Identity, Op::Dense, Op::Dense]).unwrap();
    let other = Dag::with_ops(4, vec![(1, 2)], vec![Op::Conv3x3]).unwrap();
    for _ in 0..20 {
        density.update(&[rewarded.clone(), other.clone()], &[0.9, 0.1], 0.8).unwrap();
    }
    assert_eq!(density.probabilities()[1], 0.0);
    assert_eq!(density.op_probabilities()[0][2], 0.0);
    assert_eq!(&density.op_probabilities()[4][..2], &[0.0, 0.0]);
    for (e, q) in density.categorical().iter().enumerate() {
        for (c, &v) in q.iter().enumerate() {
            let pruned = c > 0 && (mask.edges[e] || mask.ops[e][c - 1]);
            assert!(if pruned { v == 0.0 } else { v >= 0.05 - 1e-12 }, "edge {e}, entry {c}: {v}");
        }
    }
    // The constrained size counts exactly the DAGs that avoid the pruned candidates, and
    // drawing all of them yields exactly those.
    let allowed = allowed_codes(&space, density.pruned());
    assert_eq!(density.constrained_size(), allowed.len() as f64);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let drawn = density.draw(allowed.len(), &[], &mut rng).unwrap();
    let got: HashSet<Vec<u8>> = drawn.iter().map(|d| d.codes(&space).unwrap()).collect();
    assert_eq!(got, allowed);
    assert!(density.draw(allowed.len() + 1, &[], &mut rng).is_err());
}

#[test]
fn large_spaces_never_draw_pruned_edges_and_the_bounds_follow_the_live_edges() {
    // 28 edges: drawn by the count table, not enumerated.
    let mut c = SpaceConfig::new(4, 2, 8, 8);
    c.min_edges = Some(2);
    let space = Space::new(c).unwrap();
    let mut density = DagDensity::new(&space, 0.5, 0.05).unwrap();
    let mut mask = Pruned::none(28, 1);
    (0..28).filter(|e| e % 3 != 0).for_each(|e| mask.edges[e] = true);
    density.prune(&mask).unwrap();
    let live: Vec<usize> = (0..28).filter(|e| e % 3 == 0).collect();
    assert_eq!(density.edge_bounds().unwrap(), (2, live.len()));
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for dag in density.draw(200, &[], &mut rng).unwrap() {
        let codes = dag.codes(&space).unwrap();
        assert!(codes.iter().enumerate().all(|(e, &c)| c == 0 || e % 3 == 0), "{codes:?}");
        assert!(dag.edges().len() >= 2);
    }
    // Pruning all but one edge leaves fewer edges than min_edges = 2: a clear error.
    let mut all_but_one = Pruned::none(28, 1);
    (1..28).for_each(|e| all_but_one.edges[e] = true);
    density.prune(&all_but_one).unwrap();
    let text = density.draw(1, &[], &mut rng).unwrap_err().to_string();
    assert!(text.contains("min_edges") && text.contains("unpruned"), "{text}");
}

#[test]
fn identity_dropout_decays_over_a_stage_and_drops_only_identity_outputs() {
    let config = PdartsConfig { identity_dropout: 0.4, ..PdartsConfig::default() };
    assert_eq!([0.0, 0.5, 1.0].map(|f| config.identity_dropout_at(f)), [0.4, 0.2, 0.0]);

    // Blocks without an identity edge compute what they compute without dropout, bit for
    // bit; a block with one changes, and the same generator state gives the same draw.
    let mut c = SpaceConfig::new(4, 3, 3, 6);
    c.ops = vec![Op::Dense, Op::Identity];
    c.blocks = 3;
    let space = Space::new(c).unwrap();
    let dev = common::test_device();
    let net = Supernet::new(&space, Normalization::identity(4), Kind::Double, dev, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    let dags = [
        Dag::with_ops(3, vec![(0, 1), (1, 2)], vec![Op::Dense, Op::Dense]).unwrap(),
        Dag::with_ops(3, vec![(0, 1), (1, 2)], vec![Op::Identity, Op::Dense]).unwrap(),
        Dag::with_ops(3, vec![(0, 2)], vec![Op::Dense]).unwrap(),
    ];
    let masks = BlockMasks::new(&space, &dags, Kind::Double, dev).unwrap();
    let x = Tensor::randn([5, 4], (Kind::Double, dev));
    let plain = net.forward_all(&x, &masks).unwrap();
    let dropped = |seed: u64| net.forward_all_with_identity_dropout(&x, &masks, 0.5, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
    let (a, b) = (dropped(7), dropped(7));
    assert!(a.equal(&b), "the same generator state gave different draws");
    for blk in [0, 2] {
        assert!(a.get(blk).equal(&plain.get(blk)), "block {blk} has no identity edge");
    }
    assert!(!a.get(1).equal(&plain.get(1)), "the identity edge's output was not dropped");
    let zero = net.forward_all_with_identity_dropout(&x, &masks, 0.0, &mut ChaCha8Rng::seed_from_u64(7)).unwrap();
    assert!(zero.equal(&plain));
    assert!(net.forward_all_with_identity_dropout(&x, &masks, 1.0, &mut ChaCha8Rng::seed_from_u64(7)).is_err());
}

// ---- Whole searches through the command line.

mod common;

fn densenas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_densenas"));
    c.env("OMP_NUM_THREADS", "1");
    c
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn history(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("history.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Writes `config` beside `dir` and returns the arguments of a search into `dir`.
fn search_args(dir: &Path, args: &str, config: &serde_json::Value) -> Vec<String> {
    let path = dir.with_extension("json");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    std::fs::write(&path, config.to_string()).unwrap();
    let mut out: Vec<String> = format!("search {args} --strategy pdarts --threads 1 --overwrite").split_whitespace().map(String::from).collect();
    out.extend(["--config".into(), path.display().to_string(), "--out".into(), dir.display().to_string()]);
    out
}

fn run_ok(args: &[String]) -> serde_json::Value {
    let out = densenas().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    read_json(&Path::new(args.iter().skip_while(|a| *a != "--out").nth(1).unwrap()).join("summary.json"))
}

fn pdarts(options: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"session": {"strategy_options": {"pdarts": options}}})
}

/// The edges `(i, j)` with their op names of a history record.
fn edges_of(record: &serde_json::Value) -> Vec<((u64, u64), String)> {
    let dag = &record["dag"];
    let edges = dag["edges"].as_array().unwrap().iter().map(|e| (e[0].as_u64().unwrap(), e[1].as_u64().unwrap()));
    let ops: Vec<String> = match dag["ops"].as_array() {
        Some(ops) => ops.iter().map(|o| o.as_str().unwrap().to_string()).collect(),
        None => vec!["dense".to_string(); dag["edges"].as_array().unwrap().len()],
    };
    edges.zip(ops).collect()
}

/// Checks the stages of a finished search with `per_stage` phases at `depths`: every
/// record's vertices lie within its stage's depth, the best is the last stage's, and
/// the edges pruned at a stage's end (presence below `prune_below`) are drawn by no
/// later block and reported at 0 afterwards. Returns the number of pruned edges.
fn check_stages(dir: &Path, s: &serde_json::Value, per_stage: &[usize], depths: &[u64], prune_below: f64) -> usize {
    assert_eq!(s["strategy"], "pdarts");
    let hist = history(dir);
    let stage_of = |phase: u64| stage_of(phase as usize, per_stage).0;
    for r in &hist {
        let depth = depths[stage_of(r["phase"].as_u64().unwrap())];
        assert!(edges_of(r).iter().all(|((_, j), _)| *j < depth), "{r}");
    }
    let last_first = per_stage[..per_stage.len() - 1].iter().sum::<usize>() as u64;
    assert!(s["best"]["phase"].as_u64().unwrap() >= last_first, "{}", s["best"]);
    let density: Vec<Vec<f64>> = serde_json::from_value(read_json(&dir.join("density.json"))).unwrap();
    let space = dense(depths[depths.len() - 1] as usize, 4);
    let mut pruned = HashSet::new();
    let mut end = 0;
    for &n in &per_stage[..per_stage.len() - 1] {
        end += n;
        for (e, &(i, j)) in space.edges().iter().enumerate() {
            if (j as u64) < depths[stage_of(end as u64 - 1)] && density[end][e] < prune_below {
                pruned.insert((i as u64, j as u64));
            }
        }
        for r in hist.iter().filter(|r| r["phase"].as_u64().unwrap() >= end as u64) {
            assert!(edges_of(r).iter().all(|(e, _)| !pruned.contains(e)), "pruned {pruned:?} drawn in {r}");
        }
        for row in &density[end + 1..] {
            for (e, &(i, j)) in space.edges().iter().enumerate() {
                if pruned.contains(&(i as u64, j as u64)) {
                    assert_eq!(row[e], 0.0, "pruned edge ({i}, {j}) in {row:?}");
                }
            }
        }
    }
    pruned.len()
}

#[test]
fn dense_and_typed_digits_searches_deepen_in_stages_and_prune() {
    let root = common::temp_dir("pdarts-search");
    // Dense, L = 5, k = 4: depth 3 is the smallest holding 4 DAGs, so 3, 4, 5.
    let dir = root.join("dense");
    let args = "--layers 5 --width 16 --blocks 4 --phases 4 --epochs 2 --retrain-epochs 0 --quiet --seed 1 --beta-reg 0.5";
    let s = run_ok(&search_args(&dir, args, &pdarts(serde_json::json!({"prune_below": 0.3}))));
    assert_eq!(s["space"]["layers"], 5);
    let pruned = check_stages(&dir, &s, &[2, 1, 1], &[3, 4, 5], 0.3);
    assert!(pruned > 0, "no edge pruned: the test would not see pruning");
    // summary.json's stages: depth, phases, and the edges pruned at each end (the
    // pruned set grows: pruned edges stay pruned).
    let stages = s["stages"].as_array().unwrap();
    let row = |st: &serde_json::Value| (st["depth"].as_u64().unwrap(), st["first_phase"].as_u64().unwrap(), st["phases"].as_u64().unwrap());
    assert_eq!(stages.iter().map(row).collect::<Vec<_>>(), vec![(3, 0, 2), (4, 2, 1), (5, 3, 1)]);
    let edge_set = |st: &serde_json::Value| -> HashSet<(u64, u64)> {
        st["pruned_edges"].as_array().unwrap().iter().map(|e| (e[0].as_u64().unwrap(), e[1].as_u64().unwrap())).collect()
    };
    assert!(edge_set(&stages[0]).is_subset(&edge_set(&stages[1])), "{stages:?}");
    assert_eq!(edge_set(&stages[1]).len(), pruned, "{stages:?}");
    assert!(edge_set(&stages[2]).is_empty());

    // Typed, L = 4, k = 4, 3 ops: depth 2 holds 4 DAGs and ceil(4 / 3) = 2, so 2, 3, 4.
    // Keeping the top 2 ops of an edge leaves at most 2 ops on it in later stages; the
    // best has at most max_identity = 1 identity edge, the best such of the last stage.
    let dir = root.join("typed");
    let args = "--layers 4 --width 32 --blocks 4 --phases 3 --epochs 2 --retrain-epochs 0 --quiet --seed 2 \
                --shape 2,4,4 --stem conv --ops dense,conv3x3,identity";
    let options = serde_json::json!({"prune_below": 0.0, "top_ops": 2, "max_identity": 1});
    let s = run_ok(&search_args(&dir, args, &pdarts(options)));
    check_stages(&dir, &s, &[1, 1, 1], &[2, 3, 4], 0.0);
    let hist = history(&dir);
    let mut ops_after: HashMap<(u64, u64), HashSet<String>> = HashMap::new();
    for r in hist.iter().filter(|r| r["phase"].as_u64().unwrap() >= 1) {
        for (e, op) in edges_of(r) {
            if e.1 < 2 {
                ops_after.entry(e).or_default().insert(op);
            }
        }
    }
    assert!(ops_after.values().all(|ops| ops.len() <= 2), "{ops_after:?}");
    // Keeping 2 of 3 ops prunes exactly one op on every edge of a stage that ended (no
    // edge is pruned whole at prune_below 0), and no later block uses it there.
    let stages = s["stages"].as_array().unwrap();
    for (st, first_later, edges) in [(&stages[0], 1, 1), (&stages[1], 2, 3)] {
        let pruned_ops = st["pruned_ops"].as_array().unwrap();
        assert_eq!(pruned_ops.len(), edges, "{st}");
        assert!(st["pruned_edges"].as_array().unwrap().is_empty(), "{st}");
        for p in pruned_ops {
            let (edge, op) = ((p[0][0].as_u64().unwrap(), p[0][1].as_u64().unwrap()), p[1].as_str().unwrap());
            for r in hist.iter().filter(|r| r["phase"].as_u64().unwrap() >= first_later) {
                assert!(!edges_of(r).contains(&(edge, op.to_string())), "pruned {edge:?} {op} drawn in {r}");
            }
        }
    }
    let identity = |r: &serde_json::Value| edges_of(r).iter().filter(|(_, o)| o == "identity").count();
    let last: Vec<&serde_json::Value> = hist.iter().filter(|r| r["phase"] == 2).collect();
    let qualifying = last.iter().filter(|r| identity(r) <= 1);
    let best_acc = qualifying.map(|r| r["val_accuracy"].as_f64().unwrap()).fold(f64::NEG_INFINITY, f64::max);
    let best = &s["best"];
    // An all-dense DAG has no `ops` key.
    let best_identity = best["ops"].as_array().map_or(0, |ops| ops.iter().filter(|o| *o == "identity").count());
    assert!(best_identity <= 1, "{best}");
    assert_eq!(best["val_accuracy"].as_f64().unwrap(), best_acc, "{best}");
}

#[test]
fn identity_dropout_is_reproducible_and_acts_in_a_typed_search() {
    let root = common::temp_dir("pdarts-dropout");
    let args = "--layers 4 --width 32 --blocks 4 --phases 3 --epochs 2 --retrain-epochs 0 --quiet --seed 4 \
                --shape 2,4,4 --stem conv --ops dense,conv3x3,identity";
    let run = |name: &str, rate: f64| {
        let dir = root.join(name);
        run_ok(&search_args(&dir, args, &pdarts(serde_json::json!({"identity_dropout": rate}))));
        std::fs::read(dir.join("history.jsonl")).unwrap()
    };
    let (a, b, none) = (run("a", 0.5), run("b", 0.5), run("none", 0.0));
    assert!(a == b, "two runs with identity dropout differ");
    assert!(a != none, "identity dropout changed nothing");
}

#[test]
fn a_pdarts_search_killed_in_stage_2_resumes_bit_for_bit() {
    let root = common::temp_dir("pdarts-resume");
    // Typed with the identity op and identity dropout: the draws after the resume are
    // the uninterrupted run's.
    let args = "--layers 5 --width 32 --blocks 4 --phases 6 --epochs 30 --retrain-epochs 2 --seed 3 \
                --shape 2,4,4 --stem conv --ops dense,identity";
    let config = pdarts(serde_json::json!({"prune_below": 0.3, "identity_dropout": 0.3}));
    let expected = root.join("uninterrupted");
    run_ok(&[search_args(&expected, args, &config), vec!["--quiet".into()]].concat());
    // Killed in the first phase of stage 2 (resumes with the stage switch) and in its
    // second (resumes inside stage 2).
    for (trigger, latest) in [("phase 3 epoch", "phase-2"), ("phase 4 epoch", "phase-3")] {
        let dir = root.join(latest);
        let mut child = densenas()
            .args(search_args(&dir, args, &config))
            .args(["--progress", "lines"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.map_while(|l| l.ok()) {
            if line.starts_with(trigger) {
                // SAFETY: signalling our own child process.
                unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
                break;
            }
        }
        assert!(!child.wait().unwrap().success());
        assert_eq!(std::fs::read_to_string(dir.join("checkpoints/latest")).unwrap().trim(), latest);
        let out = densenas().args(["search", "--resume", &dir.display().to_string(), "--quiet"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let without_timing = |d: &Path| {
            let mut s = read_json(&d.join("summary.json"));
            s.as_object_mut().unwrap().remove("timing");
            s.as_object_mut().unwrap().remove("resumed");
            s
        };
        assert_eq!(without_timing(&expected), without_timing(&dir));
        for f in ["history.jsonl", "best.onnx", "density.json", "alpha.json"] {
            assert!(std::fs::read(expected.join(f)).unwrap() == std::fs::read(dir.join(f)).unwrap(), "{f} differs");
        }
    }
}

#[test]
fn bad_pdarts_searches_are_refused_naming_the_key() {
    let root = common::temp_dir("pdarts-refused");
    let cases = [
        ("--layers 4 --blocks 4 --phases 3", serde_json::json!({}), "session.strategy_options.pdarts.stages"),
        ("--layers 5 --blocks 4 --phases 2", serde_json::json!({}), "phases"),
        ("--layers 5 --blocks 4 --phases 3", serde_json::json!({"depths": [2, 4, 5]}), "session.strategy_options.pdarts.depths"),
        ("--layers 5 --blocks 4 --phases 3", serde_json::json!({"prune_below": 0.9}), "session.strategy_options.pdarts.prune_below"),
        ("--layers 5 --blocks 4 --phases 3", serde_json::json!({"stage": 2}), "stage"),
    ];
    for (i, (args, options, key)) in cases.into_iter().enumerate() {
        let dir = root.join(format!("case-{i}"));
        let args = search_args(&dir, &format!("{args} --epochs 1 --retrain-epochs 0 --quiet"), &pdarts(options));
        let out = densenas().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(key), "{args:?}: {stderr}");
        assert!(!dir.join("summary.json").exists());
    }
}
