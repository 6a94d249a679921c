"""The ctypes declarations against include/densenas.h: every function of the header is
declared with the restype and argtypes its C prototype gives, and the structs and enums
agree with the header's."""
import ctypes
import importlib.metadata
import re
from pathlib import Path

import pytest

import densenas
from densenas import _ffi

HEADER = Path(__file__).resolve().parents[3] / "include" / "densenas.h"
P = ctypes.POINTER

# C type (as the header spells it, whitespace normalised) -> the ctypes types allowed.
C_TYPES = {
    "void": [None],
    "double": [ctypes.c_double],
    "size_t": [ctypes.c_size_t],
    "uint32_t": [ctypes.c_uint32],
    "uint64_t": [ctypes.c_uint64],
    "densenas_status": [_ffi.STATUS],
    "const char *": [ctypes.c_char_p],
    # Library-allocated strings stay raw pointers (to be freed); a buffer is writable.
    "char *": [ctypes.c_void_p, P(ctypes.c_char)],
    "char **": [P(ctypes.c_void_p)],
    "void *": [ctypes.c_void_p],
    "const float *": [P(ctypes.c_float)],
    "float *": [P(ctypes.c_float)],
    "const float **": [P(P(ctypes.c_float))],
    "const int64_t *": [P(ctypes.c_int64)],
    "const int64_t **": [P(P(ctypes.c_int64))],
    "double *": [P(ctypes.c_double)],
    "size_t *": [P(ctypes.c_size_t)],
    "densenas_progress_callback": [_ffi.ProgressCallback],
}
HANDLES = {
    "densenas_space": _ffi.SpaceHandle,
    "densenas_session": _ffi.SessionHandle,
    "densenas_dataset": _ffi.DatasetHandle,
    "densenas_experiment_lock": _ffi.ExperimentLockHandle,
}


def expected(c_type):
    stars = c_type.count("*")
    c_type = re.sub(r"\s+", " ", c_type.replace("*", "")).strip() + (" " + "*" * stars if stars else "")
    m = re.fullmatch(r"(?:const )?struct (densenas_\w+) (\*+)", c_type)
    if m:
        t = HANDLES[m.group(1)]
        for _ in m.group(2):
            t = P(t)
        return [t]
    assert c_type in C_TYPES, f"no ctypes mapping for C type {c_type!r}"
    return C_TYPES[c_type]


def prototypes():
    text = HEADER.read_text()
    body = text[text.index('extern "C" {') :]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    body = re.sub(r"(//[^\n]*|^\s*#[^\n]*)", "", body, flags=re.M)
    found = {}
    for m in re.finditer(r"([\w\s\*]+?)\b(densenas_\w+)\(([^)]*)\);", body):
        ret, name, params = m.group(1).strip(), m.group(2), m.group(3).strip()
        args = []
        if params != "void":
            for p in params.split(","):
                p = re.sub(r"\s+", " ", p).strip()
                # Drop the parameter's name: the last identifier.
                args.append(re.sub(r"\s*\b\w+$", "", p))
        found[name] = (ret, args)
    return found


def test_the_header_is_parsed():
    protos = prototypes()
    assert len(protos) >= 25
    assert protos["densenas_session_predict"][1] == [
        "const struct densenas_session *",
        "const float *",
        "size_t",
        "size_t",
        "float *",
        "size_t",
    ]


def test_every_function_of_the_header_is_declared_as_its_prototype_says():
    protos = prototypes()
    assert set(_ffi.SIGNATURES) == set(protos), "functions declared differ from the header's"
    for name, (ret, args) in protos.items():
        func = getattr(_ffi.lib, name)
        assert func.restype in expected(ret), f"{name}: restype {func.restype} for {ret}"
        assert len(func.argtypes) == len(args), f"{name}: {len(func.argtypes)} argtypes for {args}"
        for i, (have, c_type) in enumerate(zip(func.argtypes, args)):
            assert have in expected(c_type), f"{name} argument {i}: {have} for {c_type}"
        if ret == "densenas_status":
            assert func.errcheck is _ffi._check, f"{name} has no errcheck"


def header_block(kind, name):
    text = HEADER.read_text()
    m = re.search(kind + r" " + name + r"\b[^{]*\{(.*?)\}", text, flags=re.S)
    assert m, f"{kind} {name} not in the header"
    return re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)


def test_the_progress_struct_matches_the_header():
    fields = re.findall(r"(\w+)\s+(\w+);", header_block("typedef struct", "densenas_progress"))
    c_to_ctypes = {"uint32_t": ctypes.c_uint32, "size_t": ctypes.c_size_t, "double": ctypes.c_double}
    assert [(n, c_to_ctypes[t]) for t, n in fields] == _ffi.Progress._fields_


@pytest.mark.parametrize(
    "enum, prefix, py",
    [
        ("densenas_status", "DENSENAS_STATUS_", densenas.Status),
        ("densenas_split", "DENSENAS_SPLIT_", densenas.Split),
        ("densenas_progress_kind", "DENSENAS_PROGRESS_", densenas.ProgressKind),
    ],
)
def test_enums_match_the_header(enum, prefix, py):
    values = {n: int(v) for n, v in re.findall(prefix + r"(\w+) = (\d+)", header_block("enum", enum))}
    assert values == {m.name: m.value for m in py}
    for m in py:
        if py is densenas.Status:
            assert _ffi.status_name(m.value) == prefix + m.name


def test_versions_agree():
    # The header, the library and the installed package's metadata (all from Cargo.toml).
    header = re.search(r'#define DENSENAS_VERSION "([^"]+)"', HEADER.read_text()).group(1)
    assert densenas.library_version() == densenas.__version__ == header
    assert importlib.metadata.version("densenas") == header
