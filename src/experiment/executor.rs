//! The local executor (docs/experiments.md): `--jobs N` worker processes of one
//! libtorch thread each, fed unit ids over a pipe. Each worker keeps its datasets
//! loaded for its next units, writes each unit's result or error itself, and dies with
//! its parent. Standalone units that differ only in DAG and seed go to a worker
//! together, up to a population's size (`packing.rs`), and train as one population;
//! each is recorded when the population ends, so a kill loses at most the running
//! populations. The parent schedules stage 1, adds a search's stage-2 units as soon as
//! it finishes, skips finished units, retries failed and unfinished ones, and on a stop
//! request kills its workers (the units they were running are abandoned: never
//! recorded as finished or failed).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::file::Experiment;
use super::packing::UnitQueue;
use super::plan::known_units_of;
use super::run_unit::{execute, execute_population, DataCache, UnitOutcome};
use super::store::ExperimentDir;
use crate::error::{Error, Result};

/// The environment variable that tells a worker its parent's process id.
pub const PARENT_ENV: &str = "DENSENAS_EXPERIMENT_PARENT";

/// Reads the experiment file and records it in the folder `out` (as resolved, with
/// absolute data paths); returns it with the folder.
pub fn prepare(file: &Path, out: &Path) -> Result<(Experiment, ExperimentDir)> {
    let experiment = Experiment::read(file)?;
    let dir = ExperimentDir::create(out)?;
    let text = serde_json::to_string_pretty(&experiment)?;
    crate::util::atomic::write_atomic(&out.join("experiment.json"), text.as_bytes())?;
    Ok((experiment, dir))
}

/// A unit as `--list-units` shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UnitListing {
    /// Its id.
    pub id: String,
    /// Its stage.
    pub stage: u8,
    /// `finished`, `failed` or `pending`.
    pub state: &'static str,
    /// What it is, in words.
    pub what: String,
    /// Its definition.
    pub spec: super::unit::UnitSpec,
}

/// The units known now with their state.
pub fn list_units(experiment: &Experiment, dir: &ExperimentDir) -> Result<Vec<UnitListing>> {
    Ok(known_units_of(experiment, dir)?
        .into_iter()
        .map(|u| {
            let state = if dir.result(&u.id).is_some() {
                "finished"
            } else if dir.error(&u.id).is_some() {
                "failed"
            } else {
                "pending"
            };
            UnitListing { what: u.spec.describe(), id: u.id, stage: u.stage, state, spec: u.spec }
        })
        .collect())
}

/// The unit with `id` (or an unambiguous prefix of at least 8 characters) among the
/// units known now.
pub fn find_unit(experiment: &Experiment, dir: &ExperimentDir, id: &str) -> Result<super::plan::PlannedUnit> {
    let matches: Vec<_> = known_units_of(experiment, dir)?
        .into_iter()
        .filter(|u| u.id == id || (id.len() >= 8 && u.id.starts_with(id)))
        .collect();
    match matches.len() {
        1 => Ok(matches.into_iter().next().expect("one")),
        0 => Err(Error::Input(format!("no unit {id} in this experiment (see --list-units)"))),
        n => Err(Error::Input(format!("{id} names {n} units: give more of the id"))),
    }
}

/// Runs one unit in this process (as a scheduler's task would): only its own folder
/// is locked, so that many run at once. A finished unit is left as it is.
pub fn run_unit(dir: &ExperimentDir, unit: &super::plan::PlannedUnit) -> Result<()> {
    if dir.result(&unit.id).is_some() {
        return Ok(());
    }
    dir.write_spec(&unit.id, &unit.spec)?;
    let _lock = crate::util::lock::FolderLock::acquire(&dir.unit_dir(&unit.id), "this unit")?;
    match execute(dir, &unit.id, &mut DataCache::default(), &AtomicBool::new(false)) {
        UnitOutcome::Finished => Ok(()),
        UnitOutcome::Failed(e) => Err(Error::State(format!("unit {} failed: {e}", unit.id))),
        UnitOutcome::Abandoned => Err(Error::Stopped(format!("unit {} was stopped", unit.id))),
    }
}

/// Runs the unit that `spec` defines in this process, in the folder `dir` (which need
/// not hold its experiment), as a cluster's worker does with a unit it was sent;
/// `id` is the id the sender listed it under, and a definition whose own id differs
/// (another densenas version, or an altered definition) is refused before it runs.
/// The unit's files land in `dir/units/ID/` as with [`run_unit`].
pub fn run_unit_spec(dir: &ExperimentDir, id: &str, spec: super::unit::UnitSpec) -> Result<()> {
    let own = spec.id()?;
    if own != id {
        return Err(Error::Input(format!(
            "the unit definition sent as {id} has the id {own} here: is this densenas {} the driver's version?",
            env!("CARGO_PKG_VERSION")
        )));
    }
    run_unit(dir, &super::plan::PlannedUnit { id: own, stage: 0, spec })
}

/// What happened to a unit, for progress displays.
#[derive(Clone, Debug)]
pub enum UnitEvent {
    /// A worker started it.
    Started {
        /// Its id.
        id: String,
        /// What it is.
        what: String,
    },
    /// It finished.
    Finished {
        /// Its id.
        id: String,
        /// Seconds it took.
        seconds: f64,
    },
    /// It failed (the error is recorded in its folder).
    Failed {
        /// Its id.
        id: String,
        /// Why.
        error: String,
    },
}

/// Where a run stands.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// Units known so far (stage 2 grows as searches finish).
    pub total: usize,
    /// Units finished (earlier runs included).
    pub done: usize,
    /// Units failed in this run.
    pub failed: usize,
    /// What is running now.
    pub running: Vec<String>,
    /// Estimated seconds left (from this run's finished units), when known.
    pub eta_seconds: Option<f64>,
}

/// What a run of the pool did.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Units finished in this run.
    pub finished: usize,
    /// Units already finished before it.
    pub skipped: usize,
    /// Units failed, with their errors.
    pub failed: Vec<(String, String)>,
    /// Whether a stop request ended it (running units abandoned).
    pub interrupted: bool,
    /// Units not started because the time limit was reached (a piece of a study).
    pub left: usize,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    /// The units it was sent and has not answered for, and when it was sent them.
    busy: Option<(Vec<String>, Instant)>,
}

/// How the local pool runs.
#[derive(Clone, Debug)]
pub struct PoolOptions {
    /// Worker processes.
    pub jobs: usize,
    /// The program to start them with (`exe experiment-worker DIR`).
    pub exe: PathBuf,
    /// Start no unit after this long (the running ones finish): a piece of a study
    /// that a rerun continues.
    pub time_limit: Option<Duration>,
    /// The most standalone units trained as one population (`1`: one at a time);
    /// `None`: a cap from a memory estimate ([`super::packing::default_cap`]).
    pub population_size: Option<usize>,
}

/// Runs every unit of `experiment` not finished in `dir` with a pool of worker
/// processes.
pub fn run_local(
    experiment: &Experiment,
    dir: &ExperimentDir,
    pool: &PoolOptions,
    on_event: &mut dyn FnMut(&UnitEvent, &Progress),
    stop: &AtomicBool,
) -> Result<RunReport> {
    let (jobs, exe) = (pool.jobs, pool.exe.as_path());
    if jobs == 0 {
        return Err(Error::config("jobs", "must be at least 1"));
    }
    if pool.population_size == Some(0) {
        return Err(Error::config("population_size", "must be at least 1"));
    }
    let mut report = RunReport::default();
    let mut known: HashSet<String> = HashSet::new();
    let mut queue = UnitQueue::default();
    let mut progress = Progress::default();
    enqueue_new(experiment, dir, &mut known, &mut queue, &mut progress, &mut report)?;
    let (tx, rx) = mpsc::channel::<(usize, String)>();
    let mut workers: Vec<Worker> = Vec::new();
    let started = Instant::now();
    let result = (|| -> Result<()> {
        loop {
            if stop.load(Ordering::Relaxed) {
                report.interrupted = true;
                return Ok(());
            }
            if pool.time_limit.is_some_and(|limit| started.elapsed() >= limit) {
                report.left += queue.len();
                queue.clear();
            }
            dispatch(dir, pool, &tx, &mut workers, &mut queue, &mut progress, on_event)?;
            if queue.is_empty() && workers.iter().all(|w| w.busy.is_none()) {
                return Ok(());
            }
            let Ok((w, line)) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
            for (id, t0) in answered(dir, exe, &tx, &mut workers, w, &line)? {
                let (status, _) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                progress.running.retain(|r| r != &id);
                match status {
                    "finished" => {
                        report.finished += 1;
                        progress.done += 1;
                        let seconds = t0.elapsed().as_secs_f64();
                        progress.eta_seconds = eta(&progress, started.elapsed().as_secs_f64(), report.finished);
                        on_event(&UnitEvent::Finished { id: id.clone(), seconds }, &progress);
                        enqueue_new(experiment, dir, &mut known, &mut queue, &mut progress, &mut report)?;
                    }
                    "abandoned" => {}
                    _ => {
                        let error = dir.error(&id).unwrap_or_else(|| format!("the worker ended: {line}"));
                        progress.failed += 1;
                        on_event(&UnitEvent::Failed { id: id.clone(), error: error.clone() }, &progress);
                        report.failed.push((id, error));
                    }
                }
            }
        }
    })();
    for mut w in workers {
        let _ = w.child.kill();
        let _ = w.child.wait();
    }
    result.map(|()| report)
}

/// The units that worker `w`'s `line` settles, with when they were sent: the one it
/// names (`finished ID`, `failed ID`, `abandoned ID`), or all it was running when it
/// died (`died`: it is replaced, and they fail). The worker is idle once it has
/// answered for all it was sent.
fn answered(
    dir: &ExperimentDir,
    exe: &Path,
    tx: &mpsc::Sender<(usize, String)>,
    workers: &mut [Worker],
    w: usize,
    line: &str,
) -> Result<Vec<(String, Instant)>> {
    if line == "died" {
        // A worker that died (killed, out of memory) is replaced; its units fail.
        let _ = workers[w].child.kill();
        let _ = workers[w].child.wait();
        let busy = workers[w].busy.take();
        workers[w] = spawn_worker(dir.root(), exe, w, tx)?;
        return Ok(busy.map(|(ids, t0)| ids.into_iter().map(|id| (id, t0)).collect()).unwrap_or_default());
    }
    let id = line.split_once(' ').map_or("", |(_, id)| id);
    let Some((ids, t0)) = workers[w].busy.as_mut() else { return Ok(Vec::new()) };
    let Some(at) = ids.iter().position(|i| i == id) else { return Ok(Vec::new()) };
    let settled = (ids.remove(at), *t0);
    if ids.is_empty() {
        workers[w].busy = None;
    }
    Ok(vec![settled])
}

/// Adds the units not known yet (stage 2 appears as searches finish); finished ones
/// are counted, not queued. Stage-2 units go before the waiting ones, in their order:
/// a study run in pieces completes a group's comparisons (its matched chains) before
/// it spends its time on later groups.
fn enqueue_new(
    experiment: &Experiment,
    dir: &ExperimentDir,
    known: &mut HashSet<String>,
    queue: &mut UnitQueue,
    progress: &mut Progress,
    report: &mut RunReport,
) -> Result<()> {
    let mut first = Vec::new();
    for unit in known_units_of(experiment, dir)? {
        if !known.insert(unit.id.clone()) {
            continue;
        }
        progress.total += 1;
        if dir.result(&unit.id).is_some() {
            progress.done += 1;
            report.skipped += 1;
        } else {
            dir.write_spec(&unit.id, &unit.spec)?;
            match unit.stage {
                1 => queue.push(unit.id, &unit.spec),
                _ => first.push(unit),
            }
        }
    }
    for unit in first.into_iter().rev() {
        queue.push_front(unit.id, &unit.spec);
    }
    Ok(())
}

/// Seconds left at this run's pace so far (wall time per finished unit, the workers
/// running side by side), for the units known now.
fn eta(progress: &Progress, elapsed: f64, finished_here: usize) -> Option<f64> {
    let left = progress.total.saturating_sub(progress.done + progress.failed);
    (finished_here > 0).then(|| elapsed / finished_here as f64 * left as f64)
}

/// Hands queued units to idle workers (a population of standalone units at a time, up
/// to `pool.population_size`), starting workers as needed.
fn dispatch(
    dir: &ExperimentDir,
    pool: &PoolOptions,
    tx: &mpsc::Sender<(usize, String)>,
    workers: &mut Vec<Worker>,
    queue: &mut UnitQueue,
    progress: &mut Progress,
    on_event: &mut dyn FnMut(&UnitEvent, &Progress),
) -> Result<()> {
    while !queue.is_empty() {
        let idle = match workers.iter().position(|w| w.busy.is_none()) {
            Some(i) => i,
            None if workers.len() < pool.jobs => {
                workers.push(spawn_worker(dir.root(), &pool.exe, workers.len(), tx)?);
                workers.len() - 1
            }
            None => return Ok(()),
        };
        let ids = queue.next_population(pool.population_size);
        let w = &mut workers[idle];
        writeln!(w.stdin, "{}", ids.join(" "))
            .and_then(|()| w.stdin.flush())
            .map_err(|e| Error::Internal(format!("a worker died: {e}")))?;
        w.busy = Some((ids.clone(), Instant::now()));
        for id in ids {
            let what = dir.read_spec(&id).map(|s| s.describe()).unwrap_or_default();
            progress.running.push(id.clone());
            on_event(&UnitEvent::Started { id, what }, progress);
        }
    }
    Ok(())
}

fn spawn_worker(root: &Path, exe: &Path, index: usize, tx: &mpsc::Sender<(usize, String)>) -> Result<Worker> {
    let mut child = Command::new(exe)
        .arg("experiment-worker")
        .arg(root)
        .env(PARENT_ENV, std::process::id().to_string())
        .env("OMP_NUM_THREADS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::io(exe, e))?;
    let stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let tx = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((index, line)).is_err() {
                break;
            }
        }
        // The worker's output ended: it died (or was killed). A unit it was running fails.
        let _ = tx.send((index, "died".to_string()));
    });
    Ok(Worker { child, stdin, busy: None })
}

/// The worker side: runs the units read from standard input in the experiment folder
/// `root`, a line at a time (one id, or the ids of a population separated by spaces),
/// answering `finished ID`, `failed ID` or `abandoned ID` for each.
/// It dies with its parent and ignores Ctrl-C (the parent decides).
pub fn worker_main(root: &Path) -> Result<()> {
    die_with_parent();
    tch::set_num_threads(1);
    let dir = ExperimentDir::open(root)?;
    let mut cache = DataCache::default();
    let never = AtomicBool::new(false);
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.map_err(|e| Error::Internal(format!("reading the unit to run: {e}")))?;
        let ids: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if ids.is_empty() {
            continue;
        }
        for (id, outcome) in ids.iter().zip(execute_population(&dir, &ids, &mut cache, &never)) {
            let status = match outcome {
                UnitOutcome::Finished => "finished",
                UnitOutcome::Failed(_) => "failed",
                UnitOutcome::Abandoned => "abandoned",
            };
            writeln!(out, "{status} {id}").and_then(|()| out.flush()).map_err(|e| Error::Internal(e.to_string()))?;
        }
    }
    Ok(())
}

/// Asks the kernel to kill this process when its parent dies, and ignores SIGINT.
fn die_with_parent() {
    // SAFETY: prctl and signal with constant arguments; no memory is shared.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    // The parent may have died before prctl took effect.
    if let Some(parent) = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse::<i32>().ok()) {
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != parent {
            std::process::exit(1);
        }
    }
}

/// The program to start workers with: this executable.
pub fn current_exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::Internal(format!("cannot find the densenas program to start workers: {e}")))
}
