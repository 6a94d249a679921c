//! ONNX export: engine and ONNX Runtime logits agree on real data over DAGs covering the
//! chain, the full DAG, several sources and sinks, isolated vertices and long skips,
//! for every activation x aggregation x normalisation; only default-domain opset-17
//! operators; Python's onnx checker (full check) and Python onnxruntime agree; without
//! ONNX Runtime a search skips its check and says so once, with the remedy that fits the
//! command line or the Python package.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use densenas::data::{self, Dataset};
use densenas::io::export::onnx::{self, ExportMetadata, OPSET_VERSION};
use densenas::model::network::Normalization;
use densenas::io::ort_runtime::OnnxModel;
use densenas::model::space::{Activation, Aggregation, Norm};
use densenas::model::supernet::Supernet;
use densenas::{Dag, Network, Space, SpaceConfig};

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("densenas-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn dags(space: &Space) -> Vec<Dag> {
    let l = space.layers();
    let d = |e: &[(usize, usize)]| Dag::new(l, e.to_vec()).unwrap();
    vec![
        Dag::chain(l),
        Dag::full(space),
        d(&[(0, 2), (1, 4)]),         // sources 0,1,3; sinks 2,3,4; 3 isolated
        d(&[(0, 4)]),                 // skip of 4; 1,2,3 isolated
        d(&[]),                       // all isolated
        d(&[(0, 1), (0, 3), (1, 2), (2, 4), (3, 4), (1, 4)]),
    ]
}

/// Row-major rows of a dataset as a tensor.
fn rows(d: &Dataset, n: usize) -> (Vec<f32>, Tensor) {
    let n = n.min(d.len());
    let x = d.x[..n * d.features].to_vec();
    let t = Tensor::from_slice(&x).view([n as i64, d.features as i64]);
    (x, t)
}

/// Max |engine - ORT| over the logits, and the number of disagreeing predictions where
/// the engine's top two logits differ by more than 1e-3.
fn compare(engine: &Tensor, ort: &[f32], classes: usize) -> (f64, usize) {
    let e = Vec::<f32>::try_from(&engine.to_kind(Kind::Float).contiguous().view([-1])).unwrap();
    assert_eq!(e.len(), ort.len());
    let max = e.iter().zip(ort).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
    let mut bad = 0;
    for (re, ro) in e.chunks(classes).zip(ort.chunks(classes)) {
        let arg = |r: &[f32]| (0..r.len()).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap();
        let mut sorted = re.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        if sorted[0] - sorted[1] > 1e-3 && arg(re) != arg(ro) {
            bad += 1;
        }
    }
    (max, bad)
}

fn check_network(net: &Network, x_raw: &[f32], x: &Tensor, label: &str) -> Vec<f32> {
    let path = tmp(&format!("{label}.onnx"));
    onnx::write(net, &path, &ExportMetadata::default()).unwrap();
    let model = OnnxModel::load(&path).unwrap();
    assert_eq!((model.features(), model.classes()), (net.space.features(), net.space.classes()));
    let ort = model.logits_all(x_raw, 256).unwrap();
    let engine = tch::no_grad(|| net.forward(x)).unwrap();
    let (max, bad) = compare(&engine, &ort, net.space.classes());
    assert!(max < 1e-4, "{label}: engine and ONNX Runtime logits differ by {max}");
    assert_eq!(bad, 0, "{label}: {bad} predictions differ");
    ort
}

fn random_network(space: &Space, dag: &Dag, norm: &Normalization, seed: u64) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let net = Supernet::new(space, norm.clone(), Kind::Float, Device::Cpu, &mut rng).unwrap();
    net.snapshot(dag).unwrap()
}

#[test]
fn engine_and_onnx_runtime_agree_on_digits_for_every_option_and_dag_shape() {
    let splits = data::load("digits").unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let (x_raw, x) = rows(&splits.test, 359);
    let mut seed = 0;
    for act in [Activation::Relu, Activation::Gelu, Activation::Tanh, Activation::Sigmoid] {
        for agg in [Aggregation::Sum, Aggregation::Mean] {
            for n in [Norm::None, Norm::Layernorm] {
                let mut c = SpaceConfig::new(64, 10, 5, 24);
                c.activation = act;
                c.aggregation = agg;
                c.norm = n;
                let space = Space::new(c).unwrap();
                for dag in dags(&space) {
                    seed += 1;
                    let mut net = random_network(&space, &dag, &norm, seed);
                    if n == Norm::Layernorm {
                        // Make LayerNorm's scale and bias non-trivial.
                        tch::no_grad(|| {
                            for (g, b) in net.weights.layer_norm.as_mut().unwrap() {
                                let _ = g.uniform_(0.5, 1.5);
                                let _ = b.uniform_(-0.5, 0.5);
                            }
                        });
                    }
                    check_network(&net, &x_raw, &x, &format!("{act:?}-{agg:?}-{n:?}-{seed}"));
                }
            }
        }
    }
}

#[test]
fn trained_network_on_digits_agrees_and_keeps_its_accuracy() {
    let splits = data::load("digits").unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let space = Space::new(SpaceConfig::new(64, 10, 4, 64)).unwrap();
    let train = data::SplitTensors::new(&splits.train, Device::Cpu).unwrap();
    let mut config = densenas::train::TrainConfig::default();
    config.epochs = 8;
    let dag = Dag::new(4, vec![(0, 1), (0, 3), (1, 2), (2, 3)]).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let net = densenas::train::train_dag(&space, &dag, &norm, &train, &config, Kind::Float, Device::Cpu, &mut rng, &mut |_, _| {})
        .unwrap();
    let (x_raw, x) = rows(&splits.test, 359);
    let ort = check_network(&net, &x_raw, &x, "trained");
    let correct = ort
        .chunks(10)
        .zip(&splits.test.y)
        .filter(|(r, &y)| (0..10).max_by(|&a, &b| r[a].total_cmp(&r[b])).unwrap() as i64 == y)
        .count();
    assert!(correct as f64 / 359.0 > 0.93, "ONNX Runtime accuracy {correct}/359");
}

#[test]
fn engine_and_onnx_runtime_agree_on_an_mnist_subset() {
    let splits = data::load(&common::dataset_spec("mnist")).unwrap();
    let norm = Normalization::from_data(&splits.train.x[..5000 * 784], 784).unwrap();
    let (x_raw, x) = rows(&splits.test, 500);
    for (i, act) in [Activation::Relu, Activation::Gelu].into_iter().enumerate() {
        let mut c = SpaceConfig::new(784, 10, 5, 32);
        c.activation = act;
        c.norm = if i == 0 { Norm::None } else { Norm::Layernorm };
        let space = Space::new(c).unwrap();
        for (k, dag) in dags(&space).into_iter().enumerate() {
            let net = random_network(&space, &dag, &norm, 100 + k as u64);
            check_network(&net, &x_raw, &x, &format!("mnist-{i}-{k}"));
        }
    }
}

const OPSET17_OPS: &[&str] =
    &["Sub", "Div", "MatMul", "Sum", "Add", "Mul", "Relu", "Tanh", "Sigmoid", "Erf", "LayerNormalization", "Softmax"];

#[test]
fn exported_graph_uses_only_default_domain_opset_17_operators() {
    let norm = Normalization::identity(64);
    let mut c = SpaceConfig::new(64, 10, 5, 8);
    c.activation = Activation::Gelu;
    c.aggregation = Aggregation::Mean;
    c.norm = Norm::Layernorm;
    let space = Space::new(c).unwrap();
    let net = random_network(&space, &Dag::full(&space), &norm, 1);
    let model = onnx::model(&net, &ExportMetadata::default()).unwrap();
    assert_eq!(model.opset_import.len(), 1);
    assert_eq!((model.opset_import[0].domain.as_str(), model.opset_import[0].version), ("", OPSET_VERSION));
    assert_eq!(OPSET_VERSION, 17);
    let graph = model.graph.unwrap();
    for node in &graph.node {
        assert_eq!(node.domain, "", "{} is not in the default domain", node.op_type);
        assert!(OPSET17_OPS.contains(&node.op_type.as_str()), "unexpected operator {}", node.op_type);
    }
    // Every operator family of the space appears.
    for op in ["Erf", "LayerNormalization", "Softmax", "Sum", "Div"] {
        assert!(graph.node.iter().any(|n| n.op_type == op), "{op} missing");
    }
    let meta: std::collections::HashMap<_, _> =
        model.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
    let dag: Dag = serde_json::from_str(meta["densenas.dag"]).unwrap();
    assert_eq!(dag, Dag::full(&space));
    let sp: SpaceConfig = serde_json::from_str(meta["densenas.space"]).unwrap();
    assert_eq!(sp, space.config());
    assert_eq!(meta["densenas.version"], densenas::VERSION);
}

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

#[test]
fn python_onnx_checker_and_python_onnxruntime_agree() {
    let splits = data::load("digits").unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let (x_raw, x) = rows(&splits.test, 200);
    let input = tmp("py-input.f32");
    std::fs::write(&input, x_raw.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    for (i, (act, agg, n)) in [
        (Activation::Relu, Aggregation::Sum, Norm::None),
        (Activation::Gelu, Aggregation::Mean, Norm::Layernorm),
        (Activation::Sigmoid, Aggregation::Sum, Norm::Layernorm),
        (Activation::Tanh, Aggregation::Mean, Norm::None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = SpaceConfig::new(64, 10, 5, 16);
        c.activation = act;
        c.aggregation = agg;
        c.norm = n;
        let space = Space::new(c).unwrap();
        let dag = &dags(&space)[i + 1];
        let net = random_network(&space, dag, &norm, 40 + i as u64);
        let model = tmp(&format!("py-{i}.onnx"));
        onnx::write(&net, &model, &ExportMetadata::default()).unwrap();
        python_check(&net, &model, &input, &x, &format!("py-{i}"));
    }
}

/// Runs the Python check (onnx.checker, opset and metadata, Python onnxruntime) on
/// `model` with the 200 digits rows in `input`, and compares its logits with the
/// engine's.
fn python_check(net: &Network, model: &Path, input: &Path, x: &Tensor, label: &str) {
    let out = tmp(&format!("{label}.out"));
    let status = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/check_onnx.py"))
        .args([model.to_str().unwrap(), input.to_str().unwrap(), "200", "64", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(status.status.success(), "{label}: python check failed: {}", String::from_utf8_lossy(&status.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let py: Vec<f32> = bytes.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let engine = tch::no_grad(|| net.forward(x)).unwrap();
    let (max, bad) = compare(&engine, &py, 10);
    assert!(max < 1e-4 && bad == 0, "{label}: python onnxruntime: max diff {max}, {bad} predictions differ");
}

#[test]
fn bad_files_and_paths_get_clear_errors() {
    let junk = tmp("junk.onnx");
    std::fs::write(&junk, b"this is not a protobuf at all \xff\xff\xff").unwrap();
    let e = OnnxModel::load(&junk).err().unwrap().to_string();
    assert!(e.contains("junk.onnx") && e.contains("not an ONNX model"), "{e}");
    let e = OnnxModel::load(Path::new("/nonexistent/model.onnx")).err().unwrap().to_string();
    assert!(e.contains("/nonexistent/model.onnx"), "{e}");
    let space = Space::new(SpaceConfig::new(4, 2, 2, 4)).unwrap();
    let net = random_network(&space, &Dag::chain(2), &Normalization::identity(4), 3);
    let e = onnx::write(&net, Path::new("/nonexistent-dir/best.onnx"), &ExportMetadata::default()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent-dir/best.onnx"), "{e}");
    // A good model refuses input of the wrong width.
    let path = tmp("small.onnx");
    onnx::write(&net, &path, &ExportMetadata::default()).unwrap();
    let m = OnnxModel::load(&path).unwrap();
    assert!(m.logits(&[1.0; 6], 2).unwrap_err().to_string().contains("batch * features"));
    assert_eq!(m.logits(&[1.0; 8], 2).unwrap().len(), 4);
}

#[test]
fn python_example_classifies_image_files_like_the_engine() {
    // MNIST-shaped network (1 x 28 x 28, raw 0..255), random weights; 6 test digits
    // saved as PNG files by Pillow, classified by the example script.
    let splits = data::load(&common::dataset_spec("mnist")).unwrap();
    let norm = Normalization::from_data(&splits.train.x[..2000 * 784], 784).unwrap();
    let space = Space::new(SpaceConfig::new(784, 10, 3, 32)).unwrap();
    let net = random_network(&space, &Dag::new(3, vec![(0, 2), (1, 2)]).unwrap(), &norm, 5);
    let model = tmp("example.onnx");
    onnx::write(&net, &model, &ExportMetadata::default()).unwrap();
    let (x_raw, x) = rows(&splits.test, 6);
    let mut files = Vec::new();
    for i in 0..6 {
        let raw = tmp(&format!("digit{i}.u8"));
        let bytes: Vec<u8> = x_raw[i * 784..(i + 1) * 784].iter().map(|&v| v as u8).collect();
        std::fs::write(&raw, bytes).unwrap();
        let png = tmp(&format!("digit{i}.png"));
        let code = format!(
            "from PIL import Image; Image.frombytes('L', (28, 28), open('{}', 'rb').read()).save('{}')",
            raw.display(),
            png.display()
        );
        assert!(Command::new(python()).args(["-c", &code]).status().unwrap().success());
        files.push(png.to_str().unwrap().to_string());
    }
    let out = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/python/onnx_inference.py"))
        .arg(&model)
        .args(&files)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let engine = tch::no_grad(|| net.forward(&x)).unwrap().argmax(1, false);
    for i in 0..6 {
        assert_eq!(results[i]["index"].as_i64().unwrap(), engine.int64_value(&[i as i64]), "file {i}");
    }
}

/// A typed space on the digits (input 1 x 8 x 8): maps `shape`, every op, `stem`.
fn typed_digits_space(shape: [usize; 3], stem: densenas::model::ops::Stem) -> Space {
    let mut c = SpaceConfig::new(64, 10, 4, shape.iter().product());
    c.shape = Some(shape);
    c.input_shape = Some([1, 8, 8]);
    c.stem = stem;
    c.ops = densenas::model::ops::Op::ALL.to_vec();
    Space::new(c).unwrap()
}

#[test]
fn engine_and_onnx_runtime_agree_on_every_op_and_both_stems() {
    use densenas::model::ops::{Op, Stem};
    let splits = data::load("digits").unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let (x_raw, x) = rows(&splits.test, 359);
    let mut seed = 100;
    // Stride 1 (3x3 stem with padding) and stride 2 (patchify stem).
    for (shape, stem) in [([2, 8, 8], Stem::Conv), ([4, 4, 4], Stem::Conv), ([4, 4, 4], Stem::Dense)] {
        let space = typed_digits_space(shape, stem);
        for op in Op::ALL {
            // The op on a chain, a skip and a second source: several terms per vertex.
            let dag = Dag::with_ops(4, vec![(0, 1), (1, 2), (0, 2), (2, 3)], vec![op; 4]).unwrap();
            seed += 1;
            let net = random_network(&space, &dag, &norm, seed);
            check_network(&net, &x_raw, &x, &format!("{op}-{stem:?}-{}", shape[0]));
        }
        // Every op in one network.
        let mixed = Dag::with_ops(
            4,
            vec![(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)],
            vec![Op::Conv3x3, Op::Conv5x5, Op::Local3x3, Op::Avgpool3x3, Op::Maxpool3x3, Op::Dense],
        )
        .unwrap();
        check_network(&random_network(&space, &mixed, &norm, seed + 50), &x_raw, &x, &format!("mixed-{stem:?}-{}", shape[0]));
    }
}

#[test]
fn typed_models_pass_the_python_onnx_checker_and_use_the_documented_operators() {
    use densenas::model::ops::{Op, Stem};
    let splits = data::load("digits").unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let (x_raw, x) = rows(&splits.test, 200);
    let input = tmp("py-typed-input.f32");
    std::fs::write(&input, x_raw.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let space = typed_digits_space([4, 4, 4], Stem::Conv);
    let dag = Dag::with_ops(
        4,
        vec![(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)],
        vec![Op::Conv3x3, Op::Conv5x5, Op::Local3x3, Op::Avgpool3x3, Op::Maxpool3x3, Op::Identity],
    )
    .unwrap();
    let net = random_network(&space, &dag, &norm, 7);
    let model = tmp("py-typed.onnx");
    onnx::write(&net, &model, &ExportMetadata::default()).unwrap();
    let proto = onnx::read_model(&model).unwrap();
    let ops: std::collections::BTreeSet<String> = proto.graph.unwrap().node.iter().map(|n| n.op_type.clone()).collect();
    for op in ["Conv", "AveragePool", "MaxPool", "Reshape", "MatMul"] {
        assert!(ops.contains(op), "{op} missing from {ops:?}");
    }
    let meta: std::collections::HashMap<_, _> = proto.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
    let back: Dag = serde_json::from_str(meta["densenas.dag"]).unwrap();
    assert_eq!(back, dag, "the metadata's DAG keeps its ops");
    let sp: SpaceConfig = serde_json::from_str(meta["densenas.space"]).unwrap();
    assert_eq!(sp, space.config());
    python_check(&net, &model, &input, &x, "py-typed");
}

/// `ORT_DYLIB_PATH` naming no file: ONNX Runtime cannot be loaded.
const MISSING_ORT: &str = "/nonexistent/libonnxruntime.so";

/// "ONNX Runtime 1.NN or newer", NN the C API version the `ort` crate is built for.
fn ort_version() -> String {
    format!("ONNX Runtime 1.{} or newer", ort::MINOR_VERSION)
}

#[test]
fn the_reason_onnx_runtime_is_unavailable_is_one_sentence_with_the_fitting_remedy() {
    use densenas::io::ort_runtime::Unavailable;
    let v = ort_version();
    let missing = Some((PathBuf::from(MISSING_ORT), "no such file".to_string()));
    let cases = [
        // The Python package without its `onnx` extra.
        (None, false, true, "ONNX Runtime is not installed; install it with `pip install 'densenas[onnx]'`".to_string()),
        // The command line or the C library, nothing found.
        (None, false, false, format!("ONNX Runtime was not found; set ORT_DYLIB_PATH to the libonnxruntime.so of {v}")),
        (
            missing.clone(),
            true,
            false,
            format!(
                "ONNX Runtime could not be loaded from ORT_DYLIB_PATH={MISSING_ORT} (no such file); set ORT_DYLIB_PATH \
                 to the libonnxruntime.so of {v}"
            ),
        ),
        (
            missing.clone(),
            true,
            true,
            format!(
                "ONNX Runtime could not be loaded from ORT_DYLIB_PATH={MISSING_ORT} (no such file); install {v} with \
                 `pip install -U 'densenas[onnx]'` or point ORT_DYLIB_PATH at one"
            ),
        ),
        (
            Some((PathBuf::from("/opt/lib/libonnxruntime.so"), "too old".to_string())),
            false,
            false,
            format!("ONNX Runtime at /opt/lib/libonnxruntime.so could not be loaded (too old); set ORT_DYLIB_PATH to the libonnxruntime.so of {v}"),
        ),
    ];
    for (failed, explicit, python, want) in cases {
        let reason = Unavailable { failed, explicit, python }.reason();
        assert_eq!(reason, want);
        // No checkout script, no list of searched places.
        assert!(!reason.contains("setup.sh") && !reason.contains("tried"), "{reason}");
    }
}

/// A search on the digits in `dir` with ONNX Runtime missing, by the command line
/// (`--quiet` or not): (stdout, stderr, summary).
fn cli_search_without_ort(dir: &Path, quiet: bool) -> (String, String, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_densenas"))
        .args(["search", "--layers", "2", "--width", "8", "--blocks", "2", "--phases", "1", "--epochs", "1"])
        .args(["--retrain-epochs", "0", "--progress", "none", "--out", dir.to_str().unwrap()])
        .args(quiet.then_some("--quiet"))
        .env("ORT_DYLIB_PATH", MISSING_ORT)
        .env("OMP_NUM_THREADS", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "{stderr}");
    let summary = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    (stdout, stderr, summary)
}

#[test]
fn a_search_without_onnx_runtime_says_so_once_with_the_remedy_from_the_cli_and_python() {
    let notice = |reason: &str| format!("best.onnx is exported but was not checked in ONNX Runtime: {reason}");
    for quiet in [false, true] {
        let dir = tmp(&format!("no-ort-cli-{quiet}"));
        let _ = std::fs::remove_dir_all(&dir);
        let (stdout, stderr, summary) = cli_search_without_ort(&dir, quiet);
        let reason = summary["onnx"]["skipped"].as_str().unwrap().to_string();
        assert!(reason.contains(&format!("ORT_DYLIB_PATH={MISSING_ORT}")) && reason.contains(&ort_version()), "{reason}");
        assert!(!reason.contains("pip install") && !reason.contains("setup.sh"), "{reason}");
        assert_eq!(summary["onnx"]["path"], "best.onnx");
        // One line on stderr, also with --quiet; nothing of it on stdout.
        let line = format!("densenas: warning: {}", notice(&reason));
        assert_eq!(stderr.lines().filter(|l| l.contains("not checked in ONNX Runtime")).collect::<Vec<_>>(), [line.as_str()]);
        assert!(!stdout.contains("ONNX Runtime"), "{stdout}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // The Python package (over target/release/libdensenas.so, which `cargo build
    // --release` makes): the same line as a warning, the remedy a pip install.
    let dir = tmp("no-ort-python");
    let _ = std::fs::remove_dir_all(&dir);
    let code = r#"
import json, sys, warnings
import densenas
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    summary = densenas.search({"space": {"layers": 2, "width": 8, "blocks": 2}, "phases": 1, "epochs": 1,
                               "retrain": {"epochs": 0}}, sys.argv[1])
print(json.dumps({"onnx": summary["onnx"], "warnings": [str(w.message) for w in caught],
                  "categories": [w.category.__name__ for w in caught]}))
"#;
    let out = Command::new(python())
        .args(["-c", code, dir.to_str().unwrap()])
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/bindings/python"))
        .env("DENSENAS_LIBRARY", Path::new(env!("CARGO_BIN_EXE_densenas")).with_file_name("libdensenas.so"))
        .env("ORT_DYLIB_PATH", MISSING_ORT)
        .env("OMP_NUM_THREADS", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reason = r["onnx"]["skipped"].as_str().unwrap();
    assert!(reason.contains("pip install -U 'densenas[onnx]'") && reason.contains(&ort_version()), "{reason}");
    assert_eq!(r["warnings"], serde_json::json!([notice(reason)]));
    assert_eq!(r["categories"], serde_json::json!(["UserWarning"]));
    assert!(dir.join("best.onnx").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
