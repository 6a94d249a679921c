//! Build script: make every artifact (binary, cdylib, tests) find libtorch at run time
//! through an rpath, and record the build's git commit and ONNX Runtime location.
use std::process::Command;

fn main() {
    // Only direct dependents of torch-sys see DEP_TCH_LIBTORCH_LIB (TOOLCHAIN.md).
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    if std::env::var_os("CARGO_FEATURE_CUDA").is_some() {
        // rustc links with --as-needed, which would drop libtorch_cuda.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=DENSENAS_GIT_COMMIT={commit}");
    // The ONNX Runtime library known at build time (the last place looked at run time).
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let ort = std::path::Path::new(&manifest).join(".venv/libonnxruntime.so");
    println!("cargo:rustc-env=DENSENAS_BUILD_ORT_PATH={}", ort.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-env-changed=LIBTORCH");
}
