//! The `densenas` command line: `search` (more subcommands come with their issues).

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Search(args) => cli::search::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("densenas: error: {e}");
            ExitCode::FAILURE
        }
    }
}
