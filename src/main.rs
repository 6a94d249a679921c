//! The `densenas` command line: `search`, `train`, `eval`, `bench`, `experiment`,
//! `report` and `serve` (the browser example).

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Search(cli::search::SearchArgs),
    /// Train one given DAG from scratch on a dataset and report its test accuracy,
    /// parameters and FLOPs.
    Train(cli::train::TrainArgs),
    /// Run an exported ONNX model through ONNX Runtime on a dataset's test split:
    /// accuracy, per-class accuracy and the confusion matrix.
    Eval(cli::eval::EvalArgs),
    /// Benchmark the strategies: samples/s and the memory a step holds, per strategy
    /// and number of blocks k.
    Bench(cli::bench::BenchArgs),
    /// Run a study: an experiment file's searches and standalone trainings with a local
    /// pool of worker processes, then its report (research questions 1 to 5).
    Experiment(cli::experiment::ExperimentArgs),
    /// Write the report of an experiment folder (report.md, report.json, plots/).
    Report(cli::experiment::ReportArgs),
    /// The data folder: list its datasets, fetch them, export a split as CSV.
    Data(cli::data::DataArgs),
    /// Serve the browser example (examples/web) locally with a run folder's best.onnx.
    Serve(cli::serve::ServeArgs),
    /// A worker of `densenas experiment` (started by it; reads unit ids on stdin).
    #[command(hide = true)]
    ExperimentWorker {
        /// The experiment folder.
        dir: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`densenas eval | head`), as command-line tools do.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Search(args) => cli::search::run(args),
        Command::Train(args) => cli::train::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Experiment(args) => cli::experiment::run(args),
        Command::Report(args) => cli::experiment::report(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Data(args) => cli::data::run(args),
        Command::ExperimentWorker { dir } => cli::experiment::worker(dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("densenas: error: {e}");
            ExitCode::FAILURE
        }
    }
}
