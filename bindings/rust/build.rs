//! Links libqjit.so: from `$QJIT_LIB_DIR` when set, else `<repo>/build/release` (the CMake release preset's
//! output, two levels above this crate). The directory is also written into the binaries' run path, so
//! `cargo test` runs without LD_LIBRARY_PATH; on another machine (where that absolute path does not exist) set
//! LD_LIBRARY_PATH to wherever libqjit.so lives there, which the loader searches before a run path.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=QJIT_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");

    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let default_dir = manifest.join("../../build/release");
    let from_env = env::var_os("QJIT_LIB_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    let dir = from_env.clone().unwrap_or_else(|| default_dir.clone());

    let lib = dir.join("libqjit.so");
    if !lib.is_file() {
        let env_text = match &from_env {
            Some(d) => format!("QJIT_LIB_DIR={} (set; searched)", d.display()),
            None => "QJIT_LIB_DIR (not set)".to_string(),
        };
        panic!(
            "qjit: libqjit.so not found at {}.\n  Looked in: {}; otherwise the repository's build directory {}.\n  \
             Build it first (cmake --preset release && cmake --build build/release --target qjit) or point \
             QJIT_LIB_DIR at the directory that holds libqjit.so.",
            lib.display(),
            env_text,
            default_dir.display()
        );
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    println!("cargo:rerun-if-changed={}", dir.join("libqjit.so").display());
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=qjit");
    // Tests, examples and binaries of this crate find the library where it was linked from.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    // Dependants' build scripts can read DEP_QJIT_LIB_DIR to add the same run path to their own binaries.
    println!("cargo:lib_dir={}", dir.display());
}
