//! Reading back from an ELF image: the bytes behind a symbol (the tables linked into a vmlinux, or
//! an object written by [`crate::emit`]) and the text symbols the kernel's symbol-start guard
//! sees (docs/format.md §1 rule 6, §5).
//!
//! Works on linked images (`ET_EXEC`, `ET_DYN`: a symbol's value is an address) and on relocatable
//! objects (`ET_REL`: it is an offset within the symbol's section), ELF32 and ELF64, either byte
//! order. It reads the static symbol table (`.symtab`) only.
use object::elf;
use object::read::elf::{ElfFile, ElfFile32, ElfFile64, FileHeader, SectionHeader, Sym};
use object::{FileKind, SymbolIndex};

use crate::error::{Error, ErrorKind, Result};
use crate::vocab::Endian;

#[derive(Debug)]
enum Image<'a> {
    Elf32(ElfFile32<'a, Endian>),
    Elf64(ElfFile64<'a, Endian>),
}

impl<'a> Image<'a> {
    fn parse(data: &'a [u8]) -> Result<Image<'a>> {
        match FileKind::parse(data)? {
            FileKind::Elf32 => Ok(Image::Elf32(ElfFile32::parse(data)?)),
            FileKind::Elf64 => Ok(Image::Elf64(ElfFile64::parse(data)?)),
            kind => Err(Error::new(ErrorKind::Elf(format!(
                "expected an ELF file, found {kind:?}"
            )))),
        }
    }
}

/// The bytes from the start of the first defined symbol called `name` to the end of its
/// section. `None` when there is no such symbol, it is absolute or common, its section holds
/// no file bytes (`SHT_NOBITS`), its value lies outside its section, or `file` is not ELF.
pub fn symbol_data<'a>(file: &object::File<'a>, name: &str) -> Option<&'a [u8]> {
    data_of(file, &named_in(file, &[name]), 0)
}

/// [`symbol_data`] of each of `names`, in order, from one walk of the symbol table.
pub fn symbols_data<'a>(file: &object::File<'a>, names: &[&str]) -> Vec<Option<&'a [u8]>> {
    let found = named_in(file, names);
    (0..names.len())
        .map(|which| data_of(file, &found, which))
        .collect()
}

/// [`named`] of any ELF file (nothing for another format).
pub(crate) fn named_in(file: &object::File<'_>, names: &[&str]) -> Vec<(usize, SymbolIndex)> {
    match file {
        object::File::Elf32(elf) => named(elf, names),
        object::File::Elf64(elf) => named(elf, names),
        _ => Vec::new(),
    }
}

/// [`symbol_data`] of the `which`-th name of a walk that `found` what it did.
pub(crate) fn data_of<'a>(
    file: &object::File<'a>,
    found: &[(usize, SymbolIndex)],
    which: usize,
) -> Option<&'a [u8]> {
    match file {
        object::File::Elf32(elf) => first_defined_bytes(elf, found, which),
        object::File::Elf64(elf) => first_defined_bytes(elf, found, which),
        _ => None,
    }
}

fn first_defined_bytes<'a, H: FileHeader<Endian = Endian>>(
    file: &ElfFile<'a, H>,
    found: &[(usize, SymbolIndex)],
    which: usize,
) -> Option<&'a [u8]> {
    let endian = file.endian();
    let symbols = file.elf_symbol_table();
    let (index, symbol) = found
        .iter()
        .filter(|&&(w, _)| w == which)
        .filter_map(|&(_, index)| Some((index, symbols.symbol(index).ok()?)))
        .find(|(_, s)| !s.is_undefined(endian))?;
    bytes_from(file, symbol, index)
}

/// The bytes from `symbol` (at `index`) to the end of its section.
fn bytes_from<'a, H: FileHeader<Endian = Endian>>(
    file: &ElfFile<'a, H>,
    symbol: &H::Sym,
    index: SymbolIndex,
) -> Option<&'a [u8]> {
    let endian = file.endian();
    let symbols = file.elf_symbol_table();
    let section_index = symbols.symbol_section(endian, symbol, index).ok()??;
    let section = file.elf_section_table().section(section_index).ok()?;
    if section.sh_type(endian) == elf::SHT_NOBITS {
        return None;
    }
    let value: u64 = symbol.st_value(endian).into();
    let offset = if file.elf_header().e_type(endian) == elf::ET_REL {
        value
    } else {
        value.checked_sub(section.sh_addr(endian).into())?
    };
    let data = section.data(endian, file.data()).ok()?;
    data.get(usize::try_from(offset).ok()?..)
}

/// Every symbol (but the null one) called one of `names`: (which name, symbol index), in
/// symbol-table order. One walk of the symbol table that compares each name in place in the
/// string table, NUL included (no scan for the end of every name, no allocation per symbol): a
/// vmlinux has 200,000 symbols, and several names are looked for at once.
pub(crate) fn named<H: FileHeader<Endian = Endian>>(
    file: &ElfFile<'_, H>,
    names: &[&str],
) -> Vec<(usize, SymbolIndex)> {
    let endian = file.endian();
    let symbols = file.elf_symbol_table();
    let strings = file
        .elf_section_table()
        .section(symbols.string_section())
        .ok()
        .and_then(|s| s.data(endian, file.data()).ok())
        .unwrap_or_default();
    // The first two bytes of the names (a NUL after a one-byte name): most symbols stop at
    // these two tests (a vmlinux's names mostly start with `_`, as `_text` does). An empty name
    // turns them off.
    let (mut first, mut second) = ([false; 256], [false; 256]);
    for name in names {
        if let [a, rest @ ..] = name.as_bytes() {
            first[usize::from(*a)] = true;
            second[usize::from(rest.first().copied().unwrap_or(0))] = true;
        }
    }
    let filter = names.iter().all(|n| !n.is_empty());
    let mut found = Vec::new();
    for (index, symbol) in symbols.enumerate().skip(1) {
        let Some(tail) = strings.get(symbol.st_name(endian) as usize..) else {
            continue;
        };
        let is = |at: usize, set: &[bool; 256]| tail.get(at).is_some_and(|&b| set[usize::from(b)]);
        if filter && !(is(0, &first) && is(1, &second)) {
            continue;
        }
        for (which, name) in names.iter().enumerate() {
            let name = name.as_bytes();
            if tail.get(name.len()) == Some(&0) && tail.starts_with(name) {
                found.push((which, index));
            }
        }
    }
    found
}

/// Every text symbol start of an image, by the one kallsyms rule of the project (vmlinux and
/// modules alike; [`crate::input::Input::text_symbol_starts`] reads its starts through it). The
/// bounds of the core kernel text are [`crate::extract::text_range`]'s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextSymbols {
    /// Every text symbol start, sorted by value then section, without duplicates.
    pub starts: Vec<TextStart>,
}

/// The start of one text symbol: a function or untyped symbol defined in an executable section,
/// as kallsyms sees it ([`is_kallsyms_text_symbol`]: unnamed and [`is_mapping_symbol`] names
/// left out; the Thumb bit of ARM function symbols is cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TextStart {
    /// An address in a linked image; an offset within `section` in an `ET_REL` object.
    pub value: u64,
    /// The ELF section index of the symbol's section.
    pub section: usize,
}

impl TextSymbols {
    /// The sorted, distinct start addresses of a linked image.
    pub fn addresses(&self) -> Vec<u64> {
        let mut addresses: Vec<u64> = self.starts.iter().map(|s| s.value).collect();
        addresses.dedup();
        addresses
    }

    /// The sorted start offsets within one section of an `ET_REL` object.
    pub fn in_section(&self, section: usize) -> Vec<u64> {
        self.starts
            .iter()
            .filter(|s| s.section == section)
            .map(|s| s.value)
            .collect()
    }
}

/// Reads the text symbol starts of an ELF image.
pub fn text_symbols(data: &[u8]) -> Result<TextSymbols> {
    match Image::parse(data)? {
        Image::Elf32(file) => read_text_symbols(&file),
        Image::Elf64(file) => read_text_symbols(&file),
    }
}

fn read_text_symbols<H: FileHeader<Endian = Endian>>(file: &ElfFile<'_, H>) -> Result<TextSymbols> {
    let mut text = TextSymbols::default();
    for symbol in text_symbol_walk(file) {
        if let Some(symbol) = symbol? {
            text.starts.push(symbol.start);
        }
    }
    text.starts.sort_unstable();
    text.starts.dedup();
    Ok(text)
}

/// One defined symbol kallsyms sees as text, by the one rule ([`kallsyms_text_start`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextSymbol<'data> {
    pub name: &'data [u8],
    pub start: TextStart,
    pub st_size: u64,
    /// `STB_WEAK`.
    pub weak: bool,
}

/// The one walk of an image's symbol table for the kallsyms rule, in symbol-table order: each
/// symbol is `Ok(Some(..))` when kallsyms sees it as text, `Ok(None)` when not (undefined, not in
/// an existing executable section, not a text symbol), `Err` when its section index or name
/// cannot be read. [`text_symbols`] and [`crate::kallsyms::Symbols`] both read through it.
pub(crate) fn text_symbol_walk<'data, 'file, H: FileHeader<Endian = Endian>>(
    file: &'file ElfFile<'data, H>,
) -> impl Iterator<Item = Result<Option<TextSymbol<'data>>>> + 'file {
    let endian = file.endian();
    let symbols = file.elf_symbol_table();
    let sections = file.elf_section_table();
    let is_arm = file.elf_header().e_machine(endian) == elf::EM_ARM;
    symbols.enumerate().map(move |(index, symbol)| {
        if symbol.is_undefined(endian) {
            return Ok(None);
        }
        let Some(section_index) = symbols.symbol_section(endian, symbol, index)? else {
            return Ok(None);
        };
        // A symbol in a section that does not exist is no text start (the section table's own
        // damage is reported where sections are read).
        let Ok(section) = sections.section(section_index) else {
            return Ok(None);
        };
        let name = symbols.symbol_name(endian, symbol)?;
        let value: u64 = symbol.st_value(endian).into();
        let kind = TextKind {
            st_type: symbol.st_type(),
            sh_flags: section.sh_flags(endian).0,
            arm: is_arm,
        };
        Ok(
            kallsyms_text_start(name, value, kind).map(|value| TextSymbol {
                name,
                start: TextStart {
                    value,
                    section: section_index.0,
                },
                st_size: symbol.st_size(endian).into(),
                weak: symbol.st_bind() == elf::STB_WEAK,
            }),
        )
    })
}

/// The kernel's `is_mapping_symbol()` (`include/linux/module_symbol.h`, Linux 6.12), which
/// kallsyms uses to skip a module symbol when it resolves an address: names starting with
/// `.L` (assembler-local labels: `.LBB…`, `.Ltmp…`, `.L0 `), `L0` or `$` (ARM, AArch64 and
/// RISC-V mapping symbols: `$a`, `$t`, `$x`, `$d`, `$xrv64i2p1…`).
pub fn is_mapping_symbol(name: &[u8]) -> bool {
    name.starts_with(b".L") || name.starts_with(b"L0") || name.starts_with(b"$")
}

/// Whether a defined symbol in an executable section is a text symbol start as kallsyms sees
/// it (docs/format.md §1 rule 6): a function or untyped symbol with a name (kallsyms ignores unnamed
/// symbols) that is not a mapping symbol. The one rule for vmlinux and modules.
pub fn is_kallsyms_text_symbol(name: &[u8], st_type: elf::SymbolType) -> bool {
    matches!(st_type, elf::STT_FUNC | elf::STT_NOTYPE)
        && !name.is_empty()
        && !is_mapping_symbol(name)
}

/// What the one text-symbol rule needs to know of a defined symbol besides its name and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextKind {
    /// The symbol's `STT_*` type.
    pub st_type: elf::SymbolType,
    /// The `sh_flags` of the symbol's section.
    pub sh_flags: u64,
    /// The image is 32-bit ARM (`EM_ARM`): bit 0 of a function's value is the Thumb bit.
    pub arm: bool,
}

/// The one kallsyms text-symbol rule (docs/format.md §1 rule 6) for a defined symbol, used by
/// [`text_symbols`] (and through it [`crate::input::Input::text_symbol_starts`]) and by
/// [`crate::kallsyms::Symbols`]: `Some(start)` when kallsyms sees the symbol as text, that is
/// [`is_kallsyms_text_symbol`] in a [`is_kallsyms_text_section`]; `start` is its value with the
/// ARM Thumb bit of a function cleared (as `nm` prints it, so as kallsyms stores it).
pub fn kallsyms_text_start(name: &[u8], value: u64, kind: TextKind) -> Option<u64> {
    if !is_kallsyms_text_section(kind.sh_flags) || !is_kallsyms_text_symbol(name, kind.st_type) {
        return None;
    }
    let thumb = kind.arm && kind.st_type == elf::STT_FUNC;
    Some(if thumb { value & !1 } else { value })
}

/// A section whose symbols kallsyms can show as text: executable and allocated (loaded).
pub fn is_kallsyms_text_section(sh_flags: u64) -> bool {
    let want = elf::SHF_EXECINSTR.0 | elf::SHF_ALLOC.0;
    sh_flags & want == want
}

#[cfg(test)]
pub(crate) mod tests {
    use object::write::elf::{FileHeader as Header, SectionHeader as Shdr, Sym as WSym, Writer};

    use super::*;

    pub(crate) struct Section {
        name: &'static [u8],
        nobits: bool,
        flags: u32,
        addr: u64,
        data: Vec<u8>,
    }

    /// (name, section index or `SHN_*`, value, `STT_*`); all global.
    pub(crate) type Symbol = (&'static [u8], u16, u64, u8);

    /// A hand-made ELF file: the sections after the null section, then `.symtab`, `.strtab`,
    /// `.shstrtab`. File offsets are unrelated to addresses, as in a real image.
    pub(crate) fn build(
        e_type: u16,
        machine: u16,
        endian: Endian,
        is_64: bool,
        sections: &[Section],
        symbols: &[Symbol],
    ) -> Vec<u8> {
        let mut buffer = Vec::new();
        let mut w = Writer::new(endian, is_64, &mut buffer);
        w.reserve_file_header();
        let names: Vec<_> = sections
            .iter()
            .map(|s| (w.add_section_name(s.name), w.reserve_section_index()))
            .collect();
        w.reserve_null_symbol_index();
        let strings: Vec<_> = symbols
            .iter()
            .map(|s| {
                w.reserve_symbol_index(None);
                w.add_string(s.0)
            })
            .collect();
        w.reserve_symtab_section_index();
        w.reserve_strtab_section_index();
        w.reserve_shstrtab_section_index();
        let offsets: Vec<u64> = sections
            .iter()
            .map(|s| w.reserve(s.data.len() as u64 * u64::from(!s.nobits), 16))
            .collect();
        w.reserve_symtab();
        w.reserve_strtab().unwrap();
        w.reserve_shstrtab().unwrap();
        w.reserve_section_headers();
        w.write_file_header(&Header {
            os_abi: elf::ELFOSABI_NONE,
            abi_version: 0,
            e_type: elf::FileType(e_type),
            e_machine: elf::Machine(machine),
            e_entry: 0,
            e_flags: elf::FileFlags(0),
        })
        .unwrap();
        for s in sections.iter().filter(|s| !s.nobits) {
            w.write_align(16);
            w.write(&s.data);
        }
        w.write_null_symbol();
        for (s, &name) in symbols.iter().zip(&strings) {
            w.write_symbol(&WSym {
                section: None,
                st_name: w.string_offset(Some(name)),
                st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::SymbolType(s.3)),
                st_other: elf::SymbolOther(0),
                st_shndx: elf::SymbolSection(s.1),
                st_value: s.2,
                st_size: 0,
            });
        }
        w.write_strtab();
        w.write_shstrtab();
        w.write_null_section_header();
        for ((s, (name, _)), offset) in sections.iter().zip(&names).zip(offsets) {
            w.write_section_header(&Shdr {
                sh_name: w.section_name_offset(Some(*name)),
                sh_type: if s.nobits {
                    elf::SHT_NOBITS
                } else {
                    elf::SHT_PROGBITS
                },
                sh_flags: elf::SectionFlags(u64::from(s.flags)),
                sh_addr: s.addr,
                sh_offset: offset,
                sh_size: s.data.len() as u64,
                sh_link: 0,
                sh_info: 0,
                sh_addralign: 16,
                sh_entsize: 0,
            });
        }
        w.write_symtab_section_header(1);
        w.write_strtab_section_header();
        w.write_shstrtab_section_header();
        buffer
    }

    /// `symbols.get(name)` reads as the tests did before [`symbol_data`] took a parsed file.
    struct Get<'f, 'a>(&'f object::File<'a>);
    impl<'a> Get<'_, 'a> {
        fn get(&self, name: &str) -> Option<&'a [u8]> {
            symbol_data(self.0, name)
        }
    }

    const ALLOC: u32 = elf::SHF_ALLOC.0 as u32;
    const EXEC: u32 = ALLOC | elf::SHF_EXECINSTR.0 as u32;
    const NOTYPE: u8 = elf::STT_NOTYPE.0;
    const FUNC: u8 = elf::STT_FUNC.0;
    const OBJECT: u8 = elf::STT_OBJECT.0;
    const ABS: u16 = 0xfff1;

    /// `.text` at 0x1000 (0x100 bytes), `.rodata` at 0x2000 holding 0..16, `.bss` at 0x3000.
    pub(crate) fn sections() -> Vec<Section> {
        let section = |name, nobits, flags, addr, data| Section {
            name,
            nobits,
            flags,
            addr,
            data,
        };
        vec![
            section(&b".text"[..], false, EXEC, 0x1000, vec![0x90; 0x100]),
            section(b".rodata", false, ALLOC, 0x2000, (0..16).collect()),
            section(
                b".bss",
                true,
                ALLOC | elf::SHF_WRITE.0 as u32,
                0x3000,
                vec![0; 16],
            ),
        ]
    }

    fn symbols() -> Vec<Symbol> {
        vec![
            (b"_text", 1, 0x1000, NOTYPE),
            (b"f", 1, 0x1010, FUNC),
            (b"f_alias", 1, 0x1010, FUNC),
            (b"$x", 1, 0x1020, NOTYPE),
            (b"$xrv64i2p1_m2p0", 1, 0x1022, NOTYPE),
            (b".Ltmp1", 1, 0x1030, NOTYPE),
            (b".L0 ", 1, 0x1032, NOTYPE),
            (b"L0", 1, 0x1034, NOTYPE),
            (b"L0_label", 1, 0x1036, FUNC),
            (b"", 1, 0x1038, FUNC),
            (b"L1", 1, 0x1060, NOTYPE),
            (b"x$", 1, 0x1064, FUNC),
            (b"obj_in_text", 1, 0x1040, OBJECT),
            (b"_etext", 1, 0x1100, NOTYPE),
            (b"table", 2, 0x2004, OBJECT),
            (b"func_in_rodata", 2, 0x2008, FUNC),
            (b"zeros", 3, 0x3000, OBJECT),
            (b"absolute", ABS, 0x1050, NOTYPE),
            (b"undefined", 0, 0, NOTYPE),
            (b"beyond", 2, 0x2011, OBJECT),
        ]
    }

    #[test]
    fn symbol_bytes_map_addresses_through_their_section() {
        for (endian, is_64) in [
            (Endian::Little, true),
            (Endian::Big, true),
            (Endian::Little, false),
            (Endian::Big, false),
        ] {
            let data = build(2, 62, endian, is_64, &sections(), &symbols());
            let file = object::File::parse(&*data).unwrap();
            let symbols = Get(&file);
            let rodata: Vec<u8> = (0..16).collect();
            assert_eq!(
                symbols.get("table"),
                Some(&rodata[4..]),
                "{endian:?} {is_64}"
            );
            assert_eq!(symbols.get("func_in_rodata"), Some(&rodata[8..]));
            assert_eq!(symbols.get("f").map(<[u8]>::len), Some(0xf0));
            assert_eq!(symbols.get("_etext"), Some(&[][..]));
            assert_eq!(symbols.get("zeros"), None, "SHT_NOBITS");
            assert_eq!(symbols.get("absolute"), None);
            assert_eq!(symbols.get("undefined"), None);
            assert_eq!(symbols.get("beyond"), None, "outside its section");
            assert_eq!(symbols.get("missing"), None);
        }
    }

    /// One walk for several names finds what `object`'s symbol iterator finds name by name:
    /// one-byte, empty, `_`-led and absent names, in either byte order.
    #[test]
    fn one_walk_finds_every_name_as_object_does() {
        use object::{Object, ObjectSymbol};
        let names = [
            "f", "", "_text", "_etext", "$x", "table", "L0", "x$", "missing", "f_",
        ];
        for endian in [Endian::Little, Endian::Big] {
            let data = build(2, 62, endian, true, &sections(), &symbols());
            let file = object::File::parse(&*data).unwrap();
            let found = named_in(&file, &names);
            for (which, name) in names.iter().enumerate() {
                let ours: Vec<_> = found
                    .iter()
                    .filter(|&&(w, _)| w == which)
                    .map(|&(_, i)| i)
                    .collect();
                let theirs: Vec<_> = file
                    .symbols()
                    .filter(|s| s.name_bytes() == Ok(name.as_bytes()))
                    .map(|s| s.index())
                    .collect();
                assert_eq!(ours, theirs, "{name:?} {endian:?}");
            }
            assert_eq!(
                symbols_data(&file, &names),
                names.map(|n| symbol_data(&file, n)).to_vec()
            );
        }
    }

    #[test]
    fn symbol_bytes_of_a_relocatable_object_use_section_offsets() {
        let mut sections = sections();
        sections[1].addr = 0x500; // ignored in ET_REL
        let data = build(
            1,
            62,
            Endian::Big,
            false,
            &sections,
            &[(b"table", 2, 4, OBJECT)],
        );
        let rodata: Vec<u8> = (0..16).collect();
        assert_eq!(
            symbol_data(&object::File::parse(&*data).unwrap(), "table"),
            Some(&rodata[4..])
        );
    }

    #[test]
    fn text_symbols_are_what_kallsyms_sees() {
        for (endian, is_64) in [(Endian::Little, true), (Endian::Big, false)] {
            let data = build(2, 62, endian, is_64, &sections(), &symbols());
            let text = text_symbols(&data).unwrap();
            let input = crate::input::Input::parse(&data).unwrap();
            assert_eq!(
                (input.symbol("_text"), input.symbol("_etext")),
                (Some(0x1000), Some(0x1100))
            );
            assert_eq!(
                crate::extract::text_range(&input).unwrap(),
                (0x1000, 0x1100)
            );
            let kallsyms = [0x1000, 0x1010, 0x1060, 0x1064, 0x1100];
            assert_eq!(text.addresses(), kallsyms);
            assert_eq!(text.in_section(1), kallsyms);
            assert_eq!(text.in_section(2), [0u64; 0]);
            // The extraction reads its symbol starts through the same rule.
            assert_eq!(input.text_symbol_starts().unwrap(), kallsyms);
            // So does `annotate`'s resolver: the same symbols, no more.
            let resolver = crate::kallsyms::Symbols::parse(&data).unwrap();
            let names = [
                (&b"_text"[..], 0x1000),
                (b"f", 0x1010),
                (b"f_alias", 0x1010),
                (b"L1", 0x1060),
                (b"x$", 0x1064),
                (b"_etext", 0x1100),
            ];
            assert_eq!(resolver.len(), names.len());
            for (name, value) in names {
                let found: Vec<u64> = resolver
                    .resolve(name, Some(0))
                    .iter()
                    .map(|s| s.value)
                    .collect();
                assert_eq!(found, [value], "{}", String::from_utf8_lossy(name));
            }
        }
    }

    #[test]
    fn code_that_is_not_loaded_is_no_text() {
        // An executable section without SHF_ALLOC is never loaded: kallsyms cannot show it.
        let mut sections = sections();
        sections.push(Section {
            name: b".text.noalloc",
            nobits: false,
            flags: elf::SHF_EXECINSTR.0 as u32,
            addr: 0,
            data: vec![0x90; 0x10],
        });
        let symbols = [(&b"f"[..], 1, 0x1010, FUNC), (b"unloaded", 4, 0x4, FUNC)];
        let data = build(1, 62, Endian::Little, true, &sections, &symbols);
        let text = text_symbols(&data).unwrap();
        assert_eq!(text.in_section(1), [0x1010]);
        assert_eq!(text.in_section(4), [0u64; 0]);
        let resolver = crate::kallsyms::Symbols::parse(&data).unwrap();
        assert!(resolver.resolve(b"unloaded", Some(0)).is_empty());
        assert_eq!(resolver.len(), 1);
    }

    #[test]
    fn mapping_symbols_are_the_kernels() {
        // include/linux/module_symbol.h (6.12): `.L…`, `L0…`, `$…`.
        for name in [
            &b".L"[..],
            b".LBB0_1",
            b".L0 ",
            b"L0",
            b"L0x",
            b"$",
            b"$d",
            b"$x.1",
        ] {
            assert!(is_mapping_symbol(name), "{}", String::from_utf8_lossy(name));
        }
        for name in [
            &b""[..],
            b"L",
            b"L1",
            b".l",
            b"._L",
            b"l0",
            b"a$",
            b"foo",
            b".text",
        ] {
            assert!(
                !is_mapping_symbol(name),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
        assert!(!is_kallsyms_text_symbol(b"", elf::STT_FUNC), "unnamed");
        assert!(!is_kallsyms_text_symbol(b"f", elf::STT_OBJECT));
        assert!(!is_kallsyms_text_symbol(b"f", elf::STT_SECTION));
        assert!(is_kallsyms_text_symbol(b"f", elf::STT_NOTYPE));
    }

    #[test]
    fn relocatable_starts_are_offsets_and_match_the_extraction() {
        // The same symbols as offsets within `.text`, in an `ET_REL` object.
        let symbols: Vec<Symbol> = symbols()
            .into_iter()
            .filter(|s| s.1 == 1)
            .map(|(n, i, v, t)| (n, i, v - 0x1000, t))
            .collect();
        let mut sections = sections();
        for s in &mut sections {
            s.addr = 0; // as in a module
        }
        let data = build(1, 62, Endian::Little, true, &sections, &symbols);
        let text = text_symbols(&data).unwrap();
        let kallsyms = [0, 0x10, 0x60, 0x64, 0x100];
        assert_eq!(text.in_section(1), kallsyms);
        let input = crate::input::Input::parse(&data).unwrap();
        let base = input.code_sections()[0].address;
        let want: Vec<u64> = kallsyms.iter().map(|v| v + base).collect();
        assert_eq!(input.text_symbol_starts().unwrap(), want);
    }

    #[test]
    fn missing_bounds_are_none() {
        let data = build(
            2,
            62,
            Endian::Little,
            true,
            &sections(),
            &[(b"f", 1, 0x1010, FUNC)],
        );
        let text = text_symbols(&data).unwrap();
        let input = crate::input::Input::parse(&data).unwrap();
        assert_eq!(
            (input.symbol("_text"), input.symbol("_etext")),
            (None, None)
        );
        assert!(crate::extract::text_range(&input).is_err());
        assert_eq!(text.addresses(), [0x1010]);
        // Without `_etext`, the end of `_text`'s executable section stands in (docs/format.md §1).
        let symbols: Vec<Symbol> = symbols().into_iter().filter(|s| s.0 != b"_etext").collect();
        let data = build(2, 62, Endian::Little, true, &sections(), &symbols);
        let input = crate::input::Input::parse(&data).unwrap();
        assert_eq!(
            crate::extract::text_range(&input).unwrap(),
            (0x1000, 0x1100)
        );
    }

    #[test]
    fn arm_thumb_bit_is_cleared_from_functions_only() {
        let symbols = [
            (&b"thumb_fn"[..], 1, 0x1011, FUNC),
            (b"label", 1, 0x1021, NOTYPE),
            (b"ifunc", 1, 0x1031, elf::STT_GNU_IFUNC.0),
        ];
        let data = build(
            2,
            elf::EM_ARM.0,
            Endian::Little,
            false,
            &sections(),
            &symbols,
        );
        assert_eq!(text_symbols(&data).unwrap().addresses(), [0x1010, 0x1021]);
        // `annotate`'s resolver by the same rule (it cleared bit 0 of untyped symbols too, and
        // took STT_GNU_IFUNC symbols, before the two shared it).
        let resolver = crate::kallsyms::Symbols::parse(&data).unwrap();
        let value = |name: &[u8]| -> Vec<u64> {
            resolver
                .resolve(name, Some(0))
                .iter()
                .map(|s| s.value)
                .collect()
        };
        assert_eq!(value(b"thumb_fn"), [0x1010]);
        assert_eq!(value(b"label"), [0x1021]);
        assert_eq!(value(b"ifunc"), [0u64; 0]);
        let data = build(2, 62, Endian::Little, false, &sections(), &symbols);
        assert_eq!(text_symbols(&data).unwrap().addresses(), [0x1011, 0x1021]);
    }

    #[test]
    fn not_elf_is_an_error() {
        let err = text_symbols(b"\0asm\x01\0\0\0").unwrap_err().to_string();
        assert!(err.starts_with("bad ELF"), "{err}");
        assert!(text_symbols(&[0x7f, b'E', b'L', b'F', 2]).is_err());
    }
}
