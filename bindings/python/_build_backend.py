"""A minimal PEP 517 build backend for this pure-Python package, kept in the tree
(`backend-path`) so that `pip install ./bindings/python` needs nothing beyond pip: the
setuptools of a fresh Python 3.11 venv cannot build wheels without the `wheel` package,
which the project's set-up does not install.

It builds a `py3-none-any` wheel of the `densenas` package from the `[project]` table
of pyproject.toml, an sdist, and an editable wheel (`pip install -e`, a .pth file
pointing at this directory).
"""
import base64
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11: pyproject.toml's build requirements add tomli
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
PACKAGE = "densenas"


def _project():
    with open(HERE / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _dist_name(project):
    return f"{project['name'].replace('-', '_')}-{project['version']}"


def _metadata(project):
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
    ]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {d}" for d in project.get("dependencies", [])]
    if "license" in project and "text" in project["license"]:
        lines.append(f"License: {project['license']['text']}")
    return "\n".join(lines) + "\n"


def _sources():
    """The package's files (relative paths, sorted): its Python modules."""
    return sorted(p.relative_to(HERE).as_posix() for p in (HERE / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(wheel_directory, files):
    """Writes a wheel holding `files` (archive name -> bytes) plus its dist-info."""
    project = _project()
    dist = _dist_name(project)
    info = f"{dist}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = _metadata(project).encode("utf-8")
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: densenas _build_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode("ascii")
    files[f"{info}/top_level.txt"] = f"{PACKAGE}\n".encode("ascii")
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode("utf-8")
    filename = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, {name: (HERE / name).read_bytes() for name in _sources()})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth line puts this directory on sys.path: the checkout's package is imported.
    return _write_wheel(wheel_directory, {f"__editable__.{PACKAGE}.pth": f"{HERE}\n".encode("utf-8")})


def build_sdist(sdist_directory, config_settings=None):
    project = _project()
    dist = _dist_name(project)
    names = ["pyproject.toml", "_build_backend.py", *_sources()]
    filename = f"{dist}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for name in names:
            tf.add(HERE / name, arcname=f"{dist}/{name}")
        pkg_info = _metadata(project).encode("utf-8")
        ti = tarfile.TarInfo(f"{dist}/PKG-INFO")
        ti.size = len(pkg_info)
        tf.addfile(ti, io.BytesIO(pkg_info))
    return filename
