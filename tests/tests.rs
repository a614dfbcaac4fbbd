//! The one integration test binary of the CLI package, as ripgrep has it: each file of `tests/`
//! is a module here, so that the shared harness (`common/`) is compiled, and its self-tests run,
//! once. Run one file's tests with `cargo test --test tests annotate::`.

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
mod subsection;
mod synth;
mod v1_placement;
mod v7_modules;
mod vmlinux_jobs;
mod vmlinux_oracle;
mod vmlinuz;
mod voice;
