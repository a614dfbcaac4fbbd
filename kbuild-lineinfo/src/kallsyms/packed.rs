//! [`Symbols`](super::Symbols) as bytes, written once and looked up where they lie: what a
//! cache keeps so that the next run on the same image parses no symbol table (a vmlinux has
//! 186,000 text symbols; reading, sorting and hashing them costs more than every lookup of a
//! log). Fixed-size records, so a lookup reads a few of them and nothing else.
//!
//! ```text
//! offset        size       field (integers little-endian)
//!      0           8       magic "KLISYMS1"
//!      8           4       flags: bit 0 set for a relocatable object (keys are section, value)
//!     12           4       count: the number of symbols
//!     16           8       names: the size of the name bytes
//!     24    36·count       records, in kallsyms' order: value u64, size u64 (the kallsyms
//!                          size), st_size u64, section u32, name offset u32, name length u32
//!      …     4·count       by name: record indices sorted by (name bytes, index)
//!      …       names       every distinct name once, in name order, no separator
//! ```
//!
//! The bytes are a function of the symbols alone: the same symbols give the same bytes.

use super::Symbol;

const MAGIC: [u8; 8] = *b"KLISYMS1";
const HEADER: usize = 24;
const RECORD: usize = 36;
const RELOCATABLE: u32 = 1;

/// A packed symbol list, borrowed.
#[derive(Debug)]
pub(super) struct Packed<'a> {
    records: &'a [u8],
    by_name: &'a [u8],
    names: &'a [u8],
    count: usize,
}

impl<'a> Packed<'a> {
    /// The list in `bytes` and whether it is a relocatable object's; an error says what does
    /// not fit the format.
    pub(super) fn parse(bytes: &'a [u8]) -> Result<(Packed<'a>, bool), String> {
        if bytes.len() < HEADER {
            return Err(format!(
                "expected {HEADER} header bytes, found {}",
                bytes.len()
            ));
        }
        if bytes[..8] != MAGIC {
            return Err(format!("bad magic {:02x?}", &bytes[..8]));
        }
        let flags = u32_at(bytes, 8).unwrap_or(u32::MAX);
        if flags & !RELOCATABLE != 0 {
            return Err(format!("unknown flags {flags:#x}"));
        }
        let count = u32_at(bytes, 12).unwrap_or(0) as usize;
        let names = u64_at(bytes, 16).unwrap_or(u64::MAX);
        let expected = (HEADER as u64)
            .saturating_add((count as u64).saturating_mul((RECORD + 4) as u64))
            .saturating_add(names);
        if expected != bytes.len() as u64 {
            return Err(format!(
                "{count} symbols and {names} name bytes take {expected} bytes, found {}",
                bytes.len()
            ));
        }
        let (records, rest) = bytes[HEADER..].split_at(count * RECORD);
        let (by_name, names) = rest.split_at(count * 4);
        let packed = Packed {
            records,
            by_name,
            names,
            count,
        };
        Ok((packed, flags & RELOCATABLE != 0))
    }

    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// The `i`-th record: its name and symbol. `None` past the end, or when its name does not
    /// lie in the name bytes.
    pub(super) fn record(&self, i: usize) -> Option<(&'a [u8], Symbol)> {
        let r = self.records.get(i.checked_mul(RECORD)?..)?.get(..RECORD)?;
        let name_at = u32_at(r, 28)? as usize;
        let name = self.names.get(name_at..)?.get(..u32_at(r, 32)? as usize)?;
        let symbol = Symbol {
            value: u64_at(r, 0)?,
            size: u64_at(r, 8)?,
            st_size: u64_at(r, 16)?,
            section: u32_at(r, 24)? as usize,
        };
        Some((name, symbol))
    }

    /// The `k`-th record in name order.
    fn by_name(&self, k: usize) -> Option<(&'a [u8], Symbol)> {
        self.record(u32_at(self.by_name, k.checked_mul(4)?)? as usize)
    }

    /// The first position in name order whose name is not below `name`.
    fn lower_bound(&self, name: &[u8]) -> usize {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.by_name(mid).is_some_and(|(n, _)| n < name) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// `name` as the list spells it, when a symbol has it.
    pub(super) fn name(&self, name: &[u8]) -> Option<&'a [u8]> {
        let (found, _) = self.by_name(self.lower_bound(name))?;
        (found == name).then_some(found)
    }

    /// Every symbol called `name`, in kallsyms' order.
    pub(super) fn named(&self, name: &[u8]) -> Vec<Symbol> {
        (self.lower_bound(name)..self.count)
            .map_while(|k| self.by_name(k).filter(|&(n, _)| n == name))
            .map(|(_, s)| s)
            .collect()
    }

    /// How many distinct names there are.
    #[cfg(test)]
    pub(super) fn distinct_names(&self) -> usize {
        let mut names: Vec<&[u8]> = (0..self.count)
            .filter_map(|k| self.by_name(k))
            .map(|(n, _)| n)
            .collect();
        names.dedup();
        names.len()
    }
}

/// The bytes of `places` (kallsyms' order), as [`Packed::parse`] reads them; `None` when a
/// section index, the name bytes or the count do not fit in 32 bits.
pub(super) fn write(places: &[(&[u8], Symbol)], relocatable: bool) -> Option<Vec<u8>> {
    let count = u32::try_from(places.len()).ok()?;
    let mut by_name: Vec<(&[u8], u32)> = places
        .iter()
        .zip(0..count)
        .map(|(&(name, _), i)| (name, i))
        .collect();
    by_name.sort_unstable();
    // Each distinct name once, in name order: (offset, length) per record.
    let mut names = Vec::new();
    let mut spelled = vec![(0u32, 0u32); places.len()];
    let mut last: Option<(&[u8], u32)> = None;
    for &(name, i) in &by_name {
        let at = match last {
            Some((previous, at)) if previous == name => at,
            _ => {
                let at = u32::try_from(names.len()).ok()?;
                names.extend_from_slice(name);
                last = Some((name, at));
                at
            }
        };
        spelled[i as usize] = (at, u32::try_from(name.len()).ok()?);
    }
    u32::try_from(names.len()).ok()?;
    let mut out = Vec::with_capacity(HEADER + places.len() * (RECORD + 4) + names.len());
    out.extend_from_slice(&MAGIC);
    let flags = if relocatable { RELOCATABLE } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(names.len() as u64).to_le_bytes());
    for (&(_, s), &(at, len)) in places.iter().zip(&spelled) {
        out.extend_from_slice(&s.value.to_le_bytes());
        out.extend_from_slice(&s.size.to_le_bytes());
        out.extend_from_slice(&s.st_size.to_le_bytes());
        out.extend_from_slice(&u32::try_from(s.section).ok()?.to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    for &(_, i) in &by_name {
        out.extend_from_slice(&i.to_le_bytes());
    }
    out.extend_from_slice(&names);
    Some(out)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..)?.get(..4)?.try_into().ok()?,
    ))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        bytes.get(at..)?.get(..8)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::Symbols;
    use super::*;

    fn symbol(section: usize, value: u64, size: u64, st_size: u64) -> Symbol {
        Symbol {
            section,
            value,
            size,
            st_size,
        }
    }

    /// Two symbols `b` (one name, two places), then `a`: the records, the name order, the
    /// names once each.
    #[test]
    fn bytes_are_the_documented_layout() {
        let places = [
            (&b"b"[..], symbol(1, 0x10, 0x10, 0)),
            (b"a", symbol(1, 0x20, 0x8, 0x8)),
            (b"b", symbol(2, 0x30, 0x4, 0x4)),
        ];
        let bytes = write(&places, true).unwrap();
        let mut expected = b"KLISYMS1".to_vec();
        expected.extend([1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        let record = |v: u64, size: u64, st: u64, section: u32, at: u32| {
            let mut r = Vec::new();
            for x in [v, size, st] {
                r.extend(x.to_le_bytes());
            }
            for x in [section, at, 1] {
                r.extend(x.to_le_bytes());
            }
            r
        };
        expected.extend(record(0x10, 0x10, 0, 1, 1));
        expected.extend(record(0x20, 0x8, 0x8, 1, 0));
        expected.extend(record(0x30, 0x4, 0x4, 2, 1));
        expected.extend([1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]);
        expected.extend(b"ab");
        assert_eq!(bytes, expected);
        let (packed, relocatable) = Packed::parse(&bytes).unwrap();
        assert!(relocatable);
        assert_eq!(packed.named(b"b"), [places[0].1, places[2].1]);
        assert_eq!(packed.named(b"a"), [places[1].1]);
        assert_eq!(packed.named(b"c"), []);
        assert_eq!(packed.name(b"a"), Some(&b"a"[..]));
        assert_eq!(packed.name(b""), None);
        assert_eq!(packed.record(1), Some(places[1]));
        assert_eq!(packed.record(3), None);
    }

    #[test]
    fn what_is_not_a_list_says_why() {
        let bytes = write(&[(&b"f"[..], symbol(0, 1, 2, 3))], false).unwrap();
        let mut other = bytes.clone();
        other[0] = b'X';
        let mut flags = bytes.clone();
        flags[8] = 2;
        let cases: [(&[u8], &str); 5] = [
            (&bytes[..10], "expected 24 header bytes, found 10"),
            (
                &bytes[..bytes.len() - 1],
                "1 symbols and 1 name bytes take 65 bytes, found 64",
            ),
            (
                &[bytes.as_slice(), b"x"].concat(),
                "1 symbols and 1 name bytes take 65 bytes, found 66",
            ),
            (&other, "bad magic"),
            (&flags, "unknown flags 0x2"),
        ];
        for (bytes, why) in cases {
            let err = Packed::parse(bytes).unwrap_err();
            assert!(err.starts_with(why), "{err:?} should start with {why:?}");
        }
        // Damage inside a record that keeps the lengths: no panic, no name.
        let mut damaged = bytes.clone();
        damaged[HEADER + 28] = 0xff;
        let symbols = Symbols::from_packed(&damaged).unwrap();
        assert_eq!(symbols.resolve(b"f", None), []);
        assert_eq!(symbols.containing(0, 1), None);
    }

    /// An image's symbols and their packed copy answer every question alike.
    #[test]
    fn packed_symbols_answer_as_the_image_does() {
        use crate::image::tests::{build, sections};
        let func = object::elf::STT_FUNC.0;
        let symbols = [
            (&b"__x"[..], 1, 0x1010, func),
            (b"x", 1, 0x1010, func),
            (b"y", 1, 0x1020, func),
            (b"dup", 1, 0x1030, func),
            (b"dup", 1, 0x1040, func),
            (b"z", 1, 0x1050, func),
        ];
        let data = build(2, 62, crate::Endian::Little, true, &sections(), &symbols);
        let parsed = Symbols::parse(&data).unwrap();
        let bytes = parsed.to_packed().unwrap();
        let packed = Symbols::from_packed(&bytes).unwrap();
        assert_eq!(packed.to_packed().unwrap(), bytes, "the same bytes again");
        assert_eq!(packed.len(), parsed.len());
        for name in [&b"__x"[..], b"x", b"y", b"dup", b"z", b"nope", b""] {
            for size in [None, Some(0x10), Some(0x20), Some(0xb0)] {
                assert_eq!(packed.resolve(name, size), parsed.resolve(name, size));
            }
            assert_eq!(packed.name(name), parsed.name(name));
        }
        for value in 0x1000..0x1110 {
            assert_eq!(packed.containing(7, value), parsed.containing(7, value));
        }
    }
}
