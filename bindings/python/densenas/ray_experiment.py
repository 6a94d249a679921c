"""Runs an experiment's units on a Ray cluster (docs/experiments.md, "Scaling out").

    python -m densenas.ray_experiment FILE.json --out DIR [--address ADDR]

or `densenas.ray_experiment.run(FILE, DIR, address=...)`. It needs Ray: `pip install
densenas[ray]`.

The driver (this process) lists the experiment's units through the library, submits
the ones not finished yet as Ray tasks, and writes the files each task sends back
into DIR, the result last and atomically, exactly as the local executor
(`densenas experiment --jobs N`) leaves them; a finished search's stage-2 units are
submitted as soon as its result is in. At the end it writes the report. Each unit
runs in a fresh worker process (`max_calls=1`, so per-unit memory figures are the
unit's own) with one CPU and one libtorch thread, or one GPU when the unit asks for
`cuda`, in a scratch folder of the worker's machine: the workers need the library
and the datasets at the same paths (or `digits`), not a shared file system.

A worker that dies is replaced and its unit run again (Ray's `max_retries`); a unit's
own error is recorded as a failure, which the next run retries. Interrupted (Ctrl-C)
and run again, it submits only the units not finished. It connects to the cluster
that `--address` or `RAY_ADDRESS` names, else starts a local Ray instance of its own
(it never attaches to another cluster on the machine unasked) and stops it at the end.
"""
import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from . import experiment
from ._ray_worker import densenas_unit
from .errors import DensenasError

#: How often Ray runs a unit again whose worker died, by default.
DEFAULT_MAX_RETRIES = 3


class RayExperimentError(Exception):
    """The Ray executor could not start or go on (not a unit's failure)."""


def run(file, out, address=None, num_cpus=None, max_retries=DEFAULT_MAX_RETRIES, progress=True):
    """Runs the experiment `file` into the folder `out` on Ray and writes its report.

    `address`: the cluster to use (else `RAY_ADDRESS`, else a local Ray instance of
    this process with `num_cpus` CPUs, by default all). Returns `{"run_now",
    "already_finished", "failed" ({id: error}), "report"}`; raises `KeyboardInterrupt`
    when interrupted (the units in flight are abandoned) and `RayExperimentError` or a
    `DensenasError` when it cannot go on."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and num_cpus is not None:
        raise RayExperimentError("num_cpus sizes a local Ray instance, but a cluster address is given")
    out = Path(out).resolve()
    with experiment.lock(out):
        listing = experiment.list_units(file, out)  # checks the file, records it in `out`
        state = _Driver(file, out, listing, max_retries, _Printer(progress))
        if state.pending():
            with _cluster(address, num_cpus, state.say):
                state.run()
        report = experiment.report(out)
    state.say(
        f"{report['units']['total']} units: {state.run_now} run now, {state.already_finished} already finished, "
        f"{len(state.failed)} failed; report in {out / 'report.md'}"
    )
    return {
        "run_now": state.run_now,
        "already_finished": state.already_finished,
        "failed": dict(state.failed),
        "report": report,
    }


class _Driver:
    """The units of one run: what is in flight, what came back."""

    def __init__(self, file, out, listing, max_retries, say):
        self.file, self.out, self.listing = file, out, listing
        self.max_retries, self.say = max_retries, say
        self.already_finished = sum(u["state"] == "finished" for u in listing)
        self.known = {u["id"] for u in listing}
        self.run_now = 0
        self.failed = {}
        self.submitted = set()
        self.in_flight = {}  # ObjectRef -> unit
        self.gpus = 0

    def pending(self):
        return [u for u in self.listing if u["state"] != "finished" and u["id"] not in self.submitted]

    def run(self):
        import ray

        task = ray.remote(num_cpus=1, max_calls=1)(densenas_unit)
        self.gpus = int(ray.cluster_resources().get("GPU", 0))
        try:
            self._submit(task)
            while self.in_flight:
                try:
                    ready, _ = ray.wait(list(self.in_flight), num_returns=1)
                except ray.exceptions.RayError as e:
                    raise RayExperimentError(f"lost the Ray cluster ({type(e).__name__}: {e}); run the same command again to go on") from None
                for ref in ready:
                    self._collect(ref, self.in_flight.pop(ref), task)
        except KeyboardInterrupt:
            # Leaving the cluster ends this job, and Ray ends its workers with it.
            self.say(f"interrupted: {len(self.in_flight)} units in flight abandoned ({self.run_now} finished here)")
            raise

    def _submit(self, task):
        sent = []
        for unit in self.pending():
            self.submitted.add(unit["id"])
            device = device_of(unit["spec"])
            refused = _refuse_device(device, self.gpus)
            if refused:
                self._record_failure(unit, refused)
                continue
            options = {
                "name": f"densenas_unit {unit['id'][:12]}",  # the worker's process title: ray::NAME
                "max_retries": self.max_retries,
                "num_gpus": 1 if device.startswith("cuda") else 0,
                "runtime_env": _ONE_THREAD,
            }
            self.in_flight[task.options(**options).remote(unit["id"], unit["spec"])] = unit
            sent.append(unit)
        if sent:
            stages = sorted({u["stage"] for u in sent})
            self.say(f"submitted {len(sent)} units (stage {', '.join(map(str, stages))})", self._head())

    def _collect(self, ref, unit, task):
        import ray

        uid = unit["id"]
        try:
            answer = ray.get(ref)
        except ray.exceptions.RayTaskError as e:
            self._record_failure(unit, f"the worker could not run it: {_cause(e)}")
            return
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError) as e:
            self._record_failure(unit, f"its worker died {self.max_retries + 1} times ({type(e).__name__}: {_first_line(e)})")
            return
        except ray.exceptions.RayError as e:
            self._record_failure(unit, f"Ray could not run it ({type(e).__name__}: {_first_line(e)})")
            return
        _write_unit(self.out, uid, answer["files"])
        where = f"worker {answer['pid']} on node {(answer['node'] or '?')[:8]}"
        if answer["error"] is not None:
            self.failed[uid] = answer["error"]
            self.say(f"FAILED {uid[:12]} {unit['what']} ({where}): {answer['error']}", self._head())
            return
        self.run_now += 1
        self.say(f"done  {uid[:12]} in {answer['seconds']:.1f} s ({where}) {unit['what']}", self._head())
        if unit["spec"].get("kind") == "search":
            # Its stage-2 units are known now (some may have finished in an earlier run).
            self.listing = experiment.list_units(self.file, self.out)
            new = [u for u in self.listing if u["id"] not in self.known]
            self.known.update(u["id"] for u in new)
            self.already_finished += sum(u["state"] == "finished" for u in new)
            self._submit(task)

    def _record_failure(self, unit, message):
        """Records a failure the unit's worker could not record: its folder as the local
        executor leaves a failed unit (`unit.json`, `error.txt`)."""
        experiment.record_failure(self.out, unit["id"], unit["spec"], message)
        self.failed[unit["id"]] = message
        self.say(f"FAILED {unit['id'][:12]} {unit['what']}: {message}", self._head())

    def _head(self):
        total = len(self.listing)
        done = self.already_finished + self.run_now
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return f"[{done}/{total} done{failed}, {len(self.in_flight)} in flight]"


#: Each worker runs libtorch with one thread (the CPU Ray gives the task).
_ONE_THREAD = {"env_vars": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}


def device_of(spec):
    """The device a unit definition asks for: a standalone training's (or proxies
    unit's) `device`, a search's (or random search without weight sharing's)
    `config.session.device` ("cpu" when absent)."""
    if spec.get("kind") in ("search", "random_standalone"):
        return str(spec.get("config", {}).get("session", {}).get("device") or "cpu")
    return str(spec.get("device") or "cpu")


def _refuse_device(device, cluster_gpus):
    """Why a unit asking for `device` cannot run on this cluster (None if it can)."""
    if not device.startswith("cuda"):
        return None
    if cluster_gpus == 0:
        return f"the unit asks for {device}, but the Ray cluster has no GPU"
    if device not in ("cuda", "cuda:0"):
        return f"the unit asks for {device}: on Ray a unit gets one GPU, which it sees as cuda:0 (ask for cuda)"
    return None


def _cause(error):
    cause = getattr(error, "cause", None)
    return str(cause) if cause is not None else _first_line(error)


def _first_line(error):
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _write_unit(out, uid, files):
    """Replaces `out/units/ID/` by the unit's files as one whole, as the local executor
    leaves a unit: they are written into a scratch folder, which the library then
    records in `out` (copied and synced beside the unit's folder, renamed into place:
    `result.json`, which marks a unit finished, arrives with the rest or not at all)."""
    for rel in files:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise RayExperimentError(f"unit {uid}: a worker sent back the file {rel!r}, outside the unit's folder")
    with tempfile.TemporaryDirectory(prefix="densenas-unit-") as scratch:
        for rel, data in files.items():
            path = Path(scratch, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        experiment.import_unit(out, uid, scratch)


class _cluster:
    """Connected to the cluster at `address` (`run` resolved it, RAY_ADDRESS included),
    or, when it is None, to a local Ray instance started here (stopped on leaving)."""

    def __init__(self, address, num_cpus, say):
        self.address, self.num_cpus, self.say = address, num_cpus, say

    def __enter__(self):
        try:
            import ray
        except ImportError:
            raise RayExperimentError("Ray is not installed: pip install 'densenas[ray]'") from None
        quiet = {"log_to_driver": False, "configure_logging": True, "logging_level": "warning"}
        what = f"cannot connect to the Ray cluster at {self.address}" if self.address else "cannot start a local Ray instance"
        try:
            if self.address:
                _probe(self.address)
                ray.init(address=self.address, **quiet)
                how = "connected to"
            else:
                # "local" starts a new instance even when another one runs on this machine.
                ray.init(address="local", num_cpus=self.num_cpus, include_dashboard=False, **quiet)
                how = "started a local Ray instance at"
        except (ConnectionError, ValueError, RuntimeError, ray.exceptions.RayError) as e:
            raise RayExperimentError(f"{what}: {type(e).__name__}: {_first_line(e)}") from None
        context = ray.get_runtime_context()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = int(ray.cluster_resources().get("CPU", 0))
        self.say(f"{how} {context.gcs_address}: {len(nodes)} nodes, {cpus} CPUs")
        return self

    def __exit__(self, *exc):
        import ray

        ray.shutdown()  # disconnects; stops the local instance if this process started it


def _probe(address, timeout=10.0):
    """Fails clearly when nothing listens at a `host:port` address (Ray itself would
    retry for ever); other forms (`auto`, `ray://...`) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise RayExperimentError(f"cannot reach the Ray cluster at {address}: {e}") from None


class _Printer:
    def __init__(self, enabled):
        self.enabled = enabled

    def __call__(self, message, head=None):
        if self.enabled:
            print(f"{head} {message}" if head else message, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m densenas.ray_experiment",
        description="Run an experiment's units on a Ray cluster and write its report (docs/experiments.md).",
    )
    parser.add_argument("file", help="the experiment file (JSON)")
    parser.add_argument("--out", required=True, help="the experiment folder (created if needed)")
    parser.add_argument(
        "--address",
        help="the Ray cluster to use (default: $RAY_ADDRESS, else a local Ray instance started for this run)",
    )
    parser.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance (default: all)")
    parser.add_argument(
        "--max-retries",
        type=int,
        default=DEFAULT_MAX_RETRIES,
        help=f"how often a unit whose worker died runs again (default {DEFAULT_MAX_RETRIES})",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.num_cpus is not None and args.num_cpus < 1:
        parser.error("--num-cpus must be at least 1")
    if args.num_cpus is not None and (args.address or os.environ.get("RAY_ADDRESS")):
        parser.error("--num-cpus sizes a local Ray instance: it does not go with a cluster address")
    if args.max_retries < 0:
        parser.error("--max-retries must be at least 0")
    try:
        result = run(args.file, args.out, args.address, args.num_cpus, args.max_retries, not args.quiet)
    except KeyboardInterrupt:
        print("interrupted: run the same command again to go on", file=sys.stderr)
        return 130
    except (RayExperimentError, DensenasError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if result["failed"]:
        for uid, error in result["failed"].items():
            print(f"failed {uid}: {error}", file=sys.stderr)
        n = len(result["failed"])
        print(f"error: {n} unit{'s' if n > 1 else ''} failed; a rerun retries {'them' if n > 1 else 'it'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
