// The fuzz binaries find libtorch without LD_LIBRARY_PATH (as densenas's own do).
fn main() {
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
