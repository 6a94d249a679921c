//! The `densenas` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use densenas::search::{run_search, Event, SearchConfig};
use densenas::space::{Activation, Aggregation, Norm};
use densenas::{data, run_folder, StrategyKind};

#[derive(Parser)]
#[command(name = "densenas", version, about = "Differentiable architecture search over densely connected layers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Search a space on a dataset, retrain the best DAG and the chain baseline, and
    /// write a run folder.
    Search(SearchArgs),
}

#[derive(Args)]
struct SearchArgs {
    /// Dataset: `digits` (embedded UCI 8x8 digits).
    #[arg(long, default_value = "digits")]
    data: String,
    /// Hidden layers L.
    #[arg(long, default_value_t = 4)]
    layers: usize,
    /// Width D of every layer.
    #[arg(long, default_value_t = 128)]
    width: usize,
    /// Blocks k in the supernet.
    #[arg(long, default_value_t = 8)]
    blocks: usize,
    /// Longest skip S (default L-1).
    #[arg(long)]
    max_skip: Option<usize>,
    /// Fewest edges per drawn DAG.
    #[arg(long)]
    min_edges: Option<usize>,
    /// Most edges per drawn DAG.
    #[arg(long)]
    max_edges: Option<usize>,
    /// Activation: relu, gelu, tanh, sigmoid.
    #[arg(long, default_value = "relu", value_parser = parse_json_enum::<Activation>)]
    activation: Activation,
    /// Aggregation: sum, mean.
    #[arg(long, default_value = "sum", value_parser = parse_json_enum::<Aggregation>)]
    aggregation: Aggregation,
    /// Normalisation: none, layernorm.
    #[arg(long, default_value = "none", value_parser = parse_json_enum::<Norm>)]
    norm: Norm,
    /// Strategy: darts.
    #[arg(long, default_value = "darts")]
    strategy: StrategyKind,
    /// Phases P.
    #[arg(long, default_value_t = 4)]
    phases: usize,
    /// Epochs of alternating steps per phase.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Weight-only warm-up epochs at the start of each phase.
    #[arg(long, default_value_t = 0)]
    warmup_epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Fraction of the training file used as the validation split.
    #[arg(long, default_value_t = 0.5)]
    val_fraction: f64,
    /// Seed of all the run's randomness.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// libtorch threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Epochs of retraining from scratch for the best DAG and the baseline (0: none).
    #[arg(long, default_value_t = 30)]
    retrain_epochs: usize,
    /// Run folder to write.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// No progress output.
    #[arg(long)]
    quiet: bool,
}

fn parse_json_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|e| e.to_string())
}

impl SearchArgs {
    fn config(&self) -> SearchConfig {
        let mut c = SearchConfig { data: self.data.clone(), ..SearchConfig::default() };
        c.space.layers = self.layers;
        c.space.width = self.width;
        c.space.blocks = self.blocks;
        c.space.max_skip = self.max_skip;
        c.space.min_edges = self.min_edges;
        c.space.max_edges = self.max_edges;
        c.space.activation = self.activation;
        c.space.aggregation = self.aggregation;
        c.space.norm = self.norm;
        c.phases = self.phases;
        c.epochs = self.epochs;
        c.warmup_epochs = self.warmup_epochs;
        c.batch_size = self.batch_size;
        c.val_fraction = self.val_fraction;
        c.threads = self.threads;
        c.session.strategy = self.strategy;
        c.session.seed = self.seed;
        c.session.device = self.device.clone();
        c.retrain.epochs = self.retrain_epochs;
        c.retrain.batch_size = self.batch_size;
        c
    }
}

fn search(args: SearchArgs) -> densenas::Result<()> {
    let config = args.config();
    config.validate()?;
    let data = data::load(&config.data)?;
    let quiet = args.quiet;
    let mut on_event = |event: Event<'_>| {
        if quiet {
            return;
        }
        match event {
            Event::Epoch { phase, epoch, epochs, weight_loss, arch_loss, weight_entropy } => eprintln!(
                "phase {} epoch {:>3}/{epochs}  weight loss {weight_loss:.4}  arch loss {arch_loss:.4}  entropy(w) {weight_entropy:.3}",
                phase + 1,
                epoch + 1
            ),
            Event::Phase(r) => {
                let accs: Vec<String> = r.records.iter().map(|x| format!("{:.3}", x.val_accuracy)).collect();
                eprintln!(
                    "phase {} done: block val acc [{}]  best so far {:.4}{}  density entropy {:.2} bits",
                    r.phase + 1,
                    accs.join(" "),
                    r.best_val_accuracy,
                    if r.new_best { " (new)" } else { "" },
                    r.density_entropy_bits
                );
            }
            Event::Retrain { which, epoch, epochs, loss } => {
                if epoch + 1 == epochs || (epoch + 1) % 10 == 0 {
                    eprintln!("retrain {which:<8} epoch {:>3}/{epochs}  loss {loss:.4}", epoch + 1);
                }
            }
        }
    };
    let outcome = run_search(&config, &data, &mut on_event)?;
    run_folder::write_run_folder(&args.out, &config, &outcome)?;
    let s = &outcome.summary;
    let pct = |v: f64| format!("{:.2}%", 100.0 * v);
    println!();
    println!("densenas {} search on {} ({} weight / {} val / {} test samples), strategy {}, seed {}",
        s.densenas_version, s.dataset.name, s.dataset.train, s.dataset.val, s.dataset.test, s.strategy, s.seed);
    println!("space: L={} D={} k={} S={} ({} allowed edges)", s.space.layers, s.space.width, s.space.blocks, s.space.max_skip, s.space.allowed_edges);
    println!("{:<10} {:>6} {:>6} {:>10} {:>12} {:>9} {:>14} {:>9}", "network", "edges", "depth", "params", "FLOPs", "val acc", "inherited test", "test acc");
    let b = &s.best;
    println!("{:<10} {:>6} {:>6} {:>10} {:>12} {:>9} {:>14} {:>9}", "best", b.num_edges, b.depth, b.params, b.flops,
        pct(b.val_accuracy), pct(b.inherited_test_accuracy), pct(b.test_accuracy));
    let c = &s.baseline;
    println!("{:<10} {:>6} {:>6} {:>10} {:>12} {:>9} {:>14} {:>9}", "chain", c.edges.len(), s.space.layers, c.params, c.flops,
        "-", "-", c.test_accuracy.map_or("-".to_string(), pct));
    println!("best DAG edges: {:?}", b.edges);
    println!("search {:.1} s ({:.0} samples/s), retraining {:.1} s; run folder {}",
        s.timing.search_seconds, s.timing.samples_per_second, s.timing.retrain_seconds, args.out.display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Search(args) => search(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("densenas: error: {e}");
            ExitCode::FAILURE
        }
    }
}
