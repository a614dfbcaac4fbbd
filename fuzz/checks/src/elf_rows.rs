//! Arbitrary bytes (mutated real objects: `cc -c -g` objects, `ld -r` merges, small modules,
//! clang DWARF 5 objects and `ld.lld` links with `DW_FORM_addrx`/`strx` units) as an
//! ELF input: `extract::module` and `extract::vmlinux` must return `Ok` or `Err`, never panic,
//! hang or run out of memory; whatever tables come out must encode.

use kbuild_lineinfo::encode::encode;
use kbuild_lineinfo::extract::{self, Effort, Options};
use kbuild_lineinfo::Layout;

pub fn check(data: &[u8]) {
    let options = Options::default();
    if let Ok(Some(module)) = extract::module(data, &options) {
        for section in &module.sections {
            let _ = encode(&section.table, Layout::V7);
        }
    }
    if let Ok(vmlinux) = extract::vmlinux(data, &options, Effort::default()) {
        assert!(vmlinux.text <= vmlinux.etext || vmlinux.table.entries.is_empty());
        let _ = encode(&vmlinux.table, Layout::V1);
    }
}
