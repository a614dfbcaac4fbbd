//! The kernel's lookup (docs/format.md §3 and §5), on borrowed bytes.
//!
//! A [`TableView`] is the kernel's `struct lineinfo_table`: counts and the arrays of one table,
//! found by a layout reader ([`crate::layout::v1`], [`crate::layout::v7`]) or built by hand.
//! [`TableView::lookup`] follows the kernel's `lineinfo_search` step by step, including its
//! unsigned wrapping arithmetic, so that on well-formed bytes it answers exactly what a booted
//! kernel prints. Malformed bytes make a lookup miss, never panic or read out of bounds; every
//! read goes through `get` or checked arithmetic. Where the kernel would carry on with a
//! half-read number (a LEB128 value cut short or longer than 5 bytes) we miss instead; on bytes
//! we wrote the two never differ. [`TableView::decode_all`] turns a table back into a
//! [`LineTable`] for round-trip tests, with errors that say where the bytes went wrong.

use crate::bytes::read_u32;
use crate::error::{Error, ErrorKind, Result};
use crate::leb128::{read_sleb128, read_uleb128, unzigzag};
use crate::table::{Entry, LineTable};
use crate::vocab::{Endian, Layout, BLOCK_ENTRIES};

/// The arrays of one table, borrowed from wherever they live.
///
/// Nothing here is trusted: the counts may disagree with the slices, the slices may be short.
/// `data` is the stream up to the kernel's `data_size` (the end of the last block), `filenames`
/// the names up to its `filenames_size` (or to the end of the section where the layout has no
/// size). Integers in the slices are in `endian` order; `layout` says how signed deltas are
/// written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableView<'a> {
    pub num_entries: u32,
    pub num_blocks: u32,
    pub num_files: u32,
    /// `num_blocks` u32: the offset of each block's first entry.
    pub block_addrs: &'a [u8],
    /// `num_blocks` u32: where each block starts in `data`.
    pub block_offsets: &'a [u8],
    pub data: &'a [u8],
    /// `num_files` u32: where each name starts in `filenames`.
    pub file_offsets: &'a [u8],
    pub filenames: &'a [u8],
    pub endian: Endian,
    pub layout: Layout,
}

/// The answer of a lookup: the entry in effect at the looked-up offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    /// The entry's own offset (<= the looked-up offset).
    pub entry_offset: u32,
    pub file_id: u32,
    /// The file name, without its NUL.
    pub file: &'a [u8],
    pub line: u32,
}

impl<'a> TableView<'a> {
    /// The kernel's `lineinfo_search`: the last entry whose offset is <= `offset`, with its
    /// file name. `None` when no entry qualifies or the bytes are malformed.
    pub fn lookup(&self, offset: u32) -> Option<Found<'a>> {
        let entry = self.entry_at(offset)?;
        let file = self.file_name(entry.file)?;
        Some(Found {
            entry_offset: entry.offset,
            file_id: entry.file,
            file,
            line: entry.line,
        })
    }

    /// The offset of the entry in effect at `offset` when it is a hole (docs/format.md §1 rule 7:
    /// file id `num_files`, DWARF has no line from there on), where [`lookup`](Self::lookup)
    /// finds nothing.
    pub fn hole_at(&self, offset: u32) -> Option<u32> {
        let entry = self.entry_at(offset)?;
        (entry.file == self.num_files).then_some(entry.offset)
    }

    /// The last entry whose offset is <= `offset`, its file id unchecked.
    fn entry_at(&self, offset: u32) -> Option<Entry> {
        if self.num_entries == 0 || self.num_blocks == 0 {
            return None;
        }
        self.search_block(self.find_block(offset)?, offset)
    }

    /// [`lookup`](Self::lookup) plus the kernel's symbol-start guard (docs/format.md §5): an entry
    /// below `symbol_start` belongs to an earlier symbol and is rejected.
    pub fn lookup_guarded(&self, offset: u32, symbol_start: u32) -> Option<Found<'a>> {
        self.lookup(offset)
            .filter(|f| f.entry_offset >= symbol_start)
    }

    /// Every entry and name, checked against [`LineTable`]'s invariants: block `b` starts at
    /// entry 64·b and at `block_addrs[b]`, offsets strictly increase, file ids are below
    /// `num_files` or a hole's `num_files` ([`Entry::NO_LINE`]), names are NUL-terminated. Errors
    /// name the block, entry and data position.
    pub fn decode_all(&self) -> Result<LineTable> {
        self.check_counts()?;
        // Bounded by the stream length (an entry takes at least 2 bytes), never by a count.
        let mut entries = Vec::with_capacity((self.num_entries as usize).min(self.data.len()));
        for block in 0..self.num_blocks {
            self.decode_block(block, &mut entries)?;
        }
        let files = (0..self.num_files)
            .map(|id| {
                self.file_name(id).map(<[u8]>::to_vec).ok_or_else(|| {
                    invalid(format!("file {id}: name offset out of bounds or no NUL"))
                })
            })
            .collect::<Result<_>>()?;
        Ok(LineTable { entries, files })
    }

    /// Binary search for the last block whose first offset is <= `offset`.
    fn find_block(&self, offset: u32) -> Option<u32> {
        let (mut low, mut high) = (0, self.num_blocks);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.block_addr(mid)? <= offset {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low.checked_sub(1)
    }

    /// Decodes `block` up to the first entry above `offset`; the last one at or below it.
    fn search_block(&self, block: u32, offset: u32) -> Option<Entry> {
        let mut cursor = self.cursor(block)?;
        let mut best = (cursor.entry.offset <= offset).then_some(cursor.entry);
        for _ in 1..self.block_len(block) {
            let entry = cursor.next_entry()?;
            if entry.offset > offset {
                break;
            }
            best = Some(entry);
        }
        best
    }

    /// Entries in `block`: 64, fewer for the last one (kernel arithmetic, wrapping included).
    fn block_len(&self, block: u32) -> u32 {
        let full = BLOCK_ENTRIES as u32;
        if block.wrapping_add(1) != self.num_blocks {
            return full;
        }
        let remaining = self.num_entries.wrapping_sub(block.wrapping_mul(full));
        remaining.min(full)
    }

    /// A cursor on `block`'s entry 0, its stream cut at the next block's start (or `data`'s
    /// end, whichever is first). `None` if the block starts at or past that end.
    fn cursor(&self, block: u32) -> Option<Cursor<'a>> {
        let mut end = self.data.len();
        if block.checked_add(1)? < self.num_blocks {
            end = end.min(self.block_offset(block + 1)? as usize);
        }
        let pos = self.block_offset(block)? as usize;
        if pos >= end {
            return None;
        }
        Cursor::start(
            self.data.get(..end)?,
            pos,
            self.block_addr(block)?,
            self.layout,
        )
    }

    /// The name of file `id`: bounds-checked like the kernel, then up to its NUL.
    fn file_name(&self, id: u32) -> Option<&'a [u8]> {
        if id >= self.num_files {
            return None;
        }
        let start = read_u32(
            self.file_offsets,
            (id as usize).checked_mul(4)?,
            self.endian,
        )?;
        // An offset at or past the end gives an empty slice, hence no NUL: a miss.
        let name = self.filenames.get(start as usize..)?;
        let len = name.iter().position(|&b| b == 0)?;
        name.get(..len)
    }

    fn block_addr(&self, block: u32) -> Option<u32> {
        read_u32(
            self.block_addrs,
            (block as usize).checked_mul(4)?,
            self.endian,
        )
    }

    fn block_offset(&self, block: u32) -> Option<u32> {
        read_u32(
            self.block_offsets,
            (block as usize).checked_mul(4)?,
            self.endian,
        )
    }

    /// The counts agree with each other and with the slices (checked before any allocation).
    fn check_counts(&self) -> Result<()> {
        let expect = self.num_entries.div_ceil(BLOCK_ENTRIES as u32);
        if self.num_blocks != expect {
            return Err(invalid(format!(
                "{} blocks for {} entries, expected {expect}",
                self.num_blocks, self.num_entries
            )));
        }
        let fits = |slice: &[u8], n: u32| (slice.len() / 4) as u64 >= u64::from(n);
        if !fits(self.block_addrs, self.num_blocks) || !fits(self.block_offsets, self.num_blocks) {
            return Err(invalid(format!(
                "{} blocks need {} bytes per block array, found {} and {}",
                self.num_blocks,
                4 * u64::from(self.num_blocks),
                self.block_addrs.len(),
                self.block_offsets.len()
            )));
        }
        if !fits(self.file_offsets, self.num_files) {
            return Err(invalid(format!(
                "{} files need {} bytes of name offsets, found {}",
                self.num_files,
                4 * u64::from(self.num_files),
                self.file_offsets.len()
            )));
        }
        Ok(())
    }

    /// Appends every entry of `block` to `out`, checking it continues `out` in order.
    fn decode_block(&self, block: u32, out: &mut Vec<Entry>) -> Result<()> {
        let start = self.block_offset(block).unwrap_or(u32::MAX);
        let mut cursor = self.cursor(block).ok_or_else(|| {
            invalid(format!(
                "block {block}: stream cut short at data+{start:#x}"
            ))
        })?;
        for i in 0..self.block_len(block) {
            let entry = match i {
                0 => Some(cursor.entry),
                _ => cursor.next_entry(),
            };
            let place = || format!("block {block}: entry {i} at data+{:#x}", cursor.pos);
            let entry = entry.ok_or_else(|| {
                invalid(format!(
                    "{}: LEB128 cut short or longer than 5 bytes",
                    place()
                ))
            })?;
            if out.last().is_some_and(|prev| prev.offset >= entry.offset) {
                return Err(invalid(format!(
                    "{}: offset {:#x} does not increase",
                    place(),
                    entry.offset
                )));
            }
            let entry = match entry.file.cmp(&self.num_files) {
                std::cmp::Ordering::Less => entry,
                // A hole (docs/format.md §1 rule 7): the kernel answers nothing from here on.
                std::cmp::Ordering::Equal => Entry {
                    file: Entry::NO_LINE,
                    ..entry
                },
                std::cmp::Ordering::Greater => {
                    return Err(invalid(format!(
                        "{}: file id {} but {} files",
                        place(),
                        entry.file,
                        self.num_files
                    )))
                }
            };
            out.push(entry);
        }
        Ok(())
    }
}

/// Walks one block's stream, as the kernel's decode loop (wrapping 32-bit arithmetic).
#[derive(Debug)]
struct Cursor<'a> {
    /// The stream, cut at the block's end.
    data: &'a [u8],
    pos: usize,
    /// The entry last decoded.
    entry: Entry,
    layout: Layout,
}

impl<'a> Cursor<'a> {
    /// Reads entry 0 (file, line) at `pos`; its offset is the block address.
    fn start(data: &'a [u8], mut pos: usize, offset: u32, layout: Layout) -> Option<Self> {
        let file = read_uleb128(data, &mut pos)?;
        let line = read_uleb128(data, &mut pos)?;
        Some(Cursor {
            data,
            pos,
            entry: Entry { offset, file, line },
            layout,
        })
    }

    /// Reads the next (address, file, line) deltas; `None` if the stream is malformed.
    fn next_entry(&mut self) -> Option<Entry> {
        let delta = read_uleb128(self.data, &mut self.pos)?;
        let file = self.read_signed()?;
        let line = self.read_signed()?;
        let prev = self.entry;
        self.entry = Entry {
            offset: prev.offset.wrapping_add(delta),
            file: prev.file.wrapping_add(file as u32),
            line: prev.line.wrapping_add(line as u32),
        };
        Some(self.entry)
    }

    fn read_signed(&mut self) -> Option<i32> {
        match self.layout {
            Layout::V1 => read_uleb128(self.data, &mut self.pos).map(unzigzag),
            Layout::V7 => read_sleb128(self.data, &mut self.pos),
        }
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::Invalid(message))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bytes::put_u32s;
    use crate::encode::tests::{small_table, SMALL_DATA_V1, SMALL_NAMES};
    use crate::encode::{encode, EncodedTable};
    use proptest::prelude::*;

    /// The u32 arrays of an encoded table as bytes, so that a view can borrow them.
    pub(crate) struct Owned {
        t: EncodedTable,
        addrs: Vec<u8>,
        offsets: Vec<u8>,
        files: Vec<u8>,
        endian: Endian,
        layout: Layout,
    }

    impl Owned {
        /// The small table encoded in `layout`, little-endian.
        pub(crate) fn small(layout: Layout) -> Self {
            Owned::new(encode(&small_table(), layout), Endian::Little, layout)
        }

        pub(crate) fn new(t: EncodedTable, endian: Endian, layout: Layout) -> Self {
            let bytes = |vs: &[u32]| {
                let mut out = Vec::new();
                put_u32s(&mut out, vs, endian);
                out
            };
            let (addrs, offsets) = (bytes(&t.block_addrs), bytes(&t.block_offsets));
            let files = bytes(&t.file_offsets);
            Owned {
                t,
                addrs,
                offsets,
                files,
                endian,
                layout,
            }
        }

        pub(crate) fn view(&self) -> TableView<'_> {
            TableView {
                num_entries: self.t.num_entries,
                num_blocks: self.t.num_blocks(),
                num_files: self.t.num_files(),
                block_addrs: &self.addrs,
                block_offsets: &self.offsets,
                data: &self.t.data,
                file_offsets: &self.files,
                filenames: &self.t.filenames,
                endian: self.endian,
                layout: self.layout,
            }
        }
    }

    /// The oracle: the last entry at or below `offset`, by a linear scan of the table itself.
    pub(crate) fn expected(table: &LineTable, offset: u32) -> Option<(u32, &[u8], u32)> {
        let i = table.entries.partition_point(|e| e.offset <= offset);
        let e = table.entries.get(i.checked_sub(1)?)?;
        Some((e.offset, &table.files.get(e.file as usize)?[..], e.line))
    }

    pub(crate) fn answer(found: Option<Found<'_>>) -> Option<(u32, &[u8], u32)> {
        found.map(|f| (f.entry_offset, f.file, f.line))
    }

    /// The lookup invariant of the fuzz targets, on any bytes: an answer's entry lies at or
    /// below `offset` and its name holds no NUL; and when the whole table decodes, the lookup
    /// agrees with it (the last entry at or below `offset`, or none).
    pub(crate) fn check_lookup(view: &TableView<'_>, offset: u32) -> Result<(), TestCaseError> {
        let found = view.lookup(offset);
        if let Some(f) = &found {
            prop_assert!(
                f.entry_offset <= offset,
                "{:#x} > {offset:#x}",
                f.entry_offset
            );
            prop_assert!(!f.file.contains(&0));
        }
        if let Ok(table) = view.decode_all() {
            prop_assert_eq!(answer(found), expected(&table, offset));
        }
        Ok(())
    }

    /// A hand-built view of the small table (v1 stream, big-endian arrays).
    #[test]
    fn small_table_by_hand() {
        let view = TableView {
            num_entries: 3,
            num_blocks: 1,
            num_files: 2,
            block_addrs: &[0, 0, 0, 0x10],
            block_offsets: &[0, 0, 0, 0],
            data: &SMALL_DATA_V1,
            file_offsets: &[0, 0, 0, 0, 0, 0, 0, 4],
            filenames: &SMALL_NAMES,
            endian: Endian::Big,
            layout: Layout::V1,
        };
        assert_eq!(view.lookup(0xf), None, "below the first entry");
        assert_eq!(answer(view.lookup(0x10)), Some((0x10, &b"a.c"[..], 5)));
        assert_eq!(answer(view.lookup(0x13)), Some((0x10, &b"a.c"[..], 5)));
        assert_eq!(answer(view.lookup(0x14)), Some((0x14, &b"lib/bb.h"[..], 3)));
        assert_eq!(
            answer(view.lookup(0x19f)),
            Some((0x14, &b"lib/bb.h"[..], 3))
        );
        assert_eq!(answer(view.lookup(0x1a0)), Some((0x1a0, &b"a.c"[..], 200)));
        assert_eq!(
            answer(view.lookup(u32::MAX)),
            Some((0x1a0, &b"a.c"[..], 200))
        );
        assert_eq!(view.decode_all().unwrap(), small_table());
    }

    /// The symbol-start guard keeps an entry exactly at the symbol start and rejects one below.
    #[test]
    fn guard() {
        let owned = Owned::small(Layout::V7);
        let view = owned.view();
        assert_eq!(view.lookup_guarded(0x20, 0x14).map(|f| f.line), Some(3));
        assert_eq!(view.lookup_guarded(0x20, 0x15), None);
        assert_eq!(view.lookup_guarded(0x20, 0x20), None);
    }

    #[test]
    fn bad_file_ids_and_names_miss() {
        let owned = Owned::small(Layout::V7);
        let good = owned.view();
        let one_file = TableView {
            num_files: 1,
            ..good
        };
        assert_eq!(one_file.lookup(0x14), None, "file id 1 >= num_files 1");
        assert_eq!(one_file.lookup(0x10).map(|f| f.line), Some(5));
        let names_cut = TableView {
            filenames: &SMALL_NAMES[..4],
            ..good
        };
        assert_eq!(
            names_cut.lookup(0x14),
            None,
            "name offset 4 >= filenames_size 4"
        );
        let no_nul = TableView {
            filenames: &SMALL_NAMES[..12],
            ..good
        };
        assert_eq!(no_nul.lookup(0x14), None, "name without its NUL");
        assert!(no_nul.decode_all().is_err());
    }

    #[test]
    fn truncated_stream_misses() {
        let owned = Owned::small(Layout::V1);
        let cut = TableView {
            data: &owned.t.data[..6],
            ..owned.view()
        };
        // Entry 2 is cut short after one byte (0x8c).
        assert_eq!(
            cut.lookup(0x13).map(|f| f.line),
            Some(5),
            "entry 1 decides, entry 2 unread"
        );
        // The kernel would go on with the half-read delta 0x0c; we refuse the block.
        assert_eq!(
            cut.lookup(0x14),
            None,
            "entry 2 must be read to know where entry 1 ends"
        );
        assert_eq!(cut.lookup(0x1a0), None);
        let err = cut.decode_all().unwrap_err().to_string();
        assert!(err.contains("block 0: entry 2"), "{err}");
    }

    #[test]
    fn decode_all_checks_counts() {
        let owned = Owned::small(Layout::V7);
        let wrong = TableView {
            num_entries: 65,
            ..owned.view()
        };
        let err = wrong.decode_all().unwrap_err().to_string();
        assert_eq!(err, "1 blocks for 65 entries, expected 2");
        let huge = TableView {
            num_entries: u32::MAX,
            num_blocks: 67_108_864,
            ..owned.view()
        };
        assert!(
            huge.decode_all().is_err(),
            "counts beyond the slices, no allocation"
        );
    }

    pub(crate) fn arb_table() -> impl Strategy<Value = LineTable> {
        let delta = prop_oneof![4 => 1u32..16, 2 => 1u32..5000, 1 => 1u32..(1 << 24)];
        let line = prop_oneof![4 => 1u32..3000, 1 => 1u32..=u32::MAX];
        let entry = (delta, 0usize..64, line);
        (1usize..7, 0u32..1000, prop::collection::vec(entry, 0..400)).prop_map(
            |(num_files, first, raw)| {
                let mut offset = first;
                let mut entries = Vec::with_capacity(raw.len());
                for (i, (delta, file, line)) in raw.into_iter().enumerate() {
                    if i > 0 {
                        offset = offset.saturating_add(delta);
                    }
                    if entries.last().is_some_and(|e: &Entry| e.offset >= offset) {
                        break; // saturated at u32::MAX
                    }
                    // Now and then a hole (docs/format.md §1 rule 7): never first, never twice.
                    let entry = match entries.last() {
                        Some(&last) if file % (num_files + 1) == num_files && !last.is_hole() => {
                            Entry {
                                offset,
                                file: Entry::NO_LINE,
                                line: last.line,
                            }
                        }
                        _ => Entry {
                            offset,
                            file: (file % num_files) as u32,
                            line,
                        },
                    };
                    entries.push(entry);
                }
                let files = (0..num_files)
                    .map(|i| format!("dir{i}/f{i}.c").into_bytes())
                    .collect();
                LineTable { entries, files }
            },
        )
    }

    pub(crate) fn arb_format() -> impl Strategy<Value = (Endian, Layout)> {
        (
            prop_oneof![Just(Endian::Little), Just(Endian::Big)],
            prop_oneof![Just(Layout::V1), Just(Layout::V7)],
        )
    }

    proptest! {
        #[test]
        fn round_trip(table in arb_table(), (endian, layout) in arb_format(), picks in prop::collection::vec(any::<u32>(), 16)) {
            let owned = Owned::new(encode(&table, layout), endian, layout);
            let view = owned.view();
            prop_assert_eq!(view.decode_all().unwrap(), table.clone());
            for e in &table.entries {
                if e.is_hole() {
                    prop_assert_eq!(view.lookup(e.offset), None);
                    prop_assert_eq!(view.hole_at(e.offset), Some(e.offset));
                    continue;
                }
                prop_assert_eq!(view.hole_at(e.offset), None);
                let found = view.lookup(e.offset).unwrap();
                prop_assert_eq!((found.entry_offset, found.file_id, found.line), (e.offset, e.file, e.line));
                prop_assert_eq!(found.file, &table.files[e.file as usize][..]);
            }
            // Offsets between entries, below the first and past the last.
            for (k, pick) in picks.iter().enumerate() {
                let offset = match table.entries.get(k % table.entries.len().max(1)) {
                    Some(e) => e.offset.saturating_add(pick % 64),
                    None => *pick,
                };
                prop_assert_eq!(answer(view.lookup(offset)), expected(&table, offset));
                prop_assert_eq!(answer(view.lookup(*pick)), expected(&table, *pick));
            }
            if let Some(first) = table.entries.first() {
                // Below the first entry nothing; at offset 0, u32::MAX takes the last (maybe a hole).
                let below = first.offset.wrapping_sub(1);
                prop_assert_eq!(view.lookup(below).is_none(), first.offset != 0 || table.entries.last().is_some_and(Entry::is_hole));
            }
        }

        #[test]
        fn arbitrary_parts_look_up_at_or_below(
            counts in prop_oneof![(0u32..300, 0u32..8, 0u32..8), (any::<u32>(), any::<u32>(), any::<u32>())],
            parts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 5),
            (endian, layout) in arb_format(),
            offsets in prop::collection::vec(any::<u32>(), 8),
        ) {
            let view = TableView {
                num_entries: counts.0,
                num_blocks: counts.1,
                num_files: counts.2,
                block_addrs: &parts[0],
                block_offsets: &parts[1],
                data: &parts[2],
                file_offsets: &parts[3],
                filenames: &parts[4],
                endian,
                layout,
            };
            for offset in offsets {
                check_lookup(&view, offset)?;
            }
        }

        #[test]
        fn corrupted_tables_look_up_at_or_below(
            table in arb_table(),
            (endian, layout) in arb_format(),
            flips in prop::collection::vec((0usize..4, any::<usize>(), any::<u8>()), 1..6),
            offsets in prop::collection::vec(any::<u32>(), 8),
        ) {
            let mut owned = Owned::new(encode(&table, layout), endian, layout);
            for (part, at, byte) in flips {
                let bytes = match part {
                    0 => &mut owned.addrs,
                    1 => &mut owned.offsets,
                    2 => &mut owned.t.data,
                    _ => &mut owned.files,
                };
                if !bytes.is_empty() {
                    let len = bytes.len();
                    bytes[at % len] ^= byte;
                }
            }
            let view = owned.view();
            for offset in offsets {
                check_lookup(&view, offset)?;
            }
        }
    }
}
