//! Deploying a found network beyond Python (examples/node, examples/web, `densenas
//! serve`): the Node.js example's accuracy on the digits' test split equals the
//! search's own ONNX Runtime figure; networks with every operation the engine exports
//! (typed spaces: Conv, AveragePool, MaxPool, Reshape, locally connected MatMul; and
//! LayerNorm, GELU, tanh, sigmoid, mean aggregation) give the engine's logits in
//! onnxruntime-node and in onnxruntime-web; the page, in a headless Chromium, turns a
//! digits test image, a grayscale and a colour picture into exactly the features the
//! loaders give, shows for them and for a drawing what the engine predicts, and writes
//! a screenshot; bad models get clear errors everywhere; `densenas serve` serves only
//! its folders, and finds the checkout's page next to the program without `--web`
//! (tests/install.rs: an installed one).
//!
//! Needs Node.js, the examples' npm packages and a Chromium: `make test` installs them
//! (scripts/setup-web.sh). The screenshot and the other outputs stay in
//! `target/tmp/web_deploy/` (Cargo's CARGO_TARGET_TMPDIR).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use prost::Message;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use densenas::data;
use densenas::io::export::onnx::{self, ExportMetadata};
use densenas::model::ops::{Op, Stem};
use densenas::model::space::{Activation, Aggregation, Norm};
use densenas::model::supernet::Supernet;
use densenas::{Dag, Network, Normalization, Space, SpaceConfig};

mod common;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// Logits and probabilities must agree this closely (absolute).
const TOLERANCE: f64 = 1e-4;

// ------------------------------------------------------------------ tools

/// Node.js and Chromium, or a panic that says how to install them.
struct Tools {
    chromium: String,
}

const SETUP: &str = "run scripts/setup-web.sh (`make test` does) to install Node.js, Chromium and the examples' npm packages";

/// Node.js and the Node example's packages.
fn node_tools() {
    let node = Command::new("node").arg("--version").output();
    assert!(matches!(&node, Ok(o) if o.status.success()), "no working `node` on PATH: {SETUP}");
    let path = Path::new(REPO).join("examples/node/node_modules/onnxruntime-node/package.json");
    assert!(path.exists(), "{} is missing: {SETUP}", path.display());
}

/// Node.js, both examples' packages and Chromium.
fn tools() -> Tools {
    node_tools();
    let setup = SETUP;
    for package in ["onnxruntime-web", "playwright-core"] {
        let path = Path::new(REPO).join("examples/web/node_modules").join(package).join("package.json");
        assert!(path.exists(), "{} is missing: {setup}", path.display());
    }
    let chromium = std::env::var("CHROMIUM").ok().or_else(|| {
        ["chromium", "chromium-browser"].iter().find_map(|name| {
            let out = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
    });
    let chromium = chromium.unwrap_or_else(|| panic!("no chromium on PATH: {setup}"));
    assert!(Path::new(&chromium).is_file(), "no Chromium at {chromium} (CHROMIUM or PATH): {setup}");
    Tools { chromium }
}

fn node(script: &str, args: &[&str]) -> Output {
    Command::new("node").arg(Path::new(REPO).join(script)).args(args).output().expect("node runs")
}

fn stdout_json(out: &Output, what: &str) -> Value {
    assert!(out.status.success(), "{what} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn densenas() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_densenas"));
    c.env("OMP_NUM_THREADS", "1");
    c
}

/// The folder the test's outputs (the screenshot) are kept in.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web_deploy");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ------------------------------------------------------------------ networks

/// Writes the digits' test split as CSV with the command a user runs for the Node
/// example (`densenas data export digits --split test --csv FILE`; gzip for `.gz`).
fn export_digits_test(path: &Path) {
    let out = densenas().args(["data", "export", "digits", "--split", "test", "--csv"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|x| x.as_f64().unwrap()).collect()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best })
}

/// The engine's logits and probabilities for `rows` rows of raw features.
fn engine(net: &Network, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let f = net.space.features() as i64;
    let t = Tensor::from_slice(x).view([x.len() as i64 / f, f]);
    let logits = tch::no_grad(|| net.forward(&t)).unwrap().to_kind(Kind::Double);
    let probabilities = logits.softmax(-1, Kind::Double);
    let flat = |t: &Tensor| Vec::<f64>::try_from(&t.contiguous().view([-1])).unwrap();
    (flat(&logits), flat(&probabilities))
}

/// Every operation of a typed space on one DAG: 5 vertices, the conv stem into the
/// one source 0, one sink 4.
fn every_op_dag() -> Dag {
    Dag::with_ops(
        5,
        vec![(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 4)],
        vec![Op::Dense, Op::Conv3x3, Op::Conv5x5, Op::Local3x3, Op::Avgpool3x3, Op::Maxpool3x3, Op::Identity],
    )
    .unwrap()
}

fn typed_space(act: Activation, agg: Aggregation, norm: Norm) -> Space {
    let mut c = SpaceConfig::new(64, 10, 5, 32);
    c.shape = Some([2, 4, 4]);
    c.input_shape = Some([1, 8, 8]);
    c.stem = Stem::Conv;
    c.ops = Op::ALL.to_vec();
    c.activation = act;
    c.aggregation = agg;
    c.norm = norm;
    Space::new(c).unwrap()
}

fn dense_space(act: Activation, agg: Aggregation, norm: Norm) -> Space {
    let mut c = SpaceConfig::new(64, 10, 4, 32);
    c.activation = act;
    c.aggregation = agg;
    c.norm = norm;
    Space::new(c).unwrap()
}

/// A network of random weights (LayerNorm's scale and bias too).
fn random_network(space: &Space, dag: &Dag, norm: &Normalization, seed: u64) -> Network {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let net = Supernet::new(space, norm.clone(), Kind::Float, Device::Cpu, &mut rng).unwrap();
    let mut net = net.snapshot(dag).unwrap();
    if let Some(ln) = net.weights.layer_norm.as_mut() {
        tch::manual_seed(seed as i64);
        tch::no_grad(|| {
            for (g, b) in ln {
                let _ = g.uniform_(0.5, 1.5);
                let _ = b.uniform_(-0.5, 0.5);
            }
        });
    }
    net
}

fn export(net: &Network, path: &Path) {
    let metadata = ExportMetadata { class_names: None, input_shape: Some(vec![1, 8, 8]) };
    onnx::write(net, path, &metadata).unwrap();
}

/// An ONNX model that is not a densenas export: a densenas graph without its metadata.
fn foreign_model(net: &Network, path: &Path) {
    let mut model = onnx::model(net, &ExportMetadata::default()).unwrap();
    model.metadata_props.clear();
    model.producer_name = "someone-else".into();
    std::fs::write(path, model.encode_to_vec()).unwrap();
}

// ------------------------------------------------------------------ densenas serve

/// `densenas serve` on a free port, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(run_dir: &Path, extra: &[&str]) -> Server {
        let mut child = densenas()
            .arg("serve")
            .arg(run_dir)
            .args(["--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string);
        let Some(url) = url else {
            let _ = child.kill();
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("densenas serve printed no address: {line:?} {err}");
        };
        Server { child, url }
    }

    /// A raw HTTP request: (status line, headers, body).
    fn request(&self, method: &str, path: &str) -> (String, String, Vec<u8>) {
        let host = self.url.trim_start_matches("http://").trim_end_matches('/');
        let mut s = TcpStream::connect(host).unwrap();
        write!(s, "{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response");
        let head = String::from_utf8_lossy(&all[..split]).to_string();
        let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
        (status.to_string(), headers.to_lowercase(), all[split + 4..].to_vec())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_error(args: &[&Path]) -> String {
    let out = densenas().arg("serve").args(args).args(["--port", "0"]).output().unwrap();
    assert!(!out.status.success(), "densenas serve {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

// ------------------------------------------------------------------ tests

#[test]
fn the_examples_pin_their_packages() {
    let read = |p: &str| std::fs::read_to_string(Path::new(REPO).join(p)).unwrap();
    // The lockfiles pin what package.json asks for; node_modules is never committed.
    for dir in ["examples/node", "examples/web"] {
        let lock: Value = serde_json::from_str(&read(&format!("{dir}/package-lock.json"))).unwrap();
        let package: Value = serde_json::from_str(&read(&format!("{dir}/package.json"))).unwrap();
        for deps in ["dependencies", "devDependencies"] {
            for (name, version) in package[deps].as_object().into_iter().flatten() {
                let version = version.as_str().unwrap();
                assert!(version.chars().all(|c| c.is_ascii_digit() || c == '.'), "{dir}: {name} {version} is not pinned");
                assert_eq!(lock["packages"][format!("node_modules/{name}")]["version"], *version, "{dir}: {name}");
            }
        }
        assert!(read(&format!("{dir}/.gitignore")).contains("node_modules"));
    }
}

#[test]
fn serve_finds_the_checkout_page_next_to_the_program() {
    // target/release/densenas, without --web: the examples/web of the checkout above it.
    let root = common::temp_dir("web-serve-checkout");
    let space = dense_space(Activation::Relu, Aggregation::Sum, Norm::None);
    let net = random_network(&space, &Dag::chain(4), &Normalization::identity(64), 1);
    export(&net, &root.join("best.onnx"));
    let server = Server::start(&root, &[]);
    let page = Path::new(REPO).join("examples/web");
    for (path, file) in [("/", page.join("index.html")), ("/app.mjs", page.join("app.mjs")), ("/run/best.onnx", root.join("best.onnx"))] {
        let (status, _, body) = server.request("GET", path);
        assert!(status.contains("200"), "GET {path}: {status}");
        assert!(body == std::fs::read(&file).unwrap(), "GET {path}: not {}", file.display());
    }
    drop(server);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn serve_refuses_bad_run_folders_and_serves_only_its_folders() {
    let root = common::temp_dir("web-serve");
    // A page folder of its own, so that this test needs no npm packages.
    let web = root.join("web");
    std::fs::create_dir_all(web.join("node_modules/onnxruntime-web/dist")).unwrap();
    std::fs::write(web.join("index.html"), "<title>densenas page</title>").unwrap();
    std::fs::write(web.join("node_modules/onnxruntime-web/dist/ort.wasm.min.mjs"), "export {}").unwrap();
    std::fs::write(web.join("node_modules/onnxruntime-web/dist/x.wasm"), b"\0asm").unwrap();
    std::fs::write(root.join("secret.txt"), "outside").unwrap();

    let space = dense_space(Activation::Relu, Aggregation::Sum, Norm::None);
    let net = random_network(&space, &Dag::chain(4), &Normalization::identity(64), 1);
    let run = root.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let web_arg = ["--web", web.to_str().unwrap()];

    // A missing folder, a folder without best.onnx, a best.onnx that is not ONNX, one
    // that is not a densenas export, a page folder without its page.
    let e = serve_error(&[&root.join("nowhere")]);
    assert!(e.contains("nowhere") && e.contains("No such file"), "{e}");
    let e = serve_error(&[&run]);
    assert!(e.contains("holds no best.onnx"), "{e}");
    std::fs::write(run.join("best.onnx"), "{\"not\": \"onnx\"}").unwrap();
    let e = serve_error(&[&run]);
    assert!(e.contains("best.onnx") && e.contains("not an ONNX model"), "{e}");
    foreign_model(&net, &run.join("best.onnx"));
    let e = serve_error(&[&run]);
    assert!(e.contains("not a densenas export") && e.contains("someone-else"), "{e}");
    export(&net, &run.join("best.onnx"));
    let e = serve_error(&[&run, Path::new("--web"), &root]);
    assert!(e.contains("holds no index.html"), "{e}");
    std::fs::remove_file(web.join("node_modules/onnxruntime-web/dist/ort.wasm.min.mjs")).unwrap();
    let e = serve_error(&[&run, Path::new("--web"), &web]);
    assert!(e.contains("onnxruntime-web is not installed") && e.contains("setup-web.sh"), "{e}");
    std::fs::write(web.join("node_modules/onnxruntime-web/dist/ort.wasm.min.mjs"), "export {}").unwrap();

    let server = Server::start(&run, &web_arg);
    let (status, headers, body) = server.request("GET", "/");
    assert!(status.contains("200") && headers.contains("content-type: text/html"), "{status} {headers}");
    assert_eq!(body, b"<title>densenas page</title>");
    let (status, headers, body) = server.request("GET", "/run/best.onnx?v=1");
    assert!(status.contains("200"), "{status}");
    assert!(headers.contains(&format!("content-length: {}", body.len())), "{headers}");
    assert_eq!(body, std::fs::read(run.join("best.onnx")).unwrap());
    let (_, headers, _) = server.request("GET", "/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs");
    assert!(headers.contains("content-type: text/javascript"), "{headers}");
    let (_, headers, _) = server.request("GET", "/node_modules/onnxruntime-web/dist/x.wasm");
    assert!(headers.contains("content-type: application/wasm"), "{headers}");
    let (status, _, body) = server.request("HEAD", "/index.html");
    assert!(status.contains("200") && body.is_empty(), "{status}");
    for escape in ["/../secret.txt", "/run/../../secret.txt", "/%2e%2e/secret.txt", "/run/%2E%2E/%2E%2E/secret.txt", "/nothing.html"] {
        let (status, _, body) = server.request("GET", escape);
        assert!(status.contains("404"), "{escape}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("outside"), "{escape} leaked a file");
    }
    let (status, _, _) = server.request("POST", "/");
    assert!(status.contains("405"), "{status}");
    drop(server);

    // A model file instead of a folder is served as run/best.onnx.
    let file = root.join("model.onnx");
    export(&net, &file);
    let server = Server::start(&file, &web_arg);
    let (status, _, body) = server.request("GET", "/run/best.onnx");
    assert!(status.contains("200") && body == std::fs::read(&file).unwrap(), "{status}");
    drop(server);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn node_example_accuracy_on_the_digits_equals_the_searchs_onnx_runtime_figure() {
    node_tools();
    let root = common::temp_dir("web-node");
    let run = root.join("run");
    let out = densenas()
        .args(["search", "--layers", "4", "--width", "32", "--blocks", "4", "--phases", "2", "--epochs", "2"])
        .args(["--retrain-epochs", "5", "--seed", "2", "--quiet", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let best: Value = serde_json::from_str(&std::fs::read_to_string(run.join("best.json")).unwrap()).unwrap();
    let engine_ort = summary["onnx"]["test_accuracy"].as_f64().expect("summary.json has onnx.test_accuracy");

    let csv = root.join("digits-test.csv");
    export_digits_test(&csv);
    let (run_s, csv_s) = (run.to_str().unwrap(), csv.to_str().unwrap());
    let r = stdout_json(&node("examples/node/classify.mjs", &[run_s, "--data", csv_s, "--json", "--threads", "1"]), "classify.mjs");
    let (accuracy, correct) = (r["accuracy"].as_f64().unwrap(), r["correct"].as_u64().unwrap());
    println!(
        "node example (onnxruntime-node): accuracy {accuracy} ({correct}/{}) on the digits' test split; \
         summary.json onnx.test_accuracy {engine_ort}",
        r["samples"]
    );
    assert_eq!(r["samples"], 359);
    assert_eq!(accuracy, engine_ort, "Node's accuracy differs from the engine's ONNX Runtime figure");
    assert_eq!(r["summary_onnx_test_accuracy"].as_f64(), Some(engine_ort));
    assert!(accuracy > 0.5, "a trained network: {accuracy}");
    // The metadata the example read: the DAG of best.json, the classes, the version.
    assert_eq!(r["dag"]["edges"], best["edges"]);
    assert_eq!(r["dag"]["layers"], 4);
    assert_eq!(r["classes"], json!(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]));
    assert_eq!(r["densenas_version"], densenas::VERSION);
    assert!(r["runtime"].as_str().unwrap().starts_with("onnxruntime-node 1."), "{}", r["runtime"]);
    for op in ["Sub", "Div", "MatMul", "Add", "Relu", "Softmax"] {
        assert!(r["operators"].as_array().unwrap().contains(&json!(op)), "{op} not among {}", r["operators"]);
    }
    // The same through the model file, gzip-compressed CSV, and the human-readable form.
    let gz = root.join("digits-test.csv.gz");
    export_digits_test(&gz);
    let model = run.join("best.onnx");
    let out = node("examples/node/classify.mjs", &[model.to_str().unwrap(), "--data", gz.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("({correct}/359)")) && text.contains("(the same)"), "{text}");

    // Clear errors: no model, a folder without one, not ONNX, not a densenas export,
    // a data file of another width, no data file.
    let fail = |args: &[&str], words: &[&str]| {
        let out = node("examples/node/classify.mjs", args);
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        for w in words {
            assert!(e.contains(w), "{args:?}: {e:?} lacks {w:?}");
        }
        assert!(!e.contains("    at "), "{args:?}: a stack trace instead of a message: {e}");
    };
    let missing = root.join("missing.onnx");
    fail(&[missing.to_str().unwrap(), "--data", csv_s], &["no model file at", "missing.onnx"]);
    fail(&[root.to_str().unwrap(), "--data", csv_s], &["holds no best.onnx"]);
    fail(&[run.join("summary.json").to_str().unwrap(), "--data", csv_s], &["summary.json", "not an ONNX model"]);
    let space = dense_space(Activation::Relu, Aggregation::Sum, Norm::None);
    let foreign = root.join("foreign.onnx");
    foreign_model(&random_network(&space, &Dag::chain(4), &Normalization::identity(64), 3), &foreign);
    fail(&[foreign.to_str().unwrap(), "--data", csv_s], &["not a densenas export", "someone-else", "densenas.dag"]);
    let narrow = root.join("narrow.csv");
    std::fs::write(&narrow, "1,2,3,0\n4,5,6,1\n").unwrap();
    fail(&[run_s, "--data", narrow.to_str().unwrap()], &["takes 64 input features", "has 3"]);
    fail(&[run_s, "--data", root.join("none.csv").to_str().unwrap()], &["none.csv", "no such file"]);
    std::fs::remove_dir_all(&root).unwrap();
}

/// The operator test's models: every op of a typed space, and the dense space's
/// activations, aggregations and LayerNorm.
fn operator_cases() -> Vec<(&'static str, Network)> {
    let splits = data::load("digits").unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let full = |s: &Space| Dag::full(s);
    let mut cases = Vec::new();
    let s = typed_space(Activation::Relu, Aggregation::Sum, Norm::None);
    cases.push(("typed-relu-sum", random_network(&s, &every_op_dag(), &norm, 11)));
    let s = typed_space(Activation::Gelu, Aggregation::Mean, Norm::Layernorm);
    cases.push(("typed-gelu-mean-layernorm", random_network(&s, &every_op_dag(), &norm, 12)));
    let s = dense_space(Activation::Gelu, Aggregation::Sum, Norm::Layernorm);
    cases.push(("dense-gelu-layernorm", random_network(&s, &full(&s), &norm, 13)));
    let s = dense_space(Activation::Tanh, Aggregation::Mean, Norm::None);
    cases.push(("dense-tanh-mean", random_network(&s, &Dag::new(4, vec![(0, 2), (1, 2), (2, 3)]).unwrap(), &norm, 14)));
    let s = dense_space(Activation::Sigmoid, Aggregation::Sum, Norm::Layernorm);
    cases.push(("dense-sigmoid-layernorm", random_network(&s, &Dag::new(4, vec![(0, 3), (1, 3)]).unwrap(), &norm, 15)));
    cases
}

/// Compares a runtime's results with the engine's; returns a line per case.
fn check_runtime(runtime: &str, results: &Value, expected: &[(&str, Vec<f64>, Vec<f64>)]) -> Vec<String> {
    let results = results.as_array().unwrap_or_else(|| panic!("{runtime}: no results"));
    assert_eq!(results.len(), expected.len(), "{runtime}: one result per case");
    let failures: Vec<String> = results
        .iter()
        .filter(|r| r["ok"] != true)
        .map(|r| format!("{runtime} cannot run {}: {}", r["name"], r["error"]))
        .collect();
    assert!(failures.is_empty(), "a runtime lacks an operator or fails a model:\n{}", failures.join("\n"));
    let mut lines = Vec::new();
    for (r, (name, logits, probabilities)) in results.iter().zip(expected) {
        assert_eq!(r["name"], *name);
        let dl = max_abs_diff(&floats(&r["logits"]), logits);
        let dp = max_abs_diff(&floats(&r["probabilities"]), probabilities);
        let classes = 10;
        let mismatched = floats(&r["logits"])
            .chunks(classes)
            .zip(logits.chunks(classes))
            .filter(|(a, b)| argmax(a) != argmax(b))
            .count();
        lines.push(format!("{runtime}: {name}: max |logit - engine| {dl:.2e}, max |p - engine| {dp:.2e}, {mismatched} class mismatches"));
        assert!(dl < TOLERANCE && dp < TOLERANCE, "{runtime}: {name}: logits differ from the engine's by {dl}, probabilities by {dp}");
        assert_eq!(mismatched, 0, "{runtime}: {name}");
    }
    lines
}

#[test]
fn every_exported_operator_gives_the_engines_logits_in_onnxruntime_node_and_web() {
    let tools = tools();
    let root = common::temp_dir("web-ops");
    let run = root.join("run");
    std::fs::create_dir_all(run.join("cases")).unwrap();
    let splits = data::load("digits").unwrap();
    let rows = 24;
    let x = splits.test.x[..rows * 64].to_vec();
    let mut expected = Vec::new();
    let (mut node_cases, mut web_cases) = (Vec::new(), Vec::new());
    let mut operators = std::collections::BTreeSet::new();
    for (name, net) in operator_cases() {
        let path = run.join("cases").join(format!("{name}.onnx"));
        export(&net, &path);
        let graph = onnx::model(&net, &ExportMetadata::default()).unwrap().graph.unwrap();
        operators.extend(graph.node.iter().map(|n| n.op_type.clone()));
        let (logits, probabilities) = engine(&net, &x);
        expected.push((name, logits, probabilities));
        node_cases.push(json!({"name": name, "model": path, "rows": rows, "features": x}));
        web_cases.push(json!({"name": name, "url": format!("run/cases/{name}.onnx"), "rows": rows, "features": x}));
    }
    // Every operator the engine exports is among the cases.
    let all = [
        "Conv", "AveragePool", "MaxPool", "Reshape", "MatMul", "Sub", "Div", "Add", "Sum", "Mul", "Relu", "Tanh", "Sigmoid",
        "Erf", "LayerNormalization", "Softmax",
    ];
    for op in all {
        assert!(operators.contains(op), "no case uses {op}: {operators:?}");
    }
    std::fs::copy(run.join("cases/typed-relu-sum.onnx"), run.join("best.onnx")).unwrap();

    // onnxruntime-node.
    let node_file = root.join("node-cases.json");
    std::fs::write(&node_file, json!({ "cases": node_cases }).to_string()).unwrap();
    let r = stdout_json(&node("examples/node/logits.mjs", &[node_file.to_str().unwrap()]), "logits.mjs");
    let mut lines = check_runtime(r["runtime"].as_str().unwrap_or("onnxruntime-node"), &r["results"], &expected);
    for result in r["results"].as_array().unwrap() {
        for op in result["operators"].as_array().unwrap() {
            assert!(operators.contains(op.as_str().unwrap()), "the Node reader saw an operator {op} the graph lacks");
        }
    }

    // onnxruntime-web in Chromium, through the page's own loading path.
    let web_file = root.join("web-cases.json");
    std::fs::write(&web_file, json!({ "cases": web_cases }).to_string()).unwrap();
    let server = Server::start(&run, &[]);
    let r = headless(&tools, &server.url, &["--cases", web_file.to_str().unwrap()]);
    assert_eq!(r["load"]["ok"], true, "the page did not load best.onnx: {}", r["status"]);
    let runtime = r["runtime"].as_str().unwrap_or("onnxruntime-web").to_string();
    lines.extend(check_runtime(&format!("{runtime} (WASM, {})", r["browser"].as_str().unwrap_or("?")), &r["results"], &expected));
    println!("{}", lines.join("\n"));
    drop(server);
    std::fs::remove_dir_all(&root).unwrap();
}

/// Runs examples/web/headless.mjs on the page at `url`.
fn headless(tools: &Tools, url: &str, args: &[&str]) -> Value {
    let out = Command::new("node")
        .arg(Path::new(REPO).join("examples/web/headless.mjs"))
        .args(["--url", url, "--chromium", &tools.chromium])
        .args(args)
        .output()
        .unwrap();
    stdout_json(&out, "headless.mjs")
}

/// A 32x32 bitmap whose 4x4 blocks hold as many ink pixels as the 8x8 digits sample
/// has in each cell (the UCI preprocessing, inverted), as a PNG: bright ink on black.
fn digits_png(sample: &[f32], path: &Path) {
    // Fill each block from its centre outwards, so partial blocks look like strokes.
    let mut order: Vec<(u32, u32)> = (0..4).flat_map(|y| (0..4).map(move |x| (y, x))).collect();
    order.sort_by_key(|&(y, x)| ((2 * y as i32 - 3).pow(2) + (2 * x as i32 - 3).pow(2), y, x));
    let mut img = image::GrayImage::new(32, 32);
    for (cell, &v) in sample.iter().enumerate() {
        let (by, bx) = (cell as u32 / 8, cell as u32 % 8);
        assert!(v.fract() == 0.0 && (0.0..=16.0).contains(&v), "a digits value: {v}");
        for &(y, x) in order.iter().take(v as usize) {
            img.put_pixel(bx * 4 + x, by * 4 + y, image::Luma([255]));
        }
    }
    img.save(path).unwrap();
}

#[test]
fn the_page_in_chromium_predicts_what_the_engine_predicts_and_draws_the_dag() {
    let tools = tools();
    let root = common::temp_dir("web-page");
    let run = root.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let out = output_dir();

    // A typed network with every op, trained briefly on the digits by the library.
    let splits = data::load("digits").unwrap();
    let norm = Normalization::from_data(&splits.train.x, 64).unwrap();
    let space = typed_space(Activation::Relu, Aggregation::Sum, Norm::None);
    let dag = every_op_dag();
    let train = data::SplitTensors::new(&splits.train, Device::Cpu).unwrap();
    let mut config = densenas::train::TrainConfig::default();
    config.epochs = 6;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let net = densenas::train::train_dag(&space, &dag, &norm, &train, &config, Kind::Float, Device::Cpu, &mut rng, &mut |_, _| {})
        .unwrap();
    export(&net, &run.join("best.onnx"));

    // The first test image the engine gets right, as a picture for the page's file input.
    let test = &splits.test;
    let (all_logits, _) = engine(&net, &test.x);
    let index = (0..test.len()).find(|&i| argmax(&all_logits[i * 10..(i + 1) * 10]) as i64 == test.y[i]).unwrap();
    let sample = &test.x[index * 64..(index + 1) * 64];
    let png = out.join("test-digit.png");
    digits_png(sample, &png);
    let (logits, probabilities) = engine(&net, sample);
    let engine_class = argmax(&logits);

    let screenshot = out.join("page.png");
    let _ = std::fs::remove_file(&screenshot);
    let server = Server::start(&run, &[]);
    let r = headless(&tools, &server.url, &["--image", png.to_str().unwrap(), "--draw", "--screenshot", screenshot.to_str().unwrap()]);
    // A model that is not there, and one that is not a densenas export: the page says so.
    foreign_model(&net, &run.join("foreign.onnx"));
    for (model, words) in [("run/nothing.onnx", ["no model at run/nothing.onnx", "HTTP 404"]), ("run/foreign.onnx", ["not a densenas export", "densenas.dag"])] {
        let e = headless(&tools, &format!("{}?model={model}", server.url), &[]);
        assert_eq!(e["load"]["ok"], false, "{model}");
        for w in words {
            assert!(e["status"].as_str().unwrap().contains(w), "{model}: the page shows {}", e["status"]);
        }
    }
    drop(server);
    assert_eq!(r["load"]["ok"], true, "the page did not load the model: {}", r["status"]);
    let errors: Vec<&Value> = r["console"].as_array().unwrap().iter().filter(|m| !m.as_str().unwrap().starts_with("warning")).collect();
    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
    assert_eq!(r["model"]["spec"]["encoding"], "digits");

    // The image, through the page's input path: exactly the loader's features, then
    // the engine's logits, probabilities and class.
    let shown = &r["image"];
    let features = floats(&shown["features"]);
    let want: Vec<f64> = sample.iter().map(|&v| v as f64).collect();
    assert_eq!(features, want, "the page's features of the test image differ from the loader's");
    let dl = max_abs_diff(&floats(&shown["logits"]), &logits);
    let dp = max_abs_diff(&floats(&shown["probabilities"]), &probabilities);
    let page_class = shown["predicted"].as_u64().unwrap() as usize;
    let bars: Vec<f64> = shown["bars"].as_array().unwrap().iter().map(|b| b["p"].as_f64().unwrap()).collect();
    println!(
        "browser ({}, {}): test sample {index} (label {}): page predicts {page_class} with p = {:.6}, engine predicts \
         {engine_class} with p = {:.6}; max |logit - engine| {dl:.2e}, max |p - engine| {dp:.2e}, \
         max |bar - engine p| {:.2e}; features equal the loader's (64 of 64)",
        r["browser"].as_str().unwrap_or("?"),
        r["runtime"].as_str().unwrap_or("?"),
        test.y[index],
        floats(&shown["probabilities"])[page_class],
        probabilities[engine_class],
        max_abs_diff(&bars, &probabilities),
    );
    assert!(dl < TOLERANCE, "page logits differ from the engine's by {dl}");
    assert!(dp < TOLERANCE, "page probabilities differ from the engine's by {dp}");
    assert_eq!(page_class, engine_class);
    assert_eq!(shown["prediction"]["class"], engine_class, "the class the page shows");
    assert!(shown["prediction"]["text"].as_str().unwrap().starts_with(&engine_class.to_string()));
    assert_eq!(bars.len(), 10, "one bar per class");
    assert!(max_abs_diff(&bars, &probabilities) < TOLERANCE, "the bar chart shows other probabilities");
    assert_eq!(shown["invert"], false, "a bright-on-dark picture is not inverted");

    // A drawing with the mouse: the features the page computed give the engine's result.
    let drawn = &r["drawing"];
    let x: Vec<f32> = floats(&drawn["features"]).iter().map(|&v| v as f32).collect();
    assert!(x.iter().all(|v| v.fract() == 0.0 && (0.0..=16.0).contains(v)), "digits features are counts 0..16: {x:?}");
    assert!(x.iter().sum::<f32>() > 20.0, "the stroke left ink: {x:?}");
    let (dlogits, dprob) = engine(&net, &x);
    let dd = max_abs_diff(&floats(&drawn["logits"]), &dlogits).max(max_abs_diff(&floats(&drawn["probabilities"]), &dprob));
    assert!(dd < TOLERANCE, "drawing: page and engine differ by {dd}");
    assert_eq!(drawn["predicted"].as_u64().unwrap() as usize, argmax(&dlogits));
    println!("browser drawing: page predicts {} (engine {}), max difference {dd:.2e}", drawn["predicted"], argmax(&dlogits));

    // The DAG picture: every edge with its op, the vertices, the stem and head arrows.
    let pic = &r["dagPicture"];
    let edges: Vec<(String, String)> = serde_json::from_value(pic["edges"].clone()).unwrap();
    let want: Vec<(String, String)> =
        dag.edges().iter().zip(dag.ops()).map(|((i, j), op)| (format!("{i}-{j}"), op.name().to_string())).collect();
    assert_eq!(edges, want);
    assert_eq!(pic["vertices"], 5);
    assert_eq!((pic["stems"].as_u64(), pic["heads"].as_u64()), (Some(dag.sources().len() as u64), Some(dag.sinks().len() as u64)));

    // The screenshot: a real picture of the page.
    let img = image::open(&screenshot).unwrap_or_else(|e| panic!("{}: {e}", screenshot.display())).to_rgb8();
    let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(img.width() >= 1000 && img.height() >= 600 && colours.len() > 50, "{}x{}, {} colours", img.width(), img.height(), colours.len());
    println!("screenshot: {} ({}x{})", screenshot.display(), img.width(), img.height());
    std::fs::remove_dir_all(&root).unwrap();
}

/// A picture of `shape` ([C, H, W], one or three channels) as the images loader reads
/// it: a tree of train/ and test/ with two classes, whose first test sample is it.
fn picture(shape: [u32; 3], dir: &Path) -> (PathBuf, Vec<f32>) {
    let [c, h, w] = shape;
    let file = dir.join(format!("picture-{c}x{h}x{w}.png"));
    if c == 1 {
        // Mean well below 128, so that the page does not take it for dark ink on paper.
        image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 13 + x * y) % 200) as u8])).save(&file).unwrap();
    } else {
        image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 8) as u8, (y * 8) as u8, ((x * y + 17) % 256) as u8])).save(&file).unwrap();
    }
    let tree = dir.join(format!("tree-{c}"));
    for role in ["train", "test"] {
        for class in ["a", "b"] {
            std::fs::create_dir_all(tree.join(role).join(class)).unwrap();
            std::fs::copy(&file, tree.join(role).join(class).join("p.png")).unwrap();
        }
    }
    let splits = data::load(&format!("images:{}", tree.display())).unwrap();
    assert_eq!(splits.test.shape, Some([c as usize, h as usize, w as usize]));
    let f = splits.test.features;
    (file, splits.test.x[..f].to_vec())
}

#[test]
fn the_page_reads_grayscale_and_colour_pictures_as_the_images_loader_does() {
    let tools = tools();
    let root = common::temp_dir("web-pictures");
    let run = root.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut cases = Vec::new();
    for (name, shape) in [("grey-28x28", [1u32, 28, 28]), ("rgb-32x32", [3, 32, 32])] {
        let f = (shape[0] * shape[1] * shape[2]) as usize;
        let noise: Vec<f32> = (0..64 * f).map(|_| rand::Rng::gen_range(&mut rng, 0.0..255.0)).collect();
        let norm = Normalization::from_data(&noise, f).unwrap();
        let mut c = SpaceConfig::new(f, 10, 2, 16);
        c.activation = Activation::Tanh;
        let space = Space::new(c).unwrap();
        let net = random_network(&space, &Dag::chain(2), &norm, 30 + shape[0] as u64);
        let model = root.join(format!("{name}.onnx"));
        let metadata = ExportMetadata { class_names: None, input_shape: Some(shape.iter().map(|&v| v as usize).collect()) };
        onnx::write(&net, &model, &metadata).unwrap();
        let (png, features) = picture(shape, &root);
        cases.push((name, net, model, png, features));
    }
    // The grey model is the run's; the colour one goes through the page's model input.
    std::fs::copy(&cases[0].2, run.join("best.onnx")).unwrap();
    let server = Server::start(&run, &[]);
    for (i, (name, net, model, png, features)) in cases.iter().enumerate() {
        let mut args = vec!["--image", png.to_str().unwrap()];
        if i > 0 {
            args.extend(["--model-file", model.to_str().unwrap()]);
        }
        let r = headless(&tools, &server.url, &args);
        assert_eq!(r["load"]["ok"], true, "{name}: {}", r["status"]);
        assert_eq!(r["model"]["spec"]["encoding"], "pixels", "{name}");
        let shown = &r["image"];
        let got = floats(&shown["features"]);
        let want: Vec<f64> = features.iter().map(|&v| v as f64).collect();
        let wrong = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!((got.len(), wrong), (want.len(), 0), "{name}: the page's features differ from the images loader's");
        let (logits, probabilities) = engine(net, features);
        let d = max_abs_diff(&floats(&shown["logits"]), &logits).max(max_abs_diff(&floats(&shown["probabilities"]), &probabilities));
        assert!(d < TOLERANCE, "{name}: page and engine differ by {d}");
        assert_eq!(shown["predicted"].as_u64().unwrap() as usize, argmax(&logits), "{name}");
        assert_eq!(shown["invert"], false, "{name}");
        println!("browser {name}: {} features equal the images loader's; max difference from the engine {d:.2e}", got.len());
    }
    drop(server);
    std::fs::remove_dir_all(&root).unwrap();
}
