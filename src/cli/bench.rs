//! `densenas bench`: the supernet's throughput and GFLOP/s beside the machine's matrix
//! multiply rate, and per strategy and `k` the samples/s and the memory a step holds;
//! the population trainer (`population`).

use clap::Args;

use densenas::internal::bench::{
    run_bench, run_compare, run_supernet_bench, BenchConfig, BenchRow, CompareConfig, CompareRow, SupernetBenchConfig, SupernetRow,
};
use densenas::model::device::Precision;
use densenas::{data, StrategyKind};

use super::args::{count, count_with, parse_json_enum, seed};

mod population;

/// Which benchmarks to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// The supernet (DARTS weight steps) for k in --supernet-blocks and D in --widths.
    Supernet,
    /// Every strategy for k in --blocks.
    Strategies,
    /// Supernet and strategies.
    All,
    /// The supernet (grouped and batched paths) beside the same supernet in plain
    /// PyTorch, in one run (sets up `.venv-ref` with the full torch wheel on first use).
    Compare,
    /// The population trainer for P in --populations, D in --widths and batch sizes in
    /// --batch-sizes, beside the same members trained one at a time (random MNIST-shaped
    /// data unless --data is given).
    Population,
    /// The population benchmark with PyTorch's ensemble (stack_module_state + vmap)
    /// beside it, in one run (the PyTorch reference of `compare`).
    ComparePopulation,
}

/// Options of `densenas bench`. Numbers are read signed, so that `--width -5` is
/// refused by the engine's range (naming the key) rather than taken for a flag.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    /// Which benchmark: supernet, strategies, all (both) or compare (with PyTorch).
    #[arg(long, value_enum, default_value = "all")]
    suite: Suite,
    /// Supernet benchmark: numbers of blocks k, comma-separated [default: 1,8,32].
    #[arg(long, value_delimiter = ',')]
    supernet_blocks: Vec<i64>,
    /// Supernet benchmark: widths D, comma-separated [default: 128,512].
    #[arg(long, value_delimiter = ',')]
    widths: Vec<i64>,
    /// Strategies, comma-separated [default: all].
    #[arg(long, value_delimiter = ',')]
    strategies: Vec<StrategyKind>,
    /// Numbers of blocks k, comma-separated [default: 4,16,64].
    #[arg(long, value_delimiter = ',')]
    blocks: Vec<i64>,
    /// Hidden layers L.
    #[arg(long, default_value_t = 6)]
    layers: i64,
    /// Width D.
    #[arg(long, default_value_t = 256)]
    width: i64,
    /// Batch size [default: 64; compare: 256].
    #[arg(long)]
    batch_size: Option<i64>,
    /// Compare, compare-population: the Python that runs the PyTorch reference [default:
    /// .venv-ref/bin/python].
    #[arg(long)]
    python: Option<std::path::PathBuf>,
    /// Timed weight + architecture step pairs per row (after one warm-up pair).
    #[arg(long, default_value_t = 5)]
    steps: i64,
    /// Dataset (as for `search`) [default: digits; population: random MNIST-shaped data].
    #[arg(long)]
    data: Option<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: i128,
    /// libtorch threads.
    #[arg(long, default_value_t = 1)]
    threads: i64,
    /// Device: cpu, cuda or cuda:N (memory is host memory); compare and
    /// compare-population: cpu only.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Supernet and population benchmarks: tensor precision, float32, float64 or tf32
    /// (CUDA: TF32 matrix products, compared with the TF32 matrix-multiply rate).
    #[arg(long, value_parser = parse_json_enum::<Precision>, default_value = "float32")]
    precision: Precision,
    /// Print the rows as JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Population benchmark: population sizes P, comma-separated [default: 1,8,64].
    #[arg(long, value_delimiter = ',')]
    populations: Vec<usize>,
    /// Population benchmark: batch sizes, comma-separated [default: 64,256].
    #[arg(long, value_delimiter = ',')]
    batch_sizes: Vec<usize>,
    /// Population benchmark: add P = 256.
    #[arg(long)]
    large: bool,
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("-".to_string(), |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)))
}

/// The supernet sizes of the command line, over `defaults`.
/// The numeric flags as counts: a negative one is refused by the engine's range for
/// its key.
struct Numbers {
    supernet_blocks: Vec<usize>,
    widths: Vec<usize>,
    blocks: Vec<usize>,
    layers: usize,
    width: usize,
    batch_size: Option<usize>,
    steps: usize,
    seed: u64,
    threads: usize,
}

impl BenchArgs {
    fn numbers(&self) -> densenas::Result<Numbers> {
        let blocks = |values: &[i64]| -> densenas::Result<Vec<usize>> {
            values.iter().map(|&v| count("blocks", v, |c, v| c.space.blocks = v)).collect()
        };
        Ok(Numbers {
            supernet_blocks: blocks(&self.supernet_blocks)?,
            widths: self.widths.iter().map(|&v| count("width", v, |c, v| c.space.width = v)).collect::<densenas::Result<_>>()?,
            blocks: blocks(&self.blocks)?,
            layers: count("layers", self.layers, |c, v| c.space.layers = v)?,
            width: count("width", self.width, |c, v| c.space.width = v)?,
            batch_size: self.batch_size.map(|v| count("batch_size", v, |c, v| c.batch_size = v)).transpose()?,
            // The benchmarks refuse 0 steps.
            steps: count_with("steps", self.steps, |v| {
                if v == 0 {
                    Err(densenas::Error::config("steps", "must be at least 1"))
                } else {
                    Ok(())
                }
            })?,
            seed: seed("seed", self.seed)?,
            threads: count("threads", self.threads, |c, v| c.threads = Some(v))?,
        })
    }
}

fn sizes(args: &BenchArgs, n: &Numbers, defaults: SupernetBenchConfig) -> SupernetBenchConfig {
    SupernetBenchConfig {
        blocks: if n.supernet_blocks.is_empty() { defaults.blocks } else { n.supernet_blocks.clone() },
        widths: if n.widths.is_empty() { defaults.widths } else { n.widths.clone() },
        layers: n.layers,
        batch_size: n.batch_size.unwrap_or(defaults.batch_size),
        steps: n.steps,
        threads: n.threads,
        seed: n.seed,
        device: args.device.clone(),
        precision: args.precision,
    }
}

/// Runs the supernet benchmark and prints its table.
fn supernet(args: &BenchArgs, n: &Numbers, data: &densenas::data::DataSplits) -> densenas::Result<()> {
    let config = sizes(args, n, SupernetBenchConfig::default());
    let json = args.json;
    if !json {
        println!(
            "densenas {} supernet bench: DARTS weight steps, L={} batch {} ({} timed steps per row, {} thread(s), {}, {})",
            densenas::VERSION, config.layers, config.batch_size, config.steps, config.threads, config.device,
            serde_json::to_value(config.precision).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        );
        println!(
            "{:>4} {:>6} {:>10} {:>11} {:>10} {:>13} {:>9} {:>10} {:>6}",
            "k", "D", "step ms", "samples/s", "GFLOP/s", "matmul GFLOP/s", "fraction", "useful GF", "work"
        );
    }
    let mut print = |r: &SupernetRow| {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!(
                "{:>4} {:>6} {:>10.2} {:>11.0} {:>10.1} {:>13.1} {:>9.2} {:>10.1} {:>6.2}",
                r.blocks, r.width, 1e3 * r.step_seconds, r.samples_per_second, r.gflops, r.matmul_gflops, r.fraction_of_matmul,
                r.useful_gflops, r.work_fraction
            );
        }
    };
    run_supernet_bench(&config, data, &mut print)?;
    Ok(())
}

/// Runs the comparison with PyTorch and prints its table.
fn compare(args: &BenchArgs, n: &Numbers, data: &densenas::data::DataSplits) -> densenas::Result<()> {
    let defaults = CompareConfig::default();
    let config = CompareConfig { sizes: sizes(args, n, defaults.sizes), python: args.python.clone() };
    if !args.json {
        println!(
            "densenas {} compare: DARTS weight steps, L={} F={} batch {} ({} timed steps each, {} thread(s), cpu)",
            densenas::VERSION, config.sizes.layers, data.train.features, config.sizes.batch_size, config.sizes.steps, config.sizes.threads
        );
        println!(
            "{:>4} {:>6} {:>12} {:>12} {:>12} {:>7} {:>13} {:>6} {:>9} {:>9}",
            "k", "D", "densenas/s", "batched/s", "pytorch/s", "ratio", "batched ratio", "work", "useful GF", "matmul GF"
        );
    }
    let json = args.json;
    run_compare(&config, data, &mut |r: &CompareRow| {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!(
                "{:>4} {:>6} {:>12.0} {:>12.0} {:>12.0} {:>7.2} {:>13.2} {:>6.2} {:>9.1} {:>9.1}",
                r.blocks, r.width, r.samples_per_second, r.batched_samples_per_second, r.pytorch_samples_per_second,
                r.ratio, r.batched_ratio, r.work_fraction, r.useful_gflops, r.matmul_gflops
            );
        }
    })?;
    Ok(())
}

pub fn run(args: BenchArgs) -> densenas::Result<()> {
    let n = args.numbers()?;
    if args.suite == Suite::Population {
        return population::run(&args, &n);
    }
    if args.suite == Suite::ComparePopulation {
        return population::compare(&args, &n);
    }
    let data = data::load(args.data.as_deref().unwrap_or("digits"))?;
    if args.suite == Suite::Compare {
        return compare(&args, &n, &data);
    }
    if matches!(args.suite, Suite::Supernet | Suite::All) {
        supernet(&args, &n, &data)?;
        if args.suite == Suite::All && !args.json {
            println!();
        }
    }
    if args.suite == Suite::Supernet {
        return Ok(());
    }
    let defaults = BenchConfig::default();
    let config = BenchConfig {
        strategies: if args.strategies.is_empty() { defaults.strategies } else { args.strategies.clone() },
        blocks: if n.blocks.is_empty() { defaults.blocks } else { n.blocks.clone() },
        layers: n.layers,
        width: n.width,
        batch_size: n.batch_size.unwrap_or(64),
        steps: n.steps,
        seed: n.seed,
        threads: n.threads,
        device: args.device.clone(),
    };
    let json = args.json;
    if !json {
        println!(
            "densenas {} bench: L={} D={} batch {} ({} timed step pairs per row, {} thread(s), {})",
            densenas::VERSION, config.layers, config.width, config.batch_size, config.steps, config.threads, config.device
        );
        println!("memory: peak resident memory added during one step (activations, gradients, temporaries)");
        println!(
            "{:<10} {:>4} {:>11} {:>13} {:>13} {:>15} {:>15}",
            "strategy", "k", "samples/s", "weight ms", "arch ms", "weight MiB", "arch MiB"
        );
    }
    let mut print = |r: &BenchRow| {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!(
                "{:<10} {:>4} {:>11.0} {:>13.2} {:>13.2} {:>15} {:>15}",
                r.strategy,
                r.blocks,
                r.samples_per_second,
                1e3 * r.weight_step_seconds,
                1e3 * r.arch_step_seconds,
                mib(r.weight_step_bytes),
                mib(r.arch_step_bytes)
            );
        }
    };
    run_bench(&config, &data, &mut print)?;
    Ok(())
}
