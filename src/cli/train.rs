//! `densenas train`: trains given DAGs from fresh weights on a dataset's training file
//! and reports their test accuracy, parameters and FLOPs. It converts its flags and
//! forwards them to the engine's standalone training (`train::train_standalone`: the
//! population trainer, with the random stream of a search's retraining of its best
//! DAG): with a run's seed, epochs and batch size, `densenas train --dag RUN/best.json`
//! repeats that run's retrained best. `--dags FILE` and `--seeds 0-9` train every DAG
//! with every seed as one population and print one line per member. With `--out DIR`
//! (one DAG, one seed) it writes the network's folder (`io::trained_folder`).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use clap::Args;
use serde_json::json;

use densenas::data::{self, SplitTensors};
use densenas::model::device::{parse_device, Precision};
use densenas::search::SpaceOptions;
use densenas::model::ops::Op;
use densenas::model::space::{Activation, Aggregation, Norm};
use densenas::io::trained_folder::{TrainedFolder, TrainedRun, TrainedWritten};
use densenas::search::summary::{MapKeys, OnnxCheck};

use super::args::{count, parse_json_enum, seed, MapArgs};
use densenas::train::{train_standalone, StandaloneJob, TrainConfig, TrainedMember};
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
    #[arg(long, conflicts_with_all = ["edges", "dags"])]
    dag: Option<PathBuf>,
    /// Several DAGs: a JSON list of DAGs as --dag takes them, all of one space, trained
    /// as one population (with every seed of --seeds); one line per member.
    #[arg(long, conflicts_with = "edges")]
    dags: Option<PathBuf>,
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
    #[arg(long, default_value_t = 0, conflicts_with = "seeds")]
    seed: i128,
    /// Several seeds, `A-B` (both included) or a comma list (`0,3,7`): every DAG is
    /// trained with each, as one population; one line per member.
    #[arg(long)]
    seeds: Option<String>,
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

/// Reads a list of DAGs (a JSON array of what [`read_dag`] reads); every DAG must
/// have the first one's map keys.
fn read_dags(path: &Path) -> Result<(Vec<Dag>, MapKeys)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let items: Vec<serde_json::Value> = serde_json::from_str(&text)
        .map_err(|e| Error::ConfigParse(format!("{}: not a JSON list of DAGs ({e})", path.display())))?;
    if items.is_empty() {
        return Err(Error::config("dags", format!("{} lists no DAG", path.display())));
    }
    let mut dags = Vec::new();
    let mut keys: Option<MapKeys> = None;
    for (i, item) in items.into_iter().enumerate() {
        let bad = |e: serde_json::Error| Error::ConfigParse(format!("{}: item {i} is not a DAG ({e})", path.display()));
        let maps: MapKeys = serde_json::from_value(item.clone()).map_err(bad)?;
        dags.push(serde_json::from_value(item).map_err(bad)?);
        match &keys {
            Some(first) if *first != maps => {
                return Err(Error::config("dags", format!("{}: item {i}'s shape, input_shape or stem differ from item 0's", path.display())))
            }
            Some(_) => {}
            None => keys = Some(maps),
        }
    }
    Ok((dags, keys.unwrap_or_default()))
}

/// Parses `--seeds`: `A-B` (both included) or a comma list.
fn parse_seeds(text: &str) -> Result<Vec<u64>> {
    let number = |s: &str| {
        s.trim().parse::<u64>().map_err(|_| Error::config("seeds", format!("{s:?} is not a seed: write A-B or a comma list, for example 0-9 or 0,3,7")))
    };
    let seeds = match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b || b - a >= 1 << 16 {
                return Err(Error::config("seeds", format!("{text:?} is not a range of at most 65536 seeds from low to high")));
            }
            (a..=b).collect()
        }
        None => text.split(',').map(number).collect::<Result<Vec<_>>>()?,
    };
    Ok(seeds)
}

/// The distinct ops of `dags`, in the fixed op order (`dense` when no DAG has an edge).
fn dag_ops(dags: &[Dag]) -> Vec<Op> {
    let ops: Vec<Op> = Op::ALL.iter().copied().filter(|o| dags.iter().any(|d| d.ops().contains(o))).collect();
    if ops.is_empty() {
        vec![Op::Dense]
    } else {
        ops
    }
}

impl TrainArgs {
    /// The DAGs to train and their map keys, from --dag, --dags or --edges/--layers.
    fn dags(&self, layers: Option<usize>) -> Result<(Vec<Dag>, MapKeys)> {
        let (dags, maps, path) = match (&self.dag, &self.dags, &self.edges, layers) {
            (Some(path), _, _, _) => {
                let (dag, maps) = read_dag(path)?;
                (vec![dag], maps, path)
            }
            (None, Some(path), _, _) => {
                let (dags, maps) = read_dags(path)?;
                (dags, maps, path)
            }
            (None, None, Some(edges), Some(layers)) => return Ok((vec![parse_edges(edges, layers)?], MapKeys::default())),
            _ => return Err(Error::config("dag", "give --dag FILE.json, --dags FILE.json, or --edges with --layers")),
        };
        let first = dags[0].layers();
        if let Some(l) = layers.filter(|&l| l != first) {
            return Err(Error::config("layers", format!("--layers {l} disagrees with {} ({first} layers)", path.display())));
        }
        if let Some((i, d)) = dags.iter().enumerate().find(|(_, d)| d.layers() != first) {
            return Err(Error::config(
                "layers",
                format!("{}: item {i} has {} layers, item 0 has {first}: one population is one space", path.display(), d.layers()),
            ));
        }
        Ok((dags, maps))
    }

    /// Whether this is a population run (--dags or --seeds): one line per member.
    fn population(&self) -> bool {
        self.dags.is_some() || self.seeds.is_some()
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
    seeds: Vec<u64>,
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
            seeds: match &self.seeds {
                Some(text) => parse_seeds(text)?,
                None => vec![seed("seed", self.seed)?],
            },
            threads: count("threads", self.threads, |c, v| c.threads = Some(v))?,
        })
    }
}

/// The space of `dags` from the flags and the DAG files' map keys.
fn space_of(args: &TrainArgs, n: &Numbers, dags: &[Dag], file_maps: MapKeys, train: &data::Dataset) -> Result<densenas::Space> {
    let defaults = SpaceOptions::default();
    SpaceOptions {
        layers: dags[0].layers(),
        width: n.width,
        blocks: 1,
        max_skip: n.max_skip,
        activation: args.activation.unwrap_or(defaults.activation),
        aggregation: args.aggregation.unwrap_or(defaults.aggregation),
        norm: args.norm.unwrap_or(defaults.norm),
        min_edges: None,
        max_edges: None,
        shape: args.maps.shape.or(file_maps.shape),
        ops: dag_ops(dags),
        input_shape: args.maps.input_shape.or(file_maps.input_shape),
        stem: args.maps.stem.unwrap_or(file_maps.stem),
    }
    .space(train.features, train.classes, train.shape)
}

pub fn run(args: TrainArgs) -> Result<()> {
    let n = args.numbers()?;
    if !(1..=1024).contains(&n.threads) {
        return Err(Error::config("threads", format!("{} is out of range: allowed 1..=1024", n.threads)));
    }
    let (dags, file_maps) = args.dags(n.layers)?;
    if args.out.is_some() && dags.len() * n.seeds.len() > 1 {
        return Err(Error::config("out", "--out writes one network: give one DAG and one seed"));
    }
    let device = parse_device(&args.device)?;
    let mut config = TrainConfig { epochs: n.epochs, batch_size: n.batch_size, ..TrainConfig::default() };
    config.optimizer.lr = args.lr;
    config.validate()?;
    tch::set_num_threads(n.threads as i32);
    let data = data::load(&args.data)?;
    let space = space_of(&args, &n, &dags, file_maps, &data.train)?;
    let members: Vec<(Dag, u64)> = dags.iter().flat_map(|d| n.seeds.iter().map(move |&s| (d.clone(), s))).collect();
    for (i, (dag, _)) in members.iter().enumerate().step_by(n.seeds.len()) {
        dag.codes(&space).map_err(|e| if args.population() { Error::Input(format!("DAG {}: {e}", i / n.seeds.len())) } else { e })?;
    }
    // Opened (and refused) once the DAG is checked, before the training, and
    // locked until it is written.
    let folder = args.out.as_deref().map(|dir| TrainedFolder::open(dir, args.overwrite)).transpose()?;
    let normalization = Normalization::from_data(&data.train.x, data.train.features)?;
    let train_t = SplitTensors::new(&data.train, device)?;
    let test_t = SplitTensors::new(&data.test, device)?;
    let d = &data.train;
    if !args.quiet {
        let what = match members.len() {
            1 => format!("{} edges", dags[0].edges().len()),
            p => format!("{p} networks ({} DAGs x {} seeds)", dags.len(), n.seeds.len()),
        };
        eprintln!(
            "training {what} on {} layers of width {} on {} ({} training samples, {} features, {} classes)",
            space.layers(),
            n.width,
            d.name,
            d.len(),
            d.features,
            d.classes
        );
    }
    let job = StandaloneJob {
        space: &space,
        normalization: &normalization,
        train: &train_t,
        test: &test_t,
        config: &config,
        precision: Precision::Float32,
        deterministic: false,
        device,
    };
    let (quiet, epochs) = (args.quiet, config.epochs);
    let mut on_epoch = |epoch: usize, losses: &[Option<f64>]| {
        if !quiet && (epoch + 1 == epochs || (epoch + 1).is_multiple_of(10) || epochs <= 10) {
            eprintln!("epoch {:>4}/{epochs}  {}", epoch + 1, loss_text(losses));
        }
    };
    let outcome = train_standalone(&job, &members, &mut on_epoch, &AtomicBool::new(false))?
        .expect("no stop is requested");
    let report = Report { args: &args, data: &data, space: &space, config: &config, n: &n, seconds: outcome.train_seconds };
    if args.population() {
        return report.members(&members, outcome.members);
    }
    let trained = outcome.members.into_iter().next().expect("one member").map_err(Error::Diverged)?;
    report.one(&members[0].0, &trained)?;
    if let Some(folder) = &folder {
        let run = TrainedRun {
            network: &trained.network,
            data_spec: &args.data,
            train: d,
            test: &data.test,
            config: &config,
            seed: n.seeds[0],
            device: &args.device,
            train_accuracy: trained.train_accuracy,
            test_accuracy: trained.test_accuracy,
            test_loss: trained.test_loss,
            train_seconds: outcome.train_seconds,
        };
        report_written(folder, folder.write(&run)?, args.json)?;
    }
    Ok(())
}

/// An epoch's loss (one member) or the members' mean loss and failures.
fn loss_text(losses: &[Option<f64>]) -> String {
    let alive: Vec<f64> = losses.iter().flatten().copied().collect();
    match (losses.len(), alive.len()) {
        (1, 1) => format!("loss {:.4}", alive[0]),
        (_, 0) => "every member failed".to_string(),
        (p, a) => {
            let mean = alive.iter().sum::<f64>() / a as f64;
            let failed = if a < p { format!(" ({} failed)", p - a) } else { String::new() };
            format!("mean loss {mean:.4} over {a} members{failed}")
        }
    }
}

/// What is printed about the trained networks.
struct Report<'a> {
    args: &'a TrainArgs,
    data: &'a data::DataSplits,
    space: &'a densenas::Space,
    config: &'a TrainConfig,
    n: &'a Numbers,
    seconds: f64,
}

impl Report<'_> {
    /// The JSON object of a trained network (`seed` is its own).
    fn json(&self, dag: &Dag, seed: u64, t: &TrainedMember) -> serde_json::Value {
        let (d, test, space, config, n) = (&self.data.train, &self.data.test, self.space, self.config, self.n);
        json!({
            "densenas_version": densenas::VERSION,
            "dataset": {"name": d.name, "spec": self.args.data, "train": d.len(), "test": test.len(),
                        "features": d.features, "classes": d.classes},
            "dag": dag,
            "metrics": dag.metrics(),
            "space": {"layers": space.layers(), "width": space.width(), "max_skip": space.max_skip(),
                      "activation": space.activation(), "aggregation": space.aggregation(), "norm": space.norm()},
            "train": {"epochs": config.epochs, "batch_size": config.batch_size, "lr": config.optimizer.lr,
                      "seed": seed, "device": self.args.device, "threads": n.threads},
            "params": t.network.params(),
            "flops": t.network.flops(),
            "train_accuracy": t.train_accuracy,
            "test_accuracy": t.test_accuracy,
            "test_loss": t.test_loss,
            "train_seconds": self.seconds,
        })
    }

    /// The report of a single network: a JSON object with --json, else text.
    fn one(&self, dag: &Dag, t: &TrainedMember) -> Result<()> {
        if self.args.json {
            println!("{}", self.json(dag, self.n.seeds[0], t));
            return Ok(());
        }
        let (d, test) = (&self.data.train, &self.data.test);
        println!("dataset         {} ({} training / {} test samples)", d.name, d.len(), test.len());
        let (edges, depth, layers, width) = (dag.edges(), dag.metrics().depth, dag.layers(), self.space.width());
        println!("DAG             {edges:?} ({} edges, depth {depth}, L={layers}, D={width})", edges.len());
        let (test_pct, train_pct) = (100.0 * t.test_accuracy, 100.0 * t.train_accuracy);
        println!("test accuracy   {test_pct:.2}%  (test loss {:.4}; training accuracy {train_pct:.2}%)", t.test_loss);
        println!("parameters      {}", t.network.params());
        println!("FLOPs           {} per sample (forward)", t.network.flops());
        println!("training        {:.1} s ({} epochs, batch {})", self.seconds, self.config.epochs, self.config.batch_size);
        Ok(())
    }

    /// One line per member (`member`: its index, DAG-major): its JSON object with
    /// --json (a failed member's has `failed`, its reason), else a line of text. Fails
    /// after the lines when some member failed.
    fn members(&self, members: &[(Dag, u64)], results: Vec<std::result::Result<TrainedMember, String>>) -> Result<()> {
        let mut failed = 0;
        for (m, ((dag, seed), result)) in members.iter().zip(results).enumerate() {
            match (result, self.args.json) {
                (Ok(t), true) => {
                    let mut line = self.json(dag, *seed, &t);
                    line["member"] = json!(m);
                    println!("{line}");
                }
                (Ok(t), false) => println!(
                    "member {m:>3}  seed {seed:>4}  {:>2} edges  test accuracy {:.2}%  test loss {:.4}  params {}",
                    dag.edges().len(),
                    100.0 * t.test_accuracy,
                    t.test_loss,
                    t.network.params()
                ),
                (Err(reason), json) => {
                    failed += 1;
                    if json {
                        println!("{}", json!({"member": m, "dag": dag, "train": {"seed": seed}, "failed": reason}));
                    } else {
                        println!("member {m:>3}  seed {seed:>4}  failed: {reason}");
                    }
                }
            }
        }
        if !self.args.json {
            println!("training        {:.1} s for {} networks ({} epochs, batch {})", self.seconds, members.len(), self.config.epochs, self.config.batch_size);
        }
        match failed {
            0 => Ok(()),
            f => Err(Error::Diverged(format!("{f} of {} members failed (their lines say why)", members.len()))),
        }
    }
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
