//! A relocatable ELF object carrying the vmlinux tables, written directly with `object`'s
//! low-level ELF writer, so that no assembler runs at build time.
//!
//! The object is what `gcc -c` makes of [`super::asm`]'s output: `.rodata` holding the items at
//! the same offsets, one global `STT_OBJECT` symbol with its size per item, an empty
//! `.note.GNU-stack` (non-executable stack), and `.symtab`, `.strtab`, `.shstrtab`. Its class, byte
//! order, machine, flags and OS ABI come from the [`Target`]. Output depends only on the inputs.
use object::elf;
use object::write::elf::{FileHeader, SectionHeader, Sym, Writer};
use object::write::StringId;

use super::Item;
use crate::emit::{check_items, item_offsets, Target};
use crate::error::{Error, ErrorKind, Result};

/// Section indices in the object: `.rodata` comes first, right after the null section.
const RODATA: u32 = 1;

/// Writes `items` as an `ET_REL` object for `target`.
///
/// Fails when the items fail the emitters' checks (alignment not a power of two, a name that is
/// not a plain identifier, a duplicate) or the object does not fit the ELF class.
pub fn write_object(items: &[Item], target: &Target) -> Result<Vec<u8>> {
    check_items(items)?;
    let rodata = rodata_bytes(items);
    let align = items.iter().map(|i| u64::from(i.align)).max().unwrap_or(1);
    let mut buffer = Vec::new();
    let mut writer = Writer::new(target.endian, target.is_64, &mut buffer);
    write_all(&mut writer, items, &rodata, align, target).map_err(|e| {
        Error::new(ErrorKind::Invalid(format!(
            "writing the tables' ELF object: {e}"
        )))
    })?;
    Ok(buffer)
}

/// `.rodata`: every item at its aligned offset, zeros in between.
fn rodata_bytes(items: &[Item]) -> Vec<u8> {
    let (offsets, size) = item_offsets(items);
    let mut rodata = vec![0; size as usize];
    for (item, &offset) in items.iter().zip(&offsets) {
        let start = offset as usize;
        rodata[start..start + item.bytes.len()].copy_from_slice(&item.bytes);
    }
    rodata
}

/// Reserves every range, then writes the object in the same order. A flat, sequential writer: the
/// two phases of `object`'s [`Writer`] must match call for call.
fn write_all<'a>(
    w: &mut Writer<'a>,
    items: &'a [Item],
    rodata: &[u8],
    align: u64,
    target: &Target,
) -> object::write::Result<()> {
    // Phase 1: names, indices and file ranges.
    w.reserve_file_header();
    let rodata_name = w.add_section_name(b".rodata");
    let rodata_index = w.reserve_section_index();
    debug_assert_eq!(rodata_index.0, RODATA);
    let note_name = w.add_section_name(b".note.GNU-stack");
    w.reserve_section_index();
    w.reserve_null_symbol_index();
    let names: Vec<StringId> = items
        .iter()
        .map(|item| {
            w.reserve_symbol_index(Some(rodata_index));
            w.add_string(item.symbol.as_bytes())
        })
        .collect();
    w.reserve_symtab_section_index();
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    let rodata_offset = w.reserve(rodata.len() as u64, align);
    w.reserve_symtab();
    w.reserve_strtab()?;
    w.reserve_shstrtab()?;
    w.reserve_section_headers();

    // Phase 2: the bytes, in the order reserved.
    w.write_file_header(&FileHeader {
        os_abi: elf::OsAbi(target.os_abi),
        abi_version: 0,
        e_type: elf::ET_REL,
        e_machine: elf::Machine(target.e_machine),
        e_entry: 0,
        e_flags: elf::FileFlags(target.e_flags),
    })?;
    w.write_align(align);
    w.write(rodata);
    w.write_null_symbol();
    let (offsets, _) = item_offsets(items);
    for ((item, &name), offset) in items.iter().zip(&names).zip(offsets) {
        w.write_symbol(&Sym {
            section: Some(RODATA),
            st_name: w.string_offset(Some(name)),
            st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_OBJECT),
            st_other: elf::SymbolOther(elf::STV_DEFAULT.0),
            st_shndx: elf::SymbolSection(0),
            st_value: offset,
            st_size: item.bytes.len() as u64,
        });
    }
    w.write_strtab();
    w.write_shstrtab();
    w.write_null_section_header();
    w.write_section_header(&SectionHeader {
        sh_name: w.section_name_offset(Some(rodata_name)),
        sh_type: elf::SHT_PROGBITS,
        sh_flags: elf::SHF_ALLOC,
        sh_addr: 0,
        sh_offset: rodata_offset,
        sh_size: rodata.len() as u64,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: align,
        sh_entsize: 0,
    });
    w.write_section_header(&SectionHeader {
        sh_name: w.section_name_offset(Some(note_name)),
        sh_type: elf::SHT_PROGBITS,
        sh_flags: elf::SectionFlags(0),
        sh_addr: 0,
        sh_offset: rodata_offset + rodata.len() as u64,
        sh_size: 0,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: 1,
        sh_entsize: 0,
    });
    // Only the null symbol is local.
    w.write_symtab_section_header(1);
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    Ok(())
}

#[cfg(test)]
mod tests {
    use object::read::{Object, ObjectSection, ObjectSymbol};
    use object::{Architecture, Endianness, FileFlags, SectionFlags, SymbolKind};

    use super::*;

    fn u32s(values: &[u32], endian: Endianness) -> Vec<u8> {
        let bytes = |v: u32| match endian {
            Endianness::Little => v.to_le_bytes(),
            Endianness::Big => v.to_be_bytes(),
        };
        values.iter().flat_map(|&v| bytes(v)).collect()
    }

    fn item(symbol: &'static str, align: u32, bytes: Vec<u8>) -> Item {
        Item {
            symbol,
            align,
            bytes,
        }
    }

    /// The eight v1 symbols (docs/format.md §4.1) of a three-entry table with two files.
    fn v1_items(e: Endianness) -> Vec<Item> {
        vec![
            item("lineinfo_num_entries", 4, u32s(&[3], e)),
            item("lineinfo_num_files", 4, u32s(&[2], e)),
            item("lineinfo_num_blocks", 4, u32s(&[1], e)),
            item("lineinfo_block_addrs", 4, u32s(&[0x10], e)),
            item("lineinfo_block_offsets", 4, u32s(&[0], e)),
            item("lineinfo_data", 1, vec![0, 7, 4, 2, 6]),
            item("lineinfo_file_offsets", 4, u32s(&[0, 6], e)),
            item("lineinfo_filenames", 1, b"a/b.c\0c.h\0".to_vec()),
        ]
    }

    /// `.rodata` of [`v1_items`] as the assembler lays it out, and each symbol's offset.
    fn v1_rodata(e: Endianness) -> (Vec<u8>, [u64; 8]) {
        let mut rodata = u32s(&[3, 2, 1, 0x10, 0], e); //  0..20: counts, block arrays
        rodata.extend([0, 7, 4, 2, 6]); //                  20..25: data
        rodata.extend([0; 3]); //                           25..28: padding to 4
        rodata.extend(u32s(&[0, 6], e)); //                 28..36: file offsets
        rodata.extend(b"a/b.c\0c.h\0"); //                  36..46: names
        (rodata, [0, 4, 8, 12, 16, 20, 28, 36])
    }

    fn target(endian: Endianness, is_64: bool, e_machine: u16, e_flags: u32) -> Target {
        Target {
            endian,
            is_64,
            e_machine,
            e_flags,
            os_abi: 0,
        }
    }

    /// Reads back with `object`'s generic reader: `.rodata`, and (name, offset, size) of every
    /// symbol after checking it is a global data symbol in `.rodata`.
    fn read_back(data: &[u8]) -> (Vec<u8>, Vec<(String, u64, u64)>) {
        let file = object::File::parse(data).unwrap();
        let rodata = file.section_by_name(".rodata").unwrap();
        let symbols = file
            .symbols()
            .map(|s| {
                assert!(s.is_global(), "{:?}", s.name());
                assert_eq!(s.kind(), SymbolKind::Data);
                assert_eq!(s.section_index(), Some(rodata.index()));
                (s.name().unwrap().to_owned(), s.address(), s.size())
            })
            .collect();
        (rodata.data().unwrap().to_vec(), symbols)
    }

    /// (sh_type, sh_flags).
    fn section_flags(flags: SectionFlags) -> (u32, u64) {
        match flags {
            SectionFlags::Elf { sh_type, sh_flags } => (sh_type.0, sh_flags.0),
            _ => panic!("not ELF section flags: {flags:?}"),
        }
    }

    fn check_v1(t: &Target, architecture: Architecture) {
        let data = write_object(&v1_items(t.endian), t).unwrap();
        let file = object::File::parse(&*data).unwrap();
        assert_eq!(file.architecture(), architecture);
        assert_eq!((file.endianness(), file.is_64()), (t.endian, t.is_64));
        assert_eq!(file.kind(), object::ObjectKind::Relocatable);
        let FileFlags::Elf {
            os_abi, e_flags, ..
        } = file.flags()
        else {
            panic!("not ELF flags: {:?}", file.flags());
        };
        assert_eq!((os_abi.0, e_flags.0), (0, t.e_flags));
        let e_machine = [data[18], data[19]];
        let expected = match t.endian {
            Endianness::Little => t.e_machine.to_le_bytes(),
            Endianness::Big => t.e_machine.to_be_bytes(),
        };
        assert_eq!(e_machine, expected, "e_machine at offset 18");

        let rodata = file.section_by_name(".rodata").unwrap();
        assert_eq!(rodata.align(), 4);
        assert_eq!(
            section_flags(rodata.flags()),
            (1, 2),
            "SHT_PROGBITS, SHF_ALLOC"
        );
        let note = file.section_by_name(".note.GNU-stack").unwrap();
        assert_eq!(note.size(), 0);
        assert_eq!(
            section_flags(note.flags()),
            (1, 0),
            "SHT_PROGBITS, no flags"
        );

        let (bytes, symbols) = read_back(&data);
        let (expected, offsets) = v1_rodata(t.endian);
        assert_eq!(bytes, expected);
        let items = v1_items(t.endian);
        assert_eq!(symbols.len(), items.len());
        for ((name, offset, size), (item, expected)) in
            symbols.iter().zip(items.iter().zip(offsets))
        {
            assert_eq!(
                (name.as_str(), *offset, *size),
                (item.symbol, expected, item.bytes.len() as u64)
            );
        }
    }

    #[test]
    fn x86_64_little_endian() {
        check_v1(&Target::host_default(), Architecture::X86_64);
    }

    #[test]
    fn i386_elf32_little_endian() {
        check_v1(&target(Endianness::Little, false, 3, 0), Architecture::I386);
    }

    #[test]
    fn s390x_big_endian() {
        check_v1(&target(Endianness::Big, true, 22, 0), Architecture::S390x);
    }

    #[test]
    fn ppc64_big_endian_keeps_its_abi_flags() {
        check_v1(
            &target(Endianness::Big, true, 21, 2),
            Architecture::PowerPc64,
        );
    }

    #[test]
    fn ppc32_elf32_big_endian() {
        check_v1(
            &target(Endianness::Big, false, 20, 0x8000),
            Architecture::PowerPc,
        );
    }

    #[test]
    fn os_abi_is_copied() {
        let t = Target {
            os_abi: 3,
            ..Target::host_default()
        };
        let data = write_object(&v1_items(t.endian), &t).unwrap();
        assert_eq!(data[7], 3, "EI_OSABI");
    }

    #[test]
    fn empty_stub_has_every_symbol() {
        let e = Endianness::Little;
        let zero = || u32s(&[0], e);
        let items = vec![
            item("lineinfo_num_entries", 4, zero()),
            item("lineinfo_num_files", 4, zero()),
            item("lineinfo_num_blocks", 4, zero()),
            item("lineinfo_block_addrs", 4, vec![]),
            item("lineinfo_block_offsets", 4, vec![]),
            item("lineinfo_data", 1, vec![]),
            item("lineinfo_file_offsets", 4, vec![]),
            item("lineinfo_filenames", 1, vec![]),
        ];
        let data = write_object(&items, &Target::host_default()).unwrap();
        let (rodata, symbols) = read_back(&data);
        assert_eq!(rodata, [0; 12]);
        let expected: Vec<_> = items
            .iter()
            .zip([0, 4, 8, 12, 12, 12, 12, 12])
            .map(|(i, offset)| (i.symbol.to_owned(), offset, i.bytes.len() as u64))
            .collect();
        assert_eq!(symbols, expected);
    }

    #[test]
    fn no_items_is_still_an_object() {
        let data = write_object(&[], &Target::host_default()).unwrap();
        let (rodata, symbols) = read_back(&data);
        assert!(rodata.is_empty() && symbols.is_empty());
    }

    #[test]
    fn output_is_deterministic() {
        let t = Target::host_default();
        let items = v1_items(t.endian);
        assert_eq!(
            write_object(&items, &t).unwrap(),
            write_object(&items, &t).unwrap()
        );
    }

    #[test]
    fn bad_items_are_refused() {
        let items = [item("x", 12, vec![])];
        let err = write_object(&items, &Target::host_default()).unwrap_err();
        assert!(err.to_string().contains("alignment 12"), "{err}");
    }
}
