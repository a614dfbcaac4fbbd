//! Arbitrary bytes as a v7 `.mod_lineinfo` blob, and as a module carrying blobs: parsing, every
//! sub-table, the descriptor lookup and the module reader (which applies the anchor
//! relocations of `.rela.mod_lineinfo`) must never panic.
//!
//! Seeds (`corpus/decode_v7_blob/`): a small module the tool embedded with `--layout v7`, and
//! the same module with its anchor relocation's `r_offset` patched to 0xfffffffffffffff8 (it
//! panicked on overflow in `lookup --module`).

use kbuild_lineinfo::embedded::ModuleTables;
use kbuild_lineinfo::input::Input;
use kbuild_lineinfo::layout::v7;
use kbuild_lineinfo::{Endian, Layout};

pub fn check(data: &[u8]) {
    for endian in [Endian::Little, Endian::Big] {
        for (descriptor, view) in v7::parse_module_blob(data, endian) {
            let Some(view) = view else { continue };
            for offset in [0, 1, descriptor.size.wrapping_sub(1), u32::MAX] {
                if let Some(found) = view.lookup(offset) {
                    assert!(found.entry_offset <= offset);
                }
            }
            let _ = view.decode_all();
            let address = descriptor
                .anchor
                .wrapping_add(u64::from(descriptor.size / 2));
            let _ = v7::lookup(data, endian, address);
        }
    }
    module(data);
}

/// `data` as a module: its tables, looked up at a few offsets of every code section (a v7
/// answer's entry offset is in section terms, a v1 one's in text memory).
fn module(data: &[u8]) {
    let Ok(input) = Input::parse(data) else {
        return;
    };
    let Ok(Some(tables)) = ModuleTables::read(&input, Default::default()) else {
        return;
    };
    for section in input.code_sections() {
        for offset in [
            0,
            1,
            section.size / 2,
            section.size.saturating_sub(1),
            u64::MAX,
        ] {
            for guard in [0, offset, u64::MAX] {
                let found = tables.lookup(section.index, offset, guard);
                if let (Some(found), Layout::V7) = (found, tables.layout()) {
                    assert!(u64::from(found.entry_offset) <= offset);
                }
            }
        }
    }
}
