//! `ET_REL` relocations of debug sections (docs/format.md §1, modules).
//!
//! A module's debug sections are full of relocations: `DW_LNE_set_address` operands point at
//! section symbols plus addends, and `DW_AT_stmt_list`, string offsets and each CU's abbrev offset
//! point into other debug sections. They are applied here to an owned copy of each section's
//! bytes, the way a linker would, so that gimli then reads ordinary DWARF. Only the relocation
//! types that appear in debug sections are known; anything else is an error naming the type.

use crate::bytes;
use crate::error::{Error, ErrorKind, Result};
use crate::vocab::Endian;
use object::elf::{self, Rel32, Rel64, Rela32, Rela64};
use object::read::elf::{Rel, Rela};

/// The relocation records of one section, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub enum Records<'data> {
    Rel32(&'data [Rel32<Endian>]),
    Rela32(&'data [Rela32<Endian>]),
    Rel64(&'data [Rel64<Endian>]),
    Rela64(&'data [Rela64<Endian>]),
}

/// One record, decoded (from the raw records or from object's relocation iterator).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) offset: u64,
    pub(crate) r_type: object::elf::RelocationType,
    pub(crate) symbol: u32,
    pub(crate) addend: i64,
}

impl Records<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Records::Rel32(r) => r.len(),
            Records::Rela32(r) => r.len(),
            Records::Rel64(r) => r.len(),
            Records::Rela64(r) => r.len(),
        }
    }

    /// REL records keep their addend in the section bytes.
    pub(crate) fn implicit_addend(&self) -> bool {
        matches!(self, Records::Rel32(_) | Records::Rel64(_))
    }

    pub(crate) fn offset(&self, i: usize, e: Endian) -> u64 {
        match self {
            Records::Rel32(r) => r[i].r_offset(e).into(),
            Records::Rela32(r) => r[i].r_offset(e).into(),
            Records::Rel64(r) => r[i].r_offset(e),
            Records::Rela64(r) => r[i].r_offset(e),
        }
    }

    /// Record `i`, decoded as object decodes it (`mips64el`: [`is_mips64el`], which changes how
    /// RELA records of 64-bit MIPS keep `r_info`).
    pub(crate) fn record(&self, i: usize, e: Endian, mips64el: bool) -> Record {
        let (offset, r_type, symbol, addend) = match self {
            Records::Rel32(r) => (r[i].r_offset(e).into(), r[i].r_type(e), r[i].r_sym(e), 0),
            Records::Rela32(r) => {
                let x = &r[i];
                (
                    x.r_offset(e).into(),
                    Rela::r_type(x, e, mips64el),
                    Rela::r_sym(x, e, mips64el),
                    x.r_addend(e).into(),
                )
            }
            Records::Rel64(r) => (r[i].r_offset(e), r[i].r_type(e), r[i].r_sym(e), 0),
            Records::Rela64(r) => {
                let x = &r[i];
                (
                    x.r_offset(e),
                    Rela::r_type(x, e, mips64el),
                    Rela::r_sym(x, e, mips64el),
                    x.r_addend(e),
                )
            }
        };
        Record {
            offset,
            r_type,
            symbol,
            addend,
        }
    }
}

impl Record {
    /// S + A: the address of the record's symbol (by symbol index, in `symbols`) plus its
    /// addend. Symbol 0 is no symbol: an absolute value (object's `RelocationTarget::Absolute`).
    pub(crate) fn target(&self, symbols: &[u64]) -> Result<u64> {
        let symbol = match self.symbol {
            0 => 0,
            i => *symbols.get(i as usize).ok_or_else(|| {
                Error::new(ErrorKind::Relocation(format!(
                    "relocation at offset {:#x} names symbol {i} which does not exist",
                    self.offset
                )))
            })?,
        };
        Ok(symbol.wrapping_add(self.addend as u64))
    }
}

/// Whether RELA records keep `r_info` the 64-bit MIPS little-endian way (object's
/// `FileHeader::is_mips64el`).
pub(crate) fn is_mips64el(e_machine: elf::Machine, is_64: bool, endian: Endian) -> bool {
    e_machine == elf::EM_MIPS && is_64 && endian == Endian::Little
}

/// What `r`'s type does on machine `e_machine`, or the one error naming the type.
pub(crate) fn op(e_machine: elf::Machine, is_64: bool, r: &Record) -> Result<Op> {
    classify(e_machine, is_64, r.r_type).ok_or_else(|| {
        Error::new(ErrorKind::Relocation(format!(
            "unsupported relocation type {} ({:?}) for {} at offset {:#x}",
            r.r_type.0,
            r.r_type,
            machine_name(e_machine),
            r.offset
        )))
    })
}

/// What one relocation type does to the bytes at its offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Nothing (`R_*_NONE`, and RISC-V/LoongArch relaxation markers).
    None,
    /// Store S + A in `n` bytes.
    Abs(u8),
    /// Add S + A to the `n`-byte value in place (RISC-V, LoongArch label differences).
    Add(u8),
    /// Subtract S + A from the `n`-byte value in place.
    Sub(u8),
    /// Subtract S + A from the low 6 bits of the byte.
    Sub6,
    /// Store S + A in the low 6 bits of the byte.
    Set6,
    /// Add S + A to the low 6 bits of the byte.
    Add6,
    /// Store S + A in the ULEB128 at the offset, keeping its length.
    SetUleb,
    /// Add S + A to the ULEB128 at the offset, keeping its length.
    AddUleb,
    /// Subtract S + A from the ULEB128 at the offset, keeping its length.
    SubUleb,
}

/// The operation of relocation type `r_type` on machine `e_machine` (`is_64` for the ELF class),
/// or `None` when the type is not one that debug sections use.
pub fn classify(e_machine: elf::Machine, is_64: bool, r_type: elf::RelocationType) -> Option<Op> {
    use Op::*;
    let op = match e_machine {
        elf::EM_X86_64 => match r_type {
            elf::R_X86_64_NONE => None,
            elf::R_X86_64_64 => Abs(8),
            elf::R_X86_64_32 | elf::R_X86_64_32S => Abs(4),
            _ => return Option::None,
        },
        elf::EM_386 => match r_type {
            elf::R_386_NONE => None,
            elf::R_386_32 => Abs(4),
            _ => return Option::None,
        },
        elf::EM_AARCH64 if is_64 => match r_type {
            elf::R_AARCH64_NONE => None,
            elf::R_AARCH64_ABS64 => Abs(8),
            elf::R_AARCH64_ABS32 => Abs(4),
            elf::R_AARCH64_ABS16 => Abs(2),
            _ => return Option::None,
        },
        elf::EM_ARM => match r_type {
            elf::R_ARM_NONE => None,
            elf::R_ARM_ABS32 | elf::R_ARM_TARGET1 => Abs(4),
            _ => return Option::None,
        },
        elf::EM_RISCV => match r_type {
            elf::R_RISCV_NONE | elf::R_RISCV_RELAX | elf::R_RISCV_ALIGN => None,
            elf::R_RISCV_32 => Abs(4),
            elf::R_RISCV_64 => Abs(8),
            elf::R_RISCV_ADD8 => Add(1),
            elf::R_RISCV_ADD16 => Add(2),
            elf::R_RISCV_ADD32 => Add(4),
            elf::R_RISCV_ADD64 => Add(8),
            elf::R_RISCV_SUB8 => Sub(1),
            elf::R_RISCV_SUB16 => Sub(2),
            elf::R_RISCV_SUB32 => Sub(4),
            elf::R_RISCV_SUB64 => Sub(8),
            elf::R_RISCV_SUB6 => Sub6,
            elf::R_RISCV_SET6 => Set6,
            elf::R_RISCV_SET8 => Abs(1),
            elf::R_RISCV_SET16 => Abs(2),
            elf::R_RISCV_SET32 => Abs(4),
            elf::R_RISCV_SET_ULEB128 => SetUleb,
            elf::R_RISCV_SUB_ULEB128 => SubUleb,
            _ => return Option::None,
        },
        elf::EM_S390 => match r_type {
            elf::R_390_NONE => None,
            elf::R_390_32 => Abs(4),
            elf::R_390_64 => Abs(8),
            _ => return Option::None,
        },
        elf::EM_PPC | elf::EM_PPC64 => match r_type {
            elf::R_PPC_NONE => None,
            elf::R_PPC_ADDR32 | elf::R_PPC_UADDR32 => Abs(4),
            elf::R_PPC64_ADDR64 | elf::R_PPC64_UADDR64 if is_64 => Abs(8),
            _ => return Option::None,
        },
        elf::EM_LOONGARCH => match r_type {
            elf::R_LARCH_NONE | elf::R_LARCH_RELAX | elf::R_LARCH_ALIGN => None,
            elf::R_LARCH_32 => Abs(4),
            elf::R_LARCH_64 => Abs(8),
            elf::R_LARCH_ADD8 => Add(1),
            elf::R_LARCH_ADD16 => Add(2),
            elf::R_LARCH_ADD32 => Add(4),
            elf::R_LARCH_ADD64 => Add(8),
            elf::R_LARCH_SUB8 => Sub(1),
            elf::R_LARCH_SUB16 => Sub(2),
            elf::R_LARCH_SUB32 => Sub(4),
            elf::R_LARCH_SUB64 => Sub(8),
            elf::R_LARCH_ADD6 => Add6,
            elf::R_LARCH_SUB6 => Sub6,
            elf::R_LARCH_ADD_ULEB128 => AddUleb,
            elf::R_LARCH_SUB_ULEB128 => SubUleb,
            _ => return Option::None,
        },
        _ => return Option::None,
    };
    Some(op)
}

/// Applies one relocation to `data` at `offset`.
///
/// `value` is S + A (symbol value plus explicit addend). With an implicit addend (REL), the
/// addend is the value already stored in place, so `Abs` adds to it.
pub fn apply(
    data: &mut [u8],
    offset: u64,
    op: Op,
    value: u64,
    implicit_addend: bool,
    endian: Endian,
) -> Result<()> {
    let at = usize::try_from(offset).unwrap_or(usize::MAX);
    match op {
        Op::None => Ok(()),
        Op::Abs(n) => {
            let old = if implicit_addend {
                read(data, at, n, endian)?
            } else {
                0
            };
            write(data, at, n, old.wrapping_add(value), endian)
        }
        Op::Add(n) => {
            let old = read(data, at, n, endian)?;
            write(data, at, n, old.wrapping_add(value), endian)
        }
        Op::Sub(n) => {
            let old = read(data, at, n, endian)?;
            write(data, at, n, old.wrapping_sub(value), endian)
        }
        Op::Set6 | Op::Add6 | Op::Sub6 => {
            let byte = data.get_mut(at).ok_or_else(|| out_of_range(offset, 1, 0))?;
            let low = u64::from(*byte & 0x3f);
            let new = match op {
                Op::Set6 => value,
                Op::Add6 => low.wrapping_add(value),
                _ => low.wrapping_sub(value),
            };
            *byte = (*byte & 0xc0) | (new as u8 & 0x3f);
            Ok(())
        }
        Op::SetUleb | Op::AddUleb | Op::SubUleb => {
            let (old, len) = read_uleb_in_place(data, at)?;
            let new = match op {
                Op::SetUleb => value,
                Op::AddUleb => old.wrapping_add(value),
                _ => old.wrapping_sub(value),
            };
            write_uleb_in_place(&mut data[at..at + len], new);
            Ok(())
        }
    }
}

fn out_of_range(offset: u64, size: u8, len: usize) -> Error {
    Error::new(ErrorKind::Relocation(format!(
        "{size}-byte relocation at offset {offset:#x} is past the end of the section ({len:#x} bytes)"
    )))
}

/// The `n`-byte value at `at`, through [`bytes::read_uint`].
fn read(data: &[u8], at: usize, n: u8, endian: Endian) -> Result<u64> {
    at.checked_add(usize::from(n))
        .and_then(|end| data.get(at..end))
        .and_then(|field| bytes::read_uint(field, endian))
        .ok_or_else(|| out_of_range(at as u64, n, data.len()))
}

/// Stores the low `n` bytes of `value` at `at`, through [`bytes::write_uint`].
fn write(data: &mut [u8], at: usize, n: u8, value: u64, endian: Endian) -> Result<()> {
    let len = data.len();
    at.checked_add(usize::from(n))
        .and_then(|end| data.get_mut(at..end))
        .and_then(|field| bytes::write_uint(field, value, endian))
        .ok_or_else(|| out_of_range(at as u64, n, len))
}

fn read_uleb_in_place(data: &[u8], at: usize) -> Result<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in data.get(at..).unwrap_or(&[]).iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(Error::new(ErrorKind::Relocation(format!(
        "ULEB128 relocation at offset {at:#x}: no complete ULEB128 there"
    ))))
}

/// Writes `value` into exactly `out.len()` ULEB128 bytes (padding with continuation bytes),
/// truncating high bits that do not fit, as linkers do.
fn write_uleb_in_place(out: &mut [u8], mut value: u64) {
    let last = out.len() - 1;
    for (i, b) in out.iter_mut().enumerate() {
        *b = (value & 0x7f) as u8 | if i < last { 0x80 } else { 0 };
        value >>= 7;
    }
}

/// A readable name of an ELF machine, for messages.
pub(crate) fn machine_name(e_machine: elf::Machine) -> String {
    use object::elf::*;
    let name = match e_machine {
        EM_X86_64 => "x86-64",
        EM_386 => "i386",
        EM_AARCH64 => "AArch64",
        EM_ARM => "ARM",
        EM_RISCV => "RISC-V",
        EM_S390 => "s390",
        EM_PPC => "PowerPC",
        EM_PPC64 => "PowerPC64",
        EM_LOONGARCH => "LoongArch",
        EM_MIPS => "MIPS",
        _ => return format!("e_machine {}", e_machine.0),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mips64el_records_decode_as_the_abi_lays_them_out() {
        // MIPS64 little-endian r_info (ABI): r_sym as a u32, then r_ssym, r_type3, r_type2
        // and r_type, one byte each.
        let mut raw = [0u8; 24];
        raw[..8].copy_from_slice(&0x40u64.to_le_bytes());
        raw[8..12].copy_from_slice(&5u32.to_le_bytes());
        raw[15] = elf::R_MIPS_64.0 as u8;
        raw[16..].copy_from_slice(&7i64.to_le_bytes());
        let rela: &[Rela64<Endian>] = object::pod::slice_from_all_bytes(&raw).unwrap();
        let records = Records::Rela64(rela);
        let r = records.record(0, Endian::Little, true);
        assert_eq!((r.offset, r.symbol, r.addend), (0x40, 5, 7));
        assert_eq!(r.r_type, elf::R_MIPS_64);
        assert!(is_mips64el(elf::EM_MIPS, true, Endian::Little));
        assert!(!is_mips64el(elf::EM_MIPS, true, Endian::Big));
        assert!(!is_mips64el(elf::EM_X86_64, true, Endian::Little));
    }

    #[test]
    fn targets_are_symbol_plus_addend_and_symbol_0_is_none() {
        let r = |symbol, addend| Record {
            offset: 0x22,
            r_type: elf::RelocationType(1),
            symbol,
            addend,
        };
        let symbols = [0, 0x1000, 0x2000];
        assert_eq!(r(2, 8).target(&symbols), Ok(0x2008));
        assert_eq!(r(0, 8).target(&[]), Ok(8));
        assert_eq!(r(1, -1).target(&symbols), Ok(0xfff));
        let e = r(3, 0).target(&symbols).unwrap_err().to_string();
        assert!(e.contains("relocation at offset 0x22 names symbol 3 which does not exist"));
        let e = op(elf::EM_X86_64, true, &r(1, 0)).unwrap();
        assert_eq!(e, Op::Abs(8));
        let e = op(
            elf::EM_X86_64,
            true,
            &Record {
                r_type: elf::RelocationType(2),
                ..r(1, 0)
            },
        );
        let e = e.unwrap_err().to_string();
        assert!(e.contains("unsupported relocation type 2 (2) for x86-64 at offset 0x22"));
    }

    #[test]
    fn abs_little_and_big() {
        let mut d = [0u8; 12];
        apply(
            &mut d,
            2,
            Op::Abs(8),
            0x0102_0304_0506_0708,
            false,
            Endian::Little,
        )
        .unwrap();
        assert_eq!(d, [0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]);
        let mut d = [0u8; 6];
        apply(&mut d, 1, Op::Abs(4), 0x1122_3344, false, Endian::Big).unwrap();
        assert_eq!(d, [0, 0x11, 0x22, 0x33, 0x44, 0]);
    }

    #[test]
    fn implicit_addend_adds_to_stored_value() {
        // i386 REL: the addend 0x10 sits in the section; S = 0x1000.
        let mut d = [0x10, 0, 0, 0];
        apply(&mut d, 0, Op::Abs(4), 0x1000, true, Endian::Little).unwrap();
        assert_eq!(d, [0x10, 0x10, 0, 0]);
    }

    #[test]
    fn add_sub_pairs_make_differences() {
        // RISC-V: ADD16 label_b then SUB16 label_a at the same place gives b - a.
        let mut d = [0u8; 2];
        apply(&mut d, 0, Op::Add(2), 0x1234, false, Endian::Little).unwrap();
        apply(&mut d, 0, Op::Sub(2), 0x1200, false, Endian::Little).unwrap();
        assert_eq!(d, [0x34, 0]);
        let mut d = [0xc5u8];
        apply(&mut d, 0, Op::Set6, 0x41, false, Endian::Little).unwrap();
        assert_eq!(d, [0xc1]);
        apply(&mut d, 0, Op::Sub6, 2, false, Endian::Little).unwrap();
        assert_eq!(d, [0xff]);
    }

    #[test]
    fn uleb_keeps_its_length() {
        let mut d = [0x80, 0x80, 0x00, 0xaa];
        apply(&mut d, 0, Op::SetUleb, 300, false, Endian::Little).unwrap();
        assert_eq!(d, [0xac, 0x82, 0x00, 0xaa]);
        apply(&mut d, 0, Op::SubUleb, 200, false, Endian::Little).unwrap();
        assert_eq!(d, [0xe4, 0x80, 0x00, 0xaa]);
        let mut cut = [0x80, 0x80];
        assert!(apply(&mut cut, 0, Op::SetUleb, 1, false, Endian::Little).is_err());
    }

    #[test]
    fn past_the_end_is_an_error_not_a_panic() {
        let mut d = [0u8; 4];
        let e = apply(&mut d, 2, Op::Abs(4), 1, false, Endian::Little).unwrap_err();
        assert!(e.to_string().contains("past the end"), "{e}");
        assert!(apply(&mut d, u64::MAX, Op::Abs(8), 1, false, Endian::Little).is_err());
        assert!(apply(&mut d, 9, Op::Set6, 1, false, Endian::Little).is_err());
    }

    #[test]
    fn classify_knows_debug_types_only() {
        assert_eq!(
            classify(elf::EM_X86_64, true, elf::R_X86_64_64),
            Some(Op::Abs(8))
        );
        assert_eq!(classify(elf::EM_X86_64, true, elf::R_X86_64_PC32), None);
        assert_eq!(
            classify(elf::EM_386, false, elf::R_386_32),
            Some(Op::Abs(4))
        );
        assert_eq!(
            classify(elf::EM_RISCV, true, elf::R_RISCV_SUB16),
            Some(Op::Sub(2))
        );
        assert_eq!(classify(elf::EM_PPC, false, elf::R_PPC64_ADDR64), None);
        assert_eq!(classify(elf::EM_MIPS, false, elf::RelocationType(2)), None);
    }
}
