//! The raw ELF structures a section embedder touches — file header, section headers, symbols —
//! read and written field by field in either class (ELF32/ELF64) and either byte order.
//!
//! Only what [`super`] needs is decoded; everything else is carried as the input's own bytes, so a
//! header that is not changed is copied verbatim. Every read is bounds-checked and fails with the
//! offset it wanted; nothing here panics on hostile input.
use object::Endian as _;

use crate::error::{Error, ErrorKind, Result};
use crate::vocab::Endian;

pub(crate) const ET_REL: u16 = 1;
pub(crate) const SHT_NULL: u32 = 0;
pub(crate) const SHT_PROGBITS: u32 = 1;
pub(crate) const SHT_SYMTAB: u32 = 2;
pub(crate) const SHT_RELA: u32 = 4;
pub(crate) const SHT_NOBITS: u32 = 8;
pub(crate) const SHT_REL: u32 = 9;
pub(crate) const SHT_SYMTAB_SHNDX: u32 = 18;
pub(crate) const SHF_INFO_LINK: u64 = 0x40;
pub(crate) const SHN_LORESERVE: u32 = 0xff00;
pub(crate) const SHN_XINDEX: u32 = 0xffff;
pub(crate) const STT_SECTION: u8 = 3;

/// Word size and byte order of one ELF file, from `e_ident`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Class {
    pub is64: bool,
    pub endian: Endian,
}

/// The alignment an `sh_addralign` asks for: 0 means 1.
pub(crate) fn effective_align(align: u64) -> u64 {
    align.max(1)
}

pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Elf(msg.into()))
}

/// `len` bytes of `data` at `off`, or an error naming what was wanted and what exists.
pub(crate) fn slice<'a>(data: &'a [u8], off: u64, len: u64, what: &str) -> Result<&'a [u8]> {
    let end = off.checked_add(len);
    match end {
        Some(end) if end <= data.len() as u64 => Ok(&data[off as usize..end as usize]),
        _ => Err(invalid(format!(
            "{what} at offset {off:#x} size {len:#x} lies outside the {:#x}-byte file",
            data.len()
        ))),
    }
}

impl Class {
    /// The class and byte order `e_ident` gives, or the error naming what is wrong with it;
    /// the one reading of an ELF identification (the vmlinux emitters' [`Target`] uses it too).
    ///
    /// [`Target`]: crate::emit::Target
    pub fn parse(data: &[u8]) -> Result<Class> {
        let ident = data.get(..16).ok_or_else(|| {
            invalid(format!(
                "{} bytes is too short for an ELF identification (16 bytes)",
                data.len()
            ))
        })?;
        if ident[..4] != object::elf::ELFMAG {
            return Err(invalid(format!(
                "not an ELF file: magic is {:02x?}, expected 7f 45 4c 46",
                &ident[..4]
            )));
        }
        let is64 = match object::elf::FileClass(ident[4]) {
            object::elf::ELFCLASS32 => false,
            object::elf::ELFCLASS64 => true,
            c => return Err(invalid(format!("unknown ELF class (EI_CLASS = {})", c.0))),
        };
        let endian = match object::elf::DataEncoding(ident[5]) {
            object::elf::ELFDATA2LSB => Endian::Little,
            object::elf::ELFDATA2MSB => Endian::Big,
            d => {
                return Err(invalid(format!(
                    "unknown ELF byte order (EI_DATA = {})",
                    d.0
                )))
            }
        };
        Ok(Class { is64, endian })
    }

    pub fn ehdr_size(self) -> u64 {
        if self.is64 {
            64
        } else {
            52
        }
    }
    pub fn shdr_size(self) -> u64 {
        if self.is64 {
            64
        } else {
            40
        }
    }
    pub fn sym_size(self) -> u64 {
        if self.is64 {
            24
        } else {
            16
        }
    }
    /// Alignment of the section header table and of relocation sections.
    pub fn word(self) -> u64 {
        if self.is64 {
            8
        } else {
            4
        }
    }

    pub fn u16(self, b: &[u8], off: usize) -> u16 {
        self.endian.read_u16([b[off], b[off + 1]])
    }
    pub fn u32(self, b: &[u8], off: usize) -> u32 {
        let a: [u8; 4] = b[off..off + 4].try_into().unwrap_or_default();
        self.endian.read_u32(a)
    }
    pub fn u64(self, b: &[u8], off: usize) -> u64 {
        let a: [u8; 8] = b[off..off + 8].try_into().unwrap_or_default();
        self.endian.read_u64(a)
    }
    /// An address-sized field: u32 in ELF32, u64 in ELF64.
    pub fn addr(self, b: &[u8], off32: usize, off64: usize) -> u64 {
        if self.is64 {
            self.u64(b, off64)
        } else {
            u64::from(self.u32(b, off32))
        }
    }

    pub fn put_u16(self, b: &mut [u8], off: usize, v: u16) {
        b[off..off + 2].copy_from_slice(&self.endian.write_u16(v));
    }
    pub fn put_u32(self, b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&self.endian.write_u32(v));
    }
    pub fn put_u64(self, b: &mut [u8], off: usize, v: u64) {
        b[off..off + 8].copy_from_slice(&self.endian.write_u64(v));
    }
    /// Writes an address-sized field; the caller has checked that `v` fits in ELF32.
    pub fn put_addr(self, b: &mut [u8], off32: usize, off64: usize, v: u64) {
        if self.is64 {
            self.put_u64(b, off64, v)
        } else {
            self.put_u32(b, off32, v as u32)
        }
    }
    /// Appends an address-sized value in this byte order.
    pub fn push_addr(self, out: &mut Vec<u8>, v: u64) {
        let start = out.len();
        out.resize(start + self.word() as usize, 0);
        self.put_addr(&mut out[start..], 0, 0, v);
    }
}

/// The file header fields the embedder reads or rewrites.
#[derive(Debug, Clone)]
pub(crate) struct FileHeader {
    pub class: Class,
    pub kind: u16,
    pub machine: u16,
    pub phoff: u64,
    pub phentsize: u16,
    pub phnum: u16,
    pub shoff: u64,
    pub shentsize: u16,
    /// `e_shnum` as stored (0 when the count is in section 0's `sh_size`).
    pub shnum: u16,
    /// `e_shstrndx` as stored (`SHN_XINDEX` when it is in section 0's `sh_link`).
    pub shstrndx: u16,
}

impl FileHeader {
    pub fn parse(data: &[u8]) -> Result<FileHeader> {
        let class = Class::parse(data)?;
        let h = slice(data, 0, class.ehdr_size(), "ELF header")?;
        let c = class;
        let pick = |a: usize, b: usize| if c.is64 { b } else { a };
        Ok(FileHeader {
            class,
            kind: c.u16(h, 16),
            machine: c.u16(h, 18),
            phoff: c.addr(h, 28, 32),
            shoff: c.addr(h, 32, 40),
            phentsize: c.u16(h, pick(42, 54)),
            phnum: c.u16(h, pick(44, 56)),
            shentsize: c.u16(h, pick(46, 58)),
            shnum: c.u16(h, pick(48, 60)),
            shstrndx: c.u16(h, pick(50, 62)),
        })
    }

    /// A copy of the input's header bytes with the section header table fields replaced.
    pub fn rewrite(&self, data: &[u8], shoff: u64, shnum: u16, shstrndx: u16) -> Vec<u8> {
        let c = self.class;
        let mut h = data[..c.ehdr_size() as usize].to_vec();
        let pick = |a: usize, b: usize| if c.is64 { b } else { a };
        c.put_addr(&mut h, 32, 40, shoff);
        c.put_u16(&mut h, pick(48, 60), shnum);
        c.put_u16(&mut h, pick(50, 62), shstrndx);
        h
    }
}

/// One decoded section header; `raw` is the input's header bytes, copied verbatim when kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SectionHeader {
    pub name: u32,
    pub kind: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub addralign: u64,
    pub entsize: u64,
}

impl SectionHeader {
    pub fn parse(c: Class, b: &[u8]) -> SectionHeader {
        let pick = |a: usize, b: usize| if c.is64 { b } else { a };
        SectionHeader {
            name: c.u32(b, 0),
            kind: c.u32(b, 4),
            flags: c.addr(b, 8, 8),
            addr: c.addr(b, 12, 16),
            offset: c.addr(b, 16, 24),
            size: c.addr(b, 20, 32),
            link: c.u32(b, pick(24, 40)),
            info: c.u32(b, pick(28, 44)),
            addralign: c.addr(b, 32, 48),
            entsize: c.addr(b, 36, 56),
        }
    }

    pub fn write(&self, c: Class) -> Vec<u8> {
        let mut b = vec![0; c.shdr_size() as usize];
        let pick = |a: usize, b: usize| if c.is64 { b } else { a };
        c.put_u32(&mut b, 0, self.name);
        c.put_u32(&mut b, 4, self.kind);
        c.put_addr(&mut b, 8, 8, self.flags);
        c.put_addr(&mut b, 12, 16, self.addr);
        c.put_addr(&mut b, 16, 24, self.offset);
        c.put_addr(&mut b, 20, 32, self.size);
        c.put_u32(&mut b, pick(24, 40), self.link);
        c.put_u32(&mut b, pick(28, 44), self.info);
        c.put_addr(&mut b, 32, 48, self.addralign);
        c.put_addr(&mut b, 36, 56, self.entsize);
        b
    }

    /// The bytes this section occupies in the file, if any.
    pub fn file_range(&self) -> Option<(u64, u64)> {
        (self.kind != SHT_NOBITS && self.kind != SHT_NULL && self.size > 0)
            .then(|| (self.offset, self.offset.saturating_add(self.size)))
    }
}

/// One symbol's `st_info` type and section index field (before `SHN_XINDEX` resolution).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Symbol {
    pub kind: u8,
    pub shndx: u16,
    pub value: u64,
}

impl Symbol {
    pub fn parse(c: Class, b: &[u8]) -> Symbol {
        if c.is64 {
            Symbol {
                kind: b[4] & 0xf,
                shndx: c.u16(b, 6),
                value: c.u64(b, 8),
            }
        } else {
            Symbol {
                kind: b[12] & 0xf,
                shndx: c.u16(b, 14),
                value: u64::from(c.u32(b, 4)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_header_round_trips_in_every_class_and_order() {
        let sh = SectionHeader {
            name: 7,
            kind: SHT_RELA,
            flags: SHF_INFO_LINK,
            addr: 0,
            offset: 0x1234,
            size: 0x30,
            link: 5,
            info: 3,
            addralign: 8,
            entsize: 24,
        };
        for is64 in [false, true] {
            for endian in [Endian::Little, Endian::Big] {
                let c = Class { is64, endian };
                let b = sh.write(c);
                assert_eq!(b.len() as u64, c.shdr_size());
                assert_eq!(SectionHeader::parse(c, &b), sh);
            }
        }
    }

    #[test]
    fn big_endian_fields_are_stored_most_significant_first() {
        let c = Class {
            is64: false,
            endian: Endian::Big,
        };
        let mut b = [0u8; 4];
        c.put_u32(&mut b, 0, 0x0102_0304);
        assert_eq!(b, [1, 2, 3, 4]);
    }

    #[test]
    fn slices_outside_the_file_are_errors_with_numbers() {
        let e = slice(&[0; 16], 8, 16, ".text").unwrap_err().to_string();
        assert_eq!(
            e,
            "bad ELF: .text at offset 0x8 size 0x10 lies outside the 0x10-byte file"
        );
        assert!(slice(&[0; 16], u64::MAX, 2, "x").is_err());
    }

    #[test]
    fn non_elf_input_is_rejected() {
        let err = |data: &[u8]| Class::parse(data).unwrap_err().to_string();
        assert!(err(b"\x7fELF").contains("4 bytes is too short"));
        assert!(err(&[0u8; 64]).contains("not an ELF file: magic is [00, 00, 00, 00]"));
        assert!(err(b"\x7fELF\x03\x01\0\0\0\0\0\0\0\0\0\0").contains("EI_CLASS = 3"));
        assert!(err(b"\x7fELF\x02\x00\0\0\0\0\0\0\0\0\0\0").contains("EI_DATA = 0"));
        let le64 = b"\x7fELF\x02\x01\0\0\0\0\0\0\0\0\0\0";
        let c = Class::parse(le64).unwrap();
        assert_eq!((c.is64, c.endian), (true, Endian::Little));
    }
}
