"""Installs densenas into a prefix as a C library, or removes it (`make install`,
`make uninstall`):

    python scripts/install.py install   --prefix PREFIX [--destdir DESTDIR] [--build-dir target/release]
    python scripts/install.py uninstall --prefix PREFIX [--destdir DESTDIR]

It installs, under DESTDIR + PREFIX:

    lib/libdensenas.so.X.Y.Z      the library, its SONAME (read from the built file:
    lib/libdensenas.so.X.Y        build.rs sets it) and the development link
    lib/libdensenas.so
    include/densenas.h, include/densenas.hpp
    lib/pkgconfig/densenas.pc     paths relative to ${prefix}
    lib/cmake/densenas/           densenasConfig.cmake, densenasConfigVersion.cmake
    bin/densenas
    lib/densenas/                 the non-system libraries the library and the program
                                  load (libtorch of the build's flavour with what it
                                  links, ONNX Runtime) and their licence files
    share/densenas/web/           the browser page of examples/web that `densenas serve`
                                  shows (it finds it relative to bin/densenas): its
                                  files and the npm files it loads (onnxruntime-web's
                                  WASM runtime), with those packages' package.json

The build gives its artifacts absolute RUNPATHs into the checkout's `.venv`; the
installed copies get `$ORIGIN`-relative ones instead (patchelf), so nothing installed
points into the checkout and the prefix can be moved. The version comes from
Cargo.toml. After copying, every installed ELF file is checked with `ldd`: each
non-system library must resolve inside the prefix.

The page's files are index.html and what it loads, followed through the quoted
relative file names in each of its HTML and JavaScript files; its npm packages must be
installed (scripts/setup-web.sh, or `npm ci` in examples/web).

Run it with the checkout's `.venv/bin/python` (the Makefile does): the licence files
are found through the Python distributions (`importlib.metadata`) that hold the
libraries.
"""
import argparse
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = "libdensenas.so"
# The runtime folder under lib/ and the RUNPATH each installed file gets.
RUNTIME_DIR = "densenas"
RUNPATH_LIBRARY = f"$ORIGIN/{RUNTIME_DIR}"
RUNPATH_PROGRAM = f"$ORIGIN/../lib/{RUNTIME_DIR}"
RUNPATH_RUNTIME = "$ORIGIN"
# Where the system's own libraries live; everything else a binary loads is shipped.
SYSTEM_DIRS = ("/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/")
# The browser page (examples/web) and where it goes under the prefix.
WEB_SOURCE = ROOT / "examples" / "web"
WEB_DIR = Path("share") / "densenas" / "web"
# A quoted relative file name in the page's HTML or JavaScript: a file it loads.
WEB_REFERENCE = re.compile(r"""["'`]([\w./-]+\.(?:html|css|mjs|js|wasm))["'`]""")
LICENCE_NAME = re.compile(r"^(licen[cs]e|copying|notice|thirdpartynotices)", re.IGNORECASE)


def fail(message):
    print(f"install: {message}", file=sys.stderr)
    sys.exit(1)


def run(*args):
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"{' '.join(map(str, args))} failed:\n{out.stderr}")
    return out.stdout


def package():
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["package"]


def dynamic_entries(path):
    """The NEEDED, SONAME, RUNPATH and RPATH entries of an ELF file (`readelf -d`)."""
    entries = {}
    for line in run("readelf", "-d", path).splitlines():
        m = re.search(r"\((NEEDED|SONAME|RUNPATH|RPATH)\)\s+[^\[]*\[(.*)\]", line)
        if m:
            entries.setdefault(m.group(1), []).append(m.group(2))
    return entries


def resolved_libraries(path, env=None):
    """`ldd`'s view of an ELF file: {name: resolved path or None when not found}."""
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        fail(f"ldd {path} failed:\n{out.stderr}")
    libs = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$", line)
        if m:
            libs[m.group(1)] = None if m.group(2).strip() == "not found" else m.group(2).strip()
    return libs


def is_system(path):
    return os.path.realpath(path).startswith(SYSTEM_DIRS)


def set_runpath(path, runpath):
    """Replaces the file's run path, keeping its kind: a DT_RPATH stays a DT_RPATH (it
    also applies to the libraries its dependencies load), a DT_RUNPATH stays one."""
    entries = dynamic_entries(path)
    force = ["--force-rpath"] if "RPATH" in entries and "RUNPATH" not in entries else []
    run("patchelf", *force, "--set-rpath", runpath, path)


def copy_file(source, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    shutil.copy2(source, target)
    target.chmod(0o755 if os.access(source, os.X_OK) else 0o644)


def link(target, name):
    """`name` -> `target` (relative, in the same folder)."""
    if name.is_symlink() or name.exists():
        name.unlink()
    name.symlink_to(target)


def distribution_of(path, owners):
    return owners.get(os.path.realpath(path))


def file_owners():
    """{absolute file path: distribution} for every installed Python distribution."""
    owners = {}
    for dist in importlib.metadata.distributions():
        for f in dist.files or []:
            owners[os.path.realpath(dist.locate_file(f))] = dist
    return owners


def licence_files(dist):
    """A distribution's licence and notice files: in its .dist-info, or at the top of
    its package (ONNX Runtime keeps them there)."""
    out = []
    for f in dist.files or []:
        parts = f.parts
        in_dist_info = parts[0].endswith(".dist-info")
        if LICENCE_NAME.match(parts[-1]) and (in_dist_info or len(parts) <= 2):
            out.append(f)
    return out


def runtime_libraries(build_dir, onnxruntime):
    """{installed name: source path} of the non-system libraries the library and the
    program load: their `ldd` closure (libtorch and what it links), and ONNX Runtime."""
    libs = {}
    for exe in (build_dir / LIBRARY, build_dir / "densenas"):
        for name, path in resolved_libraries(exe).items():
            if path is None:
                fail(f"{exe} needs {name}, which is not found: run `make build` first")
            if not is_system(path):
                libs[name] = Path(os.path.realpath(path))
    ort = Path(os.path.realpath(onnxruntime))
    if not ort.exists():
        fail(f"ONNX Runtime not found at {onnxruntime}: run scripts/setup.sh")
    libs[ort.name] = ort
    return libs


def pointer_size(path):
    """8 for a 64-bit ELF file, 4 for a 32-bit one (EI_CLASS)."""
    with open(path, "rb") as f:
        header = f.read(5)
    if header[:4] != b"\x7fELF" or header[4] not in (1, 2):
        fail(f"{path} is not an ELF file")
    return 4 * header[4]


def substitute(template, values):
    text = (ROOT / "packaging" / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        fail(f"packaging/{template}: no value for {', '.join(left)}")
    return text


def web_files(source):
    """The page's files, relative to `source`: index.html and what it loads, followed
    through the quoted relative file names of every HTML and JavaScript file, plus the
    package.json (name, version, licence) of every npm package one of them comes from.
    A page file (not an npm one) naming a missing file stops the installation."""
    if not (source / "index.html").is_file():
        fail(f"{source / 'index.html'} is missing")
    found, todo = set(), ["index.html"]
    while todo:
        rel = todo.pop()
        if rel in found:
            continue
        found.add(rel)
        if rel.endswith(".wasm"):
            continue
        for name in WEB_REFERENCE.findall((source / rel).read_text(errors="replace")):
            target = os.path.normpath(os.path.join(os.path.dirname(rel), name))
            if target.startswith(".."):
                continue
            if (source / target).is_file():
                todo.append(target)
            elif not rel.startswith("node_modules/"):
                fail(f"{source / rel} loads {name}, which is missing: install the page's npm packages first "
                     f"(scripts/setup-web.sh, or `npm ci` in {source})")
    packages = {"/".join(Path(f).parts[:2]) for f in found if f.startswith("node_modules/")}
    return sorted(found | {f"{package}/package.json" for package in packages})


def install_web(source, target):
    """Copies the page (`web_files`) from `source` into `target`, emptied first."""
    files = web_files(source)
    if target.exists():
        shutil.rmtree(target)
    for rel in files:
        copy_file(source / rel, target / rel)
    return files


def paths(prefix, destdir, version):
    root = Path(destdir + prefix) if destdir else Path(prefix)
    lib = root / "lib"
    return {
        "root": root,
        "lib": lib,
        "library": lib / f"{LIBRARY}.{version}",
        "runtime": lib / RUNTIME_DIR,
        "include": root / "include",
        "pkgconfig": lib / "pkgconfig" / "densenas.pc",
        "cmake": lib / "cmake" / "densenas",
        "program": root / "bin" / "densenas",
        "web": root / WEB_DIR,
    }


def install(args):
    pkg = package()
    version = pkg["version"]
    build_dir = Path(args.build_dir).resolve()
    built = build_dir / LIBRARY
    for f in (built, build_dir / "densenas"):
        if not f.exists():
            fail(f"{f} is missing: run `make build` first")
    sonames = dynamic_entries(built).get("SONAME")
    if not sonames:
        fail(f"{built} has no SONAME: rebuild it with `make build`")
    soname = sonames[0]
    if not version.startswith(soname.removeprefix(f"{LIBRARY}.") + "."):
        fail(f"{built} has SONAME {soname}, which is not of version {version}: rebuild it with `make build`")
    p = paths(args.prefix, args.destdir, version)

    # The library, its links, the program.
    copy_file(built, p["library"])
    set_runpath(p["library"], RUNPATH_LIBRARY)
    link(p["library"].name, p["lib"] / soname)
    link(soname, p["lib"] / LIBRARY)
    copy_file(build_dir / "densenas", p["program"])
    set_runpath(p["program"], RUNPATH_PROGRAM)

    # The browser page `densenas serve` shows.
    install_web(WEB_SOURCE, p["web"])

    # Headers.
    copy_file(ROOT / "include" / "densenas.h", p["include"] / "densenas.h")
    copy_file(ROOT / "bindings" / "cpp" / "densenas.hpp", p["include"] / "densenas.hpp")

    # The runtime libraries, their run paths and licences.
    if p["runtime"].exists():
        shutil.rmtree(p["runtime"])
    owners = file_owners()
    licences = {}
    for name, source in sorted(runtime_libraries(build_dir, args.onnxruntime).items()):
        target = p["runtime"] / name
        copy_file(source, target)
        entries = dynamic_entries(target)
        if "RPATH" in entries or "RUNPATH" in entries:
            set_runpath(target, RUNPATH_RUNTIME)
        dist = distribution_of(source, owners)
        if dist is None:
            print(f"install: warning: no Python distribution owns {source}; copy its licence by hand", file=sys.stderr)
        else:
            licences[dist.metadata["Name"], dist.version] = dist
    # ONNX Runtime is looked for as libonnxruntime.so.
    ort_name = Path(os.path.realpath(args.onnxruntime)).name
    if ort_name != "libonnxruntime.so":
        link(ort_name, p["runtime"] / "libonnxruntime.so")
    for (name, dist_version), dist in sorted(licences.items()):
        folder = p["runtime"] / "licenses" / f"{name}-{dist_version}"
        for f in licence_files(dist):
            copy_file(dist.locate_file(f), folder / f.name)

    # pkg-config and CMake.
    values = {
        "PREFIX": args.prefix,
        "VERSION": version,
        "DESCRIPTION": pkg.get("description", "densenas"),
        "SONAME": soname,
        "LIBRARY_FILE": p["library"].name,
        "RUNTIME_DIR": RUNTIME_DIR,
        "VERSION_MAJOR_MINOR": ".".join(version.split(".")[:2]),
        "SIZEOF_VOID_P": str(pointer_size(built)),
    }
    p["pkgconfig"].parent.mkdir(parents=True, exist_ok=True)
    p["pkgconfig"].write_text(substitute("densenas.pc.in", values))
    p["cmake"].mkdir(parents=True, exist_ok=True)
    (p["cmake"] / "densenasConfig.cmake").write_text(substitute("densenasConfig.cmake.in", values))
    (p["cmake"] / "densenasConfigVersion.cmake").write_text(substitute("densenasConfigVersion.cmake.in", values))

    # Every installed ELF file resolves its non-system libraries inside the prefix.
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    root = os.path.realpath(p["root"]) + os.sep
    for f in [p["library"], p["program"], *sorted(x for x in p["runtime"].iterdir() if ".so" in x.name)]:
        for name, path in resolved_libraries(f, env).items():
            if path is None:
                fail(f"installed {f} cannot find {name}")
            if not is_system(path) and not os.path.realpath(path).startswith(root):
                fail(f"installed {f} loads {name} from {path}, outside {p['root']}")
    print(f"install: densenas {version} installed in {p['root']}")


def uninstall(args):
    version = package()["version"]
    p = paths(args.prefix, args.destdir, version)
    removed = []

    def remove(path):
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed.append(path)
        elif path.is_dir():
            shutil.rmtree(path)
            removed.append(path)

    # The links go only when they lead to this version's library.
    for name in sorted(p["lib"].glob(f"{LIBRARY}*")) if p["lib"].is_dir() else []:
        if name.is_symlink() and os.path.realpath(name) == os.path.realpath(p["library"]):
            remove(name)
    for path in (p["library"], p["program"], p["include"] / "densenas.h", p["include"] / "densenas.hpp",
                 p["pkgconfig"], p["cmake"], p["runtime"], p["web"]):
        remove(path)
    # share/densenas goes with its last entry.
    share = p["web"].parent
    if share.is_dir() and not any(share.iterdir()):
        share.rmdir()
    print(f"uninstall: removed {len(removed)} entries of densenas {version} from {p['root']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["install", "uninstall"])
    parser.add_argument("--prefix", required=True, help="the installation prefix (absolute)")
    parser.add_argument("--destdir", default="", help="staging root prepended to the prefix (packaging)")
    parser.add_argument("--build-dir", default=str(ROOT / "target" / "release"), help="where cargo put the build")
    parser.add_argument("--onnxruntime", default=str(ROOT / ".venv" / "libonnxruntime.so"),
                        help="the ONNX Runtime library to ship (scripts/setup.sh links it)")
    args = parser.parse_args()
    if not os.path.isabs(args.prefix):
        fail(f"PREFIX must be an absolute path, not {args.prefix!r}")
    args.prefix = os.path.normpath(args.prefix)
    install(args) if args.action == "install" else uninstall(args)


if __name__ == "__main__":
    main()
