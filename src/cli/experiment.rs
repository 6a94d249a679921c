//! `densenas experiment` (a study's units with a local pool of workers, then its
//! report), `densenas report` and the hidden `experiment-worker`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;

use densenas::experiment::estimate::estimate;
use densenas::experiment::executor::{self, Progress, UnitEvent};
use densenas::experiment::plan::{known_units_of, PlannedUnit};
use densenas::experiment::{Experiment, ExperimentDir};

use super::args::count_with;
use densenas::{Error, Result};

/// Options of `densenas experiment`. Numbers are read signed, so that `--jobs -2` is
/// refused by range (naming the option) rather than taken for a flag.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct ExperimentArgs {
    /// The experiment file (one group, or `{"name", "groups": [...]}`).
    file: PathBuf,
    /// The experiment folder (results of finished units are kept there and skipped on a
    /// rerun).
    #[arg(long)]
    out: PathBuf,
    /// Worker processes, one libtorch thread each.
    #[arg(long, default_value_t = 1)]
    jobs: i64,
    /// The most standalone units (alike but for DAG and seed) a worker trains as one
    /// population; 1 trains them one at a time [default: a cap from a memory estimate,
    /// at most 64].
    #[arg(long)]
    population_size: Option<i64>,
    /// Print the units known now (stage 1, and stage 2 of finished searches) and exit.
    #[arg(long)]
    list_units: bool,
    /// Run only this unit (by id) in this process.
    #[arg(long, conflicts_with_all = ["list_units", "stage"])]
    unit: Option<String>,
    /// With --unit-index: run the N-th unit (from 0) of stage S, as a Slurm array task.
    #[arg(long, requires = "unit_index")]
    stage: Option<u8>,
    /// See --stage.
    #[arg(long, requires = "stage")]
    unit_index: Option<i64>,
    /// Start no unit after this many minutes (the running ones finish; a rerun goes on):
    /// a study run in pieces.
    #[arg(long)]
    max_minutes: Option<f64>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// Print the predicted core-minutes of the units still to run (per group and kind,
    /// from a short timing of one step of each kind) and exit; runs no unit and leaves
    /// the experiment folder as it is.
    #[arg(long, conflicts_with_all = ["list_units", "unit", "stage", "max_minutes"])]
    estimate: bool,
}

/// Options of `densenas report`.
#[derive(Args)]
pub struct ReportArgs {
    /// The experiment folder.
    dir: PathBuf,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
    // SAFETY: signal() is async-signal-safe; a second Ctrl-C ends the process at once.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

pub fn run(args: ExperimentArgs) -> Result<()> {
    // Numbers first: a refused one leaves no folder behind.
    let jobs = count_with("jobs", args.jobs, at_least_one("jobs"))?;
    let population_size = args
        .population_size
        .map(|v| count_with("population_size", v, at_least_one("population_size")))
        .transpose()?;
    let time_limit = args.max_minutes.map(minutes).transpose()?;
    if args.estimate {
        return print_estimate(&args);
    }
    // A whole run locks the folder before it records the experiment there, so that a
    // second one leaves the folder of the first as it is.
    let whole_run = !args.list_units && args.unit.is_none() && args.stage.is_none();
    let _lock = if whole_run {
        Some(densenas::experiment::ExperimentLock::acquire(&args.out)?)
    } else {
        None
    };
    let (experiment, dir) = executor::prepare(&args.file, &args.out)?;
    if args.list_units {
        for u in executor::list_units(&experiment, &dir)? {
            println!("{} {} {:<8} {}", u.stage, u.id, u.state, u.what);
        }
        return Ok(());
    }
    if let Some(unit) = one_unit(&args, &experiment, &dir)? {
        // One unit (as a Slurm array task): only that unit's folder is locked, so that
        // many run at once.
        return run_one(&dir, &unit);
    }
    // SAFETY: the handler only stores to an atomic and resets the disposition.
    unsafe {
        libc::signal(libc::SIGINT, on_interrupt as *const () as libc::sighandler_t);
    }
    let show = !args.quiet;
    let tty = std::io::stderr().is_terminal();
    let mut on_event = |event: &UnitEvent, p: &Progress| {
        if show {
            print_event(event, p, tty)
        }
    };
    let pool = executor::PoolOptions {
        jobs,
        exe: executor::current_exe()?,
        time_limit,
        population_size,
    };
    let report = executor::run_local(&experiment, &dir, &pool, &mut on_event, &STOP)?;
    if report.interrupted {
        return Err(Error::Stopped(format!(
            "interrupted: the running units were abandoned; run the same command again to go on ({} finished here)",
            report.finished
        )));
    }
    let written = densenas::report::write(&args.out)?;
    eprintln!(
        "{} units: {} run now, {} already finished, {} failed; report in {}",
        written.units.total,
        report.finished,
        report.skipped,
        report.failed.len(),
        args.out.join("report.md").display()
    );
    if report.left > 0 {
        eprintln!(
            "the time limit is reached with {} units not started: run the same command again to go on (the report covers the finished units)",
            report.left
        );
    }
    if !report.failed.is_empty() {
        for (id, e) in &report.failed {
            eprintln!("failed {id}: {e}");
        }
        let n = report.failed.len();
        return Err(Error::State(format!("{n} unit{} failed; a rerun retries {}", if n == 1 { "" } else { "s" }, if n == 1 { "it" } else { "them" })));
    }
    Ok(())
}

fn print_event(event: &UnitEvent, p: &Progress, _tty: bool) {
    let eta = p.eta_seconds.map_or(String::new(), |s| format!(", about {} left", human(s)));
    let head = format!("[{}/{} done{}, {} running{}]", p.done, p.total, if p.failed > 0 { format!(", {} failed", p.failed) } else { String::new() }, p.running.len(), eta);
    match event {
        UnitEvent::Started { id, what } => eprintln!("{head} start {} {what}", &id[..12]),
        UnitEvent::Finished { id, seconds } => eprintln!("{head} done  {} in {seconds:.1} s", &id[..12]),
        UnitEvent::Failed { id, error } => eprintln!("{head} FAILED {}: {error}", &id[..12]),
    }
}

/// A check that a count is at least 1, naming `field`.
fn at_least_one(field: &'static str) -> impl Fn(usize) -> Result<()> {
    move |v| if v == 0 { Err(Error::config(field, "must be at least 1")) } else { Ok(()) }
}

fn human(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// The unit `--unit ID` or `--stage S --unit-index N` names, if any.
fn one_unit(args: &ExperimentArgs, experiment: &Experiment, dir: &ExperimentDir) -> Result<Option<PlannedUnit>> {
    let units = known_units_of(experiment, dir)?;
    if let Some(id) = &args.unit {
        return executor::find_unit(experiment, dir, id).map(Some);
    }
    if let (Some(stage), Some(index)) = (args.stage, args.unit_index) {
        let index = count_with("unit_index", index, |_| Ok(()))?;
        let of_stage: Vec<PlannedUnit> = units.into_iter().filter(|u| u.stage == stage).collect();
        let n = of_stage.len();
        return of_stage.into_iter().nth(index).map(Some).ok_or_else(|| {
            Error::Input(format!("stage {stage} has {n} units known now: index {index} is out of range"))
        });
    }
    Ok(None)
}

fn run_one(dir: &ExperimentDir, unit: &PlannedUnit) -> Result<()> {
    if dir.result(&unit.id).is_some() {
        eprintln!("unit {} is finished already", unit.id);
        return Ok(());
    }
    tch::set_num_threads(1);
    eprintln!("running {} ({})", unit.id, unit.spec.describe());
    executor::run_unit(dir, unit)
}

pub fn report(args: ReportArgs) -> Result<()> {
    let r = densenas::report::write(&args.dir)?;
    println!(
        "{}: {} of {} units finished ({} failed); wrote {}, {} and plots/",
        r.experiment,
        r.units.finished,
        r.units.total,
        r.units.failed,
        args.dir.join("report.md").display(),
        args.dir.join("report.json").display()
    );
    Ok(())
}

/// The hidden worker subcommand.
pub fn worker(dir: PathBuf) -> Result<()> {
    executor::worker_main(&dir)
}

/// `--max-minutes` as a duration; a negative or non-finite number is refused.
/// `--estimate`: the prediction per group and kind, then the total. Reads the
/// experiment folder's results when it exists; creates nothing.
fn print_estimate(args: &ExperimentArgs) -> Result<()> {
    let experiment = Experiment::read(&args.file)?;
    let dir = if args.out.join("experiment.json").is_file() { Some(ExperimentDir::open(&args.out)?) } else { None };
    let e = estimate(&experiment, &|id| dir.as_ref().and_then(|d| d.result(id)))?;
    for g in &e.groups {
        println!("group {:?}: {} core-minutes ({} units finished)", g.group, figure(g.core_minutes()), g.finished);
        for k in &g.kinds {
            println!("  {:<22} {:>6} units {:>10} core-minutes", k.kind, k.units, figure(k.core_minutes));
        }
    }
    println!("total: {} core-minutes of units still to run (timed in {:.1} s)", figure(e.core_minutes()), e.timing_seconds);
    Ok(())
}

/// A prediction with three significant digits (at least one decimal), `0` for nothing.
fn figure(m: f64) -> String {
    if m <= 0.0 {
        return "0".into();
    }
    let decimals = (2.0 - m.log10().floor()).clamp(1.0, 9.0) as usize;
    format!("{m:.decimals$}")
}

fn minutes(m: f64) -> Result<std::time::Duration> {
    std::time::Duration::try_from_secs_f64(60.0 * m)
        .map_err(|_| Error::config("max_minutes", format!("{m} is out of range: at least 0")))
}
