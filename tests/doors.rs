//! One engine behind every door: the Rust engine, the command line, the C ABI and the
//! Python binding (over ctypes) give the same verdict for a failed ONNX Runtime check
//! of `best.onnx`, a missing ONNX Runtime, a bad learning rate and a bad progress
//! fraction.
//!
//! The ONNX verdicts need their own process (ONNX Runtime is loaded once per process,
//! and the tolerance is read from the environment): the engine and the C ABI run in a
//! child of this test binary (the test `child`, which does nothing unless
//! `DENSENAS_DOOR` names a door), the command line and Python in their own.
//! `DENSENAS_ONNX_TOLERANCE=0` asks for the engine's logits to the bit, which ONNX
//! Runtime's float32 sums, taken in another order, do not give: a genuine failed check.
//! Needs `libdensenas.so` built beside the binary (`cargo build --release`) and the
//! `.venv` of scripts/setup.sh for Python.

mod common;

use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::ptr::null_mut;

use densenas::internal::ffi::error::densenas_last_error_message;
use densenas::internal::ffi::densenas_progress_kind;
use densenas::internal::ffi::search::{densenas_progress, densenas_search_run, densenas_search_run_with_options};
use densenas::internal::ffi::session::*;
use densenas::internal::ffi::space::*;
use densenas::internal::ffi::string::densenas_string_free;
use densenas::internal::ffi::densenas_status::*;
use densenas::{ErrorKind, OnnxCheck, SearchConfig, Session, SessionOptions, Space, SpaceConfig};
use serde_json::{json, Value};

/// A search of a few seconds on the embedded digits.
const CONFIG: &str = r#"{"space": {"layers": 2, "width": 8, "blocks": 2}, "phases": 1, "epochs": 1, "retrain": {"epochs": 1}, "session": {"seed": 4}}"#;
const MISSING_ORT: &str = "/nonexistent/libonnxruntime.so";
const SPACE: &str = r#"{"features": 5, "classes": 3, "layers": 2, "width": 8, "blocks": 2}"#;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn library() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_densenas")).parent().unwrap().join("libdensenas.so")
}

fn python() -> Command {
    let mut cmd = Command::new(root().join(".venv/bin/python"));
    cmd.env("DENSENAS_LIBRARY", library())
        .env("PYTHONPATH", root().join("bindings/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("OMP_NUM_THREADS", "1");
    cmd
}

fn last_error() -> String {
    unsafe {
        let n = densenas_last_error_message(null_mut(), 0);
        let mut buf = vec![0 as c_char; n + 1];
        densenas_last_error_message(buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_str().unwrap().to_string()
    }
}

/// What a door said about a search into a run folder: whether it succeeded, the status
/// (its C name), the message with the run folder written as `<DIR>`, and the `onnx`
/// entry of the `summary.json` it left.
#[derive(Debug, PartialEq)]
struct Verdict {
    ok: bool,
    status: String,
    message: String,
    onnx: Value,
}

impl Verdict {
    fn new(ok: bool, status: &str, message: &str, dir: &Path) -> Verdict {
        let summary: Value = std::fs::read_to_string(dir.join("summary.json"))
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or(Value::Null);
        let hide = |s: &str| s.replace(dir.to_str().unwrap(), "<DIR>");
        let onnx = serde_json::from_str(&hide(&summary["onnx"].to_string())).unwrap();
        Verdict { ok, status: status.to_string(), message: hide(message).trim().to_string(), onnx }
    }

    fn print(&self) {
        println!("VERDICT {}", json!({"ok": self.ok, "status": self.status, "message": self.message, "onnx": self.onnx}));
    }

    fn parse(out: &Output) -> Verdict {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().find_map(|l| l.split_once("VERDICT ").map(|(_, v)| v)).unwrap_or_else(|| {
            panic!("no verdict:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
        });
        let v: Value = serde_json::from_str(line).unwrap();
        Verdict {
            ok: v["ok"].as_bool().unwrap(),
            status: v["status"].as_str().unwrap().into(),
            message: v["message"].as_str().unwrap().into(),
            onnx: v["onnx"].clone(),
        }
    }
}

/// The C name of an engine error's kind, as the C ABI reports it.
fn c_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Check => "DENSENAS_STATUS_CHECK_FAILED",
        ErrorKind::Input => "DENSENAS_STATUS_INVALID_INPUT",
        ErrorKind::Config => "DENSENAS_STATUS_INVALID_CONFIG",
        ErrorKind::RuntimeMissing => "DENSENAS_STATUS_RUNTIME_MISSING",
        other => panic!("unexpected kind {other:?}"),
    }
}

/// The child process of [`door`]: the search of `CONFIG` into `DENSENAS_DOOR_DIR` through
/// the engine or the C ABI, its verdict printed. Does nothing in a plain test run.
#[test]
fn child() {
    let (Ok(door), Ok(dir)) = (std::env::var("DENSENAS_DOOR"), std::env::var("DENSENAS_DOOR_DIR")) else { return };
    let dir = PathBuf::from(dir);
    let verdict = match door.as_str() {
        "engine" => {
            let config = SearchConfig::from_json(CONFIG).unwrap();
            let quiet = &mut |_: densenas::search::Event<'_>| {};
            let stop = std::sync::atomic::AtomicBool::new(false);
            let mut control = densenas::search::Control { on_event: quiet, stop: &stop };
            match densenas::search_in_folder(&dir, &config, &mut control, false, false) {
                Ok(_) => Verdict::new(true, "DENSENAS_STATUS_OK", "", &dir),
                Err(e) => Verdict::new(false, c_name(e.kind()), &e.to_string(), &dir),
            }
        }
        "c" => {
            let (config, out_dir) = (CString::new(CONFIG).unwrap(), CString::new(dir.to_str().unwrap()).unwrap());
            let mut summary = null_mut();
            let status = unsafe { densenas_search_run(config.as_ptr(), out_dir.as_ptr(), None, null_mut(), &mut summary) };
            let name = unsafe { CStr::from_ptr(densenas::internal::ffi::error::densenas_status_name(status as u32)) };
            let message = if status == DENSENAS_STATUS_OK { String::new() } else { last_error() };
            unsafe { densenas_string_free(summary) };
            Verdict::new(status == DENSENAS_STATUS_OK, name.to_str().unwrap(), &message, &dir)
        }
        "engine-resume" => {
            let config = SearchConfig::from_json(TWO_PHASES).unwrap();
            let stop = std::sync::atomic::AtomicBool::new(false);
            let mut at_phase = |e: densenas::search::Event<'_>| {
                if matches!(e, densenas::search::Event::Phase(_)) {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            };
            let mut control = densenas::search::Control { on_event: &mut at_phase, stop: &stop };
            let first = densenas::search_in_folder(&dir, &config, &mut control, false, false).unwrap();
            assert!(first.outcome.summary.interrupted && dir.join("checkpoints").is_dir());
            std::env::set_var("DENSENAS_ONNX_TOLERANCE", "0");
            let stop = std::sync::atomic::AtomicBool::new(false);
            let mut control = densenas::search::Control { on_event: &mut |_| {}, stop: &stop };
            match densenas::resume_in_folder(&dir, None, &mut control, false) {
                Ok(_) => Verdict::new(true, "DENSENAS_STATUS_OK", "", &dir),
                Err(e) => Verdict::new(false, c_name(e.kind()), &e.to_string(), &dir),
            }
        }
        "c-resume" => {
            let (config, out_dir) = (CString::new(TWO_PHASES).unwrap(), CString::new(dir.to_str().unwrap()).unwrap());
            let mut summary = null_mut();
            let status = unsafe { densenas_search_run(config.as_ptr(), out_dir.as_ptr(), Some(stop_at_phase), null_mut(), &mut summary) };
            assert_eq!(status, DENSENAS_STATUS_OK, "{}", last_error());
            unsafe { densenas_string_free(summary) };
            assert!(dir.join("checkpoints").is_dir());
            std::env::set_var("DENSENAS_ONNX_TOLERANCE", "0");
            let resume = CString::new(r#"{"resume": true}"#).unwrap();
            let mut summary = null_mut();
            let status = unsafe {
                densenas_search_run_with_options(std::ptr::null(), out_dir.as_ptr(), resume.as_ptr(), None, null_mut(), &mut summary)
            };
            let name = unsafe { CStr::from_ptr(densenas::internal::ffi::error::densenas_status_name(status as u32)) };
            let message = if status == DENSENAS_STATUS_OK { String::new() } else { last_error() };
            unsafe { densenas_string_free(summary) };
            Verdict::new(status == DENSENAS_STATUS_OK, name.to_str().unwrap(), &message, &dir)
        }
        other => panic!("unknown door {other}"),
    };
    verdict.print();
}

/// Asks a search to stop at its first phase report.
unsafe extern "C" fn stop_at_phase(p: *const densenas_progress, _: *mut std::ffi::c_void) -> i32 {
    i32::from(unsafe { (*p).kind } == densenas_progress_kind::DENSENAS_PROGRESS_PHASE as u32)
}

/// A search of two phases, for stopping after the first and resuming.
const TWO_PHASES: &str = r#"{"space": {"layers": 2, "width": 8, "blocks": 2}, "phases": 2, "epochs": 1, "retrain": {"epochs": 1}, "session": {"seed": 4}}"#;

/// The verdict of a search into a fresh folder through `door` with `env` set.
fn door(door: &str, env: &[(&str, &str)]) -> (Verdict, PathBuf) {
    let dir = common::temp_dir(&format!("doors-{door}-{}", env.iter().map(|e| e.0).collect::<Vec<_>>().join("-")));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cmd = match door {
        "engine" | "c" | "engine-resume" | "c-resume" => {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["child", "--exact", "--nocapture", "--test-threads", "1"]).env("DENSENAS_DOOR", door);
            cmd
        }
        "cli" => {
            let config = common::temp_dir("doors-config").join("config.json");
            std::fs::write(&config, CONFIG).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_densenas"));
            cmd.args(["search", "--quiet", "--config"]).arg(config).arg("--out").arg(&dir);
            cmd
        }
        "python" => {
            let mut cmd = python();
            cmd.arg("-c").arg(PYTHON_SEARCH).arg(CONFIG).arg(&dir);
            cmd
        }
        "python-resume" => {
            let mut cmd = python();
            cmd.arg("-c").arg(PYTHON_SEARCH).arg(TWO_PHASES).arg(&dir).arg("resume");
            cmd
        }
        other => panic!("unknown door {other}"),
    };
    cmd.env("DENSENAS_DOOR_DIR", &dir).env("OMP_NUM_THREADS", "1").env_remove("DENSENAS_ONNX_TOLERANCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let verdict = match door {
        "cli" => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let message = stderr.lines().find_map(|l| l.strip_prefix("densenas: error: ")).unwrap_or("");
            let status = if out.status.success() { "DENSENAS_STATUS_OK" } else { "exit status 1" };
            Verdict::new(out.status.success(), status, message, &dir)
        }
        _ => Verdict::parse(&out),
    };
    (verdict, dir)
}

const PYTHON_SEARCH: &str = r#"
import json, os, sys, warnings
import densenas
config, out_dir = sys.argv[1], sys.argv[2]
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if sys.argv[3:] == ["resume"]:
            first = densenas.search(json.loads(config), out_dir, progress=lambda p: p.kind == densenas.ProgressKind.PHASE)
            assert first["interrupted"], first
            os.environ["DENSENAS_ONNX_TOLERANCE"] = "0"
            densenas.resume(out_dir)
        else:
            densenas.search(json.loads(config), out_dir)
    ok, status, message = True, "DENSENAS_STATUS_OK", ""
except densenas.DensenasError as e:
    ok, status, message = False, e.status_name, e.message
    if isinstance(e, densenas.CheckFailedError) != (status == "DENSENAS_STATUS_CHECK_FAILED"):
        raise SystemExit(f"{type(e).__name__} for {status}")
onnx = None
try:
    with open(f"{out_dir}/summary.json") as f:
        onnx = json.load(f)["onnx"]
except FileNotFoundError:
    pass
print("VERDICT " + json.dumps({"ok": ok, "status": status, "message": message.replace(out_dir, "<DIR>"),
                               "onnx": json.loads(json.dumps(onnx).replace(out_dir, "<DIR>"))}))
"#;

#[test]
fn a_failed_onnx_check_is_the_same_error_behind_every_door_and_the_run_folder_is_kept() {
    let env = [("DENSENAS_ONNX_TOLERANCE", "0")];
    let (engine, dir) = door("engine", &env);
    assert!(!engine.ok && engine.status == "DENSENAS_STATUS_CHECK_FAILED", "{engine:?}");
    assert!(engine.message.starts_with("the ONNX Runtime check of <DIR>/best.onnx failed: its logits differ"), "{engine:?}");
    assert!(engine.message.ends_with("(the rest of the run folder <DIR> is written)"), "{engine:?}");
    let failed = engine.onnx["failed"].as_str().unwrap();
    assert!(failed.contains("more than the 0.000e0 allowed"), "{failed}");
    assert_eq!(engine.onnx["path"], "best.onnx");
    for f in ["best.onnx", "best.network", "history.jsonl", "best.json"] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    assert!(!dir.join("checkpoints").exists());
    for name in ["c", "python"] {
        let (verdict, _) = door(name, &env);
        assert_eq!(verdict, engine, "{name}");
    }
    let (cli, _) = door("cli", &env);
    assert_eq!((cli.ok, &cli.message, &cli.onnx), (false, &engine.message, &engine.onnx), "{cli:?}");
}

/// The resume path (a search stopped after its first phase, then resumed with the
/// tolerance 0) gives the same failed check through the engine, C and Python.
#[test]
fn a_failed_onnx_check_on_resume_is_the_same_error_behind_every_door() {
    let (engine, dir) = door("engine-resume", &[]);
    assert!(!engine.ok && engine.status == "DENSENAS_STATUS_CHECK_FAILED", "{engine:?}");
    assert!(engine.onnx["failed"].as_str().unwrap().contains("0.000e0 allowed"), "{engine:?}");
    assert!(dir.join("best.network").exists() && !dir.join("checkpoints").exists());
    for name in ["c-resume", "python-resume"] {
        let (verdict, _) = door(name, &[]);
        assert_eq!(verdict, engine, "{name}");
    }
}

#[test]
fn a_missing_onnx_runtime_is_the_same_skip_with_its_reason_behind_every_door() {
    let env = [("ORT_DYLIB_PATH", MISSING_ORT)];
    let (engine, dir) = door("engine", &env);
    assert!(engine.ok, "{engine:?}");
    let reason = engine.onnx["skipped"].as_str().unwrap().to_string();
    assert!(reason.contains(&format!("ORT_DYLIB_PATH={MISSING_ORT}")) && reason.contains("no such file"), "{reason}");
    assert!(dir.join("best.onnx").exists() && !dir.join("best.network").exists());
    for name in ["c", "cli"] {
        let (verdict, _) = door(name, &env);
        assert_eq!(verdict, engine, "{name}");
    }
    // From Python the remedy is pip's; what failed is the same.
    let (py, _) = door("python", &env);
    assert!(py.ok && py.onnx["path"] == "best.onnx", "{py:?}");
    let what = reason.split(';').next().unwrap();
    assert!(py.onnx["skipped"].as_str().unwrap().starts_with(what) && py.onnx["skipped"].as_str().unwrap().contains("pip install"), "{py:?}");
}

/// The refusal of each bad value of a setter through the engine, the C ABI and Python:
/// (status, message) per value, and the session unchanged after it.
#[test]
fn bad_learning_rates_and_progress_fractions_get_the_same_refusal_behind_every_door() {
    let space: Space = SpaceConfig::from_json(SPACE).unwrap();
    let mut session = Session::new(&space, SessionOptions::from_json("{}").unwrap(), densenas::Normalization::identity(5)).unwrap();
    let bad_lr = [f64::NAN, -0.5, f64::INFINITY];
    let bad_progress = [1.5, -0.1, f64::NAN];
    let mut engine = Vec::new();
    session.set_progress(0.25).unwrap();
    for lr in bad_lr {
        let e = session.set_weight_lr(lr).unwrap_err();
        engine.push((c_name(e.kind()).to_string(), e.to_string()));
    }
    for p in bad_progress {
        let e = session.set_progress(p).unwrap_err();
        engine.push((c_name(e.kind()).to_string(), e.to_string()));
        assert_eq!(session.progress(), 0.25, "a refused fraction leaves the progress as it was");
    }
    assert!(engine.iter().all(|(s, _)| s == "DENSENAS_STATUS_INVALID_INPUT"), "{engine:?}");
    assert_eq!(engine[0].1, "invalid input: learning rate is NaN: it must be finite and non-negative");
    assert_eq!(engine[3].1, "invalid input: fraction is 1.5, outside [0, 1]");

    let mut c = Vec::new();
    unsafe {
        let (json, options) = (CString::new(SPACE).unwrap(), CString::new("{}").unwrap());
        let (mut sp, mut s) = (null_mut(), null_mut());
        assert_eq!(densenas_space_new(json.as_ptr(), &mut sp), DENSENAS_STATUS_OK);
        assert_eq!(densenas_session_new(sp, options.as_ptr(), &mut s), DENSENAS_STATUS_OK);
        for lr in bad_lr {
            let status = densenas_session_set_learning_rate(s, lr);
            c.push((format!("{status:?}"), last_error()));
        }
        for p in bad_progress {
            let status = densenas_session_set_progress(s, p);
            c.push((format!("{status:?}"), last_error()));
        }
        densenas_session_free(s);
        densenas_space_free(sp);
    }
    assert_eq!(c, engine);

    let out = python()
        .arg("-c")
        .arg(
            r#"
import json, math, sys
import densenas
session = densenas.Session(densenas.Space(json.loads(sys.argv[1])))
out = []
for setter, values in ((session.set_learning_rate, (math.nan, -0.5, math.inf)), (session.set_progress, (1.5, -0.1, math.nan))):
    for v in values:
        try:
            setter(v)
            out.append(["accepted", str(v)])
        except densenas.InvalidInputError as e:
            out.append([e.status_name, e.message])
print("REFUSALS " + json.dumps(out))
"#,
        )
        .arg(SPACE)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("REFUSALS ")).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let python: Vec<(String, String)> = serde_json::from_str(line).unwrap();
    assert_eq!(python, engine);
}

/// A learning rate out of range in a search's configuration: the same refusal, naming
/// the key, from the engine, the C ABI, the command line and Python (the command line
/// has no setter of a session; this is its door for the learning rate).
#[test]
fn a_bad_configured_learning_rate_gets_the_same_refusal_behind_every_door() {
    let config = r#"{"session": {"weight_optimizer": {"kind": "sgd", "lr": -1}}}"#;
    let engine = SearchConfig::from_json(config).and_then(|c| c.validate().map(|_| c)).unwrap_err();
    assert_eq!(engine.kind(), ErrorKind::Config);
    let message = engine.to_string();
    assert!(message.contains("session.weight_optimizer.lr"), "{message}");

    let json = CString::new(config).unwrap();
    let mut summary = null_mut();
    let status = unsafe { densenas_search_run(json.as_ptr(), null_mut::<c_char>(), None, null_mut(), &mut summary) };
    assert_eq!((status, last_error()), (DENSENAS_STATUS_INVALID_CONFIG, message.clone()));

    let file = common::temp_dir("doors-bad-lr").join("config.json");
    std::fs::write(&file, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_densenas")).args(["search", "--quiet", "--config"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The command line names the file before the key.
    let detail = message.strip_prefix("invalid configuration: ").unwrap();
    assert!(!out.status.success() && stderr.contains(&format!("invalid configuration: {}: {detail}", file.display())), "{stderr}");

    let out = python()
        .arg("-c")
        .arg("import json, sys, densenas\ntry:\n    densenas.search(json.loads(sys.argv[1]))\nexcept densenas.InvalidConfigError as e:\n    print('REFUSAL ' + e.message)")
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim().strip_prefix("REFUSAL "), Some(message.as_str()), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `SessionOptions::from_json` refuses what the C ABI refuses, with the same message.
#[test]
fn session_options_from_json_refuses_what_the_c_abi_refuses() {
    let space_json = CString::new(SPACE).unwrap();
    let mut sp = null_mut();
    assert_eq!(unsafe { densenas_space_new(space_json.as_ptr(), &mut sp) }, DENSENAS_STATUS_OK);
    for options in [
        r#"{"grad_clip": -1}"#,
        r#"{"weight_optimizer": {"kind": "sgd", "lr": -1}}"#,
        r#"{"arch_optimizer": {"lr": "fast"}}"#,
        r#"{"precision": "tf32"}"#,
        r#"{"strategy": "nope"}"#,
    ] {
        let engine = SessionOptions::from_json(options).unwrap_err().to_string();
        let json = CString::new(options).unwrap();
        let mut s = null_mut();
        let status = unsafe { densenas_session_new(sp, json.as_ptr(), &mut s) };
        assert_ne!(status, DENSENAS_STATUS_OK, "{options}");
        assert_eq!(last_error(), engine, "{options}");
    }
    unsafe { densenas_space_free(sp) };
}

/// The verdict `OnnxCheck` keeps: a failed check reads back as `Failed`, not as a
/// skipped or a passed one.
#[test]
fn a_failed_check_reads_back_from_a_summary_as_failed() {
    let v: OnnxCheck = serde_json::from_value(json!({"path": "best.onnx", "failed": "why"})).unwrap();
    assert_eq!(v, OnnxCheck::Failed { path: "best.onnx".into(), failed: "why".into() });
    let v: OnnxCheck = serde_json::from_value(json!({"path": "best.onnx", "skipped": "why"})).unwrap();
    assert!(v.skip_notice().is_some());
}
