//! `densenas bench --suite population`: the population trainer's table.

use densenas::internal::bench::{run_population_bench, BenchData, PopulationBenchConfig, PopulationRow};
use densenas::data;

use super::{BenchArgs, Numbers};

/// Runs the population benchmark and prints its table (or JSON lines).
pub(super) fn run(args: &BenchArgs, n: &Numbers) -> densenas::Result<()> {
    let defaults = PopulationBenchConfig::default();
    let mut populations = if args.populations.is_empty() { defaults.populations } else { args.populations.clone() };
    if args.large && !populations.contains(&256) {
        populations.push(256);
    }
    let config = PopulationBenchConfig {
        populations,
        widths: if n.widths.is_empty() { defaults.widths } else { n.widths.clone() },
        batch_sizes: if args.batch_sizes.is_empty() { defaults.batch_sizes } else { args.batch_sizes.clone() },
        steps: n.steps,
        threads: n.threads,
        seed: n.seed,
        ..defaults
    };
    let loaded = match &args.data {
        Some(spec) => Some(data::load(spec)?),
        None => None,
    };
    let source = match &loaded {
        Some(d) => BenchData::Loaded(d),
        None => BenchData::Random(784, 10),
    };
    let json = args.json;
    if !json {
        println!(
            "densenas {} population bench: L={} p0={} ({}; {} timed steps per row, {} thread(s), cpu, float32; seeds 0, 1, 2 in turn)",
            densenas::VERSION,
            config.layers,
            config.p0,
            args.data.as_deref().unwrap_or("random data, 784 features, 10 classes"),
            config.steps,
            config.threads
        );
        println!(
            "{:>4} {:>5} {:>6} {:>15} {:>15} {:>7} {:>10} {:>10} {:>9} {:>9}",
            "P", "D", "batch", "member-samp/s", "alone samp/s", "ratio", "useful GF", "matmul GF", "fraction", "peak MiB"
        );
    }
    run_population_bench(&config, source, &mut |r: &PopulationRow| {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            println!(
                "{:>4} {:>5} {:>6} {:>15.0} {:>15.0} {:>7.2} {:>10.1} {:>10.1} {:>9.2} {:>9}",
                r.population,
                r.width,
                r.batch_size,
                r.member_samples_per_second,
                r.alone_member_samples_per_second,
                r.member_samples_per_second / r.alone_member_samples_per_second,
                r.useful_gflops,
                r.matmul_gflops,
                r.useful_gflops / r.matmul_gflops,
                r.peak_rss_mb.map_or("-".to_string(), |m| format!("{m:.1}"))
            );
        }
    })?;
    Ok(())
}
