"""How the package finds libdensenas.so: `$DENSENAS_LIBRARY` first and alone, then a copy
next to the package, `$CARGO_TARGET_DIR/release`, the checkout's `target/release`, and
the system's search path."""
import os
import subprocess
import sys
from pathlib import Path

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
