"""Builds the Python package as a platform wheel with libdensenas.so inside (`make wheel`):

    python scripts/wheel.py [--build-dir target/release] [--dist dist]

It stages the built library in build/wheel/ (bindings/python/wheel_stage.py, which
the package's build hook also uses when `pip install ./bindings/python` builds the
library itself): libdensenas.so without its RUNPATH (which points into the checkout's
.venv) and _build.json (the torch version the library was linked against and the torch
libraries it needs). It then builds bindings/python with hatchling (`pip wheel`, no
build isolation: the set-up installs hatchling into .venv), whose hook
(bindings/python/hatch_build.py) puts both files into the package, tags the wheel for
this platform and makes it require that torch version. Run it with the checkout's
`.venv/bin/python`.
"""
import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
import wheel_stage  # noqa: E402  (bindings/python/wheel_stage.py)


def fail(message):
    print(f"wheel: {message}", file=sys.stderr)
    sys.exit(1)


def run(*args, **kwargs):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if out.returncode != 0:
        fail(f"{' '.join(map(str, args))} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=str(ROOT / "target" / "release"))
    parser.add_argument("--dist", default=str(ROOT / "dist"))
    args = parser.parse_args()
    built = Path(args.build_dir) / wheel_stage.LIBRARY
    if not built.exists():
        fail(f"{built} is missing: run `make build` first")
    # The torch the library was built against: the one in this environment (.venv).
    try:
        stage = wheel_stage.stage(built, ROOT / "build" / "wheel", wheel_stage.find_torch())
    except wheel_stage.StageError as e:
        fail(str(e))

    dist = Path(args.dist)
    dist.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DENSENAS_WHEEL_STAGE": str(stage)}
    out = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
              "--disable-pip-version-check", "-w", dist, ROOT / "bindings" / "python", env=env)
    created = re.search(r"Created wheel for densenas: filename=(\S+)", out)
    print(f"wheel: {dist / created.group(1)}" if created else out.strip())


if __name__ == "__main__":
    main()
