//! Build script: make every artifact (binary, cdylib, tests) find libtorch and ONNX
//! Runtime at run time through its RUNPATH, give the C library its SONAME (with the
//! matching link in the target folder), and record the build's git commit.
use std::path::Path;
use std::process::Command;

/// The SONAME of `libdensenas.so` for a version: `libdensenas.so.MAJOR`, or
/// `libdensenas.so.0.MINOR` while the major version is 0 (a 0.x minor release may break
/// the ABI). `make install` reads it back from the built library.
fn soname(major: &str, minor: &str) -> String {
    if major == "0" {
        format!("libdensenas.so.0.{minor}")
    } else {
        format!("libdensenas.so.{major}")
    }
}

fn main() {
    // Only direct dependents of torch-sys see DEP_TCH_LIBTORCH_LIB.
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
        compile_torch_context(Path::new(&lib));
    }
    // ONNX Runtime is dlopened by bare name as the last resort, which searches the
    // RUNPATH of the object that calls dlopen: in the checkout that is the `.venv`
    // holding the `libonnxruntime.so` link made by scripts/setup.sh. `make install`
    // replaces these absolute paths with `$ORIGIN`-relative ones.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", Path::new(&manifest).join(".venv").display());
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        // rustc links with --as-needed, which would drop libtorch_cuda.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }

    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap();
    let soname = soname(&major, &minor);
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    link_soname_in_profile_dir(&soname);

    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=DENSENAS_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // The commit changes with HEAD and with the branch it names. Ask git where those
    // files are (in a worktree `.git` is a file): a path that does not exist would rerun
    // this script, and so rebuild the crate, on every build.
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for name in std::iter::once("HEAD".to_string()).chain(branch) {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]).map(|p| Path::new(&manifest).join(p)) {
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH");
}

/// Compiles csrc/torch_context.cpp (libtorch's process-wide settings that tch does not
/// expose) against the headers beside libtorch's library folder, with the C++ ABI
/// torch-sys compiles its own shim with.
fn compile_torch_context(lib: &Path) {
    let include = lib.parent().map(|p| p.join("include")).unwrap_or_default();
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    println!("cargo:rerun-if-changed=csrc/torch_context.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .include(&include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .flag("-DGLOG_USE_GLOG_EXPORT")
        .warnings(false)
        .file("csrc/torch_context.cpp")
        .compile("densenas_torch_context");
}

/// A git query's trimmed output, if git ran and succeeded.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Programs linked with `-L target/release -ldensenas` record the SONAME, so the loader
/// looks for `libdensenas.so.0.1` there: make it a link to the library cargo writes
/// beside it. This is the one thing the script writes outside OUT_DIR (a relative
/// symlink in the profile folder, `OUT_DIR/../../..`), because cargo has no other hook
/// that runs for a plain `cargo build`; the link dangles until the library is linked.
fn link_soname_in_profile_dir(soname: &str) {
    let Some(out_dir) = std::env::var_os("OUT_DIR") else { return };
    // OUT_DIR is <target>/<profile>/build/densenas-<hash>/out.
    let Some(profile_dir) = Path::new(&out_dir).ancestors().nth(3) else { return };
    let link = profile_dir.join(soname);
    if std::fs::read_link(&link).is_ok_and(|t| t == Path::new("libdensenas.so")) {
        return;
    }
    let _ = std::fs::remove_file(&link);
    if let Err(e) = std::os::unix::fs::symlink("libdensenas.so", &link) {
        println!("cargo:warning=could not link {} -> libdensenas.so: {e}", link.display());
    }
}
