//! `densenas experiment` and `densenas report` on a tiny study (digits, two spaces, two
//! strategies, two seeds, a few random DAGs, small budgets): the whole flow with two
//! workers; a run killed midway (SIGKILL of the whole process group) and rerun gives
//! the same report.json as an uninterrupted one (apart from timing and memory); a
//! failing unit is reported while the rest complete, and a rerun retries it; changing
//! one option re-runs only the units it changes; single units run by id or index; bad
//! experiment files get clear errors.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::{comparable, counts, TINY_EXPERIMENT as TINY};

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

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn a_tiny_study_runs_reports_and_survives_a_kill() {
    let root = common::temp_dir("experiment");
    let file = write(&root, "tiny.json", TINY);
    let whole = root.join("whole");
    let start = std::time::Instant::now();
    let o = experiment(&file, &whole, &["--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(start.elapsed().as_secs() < 60, "the tiny study took {:?}", start.elapsed());
    let r = report(&whole);
    assert_eq!(r["units"]["failed"], 0);
    assert_eq!(r["units"]["finished"], r["units"]["total"]);
    let md = std::fs::read_to_string(whole.join("report.md")).unwrap();
    for h in ["## Setup", "## Resolution", "## RQ1", "## RQ2", "## RQ3", "## RQ4", "## RQ5", "Kendall tau", "Spearman rho", "too few DAGs"] {
        assert!(md.contains(h), "report.md lacks {h}");
    }
    assert!(md.find("## Resolution") < md.find("## RQ1"), "the resolution comes first");
    let json = std::fs::read_to_string(whole.join("report.json")).unwrap();
    assert!(!json.contains("cpu") && !json.contains("libtorch"), "the setup is in report.md only");
    let digits = &r["datasets"][0];
    assert_eq!(digits["dataset"], "digits");
    // RQ1: two strategies on two spaces, and the ground-truth group's darts row, ranked
    // among all 8 DAGs of its space.
    let rq1 = digits["rq1"].as_array().unwrap();
    assert_eq!(rq1.len(), 5);
    let truth = rq1.iter().find(|row| row["space"]["group"] == "ground truth").unwrap();
    let pct = truth["rank_percentile"]["mean"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&pct) && truth["gap_to_best"]["mean"].as_f64().unwrap() >= 0.0);
    for row in rq1 {
        let acc = row["test_accuracy"]["mean"].as_f64().unwrap();
        assert!(acc > 0.3 && acc <= 1.0, "{row}");
        assert_eq!(row["seeds"], 2);
    }
    // RQ2: every strategy against chain, chain_matched, random_mean and full on the
    // first group's spaces, Holm-corrected.
    let rq2 = digits["rq2"].as_array().unwrap();
    assert_eq!(rq2.len(), 2 * 2 * 4 + 2);
    assert!(rq2.iter().all(|c| c["test"]["n"] == 2 && c["test"]["p_holm"].as_f64().map_or(true, |h| h >= c["test"]["p"].as_f64().unwrap())));
    assert!(digits["rq2_answer"].as_str().unwrap().starts_with("digits: "));
    // Only chain_matched of the default primary family is in this study: Holm over it
    // alone; the rest exploratory; every comparison has a verdict.
    for c in rq2 {
        assert_eq!(c["primary"], c["against"] == "chain_matched", "{c}");
        assert!(c["primary"].as_bool().unwrap() || c["test"]["p_holm"].is_null(), "{c}");
        let v = c["verdict"].as_str().unwrap();
        assert!(["better", "better_within_margin", "worse", "worse_within_margin", "equivalent", "cant_tell"].contains(&v), "{v}");
    }
    // RQ3: the L = 3 spaces against the largest one (L = 4) of their strategy, paired
    // by seed; RQ1 has no `random` strategy to pair with, and says so.
    let rq3 = digits["rq3_tests"].as_array().unwrap();
    assert_eq!(rq3.len(), 3, "darts and gdas on L=3, and the ground truth's darts: {rq3:?}");
    assert!(rq3.iter().all(|c| c["against"] == "L=4 S=3 D=16" && c["test"]["n"] == 2 && c["space"]["layers"] == 3), "{rq3:?}");
    assert!(digits["rq3_answer"].as_str().unwrap().starts_with("digits: "));
    assert!(digits["rq1_answer"].as_str().unwrap().contains("no strategy has searches paired by seed with random sampling"));
    assert!(!md.contains("Not complete"), "every group finished");
    assert!(r["groups"].as_array().unwrap().iter().all(|g| g["units"]["finished"] == g["units"]["total"]), "{}", r["groups"]);
    // The ground truth's 8 DAGs over 2 seeds have a resolution; the strategies group's
    // 4 random DAGs too.
    let res = digits["resolution"].as_array().unwrap();
    let truth_res = res.iter().find(|r| r["space"]["group"] == "ground truth").unwrap();
    assert_eq!((truth_res["resolution"]["dags"].as_u64(), truth_res["resolution"]["seeds"].as_u64()), (Some(8), Some(2)));
    assert!(truth_res["resolution"]["detectable_difference"].as_f64().unwrap() > 0.0);
    // RQ4 rows carry permutation p-values and BH q-values no smaller than them.
    for m in digits["rq4"].as_array().unwrap() {
        if let (Some(p), Some(q)) = (m["permutation_p"].as_f64(), m["q_bh"].as_f64()) {
            assert!(q >= p - 1e-15 && q <= 1.0, "{m}");
        }
    }
    // RQ4: nine metrics per space with random DAGs.
    assert_eq!(digits["rq4"].as_array().unwrap().len(), 9 * 3);
    // RQ1 against compute: per strategy row, two phases of growing seconds, the best
    // validation accuracy so far never falling, the retrained accuracy last.
    let curves = digits["rq1_compute"].as_array().unwrap();
    assert_eq!(curves.len(), rq1.len());
    for (c, row) in curves.iter().zip(rq1) {
        let secs: Vec<f64> = c["phase_end_seconds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let acc: Vec<f64> = c["best_val_accuracy"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(secs.len() == 2 && acc.len() == 2 && secs[0] <= secs[1] && acc[0] <= acc[1], "{c}");
        assert!(c["retrained_at_seconds"].as_f64().unwrap() >= secs[1], "{c}");
        assert_eq!(c["retrained_test_accuracy"], row["test_accuracy"]["mean"], "{c}");
    }
    for p in ["rq1_digits.svg", "rq1_compute_digits.svg", "rq3_digits.svg"] {
        assert!(whole.join("plots").join(p).exists(), "{p}");
    }

    // Killed midway with its workers, then rerun: the same report.
    let killed = root.join("killed");
    let mut child = densenas()
        .arg("experiment")
        .arg(&file)
        .arg("--out")
        .arg(&killed)
        .args(["--jobs", "2"])
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        if line.unwrap().starts_with("[12/") {
            // SAFETY: signalling the process group of our own child.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            break;
        }
    }
    assert!(!child.wait().unwrap().success());
    assert!(!killed.join("report.json").exists(), "the kill came too late");
    let o = experiment(&file, &killed, &["--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (ran, skipped) = counts(&stderr(&o));
    assert!(skipped >= 12 && ran >= 1, "ran {ran}, skipped {skipped}");
    assert_eq!(comparable(report(&killed)), comparable(r), "the rerun's report differs");
}

#[test]
fn a_failing_unit_is_reported_and_retried_and_a_changed_option_reruns_only_its_units() {
    let root = common::temp_dir("experiment-fail");
    let bad = write(&root, "bad.csv", "1,2,0\n3,4,1\n5,6\n");
    let text = r#"{"name": "mixed", "groups": [
      {"name": "a", "datasets": ["digits", "csv:bad.csv"], "spaces": [{"layers": 3, "width": 8, "blocks": 2}],
       "seeds": [0], "retrain_epochs": 1, "baselines": ["chain", "full"]},
      {"name": "b", "datasets": ["digits"], "spaces": [{"layers": 3, "width": 8, "blocks": 2}],
       "strategies": ["random"], "seeds": [0, 1], "search": {"phases": 1, "epochs": 1}, "retrain_epochs": 1,
       "baselines": ["chain"]}]}"#;
    let file = write(&root, "mixed.json", text);
    let out = root.join("out");
    let o = experiment(&file, &out, &["--jobs", "2"]);
    let e = stderr(&o);
    assert!(!o.status.success(), "a failed unit must make the command fail");
    assert!(e.contains("2 units failed") && e.contains("bad.csv") && e.contains("line 3"), "{e}");
    let r = report(&out);
    assert_eq!(r["units"]["failed"], 2);
    assert_eq!(r["units"]["finished"].as_u64().unwrap() + 2, r["units"]["total"].as_u64().unwrap());

    // The data is fixed: the rerun retries only the failed units.
    write(&root, "bad.csv", "1,2,0\n3,4,1\n5,6,0\n7,8,1\n1,1,0\n9,9,1\n2,2,0\n8,8,1\n3,3,0\n7,7,1\n");
    let o = experiment(&file, &out, &["--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (ran, skipped) = counts(&stderr(&o));
    assert_eq!(ran, 2, "only the failed units run again");
    assert_eq!(report(&out)["units"]["failed"], 0);
    let _ = bad;

    // Changing group b's budget re-runs b's units only.
    let list = |f: &Path| -> Vec<String> {
        let o = experiment(f, &out, &["--list-units"]);
        String::from_utf8_lossy(&o.stdout).lines().map(|l| l.split_whitespace().nth(1).unwrap().to_string()).collect()
    };
    let before = list(&file);
    let changed = write(&root, "mixed.json", &text.replace(r#""search": {"phases": 1, "epochs": 1}, "retrain_epochs": 1"#, r#""search": {"phases": 1, "epochs": 1}, "retrain_epochs": 2"#));
    let after = list(&changed);
    let kept = after.iter().filter(|id| before.contains(id)).count();
    assert!(kept >= 4 && kept < after.len(), "kept {kept} of {}", after.len());
    let o = experiment(&changed, &out, &["--jobs", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (ran, skipped2) = counts(&stderr(&o));
    assert_eq!((ran, skipped2), (after.len() - kept, kept));
    assert!(skipped >= kept);
}

#[test]
fn single_units_run_by_id_or_by_index() {
    let root = common::temp_dir("experiment-one");
    let file = write(
        &root,
        "one.json",
        r#"{"datasets": ["digits"], "spaces": [{"layers": 2, "width": 8, "blocks": 2}], "strategies": ["darts"],
            "seeds": [0], "search": {"phases": 1, "epochs": 1}, "retrain_epochs": 1, "baselines": ["chain", "chain_matched"]}"#,
    );
    let out = root.join("out");
    // A piece of zero minutes starts nothing and says how to go on.
    let o = experiment(&file, &out, &["--max-minutes", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 units not started") && stderr(&o).contains("run the same command again"), "{}", stderr(&o));
    let o = experiment(&file, &out, &["--list-units"]);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 2, "stage 1: the search and the chain\n{listing}");
    assert!(lines.iter().all(|l| l.starts_with("1 ") && l.contains("pending")));
    let search_id = lines.iter().find(|l| l.contains("search darts")).unwrap().split_whitespace().nth(1).unwrap();
    let o = experiment(&file, &out, &["--unit", &search_id[..12]]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("units").join(search_id).join("result.json").exists());
    assert!(out.join("units").join(search_id).join("run/best.onnx").exists());
    // The finished search made its stage-2 unit known: the matched chain.
    let o = experiment(&file, &out, &["--list-units"]);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(listing.lines().any(|l| l.starts_with("2 ") && l.contains("pending")), "{listing}");
    // A report of a study in pieces names the group that is not complete.
    let o = densenas().arg("report").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**Not complete**") && md.contains("*group 1*: 1 of 3 units finished, 0 failed"), "{md}");
    for (stage, index) in [("1", "1"), ("2", "0")] {
        let o = experiment(&file, &out, &["--stage", stage, "--unit-index", index]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = experiment(&file, &out, &["--list-units"]);
    assert!(String::from_utf8_lossy(&o.stdout).lines().all(|l| l.contains("finished")));
    let o = experiment(&file, &out, &["--stage", "2", "--unit-index", "5"]);
    assert!(!o.status.success() && stderr(&o).contains("out of range"));
    // The report of what is there.
    let o = densenas().arg("report").arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(report(&out)["units"]["finished"], 3);
}

#[test]
fn a_finished_run_whose_result_was_not_recorded_is_recorded_not_searched_again() {
    let root = common::temp_dir("experiment-unrecorded");
    let file = write(
        &root,
        "one.json",
        r#"{"datasets": ["digits"], "spaces": [{"layers": 2, "width": 8, "blocks": 2}], "strategies": ["darts"],
            "seeds": [0], "search": {"phases": 1, "epochs": 1}, "retrain_epochs": 1}"#,
    );
    let out = root.join("out");
    let o = experiment(&file, &out, &["--stage", "1", "--unit-index", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let unit = std::fs::read_dir(out.join("units")).unwrap().map(|e| e.unwrap().path()).find(|p| p.join("run").is_dir()).unwrap();
    let recorded: serde_json::Value = serde_json::from_slice(&std::fs::read(unit.join("result.json")).unwrap()).unwrap();
    // The run finished but its result was lost (the process ended in between).
    std::fs::remove_file(unit.join("result.json")).unwrap();
    let written = std::fs::metadata(unit.join("run/config.json")).unwrap().modified().unwrap();
    let o = experiment(&file, &out, &["--stage", "1", "--unit-index", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again: serde_json::Value = serde_json::from_slice(&std::fs::read(unit.join("result.json")).unwrap()).unwrap();
    assert_eq!(comparable(again), comparable(recorded), "the recorded result differs from the run's");
    assert_eq!(std::fs::metadata(unit.join("run/config.json")).unwrap().modified().unwrap(), written, "searched again");
    assert!(!unit.join("run/.densenas.lock").exists());
}

#[test]
fn groups_search_with_darts_plus_beta_regularisation_and_the_hessian_monitor() {
    let root = common::temp_dir("experiment-seed-strategies");
    let file = write(
        &root,
        "e.json",
        r#"{"datasets": ["digits"], "spaces": [{"layers": 2, "width": 8, "blocks": 2}], "strategies": ["darts", "darts-plus"],
            "seeds": [0], "search": {"phases": 1, "epochs": 1, "hessian_every": 1, "session": {"beta_reg": 0.5,
            "strategy_options": {"darts_plus": {"patience": 100}}}}, "retrain_epochs": 1}"#,
    );
    let out = root.join("out");
    let o = experiment(&file, &out, &["--list-units"]);
    let listing = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", stderr(&o));
    let id = listing.lines().find(|l| l.contains("search darts-plus")).expect(&listing).split_whitespace().nth(1).unwrap().to_string();
    let o = experiment(&file, &out, &["--unit", &id[..12]]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = out.join("units").join(&id).join("run");
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!((config["session"]["strategy"].clone(), config["session"]["beta_reg"].clone()), ("darts-plus".into(), 0.5.into()));
    assert_eq!(config["session"]["strategy_options"]["darts_plus"]["patience"], 100);
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["hessian"].as_array().map(Vec::len), Some(1), "{summary}");
}

#[test]
fn a_unit_whose_onnx_check_fails_keeps_its_run_folder_and_a_rerun_checks_it_again_without_searching() {
    let root = common::temp_dir("experiment-onnx-check");
    let file = write(
        &root,
        "one.json",
        r#"{"datasets": ["digits"], "spaces": [{"layers": 2, "width": 8, "blocks": 2}], "strategies": ["darts"],
            "seeds": [0], "search": {"phases": 1, "epochs": 1}, "retrain_epochs": 1}"#,
    );
    let out = root.join("out");
    // A tolerance of 0 asks for the engine's logits to the bit: ONNX Runtime's float32
    // sums, taken in another order, fail that check.
    let o = densenas()
        .env("DENSENAS_ONNX_TOLERANCE", "0")
        .arg("experiment")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .args(["--stage", "1", "--unit-index", "0"])
        .output()
        .unwrap();
    assert!(!o.status.success() && stderr(&o).contains("the ONNX Runtime check of"), "{}", stderr(&o));
    let unit = std::fs::read_dir(out.join("units")).unwrap().map(|e| e.unwrap().path()).find(|p| p.join("run").is_dir()).unwrap();
    let error = std::fs::read_to_string(unit.join("error.txt")).unwrap();
    assert!(error.contains("best.onnx failed: its logits differ"), "{error}");
    assert!(!unit.join("result.json").exists());
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(unit.join("run/summary.json")).unwrap()).unwrap();
    assert!(summary["onnx"]["failed"].as_str().unwrap().contains("more than the 0.000e0 allowed"), "{summary}");
    assert!(unit.join("run/best.network").exists() && unit.join("run/best.onnx").exists());
    let searched = std::fs::metadata(unit.join("run/history.jsonl")).unwrap().modified().unwrap();

    // The rerun (the default tolerance) checks the kept network again, not the search.
    let o = experiment(&file, &out, &["--stage", "1", "--unit-index", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(unit.join("result.json").exists() && !unit.join("error.txt").exists());
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(unit.join("run/summary.json")).unwrap()).unwrap();
    let onnx = &summary["onnx"];
    assert!(onnx["max_abs_diff"].as_f64().unwrap() <= onnx["max_abs_diff_allowed"].as_f64().unwrap(), "{onnx}");
    assert!(onnx["max_abs_diff_allowed"].as_f64().unwrap() >= 1e-3, "{onnx}");
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(unit.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["summary"]["onnx"], *onnx, "the recorded result carries the new verdict");
    assert!(!unit.join("run/best.network").exists());
    assert_eq!(std::fs::metadata(unit.join("run/history.jsonl")).unwrap().modified().unwrap(), searched, "searched again");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn bad_experiment_files_get_clear_errors() {
    let root = common::temp_dir("experiment-bad");
    let cases = [
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": [0], "colour": 1}"#, "unknown field `colour`"),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": []}"#, "seeds"),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": [0], "strategies": ["evolution"]}"#, "evolution"),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 8}], "seeds": [0], "standalone": {"random_dags": "all"}}"#, "random_dags"),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": [0], "search": {"space": {}}}"#, "search.space"),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": [0], "search": {"phases": 0}}"#, "phases"),
        (r#"{"name": "x", "groups": [], "extra": 1}"#, "extra"),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": [0], "strategies": ["gdas"], "search": {"hessian_every": 1}}"#, "hessian_every"),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": [0], "strategies": ["drnas"], "search": {"session": {"beta_reg": 1}}}"#, "beta_reg"),
        (
            r#"{"datasets": ["digits"], "spaces": [{"layers": 3}], "seeds": [0], "search": {"retrain": {"epochs": "two"}}}"#,
            r#"groups[0].search.retrain.epochs: invalid type: string "two", expected usize"#,
        ),
        (r#"{"datasets": ["digits"], "spaces": [{"layers": "three"}], "seeds": [0]}"#, "groups[0].spaces[0].layers: invalid type"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let file = write(&root, &format!("bad{i}.json"), text);
        let o = experiment(&file, &root.join(format!("out{i}")), &["--list-units"]);
        let e = stderr(&o);
        assert!(!o.status.success() && e.contains(needle), "case {i}: {e}");
        assert!(e.matches("invalid configuration").count() <= 1, "case {i}: {e}");
    }
}

#[test]
fn ctrl_c_abandons_the_running_units_and_exits_non_zero() {
    let root = common::temp_dir("experiment-int");
    let file = write(
        &root,
        "long.json",
        r#"{"datasets": ["digits"], "spaces": [{"layers": 4, "width": 64, "blocks": 4}], "strategies": ["darts", "gdas"],
            "seeds": [0, 1], "search": {"phases": 50, "epochs": 5}, "retrain_epochs": 1}"#,
    );
    let out = root.join("out");
    let mut child = densenas().arg("experiment").arg(&file).arg("--out").arg(&out).args(["--jobs", "2"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains(" start ") {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            break;
        }
    }
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("interrupted") && l.contains("run the same command again")), "{rest:?}");
    // Nothing was recorded as finished or failed.
    for unit in std::fs::read_dir(out.join("units")).unwrap() {
        let unit = unit.unwrap().path();
        assert!(!unit.join("result.json").exists() && !unit.join("error.txt").exists(), "{}", unit.display());
    }
    assert!(!out.join("report.json").exists());
}

const TYPED: &str = r#"{"name": "typed", "groups": [
 {"name": "rq6", "datasets": ["digits"],
  "spaces": [{"layers": 3, "width": 16, "blocks": 3},
             {"layers": 3, "width": 16, "blocks": 3, "shape": [1, 4, 4], "stem": "conv",
              "ops": ["dense", "conv3x3", "avgpool3x3", "identity"]}],
  "strategies": ["darts"], "seeds": [0, 1],
  "search": {"phases": 1, "epochs": 1}, "retrain_epochs": 2,
  "standalone": {"random_dags": 3}, "baselines": ["chain", "cnn"]}]}"#;

#[test]
fn a_typed_group_gets_an_rq6_section_whose_figures_are_its_searches() {
    let dir = common::temp_dir("experiment-typed");
    let file = write(&dir, "typed.json", TYPED);
    let out = dir.join("run");
    let o = experiment(&file, &out, &["--jobs", "2", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## RQ6") && md.contains("ops dense,conv3x3,avgpool3x3,identity maps 1x4x4 conv stem"), "{md}");
    let r = report(&out);
    let rows = r["datasets"][0]["rq6"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Each row's figures are its searches' summaries (read independently here).
    let units = out.join("units");
    let mut summaries: Vec<serde_json::Value> = Vec::new();
    for e in std::fs::read_dir(&units).unwrap() {
        let p = e.unwrap().path().join("run/summary.json");
        if p.exists() {
            summaries.push(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap());
        }
    }
    assert_eq!(summaries.len(), 4, "two spaces x two seeds");
    for row in rows {
        let typed = row["typed"].as_bool().unwrap();
        let own: Vec<&serde_json::Value> =
            summaries.iter().filter(|s| s["space"].get("stem").is_some() == typed).collect();
        assert_eq!(own.len(), 2);
        let mean = |f: &dyn Fn(&serde_json::Value) -> f64| own.iter().map(|s| f(s)).sum::<f64>() / 2.0;
        let found = mean(&|s| s["best"]["test_accuracy"].as_f64().unwrap());
        assert!((row["test_accuracy"]["mean"].as_f64().unwrap() - found).abs() < 1e-12);
        let mlp = mean(&|s| s["baseline"]["test_accuracy"].as_f64().unwrap());
        assert!((row["mlp_accuracy"]["mean"].as_f64().unwrap() - mlp).abs() < 1e-12);
        if typed {
            let cnn = mean(&|s| s["baseline_cnn"]["test_accuracy"].as_f64().unwrap());
            assert!((row["cnn_accuracy"]["mean"].as_f64().unwrap() - cnn).abs() < 1e-12);
            let edges: usize = own.iter().map(|s| s["best"]["edges"].as_array().unwrap().len()).sum();
            let counted: u64 = row["op_counts"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
            assert_eq!(counted as usize, edges, "every edge of the found networks is counted under its op");
        } else {
            assert!(row["cnn_accuracy"].is_null());
        }
    }
    let tests = r["datasets"][0]["rq6_tests"].as_array().unwrap();
    let against: Vec<&str> = tests.iter().map(|t| t["against"].as_str().unwrap()).collect();
    assert_eq!(against, ["dense space", "plain MLP", "plain CNN"]);
    // Each with the verdict of its test at Holm's p and the default margin.
    for t in tests {
        let test: densenas::report::stats::Paired = serde_json::from_value(t["test"].clone()).unwrap();
        let expected = densenas::report::verdict::verdict(&test, test.p_holm, 0.003);
        assert_eq!(serde_json::to_value(expected).unwrap(), t["verdict"], "{t}");
    }
    assert!(md.contains("| verdict |"), "{md}");
    // Per seed: two searches, the plain MLP (one unit, shared by both spaces: the
    // typed space's chain baseline is the same plain MLP), the plain CNN of the typed
    // space, and three random DAGs per space.
    let listed = densenas().arg("experiment").arg(&file).arg("--out").arg(dir.join("list")).arg("--list-units").output().unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(text.lines().count(), 2 * (2 + 1 + 1 + 3 + 3), "{text}");
}

/// A group of standalone trainings only: every DAG of L = 3 (8) with three seeds.
const STANDALONE_ONLY: &str = r#"{"name": "packed", "datasets": ["digits"],
  "spaces": [{"layers": 3, "width": 16}], "strategies": [], "seeds": [0, 1, 2],
  "retrain_epochs": 2, "standalone": {"random_dags": "all"}, "baselines": []}"#;

/// Every unit's result in `dir` (without timing and memory), by id.
fn results(dir: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    std::fs::read_dir(dir.join("units"))
        .unwrap()
        .filter_map(|e| {
            let unit = e.unwrap().path();
            let text = std::fs::read_to_string(unit.join("result.json")).ok()?;
            Some((unit.file_name()?.to_string_lossy().into_owned(), comparable(serde_json::from_str(&text).unwrap())))
        })
        .collect()
}

#[test]
fn packed_standalone_units_equal_units_run_one_at_a_time_and_a_killed_population_resumes() {
    let root = common::temp_dir("experiment-packed");
    let file = write(&root, "packed.json", STANDALONE_ONLY);
    let one = root.join("one");
    let o = experiment(&file, &one, &["--population-size", "1", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let alone = results(&one);
    assert_eq!(alone.len(), 24);
    // Packed (the default cap holds all 24 in one population): the same results.
    let packed = root.join("packed");
    let o = experiment(&file, &packed, &["--jobs", "1", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(results(&packed), alone, "packed results differ from one at a time");
    assert_eq!(comparable(report(&packed)), comparable(report(&one)));

    // Populations of 8, killed as soon as one is recorded: whole populations only.
    let killed = root.join("killed");
    let mut child = densenas()
        .arg("experiment")
        .arg(&file)
        .arg("--out")
        .arg(&killed)
        .args(["--jobs", "1", "--population-size", "8"])
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        if line.unwrap().contains(" done  ") {
            // SAFETY: signalling the process group of our own child.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            break;
        }
    }
    assert!(!child.wait().unwrap().success());
    let kept = results(&killed).len();
    assert!(kept.is_multiple_of(8) && (8..24).contains(&kept), "{kept} units recorded: not whole populations of 8");
    let o = experiment(&file, &killed, &["--jobs", "1", "--population-size", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(&stderr(&o)), (24 - kept, kept));
    assert_eq!(results(&killed), alone, "the resumed results differ");
    // A population size below 1 is refused, naming the option; a negative one before
    // any folder is made.
    let o = experiment(&file, &root.join("zero"), &["--population-size", "0"]);
    assert!(!o.status.success() && stderr(&o).contains("population_size: must be at least 1"), "{}", stderr(&o));
    let o = experiment(&file, &root.join("negative"), &["--population-size", "-2"]);
    let e = stderr(&o);
    assert!(!o.status.success() && e.contains("population_size") && e.contains("at least 1") && !root.join("negative").exists(), "{e}");
}
