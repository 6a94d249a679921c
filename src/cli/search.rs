//! `densenas search`: a whole search, its run folder and a summary table.

use std::path::{Path, PathBuf};

use clap::Args;

use std::sync::atomic::{AtomicBool, Ordering};

use densenas::model::density::Feedback;
use densenas::model::device::Precision;
use densenas::train::optim::{LrSchedule, OptimizerKind};
use densenas::io::folder_search;
use densenas::search::checkpoint;
use densenas::search::summary::{OnnxCheck, Summary};
use densenas::search::{ArchSplit, Control, Event, SearchConfig};

use super::args::{parse_json_enum, parse_op, MapArgs};
use super::progress::{Progress, ProgressMode};
use densenas::model::ops::Op;
use densenas::model::space::{Activation, Aggregation, Norm};
use densenas::StrategyKind;

/// Options of `densenas search`. Each one left out takes its value from `--config`
/// when given, else the default that `SearchConfig::default()` documents. Numbers are
/// read signed, so that `--width -5` is refused by the engine's range (naming the key)
/// rather than taken for an unknown flag.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct SearchArgs {
    /// A configuration file with the keys of a run folder's config.json (for example
    /// `--config runs/digits/config.json` repeats that run); options given here win.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Dataset: `digits` (embedded UCI 8x8 digits), `idx:DIR` (MNIST-layout files),
    /// `cifar:DIR` or `cifar:FILE.bin` (CIFAR-10 binary), `images:PATH[,TEST]` (a folder
    /// or .tar/.tar.gz of <class>/<image> files), `csv:TRAIN[,TEST]` [default: digits].
    #[arg(long)]
    data: Option<String>,
    /// Train on a fixed stratified subset of this many training samples (the test file
    /// stays whole) [default: all].
    #[arg(long)]
    train_subsample: Option<i64>,
    /// Hidden layers L [default: 6].
    #[arg(long)]
    layers: Option<i64>,
    /// Width D of every layer [default: 256].
    #[arg(long)]
    width: Option<i64>,
    /// Blocks k in the supernet [default: 8].
    #[arg(long)]
    blocks: Option<i64>,
    /// Longest skip S [default: L-1].
    #[arg(long)]
    max_skip: Option<i64>,
    /// Fewest edges per drawn DAG [default: 0].
    #[arg(long)]
    min_edges: Option<i64>,
    /// Most edges per drawn DAG [default: all allowed edges].
    #[arg(long)]
    max_edges: Option<i64>,
    /// Activation: relu, gelu, tanh, sigmoid [default: relu].
    #[arg(long, value_parser = parse_json_enum::<Activation>)]
    activation: Option<Activation>,
    /// Aggregation: sum, mean [default: sum].
    #[arg(long, value_parser = parse_json_enum::<Aggregation>)]
    aggregation: Option<Aggregation>,
    /// Normalisation: none, layernorm [default: none].
    #[arg(long, value_parser = parse_json_enum::<Norm>)]
    norm: Option<Norm>,
    /// The ops an edge may carry, comma-separated: dense, conv3x3, conv5x5, local3x3,
    /// avgpool3x3, maxpool3x3, identity [default: dense].
    #[arg(long, value_delimiter = ',', value_parser = parse_op)]
    ops: Option<Vec<Op>>,
    #[command(flatten)]
    maps: MapArgs,
    /// Strategy: darts (first order), darts2 (second order), darts-plus (DARTS with early
    /// stopping), pdarts (progressive, in stages of rising depth), snas, gdas, proxyless,
    /// drnas or random; hyper-parameters under
    /// `session.strategy_options` in --config [default: darts].
    #[arg(long)]
    strategy: Option<StrategyKind>,
    /// Phases P [default: 5].
    #[arg(long)]
    phases: Option<i64>,
    /// Epochs of alternating weight and architecture steps per phase [default: 10].
    #[arg(long)]
    epochs: Option<i64>,
    /// Weight-only warm-up epochs at the start of each phase [default: 0].
    #[arg(long)]
    warmup_epochs: Option<i64>,
    /// Batch size of search and retraining steps [default: 64].
    #[arg(long)]
    batch_size: Option<i64>,
    /// Fraction of the training file in the validation split [default: 0.5].
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Seed of all the run's randomness [default: 0].
    #[arg(long)]
    seed: Option<i128>,
    /// libtorch threads [default: 1].
    #[arg(long)]
    threads: Option<i64>,
    /// Device: cpu, cuda or cuda:N [default: cpu].
    #[arg(long)]
    device: Option<String>,
    /// Tensor precision: float32, float64, or tf32 (float32 tensors, TF32 matrix
    /// products on CUDA) [default: float32].
    #[arg(long, value_parser = parse_json_enum::<Precision>)]
    precision: Option<Precision>,
    /// libtorch's deterministic algorithms: bit-reproducible on CUDA too (sets
    /// CUBLAS_WORKSPACE_CONFIG=:4096:8 when unset); the CPU is deterministic anyway.
    #[arg(long)]
    deterministic: bool,
    /// Epochs of retraining from scratch for the best DAG and the chain baseline
    /// (0: no retraining) [default: 40].
    #[arg(long)]
    retrain_epochs: Option<i64>,
    /// Run folder to write [default: runs/latest].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the search in this run folder from its latest checkpoint (written after
    /// every complete phase), with the configuration it was started with; the finished
    /// run equals an uninterrupted one. Takes no search options.
    #[arg(long, value_name = "DIR", conflicts_with_all = CONFIG_OPTIONS)]
    resume: Option<PathBuf>,
    /// Replace a finished run in the --out folder (by default such a folder is refused;
    /// one holding an unfinished search always is: resume it or remove it).
    #[arg(long)]
    overwrite: bool,
    /// Keep the run folder's checkpoints/ when the search finishes (by default they are
    /// removed then; an interrupted search always keeps them).
    #[arg(long)]
    keep_checkpoints: bool,
    /// Progress display: auto (bars on a terminal, else nothing), bar, lines, none.
    #[arg(long, value_enum, default_value = "auto")]
    progress: ProgressMode,
    /// No progress output (as `--progress none`).
    #[arg(long)]
    quiet: bool,
    /// Optimiser of the shared weights: sgd (with momentum 0.9) or adam [default: sgd].
    #[arg(long, value_parser = parse_json_enum::<OptimizerKind>)]
    optimizer: Option<OptimizerKind>,
    /// Learning rate of the shared weights, in search and retraining [default: 0.05].
    #[arg(long)]
    lr: Option<f64>,
    /// Learning rate of the architecture weights alpha [default: 0.05].
    #[arg(long)]
    arch_lr: Option<f64>,
    /// L2 weight decay of the shared weights, in search and retraining [default: 3e-4].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Clip the weight gradient's norm to this; 0 disables clipping [default: 5].
    #[arg(long)]
    grad_clip: Option<f64>,
    /// Learning-rate schedule of the weights: cosine or constant [default: cosine].
    #[arg(long, value_parser = parse_json_enum::<LrSchedule>)]
    schedule: Option<LrSchedule>,
    /// The first phase's k blocks instead of drawn ones: a JSON list (inline, or a file
    /// holding it) of edge lists `[[0,1],[1,2]]`, "chain", "full" or {"random": m}.
    #[arg(long)]
    first_dags: Option<String>,
    /// Weights of the density update: strategy (its block weights, the default) or rank
    /// (rank-based weights of the blocks' validation accuracies).
    #[arg(long, value_parser = parse_json_enum::<Feedback>)]
    feedback: Option<Feedback>,
    /// Data of the architecture steps: validation (bi-level, the default) or weight.
    #[arg(long, value_parser = parse_json_enum::<ArchSplit>)]
    arch_split: Option<ArchSplit>,
    /// Beta regularisation: add lambda * logsumexp(alpha) to the architecture loss,
    /// lambda rising linearly from 0 to MAX over each phase (darts, darts2, snas,
    /// darts-plus); 0 turns it off [default: off].
    #[arg(long, value_name = "MAX")]
    beta_reg: Option<f64>,
    /// Measure the largest eigenvalue of the architecture Hessian every N epochs of a
    /// phase (not for gdas, proxyless, random) [default: off].
    #[arg(long, value_name = "N")]
    hessian_every: Option<i64>,
    /// Print the resolved configuration as JSON and exit without searching.
    #[arg(long)]
    print_config: bool,
}

/// The options that make a configuration (refused beside --resume, which takes the
/// checkpoint's).
const CONFIG_OPTIONS: [&str; 41] = [
    "config", "data", "train_subsample", "layers", "width", "blocks", "max_skip", "min_edges", "max_edges", "activation",
    "aggregation", "norm", "ops", "shape", "input_shape", "stem", "strategy", "phases", "epochs", "warmup_epochs", "batch_size", "val_fraction", "seed",
    "threads", "device", "precision", "deterministic", "retrain_epochs", "out", "overwrite", "optimizer", "lr", "arch_lr", "weight_decay", "grad_clip",
    "schedule", "first_dags", "feedback", "arch_split", "beta_reg", "hessian_every",
];


/// Reads a configuration file (the keys of a run folder's config.json).
fn read_config(path: &std::path::Path) -> densenas::Result<SearchConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| densenas::Error::io(path, e))?;
    SearchConfig::from_json(&text).map_err(|e| e.in_context(path.display()))
}

impl SearchArgs {
    fn config(&self) -> densenas::Result<SearchConfig> {
        let mut c = match &self.config {
            Some(path) => read_config(path)?,
            None => SearchConfig::default(),
        };
        fn set<T: Clone>(dst: &mut T, src: &Option<T>) {
            if let Some(v) = src {
                *dst = v.clone();
            }
        }
        set(&mut c.data, &self.data);
        self.counts(&mut c)?;
        set(&mut c.space.activation, &self.activation);
        set(&mut c.space.aggregation, &self.aggregation);
        set(&mut c.space.norm, &self.norm);
        set(&mut c.space.ops, &self.ops);
        set(&mut c.space.stem, &self.maps.stem);
        if self.maps.shape.is_some() {
            c.space.shape = self.maps.shape;
        }
        if self.maps.input_shape.is_some() {
            c.space.input_shape = self.maps.input_shape;
        }
        set(&mut c.val_fraction, &self.val_fraction);
        // The command line uses one libtorch thread unless told otherwise.
        c.threads = Some(c.threads.unwrap_or(1));
        set(&mut c.session.strategy, &self.strategy);
        if let Some(max) = self.beta_reg {
            // 0 turns it off; anything else goes to the engine, which checks it.
            c.session.beta_reg = (max != 0.0).then_some(max);
        }
        if let Some(n) = self.hessian_every {
            c.set_count("hessian_every", n, |c, v| c.hessian_every = Some(v))?;
        }
        set(&mut c.session.device, &self.device);
        set(&mut c.session.precision, &self.precision);
        if self.deterministic {
            c.session.deterministic = true;
        }
        if let Some(kind) = self.optimizer {
            c.session.weight_optimizer.kind = kind;
            c.retrain.optimizer.kind = kind;
            if kind == OptimizerKind::Adam && self.lr.is_none() {
                // Adam's usual rate rather than SGD's.
                c.session.weight_optimizer.lr = 1e-3;
                c.retrain.optimizer.lr = 1e-3;
            }
        }
        set(&mut c.session.weight_optimizer.lr, &self.lr);
        set(&mut c.retrain.optimizer.lr, &self.lr);
        set(&mut c.session.arch_optimizer.lr, &self.arch_lr);
        set(&mut c.session.weight_optimizer.weight_decay, &self.weight_decay);
        set(&mut c.retrain.optimizer.weight_decay, &self.weight_decay);
        if let Some(clip) = self.grad_clip {
            // 0 disables clipping; a negative value goes to the engine, which refuses it.
            let clip = (clip != 0.0).then_some(clip);
            c.session.grad_clip = clip;
            c.retrain.grad_clip = clip;
        }
        set(&mut c.schedule, &self.schedule);
        set(&mut c.arch_split, &self.arch_split);
        set(&mut c.session.density.feedback, &self.feedback);
        if let Some(spec) = &self.first_dags {
            let text = if spec.trim_start().starts_with('[') {
                spec.clone()
            } else {
                std::fs::read_to_string(spec).map_err(|e| densenas::Error::io(spec, e))?
            };
            let dags = serde_json::from_str(&text)
                .map_err(|e| densenas::Error::config("first_dags", format!("{spec}: {e}")))?;
            c.first_dags = Some(dags);
        }
        set(&mut c.retrain.schedule, &self.schedule);
        Ok(c)
    }

    /// The counts given (signed on the command line): a negative one is refused by the
    /// engine's range for its key.
    fn counts(&self, c: &mut SearchConfig) -> densenas::Result<()> {
        type Set = fn(&mut SearchConfig, usize);
        let counts: [(&str, Option<i64>, Set); 13] = [
            ("train_subsample", self.train_subsample, |c, v| c.train_subsample = Some(v)),
            ("layers", self.layers, |c, v| c.space.layers = v),
            ("width", self.width, |c, v| c.space.width = v),
            ("blocks", self.blocks, |c, v| c.space.blocks = v),
            ("max_skip", self.max_skip, |c, v| c.space.max_skip = Some(v)),
            ("min_edges", self.min_edges, |c, v| c.space.min_edges = Some(v)),
            ("max_edges", self.max_edges, |c, v| c.space.max_edges = Some(v)),
            ("phases", self.phases, |c, v| c.phases = v),
            ("epochs", self.epochs, |c, v| c.epochs = v),
            ("warmup_epochs", self.warmup_epochs, |c, v| c.warmup_epochs = v),
            ("batch_size", self.batch_size, |c, v| {
                c.batch_size = v;
                c.retrain.batch_size = v;
            }),
            ("threads", self.threads, |c, v| c.threads = Some(v)),
            ("retrain.epochs", self.retrain_epochs, |c, v| c.retrain.epochs = v),
        ];
        for (field, value, set) in counts {
            if let Some(value) = value {
                c.set_count(field, value, set)?;
            }
        }
        if let Some(seed) = self.seed {
            c.session.seed = super::args::seed("session.seed", seed)?;
        }
        Ok(())
    }
}

pub fn run(args: SearchArgs) -> densenas::Result<()> {
    if args.print_config {
        let config = match &args.resume {
            Some(dir) => checkpoint::read_latest(&folder_search::checkpoints_of(dir))?.config,
            None => args.config()?,
        };
        config.validate()?;
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let mut progress = Progress::new(if args.quiet { ProgressMode::None } else { args.progress });
    let mut on_event = |event: Event<'_>| progress.event(event);
    let mut control = Control { on_event: &mut on_event, stop: &STOP };
    install_interrupt_handler();
    let (result, dir) = match &args.resume {
        Some(dir) => (folder_search::resume_in_folder(dir, None, &mut control, args.keep_checkpoints), dir.clone()),
        None => {
            let dir = args.out.clone().unwrap_or_else(|| PathBuf::from("runs/latest"));
            let config = args.config()?;
            (folder_search::search_in_folder(&dir, &config, &mut control, args.keep_checkpoints, args.overwrite), dir)
        }
    };
    progress.finish();
    let done = result?;
    print_table(&done.outcome.summary, &dir);
    if done.outcome.summary.interrupted {
        return Err(densenas::Error::Stopped(format!(
            "interrupted: {} holds what was done so far (summary marked interrupted, the inherited best in \
             best.onnx); continue with `densenas search --resume {}`",
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

fn print_table(s: &Summary, dir: &Path) {
    let pct = |v: f64| format!("{:.2}%", 100.0 * v);
    println!();
    let d = &s.dataset;
    println!("densenas {} search on {} ({} training samples: {} weight + {} validation; {} test), strategy {}, seed {}",
        s.densenas_version, d.name, d.train_file, d.weight, d.validation, d.test, s.strategy, s.seed);
    println!("space: L={} D={} k={} S={} ({} allowed edges)", s.space.layers, s.space.width, s.space.blocks, s.space.max_skip, s.space.allowed_edges);
    println!("{:<10} {:>6} {:>6} {:>10} {:>12} {:>9} {:>14} {:>9}", "network", "edges", "depth", "params", "FLOPs", "val acc", "inherited test", "test acc");
    let b = &s.best;
    println!("{:<10} {:>6} {:>6} {:>10} {:>12} {:>9} {:>14} {:>9}", "best", b.num_edges, b.depth, b.params, b.flops,
        pct(b.val_accuracy), pct(b.inherited_test_accuracy), pct(b.test_accuracy));
    for (name, c) in std::iter::once(("chain", &s.baseline)).chain(s.baseline_cnn.as_ref().map(|c| ("cnn chain", c))) {
        println!("{:<10} {:>6} {:>6} {:>10} {:>12} {:>9} {:>14} {:>9}", name, c.edges.len(), s.space.layers, c.params, c.flops,
            "-", "-", c.test_accuracy.map_or("-".to_string(), pct));
    }
    if b.ops.iter().all(|&o| o == Op::Dense) {
        println!("best DAG edges: {:?}", b.edges);
    } else {
        let typed: Vec<String> = b.edges.iter().zip(&b.ops).map(|((i, j), o)| format!("{i}-{j}:{o}")).collect();
        println!("best DAG edges: {}", typed.join(", "));
    }
    if let Some(r) = &s.resumed {
        println!("resumed after phase {} from the run folder's checkpoint", r.from_phase);
    }
    println!("search {:.1} s ({:.0} samples/s), retraining {:.1} s; run folder {}",
        s.timing.search_seconds, s.timing.samples_per_second, s.timing.retrain_seconds, dir.display());
    match &s.onnx {
        Some(OnnxCheck::Checked(o)) => println!(
            "ONNX Runtime on {}: test accuracy {}, max |engine - ORT| logit difference {:.2e}, {} prediction mismatches",
            o.path,
            pct(o.test_accuracy),
            o.max_abs_diff,
            o.prediction_mismatches
        ),
        Some(OnnxCheck::Skipped { .. } | OnnxCheck::Failed { .. }) | None => {}
    }
    // A warning, not progress: on stderr, also with --quiet.
    if let Some(notice) = s.onnx.as_ref().and_then(OnnxCheck::skip_notice) {
        eprintln!("densenas: warning: {notice}");
    }
}

/// Set by the first Ctrl-C: the search (or the retraining) finishes its current step and
/// writes what it has; a second Ctrl-C ends the process at once.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
    // A second Ctrl-C ends the process at once.
    // SAFETY: signal() is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

fn install_interrupt_handler() {
    // SAFETY: the handler only stores to an atomic and resets the disposition.
    unsafe {
        libc::signal(libc::SIGINT, on_interrupt as *const () as libc::sighandler_t);
    }
}
