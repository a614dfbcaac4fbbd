//! Facts about ELF files that the tests need: symbols, section headers and
//! contents. Read with the `object` crate (a reader independent of the
//! project's extraction code; nothing here interprets DWARF).

use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SymbolFlags};
use std::path::Path;

pub const STT_NOTYPE: u8 = 0;
pub const STT_FUNC: u8 = 2;

/// One symbol table entry that is defined in a section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sym {
    pub name: String,
    /// `st_value`: an address in a linked file, an offset in its section in ET_REL.
    pub value: u64,
    pub section: String,
    pub st_type: u8,
    pub global: bool,
}

/// A section header plus its (uncompressed) contents.
#[derive(Clone, Debug)]
pub struct Section {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    pub sh_type: u32,
    pub sh_flags: u64,
    pub align: u64,
    pub data: Vec<u8>,
}

fn with_file<T>(path: &Path, f: impl FnOnce(&object::File<'_>) -> T) -> T {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let file = object::File::parse(&*bytes)
        .unwrap_or_else(|e| panic!("{}: not an object file: {e}", path.display()));
    f(&file)
}

/// Every symbol defined in a section, in symbol table order.
pub fn symbols(path: &Path) -> Vec<Sym> {
    with_file(path, |file| {
        file.symbols()
            .filter_map(|s| {
                let index = s.section_index()?;
                let section = file.section_by_index(index).ok()?;
                let st_type = match s.flags() {
                    SymbolFlags::Elf { st_info, .. } => st_info.0 & 0xf,
                    _ => return None,
                };
                Some(Sym {
                    name: s.name().ok()?.to_string(),
                    value: s.address(),
                    section: section.name().ok()?.to_string(),
                    st_type,
                    global: s.is_global(),
                })
            })
            .collect()
    })
}

/// Function and untyped symbols in `section`, sorted by value: the starts
/// kallsyms would resolve an address to.
pub fn text_symbols(path: &Path, section: &str) -> Vec<Sym> {
    let mut syms: Vec<Sym> = symbols(path)
        .into_iter()
        .filter(|s| s.section == section && (s.st_type == STT_FUNC || s.st_type == STT_NOTYPE))
        .filter(|s| !s.name.is_empty() && !s.name.starts_with(".L"))
        .collect();
    syms.sort_by(|a, b| a.value.cmp(&b.value).then(a.name.cmp(&b.name)));
    syms
}

/// The value of the symbol `name`, if defined.
pub fn symbol_value(path: &Path, name: &str) -> Option<u64> {
    symbols(path)
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.value)
}

/// The section called `name`, with its contents decompressed.
pub fn section(path: &Path, name: &str) -> Option<Section> {
    with_file(path, |file| {
        let s = file.section_by_name(name)?;
        let (sh_type, sh_flags) = match s.flags() {
            SectionFlags::Elf { sh_type, sh_flags } => (sh_type.0, sh_flags.0),
            _ => return None,
        };
        Some(Section {
            name: name.to_string(),
            addr: s.address(),
            size: s.size(),
            sh_type,
            sh_flags,
            align: s.align(),
            data: s.uncompressed_data().ok()?.into_owned(),
        })
    })
}

/// All section names, in header order.
pub fn section_names(path: &Path) -> Vec<String> {
    with_file(path, |file| {
        file.sections()
            .filter_map(|s| s.name().ok().map(str::to_string))
            .collect()
    })
}

/// The compression format of section `name` when it is compressed
/// (SHF_COMPRESSED or `.zdebug`), else `None`.
pub fn debug_compression(path: &Path, name: &str) -> Option<object::CompressionFormat> {
    with_file(path, |file| {
        let s = file.section_by_name(name)?;
        let format = s.compressed_file_range().ok()?.format;
        (format != object::CompressionFormat::None).then_some(format)
    })
}

/// The u32 stored at symbol `name` (in the file's byte order), for
/// relocatable and linked files alike.
pub fn u32_at_symbol(path: &Path, name: &str) -> Option<u32> {
    let sym = symbols(path).into_iter().find(|s| s.name == name)?;
    let sec = section(path, &sym.section)?;
    let little = with_file(path, |f| f.is_little_endian());
    let start = if sym.value >= sec.addr && sec.addr != 0 {
        sym.value - sec.addr
    } else {
        sym.value
    } as usize;
    let b: [u8; 4] = sec.data.get(start..start + 4)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}
