//! `densenas bench`: samples/s and the memory a step holds, per strategy and `k`.

use clap::Args;

use densenas::bench::{run_bench, BenchConfig, BenchRow};
use densenas::{data, StrategyKind};

/// Options of `densenas bench`.
#[derive(Args)]
pub struct BenchArgs {
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
    /// Batch size of both steps.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Timed weight + architecture step pairs per row (after one warm-up pair).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Dataset (as for `search`).
    #[arg(long, default_value = "digits")]
    data: String,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// libtorch threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Device: cpu, cuda or cuda:N (memory is host memory).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the rows as JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("-".to_string(), |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)))
}

pub fn run(args: BenchArgs) -> densenas::Result<()> {
    let defaults = BenchConfig::default();
    let config = BenchConfig {
        strategies: if args.strategies.is_empty() { defaults.strategies } else { args.strategies },
        blocks: if args.blocks.is_empty() { defaults.blocks } else { args.blocks },
        layers: args.layers,
        width: args.width,
        batch_size: args.batch_size,
        steps: args.steps,
        seed: args.seed,
        threads: args.threads,
        device: args.device,
    };
    let data = data::load(&args.data)?;
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
