//! Arbitrary entries → encode → decode gives them back, in both layouts, and every entry's
//! offset looks up to itself.

use kbuild_lineinfo::encode::encode;
use kbuild_lineinfo::layout::{v1, v7};
use kbuild_lineinfo::{Endian, Entry, Layout, LineTable};

/// Six bytes per entry: u16 offset delta (+1), u8 file, u24 line; offsets stop at u32::MAX. A
/// file byte of `num_files` modulo `num_files + 1` makes a hole (docs/format.md §1 rule 7) where
/// one may be: not first, not after a hole.
fn table(data: &[u8]) -> LineTable {
    let num_files = usize::from(data.first().copied().unwrap_or(0) % 8) + 1;
    let mut entries: Vec<Entry> = Vec::new();
    for chunk in data.get(1..).unwrap_or_default().chunks_exact(6) {
        let delta = u32::from(u16::from_le_bytes([chunk[0], chunk[1]])) + 1;
        let offset = match entries.last() {
            Some(prev) => match prev.offset.checked_add(delta) {
                Some(offset) => offset,
                None => break,
            },
            None => delta - 1,
        };
        let line = u32::from_le_bytes([chunk[3], chunk[4], chunk[5], 0]);
        let entry = match entries.last() {
            Some(prev)
                if usize::from(chunk[2]) % (num_files + 1) == num_files && !prev.is_hole() =>
            {
                Entry {
                    offset,
                    file: Entry::NO_LINE,
                    line: prev.line,
                }
            }
            _ => Entry {
                offset,
                file: u32::from(chunk[2]) % num_files as u32,
                line,
            },
        };
        entries.push(entry);
    }
    let files = (0..num_files)
        .map(|i| format!("dir/f{i}.c").into_bytes())
        .collect();
    LineTable { entries, files }
}

/// Encodes `table` into a big-endian module blob of `layout` (so that a byte-order slip shows),
/// reads it back and checks every entry.
fn check_layout(table: &LineTable, layout: Layout) {
    let encoded = encode(table, layout);
    let blob = match layout {
        Layout::V1 => v1::module_blob(&encoded, Endian::Big),
        Layout::V7 => {
            let text = v7::CoveredSection {
                name: ".text",
                size: u32::MAX,
                table: &encoded,
            };
            let Some(blob) = v7::module_blob(&[text], Endian::Big, true) else {
                assert!(table.entries.is_empty());
                return;
            };
            blob.bytes
        }
    };
    let view = match layout {
        Layout::V1 => v1::parse_module_blob(&blob, Endian::Big),
        Layout::V7 => v7::parse_module_blob(&blob, Endian::Big)
            .first()
            .and_then(|d| d.1),
    };
    let Some(view) = view else {
        assert!(table.entries.is_empty());
        return;
    };
    assert_eq!(view.decode_all().unwrap(), *table);
    for e in &table.entries {
        if e.is_hole() {
            assert_eq!(view.lookup(e.offset), None);
            assert_eq!(view.hole_at(e.offset), Some(e.offset));
            continue;
        }
        let found = view.lookup(e.offset).unwrap();
        assert_eq!(
            (found.entry_offset, found.file_id, found.line),
            (e.offset, e.file, e.line)
        );
    }
}

pub fn check(data: &[u8]) {
    let table = table(data);
    check_layout(&table, Layout::V1);
    check_layout(&table, Layout::V7);
}
