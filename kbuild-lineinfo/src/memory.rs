//! A kernel image's bytes by virtual address, for reading what a System.map names in an image
//! without symbols: an ELF vmlinux through its loadable segments (a bzImage's payload keeps its
//! program headers when its symbols are stripped), or a raw `Image` (arm64, RISC-V: the
//! kernel's memory from `_text` on, byte 0 at `_text`). Pure.

use object::{Object, ObjectSegment};

use crate::error::Result;
use crate::unpack::ImageKind;
use crate::vocab::Endian;

/// The loaded bytes of an image.
#[derive(Debug)]
pub struct Memory<'a> {
    /// (first address, file bytes), sorted by address.
    ranges: Vec<(u64, &'a [u8])>,
    pub endian: Endian,
    pub is_64: bool,
    /// x86 (where `Call Trace:` frames are `%pB`).
    pub x86: bool,
}

impl<'a> Memory<'a> {
    /// The memory of `bytes` of `kind`; `text` is `_text`, where a raw image starts.
    pub fn new(bytes: &'a [u8], kind: ImageKind, text: u64) -> Result<Memory<'a>> {
        match kind {
            ImageKind::Elf => Self::elf(bytes),
            ImageKind::Arm64 => Ok(Memory {
                ranges: vec![(text, bytes)],
                // Documentation/arch/arm64/booting.rst: bit 0 of `flags` (at 0x18) is big-endian.
                endian: match bytes.get(0x18).map(|f| f & 1) {
                    Some(1) => Endian::Big,
                    _ => Endian::Little,
                },
                is_64: true,
                x86: false,
            }),
            ImageKind::Riscv => Ok(Memory {
                ranges: vec![(text, bytes)],
                endian: Endian::Little,
                is_64: true,
                x86: false,
            }),
        }
    }

    fn elf(bytes: &'a [u8]) -> Result<Memory<'a>> {
        let file = object::File::parse(bytes)?;
        let mut ranges: Vec<(u64, &'a [u8])> = file
            .segments()
            .filter_map(|s| Some((s.address(), s.data().ok()?)))
            .filter(|(_, data)| !data.is_empty())
            .collect();
        ranges.sort_by_key(|&(address, _)| address);
        Ok(Memory {
            ranges,
            endian: if file.is_little_endian() {
                Endian::Little
            } else {
                Endian::Big
            },
            is_64: file.is_64(),
            x86: matches!(
                file.architecture(),
                object::Architecture::X86_64 | object::Architecture::I386
            ),
        })
    }

    /// The file bytes from `address` to the end of the range holding it; `None` when no range
    /// holds it.
    pub fn at(&self, address: u64) -> Option<&'a [u8]> {
        let i = self.ranges.partition_point(|&(start, _)| start <= address);
        let (start, data) = *self.ranges.get(i.checked_sub(1)?)?;
        data.get(usize::try_from(address - start).ok()?..)
            .filter(|rest| !rest.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_image_starts_at_text() {
        let bytes: Vec<u8> = (0..0x40u8).collect();
        let m = Memory::new(&bytes, ImageKind::Arm64, 0x1000).unwrap();
        assert_eq!(m.at(0x1000).unwrap()[0], 0);
        assert_eq!(m.at(0x1010).unwrap()[..2], [0x10, 0x11]);
        assert_eq!(m.at(0x1040), None, "past the end");
        assert_eq!(m.at(0xfff), None, "below _text");
        assert_eq!(m.endian, Endian::Little);
        let mut be = bytes.clone();
        be[0x18] = 1;
        let m = Memory::new(&be, ImageKind::Arm64, 0).unwrap();
        assert_eq!(m.endian, Endian::Big);
    }
}
