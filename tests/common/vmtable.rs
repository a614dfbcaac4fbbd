//! An independent reader of the vmlinux tables, the `lineinfo_*` symbols of docs/format.md §4.1
//! and the block stream of §3, written from the format text alone (as `blob.rs` and `v7blob.rs`
//! are for modules): it shares no code with the library's reader, so a real-data test that
//! judges the tool's tables with it, against `llvm-symbolizer`, is not the tool judging itself.
//!
//! It is as strict as the text allows, so that no byte of the arrays goes unread: counts agree
//! with array sizes, `num_blocks = ⌈num_entries / 64⌉`, each block ends exactly where the next
//! begins and the last at the end of the stream (no padding, no terminator), LEB128s are minimal
//! and at most 5 bytes, offsets strictly increase, lines are never 0, every file id is below
//! `num_files`, ids are first used in order (§2: "in order of first use ... no unused names"),
//! and the names sit back to back, NUL-terminated, in id order.

use std::collections::HashMap;

use super::blob::Entry;
use super::v7blob::decode_block;
use object::{Object, ObjectSection, ObjectSymbol};

/// A decoded vmlinux table: entries by offset from `_text`, and the file names by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmTable {
    pub entries: Vec<Entry>,
    pub names: Vec<String>,
}

/// The bytes of each `lineinfo_*` symbol, as the table object (or a linked image) holds them.
#[derive(Clone, Debug, Default)]
pub struct Arrays {
    pub symbols: HashMap<String, Vec<u8>>,
    pub big_endian: bool,
}

impl Arrays {
    /// Every `lineinfo_*` symbol of the ELF file `elf` with its bytes (`st_size` of them, read
    /// from its section: an offset in an `ET_REL` object, an address in a linked image).
    pub fn of_elf(elf: &[u8]) -> Result<Arrays, String> {
        let file = object::File::parse(elf).map_err(|e| format!("not an ELF file: {e}"))?;
        let mut symbols = HashMap::new();
        for sym in file.symbols() {
            let Ok(name) = sym.name() else { continue };
            if !name.starts_with("lineinfo_") {
                continue;
            }
            let index = sym
                .section_index()
                .ok_or_else(|| format!("{name}: not defined in a section"))?;
            let section = file.section_by_index(index).map_err(|e| e.to_string())?;
            let data = section.data().map_err(|e| e.to_string())?;
            let at = (sym.address() - section.address()) as usize;
            let bytes = data
                .get(at..at + sym.size() as usize)
                .ok_or_else(|| format!("{name}: past its section"))?;
            symbols.insert(name.to_string(), bytes.to_vec());
        }
        Ok(Arrays {
            symbols,
            big_endian: !file.is_little_endian(),
        })
    }

    fn get(&self, name: &str) -> Result<&[u8], String> {
        self.symbols
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("no symbol {name}"))
    }

    fn u32s(&self, name: &str) -> Result<Vec<u32>, String> {
        let bytes = self.get(name)?;
        if bytes.len() % 4 != 0 {
            return Err(format!("{name}: {} bytes, not a u32 array", bytes.len()));
        }
        Ok(bytes
            .chunks(4)
            .map(|c| {
                let c = c.try_into().expect("4 bytes");
                if self.big_endian {
                    u32::from_be_bytes(c)
                } else {
                    u32::from_le_bytes(c)
                }
            })
            .collect())
    }

    fn u32(&self, name: &str) -> Result<u32, String> {
        match self.u32s(name)?[..] {
            [v] => Ok(v),
            ref other => Err(format!("{name}: {} u32s, not one", other.len())),
        }
    }
}

/// Decodes the arrays of layout v1 (`v7 == false`) or v7; `Err` names the first problem.
pub fn decode(a: &Arrays, v7: bool) -> Result<VmTable, String> {
    let sized = ["lineinfo_data_size", "lineinfo_filenames_size"];
    for name in sized {
        if a.symbols.contains_key(name) != v7 {
            return Err(format!(
                "{name} {} in a v{} table",
                if v7 { "missing" } else { "present" },
                if v7 { 7 } else { 1 }
            ));
        }
    }
    let (n, nf, nb) = (
        a.u32("lineinfo_num_entries")? as usize,
        a.u32("lineinfo_num_files")? as usize,
        a.u32("lineinfo_num_blocks")? as usize,
    );
    if nb != n.div_ceil(64) {
        return Err(format!("{nb} blocks for {n} entries"));
    }
    let addrs = a.u32s("lineinfo_block_addrs")?;
    let offsets = a.u32s("lineinfo_block_offsets")?;
    if addrs.len() != nb || offsets.len() != nb {
        return Err(format!(
            "{} block addresses and {} block offsets for {nb} blocks",
            addrs.len(),
            offsets.len()
        ));
    }
    let data = a.get("lineinfo_data")?;
    let names = a.get("lineinfo_filenames")?;
    if v7 {
        let (ds, fs) = (
            a.u32("lineinfo_data_size")?,
            a.u32("lineinfo_filenames_size")?,
        );
        if ds as usize != data.len() || fs as usize != names.len() {
            return Err(format!(
                "data_size {ds} for {} bytes, filenames_size {fs} for {} bytes",
                data.len(),
                names.len()
            ));
        }
    }
    let entries = decode_stream(data, &addrs, &offsets, n, v7)?;
    let names = decode_names(names, &a.u32s("lineinfo_file_offsets")?, nf)?;
    check_file_ids(&entries, nf)?;
    Ok(VmTable { entries, names })
}

/// The blocks of §3, back to back from offset 0 to the end of `data`.
fn decode_stream(
    data: &[u8],
    addrs: &[u32],
    offsets: &[u32],
    n: usize,
    v7: bool,
) -> Result<Vec<Entry>, String> {
    let mut entries: Vec<Entry> = Vec::with_capacity(n);
    let mut pos = 0usize;
    for (b, (&addr, &start)) in addrs.iter().zip(offsets).enumerate() {
        if start as usize != pos {
            return Err(format!(
                "block {b} at byte {start}, the previous block ends at {pos}"
            ));
        }
        decode_block(data, &mut pos, (b, addr), n, v7, &mut entries)?;
    }
    if pos != data.len() {
        return Err(format!(
            "the blocks end at byte {pos} of a {}-byte stream",
            data.len()
        ));
    }
    if let Some(e) = entries.iter().find(|e| e.line == 0) {
        return Err(format!("line 0 at {:#x}", e.offset));
    }
    Ok(entries)
}

/// The names, NUL-terminated and back to back in id order: offset i+1 is offset i plus the
/// length of name i and its NUL, the last NUL is the last byte.
fn decode_names(names: &[u8], offsets: &[u32], nf: usize) -> Result<Vec<String>, String> {
    if offsets.len() != nf {
        return Err(format!("{} file offsets for {nf} files", offsets.len()));
    }
    let mut out = Vec::with_capacity(nf);
    let mut expected = 0usize;
    for (i, &at) in offsets.iter().enumerate() {
        if at as usize != expected {
            return Err(format!("name {i} at {at}, expected at {expected}"));
        }
        let rest = &names[expected.min(names.len())..];
        let len = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| format!("name {i} unterminated"))?;
        if len == 0 {
            return Err(format!("name {i} is empty"));
        }
        out.push(String::from_utf8_lossy(&rest[..len]).into_owned());
        expected += len + 1;
    }
    if expected != names.len() {
        return Err(format!(
            "the names end at byte {expected} of {}",
            names.len()
        ));
    }
    Ok(out)
}

/// Every id below `nf`, each used, first used in id order; `nf` itself is a hole (format §1
/// rule 7), never first nor after a hole.
fn check_file_ids(entries: &[Entry], nf: usize) -> Result<(), String> {
    let mut next = 0u32;
    let mut hole = true;
    for e in entries {
        if e.file as usize == nf {
            if hole {
                return Err(format!(
                    "a hole at {:#x} without a line before it",
                    e.offset
                ));
            }
            hole = true;
            continue;
        }
        hole = false;
        if e.file as usize > nf {
            return Err(format!("file id {} of {nf} at {:#x}", e.file, e.offset));
        }
        if e.file > next {
            return Err(format!(
                "file id {} first used at {:#x} before id {next}",
                e.file, e.offset
            ));
        }
        next = next.max(e.file + 1);
    }
    if next as usize != nf {
        return Err(format!("{nf} names, {next} used"));
    }
    Ok(())
}

impl VmTable {
    /// The answer at `offset` from `_text` as §3 says: the last entry at or below it.
    pub fn lookup(&self, offset: u64) -> Option<(&str, u32)> {
        let offset = u32::try_from(offset).ok()?;
        let i = self.entries.partition_point(|e| e.offset <= offset);
        let e = self.entries.get(i.checked_sub(1)?)?;
        Some((self.names.get(e.file as usize)?.as_str(), e.line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table written out by hand from docs/format.md §3 and §4.1, little-endian, two blocks:
    /// entry 0 `a.c:10` at 0x100; entries 1–63 one byte apart, one line further each; entry 64
    /// (block 1) `b/c.h:7` at 0x200; entry 65 `a.c:300` at 0x210.
    fn arrays(v7: bool) -> Arrays {
        let mut data = vec![0x00, 0x0a]; // file 0, line 10
        for _ in 1..64 {
            // delta 1, file +0, line +1: zig-zag 0 and 2 (v1), SLEB 0 and 1 (v7)
            data.extend(if v7 { [1, 0, 1] } else { [1, 0, 2] });
        }
        let block1 = data.len() as u32;
        data.extend([0x01, 0x07]); // file 1, line 7
                                   // delta 0x10, file -1, line +293: zig-zag 1 and 586 = ULEB ca 04 (v1), SLEB 7f a5 02 (v7)
        data.push(0x10);
        data.extend::<&[u8]>(if v7 {
            &[0x7f, 0xa5, 0x02]
        } else {
            &[0x01, 0xca, 0x04]
        });
        let u32s = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let names = b"a.c\0b/c.h\0".to_vec();
        let mut symbols: HashMap<String, Vec<u8>> = [
            ("lineinfo_num_entries", u32s(&[66])),
            ("lineinfo_num_files", u32s(&[2])),
            ("lineinfo_num_blocks", u32s(&[2])),
            ("lineinfo_block_addrs", u32s(&[0x100, 0x200])),
            ("lineinfo_block_offsets", u32s(&[0, block1])),
            ("lineinfo_file_offsets", u32s(&[0, 4])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if v7 {
            symbols.insert("lineinfo_data_size".into(), u32s(&[data.len() as u32]));
            symbols.insert(
                "lineinfo_filenames_size".into(),
                u32s(&[names.len() as u32]),
            );
        }
        symbols.insert("lineinfo_data".into(), data);
        symbols.insert("lineinfo_filenames".into(), names);
        Arrays {
            symbols,
            big_endian: false,
        }
    }

    #[test]
    fn hand_written_tables_decode() {
        for v7 in [false, true] {
            let t = decode(&arrays(v7), v7).unwrap();
            assert_eq!(t.names, ["a.c", "b/c.h"]);
            assert_eq!(t.entries.len(), 66);
            let at = |o| t.lookup(o).map(|(f, l)| (f.to_string(), l));
            assert_eq!(at(0xff), None, "below the first entry");
            assert_eq!(at(0x100), Some(("a.c".into(), 10)));
            assert_eq!(at(0x13f), Some(("a.c".into(), 73)));
            assert_eq!(at(0x1ff), Some(("a.c".into(), 73)));
            assert_eq!(at(0x200), Some(("b/c.h".into(), 7)));
            assert_eq!(at(0x20f), Some(("b/c.h".into(), 7)));
            assert_eq!(at(0x210), Some(("a.c".into(), 300)));
            assert_eq!(at(1 << 40), None);
            assert!(decode(&arrays(v7), !v7).is_err(), "the other layout");
        }
    }

    /// No byte of the arrays goes unread: changing any one of them (three ways) is an error or
    /// a different table, never the same table.
    #[test]
    fn every_changed_byte_is_caught() {
        for v7 in [false, true] {
            let good = arrays(v7);
            let want = decode(&good, v7).unwrap();
            let mut names: Vec<&String> = good.symbols.keys().collect();
            names.sort();
            for name in names {
                for at in 0..good.symbols[name].len() {
                    for flip in [0x01u8, 0x40, 0x80] {
                        let mut bad = good.clone();
                        bad.symbols.get_mut(name).unwrap()[at] ^= flip;
                        if let Ok(got) = decode(&bad, v7) {
                            assert_ne!(got, want, "v7 {v7}: {name}[{at}] ^ {flip:#x} unnoticed");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn contract_violations_are_named() {
        let bad = |patch: &dyn Fn(&mut Arrays), want: &str| {
            let mut a = arrays(true);
            patch(&mut a);
            let err = decode(&a, true).unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
        };
        let set = |a: &mut Arrays, k: &str, v: &[u8]| {
            a.symbols.insert(k.to_string(), v.to_vec());
        };
        bad(
            &|a| set(a, "lineinfo_num_blocks", &[3, 0, 0, 0]),
            "3 blocks for 66",
        );
        bad(&|a| set(a, "lineinfo_file_offsets", &[0; 8]), "name 1 at 0");
        bad(
            &|a| set(a, "lineinfo_filenames", b"a.c\0b/c.h"),
            "filenames_size",
        );
        bad(
            &|a| a.symbols.get_mut("lineinfo_data").unwrap().push(0),
            "data_size",
        );
        bad(
            &|a| set(a, "lineinfo_block_addrs", &[0, 1, 0, 0, 0, 1, 0, 0]),
            "not above the last entry",
        );
        bad(
            &|a| a.symbols.get_mut("lineinfo_data").unwrap()[0] = 1,
            "first used",
        );
        bad(
            &|a| a.symbols.get_mut("lineinfo_data").unwrap()[2] = 0,
            "zero address delta",
        );
        bad(
            &|a| {
                a.symbols.remove("lineinfo_filenames_size");
            },
            "missing",
        );
    }
}
