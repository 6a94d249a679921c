//! `densenas bench`: the supernet's throughput and GFLOP/s beside the machine's matrix
//! multiply rate, and per strategy and `k` the samples/s and the memory a step holds;
//! the population trainer (`population`).

use clap::Args;

use densenas::bench::{
    run_bench, run_compare, run_supernet_bench, BenchConfig, BenchRow, CompareConfig, CompareRow, SupernetBenchConfig, SupernetRow,
};
use densenas::model::device::Precision;
use densenas::{data, StrategyKind};

use super::args::parse_json_enum;

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
}

/// Options of `densenas bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Which benchmark: supernet, strategies, all (both) or compare (with PyTorch).
    #[arg(long, value_enum, default_value = "all")]
    suite: Suite,
    /// Supernet benchmark: numbers of blocks k, comma-separated [default: 1,8,32].
    #[arg(long, value_delimiter = ',')]
    supernet_blocks: Vec<usize>,
    /// Supernet benchmark: widths D, comma-separated [default: 128,512].
    #[arg(long, value_delimiter = ',')]
    widths: Vec<usize>,
    /// Strategies, comma-separated [default: all].
    #[arg(long, value_delimiter = ',')]
    strategies: Vec<StrategyKind>,
    /// Numbers of blocks k, comma-separated [default: 4,16,64].
    #[arg(long, value_delimiter = ',')]
    blocks: Vec<usize>,
    /// Hidden layers L.
    #[arg(long, default_value_t = 6)]
    layers: usize,
    /// Width D.
    #[arg(long, default_value_t = 256)]
    width: usize,
    /// Batch size [default: 64; compare: 256].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Compare: the Python that runs the PyTorch reference [default: .venv-ref/bin/python].
    #[arg(long)]
    python: Option<std::path::PathBuf>,
    /// Timed weight + architecture step pairs per row (after one warm-up pair).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Dataset (as for `search`) [default: digits; population: random MNIST-shaped data].
    #[arg(long)]
    data: Option<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// libtorch threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Device: cpu, cuda or cuda:N (memory is host memory); compare: cpu only.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Supernet benchmark: tensor precision, float32, float64 or tf32 (CUDA: TF32
    /// matrix products, compared with the TF32 matrix-multiply rate).
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
fn sizes(args: &BenchArgs, defaults: SupernetBenchConfig) -> SupernetBenchConfig {
    SupernetBenchConfig {
        blocks: if args.supernet_blocks.is_empty() { defaults.blocks } else { args.supernet_blocks.clone() },
        widths: if args.widths.is_empty() { defaults.widths } else { args.widths.clone() },
        layers: args.layers,
        batch_size: args.batch_size.unwrap_or(defaults.batch_size),
        steps: args.steps,
        threads: args.threads,
        seed: args.seed,
        device: args.device.clone(),
        precision: args.precision,
    }
}

/// Runs the supernet benchmark and prints its table.
fn supernet(args: &BenchArgs, data: &densenas::data::DataSplits) -> densenas::Result<()> {
    let config = sizes(args, SupernetBenchConfig::default());
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
fn compare(args: &BenchArgs, data: &densenas::data::DataSplits) -> densenas::Result<()> {
    let defaults = CompareConfig::default();
    let config = CompareConfig { sizes: sizes(args, defaults.sizes), python: args.python.clone() };
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
    if args.suite == Suite::Population {
        return population::run(&args);
    }
    let data = data::load(args.data.as_deref().unwrap_or("digits"))?;
    if args.suite == Suite::Compare {
        return compare(&args, &data);
    }
    if matches!(args.suite, Suite::Supernet | Suite::All) {
        supernet(&args, &data)?;
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
        blocks: if args.blocks.is_empty() { defaults.blocks } else { args.blocks.clone() },
        layers: args.layers,
        width: args.width,
        batch_size: args.batch_size.unwrap_or(64),
        steps: args.steps,
        seed: args.seed,
        threads: args.threads,
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
