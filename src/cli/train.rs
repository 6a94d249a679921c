//! `densenas train`: trains one given DAG from fresh weights on a dataset's training
//! file and reports its test accuracy, parameters and FLOPs. It runs the same code as a
//! search's retraining (`train::train_dag`, `train::evaluate_network`), with the same
//! random stream as the retraining of a search's best DAG: with a run's seed, epochs and
//! batch size, `densenas train --dag RUN/best.json` repeats that run's retrained best.
//! With `--out DIR` it writes the network's folder (`io::trained_folder`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use densenas::data::{self, SplitTensors};
use densenas::model::device::{parse_device, Precision};
use densenas::search::SpaceOptions;
use densenas::model::ops::Op;
use densenas::model::space::{Activation, Aggregation, Norm};
use densenas::io::trained_folder::{TrainedFolder, TrainedRun, TrainedWritten};
use densenas::search::summary::{MapKeys, OnnxCheck};

use super::args::{count, parse_json_enum, seed, MapArgs};
use densenas::train::{evaluate_network, train_dag, TrainConfig};
use densenas::{Dag, Error, Normalization, Result};


/// Options of `densenas train`. Numbers are read signed, so that `--width -5` is
/// refused by the engine's range (naming the key) rather than taken for a flag.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Dataset: digits, idx:DIR, cifar:DIR, cifar:FILE.bin, images:PATH[,TEST] (a
    /// folder or .tar/.tar.gz of <class>/<image> files), csv:TRAIN[,TEST].
    #[arg(long, default_value = "digits")]
    data: String,
    /// The DAG as JSON, `{"layers": L, "edges": [[i, j], ...]}` (a run folder's
    /// best.json works).
    #[arg(long, conflicts_with = "edges")]
    dag: Option<PathBuf>,
    /// The DAG's edges, `i-j` separated by commas (`0-1,1-2,0-2`), `chain` for the plain
    /// MLP, or `none` for no edge at all; needs --layers.
    #[arg(long, requires = "layers")]
    edges: Option<String>,
    /// Hidden layers L (with --dag, it must match the file's).
    #[arg(long)]
    layers: Option<i64>,
    /// Width D of every layer.
    #[arg(long, default_value_t = 256)]
    width: i64,
    /// Longest skip S of the space [default: L-1].
    #[arg(long)]
    max_skip: Option<i64>,
    /// Activation: relu, gelu, tanh, sigmoid [default: relu].
    #[arg(long, value_parser = parse_json_enum::<Activation>)]
    activation: Option<Activation>,
    /// Aggregation: sum, mean [default: sum].
    #[arg(long, value_parser = parse_json_enum::<Aggregation>)]
    aggregation: Option<Aggregation>,
    /// Normalisation: none, layernorm [default: none].
    #[arg(long, value_parser = parse_json_enum::<Norm>)]
    norm: Option<Norm>,
    /// The map keys of a typed DAG (its edges' ops come with --dag); a DAG file's own
    /// `shape`, `input_shape` and `stem` (best.json has them) are the defaults.
    #[command(flatten)]
    maps: MapArgs,
    /// Epochs over the training file.
    #[arg(long, default_value_t = TrainConfig::default().epochs as i64)]
    epochs: i64,
    /// Batch size.
    #[arg(long, default_value_t = TrainConfig::default().batch_size as i64)]
    batch_size: i64,
    /// Learning rate (SGD with momentum, cosine schedule).
    #[arg(long, default_value_t = TrainConfig::default().optimizer.lr)]
    lr: f64,
    /// Seed of the initialisation and the batch order.
    #[arg(long, default_value_t = 0)]
    seed: i128,
    /// libtorch threads.
    #[arg(long, default_value_t = 1)]
    threads: i64,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
    /// Write the trained network into DIR: best.onnx (checked in ONNX Runtime) and
    /// summary.json.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With --out, replace a finished run in DIR (its summary.json and best.onnx).
    #[arg(long, requires = "out")]
    overwrite: bool,
}


/// Parses `--edges` (`0-1,1-2`, `chain`, `none` or empty) on `layers` vertices.
fn parse_edges(text: &str, layers: usize) -> Result<Dag> {
    let text = text.trim();
    if text == "chain" {
        return Ok(Dag::chain(layers));
    }
    if text.is_empty() || text == "none" {
        return Dag::new(layers, Vec::new());
    }
    let mut edges = Vec::new();
    for item in text.split(',') {
        let pair = item
            .split_once('-')
            .and_then(|(i, j)| Some((i.trim().parse::<usize>().ok()?, j.trim().parse::<usize>().ok()?)));
        match pair {
            Some(e) => edges.push(e),
            None => {
                return Err(Error::config("edges", format!("{item:?} is not an edge: write i-j, for example 0-1,1-2,0-2")))
            }
        }
    }
    Dag::new(layers, edges)
}

/// Reads a DAG file (`best.json` or `{"layers", "edges"}`, with `ops` and the map keys
/// of a typed space).
fn read_dag(path: &Path) -> Result<(Dag, MapKeys)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |e: serde_json::Error| Error::ConfigParse(format!("{}: not a DAG ({e})", path.display()));
    Ok((serde_json::from_str(&text).map_err(bad)?, serde_json::from_str(&text).map_err(bad)?))
}

/// The distinct ops of `dag`, in the fixed op order (`dense` for a DAG without edges).
fn dag_ops(dag: &Dag) -> Vec<Op> {
    let ops: Vec<Op> = Op::ALL.iter().copied().filter(|o| dag.ops().contains(o)).collect();
    if ops.is_empty() {
        vec![Op::Dense]
    } else {
        ops
    }
}

impl TrainArgs {
    /// The DAG to train and its map keys, from --dag or --edges/--layers.
    fn dag(&self, layers: Option<usize>) -> Result<(Dag, MapKeys)> {
        match (&self.dag, &self.edges, layers) {
            (Some(path), _, layers) => {
                let (dag, maps) = read_dag(path)?;
                if let Some(l) = layers.filter(|&l| l != dag.layers()) {
                    return Err(Error::config(
                        "layers",
                        format!("--layers {l} disagrees with {} ({} layers)", path.display(), dag.layers()),
                    ));
                }
                Ok((dag, maps))
            }
            (None, Some(edges), Some(layers)) => Ok((parse_edges(edges, layers)?, MapKeys::default())),
            _ => Err(Error::config("dag", "give --dag FILE.json, or --edges with --layers")),
        }
    }
}

/// The numeric flags as counts: a negative one is refused by the engine's range for
/// its key.
struct Numbers {
    layers: Option<usize>,
    width: usize,
    max_skip: Option<usize>,
    epochs: usize,
    batch_size: usize,
    seed: u64,
    threads: usize,
}

impl TrainArgs {
    fn numbers(&self) -> Result<Numbers> {
        Ok(Numbers {
            layers: self.layers.map(|v| count("layers", v, |c, v| c.space.layers = v)).transpose()?,
            width: count("width", self.width, |c, v| c.space.width = v)?,
            max_skip: self.max_skip.map(|v| count("max_skip", v, |c, v| c.space.max_skip = Some(v))).transpose()?,
            epochs: count("retrain.epochs", self.epochs, |c, v| c.retrain.epochs = v)?,
            batch_size: count("retrain.batch_size", self.batch_size, |c, v| c.retrain.batch_size = v)?,
            seed: seed("seed", self.seed)?,
            threads: count("threads", self.threads, |c, v| c.threads = Some(v))?,
        })
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let n = args.numbers()?;
    if !(1..=1024).contains(&n.threads) {
        return Err(Error::config("threads", format!("{} is out of range: allowed 1..=1024", n.threads)));
    }
    let (dag, file_maps) = args.dag(n.layers)?;
    let device = parse_device(&args.device)?;
    let mut config = TrainConfig { epochs: n.epochs, batch_size: n.batch_size, ..TrainConfig::default() };
    config.optimizer.lr = args.lr;
    config.validate()?;
    tch::set_num_threads(n.threads as i32);
    let data = data::load(&args.data)?;
    let defaults = SpaceOptions::default();
    let space = SpaceOptions {
        layers: dag.layers(),
        width: n.width,
        blocks: 1,
        max_skip: n.max_skip,
        activation: args.activation.unwrap_or(defaults.activation),
        aggregation: args.aggregation.unwrap_or(defaults.aggregation),
        norm: args.norm.unwrap_or(defaults.norm),
        min_edges: None,
        max_edges: None,
        shape: args.maps.shape.or(file_maps.shape),
        ops: dag_ops(&dag),
        input_shape: args.maps.input_shape.or(file_maps.input_shape),
        stem: args.maps.stem.unwrap_or(file_maps.stem),
    }
    .space(data.train.features, data.train.classes, data.train.shape)?;
    dag.codes(&space)?;
    // Opened (and refused) once the DAG is checked, before the training, and
    // locked until it is written.
    let folder = args.out.as_deref().map(|dir| TrainedFolder::open(dir, args.overwrite)).transpose()?;
    let normalization = Normalization::from_data(&data.train.x, data.train.features)?;
    let kind = Precision::Float32.kind();
    let train_t = SplitTensors::new(&data.train, device)?;
    let test_t = SplitTensors::new(&data.test, device)?;
    let (d, test) = (&data.train, &data.test);
    if !args.quiet {
        eprintln!(
            "training {} edges on {} layers of width {} on {} ({} training samples, {} features, {} classes)",
            dag.edges().len(),
            dag.layers(),
            n.width,
            d.name,
            d.len(),
            d.features,
            d.classes
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(n.seed);
    rng.set_stream(densenas::train::RETRAIN_BEST_STREAM);
    let start = Instant::now();
    let quiet = args.quiet;
    let epochs = config.epochs;
    let net = train_dag(&space, &dag, &normalization, &train_t, &config, kind, device, &mut rng, &mut |epoch, loss| {
        if !quiet && (epoch + 1 == epochs || (epoch + 1) % 10 == 0 || epochs <= 10) {
            eprintln!("epoch {:>4}/{epochs}  loss {loss:.4}", epoch + 1);
        }
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let (train_acc, _) = evaluate_network(&net, &train_t, kind)?;
    let (test_acc, test_loss) = evaluate_network(&net, &test_t, kind)?;
    let metrics = dag.metrics();
    if args.json {
        let out = json!({
            "densenas_version": densenas::VERSION,
            "dataset": {"name": d.name, "spec": args.data, "train": d.len(), "test": test.len(),
                        "features": d.features, "classes": d.classes},
            "dag": dag,
            "metrics": metrics,
            "space": {"layers": space.layers(), "width": space.width(), "max_skip": space.max_skip(),
                      "activation": space.activation(), "aggregation": space.aggregation(), "norm": space.norm()},
            "train": {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.optimizer.lr,
                      "seed": n.seed, "device": args.device, "threads": n.threads},
            "params": net.params(),
            "flops": net.flops(),
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "test_loss": test_loss,
            "train_seconds": seconds,
        });
        println!("{out}");
    } else {
        println!("dataset         {} ({} training / {} test samples)", d.name, d.len(), test.len());
        let (edges, depth, layers, width) = (dag.edges(), metrics.depth, dag.layers(), space.width());
        println!("DAG             {edges:?} ({} edges, depth {depth}, L={layers}, D={width})", edges.len());
        let (test_pct, train_pct) = (100.0 * test_acc, 100.0 * train_acc);
        println!("test accuracy   {test_pct:.2}%  (test loss {test_loss:.4}; training accuracy {train_pct:.2}%)");
        println!("parameters      {}", net.params());
        println!("FLOPs           {} per sample (forward)", net.flops());
        println!("training        {seconds:.1} s ({} epochs, batch {})", config.epochs, config.batch_size);
    }
    if let Some(folder) = &folder {
        let run = TrainedRun {
            network: &net,
            data_spec: &args.data,
            train: d,
            test,
            config: &config,
            seed: n.seed,
            device: &args.device,
            train_accuracy: train_acc,
            test_accuracy: test_acc,
            test_loss,
            train_seconds: seconds,
        };
        report_written(folder, folder.write(&run)?, args.json)?;
    }
    Ok(())
}

/// Says what `densenas train --out` wrote (on stdout unless --json, whose stdout is the
/// JSON object), warns of a skipped ONNX Runtime check on stderr, and fails on a failed
/// one.
fn report_written(folder: &TrainedFolder, written: TrainedWritten, json: bool) -> Result<()> {
    let onnx = written.summary.onnx.as_ref();
    if let (Some(OnnxCheck::Checked(o)), false) = (onnx, json) {
        println!("ONNX Runtime    test accuracy {:.2}% from {}", 100.0 * o.test_accuracy, o.path);
    }
    if !json {
        println!("written         {} (best.onnx, summary.json)", folder.dir().display());
    }
    if let Some(notice) = onnx.and_then(OnnxCheck::skip_notice) {
        eprintln!("densenas: warning: {notice}");
    }
    match written.onnx_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
