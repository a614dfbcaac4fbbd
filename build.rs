//! Build script of the CLI package: only for its tests. The oracle suites build their fixtures
//! with clang and ld.lld as well as gcc and GNU ld; where either LLVM tool is missing, the tests
//! that need them are `#[ignore]`d (`cfg(no_clang)`), with the reason in the test summary.

use std::path::Path;

fn main() {
    println!("cargo:rustc-check-cfg=cfg(no_clang)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PATH");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path).collect();
    // Installing the tools changes a directory of PATH: look again then.
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let found = |tool: &str| dirs.iter().any(|d| Path::new(d).join(tool).is_file());
    if !(found("clang") && found("ld.lld")) {
        println!("cargo:rustc-cfg=no_clang");
    }
}
