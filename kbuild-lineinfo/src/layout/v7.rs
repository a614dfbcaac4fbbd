//! Layout v7 (the series' latest posting, 2026-07-09): vmlinux symbols with the two size symbols
//! (docs/format.md §4.1) and per-section module blobs with relocated anchors (docs/format.md §4.3).
//!
//! Writers take [`EncodedTable`]s encoded with [`Layout::V7`] (SLEB128
//! deltas). A module blob is a root (count, zero), one 16-byte descriptor per covered section
//! with entries, then one self-describing sub-table per descriptor, each header exactly at its
//! `table_offset` and 4-aligned. Anchors are left zero in the bytes; [`ModuleBlob::anchors`]
//! says where the emitter must put relocations. Readers validate every (offset, size) pair as
//! the v7 kernel does.

use crate::bytes::{pad_to_4, put_u32, put_u32s, read_u32, read_u64, slice, u32_bytes};
use crate::decode::{Found, TableView};
use crate::emit::Item;
use crate::encode::EncodedTable;
use crate::vocab::{Endian, Layout};

/// The vmlinux symbols, in `.rodata` order (docs/format.md §4.1, v7).
pub const VMLINUX_SYMBOLS: [&str; 10] = [
    "lineinfo_num_entries",
    "lineinfo_num_files",
    "lineinfo_num_blocks",
    "lineinfo_block_addrs",
    "lineinfo_block_offsets",
    "lineinfo_data_size",
    "lineinfo_data",
    "lineinfo_file_offsets",
    "lineinfo_filenames_size",
    "lineinfo_filenames",
];

/// Bytes of the blob root: u32 num_sections, u32 zero.
pub const ROOT_SIZE: u64 = 8;
/// Bytes of one descriptor: u64 anchor, u32 size, u32 table_offset.
pub const DESCRIPTOR_SIZE: u64 = 16;
/// Bytes of a sub-table header: 11 u32.
pub const HEADER_SIZE: u64 = 44;

/// A section a module blob covers, with its table (offsets relative to the section start).
#[derive(Debug, Clone, Copy)]
pub struct CoveredSection<'a> {
    pub name: &'a str,
    /// The section's `sh_size`.
    pub size: u32,
    pub table: &'a EncodedTable,
}

/// A module blob and the relocations it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBlob {
    pub bytes: Vec<u8>,
    /// One per descriptor, in descriptor order.
    pub anchors: Vec<Anchor>,
}

/// Where an absolute relocation (addend 0) against a covered section's section symbol goes.
///
/// On 64-bit ELF: 8 bytes at the descriptor's start. On 32-bit ELF: 4 bytes, placed so that a
/// native u64 load of the (zeroed) descriptor field reads the value: at the descriptor's start
/// on little-endian targets, 4 bytes further on big-endian ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Byte offset in the blob where the relocation applies.
    pub offset: u64,
    /// 4 or 8.
    pub size: u8,
    /// The covered section whose section symbol the relocation targets.
    pub section: String,
}

/// One descriptor as read from a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// The section's run-time address (0 until the loader relocates it).
    pub anchor: u64,
    pub size: u32,
    /// From the blob start to the sub-table header.
    pub table_offset: u32,
}

/// The vmlinux tables as [`VMLINUX_SYMBOLS`], in order: u32 values and arrays aligned 4, the
/// stream and the names aligned 1.
pub fn vmlinux_items(t: &EncodedTable, endian: Endian) -> Vec<Item> {
    let [entries, files, blocks, addrs, offsets, data_size, data, file_offsets, names_size, names] =
        VMLINUX_SYMBOLS;
    vec![
        Item::u32(entries, t.num_entries, endian),
        Item::u32(files, t.num_files(), endian),
        Item::u32(blocks, t.num_blocks(), endian),
        Item::u32s(addrs, &t.block_addrs, endian),
        Item::u32s(offsets, &t.block_offsets, endian),
        Item::u32(data_size, t.data.len() as u32, endian),
        Item::bytes(data, &t.data),
        Item::u32s(file_offsets, &t.file_offsets, endian),
        Item::u32(names_size, t.filenames.len() as u32, endian),
        Item::bytes(names, &t.filenames),
    ]
}

/// Finds the vmlinux tables through `sym(name)`, which returns the bytes from symbol `name` to
/// the end of its section. `None` if a symbol is missing or an array runs past its section.
pub fn vmlinux_view<'a>(
    sym: impl Fn(&str) -> Option<&'a [u8]>,
    endian: Endian,
) -> Option<TableView<'a>> {
    let [entries, files, blocks, addrs, offsets, data_size, data, file_offsets, names_size, names] =
        VMLINUX_SYMBOLS;
    let count = |name| read_u32(sym(name)?, 0, endian).map(u64::from);
    let (num_entries, num_files, num_blocks) = (count(entries)?, count(files)?, count(blocks)?);
    Some(TableView {
        num_entries: num_entries as u32,
        num_blocks: num_blocks as u32,
        num_files: num_files as u32,
        block_addrs: slice(sym(addrs)?, 0, 4 * num_blocks)?,
        block_offsets: slice(sym(offsets)?, 0, 4 * num_blocks)?,
        data: slice(sym(data)?, 0, count(data_size)?)?,
        file_offsets: slice(sym(file_offsets)?, 0, 4 * num_files)?,
        filenames: slice(sym(names)?, 0, count(names_size)?)?,
        endian,
        layout: Layout::V7,
    })
}

/// A module blob for `sections`, in the order given (which sections, in which order:
/// `layout/sections.rs`'s `v7_sections`). Sections whose table is empty get no descriptor;
/// `None` when none is left, or when the blob would not fit the u32 offsets (4 GiB).
///
/// When every sub-table carries the same names (tables encoded after
/// `table::share_files`), the names are written once, after the last
/// sub-table, and every header points there (docs/format.md §6: no file table repeated per
/// section). Each header's offsets stay positive and within the blob, which is all the kernel
/// checks; with one sub-table the bytes are the same either way.
pub fn module_blob(sections: &[CoveredSection], endian: Endian, is_64: bool) -> Option<ModuleBlob> {
    let covered: Vec<_> = sections
        .iter()
        .filter(|s| s.table.num_entries > 0)
        .collect();
    if covered.is_empty() {
        return None;
    }
    let shared = covered
        .windows(2)
        .all(|w| same_names(w[0].table, w[1].table));
    let mut bytes = Vec::new();
    put_u32(&mut bytes, u32::try_from(covered.len()).ok()?, endian);
    put_u32(&mut bytes, 0, endian);
    // Descriptors are filled in below, once each sub-table's place is known.
    bytes.resize(
        (ROOT_SIZE + DESCRIPTOR_SIZE * covered.len() as u64) as usize,
        0,
    );
    let mut anchors = Vec::with_capacity(covered.len());
    let mut headers = Vec::with_capacity(covered.len());
    for (i, section) in covered.iter().enumerate() {
        pad_to_4(&mut bytes);
        let table_offset = u32::try_from(bytes.len()).ok()?;
        write_sub_table(&mut bytes, section.table, endian, !shared)?;
        headers.push(table_offset);
        let at = (ROOT_SIZE + DESCRIPTOR_SIZE * i as u64) as usize;
        bytes[at + 8..at + 12].copy_from_slice(&u32_bytes(section.size, endian));
        bytes[at + 12..at + 16].copy_from_slice(&u32_bytes(table_offset, endian));
        anchors.push(anchor(at as u64, endian, is_64, section.name));
    }
    if shared {
        pad_to_4(&mut bytes);
        let files_at = u32::try_from(bytes.len()).ok()?;
        let t = covered[0].table;
        put_u32s(&mut bytes, &t.file_offsets, endian);
        bytes.extend_from_slice(&t.filenames);
        let files_size = 4 * t.num_files();
        for header in headers {
            let files_offset = files_at - header;
            let at = header as usize;
            bytes[at + 28..at + 32].copy_from_slice(&u32_bytes(files_offset, endian));
            let names_offset = files_offset.checked_add(files_size)?;
            bytes[at + 36..at + 40].copy_from_slice(&u32_bytes(names_offset, endian));
        }
    }
    u32::try_from(bytes.len()).ok()?;
    Some(ModuleBlob { bytes, anchors })
}

/// Whether two tables carry byte-identical name arrays.
fn same_names(a: &EncodedTable, b: &EncodedTable) -> bool {
    a.file_offsets == b.file_offsets && a.filenames == b.filenames
}

/// The relocation for the descriptor at `at` (see [`Anchor`]).
fn anchor(at: u64, endian: Endian, is_64: bool, section: &str) -> Anchor {
    let (offset, size) = match (is_64, endian) {
        (true, _) => (at, 8),
        (false, Endian::Little) => (at, 4),
        (false, Endian::Big) => (at + 4, 4),
    };
    Anchor {
        offset,
        size,
        section: section.to_owned(),
    }
}

/// The 11 header fields of a sub-table, offsets from the header's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    num_entries: u32,
    num_blocks: u32,
    num_files: u32,
    blocks_offset: u32,
    blocks_size: u32,
    data_offset: u32,
    data_size: u32,
    files_offset: u32,
    files_size: u32,
    filenames_offset: u32,
    filenames_size: u32,
}

impl Header {
    /// The header of `t`'s sub-table: arrays back to back, padding to 4 before the name
    /// offsets. `None` if a size does not fit in u32.
    fn of(t: &EncodedTable) -> Option<Header> {
        let len = |n: usize| u32::try_from(n).ok();
        let blocks_size = len(8 * t.block_addrs.len())?;
        let data_offset = (HEADER_SIZE as u32).checked_add(blocks_size)?;
        let data_size = len(t.data.len())?;
        let files_offset = data_offset
            .checked_add(data_size)?
            .checked_next_multiple_of(4)?;
        let files_size = len(4 * t.file_offsets.len())?;
        let filenames_offset = files_offset.checked_add(files_size)?;
        let filenames_size = len(t.filenames.len())?;
        filenames_offset.checked_add(filenames_size)?;
        Some(Header {
            num_entries: t.num_entries,
            num_blocks: t.num_blocks(),
            num_files: t.num_files(),
            blocks_offset: HEADER_SIZE as u32,
            blocks_size,
            data_offset,
            data_size,
            files_offset,
            files_size,
            filenames_offset,
            filenames_size,
        })
    }

    fn fields(&self) -> [u32; 11] {
        [
            self.num_entries,
            self.num_blocks,
            self.num_files,
            self.blocks_offset,
            self.blocks_size,
            self.data_offset,
            self.data_size,
            self.files_offset,
            self.files_size,
            self.filenames_offset,
            self.filenames_size,
        ]
    }

    /// The header at the start of `bytes`, or `None` if fewer than 44 bytes remain.
    fn read(bytes: &[u8], endian: Endian) -> Option<Header> {
        let f = |i: usize| read_u32(bytes, 4 * i, endian);
        Some(Header {
            num_entries: f(0)?,
            num_blocks: f(1)?,
            num_files: f(2)?,
            blocks_offset: f(3)?,
            blocks_size: f(4)?,
            data_offset: f(5)?,
            data_size: f(6)?,
            files_offset: f(7)?,
            files_size: f(8)?,
            filenames_offset: f(9)?,
            filenames_size: f(10)?,
        })
    }
}

/// Appends one sub-table at `out`'s end (which must be 4-aligned, as the header's offsets
/// assume): header, block arrays, stream, then, with `names`, padding, name offsets, names.
/// Without `names` the caller writes them elsewhere and fixes the header's two name offsets.
fn write_sub_table(out: &mut Vec<u8>, t: &EncodedTable, endian: Endian, names: bool) -> Option<()> {
    let start = out.len();
    let header = Header::of(t)?;
    put_u32s(out, &header.fields(), endian);
    put_u32s(out, &t.block_addrs, endian);
    put_u32s(out, &t.block_offsets, endian);
    out.extend_from_slice(&t.data);
    if names {
        pad_to_4(out);
        debug_assert_eq!(out.len() - start, header.files_offset as usize);
        put_u32s(out, &t.file_offsets, endian);
        out.extend_from_slice(&t.filenames);
    }
    Some(())
}

/// Every descriptor with its sub-table, as the kernel sees them: no descriptors when the root
/// is invalid (too short, zero sections, descriptors past the end); `None` for a sub-table that
/// fails the kernel's checks.
pub fn parse_module_blob(bytes: &[u8], endian: Endian) -> Vec<(Descriptor, Option<TableView<'_>>)> {
    descriptors(bytes, endian)
        .map(|d| (d, sub_table(bytes, d.table_offset, endian)))
        .collect()
}

/// The kernel's module lookup on one blob: the first descriptor with a non-zero anchor whose
/// [anchor, anchor + size) holds `address` decides; its sub-table is searched for
/// `address − anchor` (a section offset, as is [`Found::entry_offset`]).
pub fn lookup(bytes: &[u8], endian: Endian, address: u64) -> Option<Found<'_>> {
    let d = descriptors(bytes, endian).find(|d| {
        d.anchor != 0
            && address
                .checked_sub(d.anchor)
                .is_some_and(|o| o < u64::from(d.size))
    })?;
    sub_table(bytes, d.table_offset, endian)?.lookup((address - d.anchor) as u32)
}

/// The descriptor whose anchor a relocation of `width` bytes at byte `offset` of a blob of
/// `len` bytes with `count` descriptors fills in: a 64-bit relocation covers the whole u64
/// field, a 32-bit one either half ([`Anchor`]). Anywhere else (the root, a size or offset
/// field, a sub-table, past the end) is an error saying where, in overflow-safe arithmetic.
pub fn anchor_descriptor(
    offset: u64,
    width: u64,
    len: usize,
    count: usize,
) -> Result<usize, String> {
    let at = format!("relocation at {offset:#x}");
    if offset.checked_add(width).is_none_or(|end| end > len as u64) {
        return Err(format!("{at} lies past the end of the blob ({len} bytes)"));
    }
    let Some(rel) = offset.checked_sub(ROOT_SIZE) else {
        return Err(format!("{at} lies in the blob root"));
    };
    let index = rel / DESCRIPTOR_SIZE;
    if rel % DESCRIPTOR_SIZE + width > 8 || index >= count as u64 {
        return Err(format!(
            "{at} is not in the anchor of one of the blob's {count} descriptors"
        ));
    }
    Ok(index as usize)
}

/// The descriptors, or none when the root fails the kernel's checks.
fn descriptors(bytes: &[u8], endian: Endian) -> impl Iterator<Item = Descriptor> + '_ {
    let count = read_u32(bytes, 0, endian).unwrap_or(0);
    let end = ROOT_SIZE + DESCRIPTOR_SIZE * u64::from(count);
    let count = if end <= bytes.len() as u64 { count } else { 0 };
    (0..count).filter_map(move |i| {
        let at = (ROOT_SIZE + DESCRIPTOR_SIZE * u64::from(i)) as usize;
        Some(Descriptor {
            anchor: read_u64(bytes, at, endian)?,
            size: read_u32(bytes, at + 8, endian)?,
            table_offset: read_u32(bytes, at + 12, endian)?,
        })
    })
}

/// The sub-table whose header is at `at`, validated as the kernel does: the header fits, the
/// table is not empty, each (offset, size) pair lies within the rest of the blob, the counts
/// fit their arrays, and the names are not empty and end with a NUL.
fn sub_table(bytes: &[u8], at: u32, endian: Endian) -> Option<TableView<'_>> {
    let base = bytes.get(at as usize..)?;
    let h = Header::read(base, endian)?;
    if h.num_entries == 0 || h.num_blocks == 0 {
        return None;
    }
    let pairs = [
        (h.blocks_offset, h.blocks_size),
        (h.data_offset, h.data_size),
        (h.files_offset, h.files_size),
        (h.filenames_offset, h.filenames_size),
    ];
    let avail = base.len() as u64;
    let fits = |(offset, size): (u32, u32)| u64::from(offset) + u64::from(size) <= avail;
    if !pairs.into_iter().all(fits)
        || h.num_blocks > h.blocks_size / 8
        || h.num_files > h.files_size / 4
    {
        return None;
    }
    let filenames = slice(base, h.filenames_offset.into(), h.filenames_size.into())?;
    if filenames.last() != Some(&0) {
        return None;
    }
    let block_bytes = 4 * u64::from(h.num_blocks);
    let blocks_at = u64::from(h.blocks_offset);
    Some(TableView {
        num_entries: h.num_entries,
        num_blocks: h.num_blocks,
        num_files: h.num_files,
        block_addrs: slice(base, blocks_at, block_bytes)?,
        block_offsets: slice(base, blocks_at + block_bytes, block_bytes)?,
        data: slice(base, h.data_offset.into(), h.data_size.into())?,
        file_offsets: slice(base, h.files_offset.into(), 4 * u64::from(h.num_files))?,
        filenames,
        endian,
        layout: Layout::V7,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::{answer, arb_table, check_lookup, expected};
    use crate::encode::encode;
    use crate::encode::tests::{small_table, SMALL_DATA_V7, SMALL_NAMES};
    use crate::layout::tests::{assert_items, link};
    use crate::table::{Entry, LineTable};
    use proptest::prelude::*;

    /// The four sections the series' v7 covers by name, in docs/format.md §4.3 order.
    const COVERED: [&str; 4] = [".text", ".exit.text", ".init.text", ".noinstr.text"];

    /// [`lookup`] by address answers with a section offset below `address` (the anchor that
    /// decides is not 0) and a name without NUL.
    fn check_address_lookup(
        bytes: &[u8],
        endian: Endian,
        address: u64,
    ) -> Result<(), TestCaseError> {
        if let Some(f) = lookup(bytes, endian, address) {
            prop_assert!(u64::from(f.entry_offset) < address);
            prop_assert!(!f.file.contains(&0));
        }
        Ok(())
    }

    fn small() -> EncodedTable {
        encode(&small_table(), Layout::V7)
    }

    fn one_entry() -> EncodedTable {
        let table = LineTable {
            entries: vec![Entry {
                offset: 0,
                file: 0,
                line: 7,
            }],
            files: vec![b"x.c".to_vec()],
        };
        encode(&table, Layout::V7)
    }

    fn sections<'a>(
        text: &'a EncodedTable,
        exit: &'a EncodedTable,
        empty: &'a EncodedTable,
    ) -> [CoveredSection<'a>; 3] {
        [
            CoveredSection {
                name: ".text",
                size: 0x200,
                table: text,
            },
            CoveredSection {
                name: ".exit.text",
                size: 0x20,
                table: exit,
            },
            CoveredSection {
                name: ".noinstr.text",
                size: 0x40,
                table: empty,
            },
        ]
    }

    /// `.text` (the small table), `.exit.text` (one entry), `.noinstr.text` (empty: no
    /// descriptor), little-endian. Offsets in the comments are from the blob start.
    #[rustfmt::skip]
    const BLOB_LE: [u8; 192] = [
        2, 0, 0, 0,  0, 0, 0, 0,            // 0: num_sections 2, zero
        0, 0, 0, 0, 0, 0, 0, 0,             // 8: descriptor 0: anchor (relocated: .text)
        0x00, 0x02, 0, 0,                   // 16:   size 0x200
        40, 0, 0, 0,                        // 20:   table_offset 40
        0, 0, 0, 0, 0, 0, 0, 0,             // 24: descriptor 1: anchor (relocated: .exit.text)
        0x20, 0, 0, 0,                      // 32:   size 0x20
        128, 0, 0, 0,                       // 36:   table_offset 128
        // 40: sub-table 0 header (offsets from 40)
        3, 0, 0, 0,   1, 0, 0, 0,   2, 0, 0, 0,   // num_entries, num_blocks, num_files
        44, 0, 0, 0,  8, 0, 0, 0,                 // blocks_offset, blocks_size
        52, 0, 0, 0,  10, 0, 0, 0,                // data_offset, data_size
        64, 0, 0, 0,  8, 0, 0, 0,                 // files_offset (52 + 10 → 64), files_size
        72, 0, 0, 0,  13, 0, 0, 0,                // filenames_offset, filenames_size
        0x10, 0, 0, 0,                      // 84: block_addrs[0]
        0, 0, 0, 0,                         // 88: block_offsets[0]
        0x00, 0x05, 0x04, 0x01, 0x7e, 0x8c, 0x03, 0x7f, 0xc5, 0x01, // 92: data
        0, 0,                               // 102: padding to 4
        0, 0, 0, 0,  4, 0, 0, 0,            // 104: file_offsets
        b'a', b'.', b'c', 0, b'l', b'i', b'b', b'/', b'b', b'b', b'.', b'h', 0, // 112: names
        0, 0, 0,                            // 125: padding to 4
        // 128: sub-table 1 header
        1, 0, 0, 0,   1, 0, 0, 0,   1, 0, 0, 0,   // num_entries, num_blocks, num_files
        44, 0, 0, 0,  8, 0, 0, 0,                 // blocks_offset, blocks_size
        52, 0, 0, 0,  2, 0, 0, 0,                 // data_offset, data_size
        56, 0, 0, 0,  4, 0, 0, 0,                 // files_offset (52 + 2 → 56), files_size
        60, 0, 0, 0,  4, 0, 0, 0,                 // filenames_offset, filenames_size
        0, 0, 0, 0,                         // 172: block_addrs[0]
        0, 0, 0, 0,                         // 176: block_offsets[0]
        0x00, 0x07,                         // 180: data: file 0, line 7
        0, 0,                               // 182: padding to 4
        0, 0, 0, 0,                         // 184: file_offsets[0]
        b'x', b'.', b'c', 0,                // 188: names
    ];

    #[test]
    fn module_blob_bytes_le() {
        let (text, exit, empty) = (small(), one_entry(), EncodedTable::default());
        let blob = module_blob(&sections(&text, &exit, &empty), Endian::Little, true).unwrap();
        assert_eq!(blob.bytes, BLOB_LE);
        let anchors: Vec<_> = blob
            .anchors
            .iter()
            .map(|a| (a.offset, a.size, &a.section[..]))
            .collect();
        assert_eq!(anchors, [(8, 8, ".text"), (24, 8, ".exit.text")]);
    }

    #[test]
    fn module_blob_bytes_be() {
        let (text, exit, empty) = (small(), one_entry(), EncodedTable::default());
        let blob = module_blob(&sections(&text, &exit, &empty), Endian::Big, false).unwrap();
        #[rustfmt::skip]
        let head: [u8; 40] = [
            0, 0, 0, 2,  0, 0, 0, 0,            // num_sections 2, zero
            0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 2, 0,  0, 0, 0, 40,  // descriptor 0
            0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0, 0x20,  0, 0, 0, 128,  // descriptor 1
        ];
        assert_eq!(blob.bytes[..40], head);
        #[rustfmt::skip]
        let header1: [u8; 44] = [
            0, 0, 0, 1,  0, 0, 0, 1,  0, 0, 0, 1,
            0, 0, 0, 44,  0, 0, 0, 8,
            0, 0, 0, 52,  0, 0, 0, 2,
            0, 0, 0, 56,  0, 0, 0, 4,
            0, 0, 0, 60,  0, 0, 0, 4,
        ];
        assert_eq!(blob.bytes[128..172], header1);
        assert_eq!(blob.bytes[92..102], SMALL_DATA_V7);
        assert_eq!(blob.bytes[104..112], [0, 0, 0, 0, 0, 0, 0, 4]);
        assert_eq!(blob.bytes.len(), 192);
        // 32-bit big-endian: the low half of the u64 anchor is its second word.
        let anchors: Vec<_> = blob.anchors.iter().map(|a| (a.offset, a.size)).collect();
        assert_eq!(anchors, [(12, 4), (28, 4)]);
    }

    #[test]
    fn anchors_on_32_bit_little_endian() {
        let text = small();
        let blob = module_blob(
            &[CoveredSection {
                name: ".text",
                size: 1,
                table: &text,
            }],
            Endian::Little,
            false,
        )
        .unwrap();
        assert_eq!(
            blob.anchors,
            [Anchor {
                offset: 8,
                size: 4,
                section: ".text".into()
            }]
        );
    }

    /// Tables sharing their names: one copy after the last sub-table, every header pointing at
    /// it, and the kernel's checks pass for each sub-table.
    #[test]
    fn shared_names_written_once() {
        let exit = LineTable {
            entries: vec![
                Entry {
                    offset: 0,
                    file: 0,
                    line: 7,
                },
                Entry {
                    offset: 4,
                    file: 1,
                    line: 8,
                },
            ],
            files: vec![b"x.c".to_vec(), b"lib/bb.h".to_vec()],
        };
        let text = small_table();
        let shared = crate::table::share_files(&[&text, &exit]).unwrap();
        let names: Vec<&[u8]> = shared[0].files.iter().map(|f| &f[..]).collect();
        assert_eq!(names, [&b"a.c"[..], b"lib/bb.h", b"x.c"]);
        let encoded: Vec<_> = shared.iter().map(|t| encode(t, Layout::V7)).collect();
        let empty = EncodedTable::default();
        for endian in [Endian::Little, Endian::Big] {
            let blob =
                module_blob(&sections(&encoded[0], &encoded[1], &empty), endian, true).unwrap();
            let names = b"a.c\0lib/bb.h\0x.c\0";
            let count = blob
                .bytes
                .windows(names.len())
                .filter(|w| w == names)
                .count();
            assert_eq!(count, 1, "names once");
            // The names end the blob, right after their offsets (aligned 4).
            let files_at = blob.bytes.len() - names.len() - 12;
            assert_eq!(files_at % 4, 0);
            let parsed = parse_module_blob(&blob.bytes, endian);
            assert_eq!(parsed.len(), 2);
            for ((d, view), table) in parsed.iter().zip(&shared) {
                assert_eq!(d.table_offset % 4, 0);
                let h = Header::read(&blob.bytes[d.table_offset as usize..], endian).unwrap();
                assert_eq!(d.table_offset + h.files_offset, files_at as u32);
                assert_eq!(h.filenames_offset, h.files_offset + 12);
                assert_eq!((h.num_files, h.files_size, h.filenames_size), (3, 12, 17));
                assert!(h.data_offset + h.data_size <= h.files_offset);
                assert_eq!(&view.unwrap().decode_all().unwrap(), table);
            }
            // Sub-table 1 follows sub-table 0's stream directly (no names in between).
            let h0 =
                Header::read(&blob.bytes[parsed[0].0.table_offset as usize..], endian).unwrap();
            let end0 = parsed[0].0.table_offset + h0.data_offset + h0.data_size;
            assert_eq!(parsed[1].0.table_offset, end0.next_multiple_of(4));
        }
    }

    #[test]
    fn no_entries_no_blob() {
        let empty = EncodedTable::default();
        let s = [CoveredSection {
            name: ".text",
            size: 0x10,
            table: &empty,
        }];
        assert_eq!(module_blob(&s, Endian::Little, true), None);
        assert_eq!(module_blob(&[], Endian::Little, true), None);
    }

    #[test]
    fn parse_and_lookup() {
        let parsed = parse_module_blob(&BLOB_LE, Endian::Little);
        let descriptors: Vec<_> = parsed.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            descriptors,
            [
                Descriptor {
                    anchor: 0,
                    size: 0x200,
                    table_offset: 40
                },
                Descriptor {
                    anchor: 0,
                    size: 0x20,
                    table_offset: 128
                },
            ]
        );
        assert_eq!(parsed[0].1.unwrap().decode_all().unwrap(), small_table());
        assert_eq!(
            parsed[1].1.unwrap().lookup(5).map(|f| (f.file, f.line)),
            Some((&b"x.c"[..], 7))
        );

        // Unrelocated anchors (0) never match, as in the kernel.
        assert_eq!(lookup(&BLOB_LE, Endian::Little, 0x14), None);
        let mut blob = BLOB_LE;
        blob[8..16].copy_from_slice(&0xffff_0000_1000_0000u64.to_le_bytes());
        blob[24..32].copy_from_slice(&0xffff_0000_2000_0000u64.to_le_bytes());
        let at = |address| {
            lookup(&blob, Endian::Little, address).map(|f| (f.entry_offset, f.file, f.line))
        };
        assert_eq!(at(0xffff_0000_1000_0015), Some((0x14, &b"lib/bb.h"[..], 3)));
        assert_eq!(at(0xffff_0000_1000_01ff), Some((0x1a0, &b"a.c"[..], 200)));
        assert_eq!(at(0xffff_0000_1000_0200), None, "past .text's size");
        assert_eq!(at(0xffff_0000_1000_000f), None, "below the first entry");
        assert_eq!(at(0xffff_0000_2000_001f), Some((0, &b"x.c"[..], 7)));
    }

    /// Each of the kernel's checks, one corruption at a time.
    #[test]
    fn kernel_validation() {
        let le = |v: u32| v.to_le_bytes();
        let sub0 = |blob: &[u8]| parse_module_blob(blob, Endian::Little)[0].1.is_some();
        let corrupt = |at: usize, v: u32| {
            let mut blob = BLOB_LE;
            blob[at..at + 4].copy_from_slice(&le(v));
            blob
        };
        assert!(sub0(&BLOB_LE));
        assert!(!sub0(&corrupt(20, 41)), "table_offset one byte off");
        assert!(!sub0(&corrupt(20, 190)), "header past the end");
        assert!(!sub0(&corrupt(40, 0)), "no entries");
        assert!(!sub0(&corrupt(44, 0)), "no blocks");
        assert!(!sub0(&corrupt(44, 2)), "2 blocks in blocks_size 8");
        assert!(!sub0(&corrupt(48, 3)), "3 files in files_size 8");
        assert!(!sub0(&corrupt(64, 141)), "data runs past the blob");
        assert!(!sub0(&corrupt(80, 12)), "names without their final NUL");
        assert!(!sub0(&corrupt(80, 0)), "no names");
        assert!(!sub0(&corrupt(76, u32::MAX)), "filenames_offset far away");
        assert!(
            parse_module_blob(&corrupt(0, 0), Endian::Little).is_empty(),
            "zero sections"
        );
        assert!(
            parse_module_blob(&corrupt(0, 12), Endian::Little).is_empty(),
            "descriptors past the end"
        );
        assert!(parse_module_blob(&corrupt(0, u32::MAX), Endian::Little).is_empty());
        assert!(parse_module_blob(&BLOB_LE[..7], Endian::Little).is_empty());
    }

    #[test]
    fn anchor_relocations_fill_only_anchor_fields() {
        // A 2-descriptor blob of 100 bytes: anchors at 8..16 and 24..32.
        let at = |offset, width| anchor_descriptor(offset, width, 100, 2);
        assert_eq!(at(8, 8), Ok(0));
        assert_eq!(at(24, 8), Ok(1));
        assert_eq!(at(8, 4), Ok(0), "32-bit little-endian: the low half");
        assert_eq!(at(28, 4), Ok(1), "32-bit big-endian: the high half");
        let err = |offset, width| anchor_descriptor(offset, width, 100, 2).unwrap_err();
        assert_eq!(err(0, 8), "relocation at 0x0 lies in the blob root");
        assert_eq!(
            err(12, 8),
            "relocation at 0xc is not in the anchor of one of the blob's 2 descriptors"
        );
        assert!(err(16, 4).contains("not in the anchor"), "the size field");
        assert!(
            err(40, 8).contains("not in the anchor"),
            "a third descriptor"
        );
        assert_eq!(
            err(0xffff_ffff_ffff_fff8, 8),
            "relocation at 0xfffffffffffffff8 lies past the end of the blob (100 bytes)"
        );
        assert!(err(u64::MAX, 1).contains("past the end"));
        assert!(err(96, 8).contains("past the end"));
    }

    #[test]
    fn vmlinux_items_bytes() {
        let items = vmlinux_items(&small(), Endian::Big);
        let expect: [(&str, u32, &[u8]); 10] = [
            ("lineinfo_num_entries", 4, &[0, 0, 0, 3]),
            ("lineinfo_num_files", 4, &[0, 0, 0, 2]),
            ("lineinfo_num_blocks", 4, &[0, 0, 0, 1]),
            ("lineinfo_block_addrs", 4, &[0, 0, 0, 0x10]),
            ("lineinfo_block_offsets", 4, &[0, 0, 0, 0]),
            ("lineinfo_data_size", 4, &[0, 0, 0, 10]),
            ("lineinfo_data", 1, &SMALL_DATA_V7),
            ("lineinfo_file_offsets", 4, &[0, 0, 0, 0, 0, 0, 0, 4]),
            ("lineinfo_filenames_size", 4, &[0, 0, 0, 13]),
            ("lineinfo_filenames", 1, &SMALL_NAMES),
        ];
        assert_items(&items, &expect);
    }

    #[test]
    fn vmlinux_view_reads_back() {
        for endian in [Endian::Little, Endian::Big] {
            let (section, at) = link(&vmlinux_items(&small(), endian));
            let view = vmlinux_view(|name| section.get(at(name)?..), endian).unwrap();
            assert_eq!((view.data.len(), view.filenames.len()), (10, 13));
            assert_eq!(view.decode_all().unwrap(), small_table());
        }
        let (section, at) = link(&vmlinux_items(&EncodedTable::default(), Endian::Little));
        let stub = vmlinux_view(|name| section.get(at(name)?..), Endian::Little).unwrap();
        assert_eq!(stub.lookup(0), None, "the empty stub answers nothing");
    }

    fn arb_sections() -> impl Strategy<Value = Vec<LineTable>> {
        prop::collection::vec(
            prop_oneof![1 => Just(LineTable::default()), 3 => arb_table()],
            1..4,
        )
    }

    proptest! {
        #[test]
        fn blob_round_trip(tables in arb_sections(), big: bool, picks in prop::collection::vec(any::<u32>(), 8)) {
            let endian = if big { Endian::Big } else { Endian::Little };
            let encoded: Vec<_> = tables.iter().map(|t| encode(t, Layout::V7)).collect();
            let names = COVERED;
            let sections: Vec<_> = encoded.iter().zip(names).map(|(table, name)| {
                CoveredSection { name, size: 1 << 30, table }
            }).collect();
            let kept: Vec<_> = tables.iter().zip(names).filter(|(t, _)| !t.entries.is_empty()).collect();
            let Some(mut blob) = module_blob(&sections, endian, true) else {
                prop_assert!(kept.is_empty());
                return Ok(());
            };
            let parsed = parse_module_blob(&blob.bytes, endian);
            prop_assert_eq!(parsed.len(), kept.len());
            for (i, ((d, view), (table, name))) in parsed.iter().zip(&kept).enumerate() {
                prop_assert_eq!(d.table_offset % 4, 0);
                prop_assert_eq!(&blob.anchors[i].section, name);
                prop_assert_eq!(view.unwrap().decode_all().unwrap(), (*table).clone());
            }
            // Relocate: section i at (i + 1) GiB · 4.
            for (i, a) in blob.anchors.iter().enumerate() {
                let at = a.offset as usize;
                let value = ((i as u64 + 1) << 32).to_le_bytes();
                let value = if big { ((i as u64 + 1) << 32).to_be_bytes() } else { value };
                blob.bytes[at..at + 8].copy_from_slice(&value);
            }
            for (i, (table, _)) in kept.iter().enumerate() {
                for pick in &picks {
                    let offset = pick % (1 << 30);
                    let address = ((i as u64 + 1) << 32) + u64::from(offset);
                    prop_assert_eq!(answer(lookup(&blob.bytes, endian, address)), expected(table, offset));
                }
            }
        }

        #[test]
        fn shared_blob_round_trip(tables in arb_sections(), big: bool, picks in prop::collection::vec(any::<u32>(), 8)) {
            let endian = if big { Endian::Big } else { Endian::Little };
            let refs: Vec<_> = tables.iter().collect();
            let Ok(shared) = crate::table::share_files(&refs) else { return Ok(()) };
            let encoded: Vec<_> = shared.iter().map(|t| encode(t, Layout::V7)).collect();
            let sections: Vec<_> = encoded.iter().zip(COVERED).map(|(table, name)| {
                CoveredSection { name, size: 1 << 30, table }
            }).collect();
            let kept: Vec<_> = shared.iter().filter(|t| !t.entries.is_empty()).collect();
            let Some(mut blob) = module_blob(&sections, endian, false) else {
                prop_assert!(kept.is_empty());
                return Ok(());
            };
            let parsed = parse_module_blob(&blob.bytes, endian);
            prop_assert_eq!(parsed.len(), kept.len());
            for ((d, view), table) in parsed.iter().zip(&kept) {
                prop_assert_eq!(d.table_offset % 4, 0);
                prop_assert_eq!(view.unwrap().decode_all().unwrap(), (*table).clone());
            }
            for (i, a) in blob.anchors.iter().enumerate() {
                let at = 8 + 16 * i;
                prop_assert_eq!(a.size, 4);
                let value = (i as u64 + 1) << 31;
                let value = if big { value.to_be_bytes() } else { value.to_le_bytes() };
                blob.bytes[at..at + 8].copy_from_slice(&value);
            }
            for (i, table) in kept.iter().enumerate() {
                for pick in &picks {
                    let offset = pick % (1 << 30);
                    let address = ((i as u64 + 1) << 31) + u64::from(offset);
                    prop_assert_eq!(answer(lookup(&blob.bytes, endian, address)), expected(table, offset));
                }
            }
        }

        #[test]
        fn arbitrary_blobs_look_up_at_or_below(bytes in prop::collection::vec(any::<u8>(), 0..300), big: bool, address: u64) {
            let endian = if big { Endian::Big } else { Endian::Little };
            for (_, view) in parse_module_blob(&bytes, endian) {
                if let Some(view) = view {
                    check_lookup(&view, address as u32)?;
                }
            }
            check_address_lookup(&bytes, endian, address)?;
        }

        #[test]
        fn corrupted_blobs_look_up_at_or_below(
            tables in arb_sections(),
            flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            addresses in prop::collection::vec(any::<u32>(), 8),
        ) {
            let encoded: Vec<_> = tables.iter().map(|t| encode(t, Layout::V7)).collect();
            let sections: Vec<_> = encoded.iter().zip(COVERED).map(|(table, name)| {
                CoveredSection { name, size: u32::MAX, table }
            }).collect();
            let Some(mut blob) = module_blob(&sections, Endian::Little, true) else { return Ok(()) };
            for (i, a) in blob.anchors.iter().enumerate() {
                let at = a.offset as usize;
                blob.bytes[at..at + 8].copy_from_slice(&((i as u64 + 1) << 32).to_le_bytes());
            }
            let len = blob.bytes.len();
            for (at, byte) in flips {
                blob.bytes[at % len] ^= byte;
            }
            for (_, view) in parse_module_blob(&blob.bytes, Endian::Little) {
                if let Some(view) = view {
                    for &offset in &addresses {
                        check_lookup(&view, offset)?;
                    }
                }
            }
            for address in addresses {
                check_address_lookup(&blob.bytes, Endian::Little, (1u64 << 32) + u64::from(address))?;
            }
        }
    }
}
