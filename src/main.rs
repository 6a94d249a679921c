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

/// Tells glibc's allocator to keep freed memory for reuse instead of handing it back
/// to the kernel and faulting it in again at the next step: training allocates and
/// frees the same large tensors (gradients, batched products of a population) every
/// step, and with glibc's defaults (blocks above 128 KiB mapped on their own, the heap
/// trimmed above 128 KiB free) a population of 64 spent about a seventh of its time in
/// the kernel's page faults. Every block comes from the heap (no block is mapped on its
/// own: glibc maps blocks above 32 MiB at the most, and a population's stacked input
/// gradients are larger), which is trimmed only above 1 GiB free. The command line
/// only: a program that links the library keeps its own allocator settings (the same
/// three are glibc's environment variables `MALLOC_MMAP_THRESHOLD_`, `MALLOC_MMAP_MAX_`
/// and `MALLOC_TRIM_THRESHOLD_`).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes two allocator parameters; called before any thread
    // starts. A refused setting (return 0) leaves glibc's default, which works too.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`densenas eval | head`), as command-line tools do.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
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
