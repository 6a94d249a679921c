//! The C ABI called as C would call it: every export with each bad input gets a non-OK
//! status and a message, leaves its outputs (filled with sentinels) unchanged, and the
//! session goes on exactly as a twin that never saw the bad call; handles, strings,
//! threads, the last-error buffer and a whole search with a stopping callback.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr::{null, null_mut};

use densenas::internal::ffi::dataset::*;
use densenas::internal::ffi::error::*;
use densenas::internal::ffi::search::*;
use densenas::internal::ffi::session::*;
use densenas::internal::ffi::space::*;
use densenas::internal::ffi::string::*;
use densenas::internal::ffi::{densenas_status, densenas_status::*, densenas_version};

const SPACE: &str = r#"{"features": 64, "classes": 10, "layers": 3, "width": 16, "blocks": 3}"#;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    unsafe {
        let n = densenas_last_error_message(null_mut(), 0);
        let mut buf = vec![0 as c_char; n + 1];
        assert_eq!(densenas_last_error_message(buf.as_mut_ptr(), buf.len()), n);
        CStr::from_ptr(buf.as_ptr()).to_str().unwrap().to_string()
    }
}

/// Asserts a failure with `status` whose message contains `needle`.
fn fails(got: densenas_status, status: densenas_status, needle: &str) {
    assert_eq!(got, status, "message: {}", last_error());
    let m = last_error();
    assert!(m.contains(needle), "message {m:?} lacks {needle:?}");
}

struct Digits {
    x: Vec<f32>,
    y: Vec<i64>,
}

fn digits() -> Digits {
    let mut ds = null_mut();
    unsafe {
        assert_eq!(densenas_dataset_load(c("digits").as_ptr(), 0.5, 0, &mut ds), DENSENAS_STATUS_OK);
        let (mut x, mut y, mut n) = (null(), null(), 0usize);
        assert_eq!(densenas_dataset_split(ds, 1, &mut x, &mut y, &mut n), DENSENAS_STATUS_OK);
        let d = Digits { x: std::slice::from_raw_parts(x, n * 64).to_vec(), y: std::slice::from_raw_parts(y, n).to_vec() };
        densenas_dataset_free(ds);
        d
    }
}

fn new_space() -> *mut densenas_space {
    let mut space = null_mut();
    assert_eq!(unsafe { densenas_space_new(c(SPACE).as_ptr(), &mut space) }, DENSENAS_STATUS_OK);
    space
}

fn new_session(seed: u64) -> *mut densenas_session {
    let space = new_space();
    let mut s = null_mut();
    let mut ds = null_mut();
    let opts = c(&format!(r#"{{"strategy": "darts", "seed": {seed}}}"#));
    unsafe {
        assert_eq!(densenas_dataset_load(c("digits").as_ptr(), 0.5, 0, &mut ds), DENSENAS_STATUS_OK);
        assert_eq!(densenas_session_new_for_dataset(space, opts.as_ptr(), ds, &mut s), DENSENAS_STATUS_OK);
        densenas_dataset_free(ds);
    }
    // Freeing the space first is safe: the session keeps what it needs.
    unsafe { densenas_space_free(space) };
    s
}

/// A weight step and an architecture step on rows `start..start+b`; their losses.
fn steps(s: *mut densenas_session, d: &Digits, start: usize, b: usize) -> (f32, f32) {
    let (mut lw, mut la) = (0f32, 0f32);
    unsafe {
        let x = d.x[start * 64..].as_ptr();
        let y = d.y[start..].as_ptr();
        assert_eq!(densenas_session_step_weights(s, x, b * 64, y, b, &mut lw), DENSENAS_STATUS_OK, "{}", last_error());
        assert_eq!(densenas_session_step_architecture(s, x, b * 64, y, b, &mut la), DENSENAS_STATUS_OK);
    }
    (lw, la)
}

#[test]
fn version_status_names_and_the_last_error_buffer() {
    let v = unsafe { CStr::from_ptr(densenas_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let name = |s: u32| unsafe { CStr::from_ptr(densenas_status_name(s)) }.to_str().unwrap().to_string();
    assert_eq!(name(0), "DENSENAS_STATUS_OK");
    assert_eq!(name(DENSENAS_STATUS_INVALID_INPUT as u32), "DENSENAS_STATUS_INVALID_INPUT");
    assert_eq!(name(999), "DENSENAS_STATUS_UNKNOWN");
    // snprintf semantics.
    let mut out = null_mut();
    let bad = c(r#"{"features": 0}"#);
    assert_ne!(unsafe { densenas_space_new(bad.as_ptr(), &mut out) }, DENSENAS_STATUS_OK);
    let full = last_error();
    let n = unsafe { densenas_last_error_message(null_mut(), 0) };
    assert_eq!(n, full.len());
    let mut small = [0x7f as c_char; 8];
    assert_eq!(unsafe { densenas_last_error_message(small.as_mut_ptr(), 5) }, n);
    assert_eq!(unsafe { CStr::from_ptr(small.as_ptr()) }.to_str().unwrap(), &full[..4]);
    assert_eq!(small[5], 0x7f, "wrote past len");
    // The message is per thread.
    let other = std::thread::spawn(|| unsafe { densenas_last_error_message(null_mut(), 0) }).join().unwrap();
    assert_eq!(other, 0);
}

#[test]
fn bad_configurations_get_clear_errors_and_no_handle() {
    let sentinel = 0x1234 as *mut densenas_space;
    for (json, needle) in [
        ("{not json", "invalid configuration"),
        (r#"{"features": 64, "classes": 10, "layers": 3, "width": 16, "colour": 1}"#, "unknown field `colour`"),
        (r#"{"features": 64, "classes": 10, "layers": 99, "width": 16}"#, "layers"),
        (r#"{"features": 64, "classes": 10, "layers": 3, "width": 16, "max_skip": 5}"#, "max_skip"),
    ] {
        let mut out = sentinel;
        fails(unsafe { densenas_space_new(c(json).as_ptr(), &mut out) }, DENSENAS_STATUS_INVALID_CONFIG, needle);
        assert_eq!(out, sentinel);
    }
    let space = new_space();
    let sentinel = 0x5678 as *mut densenas_session;
    for (json, needle) in [
        (r#"{"strategy": "nope"}"#, "nope"),
        (r#"{"seed": 1, "extra": true}"#, "unknown field `extra`"),
        (r#"{"density": {"eta": 2.0}}"#, "density.eta"),
        (r#"{"seed": -1}"#, "expected u64"),
        ("[]", "invalid"),
        (r#"{"strategy": "drnas", "beta_reg": 1}"#, "beta_reg"),
        (r#"{"strategy": "darts-plus", "strategy_options": {"darts_plus": {"patience": 0}}}"#, "darts_plus.patience"),
    ] {
        let mut out = sentinel;
        fails(unsafe { densenas_session_new(space, c(json).as_ptr(), &mut out) }, DENSENAS_STATUS_INVALID_CONFIG, needle);
        assert_eq!(out, sentinel);
    }
    let mut plus = null_mut();
    let opts = c(r#"{"strategy": "darts-plus", "beta_reg": 0.5, "strategy_options": {"darts_plus": {"top_n": 2}}}"#);
    assert_eq!(unsafe { densenas_session_new(space, opts.as_ptr(), &mut plus) }, DENSENAS_STATUS_OK);
    unsafe { densenas_session_free(plus) };
    let mut out = sentinel;
    fails(unsafe { densenas_session_new(space, c(r#"{"device": "cuda"}"#).as_ptr(), &mut out) }, DENSENAS_STATUS_UNAVAILABLE, "cuda");
    let mut narrow = null_mut();
    let narrow_cfg = c(r#"{"features": 8, "classes": 10, "layers": 2, "width": 4}"#);
    let mut ds = null_mut();
    unsafe {
        assert_eq!(densenas_space_new(narrow_cfg.as_ptr(), &mut narrow), DENSENAS_STATUS_OK);
        assert_eq!(densenas_dataset_load(c("digits").as_ptr(), 0.5, 0, &mut ds), DENSENAS_STATUS_OK);
        fails(densenas_session_new_for_dataset(narrow, c("{}").as_ptr(), ds, &mut out), DENSENAS_STATUS_INVALID_INPUT, "64 features");
        densenas_space_free(narrow);
        densenas_dataset_free(ds);
    }
    assert_eq!(out, sentinel);
    // Invalid UTF-8.
    let bytes = [0xffu8, 0xfe, 0];
    fails(unsafe { densenas_space_new(bytes.as_ptr().cast(), &mut null_mut()) }, DENSENAS_STATUS_INVALID_INPUT, "UTF-8");
    unsafe { densenas_space_free(space) };
}

#[test]
fn null_pointers_are_refused_everywhere() {
    let d = digits();
    let s = new_session(0);
    let space = new_space();
    let mut ds = null_mut();
    assert_eq!(unsafe { densenas_dataset_load(c("digits").as_ptr(), 0.5, 0, &mut ds) }, DENSENAS_STATUS_OK);
    let (x, y) = (d.x.as_ptr(), d.y.as_ptr());
    let mut f = -7f32;
    let mut g = -7f64;
    let mut h = -7f64;
    let mut n = 77usize;
    let mut m = 77usize;
    let mut str_out: *mut c_char = 0x9 as *mut c_char;
    let cfg = c(SPACE);
    let null_cases: Vec<(densenas_status, &str)> = unsafe {
        vec![
            (densenas_space_new(null(), &mut null_mut()), "config_json"),
            (densenas_space_new(cfg.as_ptr(), null_mut()), "out"),
            (densenas_space_features(null(), &mut n), "space"),
            (densenas_space_classes(space, null_mut()), "out"),
            (densenas_session_new(null(), c("{}").as_ptr(), &mut null_mut()), "space"),
            (densenas_session_new(space, null(), &mut null_mut()), "options_json"),
            (densenas_session_new(space, c("{}").as_ptr(), null_mut()), "out"),
            (densenas_session_new_for_dataset(space, c("{}").as_ptr(), null(), &mut null_mut()), "dataset"),
            (densenas_session_new_for_dataset(null(), c("{}").as_ptr(), ds, &mut null_mut()), "space"),
            (densenas_session_new_for_dataset(space, null(), ds, &mut null_mut()), "options_json"),
            (densenas_session_new_for_dataset(space, c("{}").as_ptr(), ds, null_mut()), "out"),
            (densenas_session_step_weights(null_mut(), x, 64, y, 1, &mut f), "session"),
            (densenas_session_step_weights(s, null(), 64, y, 1, &mut f), "x"),
            (densenas_session_step_weights(s, x, 64, null(), 1, &mut f), "y"),
            (densenas_session_step_weights(s, x, 64, y, 1, null_mut()), "loss_out"),
            (densenas_session_step_architecture(null_mut(), x, 64, y, 1, &mut f), "session"),
            (densenas_session_step_architecture(s, null(), 64, y, 1, &mut f), "x"),
            (densenas_session_step_architecture(s, x, 64, null(), 1, &mut f), "y"),
            (densenas_session_step_architecture(s, x, 64, y, 1, null_mut()), "loss_out"),
            (densenas_session_end_phase(null_mut(), x, 64, y, 1, &mut g), "session"),
            (densenas_session_end_phase(s, null(), 64, y, 1, &mut g), "x"),
            (densenas_session_end_phase(s, x, 64, null(), 1, &mut g), "y"),
            (densenas_session_end_phase(s, x, 64, y, 1, null_mut()), "best_val_accuracy_out"),
            (densenas_session_evaluate(null(), x, 64, y, 1, &mut g, &mut h), "session"),
            (densenas_session_evaluate(s, null(), 64, y, 1, &mut g, &mut h), "x"),
            (densenas_session_evaluate(s, x, 64, null(), 1, &mut g, &mut h), "y"),
            (densenas_session_evaluate(s, x, 64, y, 1, null_mut(), &mut h), "accuracy_out"),
            (densenas_session_evaluate(s, x, 64, y, 1, &mut g, null_mut()), "loss_out"),
            (densenas_session_predict(null(), x, 64, 1, &mut f, 10), "session"),
            (densenas_session_predict(s, null(), 64, 1, &mut f, 10), "x"),
            (densenas_session_predict(s, x, 64, 1, null_mut(), 10), "logits_out"),
            (densenas_session_set_progress(null_mut(), 0.5), "session"),
            (densenas_session_set_learning_rate(null_mut(), 0.01), "session"),
            (densenas_session_blocks(null(), &mut n), "session"),
            (densenas_session_blocks(s, null_mut()), "out"),
            (densenas_session_alpha(null(), &mut g, 3), "session"),
            (densenas_session_alpha(s, null_mut(), 3), "out"),
            (densenas_session_best_dag_json(null(), &mut str_out), "session"),
            (densenas_session_best_dag_json(s, null_mut()), "json_out"),
            (densenas_session_export_onnx(null(), c("/tmp/x.onnx").as_ptr()), "session"),
            (densenas_session_export_onnx(s, null()), "path"),
            (densenas_dataset_load(null(), 0.5, 0, &mut null_mut()), "spec"),
            (densenas_dataset_load(c("digits").as_ptr(), 0.5, 0, null_mut()), "out"),
            (densenas_dataset_shape(null(), &mut n, &mut m), "dataset"),
            (densenas_dataset_shape(ds, null_mut(), &mut m), "features_out"),
            (densenas_dataset_shape(ds, &mut n, null_mut()), "classes_out"),
            (densenas_dataset_split(null(), 0, &mut null(), &mut null(), &mut n), "dataset"),
            (densenas_dataset_split(ds, 0, null_mut(), &mut null(), &mut n), "x_out"),
            (densenas_dataset_split(ds, 0, &mut null(), null_mut(), &mut n), "y_out"),
            (densenas_dataset_split(ds, 0, &mut null(), &mut null(), null_mut()), "n_out"),
            (densenas_search_run(null(), null(), None, null_mut(), &mut str_out), "config_json"),
            (densenas_search_run(c("{}").as_ptr(), null(), None, null_mut(), null_mut()), "summary_json_out"),
        ]
    };
    for (i, (status, name)) in null_cases.into_iter().enumerate() {
        assert_eq!(status, DENSENAS_STATUS_NULL_PARAMETER, "case {i} ({name})");
    }
    // Messages name the parameter (checked on one call of each kind here).
    fails(unsafe { densenas_session_step_weights(s, x, 64, y, 1, null_mut()) }, DENSENAS_STATUS_NULL_PARAMETER, "loss_out is NULL");
    assert_eq!((f, g, h, n, m, str_out), (-7.0, -7.0, -7.0, 77, 77, 0x9 as *mut c_char), "an output was written");
    // _free(NULL) is a no-op.
    unsafe {
        densenas_space_free(null_mut());
        densenas_session_free(null_mut());
        densenas_dataset_free(null_mut());
        densenas_string_free(null_mut());
        densenas_space_free(space);
        densenas_dataset_free(ds);
        densenas_session_free(s);
    }
}

#[test]
fn bad_batches_leave_outputs_and_the_session_untouched() {
    let d = digits();
    let s = new_session(3);
    let twin = new_session(3);
    let b = 16;
    let x = d.x.as_ptr();
    let y = d.y.as_ptr();
    let mut nan_x = d.x[..b * 64].to_vec();
    nan_x[70] = f32::NAN;
    let mut inf_x = d.x[..b * 64].to_vec();
    inf_x[5] = f32::INFINITY;
    let mut y_neg = d.y[..b].to_vec();
    y_neg[2] = -1;
    let mut y_c = d.y[..b].to_vec();
    y_c[3] = 10;
    let mut y_big = d.y[..b].to_vec();
    y_big[4] = 1 << 40;
    type Step = unsafe extern "C" fn(*mut densenas_session, *const f32, usize, *const i64, usize, *mut f32) -> densenas_status;
    for (which, step) in [("weights", densenas_session_step_weights as Step), ("architecture", densenas_session_step_architecture as Step)] {
        let cases: Vec<(*const f32, usize, *const i64, usize, &str)> = vec![
            (x, b * 64 - 1, y, b, "x_len"),
            (x, b * 64 + 64, y, b, "x_len"),
            (x, 0, y, 0, "batch of 0"),
            (nan_x.as_ptr(), b * 64, y, b, "NaN"),
            (inf_x.as_ptr(), b * 64, y, b, "inf"),
            (x, b * 64, y_neg.as_ptr(), b, "outside 0..10"),
            (x, b * 64, y_c.as_ptr(), b, "outside 0..10"),
            (x, b * 64, y_big.as_ptr(), b, "outside 0..10"),
        ];
        for (xp, xl, yp, bs, needle) in cases {
            let mut loss = -99f32;
            fails(unsafe { step(s, xp, xl, yp, bs, &mut loss) }, DENSENAS_STATUS_INVALID_INPUT, needle);
            assert_eq!(loss, -99.0, "{which}: loss_out written on failure");
        }
    }
    let mut acc = -1f64;
    fails(unsafe { densenas_session_end_phase(s, x, 64 * b, y_c.as_ptr(), b, &mut acc) }, DENSENAS_STATUS_INVALID_INPUT, "outside");
    let mut loss = -1f64;
    fails(unsafe { densenas_session_evaluate(s, nan_x.as_ptr(), 64 * b, y, b, &mut acc, &mut loss) }, DENSENAS_STATUS_INVALID_INPUT, "NaN");
    let mut logits = vec![-5f32; b * 10];
    fails(unsafe { densenas_session_predict(s, x, 64 * b, b, logits.as_mut_ptr(), b * 10 - 1) }, DENSENAS_STATUS_INVALID_INPUT, "logits_len");
    fails(unsafe { densenas_session_predict(s, x, 64 * b - 1, b, logits.as_mut_ptr(), b * 10) }, DENSENAS_STATUS_INVALID_INPUT, "x_len");
    let mut alpha = [-3f64; 4];
    fails(unsafe { densenas_session_alpha(s, alpha.as_mut_ptr(), 4) }, DENSENAS_STATUS_INVALID_INPUT, "3 blocks");
    fails(unsafe { densenas_session_set_progress(s, 1.5) }, DENSENAS_STATUS_INVALID_INPUT, "outside [0, 1]");
    fails(unsafe { densenas_session_set_learning_rate(s, -0.1) }, DENSENAS_STATUS_INVALID_INPUT, "non-negative");
    fails(unsafe { densenas_session_set_learning_rate(s, f64::INFINITY) }, DENSENAS_STATUS_INVALID_INPUT, "finite");
    fails(unsafe { densenas_session_set_progress(s, f64::NAN) }, DENSENAS_STATUS_INVALID_INPUT, "outside [0, 1]");
    fails(
        unsafe { densenas_session_export_onnx(s, c("/nonexistent-dir/x.onnx").as_ptr()) },
        DENSENAS_STATUS_IO,
        "/nonexistent-dir/x.onnx",
    );
    assert_eq!((acc, loss), (-1.0, -1.0));
    assert!(logits.iter().all(|&v| v == -5.0) && alpha.iter().all(|&v| v == -3.0));
    // The session goes on exactly as its twin that never saw the bad calls.
    for k in 0..4 {
        assert_eq!(steps(s, &d, k * 32, 32), steps(twin, &d, k * 32, 32));
    }
    unsafe {
        densenas_session_free(s);
        densenas_session_free(twin);
    }
}

#[test]
fn a_session_trains_predicts_reports_and_exports() {
    let d = digits();
    let s = new_session(5);
    let n = d.y.len();
    for _ in 0..6 {
        for k in 0..(n / 64) {
            steps(s, &d, k * 64, 64);
        }
    }
    let mut k = 0usize;
    let mut alpha = [0f64; 3];
    unsafe {
        assert_eq!(densenas_session_blocks(s, &mut k), DENSENAS_STATUS_OK);
        assert_eq!(k, 3);
        assert_eq!(densenas_session_alpha(s, alpha.as_mut_ptr(), 3), DENSENAS_STATUS_OK);
    }
    assert!(alpha.iter().any(|a| a.abs() > 1e-3), "alpha did not move: {alpha:?}");
    let mut best = 0f64;
    assert_eq!(unsafe { densenas_session_end_phase(s, d.x.as_ptr(), n * 64, d.y.as_ptr(), n, &mut best) }, DENSENAS_STATUS_OK);
    assert!(best > 0.85, "best validation accuracy {best}");
    // Evaluate and predict agree with each other.
    let (mut acc, mut loss) = (0f64, 0f64);
    let mut logits = vec![0f32; n * 10];
    unsafe {
        assert_eq!(densenas_session_evaluate(s, d.x.as_ptr(), n * 64, d.y.as_ptr(), n, &mut acc, &mut loss), DENSENAS_STATUS_OK);
        assert_eq!(densenas_session_predict(s, d.x.as_ptr(), n * 64, n, logits.as_mut_ptr(), n * 10), DENSENAS_STATUS_OK);
    }
    let correct = logits.chunks(10).zip(&d.y).filter(|(r, &y)| densenas::io::classification::argmax(r) as i64 == y).count();
    assert!((correct as f64 / n as f64 - acc).abs() < 1e-9);
    // The snapshot computes what the phase judged: the same accuracy, exactly.
    assert_eq!(acc, best, "the best's accuracy on its own validation split");
    let mut json: *mut c_char = null_mut();
    assert_eq!(unsafe { densenas_session_best_dag_json(s, &mut json) }, DENSENAS_STATUS_OK);
    let v: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(json) }.to_str().unwrap()).unwrap();
    unsafe { densenas_string_free(json) };
    assert_eq!(v["val_accuracy"].as_f64().unwrap(), best);
    assert_eq!(v["layers"], 3);
    let path = std::env::temp_dir().join(format!("densenas-ffi-{}.onnx", std::process::id()));
    let p = c(path.to_str().unwrap());
    assert_eq!(unsafe { densenas_session_export_onnx(s, p.as_ptr()) }, DENSENAS_STATUS_OK);
    let model = densenas::io::ort_runtime::OnnxModel::load(&path).unwrap();
    let ort = model.logits_all(&d.x, 512).unwrap();
    let diff = ort.iter().zip(&logits).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-4, "exported model differs from predict by {diff}");
    std::fs::remove_file(path).unwrap();
    unsafe { densenas_session_free(s) };
}

#[test]
fn two_sessions_stepped_from_two_threads_give_the_results_each_gives_alone() {
    let d = std::sync::Arc::new(digits());
    let run = |seed: u64, d: std::sync::Arc<Digits>| {
        let s = new_session(seed) as usize;
        let mut losses = Vec::new();
        for k in 0..10 {
            losses.push(steps(s as *mut densenas_session, &d, k * 32, 32));
        }
        let mut best = 0f64;
        let n = d.y.len();
        unsafe {
            assert_eq!(densenas_session_end_phase(s as *mut _, d.x.as_ptr(), n * 64, d.y.as_ptr(), n, &mut best), DENSENAS_STATUS_OK);
            densenas_session_free(s as *mut _);
        }
        (losses, best)
    };
    let alone_a = run(11, d.clone());
    let alone_b = run(12, d.clone());
    let (da, db) = (d.clone(), d.clone());
    let ta = std::thread::spawn(move || run(11, da));
    let tb = std::thread::spawn(move || run(12, db));
    assert_eq!(ta.join().unwrap(), alone_a);
    assert_eq!(tb.join().unwrap(), alone_b);
    assert_ne!(alone_a, alone_b);
}

#[test]
fn datasets_lend_their_splits_and_refuse_bad_specs() {
    let mut ds = null_mut();
    unsafe {
        assert_eq!(densenas_dataset_load(c("digits").as_ptr(), 0.5, 0, &mut ds), DENSENAS_STATUS_OK);
        let (mut f, mut k) = (0, 0);
        assert_eq!(densenas_dataset_shape(ds, &mut f, &mut k), DENSENAS_STATUS_OK);
        assert_eq!((f, k), (64, 10));
        let mut sizes = Vec::new();
        for which in 0..4 {
            let (mut x, mut y, mut n) = (null(), null(), 0);
            assert_eq!(densenas_dataset_split(ds, which, &mut x, &mut y, &mut n), DENSENAS_STATUS_OK);
            assert!(!x.is_null() && !y.is_null());
            sizes.push(n);
        }
        assert_eq!(sizes[0], sizes[1] + sizes[2]);
        assert_eq!((sizes[0], sizes[3]), (1438, 359));
        let (mut x, mut y, mut n) = (null(), null(), 5usize);
        fails(densenas_dataset_split(ds, 4, &mut x, &mut y, &mut n), DENSENAS_STATUS_INVALID_INPUT, "unknown split 4");
        assert_eq!(n, 5);
        densenas_dataset_free(ds);
        let mut out = 0x1 as *mut densenas_dataset;
        fails(densenas_dataset_load(c("nowhere").as_ptr(), 0.5, 0, &mut out), DENSENAS_STATUS_INVALID_CONFIG, "nowhere");
        fails(densenas_dataset_load(c("digits").as_ptr(), 1.5, 0, &mut out), DENSENAS_STATUS_INVALID_CONFIG, "val_fraction");
        assert_eq!(out, 0x1 as *mut densenas_dataset);
    }
}

unsafe extern "C" fn stop_after_first_phase(p: *const densenas_progress, user: *mut c_void) -> i32 {
    let counts = unsafe { &mut *(user as *mut [usize; 3]) };
    let p = unsafe { &*p };
    counts[p.kind as usize] += 1;
    i32::from(p.kind == densenas_progress_kind::DENSENAS_PROGRESS_PHASE as u32)
}

#[test]
fn a_whole_search_reports_progress_and_stops_when_asked() {
    let config = c(r#"{"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 4, "epochs": 2, "retrain": {"epochs": 3}}"#);
    let mut counts = [0usize; 3];
    let mut summary: *mut c_char = null_mut();
    let status = unsafe {
        densenas_search_run(config.as_ptr(), null(), Some(stop_after_first_phase), (&mut counts as *mut [usize; 3]).cast(), &mut summary)
    };
    assert_eq!(status, DENSENAS_STATUS_OK, "{}", last_error());
    let v: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(summary) }.to_str().unwrap()).unwrap();
    unsafe { densenas_string_free(summary) };
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["phases"].as_array().unwrap().len(), 1);
    assert_eq!(counts, [2, 1, 0], "epochs, phases, retraining epochs reported");
    // Unstopped, with a run folder.
    let dir = std::env::temp_dir().join(format!("densenas-ffi-run-{}", std::process::id()));
    let mut summary: *mut c_char = null_mut();
    let cfg = c(r#"{"space": {"layers": 3, "width": 16, "blocks": 3}, "phases": 2, "epochs": 2, "retrain": {"epochs": 3}}"#);
    let out = c(dir.to_str().unwrap());
    assert_eq!(unsafe { densenas_search_run(cfg.as_ptr(), out.as_ptr(), None, null_mut(), &mut summary) }, DENSENAS_STATUS_OK);
    let v: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(summary) }.to_str().unwrap()).unwrap();
    unsafe { densenas_string_free(summary) };
    assert_eq!(v["interrupted"], false);
    assert!(v["onnx"]["max_abs_diff"].as_f64().unwrap() < 1e-4);
    assert!(dir.join("best.onnx").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    // Bad configurations.
    let mut summary: *mut c_char = 0x3 as *mut c_char;
    for (json, needle) in [(r#"{"phases": 0}"#, "phases"), (r#"{"space": {"depth": 3}}"#, "unknown field `depth`"), ("{", "invalid")] {
        fails(unsafe { densenas_search_run(c(json).as_ptr(), null(), None, null_mut(), &mut summary) }, DENSENAS_STATUS_INVALID_CONFIG, needle);
    }
    assert_eq!(summary, 0x3 as *mut c_char);
}

#[test]
fn a_typed_space_through_the_c_abi_trains_reports_its_ops_and_exports() {
    let d = digits();
    let n = d.y.len();
    let json = r#"{"features": 64, "classes": 10, "layers": 3, "width": 32, "blocks": 3,
        "shape": [2, 4, 4], "input_shape": [1, 8, 8], "stem": "conv",
        "ops": ["dense", "conv3x3", "avgpool3x3", "maxpool3x3", "identity"]}"#;
    let mut space = null_mut();
    assert_eq!(unsafe { densenas_space_new(c(json).as_ptr(), &mut space) }, DENSENAS_STATUS_OK, "{}", last_error());
    // Each typed key's error names it.
    for (bad, needle) in [
        (r#""shape": [2, 4, 5]"#, "shape:"),
        (r#""ops": ["conv3x3"]"#, "ops:"),
        (r#""ops": ["pool"]"#, "unknown op"),
    ] {
        let j = format!(r#"{{"features": 64, "classes": 10, "layers": 3, "width": 32, {bad}}}"#);
        let mut out = null_mut();
        fails(unsafe { densenas_space_new(c(&j).as_ptr(), &mut out) }, DENSENAS_STATUS_INVALID_CONFIG, needle);
        assert!(out.is_null());
    }
    let mut s = null_mut();
    let mut ds = null_mut();
    unsafe {
        assert_eq!(densenas_dataset_load(c("digits").as_ptr(), 0.5, 0, &mut ds), DENSENAS_STATUS_OK);
        let opts = c(r#"{"strategy": "darts", "seed": 2}"#);
        assert_eq!(densenas_session_new_for_dataset(space, opts.as_ptr(), ds, &mut s), DENSENAS_STATUS_OK, "{}", last_error());
        densenas_dataset_free(ds);
        densenas_space_free(space);
    }
    for _ in 0..4 {
        for k in 0..(n / 64) {
            steps(s, &d, k * 64, 64);
        }
    }
    let mut best = 0f64;
    assert_eq!(unsafe { densenas_session_end_phase(s, d.x.as_ptr(), n * 64, d.y.as_ptr(), n, &mut best) }, DENSENAS_STATUS_OK);
    assert!(best > 0.5, "best validation accuracy {best}");
    let mut json: *mut c_char = null_mut();
    assert_eq!(unsafe { densenas_session_best_dag_json(s, &mut json) }, DENSENAS_STATUS_OK);
    let v: serde_json::Value = serde_json::from_str(unsafe { CStr::from_ptr(json) }.to_str().unwrap()).unwrap();
    unsafe { densenas_string_free(json) };
    assert_eq!((v["shape"].clone(), v["stem"].clone()), (serde_json::json!([2, 4, 4]), serde_json::json!("conv")), "{v}");
    let dag: densenas::Dag = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(v["ops"].as_array().map_or(0, |o| o.len()), if dag.is_typed() { dag.edges().len() } else { 0 });
    let mut logits = vec![0f32; n * 10];
    assert_eq!(unsafe { densenas_session_predict(s, d.x.as_ptr(), n * 64, n, logits.as_mut_ptr(), n * 10) }, DENSENAS_STATUS_OK);
    let path = std::env::temp_dir().join(format!("densenas-ffi-typed-{}.onnx", std::process::id()));
    let p = c(path.to_str().unwrap());
    assert_eq!(unsafe { densenas_session_export_onnx(s, p.as_ptr()) }, DENSENAS_STATUS_OK, "{}", last_error());
    let model = densenas::io::ort_runtime::OnnxModel::load(&path).unwrap();
    let ort = model.logits_all(&d.x, 512).unwrap();
    let diff = ort.iter().zip(&logits).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff < 1e-4, "exported typed model differs from predict by {diff}");
    std::fs::remove_file(path).unwrap();
    unsafe { densenas_session_free(s) };
}

#[test]
fn a_finished_run_folder_is_replaced_only_with_the_overwrite_run_option() {
    let dir = std::env::temp_dir().join(format!("densenas-ffi-overwrite-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = c(dir.to_str().unwrap());
    let config = |seed: u64| {
        c(&format!(r#"{{"space": {{"layers": 2, "width": 8, "blocks": 2}}, "phases": 1, "epochs": 1, "retrain": {{"epochs": 0}}, "session": {{"seed": {seed}}}}}"#))
    };
    let run = |seed: u64, options: Option<&str>| {
        let mut summary: *mut c_char = null_mut();
        let options = options.map(c);
        let status = unsafe {
            densenas_search_run_with_options(
                config(seed).as_ptr(),
                out.as_ptr(),
                options.as_ref().map_or(null(), |o| o.as_ptr()),
                None,
                null_mut(),
                &mut summary,
            )
        };
        if !summary.is_null() {
            unsafe { densenas_string_free(summary) };
        }
        status
    };
    let seed_in_folder = || -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()["seed"].clone()
    };
    // Refused input (a width of 0) leaves no folder.
    let mut summary: *mut c_char = null_mut();
    let bad = c(r#"{"space": {"width": 0}}"#);
    fails(unsafe { densenas_search_run(bad.as_ptr(), out.as_ptr(), None, null_mut(), &mut summary) }, DENSENAS_STATUS_INVALID_CONFIG, "width");
    assert!(!dir.exists());
    assert_eq!(run(1, None), DENSENAS_STATUS_OK, "{}", last_error());
    assert!(!dir.join(".densenas.lock").exists());
    // densenas_search_run (no run options) refuses the finished run, and so does "overwrite": false.
    let mut summary: *mut c_char = null_mut();
    fails(
        unsafe { densenas_search_run(config(2).as_ptr(), out.as_ptr(), None, null_mut(), &mut summary) },
        DENSENAS_STATUS_INVALID_STATE,
        "holds a finished run",
    );
    assert!(summary.is_null());
    assert!(last_error().contains("overwrite"), "{}", last_error());
    fails(run(2, Some(r#"{"overwrite": false}"#)), DENSENAS_STATUS_INVALID_STATE, "holds a finished run");
    assert_eq!(seed_in_folder(), 1);
    assert_eq!(run(2, Some(r#"{"overwrite": true}"#)), DENSENAS_STATUS_OK, "{}", last_error());
    assert_eq!(seed_in_folder(), 2);
    fails(run(3, Some(r#"{"overwrite": 1}"#)), DENSENAS_STATUS_INVALID_CONFIG, "overwrite: invalid type");
    std::fs::remove_dir_all(&dir).unwrap();
}
