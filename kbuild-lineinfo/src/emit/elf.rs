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

use crate::emit::{check_items, item_offsets, Target};
use crate::error::{Error, ErrorKind, Result};
use crate::layout::Item;

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
        Error::new(ErrorKind::Invalid(format!("writing the tables' ELF object: {e}")))
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
