//! Relocations of `.debug_info` applied on demand, when gimli reads a value.
//!
//! Only a unit's header and root DIE are read from `.debug_info`, a few dozen bytes per unit,
//! while a large module's `.rela.debug_info` holds millions of records (amdgpu.ko: 234 MB for a
//! 155 MB section). Copying and patching the whole section would touch all of both; instead the
//! records, sorted by offset as `ld -r` writes them, are binary-searched in place for each value
//! read. Records not sorted by offset are not used here: the caller relocates eagerly then
//! ([`crate::reloc`]).

use std::sync::Mutex;

use object::Endian as _;

use crate::error::{Error, ErrorKind, Result};
use crate::reloc::{self, Op, Record, Records};
use crate::vocab::Endian;

/// How many evenly spaced records are checked for order before a table is trusted to be sorted
/// (every record when there are fewer). Few: each check maps a page and the kernel's fault-around
/// maps its neighbours too, so thousands of checks would map the whole table.
const ORDER_SAMPLES: usize = 512;

/// The relocations of one section, applied to values as they are read.
#[derive(Debug)]
pub struct LazyRelocs<'data> {
    records: Records<'data>,
    endian: Endian,
    e_machine: object::elf::Machine,
    is_64: bool,
    /// [`reloc::is_mips64el`].
    mips64el: bool,
    /// Address of each symbol, by symbol index.
    symbols: Vec<u64>,
    /// The first error met while relocating (gimli's error type cannot carry it).
    error: Mutex<Option<Error>>,
}

impl<'data> LazyRelocs<'data> {
    /// `None` when the records are not sorted by offset (checked on a sample spread over the
    /// whole table, and fully for small tables).
    pub fn new(
        records: Records<'data>,
        endian: Endian,
        e_machine: object::elf::Machine,
        is_64: bool,
        symbols: Vec<u64>,
    ) -> Option<Self> {
        let n = records.len();
        let step = (n / ORDER_SAMPLES).max(1);
        let sorted = (step..n).step_by(step).all(|i| {
            records.offset(i - step, endian) <= records.offset(i, endian)
                && records.offset(i - 1, endian) <= records.offset(i, endian)
        });
        sorted.then(|| LazyRelocs {
            records,
            endian,
            e_machine,
            is_64,
            mips64el: reloc::is_mips64el(e_machine, is_64, endian),
            symbols,
            error: Mutex::new(None),
        })
    }

    /// `value`, read at `offset` of the section, with the relocations at `offset` applied.
    /// Errors are kept for [`LazyRelocs::take_error`]; the value is then returned unchanged.
    pub fn relocate(&self, offset: u64, value: u64) -> u64 {
        match self.try_relocate(offset, value) {
            Ok(v) => v,
            Err(e) => {
                let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(e);
                value
            }
        }
    }

    /// The first error met while relocating, if any.
    pub fn take_error(&self) -> Option<Error> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn try_relocate(&self, offset: u64, value: u64) -> Result<u64> {
        let e = self.endian;
        let n = self.records.len();
        // A plain binary search: its first probes are shared by every search and stay mapped, so
        // it touches fewer pages than galloping from the last hit (measured on amdgpu.ko).
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.records.offset(mid, e) < offset {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut value = value;
        for i in lo..n {
            let r = self.records.record(i, e, self.mips64el);
            if r.offset != offset {
                break;
            }
            value = self.apply(r, value)?;
        }
        Ok(value)
    }

    /// Applies one record to a value of the record's width, through [`reloc::apply`].
    fn apply(&self, r: Record, value: u64) -> Result<u64> {
        let op = reloc::op(self.e_machine, self.is_64, &r)?;
        let width = match op {
            Op::None => return Ok(value),
            Op::Abs(n) | Op::Add(n) | Op::Sub(n) => usize::from(n),
            _ => {
                return Err(Error::new(ErrorKind::Relocation(format!(
                    "relocation type {} at offset {:#x} cannot apply to a value read from DWARF",
                    r.r_type.0, r.offset
                ))))
            }
        };
        let mut bytes = self.endian.write_u64(value);
        let field = match self.endian {
            Endian::Little => &mut bytes[..width],
            Endian::Big => &mut bytes[8 - width..],
        };
        let target = r.target(&self.symbols)?;
        reloc::apply(
            field,
            0,
            op,
            target,
            self.records.implicit_addend(),
            self.endian,
        )?;
        Ok(self.endian.read_u64(bytes))
    }
}

/// Adapts [`LazyRelocs`] to gimli's reader: sections without one read unchanged.
#[derive(Debug, Clone, Copy)]
pub struct OnRead<'a>(pub Option<&'a LazyRelocs<'a>>);

impl gimli::read::Relocate<usize> for OnRead<'_> {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        Ok(match self.0 {
            Some(r) => r.relocate(offset as u64, value),
            None => value,
        })
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        Ok(match self.0 {
            Some(r) => r.relocate(offset as u64, value as u64) as usize,
            None => value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::elf;
    use object::elf::Rela64;
    use object::endian::{I64, U64};

    fn rela(offset: u64, sym: u32, r_type: u32, addend: i64) -> Rela64<Endian> {
        let e = Endian::Little;
        Rela64 {
            r_offset: U64::new(e, offset),
            r_info: U64::new(e, (u64::from(sym) << 32) | u64::from(r_type)),
            r_addend: I64::new(e, addend),
        }
    }

    #[test]
    fn values_are_relocated_at_their_offsets_only() {
        let recs = [
            rela(0x6, 1, elf::R_X86_64_32.0, 0x40),
            rela(0x10, 2, elf::R_X86_64_64.0, 0x8),
            rela(0x20, 1, elf::R_X86_64_32.0, 0x1_0000_0000 + 5),
        ];
        let lazy = LazyRelocs::new(
            Records::Rela64(&recs),
            Endian::Little,
            elf::EM_X86_64,
            true,
            vec![0, 0x100, 0x5000],
        )
        .unwrap();
        assert_eq!(lazy.relocate(0x6, 0), 0x140);
        assert_eq!(lazy.relocate(0x10, 0), 0x5008);
        assert_eq!(lazy.relocate(0x8, 7), 7, "no record there");
        // A 32-bit field keeps 32 bits.
        assert_eq!(lazy.relocate(0x20, 0), 0x105);
        assert!(lazy.take_error().is_none());
    }

    #[test]
    fn unsorted_records_are_refused_and_bad_ones_reported() {
        let recs = [
            rela(0x10, 1, elf::R_X86_64_32.0, 0),
            rela(0x8, 1, elf::R_X86_64_32.0, 0),
        ];
        assert!(LazyRelocs::new(
            Records::Rela64(&recs),
            Endian::Little,
            elf::EM_X86_64,
            true,
            vec![0, 1]
        )
        .is_none());
        let recs = [
            rela(0x8, 9, elf::R_X86_64_32.0, 0),
            rela(0x10, 1, elf::R_X86_64_PC32.0, 0),
        ];
        let lazy = LazyRelocs::new(
            Records::Rela64(&recs),
            Endian::Little,
            elf::EM_X86_64,
            true,
            vec![0, 1],
        )
        .unwrap();
        assert_eq!(lazy.relocate(0x8, 3), 3);
        assert!(lazy.take_error().unwrap().to_string().contains("symbol 9"));
        lazy.relocate(0x10, 0);
        assert!(lazy
            .take_error()
            .unwrap()
            .to_string()
            .contains("unsupported relocation type 2"));
    }
}
