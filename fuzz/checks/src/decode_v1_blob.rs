//! Arbitrary bytes as a v1 `.mod_lineinfo` blob: parsing and lookups must never panic, and a
//! lookup's answer must lie at or below the looked-up offset.

use kbuild_lineinfo::layout::v1;
use kbuild_lineinfo::Endian;

pub fn check(data: &[u8]) {
    for endian in [Endian::Little, Endian::Big] {
        let Some(view) = v1::parse_module_blob(data, endian) else {
            continue;
        };
        // Offsets from the blob's own tail, so that block addresses get hit.
        let tail = data.len().saturating_sub(4);
        let probe = u32::from_le_bytes(data[tail..].try_into().unwrap_or([0; 4]));
        for offset in [0, 1, probe, probe.wrapping_add(1), u32::MAX] {
            if let Some(found) = view.lookup(offset) {
                assert!(found.entry_offset <= offset);
            }
        }
        let _ = view.decode_all();
    }
}
