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
    /// Name → index in `by_place` of the first symbol of that name.
    by_name: HashMap<&'a [u8], u32>,
    /// Per index in `by_place`: the index of the next symbol of the same name, [`END`] after
    /// the last (one allocation for all names: a vmlinux has 100,000).
    same_name: Vec<u32>,
    /// kallsyms' order: by (section of a `.ko`, value); among symbols at one start, the one
    /// kallsyms prints first.
    by_place: Vec<(&'a [u8], Symbol)>,
    relocatable: bool,
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
        let text: Vec<image::TextSymbol<'a>> = match file {
            object::File::Elf32(elf) => image::text_symbol_walk(elf).flatten().flatten().collect(),
            object::File::Elf64(elf) => image::text_symbol_walk(elf).flatten().flatten().collect(),
            _ => Vec::new(),
        };
        let all: Vec<(&'a [u8], Symbol, (bool, usize))> = text
            .into_iter()
            .map(|t| {
                let name = t.name;
                // scripts/kallsyms' compare_symbols(): at one address, weak symbols and
                // names with more leading underscores come later. A module's kallsyms keeps
                // the symbol table's order (find_kallsyms_symbol() takes the first).
                let rank = match relocatable {
                    true => (false, 0),
                    false => (t.weak, name.iter().take_while(|&&b| b == b'_').count()),
                };
                let symbol = Symbol {
                    section: t.start.section,
                    value: t.start.value,
                    size: 0,
                    st_size: t.st_size,
                };
                (name, symbol, rank)
            })
            .collect();
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
        mut all: Vec<(&'a [u8], Symbol, (bool, usize))>,
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
        all.sort_by_key(|&(_, s, rank)| (key(&s), rank));
        let mut all: Vec<(&'a [u8], Symbol)> = all.into_iter().map(|(n, s, _)| (n, s)).collect();
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
            by_name,
            same_name,
            by_place: all,
            relocatable,
        }
    }

    /// The symbol kallsyms resolves at `value` (an address of a linked image; an offset in
    /// `section` of a `.ko`, where `section` is ignored otherwise): the last start at or below
    /// it, the first kallsyms lists of several at that start. `None` below the first symbol and
    /// past the end of the last (its section's end).
    pub fn containing(&self, section: usize, value: u64) -> Option<(&'a [u8], Symbol)> {
        let section = if self.relocatable { section } else { 0 };
        let key = |s: &Symbol| (if self.relocatable { s.section } else { 0 }, s.value);
        let i = self
            .by_place
            .partition_point(|(_, s)| key(s) <= (section, value));
        let (_, last) = *self.by_place.get(i.checked_sub(1)?)?;
        if key(&last).0 != section || value - last.value >= last.size.max(1) {
            return None;
        }
        let first = self.by_place[..i].partition_point(|(_, s)| key(s) < key(&last));
        Some(self.by_place[first])
    }

    /// `name` as the image spells it, when a text symbol has it.
    pub fn name(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.by_name.get_key_value(name).map(|(&k, _)| k)
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
        let mut all = Vec::new();
        let mut at = self.by_name.get(name).copied().unwrap_or(END);
        while let Some(&(_, s)) = self.by_place.get(at as usize) {
            all.push(s);
            at = self.same_name[at as usize];
        }
        all
    }

    /// How many distinct names there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
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
