//! An independent reader of the v7 module blobs, `.mod_lineinfo` and `.init.mod_lineinfo`
//! (docs/format.md §4.3 and §3), written from the format text alone, as `blob.rs` is for v1:
//! it shares no code with the library's reader, so a test that judges the library's blobs with
//! it, against `llvm-symbolizer`, is not the library judging itself.
//!
//! It is stricter than the kernel: besides the kernel's bounds checks it rejects whatever the
//! byte contract rules out (a header off its 4-byte boundary, a non-minimal or over-long
//! LEB128, a zero address delta, an entry outside its section, a file id past the names, a
//! wrong block count or array size), and says which.

use super::blob::{file_name, Entry, Table};

/// One descriptor of a blob: the covered section's anchor (zero before the module is linked,
/// its address after) and size, and its decoded sub-table.
#[derive(Clone, Debug)]
pub struct Section {
    pub anchor: u64,
    pub size: u32,
    pub table: Table,
}

/// Where `lookup` found an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub file: String,
    pub line: u32,
    /// The offset of the entry that answered, in its section.
    pub entry_offset: u32,
}

/// Decodes one v7 blob in the byte order of its ELF file; `Err` names the first problem.
pub fn decode_v7_blob(blob: &[u8], big_endian: bool) -> Result<Vec<Section>, String> {
    let r = Bytes { blob, big_endian };
    let count = r.u32(0)? as usize;
    if r.u32(4)? != 0 {
        return Err("the u32 after num_sections is not 0".into());
    }
    let mut sections = Vec::with_capacity(count.min(blob.len() / 16));
    for i in 0..count {
        let at = 8 + 16 * i;
        let (anchor, size, table_offset) = (r.u64(at)?, r.u32(at + 8)?, r.u32(at + 12)?);
        let table = decode_sub_table(&r, table_offset as usize)
            .map_err(|e| format!("descriptor {i} (table at {table_offset:#x}): {e}"))?;
        if let Some(e) = table.entries.iter().find(|e| e.offset >= size) {
            return Err(format!(
                "descriptor {i}: entry at {:#x} past the section's {size:#x} bytes",
                e.offset
            ));
        }
        sections.push(Section {
            anchor,
            size,
            table,
        });
    }
    Ok(sections)
}

/// The answer at `address` as the kernel finds it: the first section whose
/// `[anchor, anchor + size)` holds it, the last entry at or below `address - anchor`.
pub fn lookup(sections: &[Section], address: u64) -> Option<Found> {
    let s = sections
        .iter()
        .find(|s| address >= s.anchor && address - s.anchor < u64::from(s.size))?;
    let at = (address - s.anchor) as u32;
    let i = s.table.entries.partition_point(|e| e.offset <= at);
    let e = s.table.entries.get(i.checked_sub(1)?)?;
    Some(Found {
        // A hole (file id = number of names, format §1 rule 7): no line, as in the kernel.
        file: s.table.names.get(e.file as usize)?.clone(),
        line: e.line,
        entry_offset: e.offset,
    })
}

/// The sub-table whose 11-u32 header starts at `at`.
fn decode_sub_table(r: &Bytes, at: usize) -> Result<Table, String> {
    if !at.is_multiple_of(4) {
        return Err("header not on a 4-byte boundary".into());
    }
    let field = |k: usize| r.u32(at + 4 * k).map(|v| v as usize);
    let (n, nb, nf) = (field(0)?, field(1)?, field(2)?);
    let (blocks_offset, blocks_size) = (field(3)?, field(4)?);
    let (data_offset, data_size) = (field(5)?, field(6)?);
    let (files_offset, files_size) = (field(7)?, field(8)?);
    let (names_offset, names_size) = (field(9)?, field(10)?);
    if n == 0 || nb != n.div_ceil(64) {
        return Err(format!("{nb} blocks for {n} entries"));
    }
    if blocks_size != 8 * nb || files_size != 4 * nf {
        return Err(format!(
            "blocks_size {blocks_size} for {nb} blocks, files_size {files_size} for {nf} files"
        ));
    }
    let part = |name: &str, offset: usize, size: usize| {
        r.blob
            .get(at + offset..at + offset + size)
            .ok_or_else(|| format!("{name} ({offset:#x}, {size} bytes) past the blob"))
    };
    part("block arrays", blocks_offset, blocks_size)?;
    let data = part("data", data_offset, data_size)?;
    part("file offsets", files_offset, files_size)?;
    let names_blob = part("file names", names_offset, names_size)?;

    let mut names = Vec::with_capacity(nf);
    for i in 0..nf {
        names.push(file_name(names_blob, r.u32(at + files_offset + 4 * i)?)?);
    }

    let mut entries: Vec<Entry> = Vec::with_capacity(n);
    for b in 0..nb {
        let addr = r.u32(at + blocks_offset + 4 * b)?;
        let mut pos = r.u32(at + blocks_offset + 4 * nb + 4 * b)? as usize;
        decode_block(data, &mut pos, (b, addr), n, true, &mut entries)?;
    }
    if let Some(e) = entries.iter().find(|e| e.file as usize > nf) {
        return Err(format!("file id {} of {nf} at {:#x}", e.file, e.offset));
    }
    Ok(Table { entries, names })
}

/// Block `b` of §3, starting at `addr` and at byte `pos` of `data`, of a table of `n` entries:
/// its first entry (ULEB file and line), then up to 63 by their deltas (ULEB address, then
/// file and line as SLEB in v7, as zig-zag ULEB in v1), appended to `entries`; `pos` moves
/// past it. The one block decoder of the harness (v7 blobs here, vmlinux tables in `vmtable`).
pub fn decode_block(
    data: &[u8],
    pos: &mut usize,
    (b, addr): (usize, u32),
    n: usize,
    v7: bool,
    entries: &mut Vec<Entry>,
) -> Result<(), String> {
    if entries.last().is_some_and(|last| last.offset >= addr) {
        return Err(format!(
            "block {b} starts at {addr:#x}, not above the last entry"
        ));
    }
    let mut e = Entry {
        offset: addr,
        file: uleb(data, pos)?,
        line: uleb(data, pos)?,
    };
    entries.push(e);
    for _ in 1..(n - 64 * b).min(64) {
        let delta = uleb(data, pos)?;
        if delta == 0 {
            return Err(format!("zero address delta after {:#x}", e.offset));
        }
        e.offset = e.offset.checked_add(delta).ok_or("offset past u32")?;
        let (df, dl) = if v7 {
            (sleb(data, pos)?, sleb(data, pos)?)
        } else {
            (unzigzag(uleb(data, pos)?), unzigzag(uleb(data, pos)?))
        };
        e.file = e.file.wrapping_add(df as u32);
        e.line = e.line.wrapping_add(dl as u32);
        entries.push(e);
    }
    Ok(())
}

fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// The blob's integers in its byte order.
struct Bytes<'a> {
    blob: &'a [u8],
    big_endian: bool,
}

impl Bytes<'_> {
    fn get<const N: usize>(&self, at: usize) -> Result<[u8; N], String> {
        let b = at
            .checked_add(N)
            .and_then(|end| self.blob.get(at..end))
            .ok_or_else(|| {
                format!(
                    "{N} bytes at {at:#x} past the {}-byte blob",
                    self.blob.len()
                )
            })?;
        Ok(b.try_into().expect("N bytes"))
    }

    fn u32(&self, at: usize) -> Result<u32, String> {
        let b = self.get::<4>(at)?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, at: usize) -> Result<u64, String> {
        let b = self.get::<8>(at)?;
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

/// The bytes of one LEB128 at `pos` (at most 5), moving `pos` past it.
fn leb<'a>(data: &'a [u8], pos: &mut usize) -> Result<&'a [u8], String> {
    let rest = data.get(*pos..).ok_or("LEB128 past the data")?;
    let len = rest
        .iter()
        .take(5)
        .position(|b| b & 0x80 == 0)
        .ok_or("LEB128 past the data or longer than 5 bytes")?
        + 1;
    *pos += len;
    Ok(&rest[..len])
}

/// A minimal ULEB128 of at most 5 bytes at `pos`, read into a u32 (also `vmtable`'s reader).
pub fn uleb(data: &[u8], pos: &mut usize) -> Result<u32, String> {
    let bytes = leb(data, pos)?;
    if bytes.len() > 1 && bytes[bytes.len() - 1] == 0 {
        return Err(format!("ULEB128 {bytes:02x?} is not minimal"));
    }
    let v = bytes
        .iter()
        .enumerate()
        .fold(0u64, |v, (i, b)| v | u64::from(b & 0x7f) << (7 * i));
    u32::try_from(v).map_err(|_| format!("ULEB128 {bytes:02x?} above u32"))
}

/// A minimal SLEB128 of at most 5 bytes at `pos`, read into an i32 (also `vmtable`'s reader).
pub fn sleb(data: &[u8], pos: &mut usize) -> Result<i32, String> {
    let bytes = leb(data, pos)?;
    if let [.., prev, last] = bytes {
        // The last byte only repeats the sign that the one before it already has.
        if (*last == 0 && prev & 0x40 == 0) || (*last == 0x7f && prev & 0x40 != 0) {
            return Err(format!("SLEB128 {bytes:02x?} is not minimal"));
        }
    }
    let mut v = bytes
        .iter()
        .enumerate()
        .fold(0i64, |v, (i, b)| v | i64::from(b & 0x7f) << (7 * i));
    let bits = 7 * bytes.len();
    if bytes[bytes.len() - 1] & 0x40 != 0 {
        v |= -1i64 << bits;
    }
    i32::try_from(v).map_err(|_| format!("SLEB128 {bytes:02x?} outside i32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob written out by hand from docs/format.md §4.3: one descriptor (anchor 0x1000, size
    /// 0x40), three entries in one block, two names; little-endian.
    fn blob() -> Vec<u8> {
        let mut b = Vec::new();
        let u32s = |b: &mut Vec<u8>, v: &[u32]| v.iter().for_each(|x| b.extend(x.to_le_bytes()));
        u32s(&mut b, &[1, 0]); // num_sections, 0
        b.extend(0x1000u64.to_le_bytes()); // anchor
        u32s(&mut b, &[0x40, 24]); // size, table_offset
                                   // Header at 24, offsets from it: entries, blocks, files, blocks at 44 (8 bytes), data at
                                   // 52 (9 bytes), file offsets at 64 (8 bytes), names at 72 (10 bytes).
        u32s(&mut b, &[3, 1, 2, 44, 8, 52, 9, 64, 8, 72, 10]);
        u32s(&mut b, &[0x4, 0]); // block_addrs[0], block_offsets[0]
        b.extend([0x00, 0x0a]); // at 0x4: file 0, line 10
        b.extend([0x04, 0x01, 0x7d]); // +4: file +1, line -3
        b.extend([0x08, 0x7f, 0xc8, 0x01]); // +8: file -1, line +200
        b.extend([0, 0, 0]); // padding to 4
        u32s(&mut b, &[0, 4]); // file_offsets
        b.extend(b"a.c\0b/c.h\0");
        b
    }

    /// Where the stream starts in `blob()`.
    const DATA: usize = 24 + 52;

    #[test]
    fn hand_written_blob_decodes() {
        let s = decode_v7_blob(&blob(), false).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].anchor, s[0].size), (0x1000, 0x40));
        let entries: Vec<_> = s[0]
            .table
            .entries
            .iter()
            .map(|e| (e.offset, e.file, e.line))
            .collect();
        assert_eq!(entries, [(4, 0, 10), (8, 1, 7), (16, 0, 207)]);
        assert_eq!(s[0].table.names, ["a.c", "b/c.h"]);
        let at = |a| lookup(&s, a).map(|f| (f.file, f.line, f.entry_offset));
        assert_eq!(at(0x1003), None, "below the first entry");
        assert_eq!(at(0x1009), Some(("b/c.h".into(), 7, 8)));
        assert_eq!(at(0x103f), Some(("a.c".into(), 207, 16)));
        assert_eq!(at(0x1040), None, "past the section");
    }

    #[test]
    fn contract_violations_are_named() {
        let ok = blob();
        let bad = |patch: &dyn Fn(&mut Vec<u8>), want: &str| {
            let mut b = ok.clone();
            patch(&mut b);
            let err = decode_v7_blob(&b, false).unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
        };
        bad(&|b| b[20] = 26, "4-byte boundary"); // table_offset 24 -> 26
        bad(&|b| b[DATA + 2] = 0, "zero address delta");
        // File id 2 of 2 is a hole (format §1 rule 7); 3 is past it.
        bad(&|b| b[DATA + 3] = 0x03, "file id 3 of 2");
        bad(
            &|b| b[16] = 0x10,
            "entry at 0x10 past the section's 0x10 bytes",
        );
        bad(&|b| b[24 + 4] = 2, "2 blocks for 3 entries");
        bad(&|b| b[24 + 16] = 16, "blocks_size 16 for 1 blocks");
        bad(&|b| b.truncate(80), "past the blob");
        bad(&|b| b[4] = 1, "not 0");
    }

    #[test]
    fn leb128_minimal_and_at_most_5_bytes() {
        let u = |b: &[u8]| uleb(b, &mut 0);
        let s = |b: &[u8]| sleb(b, &mut 0);
        assert_eq!(u(&[0x84, 0x01]), Ok(132));
        assert!(u(&[0x84, 0x00]).unwrap_err().contains("not minimal"));
        assert!(u(&[0x80; 6]).unwrap_err().contains("longer than 5"));
        assert_eq!(s(&[0x7f]), Ok(-1));
        assert_eq!(s(&[0xc8, 0x01]), Ok(200));
        assert_eq!(s(&[0xc0, 0x00]), Ok(64));
        assert!(s(&[0xff, 0x7f]).unwrap_err().contains("not minimal"));
        assert!(s(&[0x81, 0x00]).unwrap_err().contains("not minimal"));
    }
}
