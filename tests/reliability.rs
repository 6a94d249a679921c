//! Reliability of the library: failed steps change nothing (random numbers, weights,
//! optimiser moments), divergence is reported with where it happened, a stop in
//! mid-epoch reports no partial epoch, folders are locked (the lock file exists only
//! while held; a killed holder's leftover does not block), exports leave no
//! temporaries, and evaluation in chunks equals one pass.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use common::Trace;
use tch::{Kind, Tensor};

use densenas::data::{self, SplitTensors};
use densenas::io::export::onnx::{self, ExportMetadata};
use densenas::search::{run_search_until, Event, SearchConfig};
use densenas::internal::util::lock::{FolderLock, LOCK_FILE};
use densenas::{Error, Normalization, Session, SessionOptions, Space, SpaceConfig, StrategyKind};

fn digits() -> (Space, SplitTensors, SplitTensors, Normalization) {
    let splits = data::load("digits").unwrap();
    let (w, v) = splits.weight_val(0.5, 0).unwrap();
    let mut c = SpaceConfig::new(64, 10, 3, 32);
    c.blocks = 3;
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let dev = tch::Device::Cpu;
    (Space::new(c).unwrap(), SplitTensors::new(&w, dev).unwrap(), SplitTensors::new(&v, dev).unwrap(), norm)
}

fn batch(t: &SplitTensors, i: usize) -> (Tensor, Tensor) {
    let idx: Vec<i64> = (0..32).map(|r| ((i * 32 + r) % t.len() as usize) as i64).collect();
    t.rows(&Tensor::from_slice(&idx)).unwrap()
}

/// Steps `n` weight and architecture steps from batch `from`.
fn steps(s: &mut Session, w: &SplitTensors, v: &SplitTensors, from: usize, n: usize) -> Vec<f64> {
    let mut losses = Vec::new();
    for i in from..from + n {
        let (x, y) = batch(w, i);
        losses.push(s.step_weights(&x, &y).unwrap());
        let (x, y) = batch(v, i);
        losses.push(s.step_architecture(&x, &y).unwrap());
    }
    losses
}

#[test]
fn a_failed_step_changes_nothing_not_even_the_random_numbers() {
    for strategy in [StrategyKind::Gdas, StrategyKind::Snas, StrategyKind::Proxyless, StrategyKind::Darts2] {
        let (space, w, v, norm) = digits();
        let options = SessionOptions { strategy, seed: 11, grad_clip: None, ..SessionOptions::default() };
        let mut a = Session::new(&space, options.clone(), norm.clone()).unwrap();
        let mut b = Session::new(&space, options, norm).unwrap();
        let mut la = steps(&mut a, &w, &v, 0, 3);
        let mut lb = steps(&mut b, &w, &v, 0, 3);
        // `a` tries steps that diverge (a learning rate of 1e300) and bad batches; each
        // must fail and leave it as it was (1e300 makes every update non-finite).
        a.set_weight_lr(1e300).unwrap();
        let mut diverged = 0;
        for i in 3..6 {
            let (x, y) = batch(&w, i);
            match a.step_weights(&x, &y) {
                Err(Error::Diverged(m)) => {
                    assert!(m.contains("weight step 4") && m.contains("phase 1") && m.contains("learning rate 1e300"), "{m}");
                    diverged += 1;
                }
                other => panic!("{strategy:?}: a learning rate of 1e300 gave {other:?}"),
            }
        }
        assert_eq!(diverged, 3);
        let (x, _) = batch(&w, 0);
        assert!(a.step_weights(&x, &Tensor::from_slice(&[99i64; 32])).is_err(), "labels out of range accepted");
        a.set_weight_lr(0.05).unwrap();
        la.extend(steps(&mut a, &w, &v, 3, 4));
        lb.extend(steps(&mut b, &w, &v, 3, 4));
        assert_eq!(Trace::of(&a, la), Trace::of(&b, lb), "{strategy:?}: a failed step left a trace");
    }
}

#[test]
fn a_stop_in_mid_epoch_reports_no_partial_epoch() {
    let config: SearchConfig = serde_json::from_str(
        r#"{"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 3, "epochs": 3, "retrain": {"epochs": 0}}"#,
    )
    .unwrap();
    let data = data::load("digits").unwrap();
    let stop = AtomicBool::new(false);
    let (mut steps, mut epochs, mut phases) = (0, Vec::new(), 0);
    let outcome = run_search_until(
        &config,
        &data,
        &mut |e| match e {
            Event::Step { phase, step, .. } => {
                steps += 1;
                // Stop in the middle of phase 2's second epoch.
                if phase == 1 && step == 15 {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            Event::Epoch { phase, epoch, weight_loss, .. } => {
                assert!(weight_loss.is_finite());
                epochs.push((phase, epoch));
            }
            Event::Phase(_) => phases += 1,
            Event::Retrain { .. } => panic!("retraining after a stop"),
        },
        &stop,
    )
    .unwrap();
    // 719 weight samples in batches of 64: 12 steps an epoch. Phase 2 stopped after
    // step 16 (its second epoch's fourth step): that epoch is not reported.
    assert_eq!(epochs, vec![(0, 0), (0, 1), (0, 2), (1, 0)]);
    assert_eq!(steps, 36 + 16);
    assert_eq!(phases, 2, "the stopped phase is judged and reported");
    assert!(outcome.summary.interrupted && outcome.summary.phases.len() == 2);
}

#[test]
fn a_folder_is_locked_while_in_use() {
    let dir = common::temp_dir("lock");
    let first = FolderLock::acquire(&dir, "a search").unwrap();
    match FolderLock::acquire(&dir, "a search") {
        Err(Error::Folder { message: m, .. }) => assert!(m.contains("in use") && m.contains("a search"), "{m}"),
        other => panic!("a second lock was granted: {other:?}"),
    }
    drop(first);
    assert!(!dir.join(LOCK_FILE).exists(), "the lock file outlived the lock");
    let again = FolderLock::acquire(&dir, "a search").expect("the lock is free again");
    assert!(again.path().exists());
    // A leftover file (what a killed holder leaves) is taken over.
    drop(again);
    std::fs::write(dir.join(LOCK_FILE), b"").unwrap();
    let taken = FolderLock::acquire(&dir, "a search").expect("a stale lock file does not block");
    // A lock whose file was replaced under it is not the folder's lock any more: the
    // next acquirer locks the new file, and the old holder's drop leaves that alone.
    std::fs::remove_file(dir.join(LOCK_FILE)).unwrap();
    let second = FolderLock::acquire(&dir, "a search").expect("the path's file is free");
    assert!(matches!(FolderLock::acquire(&dir, "a search"), Err(Error::Folder { .. })), "two holders of the path's file");
    drop(taken);
    assert!(dir.join(LOCK_FILE).exists(), "the old holder removed the new holder's file");
    assert!(matches!(FolderLock::acquire(&dir, "a search"), Err(Error::Folder { .. })), "the new holder lost its lock");
    drop(second);
    assert!(!dir.join(LOCK_FILE).exists());
}

#[test]
fn a_lock_file_left_by_a_killed_search_does_not_block_the_next() {
    let dir = common::temp_dir("killed");
    let run = dir.join("run");
    // A search long enough to be killed in its first phase, before any checkpoint.
    let mut child = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["search", "--layers", "4", "--width", "256", "--blocks", "8", "--phases", "2", "--epochs", "1000"])
        .args(["--retrain-epochs", "0", "--quiet", "--out"])
        .arg(&run)
        .env("OMP_NUM_THREADS", "1")
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !run.join(LOCK_FILE).exists() {
        assert!(start.elapsed().as_secs() < 60, "the search never took its lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(run.join(LOCK_FILE).exists(), "SIGKILL should leave the file");
    assert!(!run.join("checkpoints/latest").exists(), "killed too late for this test");
    let out = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["search", "--layers", "2", "--width", "8", "--blocks", "2", "--phases", "1", "--epochs", "1"])
        .args(["--retrain-epochs", "0", "--quiet", "--out"])
        .arg(&run)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(run.join("summary.json").exists());
    assert!(!run.join(LOCK_FILE).exists(), "the lock file outlived the search");
}

#[test]
fn a_failed_export_leaves_neither_a_file_nor_a_temporary() {
    let (space, _, v, norm) = digits();
    let s = Session::new(&space, SessionOptions::default(), norm).unwrap();
    let _ = v;
    let net = s.supernet().snapshot(&s.dags()[0]).unwrap();
    let dir = common::temp_dir("export");
    // The destination is a folder: the final rename fails.
    let dest = dir.join("model.onnx");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("keep"), b"x").unwrap();
    assert!(onnx::write(&net, &dest, &ExportMetadata::default()).is_err());
    let names: Vec<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["model.onnx".to_string()], "a temporary was left behind");
    assert!(dest.join("keep").exists());
    // Two writers of the same path do not share a temporary name.
    let path = dir.join("twice.onnx");
    let (a, b) = (densenas::internal::util::atomic::temporary_beside(&path), densenas::internal::util::atomic::temporary_beside(&path));
    assert_ne!(a, b);
    onnx::write(&net, &path, &ExportMetadata::default()).unwrap();
    onnx::read_model(&path).unwrap();
}

#[test]
fn evaluation_in_chunks_equals_one_pass() {
    // More rows than one evaluation chunk: the chunked figures equal a direct computation.
    let n = densenas::train::EVAL_CHUNK * 2 + 123;
    let (space, _, _, norm) = digits();
    let s = Session::new(&space, SessionOptions::default(), norm).unwrap();
    let net = s.supernet().snapshot(&s.dags()[1]).unwrap();
    let x = Tensor::randn([n, 64], (Kind::Float, tch::Device::Cpu)) * 8.0 + 8.0;
    let y = Tensor::randint(10, [n], (Kind::Int64, tch::Device::Cpu));
    let (acc, loss) = densenas::train::evaluate(|x| net.forward(x), &x, &y).unwrap();
    let logits = tch::no_grad(|| net.forward(&x)).unwrap();
    let direct_acc = logits.argmax(1, false).eq_tensor(&y).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    let direct_loss = logits.cross_entropy_for_logits(&y).double_value(&[]);
    assert_eq!(acc, direct_acc);
    assert!((loss - direct_loss).abs() < 1e-5 * direct_loss.abs().max(1.0), "{loss} vs {direct_loss}");
}

#[test]
fn divergence_through_the_command_line_names_the_step_phase_and_learning_rate() {
    let dir = common::temp_dir("diverge");
    let out = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["search", "--layers", "3", "--width", "32", "--blocks", "3", "--phases", "2", "--epochs", "2"])
        .args(["--lr", "100", "--grad-clip", "0", "--retrain-epochs", "0", "--quiet", "--out"])
        .arg(dir.join("run"))
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(e.contains("training diverged") && e.contains("weight step") && e.contains("phase 1"), "{e}");
    assert!(e.contains("learning rate") && e.contains("grad_clip"), "{e}");
    // The configuration was written first, so the run can be repeated with other options.
    assert!(dir.join("run/config.json").exists());
    // The lock is released and its file removed on an error too.
    assert!(!dir.join("run").join(LOCK_FILE).exists());
}
