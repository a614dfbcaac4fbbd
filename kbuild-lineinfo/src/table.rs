//! Entries and file names: the content of one table, before any encoding.
//!
//! A [`LineTable`] is what docs/format.md §1 rule 5 produces: entries with strictly increasing offsets,
//! file ids assigned by first use, no unreferenced names. It knows nothing of DWARF or of bytes.

/// One table entry: from `offset` on (until the next entry), the code is at `files[file]:line`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entry {
    /// Offset from the table's base (`_text` for vmlinux, the section start for modules).
    pub offset: u32,
    /// Index into [`LineTable::files`], or [`Entry::NO_LINE`].
    pub file: u32,
    /// Source line, never 0 (a hole keeps the line of the entry before it, so that it costs a
    /// zero line delta).
    pub line: u32,
}

impl Entry {
    /// The file of a *hole*: from this offset on DWARF has no line (a line-0 row, or past the
    /// end of a sequence), docs/format.md §1 rule 7. Encoded as file id `num_files`, which the
    /// kernel's reader answers with nothing.
    pub const NO_LINE: u32 = u32::MAX;

    /// True for a hole ([`Entry::NO_LINE`]).
    pub fn is_hole(&self) -> bool {
        self.file == Self::NO_LINE
    }
}

/// The content of one table.
///
/// Invariants: `entries` offsets strictly increase; every `entry.file < files.len()` but holes
/// ([`Entry::NO_LINE`]), which never follow a hole or start the table; `files.len() <= 65535`;
/// every file is referenced by at least one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineTable {
    /// Entries in strictly increasing offset order.
    pub entries: Vec<Entry>,
    /// File names as printed by the kernel (no NUL inside), in id order.
    pub files: Vec<Vec<u8>>,
}

use crate::error::{ErrorKind, Result};
use crate::rows::Point;

/// The largest number of file names one table may hold (file ids are 16-bit in the kernel).
pub const MAX_FILES: usize = 65535;

/// What [`build`] did, for summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Entries forced at a symbol start (rule 6) that rule 5 would have dropped or that no row
    /// provided.
    pub symbol_entries: u64,
    /// Points whose offset from the region start does not fit in u32 (skipped, never wrapped).
    pub offset_overflow: u64,
    /// Holes (rule 7): where DWARF stops having a line inside the region.
    pub hole_entries: u64,
}

/// Builds the table of the region `[start, end)` of an address space (docs/format.md §1 rules 3–7).
///
/// `points` is sorted as [`Rows::points`](crate::rows::Rows) promises (the last point at an
/// address is the answer there; an end point means no answer); `names` are the names `points`
/// refer to; `symbols` are sorted text symbol starts. Offsets are `address - start`.
pub fn build(
    points: &[Point],
    names: &[Vec<u8>],
    symbols: &[u64],
    start: u64,
    end: u64,
) -> Result<(LineTable, BuildStats)> {
    let mut builder = Builder {
        start,
        table: LineTable::default(),
        local: vec![u32::MAX; names.len()],
        names,
        last: None,
        stats: BuildStats::default(),
    };
    let mut p = points.partition_point(|x| x.address < start);
    let mut s = symbols.partition_point(|&x| x < start);
    // At most an entry per point and per symbol in the region, and one at its start.
    let rows_in = points[p..].partition_point(|x| x.address < end);
    let symbols_in = symbols[s..].partition_point(|&x| x < end);
    builder.table.entries.reserve(rows_in + symbols_in + 1);
    // The answer in effect where the region starts, from a row below it, gets an entry at the
    // start like a symbol would: the kernel finds nothing below the first entry.
    let mut current = p.checked_sub(1).map(|i| points[i]).filter(|x| !x.is_end());
    if let Some(point) = current {
        if start < end && points.get(p).map(|x| x.address) != Some(start) {
            builder.offer(start, point, true, false)?;
        }
    }
    // A merge of two sorted streams, at every address of either (u64::MAX stands for an
    // exhausted stream: nothing at or past `end` is taken).
    let address_of = |p: usize| points.get(p).map_or(u64::MAX, |x| x.address);
    let mut symbol = symbols.get(s).copied().unwrap_or(u64::MAX);
    loop {
        let next_point = address_of(p);
        let at = next_point.min(symbol);
        if at >= end {
            break;
        }
        let from_row = next_point == at;
        if from_row {
            p += 1;
            while address_of(p) == at {
                p += 1;
            }
            let was = current;
            current = Some(points[p - 1]).filter(|x| !x.is_end());
            // Rule 7: where the answer stops, a hole says so (the kernel would otherwise go on
            // answering with the last line up to the next entry).
            if current.is_none() && was.is_some() {
                builder.hole(at)?;
            }
        }
        let forced = symbol == at;
        if forced {
            s += 1;
            symbol = symbols.get(s).copied().unwrap_or(u64::MAX);
        }
        if let Some(point) = current {
            builder.offer(at, point, forced, from_row)?;
        }
    }
    Ok((builder.table, builder.stats))
}

/// Gives `tables` one shared list of names (docs/format.md §6: no file table repeated per section).
///
/// Ids are assigned by first use walking the tables in the order given, then each table's
/// entries by offset, so the result is deterministic and holds no unreferenced name. Every
/// returned table has the same `files` (the shared list); each entry keeps its name and line.
/// A name may be unreferenced in one table but is referenced in the group. More than
/// [`MAX_FILES`] names in all is an error.
pub fn share_files(tables: &[&LineTable]) -> Result<Vec<LineTable>> {
    let mut files: Vec<Vec<u8>> = Vec::new();
    let mut ids: std::collections::HashMap<&[u8], u32> = std::collections::HashMap::new();
    let mut shared = Vec::with_capacity(tables.len());
    for table in tables {
        let mut entries = Vec::with_capacity(table.entries.len());
        // The table's file id → shared id, looked up by name once per file, not per entry.
        let mut local = vec![u32::MAX; table.files.len()];
        for e in &table.entries {
            if e.is_hole() {
                entries.push(*e);
                continue;
            }
            let slot = &mut local[e.file as usize];
            if *slot == u32::MAX {
                let name = &table.files[e.file as usize][..];
                let next = files.len();
                *slot = *ids.entry(name).or_insert_with(|| {
                    files.push(name.to_vec());
                    next as u32
                });
                if files.len() > MAX_FILES {
                    return Err(ErrorKind::TooManyFiles(files.len()).into());
                }
            }
            entries.push(Entry { file: *slot, ..*e });
        }
        shared.push(entries);
    }
    Ok(shared
        .into_iter()
        .map(|entries| LineTable {
            entries,
            files: files.clone(),
        })
        .collect())
}

struct Builder<'a> {
    start: u64,
    table: LineTable,
    /// Name id (index into `names`) → file id in this table, `u32::MAX` when not used yet.
    local: Vec<u32>,
    names: &'a [Vec<u8>],
    /// (name id, line) of the last entry kept; `None` at the start and after a hole.
    last: Option<(u32, u32)>,
    stats: BuildStats,
}

impl Builder<'_> {
    /// Adds an entry at `at` unless rule 5 drops it; `forced` (a symbol start) overrides rule 5.
    #[inline]
    fn offer(&mut self, at: u64, point: Point, forced: bool, from_row: bool) -> Result<()> {
        let repeat = self.last == Some((point.file, point.line));
        if repeat && !forced && at - self.start <= u64::from(u32::MAX) {
            return Ok(());
        }
        self.add(at, point, forced, from_row, repeat)
    }

    /// [`Builder::offer`]'s entry, unless its offset overflows or one is already there.
    fn add(
        &mut self,
        at: u64,
        point: Point,
        forced: bool,
        from_row: bool,
        repeat: bool,
    ) -> Result<()> {
        let Ok(offset) = u32::try_from(at - self.start) else {
            self.stats.offset_overflow += 1;
            return Ok(());
        };
        let key = (point.file, point.line);
        if repeat && !forced {
            return Ok(());
        }
        if self
            .table
            .entries
            .last()
            .is_some_and(|e| e.offset == offset)
        {
            return Ok(());
        }
        if forced && (repeat || !from_row) {
            self.stats.symbol_entries += 1;
        }
        let file = self.file_id(point.file)?;
        self.table.entries.push(Entry {
            offset,
            file,
            line: point.line,
        });
        self.last = Some(key);
        Ok(())
    }

    /// A hole at `at` (rule 7), unless there is no entry before it or the last is a hole.
    fn hole(&mut self, at: u64) -> Result<()> {
        let Some(&last) = self.table.entries.last() else {
            return Ok(());
        };
        if last.is_hole() {
            return Ok(());
        }
        let Ok(offset) = u32::try_from(at - self.start) else {
            self.stats.offset_overflow += 1;
            return Ok(());
        };
        // Points at one address are taken together and a hole comes first there.
        debug_assert!(offset > last.offset);
        self.table.entries.push(Entry {
            offset,
            file: Entry::NO_LINE,
            line: last.line,
        });
        self.last = None;
        self.stats.hole_entries += 1;
        Ok(())
    }

    /// File ids by first use (docs/format.md §2).
    fn file_id(&mut self, name: u32) -> Result<u32> {
        let slot = &mut self.local[name as usize];
        if *slot == u32::MAX {
            if self.table.files.len() == MAX_FILES {
                return Err(ErrorKind::TooManyFiles(MAX_FILES + 1).into());
            }
            *slot = self.table.files.len() as u32;
            self.table.files.push(self.names[name as usize].clone());
        }
        Ok(*slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(address: u64, file: u32, line: u32) -> Point {
        Point {
            address,
            file,
            line,
        }
    }

    fn names(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("f{i}.c").into_bytes()).collect()
    }

    fn offsets(t: &LineTable) -> Vec<(u32, u32, u32)> {
        t.entries
            .iter()
            .map(|e| (e.offset, e.file, e.line))
            .collect()
    }

    #[test]
    fn last_point_wins_and_repeats_collapse() {
        // Sorted as rows::read_rows sorts: ends first at an address.
        let points = [
            pt(0x100, 1, 10),
            pt(0x104, 1, 10), // repeat of the previous answer: dropped
            pt(0x108, 1, 11),
            pt(0x108, 0, 5),  // later row at the same address wins
            pt(0x110, 0, 0),  // end of sequence
            pt(0x110, 1, 20), // next sequence starts where the last ended
            pt(0x120, 0, 0),
        ];
        let (t, stats) = build(&points, &names(2), &[], 0x100, 0x200).unwrap();
        // File ids by first use: name 1 → 0, name 0 → 1; the last end is a hole (rule 7).
        let hole = Entry::NO_LINE;
        assert_eq!(
            offsets(&t),
            [(0, 0, 10), (8, 1, 5), (0x10, 0, 20), (0x20, hole, 20)]
        );
        assert_eq!(t.files, [b"f1.c".to_vec(), b"f0.c".to_vec()]);
        assert_eq!(
            stats,
            BuildStats {
                hole_entries: 1,
                ..BuildStats::default()
            }
        );
    }

    #[test]
    fn symbol_starts_get_entries() {
        let points = [
            pt(0x100, 0, 7),
            pt(0x140, 0, 0),
            pt(0x200, 0, 7),
            pt(0x210, 0, 0),
        ];
        // 0x120: inside a sequence, no row there; 0x100: has a row; 0x180: in a gap (no answer);
        // 0x200: a row with the file:line of the last real entry.
        // 0x140 and 0x210: holes (rule 7); after one, a row is never a repeat.
        let symbols = [0x100, 0x120, 0x180, 0x200];
        let (t, stats) = build(&points, &names(1), &symbols, 0x100, 0x1000).unwrap();
        let hole = Entry::NO_LINE;
        assert_eq!(
            offsets(&t),
            [
                (0, 0, 7),
                (0x20, 0, 7),
                (0x40, hole, 7),
                (0x100, 0, 7),
                (0x110, hole, 7)
            ]
        );
        // Only 0x120 is forced: 0x200 follows a hole, so its row is kept by rule 5 anyway.
        assert_eq!(stats.symbol_entries, 1);
    }

    #[test]
    fn region_clips_and_enters_with_the_answer_in_effect() {
        let points = [
            pt(0x0f0, 0, 3),
            pt(0x110, 0, 4),
            pt(0x130, 0, 0),
            pt(0x300, 0, 9),
        ];
        let (t, _) = build(&points, &names(1), &[], 0x100, 0x120).unwrap();
        assert_eq!(offsets(&t), [(0, 0, 3), (0x10, 0, 4)]);
        // Nothing in effect at the start (after an end point): no entry there.
        let (t, _) = build(&points, &names(1), &[], 0x200, 0x400).unwrap();
        assert_eq!(offsets(&t), [(0x100, 0, 9)]);
    }

    #[test]
    fn offsets_beyond_u32_are_counted_not_wrapped() {
        let points = [pt(0x10, 0, 1), pt(0x1_0000_0010, 0, 2)];
        let (t, stats) = build(&points, &names(1), &[], 0x10, u64::MAX).unwrap();
        assert_eq!(offsets(&t), [(0, 0, 1)]);
        assert_eq!(stats.offset_overflow, 1);
    }

    fn table(entries: &[(u32, &str, u32)]) -> LineTable {
        let mut t = LineTable::default();
        for &(offset, name, line) in entries {
            let file = match t.files.iter().position(|f| f == name.as_bytes()) {
                Some(i) => i,
                None => {
                    t.files.push(name.as_bytes().to_vec());
                    t.files.len() - 1
                }
            } as u32;
            t.entries.push(Entry { offset, file, line });
        }
        t
    }

    fn named(t: &LineTable) -> Vec<(u32, &str, u32)> {
        let name = |e: &Entry| std::str::from_utf8(&t.files[e.file as usize]).unwrap();
        t.entries
            .iter()
            .map(|e| (e.offset, name(e), e.line))
            .collect()
    }

    #[test]
    fn shared_files_by_first_use_across_tables() {
        let a = table(&[(0, "a.c", 1), (4, "h.h", 2), (8, "a.c", 3)]);
        let b = table(&[(0, "b.c", 9), (2, "h.h", 4), (6, "a.c", 5)]);
        let empty = LineTable::default();
        let shared = share_files(&[&a, &empty, &b]).unwrap();
        assert_eq!(shared.len(), 3);
        let names: Vec<&[u8]> = shared[0].files.iter().map(|f| &f[..]).collect();
        assert_eq!(names, [&b"a.c"[..], b"h.h", b"b.c"]);
        assert!(shared.iter().all(|t| t.files == shared[0].files));
        assert_eq!(offsets(&shared[2]), [(0, 2, 9), (2, 1, 4), (6, 0, 5)]);
        // Same names and lines as before.
        assert_eq!(named(&shared[0]), named(&a));
        assert_eq!(named(&shared[2]), named(&b));
        assert!(shared[1].entries.is_empty());
    }

    #[test]
    fn shared_files_limit() {
        let many = |from: usize| LineTable {
            entries: (0..MAX_FILES / 2 + 1)
                .map(|i| Entry {
                    offset: i as u32,
                    file: i as u32,
                    line: 1,
                })
                .collect(),
            files: (0..MAX_FILES / 2 + 1)
                .map(|i| format!("f{}.c", i + from).into_bytes())
                .collect(),
        };
        let (a, b) = (many(0), many(MAX_FILES));
        let e = share_files(&[&a, &b]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooManyFiles(MAX_FILES + 1));
        assert_eq!(
            share_files(&[&a, &a]).unwrap()[1].files.len(),
            MAX_FILES / 2 + 1
        );
    }

    #[test]
    fn too_many_files_is_an_error() {
        let n = MAX_FILES + 1;
        let points: Vec<Point> = (0..n as u32).map(|i| pt(u64::from(i) * 4, i, 1)).collect();
        let e = build(&points, &names(n), &[], 0, u64::MAX).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooManyFiles(65536));
        let (t, _) = build(&points[..MAX_FILES], &names(n), &[], 0, u64::MAX).unwrap();
        assert_eq!(t.files.len(), MAX_FILES);
    }
}
