//! Text symbols as kallsyms prints them, found again by name: where a printed
//! `name+0xOFF/0xSIZE` starts, whatever KASLR or the module loader did at run time.
//!
//! Read from an ELF image's static symbol table (`.symtab`): a linked vmlinux (values are
//! addresses) or a relocatable `.ko` (values are offsets in their section). A symbol is what
//! kallsyms shows for code, by the one rule of [`crate::image::kallsyms_text_start`]: a named
//! function or untyped symbol defined in an executable allocated section, not a mapping symbol
//! or local label (`$x`, `.L…`), the ARM Thumb bit of a function cleared. Its *size* is the kallsyms
//! one: the distance to the next symbol start (in a `.ko`, within the same section; the last
//! symbol of a section reaches its end). A name can occur several times (static functions);
//! [`Symbols::resolve`] narrows them with the printed size.

// A debug vmlinux has 186,000 text symbols, all hashed by name on every run: foldhash's fast
// hasher (names are not chosen by an attacker) instead of SipHash.
use foldhash::HashMap;

use object::{Object, ObjectSection, SectionFlags};

#[cfg(test)]
use crate::error::Result;
use crate::image;
use crate::sysmap::SystemMap;
use packed::Packed;

mod packed;

/// The end of a chain of [`Symbols`]' `same_name`.
const END: u32 = u32::MAX;

/// One text symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol {
    /// The ELF section index of its section.
    pub section: usize,
    /// Its address (linked image) or offset in `section` (relocatable object).
    pub value: u64,
    /// The size kallsyms prints: up to the next symbol start.
    pub size: u64,
    /// Its `st_size`.
    pub st_size: u64,
}

impl Symbol {
    /// The most an offset into the symbol can be and still lie inside it.
    pub fn extent(&self) -> u64 {
        self.size.max(self.st_size)
    }
}

/// Every text symbol of an image, by name and by place.
#[derive(Debug, Default)]
pub struct Symbols<'a> {
    index: Index<'a>,
    relocatable: bool,
}

/// Where [`Symbols`] keeps its symbols.
#[derive(Debug)]
enum Index<'a> {
    /// Read from an image or a System.map.
    Built(Built<'a>),
    /// Read back from the bytes [`Symbols::to_packed`] wrote, looked up in place.
    Packed(Packed<'a>),
}

impl Default for Index<'_> {
    fn default() -> Self {
        Index::Built(Built::default())
    }
}

#[derive(Debug, Default)]
struct Built<'a> {
    /// Name → index in `by_place` of the first symbol of that name.
    by_name: HashMap<&'a [u8], u32>,
    /// Per index in `by_place`: the index of the next symbol of the same name, [`END`] after
    /// the last (one allocation for all names: a vmlinux has 100,000).
    same_name: Vec<u32>,
    /// kallsyms' order: by (section of a `.ko`, value); among symbols at one start, the one
    /// kallsyms prints first.
    by_place: Vec<(&'a [u8], Symbol)>,
}

impl<'a> Symbols<'a> {
    /// Reads the text symbols of an ELF image (32 or 64 bit, either byte order).
    #[cfg(test)]
    pub(crate) fn parse(data: &'a [u8]) -> Result<Symbols<'a>> {
        let file = object::File::parse(data)?;
        Ok(Self::from_file(&file))
    }

    /// The text symbols of a parsed ELF image (32 or 64 bit, either byte order); nothing for
    /// another format.
    pub fn from_file(file: &object::File<'a>) -> Symbols<'a> {
        let relocatable = file.kind() == object::ObjectKind::Relocatable;
        // The code sections, by section index: where they end.
        let mut code = Vec::new();
        for s in file.sections() {
            if let SectionFlags::Elf { sh_flags, .. } = s.flags() {
                if image::is_kallsyms_text_section(sh_flags.0) {
                    let index = s.index().0;
                    code.resize(code.len().max(index + 1), None);
                    code[index] = Some(s.address().saturating_add(s.size()));
                }
            }
        }
        // The one walk of the symbol table (a symbol that cannot be read is left out here).
        let rank = |t: &image::TextSymbol<'a>| {
            // scripts/kallsyms' compare_symbols(): at one address, weak symbols and names with
            // more leading underscores come later. A module's kallsyms keeps the symbol
            // table's order (find_kallsyms_symbol() takes the first).
            match relocatable {
                true => (false, 0),
                false => (t.weak, t.name.iter().take_while(|&&b| b == b'_').count()),
            }
        };
        let start = |t: image::TextSymbol<'a>| {
            let symbol = Symbol {
                section: t.start.section,
                value: t.start.value,
                size: 0,
                st_size: t.st_size,
            };
            (t.name, symbol, rank(&t))
        };
        let all: Vec<(&'a [u8], Symbol, (bool, usize))> = match file {
            object::File::Elf32(elf) => image::text_symbol_walk(elf)
                .flatten()
                .flatten()
                .map(start)
                .collect(),
            object::File::Elf64(elf) => image::text_symbol_walk(elf)
                .flatten()
                .flatten()
                .map(start)
                .collect(),
            _ => Vec::new(),
        };
        Self::from_starts(all, relocatable, |section| {
            code.get(section).copied().flatten()
        })
    }

    /// The text symbols of a System.map (a linked image's, so one address space): kallsyms'
    /// text (`t`, `T`, weak `W`) by its rule of order; the last one's size reaches `end`
    /// (`_etext`, say) when that lies above it. No `st_size`: 0.
    pub fn from_map(map: &SystemMap<'a>, end: Option<u64>) -> Symbols<'a> {
        let all = map
            .symbols()
            .iter()
            .filter(|s| s.is_text())
            .map(|s| {
                let symbol = Symbol {
                    section: 0,
                    value: s.address,
                    size: 0,
                    st_size: 0,
                };
                let underscores = s.name.iter().take_while(|&&b| b == b'_').count();
                (s.name, symbol, (s.is_weak(), underscores))
            })
            .collect();
        Self::from_starts(all, false, |_| end)
    }

    /// Orders `all` as kallsyms does (by address, a `.ko`'s by section then offset; then by
    /// `rank`) and gives each the kallsyms size: up to the next distinct start (in a `.ko`,
    /// within its section), the last one up to `section_end` of its section.
    fn from_starts(
        all: Vec<(&'a [u8], Symbol, (bool, usize))>,
        relocatable: bool,
        section_end: impl Fn(usize) -> Option<u64>,
    ) -> Symbols<'a> {
        let key = |s: &Symbol| {
            if relocatable {
                (s.section, s.value)
            } else {
                (0, s.value)
            }
        };
        // Sorted by (key, rank), equal ones in the input's order (the symbol table's): two
        // integers per symbol, the second ending with its index, sort as fast as a vmlinux's
        // 186,000 symbols allow. A rank is (weak, leading underscores), 0 in a `.ko`; the
        // index takes 32 bits (a symbol table of 2^32 symbols would be a 96 GiB file).
        let mut order: Vec<(u128, u64)> = all
            .iter()
            .enumerate()
            .map(|(i, &(_, s, (weak, underscores)))| {
                let (section, value) = key(&s);
                let i = i as u64;
                let rank = (u64::from(weak) << 63) | ((underscores as u64).min(0x7fff_ffff) << 32);
                ((section as u128) << 64 | u128::from(value), rank | i)
            })
            .collect();
        order.sort_unstable();
        let mut all: Vec<(&'a [u8], Symbol)> = order
            .into_iter()
            .map(|(_, i)| {
                let (name, symbol, _) = all[(i & 0xffff_ffff) as usize];
                (name, symbol)
            })
            .collect();
        // Symbols at the same start share the size to the next distinct start.
        let mut prev: Option<(usize, u64)> = None;
        let mut next = None;
        for (_, s) in all.iter_mut().rev() {
            if prev != Some(key(s)) {
                next = prev;
                prev = Some(key(s));
            }
            let end = section_end(s.section).unwrap_or(s.value);
            let limit = match next {
                Some(n) if !relocatable || n.0 == s.section => n.1,
                _ => end.max(s.value),
            };
            s.size = limit - s.value;
        }
        let mut by_name = HashMap::with_capacity_and_hasher(all.len(), Default::default());
        let mut same_name = vec![END; all.len()];
        // Backwards, so that each name's chain runs in kallsyms' order.
        for (i, &(name, _)) in all.iter().enumerate().rev() {
            if let Some(next) = by_name.insert(name, i as u32) {
                same_name[i] = next;
            }
        }
        Symbols {
            index: Index::Built(Built {
                by_name,
                same_name,
                by_place: all,
            }),
            relocatable,
        }
    }

    /// The symbols of the bytes [`to_packed`](Self::to_packed) wrote, looked up where they
    /// lie (nothing is read until asked for: a warm `annotate` on a vmlinux parses none of
    /// its 186,000 symbols). Bytes that are not such a list are an error saying why; damage
    /// inside records that keeps the lengths right gives wrong answers, never a panic (the
    /// caller checksums what it stored).
    pub fn from_packed(bytes: &'a [u8]) -> std::result::Result<Symbols<'a>, String> {
        let (packed, relocatable) = Packed::parse(bytes)?;
        Ok(Symbols {
            index: Index::Packed(packed),
            relocatable,
        })
    }

    /// The symbols as bytes for [`from_packed`](Self::from_packed) (the format is
    /// `kallsyms/packed.rs`'s), the same bytes for the same symbols. `None` when a value
    /// does not fit the format (a name offset or a section index past 32 bits).
    pub fn to_packed(&self) -> Option<Vec<u8>> {
        match &self.index {
            Index::Built(b) => packed::write(&b.by_place, &b.same_name, self.relocatable),
            Index::Packed(p) => {
                let places: Vec<(&[u8], Symbol)> =
                    (0..self.places()).map_while(|i| self.place(i)).collect();
                let next: Vec<u32> = (0..places.len()).map(|i| p.next(i)).collect();
                packed::write(&places, &next, self.relocatable)
            }
        }
    }

    /// How many symbols there are.
    fn places(&self) -> usize {
        match &self.index {
            Index::Built(b) => b.by_place.len(),
            Index::Packed(p) => p.len(),
        }
    }

    /// The `i`-th symbol in kallsyms' order.
    fn place(&self, i: usize) -> Option<(&'a [u8], Symbol)> {
        match &self.index {
            Index::Built(b) => b.by_place.get(i).copied(),
            Index::Packed(p) => p.record(i),
        }
    }

    /// The first index in `..end` of kallsyms' order whose symbol `pred` rejects (`pred` holds
    /// for a prefix).
    fn partition_point(&self, end: usize, pred: impl Fn(&Symbol) -> bool) -> usize {
        let (mut low, mut high) = (0, end);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.place(mid).is_some_and(|(_, s)| pred(&s)) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// The symbol kallsyms resolves at `value` (an address of a linked image; an offset in
    /// `section` of a `.ko`, where `section` is ignored otherwise): the last start at or below
    /// it, the first kallsyms lists of several at that start. `None` below the first symbol and
    /// past the end of the last (its section's end).
    pub fn containing(&self, section: usize, value: u64) -> Option<(&'a [u8], Symbol)> {
        let section = if self.relocatable { section } else { 0 };
        let key = |s: &Symbol| (if self.relocatable { s.section } else { 0 }, s.value);
        let i = self.partition_point(self.places(), |s| key(s) <= (section, value));
        let (_, last) = self.place(i.checked_sub(1)?)?;
        if key(&last).0 != section || value - last.value >= last.size.max(1) {
            return None;
        }
        let first = self.partition_point(i, |s| key(s) < key(&last));
        self.place(first)
    }

    /// `name` as the image spells it, when a text symbol has it.
    pub fn name(&self, name: &[u8]) -> Option<&'a [u8]> {
        match &self.index {
            Index::Built(b) => b.by_name.get_key_value(name).map(|(&k, _)| k),
            Index::Packed(p) => p.name(name),
        }
    }

    /// The symbols called `name` that a frame printed with `size` can mean: those whose
    /// kallsyms size is `size`; else those whose `st_size` is; else the only one of that name.
    /// Empty when the name is unknown or several symbols remain possible on no evidence.
    /// Without a size, every symbol of that name.
    pub fn resolve(&self, name: &[u8], size: Option<u64>) -> Vec<Symbol> {
        let all = self.named(name);
        let Some(size) = size else {
            return all;
        };
        let exact: Vec<Symbol> = all.iter().copied().filter(|s| s.size == size).collect();
        if !exact.is_empty() {
            return exact;
        }
        let st: Vec<Symbol> = all.iter().copied().filter(|s| s.st_size == size).collect();
        if !st.is_empty() || all.len() > 1 {
            return st;
        }
        all
    }

    /// Every symbol called `name`, in kallsyms' order.
    fn named(&self, name: &[u8]) -> Vec<Symbol> {
        let b = match &self.index {
            Index::Built(b) => b,
            Index::Packed(p) => return p.named(name),
        };
        let mut all = Vec::new();
        let mut at = b.by_name.get(name).copied().unwrap_or(END);
        while let Some(&(_, s)) = b.by_place.get(at as usize) {
            all.push(s);
            at = b.same_name[at as usize];
        }
        all
    }

    /// How many distinct names there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        match &self.index {
            Index::Built(b) => b.by_name.len(),
            Index::Packed(p) => p.distinct_names(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::write::{Object as WObject, StandardSection, Symbol as WSymbol, SymbolSection};
    use object::{Architecture, BinaryFormat, Endianness, SymbolFlags, SymbolKind, SymbolScope};

    fn object_with(symbols: &[(&str, u64, u64)], text_len: usize) -> Vec<u8> {
        let mut obj = WObject::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
        let text = obj.section_id(StandardSection::Text);
        obj.append_section_data(text, &vec![0x90; text_len], 16);
        for &(name, value, size) in symbols {
            obj.add_symbol(WSymbol {
                name: name.as_bytes().to_vec(),
                value,
                size,
                kind: SymbolKind::Text,
                scope: SymbolScope::Compilation,
                weak: false,
                section: SymbolSection::Section(text),
                flags: SymbolFlags::None,
            });
        }
        obj.write().unwrap()
    }

    #[test]
    fn sizes_and_duplicates() {
        let data = object_with(
            &[
                ("a", 0, 0x10),
                ("b", 0x20, 0x8),
                ("dup", 0x30, 0x10),
                ("dup", 0x50, 0x30),
                ("$x", 0x60, 0),
            ],
            0x80,
        );
        let symbols = Symbols::parse(&data).unwrap();
        let a = symbols.resolve(b"a", Some(0x20));
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].value, a[0].size, a[0].st_size), (0, 0x20, 0x10));
        assert_eq!(
            symbols.resolve(b"a", Some(0x10)).len(),
            1,
            "st_size matches"
        );
        assert_eq!(
            symbols.resolve(b"a", Some(0x99)).len(),
            1,
            "the only one of its name"
        );
        assert_eq!(symbols.resolve(b"dup", Some(0x20))[0].value, 0x30);
        assert_eq!(
            symbols.resolve(b"dup", Some(0x30))[0].value,
            0x50,
            "last symbol: to the section end"
        );
        assert!(symbols.resolve(b"dup", Some(0x99)).is_empty(), "ambiguous");
        assert!(
            symbols.resolve(b"$x", Some(0x20)).is_empty(),
            "mapping symbol"
        );
        assert!(symbols.resolve(b"nope", Some(0x20)).is_empty());
    }

    #[test]
    fn containing_is_the_symbol_kallsyms_prints() {
        let data = object_with(&[("__a", 0x10, 0), ("a", 0x10, 0x10), ("b", 0x30, 0)], 0x40);
        let symbols = Symbols::parse(&data).unwrap();
        // A relocatable object: the first in the symbol table at one start (as modules do).
        let at = |v| symbols.containing(1, v).map(|(n, s)| (n, s.value, s.size));
        assert_eq!(at(0xf), None, "below the first symbol");
        assert_eq!(at(0x10), Some((&b"__a"[..], 0x10, 0x20)));
        assert_eq!(at(0x2f), Some((&b"__a"[..], 0x10, 0x20)));
        assert_eq!(at(0x30), Some((&b"b"[..], 0x30, 0x10)));
        assert_eq!(symbols.containing(2, 0x30), None, "another section");
        assert_eq!(at(0x40), None, "past the end of the section");
        assert_eq!(symbols.name(b"b"), Some(&b"b"[..]));
        assert_eq!(symbols.resolve(b"a", None).len(), 1);
    }

    #[test]
    fn containing_in_a_linked_image_prefers_what_scripts_kallsyms_sorts_first() {
        use crate::image::tests::{build, sections};
        let func = object::elf::STT_FUNC.0;
        // `__x` (two underscores) before `x` in the symbol table: kallsyms prints `x`.
        let symbols = [
            (&b"__x"[..], 1, 0x1010, func),
            (b"x", 1, 0x1010, func),
            (b"y", 1, 0x1020, func),
        ];
        let data = build(2, 62, Endianness::Little, true, &sections(), &symbols);
        let symbols = Symbols::parse(&data).unwrap();
        let at = |v| symbols.containing(7, v).map(|(n, s)| (n, s.value, s.size));
        assert_eq!(at(0x101f), Some((&b"x"[..], 0x1010, 0x10)));
        assert_eq!(at(0x1020), Some((&b"y"[..], 0x1020, 0xe0)));
        assert_eq!(at(0x100f), None);
    }
}
