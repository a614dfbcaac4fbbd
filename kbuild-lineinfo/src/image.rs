//! Reading back from an ELF image: the bytes behind a symbol (the tables linked into a vmlinux, or
//! an object written by [`crate::emit`]) and the text symbols the kernel's symbol-start guard
//! sees (FORMAT.md §1 rule 6, §5).
//!
//! Works on linked images (`ET_EXEC`, `ET_DYN`: a symbol's value is an address) and on relocatable
//! objects (`ET_REL`: it is an offset within the symbol's section), ELF32 and ELF64, either byte
//! order. It reads the static symbol table (`.symtab`) only.
use object::elf;
use object::read::elf::{ElfFile, ElfFile32, ElfFile64, FileHeader, SectionHeader, Sym};
use object::FileKind;

use crate::error::{Error, ErrorKind, Result};
use crate::Endian;

/// The bytes of an image's symbols: from a symbol's start to the end of its section.
#[derive(Debug)]
pub struct SymbolBytes<'a> {
    file: Image<'a>,
}

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

impl<'a> SymbolBytes<'a> {
    /// Parses the ELF headers of `data`; symbols are looked up on demand.
    pub fn parse(data: &'a [u8]) -> Result<SymbolBytes<'a>> {
        Ok(SymbolBytes {
            file: Image::parse(data)?,
        })
    }

    /// The bytes from the start of the first defined symbol called `name` to the end of its
    /// section. `None` when there is no such symbol, it is absolute or common, its section holds
    /// no file bytes (`SHT_NOBITS`), or its value lies outside its section.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        match &self.file {
            Image::Elf32(file) => symbol_bytes(file, name.as_bytes()),
            Image::Elf64(file) => symbol_bytes(file, name.as_bytes()),
        }
    }
}

fn symbol_bytes<'a, H: FileHeader<Endian = Endian>>(
    file: &ElfFile<'a, H>,
    name: &[u8],
) -> Option<&'a [u8]> {
    let endian = file.endian();
    let symbols = file.elf_symbol_table();
    let (index, symbol) = symbols
        .enumerate()
        .find(|(_, s)| !s.is_undefined(endian) && symbols.symbol_name(endian, s) == Ok(name))?;
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

/// What an image says about its text: the bounds of the core kernel text and every text symbol
/// start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextSymbols {
    /// The value of `_text`, when defined.
    pub text: Option<u64>,
    /// The value of `_etext`, when defined.
    pub etext: Option<u64>,
    /// The end (address + size) of the executable section holding `_text`: the stand-in for a
    /// missing `_etext` (FORMAT.md §1).
    pub text_section_end: Option<u64>,
    /// Every text symbol start, sorted by value then section, without duplicates.
    pub starts: Vec<TextStart>,
}

/// The start of one text symbol: a function or untyped symbol defined in an executable section,
/// as kallsyms sees it (ARM mapping symbols `$a`/`$t`/`$x`/`$d` and `.L` local labels are left out;
/// the Thumb bit of ARM function symbols is cleared).
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

/// Reads `_text`, `_etext` and the text symbol starts of an ELF image.
pub fn text_symbols(data: &[u8]) -> Result<TextSymbols> {
    match Image::parse(data)? {
        Image::Elf32(file) => read_text_symbols(&file),
        Image::Elf64(file) => read_text_symbols(&file),
    }
}

fn read_text_symbols<H: FileHeader<Endian = Endian>>(file: &ElfFile<'_, H>) -> Result<TextSymbols> {
    let endian = file.endian();
    let symbols = file.elf_symbol_table();
    let sections = file.elf_section_table();
    let is_arm = file.elf_header().e_machine(endian) == elf::EM_ARM;
    let mut text = TextSymbols::default();
    for (index, symbol) in symbols.enumerate() {
        if symbol.is_undefined(endian) {
            continue;
        }
        let Some(section_index) = symbols.symbol_section(endian, symbol, index)? else {
            continue;
        };
        let section = sections.section(section_index)?;
        let name = symbols.symbol_name(endian, symbol)?;
        let value: u64 = symbol.st_value(endian).into();
        note_bounds(&mut text, name, value, section, endian);
        if is_text_start(name, symbol, section, endian) {
            let thumb = is_arm && symbol.st_type() == elf::STT_FUNC;
            text.starts.push(TextStart {
                value: if thumb { value & !1 } else { value },
                section: section_index.0,
            });
        }
    }
    text.starts.sort_unstable();
    text.starts.dedup();
    Ok(text)
}

fn note_bounds<S: SectionHeader>(
    text: &mut TextSymbols,
    name: &[u8],
    value: u64,
    section: &S,
    endian: S::Endian,
) {
    match name {
        b"_text" if text.text.is_none() => {
            text.text = Some(value);
            if is_executable(section, endian) {
                let start: u64 = section.sh_addr(endian).into();
                let size: u64 = section.sh_size(endian).into();
                text.text_section_end = start.checked_add(size);
            }
        }
        b"_etext" if text.etext.is_none() => text.etext = Some(value),
        _ => {}
    }
}

fn is_text_start<S: SectionHeader>(
    name: &[u8],
    symbol: &impl Sym,
    section: &S,
    endian: S::Endian,
) -> bool {
    let typed = matches!(symbol.st_type(), elf::STT_FUNC | elf::STT_NOTYPE);
    let label = name.is_empty() || name.starts_with(b"$") || name.starts_with(b".L");
    typed && !label && is_executable(section, endian)
}

fn is_executable<S: SectionHeader>(section: &S, endian: S::Endian) -> bool {
    section.sh_flags(endian).0 & u64::from(elf::SHF_EXECINSTR.0) != 0
}
