//! Emitters: the vmlinux tables (docs/format.md §4.1) as GNU as assembly ([`asm`]) or as a relocatable
//! ELF object ([`elf`]).
//!
//! Both take the same ordered [`Item`] list from [`crate::layout`] and place every item at the same
//! `.rodata` offset: padded with zeros up to its alignment, then its bytes. Item bytes are already in
//! the target's byte order, so the emitters never interpret them. This module owns what both share:
//! the [`Target`] an object is written for, and the checks an item list must pass.
use object::elf::{FileHeader32, FileHeader64};
use object::read::elf::FileHeader;

use crate::bytes::{put_u32s, u32_bytes};
use crate::error::{Error, ErrorKind, Result};
use crate::vocab::Endian;

/// One global symbol of the vmlinux tables, in `.rodata` link order.
///
/// `align` is the alignment the symbol needs (4 for u32 values and arrays, 1 for byte arrays);
/// `bytes` are in the target's byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub symbol: &'static str,
    pub align: u32,
    pub bytes: Vec<u8>,
}

impl Item {
    /// A single u32 value, aligned 4.
    pub(crate) fn u32(symbol: &'static str, v: u32, endian: Endian) -> Item {
        Item {
            symbol,
            align: 4,
            bytes: u32_bytes(v, endian).to_vec(),
        }
    }

    /// An array of u32, aligned 4.
    pub(crate) fn u32s(symbol: &'static str, vs: &[u32], endian: Endian) -> Item {
        let mut bytes = Vec::with_capacity(4 * vs.len());
        put_u32s(&mut bytes, vs, endian);
        Item {
            symbol,
            align: 4,
            bytes,
        }
    }

    /// A byte array, not aligned.
    pub(crate) fn bytes(symbol: &'static str, bytes: &[u8]) -> Item {
        Item {
            symbol,
            align: 1,
            bytes: bytes.to_vec(),
        }
    }
}

pub mod asm;
pub mod elf;
pub mod ko;

/// The ELF identity of the objects we write: copied from the input so that `ld` links them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub endian: Endian,
    /// ELFCLASS64 when true, ELFCLASS32 otherwise.
    pub is_64: bool,
    pub e_machine: u16,
    /// Architecture flags (ABI version, float ABI, …) that `ld` checks for compatibility.
    pub e_flags: u32,
    /// `EI_OSABI`.
    pub os_abi: u8,
}

impl Target {
    /// The target of an ELF file, from its header. Fails with the reason when `data` is not an ELF
    /// file of a class and byte order we can write.
    pub fn from_elf(data: &[u8]) -> Result<Target> {
        let class = ko::raw::Class::parse(data)?;
        match class.is64 {
            false => Self::from_header(FileHeader32::<Endian>::parse(data)?, class.endian),
            true => Self::from_header(FileHeader64::<Endian>::parse(data)?, class.endian),
        }
    }

    /// The target of an ELF file already parsed (what [`Target::from_elf`] reads from the same
    /// header, without a second parse).
    pub fn of_input(input: &crate::input::Input<'_>) -> Target {
        use object::Object;
        let (e_flags, os_abi) = match input.file().flags() {
            object::FileFlags::Elf {
                e_flags, os_abi, ..
            } => (e_flags.0, os_abi.0),
            _ => (0, 0),
        };
        Target {
            endian: input.endian(),
            is_64: input.is_64(),
            e_machine: input.e_machine().0,
            e_flags,
            os_abi,
        }
    }

    fn from_header<H: FileHeader<Endian = Endian>>(header: &H, endian: Endian) -> Result<Target> {
        Ok(Target {
            endian,
            is_64: header.is_class_64(),
            e_machine: header.e_machine(endian).0,
            e_flags: header.e_flags(endian).0,
            os_abi: header.e_ident().os_abi.0,
        })
    }

    /// x86-64, little-endian, no flags: for a stub written without an input file. It is a fixed
    /// value, not the host's.
    pub fn host_default() -> Target {
        Target {
            endian: Endian::Little,
            is_64: true,
            e_machine: object::elf::EM_X86_64.0,
            e_flags: 0,
            os_abi: object::elf::ELFOSABI_NONE.0,
        }
    }
}

/// Checks what both emitters rely on: alignments are powers of two and symbol names are plain,
/// distinct identifiers (so they need no quoting in assembly and cannot collide).
pub(crate) fn check_items(items: &[Item]) -> Result<()> {
    for (i, item) in items.iter().enumerate() {
        let name = item.symbol;
        if !item.align.is_power_of_two() {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "item {i} (`{name}`): alignment {} is not a power of two",
                item.align
            ))));
        }
        if !is_identifier(name) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "item {i}: `{name}` is not a plain symbol name ([A-Za-z_][A-Za-z0-9_]*)"
            ))));
        }
        if items[..i].iter().any(|earlier| earlier.symbol == name) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "item {i}: symbol `{name}` is defined twice"
            ))));
        }
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

/// The `.rodata` offset of every item, and the section's size, as the assembler lays them out.
pub(crate) fn item_offsets(items: &[Item]) -> (Vec<u64>, u64) {
    let mut end = 0u64;
    let offsets = items
        .iter()
        .map(|item| {
            let start = end.next_multiple_of(u64::from(item.align.max(1)));
            end = start + item.bytes.len() as u64;
            start
        })
        .collect();
    (offsets, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(symbol: &'static str, align: u32, bytes: &[u8]) -> Item {
        Item {
            symbol,
            align,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn offsets_pad_to_each_alignment() {
        let items = [
            item("a", 4, &[1]),
            item("b", 1, &[2, 3]),
            item("c", 4, &[]),
            item("d", 8, &[4; 5]),
            item("e", 4, &[5; 4]),
        ];
        // a at 0 (1 byte), b at 1..3, c at 4 (empty), d at 8..13, e at 16..20.
        assert_eq!(item_offsets(&items), (vec![0, 1, 4, 8, 16], 20));
    }

    #[test]
    fn bad_items_are_refused_with_the_reason() {
        let err = |items: &[Item]| check_items(items).unwrap_err().to_string();
        assert!(err(&[item("x", 3, &[])]).contains("alignment 3 is not a power of two"));
        assert!(err(&[item("x", 0, &[])]).contains("alignment 0"));
        assert!(err(&[item("1x", 1, &[])]).contains("not a plain symbol name"));
        assert!(err(&[item("a b", 1, &[])]).contains("not a plain symbol name"));
        assert!(err(&[item("", 1, &[])]).contains("not a plain symbol name"));
        assert!(err(&[item("x", 1, &[]), item("x", 4, &[])]).contains("defined twice"));
        assert!(check_items(&[item("_x1", 1, &[]), item("y", 4, &[])]).is_ok());
    }

    /// A minimal ELF header: ident + e_type/e_machine/e_version + class-dependent rest.
    fn header(class: u8, data: u8, machine: u16, flags: u32) -> Vec<u8> {
        let big = data == 2;
        let u16b = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u32b = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut h = vec![0x7f, b'E', b'L', b'F', class, data, 1, 3];
        h.resize(16, 0);
        h.extend(u16b(1)); // e_type = ET_REL
        h.extend(u16b(machine));
        h.extend(u32b(1)); // e_version
        let addr = if class == 2 { 8 } else { 4 };
        h.resize(h.len() + 3 * addr, 0); // e_entry, e_phoff, e_shoff
        h.extend(u32b(flags));
        let ehsize = if class == 2 { 64 } else { 52 };
        h.extend(u16b(ehsize));
        h.resize(ehsize as usize, 0);
        h
    }

    #[test]
    fn target_is_read_from_the_header() {
        let t = Target::from_elf(&header(2, 2, 22, 0x1234_5678)).unwrap();
        assert_eq!(
            t,
            Target {
                endian: Endian::Big,
                is_64: true,
                e_machine: 22,
                e_flags: 0x1234_5678,
                os_abi: 3
            }
        );
        let t = Target::from_elf(&header(1, 1, 3, 7)).unwrap();
        assert_eq!(
            (t.endian, t.is_64, t.e_machine, t.e_flags),
            (Endian::Little, false, 3, 7)
        );
    }

    /// The vmlinux pipeline takes the target from the parsed image: the same as from its header.
    #[test]
    fn target_of_a_parsed_input_is_the_header_one() {
        let targets = [
            (Endian::Big, true, 22, 0x1234_5678, 3),
            (Endian::Little, false, 3, 7, 0),
            (Endian::Big, false, 8, 0x7000_1007, 0),
        ];
        for (endian, is_64, e_machine, e_flags, os_abi) in targets {
            let target = Target {
                endian,
                is_64,
                e_machine,
                e_flags,
                os_abi,
            };
            let item = Item::u32("lineinfo_num_entries", 0, endian);
            let object = elf::write_object(&[item], &target).unwrap();
            let input = crate::input::Input::parse(&object).unwrap();
            assert_eq!(Target::of_input(&input), Target::from_elf(&object).unwrap());
            assert_eq!(Target::of_input(&input), target);
        }
    }

    #[test]
    fn bad_headers_name_the_problem() {
        let err = |data: &[u8]| Target::from_elf(data).unwrap_err().to_string();
        assert!(err(b"\x7fELF").contains("4 bytes is too short"));
        assert!(err(&[0u8; 64]).contains("not an ELF file: magic is [00, 00, 00, 00]"));
        assert!(err(&header(3, 1, 62, 0)).contains("EI_CLASS = 3"));
        assert!(err(&header(2, 0, 62, 0)).contains("EI_DATA = 0"));
        assert!(err(&header(2, 1, 62, 0)[..40]).starts_with("bad ELF"));
    }
}
