//! Layout v1 (the series' first posting, 2026-03-03): vmlinux symbols (docs/format.md §4.1) and the
//! `.text`-only module blob `.mod_lineinfo` (docs/format.md §4.2).
//!
//! Writers take an [`EncodedTable`] (encoded with [`Layout::V1`], zig-zag
//! deltas); readers find the arrays again and return a [`TableView`], validating sizes as the
//! v1 kernel does (with checked arithmetic where the kernel's u32 sums could wrap).

use crate::bytes::{put_u32s, read_u32, slice};
use crate::decode::TableView;
use crate::emit::Item;
use crate::encode::EncodedTable;
use crate::vocab::{Endian, Layout};

/// The vmlinux symbols, in `.rodata` order (docs/format.md §4.1).
pub const VMLINUX_SYMBOLS: [&str; 8] = [
    "lineinfo_num_entries",
    "lineinfo_num_files",
    "lineinfo_num_blocks",
    "lineinfo_block_addrs",
    "lineinfo_block_offsets",
    "lineinfo_data",
    "lineinfo_file_offsets",
    "lineinfo_filenames",
];

/// The module blob's section.
pub const MODULE_SECTION: &str = ".mod_lineinfo";

/// Bytes of the module blob's header: six u32.
pub const MODULE_HEADER_SIZE: u64 = 24;

/// The vmlinux tables as [`VMLINUX_SYMBOLS`], in order: u32 values and arrays aligned 4, the
/// stream and the names aligned 1.
pub fn vmlinux_items(t: &EncodedTable, endian: Endian) -> Vec<Item> {
    let [entries, files, blocks, addrs, offsets, data, file_offsets, names] = VMLINUX_SYMBOLS;
    vec![
        Item::u32(entries, t.num_entries, endian),
        Item::u32(files, t.num_files(), endian),
        Item::u32(blocks, t.num_blocks(), endian),
        Item::u32s(addrs, &t.block_addrs, endian),
        Item::u32s(offsets, &t.block_offsets, endian),
        Item::bytes(data, &t.data),
        Item::u32s(file_offsets, &t.file_offsets, endian),
        Item::bytes(names, &t.filenames),
    ]
}

/// The `.mod_lineinfo` blob (docs/format.md §4.2): header, block arrays, stream, then the name
/// offsets directly after the stream (no padding: the v1 kernel computes that position), then
/// the names. An empty table still gives a blob; callers emit no section for it.
pub fn module_blob(t: &EncodedTable, endian: Endian) -> Vec<u8> {
    let size = MODULE_HEADER_SIZE as usize
        + 8 * t.block_addrs.len()
        + t.data.len()
        + 4 * t.file_offsets.len()
        + t.filenames.len();
    let mut out = Vec::with_capacity(size);
    let header = [
        t.num_entries,
        t.num_files(),
        t.filenames.len() as u32,
        t.num_blocks(),
        t.data.len() as u32,
        0, // reserved
    ];
    put_u32s(&mut out, &header, endian);
    put_u32s(&mut out, &t.block_addrs, endian);
    put_u32s(&mut out, &t.block_offsets, endian);
    out.extend_from_slice(&t.data);
    put_u32s(&mut out, &t.file_offsets, endian);
    out.extend_from_slice(&t.filenames);
    out
}

/// Finds the vmlinux tables through `sym(name)`, which returns the bytes from symbol `name` to
/// the end of its section. `None` if a symbol is missing or an array runs past its section.
///
/// v1 has no size for the stream: it is taken to end where `lineinfo_file_offsets` starts
/// (both slices run to the same section end), so it may include up to 3 bytes of alignment
/// padding, which a lookup never reaches. The names run to the end of the section.
pub fn vmlinux_view<'a>(
    sym: impl Fn(&str) -> Option<&'a [u8]>,
    endian: Endian,
) -> Option<TableView<'a>> {
    let [entries, files, blocks, addrs, offsets, data, file_offsets, names] = VMLINUX_SYMBOLS;
    let count = |name| read_u32(sym(name)?, 0, endian);
    let (num_entries, num_files, num_blocks) = (count(entries)?, count(files)?, count(blocks)?);
    let data = sym(data)?;
    let file_offsets = sym(file_offsets)?;
    let data_len = data
        .len()
        .checked_sub(file_offsets.len())
        .unwrap_or(data.len());
    Some(TableView {
        num_entries,
        num_blocks,
        num_files,
        block_addrs: slice(sym(addrs)?, 0, 4 * u64::from(num_blocks))?,
        block_offsets: slice(sym(offsets)?, 0, 4 * u64::from(num_blocks))?,
        data: data.get(..data_len)?,
        file_offsets: slice(file_offsets, 0, 4 * u64::from(num_files))?,
        filenames: sym(names)?,
        endian,
        layout: Layout::V1,
    })
}

/// Reads a `.mod_lineinfo` blob as the v1 kernel does: `None` for an empty table (no entries
/// or no blocks) or when the arrays the header describes do not fit in `bytes`.
pub fn parse_module_blob(bytes: &[u8], endian: Endian) -> Option<TableView<'_>> {
    let field = |i: usize| read_u32(bytes, 4 * i, endian);
    let (num_entries, num_files, names_size) = (field(0)?, field(1)?, field(2)?);
    let (num_blocks, data_size) = (field(3)?, field(4)?);
    if num_entries == 0 || num_blocks == 0 {
        return None;
    }
    // u64 sums of u32 values cannot wrap.
    let block_bytes = 4 * u64::from(num_blocks);
    let data_at = MODULE_HEADER_SIZE + 2 * block_bytes;
    let files_at = data_at + u64::from(data_size);
    let names_at = files_at + 4 * u64::from(num_files);
    Some(TableView {
        num_entries,
        num_blocks,
        num_files,
        block_addrs: slice(bytes, MODULE_HEADER_SIZE, block_bytes)?,
        block_offsets: slice(bytes, MODULE_HEADER_SIZE + block_bytes, block_bytes)?,
        data: slice(bytes, data_at, u64::from(data_size))?,
        file_offsets: slice(bytes, files_at, 4 * u64::from(num_files))?,
        filenames: slice(bytes, names_at, u64::from(names_size))?,
        endian,
        layout: Layout::V1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::{answer, arb_table, check_lookup, expected};
    use crate::encode::encode;
    use crate::encode::tests::{small_table, SMALL_DATA_V1, SMALL_NAMES};
    use crate::layout::tests::{assert_items, link};
    use proptest::prelude::*;

    fn small() -> EncodedTable {
        encode(&small_table(), Layout::V1)
    }

    #[rustfmt::skip]
    const SMALL_BLOB_LE: [u8; 63] = [
        3, 0, 0, 0,     // 0: num_entries
        2, 0, 0, 0,     // 4: num_files
        13, 0, 0, 0,    // 8: filenames_size ("a.c\0lib/bb.h\0")
        1, 0, 0, 0,     // 12: num_blocks
        10, 0, 0, 0,    // 16: data_size
        0, 0, 0, 0,     // 20: reserved
        0x10, 0, 0, 0,  // 24: block_addrs[0]
        0, 0, 0, 0,     // 28: block_offsets[0]
        0x00, 0x05, 0x04, 0x02, 0x03, 0x8c, 0x03, 0x01, 0x8a, 0x03, // 32: data
        0, 0, 0, 0,     // 42: file_offsets[0], unaligned, right after the data
        4, 0, 0, 0,     // 46: file_offsets[1]
        b'a', b'.', b'c', 0, b'l', b'i', b'b', b'/', b'b', b'b', b'.', b'h', 0, // 50: names
    ];

    #[rustfmt::skip]
    const SMALL_BLOB_BE: [u8; 63] = [
        0, 0, 0, 3,     // 0: num_entries
        0, 0, 0, 2,     // 4: num_files
        0, 0, 0, 13,    // 8: filenames_size
        0, 0, 0, 1,     // 12: num_blocks
        0, 0, 0, 10,    // 16: data_size
        0, 0, 0, 0,     // 20: reserved
        0, 0, 0, 0x10,  // 24: block_addrs[0]
        0, 0, 0, 0,     // 28: block_offsets[0]
        0x00, 0x05, 0x04, 0x02, 0x03, 0x8c, 0x03, 0x01, 0x8a, 0x03, // 32: data
        0, 0, 0, 0,     // 42: file_offsets[0]
        0, 0, 0, 4,     // 46: file_offsets[1]
        b'a', b'.', b'c', 0, b'l', b'i', b'b', b'/', b'b', b'b', b'.', b'h', 0, // 50: names
    ];

    #[test]
    fn module_blob_bytes() {
        assert_eq!(module_blob(&small(), Endian::Little), SMALL_BLOB_LE);
        assert_eq!(module_blob(&small(), Endian::Big), SMALL_BLOB_BE);
    }

    #[test]
    fn module_blob_reads_back() {
        for (bytes, endian) in [
            (&SMALL_BLOB_LE, Endian::Little),
            (&SMALL_BLOB_BE, Endian::Big),
        ] {
            let view = parse_module_blob(bytes, endian).unwrap();
            assert_eq!(view.decode_all().unwrap(), small_table());
            assert_eq!(
                view.lookup(0x15).map(|f| (f.file, f.line)),
                Some((&b"lib/bb.h"[..], 3))
            );
            assert_eq!(
                parse_module_blob(&bytes[..62], endian),
                None,
                "one name byte short"
            );
        }
    }

    #[test]
    fn module_blob_rejects_empty_and_short() {
        let empty = module_blob(&EncodedTable::default(), Endian::Little);
        assert_eq!(empty, [0; 24]);
        assert_eq!(parse_module_blob(&empty, Endian::Little), None);
        assert_eq!(
            parse_module_blob(&SMALL_BLOB_LE[..20], Endian::Little),
            None
        );
        let mut huge = SMALL_BLOB_LE;
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes()); // data_size
        assert_eq!(parse_module_blob(&huge, Endian::Little), None);
    }

    #[test]
    fn vmlinux_items_bytes() {
        let items = vmlinux_items(&small(), Endian::Little);
        let expect: [(&str, u32, &[u8]); 8] = [
            ("lineinfo_num_entries", 4, &[3, 0, 0, 0]),
            ("lineinfo_num_files", 4, &[2, 0, 0, 0]),
            ("lineinfo_num_blocks", 4, &[1, 0, 0, 0]),
            ("lineinfo_block_addrs", 4, &[0x10, 0, 0, 0]),
            ("lineinfo_block_offsets", 4, &[0, 0, 0, 0]),
            ("lineinfo_data", 1, &SMALL_DATA_V1),
            ("lineinfo_file_offsets", 4, &[0, 0, 0, 0, 4, 0, 0, 0]),
            ("lineinfo_filenames", 1, &SMALL_NAMES),
        ];
        assert_items(&items, &expect);
        let big = vmlinux_items(&small(), Endian::Big);
        assert_eq!(big[3].bytes, [0, 0, 0, 0x10]);
        assert_eq!(big[6].bytes, [0, 0, 0, 0, 0, 0, 0, 4]);
    }

    #[test]
    fn vmlinux_view_reads_back() {
        for endian in [Endian::Little, Endian::Big] {
            let (section, at) = link(&vmlinux_items(&small(), endian));
            let view = vmlinux_view(|name| section.get(at(name)?..), endian).unwrap();
            // The stream's end is found from lineinfo_file_offsets: 10 bytes + 2 of padding.
            assert_eq!(view.data.len(), 12);
            assert_eq!(view.decode_all().unwrap(), small_table());
            assert_eq!(
                vmlinux_view(
                    |name| section.get(at(name)?..).filter(|_| name != "lineinfo_data"),
                    endian
                ),
                None
            );
        }
    }

    proptest! {
        #[test]
        fn blob_round_trip(table in arb_table(), big: bool, picks in prop::collection::vec(any::<u32>(), 8)) {
            let endian = if big { Endian::Big } else { Endian::Little };
            let blob = module_blob(&encode(&table, Layout::V1), endian);
            let Some(view) = parse_module_blob(&blob, endian) else {
                prop_assert!(table.entries.is_empty());
                return Ok(());
            };
            prop_assert_eq!(view.decode_all().unwrap(), table.clone());
            for pick in picks {
                prop_assert_eq!(answer(view.lookup(pick)), expected(&table, pick));
            }
        }

        #[test]
        fn vmlinux_round_trip(table in arb_table(), big: bool) {
            let endian = if big { Endian::Big } else { Endian::Little };
            let (section, at) = link(&vmlinux_items(&encode(&table, Layout::V1), endian));
            let view = vmlinux_view(|name| section.get(at(name)?..), endian).unwrap();
            prop_assert_eq!(view.decode_all().unwrap(), table);
        }

        #[test]
        fn arbitrary_blobs_look_up_at_or_below(bytes in prop::collection::vec(any::<u8>(), 0..200), big: bool, offset: u32) {
            let endian = if big { Endian::Big } else { Endian::Little };
            if let Some(view) = parse_module_blob(&bytes, endian) {
                check_lookup(&view, offset)?;
            }
        }

        #[test]
        fn corrupted_blobs_look_up_at_or_below(
            table in arb_table(),
            flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            offsets in prop::collection::vec(any::<u32>(), 8),
        ) {
            let mut blob = module_blob(&encode(&table, Layout::V1), Endian::Little);
            let len = blob.len();
            for (at, byte) in flips {
                blob[at % len] ^= byte;
            }
            if let Some(view) = parse_module_blob(&blob, Endian::Little) {
                for offset in offsets {
                    check_lookup(&view, offset)?;
                }
            }
        }
    }
}
