//! The one integration test binary of the CLI package, as ripgrep has it: each file of `tests/`
//! is a module here, so that the shared harness (`common/`) is compiled, and its self-tests run,
//! once. Run one file's tests with `cargo test --test tests annotate::`.

// Files of the CLI compiled in directly (`#[path]`), once each: `embed.rs` drives the module
// embedding of `src/modules/embed.rs`, which maps files through `crate::mmap`.
#[path = "../src/mmap.rs"]
#[allow(dead_code)]
mod mmap;

#[macro_use]
mod common;
mod v7_oracle;

mod annotate;
mod annotate_anything;
mod bad_input;
mod batch;
mod batch_paths;
mod cache;
mod classic;
mod concurrent;
mod embed;
mod generate;
mod jobs;
mod kbuild_install;
mod lookup;
mod module_oracle;
mod oracle_selftest;
mod readme;
mod real_modules;
mod real_modules_v7;
mod real_v1_placement;
mod real_vmlinux;
mod rust_fixtures;
mod synth;
mod v1_placement;
mod v7_modules;
mod vmlinux_jobs;
mod vmlinux_oracle;
mod voice;
