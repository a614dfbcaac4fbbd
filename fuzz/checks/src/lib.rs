//! The bodies of the fuzz targets of `fuzz/fuzz_targets/`, one module per target, each a
//! `check(&[u8])` that panics on a bug. The libFuzzer targets call them under cargo-fuzz
//! (nightly); the `replay` binary calls them on stable with each target's corpus and a
//! deterministic stream of inputs made from it ([`generate`]), so that CI runs every target
//! even where no nightly toolchain exists.

pub mod decode_v1_blob;
pub mod decode_v7_blob;
pub mod elf_rows;
pub mod frames;
pub mod generate;
pub mod packed_symbols;
pub mod roundtrip;
pub mod system_map;
pub mod unpack;

/// A fuzz target: its name (that of its file in `fuzz/fuzz_targets/` and its folder in
/// `fuzz/corpus/`) and its body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub check: fn(&[u8]),
}

/// Every target, in the order `replay` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "decode_v1_blob",
        check: decode_v1_blob::check,
    },
    Target {
        name: "decode_v7_blob",
        check: decode_v7_blob::check,
    },
    Target {
        name: "elf_rows",
        check: elf_rows::check,
    },
    Target {
        name: "frames",
        check: frames::check,
    },
    Target {
        name: "roundtrip",
        check: roundtrip::check,
    },
    Target {
        name: "unpack",
        check: unpack::check,
    },
    Target {
        name: "system_map",
        check: system_map::check,
    },
    Target {
        name: "packed_symbols",
        check: packed_symbols::check,
    },
];
