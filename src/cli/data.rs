//! `densenas data`: the data folder (`list`), filling it (`fetch`), and writing a
//! dataset's split as CSV (`export`). The engine does the work (`densenas::data`); this
//! file parses options and shows progress.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use densenas::data::export::{write_csv, Split};
use densenas::data::fetch::{fetch, FetchEvent, FetchOptions};
use densenas::data::folder::{DataFolder, DATA_ENV};
use densenas::data::registry::KNOWN;
use densenas::Result;

use super::args::parse_json_enum;

/// Options of `densenas data`.
#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    /// The data folder and what it holds of each dataset known by name.
    List,
    /// Download datasets into the data folder (checked against their published SHA-256
    /// digests; a failing source is reported and the next one tried).
    Fetch {
        /// Datasets to fetch (see `densenas data list`).
        #[arg(required = true)]
        names: Vec<String>,
        /// A base URL to download from instead of the dataset's own sources (the file
        /// name is appended); repeat for fallbacks.
        #[arg(long = "source", value_name = "URL")]
        sources: Vec<String>,
        /// Copy the files from this local folder instead of downloading them.
        #[arg(long, value_name = "DIR", conflicts_with = "sources")]
        from: Option<PathBuf>,
        /// Fetch again even when the data folder already holds the checked files.
        #[arg(long)]
        force: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Write a split of a dataset as CSV (features, then the label; no header), the
    /// form `--data csv:FILE` reads back.
    Export {
        /// The dataset: `digits`, a name of the data folder, or any `--data` spec.
        data: String,
        /// The split: test or train (the whole training file).
        #[arg(long, value_parser = parse_json_enum::<Split>, default_value = "test")]
        split: Split,
        /// The CSV file to write (gzip when it ends in .gz).
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
    },
}

pub fn run(args: DataArgs) -> Result<()> {
    match args.command {
        DataCommand::List => list(),
        DataCommand::Fetch { names, sources, from, force, quiet } => {
            let options = FetchOptions { sources, from, force };
            let folder = DataFolder::locate();
            for name in &names {
                let dir = fetch_one(name, &folder, &options, quiet)?;
                println!("{name}: ready in {}", dir.display());
            }
            Ok(())
        }
        DataCommand::Export { data, split, csv } => {
            let splits = densenas::data::load(&data)?;
            let dataset = match split {
                Split::Train => &splits.train,
                Split::Test => &splits.test,
            };
            write_csv(dataset, &csv)?;
            println!("{}: {} samples of {} features written to {}", data, dataset.len(), dataset.features, csv.display());
            Ok(())
        }
    }
}

fn list() -> Result<()> {
    let folder = DataFolder::locate();
    println!("data folder: {} (from {}; set {DATA_ENV} to choose another)", folder.path.display(), folder.chosen_by);
    println!("{:<18} {:<11} {}", "dataset", "status", "what");
    println!("{:<18} {:<11} {}", "digits", "embedded", "UCI optical digits, 1,797 images of 8x8 (inside densenas)");
    for d in KNOWN {
        let status = folder.status(d);
        println!("{:<18} {:<11} {}", d.name, status.word(), d.about);
    }
    println!("fetch one with `densenas data fetch NAME` (cifar10-jpeg-q75 has no public source: `--from DIR`)");
    Ok(())
}

fn fetch_one(name: &str, folder: &DataFolder, options: &FetchOptions, quiet: bool) -> Result<PathBuf> {
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let say = |line: String| match &bar {
        Some(b) => b.println(line),
        None if !quiet => eprintln!("{line}"),
        None => {}
    };
    let mut on = |event: FetchEvent<'_>| match event {
        FetchEvent::Start { file, source, total } => {
            if let Some(b) = &bar {
                b.set_length(total);
                b.set_position(0);
                b.set_prefix(file.to_string());
            }
            say(format!("{file}: from {source}"));
        }
        FetchEvent::Progress { done } => {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        }
        // A failed source is reported even with --quiet.
        FetchEvent::Failed { file, source, reason } => match &bar {
            Some(b) => b.println(format!("{file}: {source} failed: {reason}")),
            None => eprintln!("{file}: {source} failed: {reason}"),
        },
        FetchEvent::Done { file } => say(format!("{file}: checked (size and SHA-256)")),
        FetchEvent::Kept { file } => say(format!("{file}: already present and checked")),
        FetchEvent::Unpacking { file } => say(format!("{file}: unpacking")),
    };
    let result = fetch(name, folder, options, &mut on);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    result
}
