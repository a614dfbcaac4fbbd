//! Block delta compression (docs/format.md §3): [`LineTable`] → [`EncodedTable`].
//!
//! The encoder knows nothing of DWARF; it only turns entries and names into the arrays every
//! layout shares. Layouts ([`crate::layout`]) decide where the arrays go. It calls only
//! the crate's `leb128`.

use crate::leb128::{write_sleb128, write_uleb128, zigzag};
use crate::table::{Entry, LineTable};
use crate::vocab::{Layout, BLOCK_ENTRIES};

/// The arrays of one encoded table, shared by every layout.
///
/// Invariants: `block_addrs.len() == block_offsets.len() == ceil(num_entries / 64)`;
/// `file_offsets.len()` is the number of files; `filenames` is the names back to back, each
/// NUL-terminated, and `file_offsets[i]` is where name `i` starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncodedTable {
    pub num_entries: u32,
    pub block_addrs: Vec<u32>,
    pub block_offsets: Vec<u32>,
    pub data: Vec<u8>,
    pub file_offsets: Vec<u32>,
    pub filenames: Vec<u8>,
}

impl EncodedTable {
    pub fn num_blocks(&self) -> u32 {
        self.block_addrs.len() as u32
    }
    pub fn num_files(&self) -> u32 {
        self.file_offsets.len() as u32
    }
}

/// Encodes `table` for `layout` (the layouts differ only in how signed deltas are written).
///
/// `table` must hold [`LineTable`]'s invariants (offsets strictly increase, fewer than 65536
/// names without NULs, and all sizes below 4 GiB); the output then holds [`EncodedTable`]'s.
/// Runs in one pass without per-entry allocation.
pub fn encode(table: &LineTable, layout: Layout) -> EncodedTable {
    let blocks = table.entries.chunks(BLOCK_ENTRIES);
    let mut out = EncodedTable {
        num_entries: table.entries.len() as u32,
        block_addrs: Vec::with_capacity(blocks.len()),
        block_offsets: Vec::with_capacity(blocks.len()),
        // About 3.8 bytes per entry on real kernels: one allocation in the common case.
        data: Vec::with_capacity(table.entries.len() * 4),
        ..EncodedTable::default()
    };
    for block in blocks {
        out.block_addrs.push(block[0].offset);
        out.block_offsets.push(out.data.len() as u32);
        write_block(&mut out.data, block, table.files.len() as u32, layout);
    }
    write_names(&mut out, &table.files);
    out
}

/// Appends one block: entry 0 as (file, line), then (address, file, line) deltas.
fn write_block(data: &mut Vec<u8>, block: &[Entry], num_files: u32, layout: Layout) {
    let Some((first, rest)) = block.split_first() else {
        return;
    };
    // A hole is file id `num_files` (docs/format.md §1 rule 7).
    let id = |e: &Entry| match e.is_hole() {
        true => num_files,
        false => e.file,
    };
    write_uleb128(data, id(first));
    write_uleb128(data, first.line);
    let mut prev = first;
    for entry in rest {
        debug_assert!(
            entry.offset > prev.offset,
            "LineTable offsets must strictly increase"
        );
        write_uleb128(data, entry.offset.wrapping_sub(prev.offset));
        write_signed(data, id(entry).wrapping_sub(id(prev)) as i32, layout);
        write_signed(data, entry.line.wrapping_sub(prev.line) as i32, layout);
        prev = entry;
    }
}

/// A signed delta: zig-zag then ULEB128 in v1, SLEB128 in v7.
#[inline]
fn write_signed(data: &mut Vec<u8>, v: i32, layout: Layout) {
    match layout {
        Layout::V1 => write_uleb128(data, zigzag(v)),
        Layout::V7 => write_sleb128(data, v),
    }
}

/// Fills `file_offsets` and `filenames`: the names in id order, each NUL-terminated.
fn write_names(out: &mut EncodedTable, files: &[Vec<u8>]) {
    out.file_offsets.reserve_exact(files.len());
    out.filenames
        .reserve_exact(files.iter().map(|f| f.len() + 1).sum());
    for name in files {
        out.file_offsets.push(out.filenames.len() as u32);
        out.filenames.extend_from_slice(name);
        out.filenames.push(0);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A three-entry table whose bytes are computed by hand in this file and in the layouts'.
    pub(crate) fn small_table() -> LineTable {
        LineTable {
            entries: vec![
                Entry {
                    offset: 0x10,
                    file: 0,
                    line: 5,
                },
                Entry {
                    offset: 0x14,
                    file: 1,
                    line: 3,
                },
                Entry {
                    offset: 0x1a0,
                    file: 0,
                    line: 200,
                },
            ],
            files: vec![b"a.c".to_vec(), b"lib/bb.h".to_vec()],
        }
    }

    /// The v1 stream of [`small_table`].
    pub(crate) const SMALL_DATA_V1: [u8; 10] = [
        0x00, 0x05, //             entry 0: file 0, line 5
        0x04, 0x02, 0x03, //       +4, file +1 (zig-zag 2), line −2 (zig-zag 3)
        0x8c, 0x03, 0x01, 0x8a, 0x03, // +396, file −1 (zz 1), line +197 (zz 394)
    ];

    /// The v7 stream of [`small_table`].
    pub(crate) const SMALL_DATA_V7: [u8; 10] = [
        0x00, 0x05, //             entry 0: file 0, line 5
        0x04, 0x01, 0x7e, //       +4, file +1, line −2
        0x8c, 0x03, 0x7f, 0xc5, 0x01, // +396, file −1, line +197
    ];

    /// "a.c\0lib/bb.h\0".
    pub(crate) const SMALL_NAMES: [u8; 13] = *b"a.c\0lib/bb.h\0";

    #[test]
    fn small_table_v1() {
        let t = encode(&small_table(), Layout::V1);
        assert_eq!(t.num_entries, 3);
        assert_eq!(t.block_addrs, [0x10]);
        assert_eq!(t.block_offsets, [0]);
        assert_eq!(t.data, SMALL_DATA_V1);
        assert_eq!(t.file_offsets, [0, 4]);
        assert_eq!(t.filenames, SMALL_NAMES);
    }

    #[test]
    fn small_table_v7() {
        let t = encode(&small_table(), Layout::V7);
        assert_eq!(t.data, SMALL_DATA_V7);
        assert_eq!(t.block_addrs, [0x10]);
        assert_eq!(t.file_offsets, [0, 4]);
        assert_eq!(t.filenames, SMALL_NAMES);
    }

    #[test]
    fn empty_table() {
        let t = encode(&LineTable::default(), Layout::V7);
        assert_eq!(t, EncodedTable::default());
        assert_eq!(t.num_blocks(), 0);
    }

    /// Entries 0, 64 and 128 start blocks; every block restarts from an absolute (file, line).
    #[test]
    fn blocks_of_64() {
        let entries: Vec<Entry> = (0..130u32)
            .map(|i| Entry {
                offset: 2 * i,
                file: i % 2,
                line: 1000 + i,
            })
            .collect();
        let table = LineTable {
            entries,
            files: vec![b"x".to_vec(), b"y".to_vec()],
        };
        let t = encode(&table, Layout::V7);
        assert_eq!(t.num_blocks(), 3);
        assert_eq!(t.block_addrs, [0, 128, 256]);
        // Block 0: file 0 (1 byte), line 1000 (2 bytes), then 63 × (+2, ±1, +1) at 1 byte each.
        let block0 = 3 + 63 * 3;
        assert_eq!(t.block_offsets, [0, block0, 2 * block0]);
        // Block 1 restarts at entry 64: file 0, line 1064 = 0xa8 0x08.
        let b1 = block0 as usize;
        assert_eq!(&t.data[b1..b1 + 3], [0x00, 0xa8, 0x08]);
        // Block 2 (entries 128, 129): file 0, line 1128 = 0xe8 0x08; +2, file +1, line +1.
        assert_eq!(&t.data[2 * b1..], [0x00, 0xe8, 0x08, 0x02, 0x01, 0x01]);
    }

    /// A hole (docs/format.md §1 rule 7) is file id `num_files` with the line before it, in
    /// either layout, also as a block's first entry; the decoder gives it back and the kernel's
    /// lookup (the decoder's) finds no line there.
    #[test]
    fn holes_are_file_id_num_files() {
        let entry = |offset, file, line| Entry { offset, file, line };
        let hole = Entry::NO_LINE;
        let mut entries = vec![
            entry(0x10, 0, 5),
            entry(0x18, hole, 5),
            entry(0x20, 1, 9),
            entry(0x30, 0, 5),
        ];
        // Entry 64 (a block's first) is a hole too.
        entries.extend((0..60).map(|i| entry(0x40 + 2 * i, 0, 100 + i)));
        entries.push(entry(0x200, hole, 159));
        entries.push(entry(0x210, 0, 7));
        let table = LineTable {
            entries,
            files: vec![b"a.c".to_vec(), b"b.h".to_vec()],
        };
        let v7 = encode(&table, Layout::V7);
        #[rustfmt::skip]
        assert_eq!(&v7.data[..11], [
            0x00, 0x05,       // file 0, line 5
            0x08, 0x02, 0x00, // +8, file +2 (num_files: a hole), line +0
            0x08, 0x7f, 0x04, // +8, file −1, line +4
            0x10, 0x7f, 0x7c, // +16, file −1, line −4
        ]);
        let b1 = v7.block_offsets[1] as usize;
        assert_eq!(&v7.data[b1..b1 + 3], [0x02, 0x9f, 0x01], "file 2, line 159");
        let v1 = encode(&table, Layout::V1);
        #[rustfmt::skip]
        assert_eq!(&v1.data[..8], [
            0x00, 0x05,       // file 0, line 5
            0x08, 0x04, 0x00, // +8, file +2 (zig-zag 4), line +0
            0x08, 0x01, 0x08, // +8, file −1 (zig-zag 1), line +4 (zig-zag 8)
        ]);
        for layout in [Layout::V1, Layout::V7] {
            let bytes = crate::decode::tests::Owned::new(
                encode(&table, layout),
                crate::vocab::Endian::Little,
                layout,
            );
            let view = bytes.view();
            assert_eq!(view.decode_all().unwrap(), table, "{layout:?}");
            for (offset, want) in [
                (0x17, Some(5)),
                (0x18, None),
                (0x1f, None),
                (0x20, Some(9)),
                (0x200, None),
                (0x20f, None),
                (0x210, Some(7)),
            ] {
                assert_eq!(
                    view.lookup(offset).map(|f| f.line),
                    want,
                    "{layout:?} {offset:#x}"
                );
            }
        }
    }

    /// Deltas are 32-bit wrapping differences: a line above `i32::MAX` still encodes.
    #[test]
    fn extreme_deltas() {
        let table = LineTable {
            entries: vec![
                Entry {
                    offset: 0,
                    file: 0,
                    line: 1,
                },
                Entry {
                    offset: u32::MAX,
                    file: 0,
                    line: u32::MAX,
                },
            ],
            files: vec![b"f".to_vec()],
        };
        let t = encode(&table, Layout::V7);
        #[rustfmt::skip]
        let expect = [
            0x00, 0x01,                         // file 0, line 1
            0xff, 0xff, 0xff, 0xff, 0x0f,       // +0xffffffff
            0x00,                               // file +0
            0x7e,                               // line +0xfffffffe = −2 (wrapping)
        ];
        assert_eq!(t.data, expect);
    }
}
