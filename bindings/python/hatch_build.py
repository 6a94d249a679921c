"""Hatchling hooks of the densenas Python package (pyproject.toml).

The metadata hook takes the version from the crate's Cargo.toml (the one place it is
written) and offers two optional extras: `onnx` (ONNX Runtime, at least the version
the `ort` crate's `api-NN` feature needs) and `ray` (Ray with its `default` extra, for
`densenas.ray_experiment`).

The build hook makes the platform wheel: when DENSENAS_WHEEL_STAGE names a folder
prepared by scripts/wheel.py (`make wheel`), the wheel carries its `libdensenas.so`
(no RUNPATH) and `_build.json` (the torch version and libraries it was linked
against); without it (`pip install ./bindings/python`) the hook first builds the
library with cargo against the `torch` package of the Python doing the build and
stages it the same way (wheel_stage.py, shared with scripts/wheel.py). Either way the
wheel is tagged `py3-none-<platform>` rather than pure Python and requires that torch
version. An editable install (`pip install -e`) stays pure Python and loads the
checkout's target/release/libdensenas.so (bindings/README.md).
"""
import importlib.util
import json
import os
import re
import shutil
import sysconfig
import tempfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11: pyproject.toml's build requirements add tomli
    import tomli as tomllib

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

STAGE_ENV = "DENSENAS_WHEEL_STAGE"
#: The oldest Ray the `ray` extra accepts.
RAY_MINIMUM = "2.40"


def cargo_manifest(root):
    path = Path(root).resolve().parents[1] / "Cargo.toml"
    if not path.exists():
        raise RuntimeError(f"{path} not found: the package is built from the densenas repository")
    with open(path, "rb") as f:
        return tomllib.load(f)


class CustomMetadataHook(MetadataHookInterface):
    def update(self, metadata):
        cargo = cargo_manifest(self.root)
        metadata["version"] = cargo["package"]["version"]
        features = cargo["dependencies"]["ort"]["features"]
        api = max(int(m.group(1)) for f in features if (m := re.fullmatch(r"api-(\d+)", f)))
        metadata["optional-dependencies"] = {
            "onnx": [f"onnxruntime>=1.{api}"],
            # densenas.ray_experiment; scripts/setup.sh installs and tests the pinned one.
            "ray": [f"ray[default]>={RAY_MINIMUM}"],
        }


def _wheel_stage():
    """wheel_stage.py beside this file (hatchling loads this file by path, so its folder
    is not on sys.path)."""
    spec = importlib.util.spec_from_file_location("wheel_stage", Path(__file__).with_name("wheel_stage.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_stage(root):
    """Builds the library with cargo and stages it into a temporary folder; a failure is
    one clear line (a missing cargo or torch) rather than a traceback."""
    ws = _wheel_stage()
    folder = Path(tempfile.mkdtemp(prefix="densenas-wheel-"))
    try:
        torch = ws.find_torch()
        return ws.stage(ws.cargo_build(root, torch), folder / "stage", torch)
    except ws.StageError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(f"densenas: building the Python package failed: {e}") from None


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        self._temporary = None
        if self.target_name != "wheel" or version != "standard":
            return
        stage = os.environ.get(STAGE_ENV)
        if stage:
            stage = Path(stage)
        else:
            stage = self._temporary = _build_stage(Path(self.root).resolve().parents[1])
        info = json.loads((stage / "_build.json").read_text())
        for name in ("libdensenas.so", "_build.json"):
            build_data["force_include"][str(stage / name)] = f"densenas/{name}"
        build_data["pure_python"] = False
        platform = re.sub(r"[^\w]", "_", sysconfig.get_platform())
        build_data["tag"] = f"py3-none-{platform}"
        build_data["dependencies"].append(f"torch=={info['torch']}")

    def finalize(self, version, build_data, artifact_path):
        if getattr(self, "_temporary", None) is not None:
            shutil.rmtree(self._temporary.parent, ignore_errors=True)
