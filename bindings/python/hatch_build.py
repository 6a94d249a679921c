"""Hatchling hooks of the densenas Python package (pyproject.toml).

The metadata hook takes the version from the crate's Cargo.toml (the one place it is
written) and offers two optional extras: `onnx` (ONNX Runtime, at least the version
the `ort` crate's `api-NN` feature needs) and `ray` (Ray with its `default` extra, for
`densenas.ray_experiment`).

The build hook makes the platform wheel that `make wheel` asks for: when
DENSENAS_WHEEL_STAGE names a folder prepared by scripts/wheel.py, the wheel carries
its `libdensenas.so` (no RUNPATH) and `_build.json` (the torch version and libraries
it was linked against) in the package, is tagged `py3-none-<platform>` rather than
pure Python, and requires that torch version. Without it (`pip install
./bindings/python`, editable installs) the package is pure Python and finds the
library elsewhere (bindings/README.md).
"""
import json
import os
import re
import sysconfig
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


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        stage = os.environ.get(STAGE_ENV)
        if self.target_name != "wheel" or version != "standard" or not stage:
            return
        stage = Path(stage)
        info = json.loads((stage / "_build.json").read_text())
        for name in ("libdensenas.so", "_build.json"):
            build_data["force_include"][str(stage / name)] = f"densenas/{name}"
        build_data["pure_python"] = False
        platform = re.sub(r"[^\w]", "_", sysconfig.get_platform())
        build_data["tag"] = f"py3-none-{platform}"
        build_data["dependencies"].append(f"torch=={info['torch']}")
