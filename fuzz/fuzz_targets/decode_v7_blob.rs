//! Arbitrary bytes as a v7 `.mod_lineinfo` blob: parsing, every sub-table and the descriptor
//! lookup must never panic.
#![no_main]

use kbuild_lineinfo::layout::v7;
use kbuild_lineinfo::Endian;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
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
});
