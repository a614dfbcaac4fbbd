//! Test harness shared by the integration tests: builds fixtures with the
//! system C toolchain, runs the `kbuild-lineinfo` binary, and answers
//! "which file:line is at this address" with external tools only
//! (`llvm-dwarfdump --debug-line`, `llvm-symbolizer`), never with the
//! project's own extraction code, so that the tests are an independent oracle.
//!
//! Each test binary includes this module with `mod common;` and uses a part
//! of it, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports)]

pub mod answer;
pub mod blob;
pub mod build;
pub mod cli;
pub mod dwarfdump;
pub mod elf;
pub mod elfwrite;
pub mod realdata;
pub mod report;
pub mod symbolizer;
pub mod tools;

pub use answer::{check_name_shape, normalize, Answer, Expect, Verdict};
pub use build::{BuildStyle, Cc, Compress, DwarfVersion, Linker, Toolchain, Variant, Workspace};
pub use cli::{Cli, Lookup};
pub use dwarfdump::LineOracle;
pub use report::Report;
