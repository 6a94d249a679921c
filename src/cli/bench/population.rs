//! `densenas bench --suite population`: the population trainer's table.

use densenas::internal::bench::{
    run_compare_population, run_population_bench, BenchData, ComparePopulationConfig, ComparePopulationRow, PopulationBenchConfig,
    PopulationRow,
};
use densenas::data;

use super::{BenchArgs, Numbers};

/// The benchmark's sizes from the flags.
fn sizes(args: &BenchArgs, n: &Numbers) -> PopulationBenchConfig {
    let defaults = PopulationBenchConfig::default();
    let mut populations = if args.populations.is_empty() { defaults.populations } else { args.populations.clone() };
    if args.large && !populations.contains(&256) {
        populations.push(256);
    }
    PopulationBenchConfig {
        populations,
        widths: if n.widths.is_empty() { defaults.widths } else { n.widths.clone() },
        batch_sizes: if args.batch_sizes.is_empty() { defaults.batch_sizes } else { args.batch_sizes.clone() },
        steps: n.steps,
        threads: n.threads,
        seed: n.seed,
        device: args.device.clone(),
        precision: args.precision,
        ..defaults
    }
}

/// The loaded `--data`, if any.
fn loaded(args: &BenchArgs) -> densenas::Result<Option<data::DataSplits>> {
    args.data.as_deref().map(data::load).transpose()
}

fn source(loaded: &Option<data::DataSplits>) -> BenchData<'_> {
    match loaded {
        Some(d) => BenchData::Loaded(d),
        None => BenchData::Random(784, 10),
    }
}

/// The table's first line.
fn title(args: &BenchArgs, config: &PopulationBenchConfig, what: &str) {
    println!(
        "densenas {} {what}: L={} p0={} ({}; {} timed steps per row, {} thread(s), {}, {}; seeds 0, 1, 2 in turn)",
        densenas::VERSION,
        config.layers,
        config.p0,
        args.data.as_deref().unwrap_or("random data, 784 features, 10 classes"),
        config.steps,
        config.threads,
        config.device,
        serde_json::to_value(config.precision).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    );
}

/// Runs the population benchmark and prints its table (or JSON lines).
pub(super) fn run(args: &BenchArgs, n: &Numbers) -> densenas::Result<()> {
    let config = sizes(args, n);
    densenas::model::device::parse_device(&config.device)?;
    let loaded = loaded(args)?;
    let json = args.json;
    if !json {
        title(args, &config, "population bench");
        println!(
            "{:>4} {:>5} {:>6} {:>15} {:>15} {:>7} {:>10} {:>10} {:>9} {:>9}",
            "P", "D", "batch", "member-samp/s", "alone samp/s", "ratio", "useful GF", "matmul GF", "fraction", "peak MiB"
        );
    }
    run_population_bench(&config, source(&loaded), &mut |r: &PopulationRow| {
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

/// Runs the population benchmark with PyTorch's ensemble beside each row and prints
/// the table (or JSON lines: a population row's keys and the reference's).
pub(super) fn compare(args: &BenchArgs, n: &Numbers) -> densenas::Result<()> {
    let config = ComparePopulationConfig { sizes: sizes(args, n), python: args.python.clone() };
    let loaded = loaded(args)?;
    let json = args.json;
    if !json {
        title(args, &config.sizes, "population bench beside PyTorch's vmap ensemble");
        println!(
            "{:>4} {:>5} {:>6} {:>14} {:>14} {:>14} {:>14} {:>8} {:>8} {:>9}",
            "P", "D", "batch", "densenas/s", "alone samp/s", "vmap samp/s", "torch alone", "vs vmap", "vs alone", "fraction"
        );
    }
    run_compare_population(&config, source(&loaded), &mut |r: &ComparePopulationRow| {
        if json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            let p = &r.row;
            println!(
                "{:>4} {:>5} {:>6} {:>14.0} {:>14.0} {:>14.0} {:>14.0} {:>8.2} {:>8.2} {:>9.2}",
                p.population,
                p.width,
                p.batch_size,
                p.member_samples_per_second,
                p.alone_member_samples_per_second,
                r.pytorch_member_samples_per_second,
                r.pytorch_alone_member_samples_per_second,
                r.ratio,
                p.member_samples_per_second / p.alone_member_samples_per_second,
                p.useful_gflops / p.matmul_gflops
            );
        }
    })?;
    Ok(())
}
