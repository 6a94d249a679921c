"""Builds the Python package as a platform wheel with libdensenas.so inside (`make wheel`):

    python scripts/wheel.py [--build-dir target/release] [--dist dist]

It stages, in build/wheel/:
  libdensenas.so   the built library without its RUNPATH (which points into the
                   checkout's .venv): the package loads libtorch from the installed
                   `torch` package first, so the loader finds it already loaded;
  _build.json      the torch version the library was linked against and the torch
                   libraries it needs (its NEEDED entries found in torch/lib),
then builds bindings/python with hatchling (`pip wheel`, no build isolation: the
set-up installs hatchling into .venv), whose hook (bindings/python/hatch_build.py)
puts both files into the package, tags the wheel for this platform and makes it
require that torch version. Run it with the checkout's `.venv/bin/python`.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fail(message):
    print(f"wheel: {message}", file=sys.stderr)
    sys.exit(1)


def run(*args, **kwargs):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if out.returncode != 0:
        fail(f"{' '.join(map(str, args))} failed:\n{out.stdout}{out.stderr}")
    return out.stdout


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", run("readelf", "-d", path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=str(ROOT / "target" / "release"))
    parser.add_argument("--dist", default=str(ROOT / "dist"))
    args = parser.parse_args()
    built = Path(args.build_dir) / "libdensenas.so"
    if not built.exists():
        fail(f"{built} is missing: run `make build` first")

    # The torch the library was built against: the one in this environment (.venv).
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        fail("the torch package is not installed in this environment: run scripts/setup.sh")
    torch_lib = Path(spec.submodule_search_locations[0]) / "lib"
    # A local version label (2.11.0+cu130) is left out: torch==2.11.0 accepts every build.
    torch_version = importlib.metadata.version("torch").split("+")[0]
    torch_libraries = [n for n in needed(built) if (torch_lib / n).exists()]
    if not torch_libraries:
        fail(f"{built} links no library of {torch_lib}: was it built against this torch?")

    stage = ROOT / "build" / "wheel"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    shutil.copy2(built, stage / "libdensenas.so")
    run("patchelf", "--remove-rpath", stage / "libdensenas.so")
    info = {"torch": torch_version, "torch_libraries": torch_libraries}
    (stage / "_build.json").write_text(json.dumps(info, indent=2) + "\n")

    dist = Path(args.dist)
    dist.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DENSENAS_WHEEL_STAGE": str(stage)}
    out = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
              "--disable-pip-version-check", "-w", dist, ROOT / "bindings" / "python", env=env)
    created = re.search(r"Created wheel for densenas: filename=(\S+)", out)
    print(f"wheel: {dist / created.group(1)}" if created else out.strip())


if __name__ == "__main__":
    main()
