//! One input ELF file as this crate sees it: an address space, debug sections, text symbols.
//!
//! A linked image (vmlinux) is used as it is. A relocatable object (`.ko`, `ET_REL`) has every
//! section at address 0, so each allocated section is given a distinct *synthetic* base address,
//! laid out one after the other as a linker would, and every debug section is relocated against
//! those bases (the crate's `reloc` and `lazy_reloc`). An address then names one place in one
//! section; [`Input::code_sections`] gives each section's range to map it back to (section, offset).

use std::borrow::Cow;

use object::read::elf::{ElfFile32, ElfFile64};
use object::{
    Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionFlags,
    SectionIndex, SectionKind,
};

use crate::error::{Error, ErrorKind, Result};
use crate::lazy_reloc::LazyRelocs;
use crate::reloc::{self, Record, Records};
use crate::vocab::Endian;

/// The first synthetic base: not 0, so that no real code sits at DWARF's tombstone address.
const FIRST_BASE: u64 = 0x1000;

/// An allocated section with code, in the input's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSection {
    pub name: String,
    pub index: usize,
    /// Start address (synthetic for `ET_REL`).
    pub address: u64,
    pub size: u64,
}

/// A parsed input file.
#[derive(Debug)]
pub struct Input<'data> {
    data: &'data [u8],
    file: object::File<'data>,
    endian: Endian,
    e_machine: object::elf::Machine,
    /// Per section index: the base added to its symbols' values (`ET_REL` only).
    bases: Vec<Option<u64>>,
    /// [`Input::symbol_addresses`], made once.
    symbol_addresses: std::sync::OnceLock<Vec<u64>>,
}

impl<'data> Input<'data> {
    /// Parses an ELF file (32 or 64 bit, either byte order).
    pub fn parse(data: &'data [u8]) -> Result<Self> {
        let kind = object::FileKind::parse(data)?;
        let (file, e_machine) = match kind {
            object::FileKind::Elf32 => {
                let elf = ElfFile32::<object::Endianness>::parse(data)?;
                let m = elf.elf_header().e_machine.get(elf.endian());
                (object::File::Elf32(elf), m)
            }
            object::FileKind::Elf64 => {
                let elf = ElfFile64::<object::Endianness>::parse(data)?;
                let m = elf.elf_header().e_machine.get(elf.endian());
                (object::File::Elf64(elf), m)
            }
            other => {
                return Err(ErrorKind::Elf(format!("not an ELF file ({other:?})")).into());
            }
        };
        check_sections(&file, data.len())?;
        let endian = if file.is_little_endian() {
            Endian::Little
        } else {
            Endian::Big
        };
        let mut input = Input {
            data,
            file,
            endian,
            e_machine,
            bases: Vec::new(),
            symbol_addresses: std::sync::OnceLock::new(),
        };
        if input.is_relocatable() {
            input.bases = synthetic_bases(&input.file);
        }
        Ok(input)
    }

    /// The parsed object file, for readers that need more of it than this type offers.
    pub fn file(&self) -> &object::File<'data> {
        &self.file
    }

    pub fn endian(&self) -> Endian {
        self.endian
    }

    pub fn is_64(&self) -> bool {
        self.file.is_64()
    }

    pub fn e_machine(&self) -> object::elf::Machine {
        self.e_machine
    }

    /// True for `ET_REL` (modules and objects).
    pub fn is_relocatable(&self) -> bool {
        self.file.kind() == object::ObjectKind::Relocatable
    }

    /// The address of a symbol value defined in `section`.
    fn address(&self, section: Option<SectionIndex>, value: u64) -> u64 {
        let base = section
            .and_then(|s| self.bases.get(s.0).copied().flatten())
            .unwrap_or(0);
        base.wrapping_add(value)
    }

    /// The value of the symbol `name` (its address in this input's space).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        let [value] = self.symbols([name]);
        value
    }

    /// [`symbol`](Self::symbol) of each of `names`, in order, from one walk of the symbol
    /// table.
    pub fn symbols<const N: usize>(&self, names: [&str; N]) -> [Option<u64>; N] {
        let found = crate::image::named_in(&self.file, &names);
        std::array::from_fn(|which| self.symbol_of(&found, which))
    }

    /// [`symbol`](Self::symbol) of the `which`-th name of a walk that `found` what it did
    /// ([`crate::image::named_in`]).
    pub(crate) fn symbol_of(
        &self,
        found: &[(usize, object::SymbolIndex)],
        which: usize,
    ) -> Option<u64> {
        // A global definition wins over a local one of the same name (a `static` `_text` in
        // some unit must not move the table's base); local symbols come first in `.symtab`.
        let mut named = found
            .iter()
            .filter(|&&(w, _)| w == which)
            .filter_map(|&(_, index)| self.file.symbol_by_index(index).ok());
        let first = named.next()?;
        let symbol = if first.is_global() {
            first
        } else {
            named.find(|s| s.is_global()).unwrap_or(first)
        };
        Some(self.address(symbol.section_index(), symbol.address()))
    }

    /// Allocated sections holding code, in section header order.
    pub fn code_sections(&self) -> Vec<CodeSection> {
        self.file
            .sections()
            .filter(|s| is_code(s))
            .map(|s| CodeSection {
                name: s.name().unwrap_or("").to_string(),
                index: s.index().0,
                // In `ET_REL` symbols are offsets from the section start whatever `sh_addr`
                // says (`ld -r -T` with a script can leave it non-zero; the module loader
                // ignores it).
                address: match self.is_relocatable() {
                    true => self.address(Some(s.index()), 0),
                    false => s.address(),
                },
                size: s.size(),
            })
            .collect()
    }

    /// Whether any relocation of any section has an ELF type `pred` accepts.
    pub fn any_relocation(&self, pred: impl Fn(object::elf::RelocationType) -> bool) -> bool {
        self.file.sections().any(|s| {
            s.relocations()
                .any(|(_, r)| matches!(r.flags(), RelocationFlags::Elf { r_type } if pred(r_type)))
        })
    }

    /// Sorted, distinct start addresses of the symbols kallsyms sees as text, by the one rule
    /// of [`crate::image::text_symbols`] (docs/format.md §1 rule 6: function and untyped symbols
    /// in executable sections, minus unnamed and `is_mapping_symbol()` names, ARM Thumb bit
    /// cleared), restricted to the allocated code sections of [`Input::code_sections`].
    pub fn text_symbol_starts(&self) -> Result<Vec<u64>> {
        let mut code = vec![
            false;
            self.file
                .sections()
                .map(|s| s.index().0 + 1)
                .max()
                .unwrap_or(0)
        ];
        for s in self.file.sections().filter(|s| is_code(s)) {
            code[s.index().0] = true;
        }
        let mut starts: Vec<u64> = crate::image::text_symbols(self.data)?
            .starts
            .into_iter()
            .filter(|s| code.get(s.section) == Some(&true))
            .map(|s| self.address(Some(SectionIndex(s.section)), s.value))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        Ok(starts)
    }

    /// True when section `name` exists and holds bytes (nothing is decompressed or relocated).
    pub fn has_section_data(&self, name: &str) -> bool {
        self.file
            .section_by_name(name)
            .is_some_and(|s| s.size() > 0)
    }

    /// The bytes of debug section `name` (e.g. `.debug_line`), decompressed and, for `ET_REL`,
    /// with its relocations applied. A missing section is empty.
    pub fn debug_section(&self, name: &str) -> Result<Cow<'data, [u8]>> {
        let Some(section) = self.file.section_by_name(name) else {
            return Ok(Cow::Borrowed(&[]));
        };
        let data = section
            .uncompressed_data()
            .map_err(|e| Error::new(ErrorKind::Elf(e.to_string())).at(name.to_string()))?;
        if !self.is_relocatable() || section.relocations().next().is_none() {
            return Ok(data);
        }
        let mut data = data.into_owned();
        self.relocate(&section, &mut data)
            .map_err(|e| e.at(name.to_string()))?;
        Ok(Cow::Owned(data))
    }

    /// The bytes of debug section `name`, decompressed, with its relocations (for `ET_REL`) to
    /// be applied as values are read ([`LazyRelocs`]): for `.debug_info`, of which little is read.
    /// Falls back to [`Input::debug_section`] (relocated up front) when the section is compressed
    /// or its relocations are not sorted by offset.
    pub(crate) fn debug_section_on_read(
        &self,
        name: &str,
    ) -> Result<(Cow<'data, [u8]>, Option<LazyRelocs<'data>>)> {
        let Some(section) = self.file.section_by_name(name) else {
            return Ok((Cow::Borrowed(&[]), None));
        };
        let compressed = section
            .compressed_file_range()
            .is_ok_and(|r| r.format != object::CompressionFormat::None);
        if !self.is_relocatable() || compressed || section.relocations().next().is_none() {
            return Ok((self.debug_section(name)?, None));
        }
        let records = self
            .records(section.index())
            .map_err(|e| e.at(name.to_string()))?;
        let lazy = records.and_then(|records| {
            LazyRelocs::new(
                records,
                self.endian,
                self.e_machine,
                self.is_64(),
                self.symbol_addresses().to_vec(),
            )
        });
        match lazy {
            Some(lazy) => Ok((section.uncompressed_data()?, Some(lazy))),
            None => Ok((self.debug_section(name)?, None)),
        }
    }

    /// The raw relocation records that apply to section `index`, if there is one table of them.
    fn records(&self, index: SectionIndex) -> Result<Option<Records<'data>>> {
        Ok(match &self.file {
            object::File::Elf32(f) => {
                let s = f.section_by_index(index)?;
                let (rela, rel) = (s.elf_linked_rela()?, s.elf_linked_rel()?);
                match (rela.is_empty(), rel.is_empty()) {
                    (false, _) => Some(Records::Rela32(rela)),
                    (true, false) => Some(Records::Rel32(rel)),
                    _ => None,
                }
            }
            object::File::Elf64(f) => {
                let s = f.section_by_index(index)?;
                let (rela, rel) = (s.elf_linked_rela()?, s.elf_linked_rel()?);
                match (rela.is_empty(), rel.is_empty()) {
                    (false, _) => Some(Records::Rela64(rela)),
                    (true, false) => Some(Records::Rel64(rel)),
                    _ => None,
                }
            }
            _ => None,
        })
    }

    /// The address of every symbol, by symbol index (0 for undefined ones).
    fn symbol_addresses(&self) -> &[u64] {
        self.symbol_addresses
            .get_or_init(|| self.make_symbol_addresses())
    }

    fn make_symbol_addresses(&self) -> Vec<u64> {
        let count = self
            .file
            .symbols()
            .map(|s| s.index().0 + 1)
            .max()
            .unwrap_or(0);
        let mut addresses = vec![0; count];
        for s in self.file.symbols() {
            addresses[s.index().0] = self.address(s.section_index(), s.address());
        }
        addresses
    }

    /// Applies the relocations of `section` to its bytes `data`, in record order. The records
    /// are read in place when there is one table of them (object's iterator builds a symbol
    /// per record), else through object's iterator; both decode them the same way.
    fn relocate(&self, section: &object::Section<'data, '_>, data: &mut [u8]) -> Result<()> {
        let symbols = self.symbol_addresses();
        if let Ok(Some(records)) = self.records(section.index()) {
            let mips64el = reloc::is_mips64el(self.e_machine, self.is_64(), self.endian);
            let implicit = records.implicit_addend();
            for i in 0..records.len() {
                let r = records.record(i, self.endian, mips64el);
                self.apply(r, implicit, symbols, data)?;
            }
            return Ok(());
        }
        for (offset, r) in section.relocations() {
            let RelocationFlags::Elf { r_type } = r.flags() else {
                return Err(ErrorKind::Relocation("not an ELF relocation".into()).into());
            };
            let symbol = match r.target() {
                RelocationTarget::Symbol(i) => i.0 as u32,
                _ => 0,
            };
            let record = Record {
                offset,
                r_type,
                symbol,
                addend: r.addend(),
            };
            self.apply(record, r.has_implicit_addend(), symbols, data)?;
        }
        Ok(())
    }

    /// Applies one record to `data` (symbol addresses by index in `symbols`).
    fn apply(&self, r: Record, implicit: bool, symbols: &[u64], data: &mut [u8]) -> Result<()> {
        let op = reloc::op(self.e_machine, self.is_64(), &r)?;
        let value = r.target(symbols)?;
        reloc::apply(data, r.offset, op, value, implicit, self.endian)
    }
}

fn is_code(s: &object::Section<'_, '_>) -> bool {
    let exec = match s.flags() {
        SectionFlags::Elf { sh_flags, .. } => {
            sh_flags.0 & object::elf::SHF_EXECINSTR.0 != 0
                && sh_flags.0 & object::elf::SHF_ALLOC.0 != 0
        }
        _ => s.kind() == SectionKind::Text,
    };
    exec && s.size() > 0
}

/// Every section has a readable name and its bytes inside the file: a damaged section header
/// must stop the run, not hide a `.debug_line` (a module would then be skipped silently).
fn check_sections(file: &object::File<'_>, len: usize) -> Result<()> {
    if file.kind() == object::ObjectKind::Relocatable && file.sections().next().is_none() {
        return Err(ErrorKind::Elf("relocatable object without section headers".into()).into());
    }
    for s in file.sections() {
        let index = s.index().0;
        let name = s
            .name_bytes()
            .map_err(|e| ErrorKind::Elf(format!("section {index}: name: {e}")))?;
        let Some((offset, size)) = s.file_range() else {
            continue;
        };
        if offset.checked_add(size).is_none_or(|end| end > len as u64) {
            return Err(ErrorKind::Elf(format!(
                "section {index} `{}` at offset {offset:#x} size {size:#x} lies outside the \
                 {len:#x}-byte file",
                String::from_utf8_lossy(name)
            ))
            .into());
        }
    }
    Ok(())
}

impl CodeSection {
    /// One past the last address; an error when `sh_size` runs past the end of the address space.
    pub fn end(&self) -> Result<u64> {
        self.address.checked_add(self.size).ok_or_else(|| {
            ErrorKind::Elf(format!(
                "section `{}` at {:#x} with size {:#x} ends past the 64-bit address space",
                self.name, self.address, self.size
            ))
            .into()
        })
    }
}

/// Lays out every allocated section of a relocatable object one after the other, aligned.
fn synthetic_bases(file: &object::File<'_>) -> Vec<Option<u64>> {
    let count = file.sections().map(|s| s.index().0 + 1).max().unwrap_or(0);
    let mut bases = vec![None; count];
    let mut next = FIRST_BASE;
    for s in file.sections() {
        let alloc = match s.flags() {
            SectionFlags::Elf { sh_flags, .. } => sh_flags.0 & object::elf::SHF_ALLOC.0 != 0,
            _ => false,
        };
        if !alloc {
            continue;
        }
        let align = s.align().max(1);
        next = next.div_ceil(align).saturating_mul(align);
        bases[s.index().0] = Some(next);
        // Keep a gap so that an address one past the end of a section is in no other section.
        next = next.saturating_add(s.size()).saturating_add(16);
    }
    bases
}

#[cfg(test)]
mod tests {
    use object::write::{Object, Symbol, SymbolSection};
    use object::{Architecture, BinaryFormat, SectionKind, SymbolFlags, SymbolKind, SymbolScope};

    use super::*;

    /// An `ET_REL` file whose `.text` holds `(name, offset, global)` symbols, in that order.
    fn object_with(symbols: &[(&str, u64, bool)]) -> Vec<u8> {
        let mut obj = Object::new(
            BinaryFormat::Elf,
            Architecture::X86_64,
            object::Endianness::Little,
        );
        let text = obj.add_section(Vec::new(), b".text".to_vec(), SectionKind::Text);
        obj.append_section_data(text, &[0x90; 0x40], 16);
        for &(name, value, global) in symbols {
            obj.add_symbol(Symbol {
                name: name.as_bytes().to_vec(),
                value,
                size: 0,
                kind: SymbolKind::Label,
                scope: if global {
                    SymbolScope::Linkage
                } else {
                    SymbolScope::Compilation
                },
                weak: false,
                section: SymbolSection::Section(text),
                flags: SymbolFlags::None,
            });
        }
        obj.write().unwrap()
    }

    #[test]
    fn a_global_symbol_wins_over_a_local_one_of_the_same_name() {
        let data = object_with(&[
            ("anchor", 0, true),
            ("_text", 0x10, false),
            ("_text", 0x20, true),
        ]);
        let input = Input::parse(&data).unwrap();
        let base = input.symbol("anchor").unwrap();
        assert_eq!(input.symbol("_text"), Some(base + 0x20));
    }

    #[test]
    fn a_lone_local_symbol_is_still_found() {
        let data = object_with(&[("anchor", 0, true), ("_text", 0x10, false)]);
        let input = Input::parse(&data).unwrap();
        let base = input.symbol("anchor").unwrap();
        assert_eq!(input.symbol("_text"), Some(base + 0x10));
        assert_eq!(input.symbol("missing"), None);
    }
}
