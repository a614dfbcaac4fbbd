//! A read-only view of a relocatable ELF object (a `.ko`): its section headers with names, the
//! byte ranges the file header refers to, and the symbol lookups the embedder needs.
//!
//! Parsing checks every section's bytes lie inside the file, so later slicing cannot fail.
use super::raw::{
    invalid, slice, Class, FileHeader, SectionHeader, Symbol, ET_REL, SHN_LORESERVE, SHN_XINDEX,
    SHT_REL, SHT_RELA, SHT_SYMTAB, SHT_SYMTAB_SHNDX, STT_SECTION,
};
use crate::error::Result;

/// The trailer `scripts/sign-file` appends; a signed module must not be modified.
const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";

/// One section: its decoded header, its header bytes as stored, and its name.
#[derive(Debug, Clone)]
pub(crate) struct Section<'a> {
    pub header: SectionHeader,
    pub raw: &'a [u8],
    pub name: &'a [u8],
}

/// A parsed relocatable object borrowing the file's bytes.
#[derive(Debug)]
pub(crate) struct Module<'a> {
    pub data: &'a [u8],
    pub header: FileHeader,
    pub sections: Vec<Section<'a>>,
    pub shstrndx: usize,
    pub symtab: usize,
}

impl<'a> Module<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Module<'a>> {
        if data.ends_with(SIGNATURE_MAGIC) {
            return Err(invalid("module is signed; add sections before signing"));
        }
        let header = FileHeader::parse(data)?;
        if header.kind != ET_REL {
            return Err(invalid(format!("e_type {} is not ET_REL (1)", header.kind)));
        }
        let c = header.class;
        if header.shoff == 0 || u64::from(header.shentsize) != c.shdr_size() {
            return Err(invalid(format!(
                "no usable section header table (e_shoff {:#x}, e_shentsize {})",
                header.shoff, header.shentsize
            )));
        }
        let first = SectionHeader::parse(c, slice(data, header.shoff, c.shdr_size(), "section 0")?);
        let count = match header.shnum {
            0 => first.size,
            n => u64::from(n),
        };
        let table_size = count.saturating_mul(c.shdr_size());
        let table = slice(data, header.shoff, table_size, "section header table")?;
        let shstrndx = match u32::from(header.shstrndx) {
            SHN_XINDEX => first.link as usize,
            i => i as usize,
        };
        let raws: Vec<&[u8]> = table.chunks_exact(c.shdr_size() as usize).collect();
        let headers: Vec<_> = raws.iter().map(|r| SectionHeader::parse(c, r)).collect();
        let strtab = headers.get(shstrndx).ok_or_else(|| {
            invalid(format!(
                "e_shstrndx {shstrndx} out of range ({count} sections)"
            ))
        })?;
        let names = slice(data, strtab.offset, strtab.size, "section name table")?;
        let mut sections = Vec::with_capacity(headers.len());
        for (i, (header, raw)) in headers.into_iter().zip(raws).enumerate() {
            let name = name_at(names, header.name).ok_or_else(|| {
                invalid(format!(
                    "section {i}: sh_name {:#x} out of range",
                    header.name
                ))
            })?;
            if let Some((start, end)) = header.file_range() {
                // The message is built only for a failure: this runs for every section of every
                // module a warm batch checks.
                if slice(data, start, end - start, "").is_err() {
                    let what = format!("section {i} `{}`", String::from_utf8_lossy(name));
                    slice(data, start, end - start, &what)?;
                }
            }
            sections.push(Section { header, raw, name });
        }
        let symtab = unique_symtab(&sections)?;
        Ok(Module {
            data,
            header,
            sections,
            shstrndx,
            symtab,
        })
    }

    pub fn class(&self) -> Class {
        self.header.class
    }

    /// The section's bytes (empty for `SHT_NOBITS`); in bounds since [`Module::parse`] checked.
    pub fn data_of(&self, index: usize) -> &'a [u8] {
        match self.sections[index].header.file_range() {
            Some((start, end)) => &self.data[start as usize..end as usize],
            None => &[],
        }
    }

    /// Indices of the sections called `name`.
    pub fn find(&self, name: &str) -> Vec<usize> {
        let name = name.as_bytes();
        (1..self.sections.len())
            .filter(|&i| self.sections[i].name == name)
            .collect()
    }

    /// The one section called `name`, or an error saying there is none or several.
    pub fn find_unique(&self, name: &str) -> Result<usize> {
        match self.find(name)[..] {
            [i] => Ok(i),
            [] => Err(invalid(format!("no section `{name}`"))),
            ref many => Err(invalid(format!("{} sections named `{name}`", many.len()))),
        }
    }

    /// Relocation sections (`SHT_REL`/`SHT_RELA`) that apply to section `target`.
    pub fn relocations_for(&self, target: usize) -> Vec<usize> {
        let is_reloc = |s: &Section| matches!(s.header.kind, SHT_REL | SHT_RELA);
        (1..self.sections.len())
            .filter(|&i| {
                is_reloc(&self.sections[i]) && self.sections[i].header.info as usize == target
            })
            .collect()
    }

    /// Each symbol of `.symtab` with its section index resolved through `SHT_SYMTAB_SHNDX`.
    pub fn symbols(&self) -> Result<Vec<(Symbol, u32)>> {
        let c = self.class();
        let table = self.data_of(self.symtab);
        let shndx_table = (1..self.sections.len())
            .find(|&i| {
                let h = &self.sections[i].header;
                h.kind == SHT_SYMTAB_SHNDX && h.link as usize == self.symtab
            })
            .map(|i| self.data_of(i));
        let mut out = Vec::with_capacity(table.len() / c.sym_size() as usize);
        for (n, raw) in table.chunks_exact(c.sym_size() as usize).enumerate() {
            let sym = Symbol::parse(c, raw);
            let index = match (u32::from(sym.shndx), shndx_table) {
                (SHN_XINDEX, Some(t)) if t.len() >= 4 * n + 4 => c.u32(t, 4 * n),
                (SHN_XINDEX, _) => {
                    return Err(invalid(format!(
                        "symbol {n}: SHN_XINDEX without SHT_SYMTAB_SHNDX entry"
                    )))
                }
                (i, _) if i >= SHN_LORESERVE => 0, // absolute, common: no section
                (i, _) => i,
            };
            out.push((sym, index));
        }
        Ok(out)
    }

    /// Index in `.symtab` of the `STT_SECTION` symbol (value 0) of section `target`.
    pub fn section_symbol(symbols: &[(Symbol, u32)], target: usize) -> Option<u32> {
        symbols
            .iter()
            .position(|(s, i)| s.kind == STT_SECTION && *i as usize == target && s.value == 0)
            .map(|n| n as u32)
    }

    /// File ranges the current file header refers to: the ELF and program headers, the section
    /// header table and every section's bytes.
    pub fn live_ranges(&self) -> Vec<(u64, u64)> {
        let c = self.class();
        let h = &self.header;
        let mut ranges = vec![(0, c.ehdr_size())];
        let phdrs = u64::from(h.phnum) * u64::from(h.phentsize);
        if phdrs > 0 {
            ranges.push((h.phoff, h.phoff + phdrs));
        }
        ranges.push((
            h.shoff,
            h.shoff + self.sections.len() as u64 * c.shdr_size(),
        ));
        ranges.extend(self.sections.iter().filter_map(|s| s.header.file_range()));
        ranges
    }

    /// Where the referenced bytes end; anything after is left over from an interrupted update.
    pub fn live_end(&self) -> u64 {
        self.live_ranges().iter().map(|r| r.1).max().unwrap_or(0)
    }
}

/// The NUL-terminated string at `offset` in a string table.
fn name_at(table: &[u8], offset: u32) -> Option<&[u8]> {
    let rest = table.get(offset as usize..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..end])
}

fn unique_symtab(sections: &[Section]) -> Result<usize> {
    let found: Vec<usize> = (0..sections.len())
        .filter(|&i| sections[i].header.kind == SHT_SYMTAB)
        .collect();
    match found[..] {
        [i] => Ok(i),
        _ => Err(invalid(format!(
            "expected one SHT_SYMTAB section, found {}",
            found.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stop_at_nul_and_reject_bad_offsets() {
        let t = b"\0.text\0.rela.text\0";
        assert_eq!(name_at(t, 1), Some(&b".text"[..]));
        assert_eq!(name_at(t, 12), Some(&b".text"[..])); // suffix of `.rela.text`
        assert_eq!(name_at(t, 40), None);
        assert_eq!(name_at(b"abc", 0), None); // no terminator
    }

    #[test]
    fn signed_and_non_elf_inputs_are_rejected() {
        let mut signed = b"\x7fELF".to_vec();
        signed.extend_from_slice(SIGNATURE_MAGIC);
        let e = Module::parse(&signed).unwrap_err().to_string();
        assert!(e.contains("signed"), "{e}");
        assert!(Module::parse(b"\x7fELF\x02\x01\x01").is_err());
    }
}
