"""Runs `python -m densenas.ray_experiment` against a two-node Ray cluster on the
loopback address, one CPU per node, for tests/ray_executor.rs:

    ray_cluster.py FILE OUT ONE_FILE ONE_OUT

1. the experiment FILE into OUT through the cluster; during a unit, its worker process
   is killed (SIGKILL); once at least 12 units are done the driver gets Ctrl-C (SIGINT);
2. the same again, the cluster named by RAY_ADDRESS this time, which must go on from
   there and finish;
3. ONE_FILE into ONE_OUT with neither --address nor RAY_ADDRESS: the driver must start
   a Ray instance of its own, not attach to the running cluster, and leave it running.

Prints one JSON object (the outputs, the killed process, the cluster's address). The
cluster's nodes are this script's children and are stopped (only they: never
`ray stop`) when it ends, however the steps went.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# Every Ray process of the test (nodes, drivers, workers) takes 127.0.0.1 as its node's
# address: Ray otherwise replaces a loopback address by the machine's own, which a
# node bound to the loopback does not listen on. Read when Ray is imported.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.pop("RAY_ADDRESS", None)

from ray.cluster_utils import Cluster  # noqa: E402

NODE = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 1024 * 1024}
STEP_SECONDS = 240


def driver(args, env, on_line=None):
    """Starts the driver; returns the process and the list its stderr lines go to."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "densenas.ray_experiment", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []

    def read():
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if on_line:
                on_line(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, reader


def finish(proc, reader, what):
    try:
        rc = proc.wait(timeout=STEP_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(timeout=10)
        return f"{what} did not end within {STEP_SECONDS} s"
    reader.join(timeout=10)
    return rc


def unit_workers():
    """Processes running a unit now, with the unit's id prefix: Ray's process title
    `ray::densenas_unit ID`, with the library loaded."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if title.startswith("ray::densenas_unit ") and "libdensenas" in Path(f"/proc/{pid}/maps").read_text():
                found.append((int(pid), title.split()[1]))
        except OSError:
            continue
    return found


def interrupted_run(args, env):
    """Step 1: kill the worker of a running unit; once that unit is done (run again by
    Ray) and at least 12 units are, Ctrl-C the driver."""
    done = []
    proc, lines, reader = driver(args, env, on_line=lambda l: done.append(l) if " done  " in l else None)
    killed = None
    deadline = time.monotonic() + STEP_SECONDS
    while proc.poll() is None and time.monotonic() < deadline:
        if killed is None:
            for pid, unit in unit_workers()[:1]:
                os.kill(pid, signal.SIGKILL)
                killed = {"pid": pid, "unit": unit}
        elif len(done) >= 12 and any(f" done  {killed['unit']} " in l for l in done):
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    rc = finish(proc, reader, "the interrupted run")
    return {"rc": rc, "stderr": lines, "killed": killed}


def main():
    file, out, one_file, one_out = sys.argv[1:5]
    env = dict(os.environ)
    result = {}
    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        result["address"] = cluster.address
        args = [file, "--out", out, "--address", cluster.address]
        result["first"] = interrupted_run(args, env)
        # The second time the cluster is named by RAY_ADDRESS instead of --address.
        proc, lines, reader = driver([file, "--out", out], {**env, "RAY_ADDRESS": cluster.address})
        result["second"] = {"rc": finish(proc, reader, "the second run"), "stderr": lines}
        proc, lines, reader = driver([one_file, "--out", one_out, "--num-cpus", "1"], env)
        result["own"] = {"rc": finish(proc, reader, "the run without an address"), "stderr": lines}
        result["cluster_alive_after"] = cluster.remaining_processes_alive()
    finally:
        cluster.shutdown()
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
