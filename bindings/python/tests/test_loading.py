"""How the package finds libdensenas.so: `$DENSENAS_LIBRARY` first and alone, then a copy
next to the package, `$CARGO_TARGET_DIR/release`, the checkout's `target/release`, and
the system's search path; how a wheel's library finds libtorch (preloaded from the
installed torch package) and ONNX Runtime (the onnxruntime package's)."""
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import densenas
from densenas import _ffi

PACKAGE = Path(densenas.__file__).resolve().parent


def test_the_library_named_by_the_environment_is_the_one_loaded():
    assert os.environ.get("DENSENAS_LIBRARY"), "the test suite runs with DENSENAS_LIBRARY set"
    assert densenas.library_path == os.environ["DENSENAS_LIBRARY"]


def test_the_lookup_order(monkeypatch):
    monkeypatch.setenv("DENSENAS_LIBRARY", "/explicit/libdensenas.so")
    monkeypatch.setenv("CARGO_TARGET_DIR", "/cargo-target")
    candidates = _ffi.library_candidates()
    assert candidates[:4] == [
        "/explicit/libdensenas.so",
        str(PACKAGE / "libdensenas.so"),
        "/cargo-target/release/libdensenas.so",
        str(PACKAGE.parents[2] / "target" / "release" / "libdensenas.so"),
    ]
    monkeypatch.delenv("DENSENAS_LIBRARY")
    monkeypatch.delenv("CARGO_TARGET_DIR")
    assert _ffi.library_candidates()[0] == str(PACKAGE / "libdensenas.so")


def test_a_missing_explicit_library_is_an_import_error_naming_it():
    env = {**os.environ, "DENSENAS_LIBRARY": "/nonexistent/libdensenas.so"}
    out = subprocess.run(
        [sys.executable, "-c", "import densenas"], env=env, cwd=PACKAGE.parent, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "/nonexistent/libdensenas.so" in out.stderr


def installed_torch_version():
    return importlib.metadata.version("torch").split("+")[0]


def test_a_wheel_preloads_the_torch_libraries_of_the_installed_torch_package():
    # What a wheel's _build.json says; the libraries come from the torch package's lib/.
    torch_lib = _ffi.preload_torch({"torch": installed_torch_version(), "torch_libraries": ["libc10.so"]})
    assert torch_lib == Path(importlib.util.find_spec("torch").submodule_search_locations[0]) / "lib"
    assert (torch_lib / "libc10.so").exists()


def test_a_wheel_refuses_another_torch_version_naming_both():
    with pytest.raises(ImportError) as e:
        _ffi.preload_torch({"torch": "0.0.1", "torch_libraries": ["libc10.so"]})
    message = str(e.value)
    assert "built against torch 0.0.1" in message and f"torch {importlib.metadata.version('torch')} is installed" in message
    assert "pip install torch==0.0.1" in message


def test_a_wheel_without_torch_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(_ffi, "_package_dir", lambda name: None)
    with pytest.raises(ImportError, match=r"densenas needs the torch package, version 2\.11\.0: pip install torch==2\.11\.0"):
        _ffi.preload_torch({"torch": "2.11.0", "torch_libraries": ["libc10.so"]})


def test_onnx_runtime_is_taken_from_the_onnxruntime_package_unless_named(monkeypatch):
    monkeypatch.delenv("ORT_DYLIB_PATH", raising=False)
    _ffi._point_at_onnxruntime()
    ort = Path(os.environ["ORT_DYLIB_PATH"])
    assert ort.parent == Path(importlib.util.find_spec("onnxruntime").submodule_search_locations[0]) / "capi"
    assert ort.name.startswith("libonnxruntime.so") and ort.exists()
    monkeypatch.setenv("ORT_DYLIB_PATH", "/chosen/libonnxruntime.so")
    _ffi._point_at_onnxruntime()
    assert os.environ["ORT_DYLIB_PATH"] == "/chosen/libonnxruntime.so"
