//! Test harness shared by the integration tests: builds fixtures with the
//! system C toolchain, runs the `kbuild-lineinfo` binary, and answers
//! "which file:line is at this address" with external tools only
//! (`llvm-dwarfdump --debug-line`, `llvm-symbolizer`), never with the
//! project's own extraction code, so that the tests are an independent oracle.
//!
//! The test binary (`tests/tests.rs`) declares this module once; each test file uses a part of
//! it (`use crate::common;`), and not every part is used, hence the `dead_code` allowance.
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
pub mod textmem;
pub mod tools;
pub mod v7blob;
pub mod vmtable;

pub use answer::{check_name_shape, normalize, Answer, Expect, Verdict};
pub use build::{BuildStyle, Cc, Compress, DwarfVersion, Linker, Toolchain, Variant, Workspace};
pub use cli::{Cli, Lookup};
pub use dwarfdump::LineOracle;
pub use report::Report;

/// The eight compiler × DWARF version × split cells of a fixture matrix, one `#[test]` each,
/// calling `check_matrix(Cc, DwarfVersion, split)` of the test file that expands it. Ignored, with
/// the reason, where clang or `ld.lld` is missing (`build.rs` sets `no_clang`).
#[macro_export]
macro_rules! matrix_tests {
    () => {
        $crate::matrix_tests! {
            matrix_gcc_dwarf4: Gcc, V4, false;
            matrix_gcc_dwarf4_split: Gcc, V4, true;
            matrix_gcc_dwarf5: Gcc, V5, false;
            matrix_gcc_dwarf5_split: Gcc, V5, true;
            matrix_clang_dwarf4: Clang, V4, false;
            matrix_clang_dwarf4_split: Clang, V4, true;
            matrix_clang_dwarf5: Clang, V5, false;
            matrix_clang_dwarf5_split: Clang, V5, true;
        }
    };
    ($($name:ident: $cc:ident, $dwarf:ident, $split:literal;)*) => {$(
        #[test]
        #[cfg_attr(no_clang, ignore = "needs clang and ld.lld: scripts/deps.sh installs them")]
        fn $name() {
            check_matrix(Cc::$cc, DwarfVersion::$dwarf, $split);
        }
    )*};
}
