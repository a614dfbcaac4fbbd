//! [`Symbols`](super::Symbols) as bytes, written once and looked up where they lie: what a
//! cache keeps so that the next run on the same image parses no symbol table (a vmlinux has
//! 186,000 text symbols; reading, sorting and hashing them costs more than every lookup of a
//! log). Fixed-size records and a hash table of names, so a lookup reads a few of them and
//! nothing else.
//!
//! ```text
//! offset        size       field (integers little-endian)
//!      0           8       magic "KLISYMS1"
//!      8           4       flags: bit 0 set for a relocatable object (keys are section, value)
//!     12           4       count: the number of symbols
//!     16           8       names: the size of the name bytes
//!     24           4       buckets: the size of the name table, a power of two
//!     28           4       zero
//!     32    40·count       records, in kallsyms' order: value u64, size u64 (the kallsyms
//!                          size), st_size u64, section u32, name offset u32, name length
//!                          u32, next u32 (the record of the next symbol of the same name,
//!                          0xffffffff after the last)
//!      …   4·buckets       name table: 1 + the record of the first symbol of a name, 0 for
//!                          none; a name's bucket is its FNV-1a 64-bit hash modulo `buckets`,
//!                          taken, the next one (linear probing, wrapping)
//!      …       names       every distinct name once, in kallsyms' order of first use, no
//!                          separator
//! ```
//!
//! The bytes are a function of the symbols alone: the same symbols give the same bytes.

use super::Symbol;

const MAGIC: [u8; 8] = *b"KLISYMS1";
const HEADER: usize = 32;
const RECORD: usize = 40;
const RELOCATABLE: u32 = 1;
/// `next` of the last symbol of a name.
const LAST: u32 = u32::MAX;

/// A packed symbol list, borrowed.
#[derive(Debug)]
pub(super) struct Packed<'a> {
    records: &'a [u8],
    buckets: &'a [u8],
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
        let buckets = u32_at(bytes, 24).unwrap_or(0) as usize;
        if !buckets.is_power_of_two() {
            return Err(format!("{buckets} buckets, not a power of two"));
        }
        let expected = (HEADER as u64)
            .saturating_add((count as u64).saturating_mul(RECORD as u64))
            .saturating_add(4 * buckets as u64)
            .saturating_add(names);
        if expected != bytes.len() as u64 {
            return Err(format!(
                "{count} symbols, {buckets} buckets and {names} name bytes take {expected} \
                 bytes, found {}",
                bytes.len()
            ));
        }
        let (records, rest) = bytes[HEADER..].split_at(count * RECORD);
        let (buckets, names) = rest.split_at(4 * buckets);
        let packed = Packed {
            records,
            buckets,
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
        let r = self.raw(i)?;
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

    fn raw(&self, i: usize) -> Option<&'a [u8]> {
        self.records.get(i.checked_mul(RECORD)?..)?.get(..RECORD)
    }

    /// The `next` of the `i`-th record.
    pub(super) fn next(&self, i: usize) -> u32 {
        self.raw(i).and_then(|r| u32_at(r, 36)).unwrap_or(LAST)
    }

    /// The record of the first symbol called `name`.
    fn first(&self, name: &[u8]) -> Option<usize> {
        let buckets = self.buckets.len() / 4;
        let mut at = fnv1a(name) as usize & (buckets - 1);
        // Every bucket at most once, whatever damage the table has.
        for _ in 0..buckets {
            let i = (u32_at(self.buckets, 4 * at)? as usize).checked_sub(1)?;
            if self.record(i).is_some_and(|(n, _)| n == name) {
                return Some(i);
            }
            at = (at + 1) & (buckets - 1);
        }
        None
    }

    /// `name` as the list spells it, when a symbol has it.
    pub(super) fn name(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.record(self.first(name)?).map(|(n, _)| n)
    }

    /// Every symbol called `name`, in kallsyms' order.
    pub(super) fn named(&self, name: &[u8]) -> Vec<Symbol> {
        let mut all = Vec::new();
        let mut at = self.first(name);
        // A chain of `count` at most, whatever damage it has.
        while let Some(i) = at.filter(|_| all.len() < self.count) {
            let Some((_, symbol)) = self.record(i) else {
                break;
            };
            all.push(symbol);
            at = Some(self.next(i))
                .filter(|&next| next != LAST)
                .map(|next| next as usize);
        }
        all
    }

    /// How many distinct names there are.
    #[cfg(test)]
    pub(super) fn distinct_names(&self) -> usize {
        self.buckets
            .chunks(4)
            .filter(|b| b.iter().any(|&x| x != 0))
            .count()
    }
}

/// FNV-1a, 64 bits: the name table's hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The bytes of `places` (kallsyms' order), as [`Packed::parse`] reads them, where `next[i]`
/// is the next place of the name of place `i` ([`LAST`] after the last: [`Symbols`]' chains;
/// a chain that loops or leaves the places ends there); `None` when a section index, the name
/// bytes or the count do not fit in 32 bits.
///
/// [`Symbols`]: super::Symbols
pub(super) fn write(
    places: &[(&[u8], Symbol)],
    next: &[u32],
    relocatable: bool,
) -> Option<Vec<u8>> {
    let count = u32::try_from(places.len()).ok().filter(|&c| c != LAST)?;
    // Per place: where its name lies and the next place of that name; each name written once,
    // at its first place, for every place of its chain.
    let mut names = Vec::new();
    let mut spelled: Vec<Option<(u32, u32, u32)>> = vec![None; places.len()];
    let mut firsts = Vec::new();
    for (i, &(name, _)) in places.iter().enumerate() {
        if spelled[i].is_some() {
            continue;
        }
        let at = u32::try_from(names.len()).ok()?;
        let len = u32::try_from(name.len()).ok()?;
        names.extend_from_slice(name);
        firsts.push(i as u32);
        let mut j = i;
        loop {
            let after = next.get(j).copied().unwrap_or(LAST);
            let after = match places.get(after as usize) {
                Some(_) if spelled[after as usize].is_none() && after as usize != j => after,
                _ => LAST,
            };
            spelled[j] = Some((at, len, after));
            if after == LAST {
                break;
            }
            j = after as usize;
        }
    }
    u32::try_from(names.len()).ok()?;
    let buckets = (2 * firsts.len()).max(1).next_power_of_two();
    let mut table = vec![0u32; buckets];
    for &i in &firsts {
        let mut at = fnv1a(places[i as usize].0) as usize & (buckets - 1);
        while table[at] != 0 {
            at = (at + 1) & (buckets - 1);
        }
        table[at] = i + 1;
    }
    let mut out = Vec::with_capacity(HEADER + places.len() * RECORD + 4 * buckets + names.len());
    out.extend_from_slice(&MAGIC);
    let flags = if relocatable { RELOCATABLE } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(names.len() as u64).to_le_bytes());
    out.extend_from_slice(&u32::try_from(buckets).ok()?.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for (&(_, s), spelled) in places.iter().zip(&spelled) {
        let (at, len, next) = (*spelled)?;
        out.extend_from_slice(&s.value.to_le_bytes());
        out.extend_from_slice(&s.size.to_le_bytes());
        out.extend_from_slice(&s.st_size.to_le_bytes());
        out.extend_from_slice(&u32::try_from(s.section).ok()?.to_le_bytes());
        for x in [at, len, next] {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    for b in table {
        out.extend_from_slice(&b.to_le_bytes());
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

    /// `b` (one name, two places) and `a`: the records (names once each, `b`'s chain), the
    /// name table (4 buckets, each 1 + the record of the name hashed there), the names.
    #[test]
    fn bytes_are_the_documented_layout() {
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"b"), 0xaf63_df4c_8601_f1a5);
        let places = [
            (&b"b"[..], symbol(1, 0x10, 0x10, 0)),
            (b"a", symbol(1, 0x20, 0x8, 0x8)),
            (b"b", symbol(2, 0x30, 0x4, 0x4)),
        ];
        let bytes = write(&places, &[2, LAST, LAST], true).unwrap();
        let mut expected = b"KLISYMS1".to_vec();
        expected.extend([1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend([4, 0, 0, 0, 0, 0, 0, 0]);
        let record = |v: u64, size: u64, st: u64, fields: [u32; 4]| {
            let mut r = Vec::new();
            for x in [v, size, st] {
                r.extend(x.to_le_bytes());
            }
            for x in fields {
                r.extend(x.to_le_bytes());
            }
            r
        };
        expected.extend(record(0x10, 0x10, 0, [1, 0, 1, 2]));
        expected.extend(record(0x20, 0x8, 0x8, [1, 1, 1, LAST]));
        expected.extend(record(0x30, 0x4, 0x4, [2, 0, 1, LAST]));
        // a (record 1) in bucket 0 (0x...8c & 3), b (record 0) in bucket 1 (0x...a5 & 3).
        expected.extend([2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend(b"ba");
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
        assert_eq!(packed.distinct_names(), 2);
    }

    #[test]
    fn what_is_not_a_list_says_why() {
        let bytes = write(&[(&b"f"[..], symbol(0, 1, 2, 3))], &[LAST], false).unwrap();
        let mut other = bytes.clone();
        other[0] = b'X';
        let mut flags = bytes.clone();
        flags[8] = 2;
        let mut buckets = bytes.clone();
        buckets[24] = 3;
        let long = [bytes.as_slice(), b"x"].concat();
        let cases: [(&[u8], &str); 6] = [
            (&bytes[..10], "expected 32 header bytes, found 10"),
            (
                &bytes[..bytes.len() - 1],
                "1 symbols, 2 buckets and 1 name bytes take 81 bytes, found 80",
            ),
            (
                &long,
                "1 symbols, 2 buckets and 1 name bytes take 81 bytes, found 82",
            ),
            (&other, "bad magic"),
            (&flags, "unknown flags 0x2"),
            (&buckets, "3 buckets, not a power of two"),
        ];
        for (bytes, why) in cases {
            let err = Packed::parse(bytes).unwrap_err();
            assert!(err.starts_with(why), "{err:?} should start with {why:?}");
        }
        // Damage that keeps the lengths: no panic, no endless probe or chain.
        for (at, what) in [(HEADER + 28, "name offset"), (HEADER + 36, "next")] {
            let mut damaged = bytes.clone();
            damaged[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
            damaged[HEADER + RECORD..HEADER + RECORD + 8].fill(1);
            let symbols = Symbols::from_packed(&damaged).unwrap();
            let _ = symbols.resolve(b"f", None);
            assert_eq!(symbols.containing(0, 0), None, "{what}");
        }
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
