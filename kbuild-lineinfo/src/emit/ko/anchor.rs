//! Anchor relocations: which absolute relocation type each supported machine uses, whether it
//! keeps addends in the entry (`SHT_RELA`) or in the section bytes (`SHT_REL`), and the bytes of
//! one entry. docs/format.md §4.3: an anchor is an absolute relocation, addend 0, against a section
//! symbol. [`Relocs`]: the relocation sections of the new sections, built from them.
use super::module::Module;
use super::patch::NewSection;
use super::raw::{invalid, Class, SHT_REL, SHT_RELA};
use crate::error::Result;
use object::elf;

/// How one machine writes anchor relocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RelocFormat {
    pub class: Class,
    /// `SHT_RELA` (explicit addend) or `SHT_REL` (implicit addend in the section bytes).
    pub rela: bool,
    abs32: Option<u32>,
    abs64: Option<u32>,
}

impl RelocFormat {
    /// The format for `e_machine`, or an error naming the machine number.
    pub fn for_machine(class: Class, machine: u16) -> Result<RelocFormat> {
        let wide = |t64: u32| class.is64.then_some(t64);
        let (rela, abs32, abs64) = match elf::Machine(machine) {
            elf::EM_X86_64 => (true, Some(elf::R_X86_64_32.0), wide(elf::R_X86_64_64.0)),
            elf::EM_386 => (false, Some(elf::R_386_32.0), None),
            elf::EM_AARCH64 => (
                true,
                Some(elf::R_AARCH64_ABS32.0),
                wide(elf::R_AARCH64_ABS64.0),
            ),
            elf::EM_ARM => (false, Some(elf::R_ARM_ABS32.0), None),
            elf::EM_RISCV => (true, Some(elf::R_RISCV_32.0), wide(elf::R_RISCV_64.0)),
            elf::EM_S390 => (true, Some(elf::R_390_32.0), wide(elf::R_390_64.0)),
            elf::EM_PPC64 => (
                true,
                Some(elf::R_PPC64_ADDR32.0),
                wide(elf::R_PPC64_ADDR64.0),
            ),
            elf::EM_PPC => (true, Some(elf::R_PPC_ADDR32.0), None),
            elf::EM_LOONGARCH => (true, Some(elf::R_LARCH_32.0), wide(elf::R_LARCH_64.0)),
            m => {
                return Err(invalid(format!(
                    "no anchor relocation type known for e_machine {}; supported: x86-64, \
                     i386, AArch64, ARM, RISC-V, s390, PowerPC, LoongArch",
                    m.0
                )))
            }
        };
        Ok(RelocFormat {
            class,
            rela,
            abs32,
            abs64,
        })
    }

    /// The relocation type for an anchor of `size` bytes (4 or 8).
    pub fn kind(&self, size: u8) -> Result<u32> {
        let t = match size {
            4 => self.abs32,
            8 => self.abs64,
            _ => None,
        };
        t.ok_or_else(|| {
            let class = if self.class.is64 { "ELF64" } else { "ELF32" };
            invalid(format!(
                "no {size}-byte absolute relocation type on this {class} machine"
            ))
        })
    }

    pub fn section_type(&self) -> u32 {
        if self.rela {
            SHT_RELA
        } else {
            SHT_REL
        }
    }

    pub fn prefix(&self) -> &'static str {
        if self.rela {
            ".rela"
        } else {
            ".rel"
        }
    }

    /// `sh_entsize` of the relocation section.
    pub fn entry_size(&self) -> u64 {
        let words = if self.rela { 3 } else { 2 };
        words * self.class.word()
    }

    /// Appends one entry: `r_offset`, `r_info` for (`symbol`, `kind`), and a zero addend on RELA.
    pub fn push_entry(&self, out: &mut Vec<u8>, offset: u64, symbol: u32, kind: u32) -> Result<()> {
        let c = self.class;
        let info = if c.is64 {
            (u64::from(symbol) << 32) | u64::from(kind)
        } else if symbol < 1 << 24 {
            u64::from((symbol << 8) | (kind & 0xff))
        } else {
            return Err(invalid(format!(
                "symbol index {symbol} does not fit an ELF32 r_info"
            )));
        };
        c.push_addr(out, offset);
        c.push_addr(out, info);
        if self.rela {
            c.push_addr(out, 0);
        }
        Ok(())
    }
}

/// The relocation section contents for each new section (empty when it has no anchors).
#[derive(Debug)]
pub(crate) struct Relocs {
    /// Present when any new section has anchors.
    pub format: Option<RelocFormat>,
    pub bytes: Vec<Vec<u8>>,
}

impl Relocs {
    pub(super) fn compute(m: &Module, new: &[NewSection]) -> Result<Relocs> {
        if new.iter().all(|s| s.relocations.is_empty()) {
            return Ok(Relocs {
                format: None,
                bytes: vec![Vec::new(); new.len()],
            });
        }
        let format = RelocFormat::for_machine(m.class(), m.header.machine)?;
        let symbols = m.symbols()?;
        let mut bytes = Vec::with_capacity(new.len());
        for s in new {
            let mut out = Vec::new();
            for r in &s.relocations {
                let place = format!("{}+{:#x}", s.name, r.offset);
                let target = m.find_unique(&r.target_section).map_err(|e| e.at(&place))?;
                let symbol = Module::section_symbol(&symbols, target).ok_or_else(|| {
                    let msg = format!("no section symbol for {} in .symtab", r.target_section);
                    invalid(msg).at(&place)
                })?;
                let kind = format.kind(r.size).map_err(|e| e.at(&place))?;
                format.push_entry(&mut out, r.offset, symbol, kind)?;
            }
            bytes.push(out);
        }
        Ok(Relocs {
            format: Some(format),
            bytes,
        })
    }

    /// `.rela.NAME` or `.rel.NAME`.
    pub fn section_name(&self, section: &str) -> String {
        let prefix = self.format.map_or(".rela", |f| f.prefix());
        format!("{prefix}{section}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Endian;

    const LE64: Class = Class {
        is64: true,
        endian: Endian::Little,
    };
    const BE64: Class = Class {
        is64: true,
        endian: Endian::Big,
    };
    const LE32: Class = Class {
        is64: false,
        endian: Endian::Little,
    };

    #[test]
    fn x86_64_entry_is_rela_with_r_x86_64_64() {
        let f = RelocFormat::for_machine(LE64, elf::EM_X86_64.0).unwrap();
        let mut out = Vec::new();
        f.push_entry(&mut out, 0x10, 3, f.kind(8).unwrap()).unwrap();
        #[rustfmt::skip]
        let want = [
            0x10, 0, 0, 0, 0, 0, 0, 0, // r_offset
            1, 0, 0, 0, 3, 0, 0, 0,    // r_info: type 1 (R_X86_64_64), symbol 3
            0, 0, 0, 0, 0, 0, 0, 0,    // r_addend
        ];
        assert_eq!(out, want);
        assert_eq!(f.entry_size(), 24);
        assert_eq!((f.section_type(), f.prefix()), (SHT_RELA, ".rela"));
    }

    #[test]
    fn i386_entry_is_rel_with_r_386_32_and_no_64_bit_type() {
        let f = RelocFormat::for_machine(LE32, elf::EM_386.0).unwrap();
        let mut out = Vec::new();
        f.push_entry(&mut out, 8, 2, f.kind(4).unwrap()).unwrap();
        assert_eq!(out, [8, 0, 0, 0, 1, 2, 0, 0]); // r_info = 2 << 8 | 1
        assert_eq!(
            (f.section_type(), f.prefix(), f.entry_size()),
            (SHT_REL, ".rel", 8)
        );
        assert!(f.kind(8).is_err());
    }

    #[test]
    fn s390_is_big_endian_r_390_64() {
        let f = RelocFormat::for_machine(BE64, elf::EM_S390.0).unwrap();
        let mut out = Vec::new();
        f.push_entry(&mut out, 4, 1, f.kind(8).unwrap()).unwrap();
        assert_eq!(&out[8..16], &[0, 0, 0, 1, 0, 0, 0, 22]); // symbol 1, R_390_64 = 22
    }

    #[test]
    fn unknown_machines_and_sizes_are_clear_errors() {
        let e = RelocFormat::for_machine(LE64, elf::EM_MIPS.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("e_machine 8"), "{e}");
        let f = RelocFormat::for_machine(LE64, elf::EM_AARCH64.0).unwrap();
        assert_eq!(f.kind(8).unwrap(), elf::R_AARCH64_ABS64.0);
        assert!(f.kind(2).is_err());
    }

    #[test]
    fn elf32_symbol_index_must_fit_24_bits() {
        let f = RelocFormat::for_machine(LE32, elf::EM_ARM.0).unwrap();
        assert!(f.push_entry(&mut Vec::new(), 0, 1 << 24, 2).is_err());
    }
}
