//! Tests of [`super::embed_sections`] on objects written with `object::write` (an independent
//! ELF writer) and checked with `object::read` (an independent reader).
use super::*;
use object::read::{Object, ObjectSection, ObjectSymbol};
use object::write::{Object as Writer, Relocation, StandardSection, Symbol, SymbolSection};
use object::{elf, Architecture, BinaryFormat, Endianness, RelocationFlags, RelocationTarget};
use object::{SectionKind, SymbolFlags, SymbolKind, SymbolScope};

const SHF_ALLOC: u64 = elf::SHF_ALLOC.0;

fn sh_flags(s: &object::read::Section) -> u64 {
    match s.flags() {
        object::SectionFlags::Elf { sh_flags, .. } => sh_flags.0,
        other => panic!("{other:?}"),
    }
}

fn r_type(r: &object::read::Relocation) -> u32 {
    match r.flags() {
        RelocationFlags::Elf { r_type } => r_type.0,
        other => panic!("{other:?}"),
    }
}

/// A module-like object: `.text` and `.init.text` with section symbols (when `init_symbol`),
/// a global function, `.data` relocated against `.text`, and a non-alloc debug section.
fn module(arch: Architecture, endian: Endianness, init_symbol: bool) -> Vec<u8> {
    let mut w = Writer::new(BinaryFormat::Elf, arch, endian);
    let text = w.section_id(StandardSection::Text);
    w.append_section_data(text, &[0x90; 48], 16);
    let init = w.add_section(Vec::new(), b".init.text".to_vec(), SectionKind::Text);
    w.append_section_data(init, &[0xcc; 20], 16);
    let debug = w.add_section(Vec::new(), b".debug_line".to_vec(), SectionKind::Debug);
    w.append_section_data(debug, b"not really dwarf", 1);
    let data = w.section_id(StandardSection::Data);
    let word = if w.architecture().address_size().unwrap().bytes() == 8 {
        8
    } else {
        4
    };
    w.append_section_data(data, &vec![0; word], word as u64);
    let func = Symbol {
        name: b"init_module".to_vec(),
        value: 0,
        size: 20,
        kind: SymbolKind::Text,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(init),
        flags: SymbolFlags::None,
    };
    w.add_symbol(func);
    let text_sym = w.section_symbol(text);
    if init_symbol {
        w.section_symbol(init);
    }
    let flags = RelocationFlags::Generic {
        kind: object::RelocationKind::Absolute,
        encoding: object::RelocationEncoding::Generic,
        size: word as u8 * 8,
    };
    let reloc = Relocation {
        offset: 0,
        symbol: text_sym,
        addend: 0,
        flags,
    };
    w.add_relocation(data, reloc).unwrap();
    w.write().unwrap()
}

fn x86_64() -> Vec<u8> {
    module(Architecture::X86_64, Endianness::Little, true)
}

fn blob(name: &str, len: usize, fill: u8, anchors: &[(u64, &str)], size: u8) -> NewSection {
    let anchors = anchors
        .iter()
        .map(|&(offset, target)| (offset, size, target));
    NewSection::with_anchors(name, vec![fill; len], 8, SHF_ALLOC, anchors)
}

/// A v7-shaped pair: `.mod_lineinfo` anchored to `.text`, `.init.mod_lineinfo` to `.init.text`.
fn v7_pair() -> [NewSection; 2] {
    [
        blob(".mod_lineinfo", 40, 2, &[(8, ".text")], 8),
        blob(".init.mod_lineinfo", 24, 3, &[(8, ".init.text")], 8),
    ]
}

fn apply(ko: &[u8], new: &[NewSection], remove: &[&str]) -> Vec<u8> {
    embed_sections(ko, new, remove).unwrap().image(ko)
}

fn sections(file: &[u8]) -> object::read::File<'_> {
    object::read::File::parse(file).unwrap()
}

/// Header bytes and data of every input section, compared with the same index in the output.
fn assert_kept(input: &[u8], output: &[u8]) {
    let (a, b) = (sections(input), sections(output));
    for s in a.sections() {
        let t = b.section_by_index(s.index()).unwrap();
        assert_eq!(s.name().unwrap(), t.name().unwrap());
        let (old, new) = (s.data().unwrap(), t.data().unwrap());
        if s.name().unwrap() == ".shstrtab" {
            assert!(new.starts_with(old), "names appended, never rewritten");
        } else {
            assert_eq!(old, new, "{}", s.name().unwrap());
            assert_eq!(
                s.file_range(),
                t.file_range(),
                "{} moved",
                s.name().unwrap()
            );
            assert_eq!(
                (s.flags(), s.align(), s.kind()),
                (t.flags(), t.align(), t.kind())
            );
        }
    }
}

#[test]
fn embeds_one_blob_keeping_every_section() {
    let ko = x86_64();
    let out = apply(&ko, &[blob(".mod_lineinfo", 37, 0xab, &[], 8)], &[]);
    assert_kept(&ko, &out);
    let f = sections(&out);
    let s = f.section_by_name(".mod_lineinfo").unwrap();
    assert_eq!(s.data().unwrap(), &[0xab; 37][..]);
    assert_eq!(s.align(), 8);
    assert_eq!(s.address(), 0);
    assert_eq!(sh_flags(&s), SHF_ALLOC);
    assert_eq!(s.file_range().unwrap().0 % 8, 0);
    assert_eq!(s.relocations().count(), 0);
}

#[test]
fn anchors_are_absolute_relocations_against_section_symbols() {
    let ko = x86_64();
    let new = [blob(
        ".mod_lineinfo",
        32,
        1,
        &[(8, ".text"), (24, ".init.text")],
        8,
    )];
    let out = apply(&ko, &new, &[]);
    assert_kept(&ko, &out);
    let f = sections(&out);
    let s = f.section_by_name(".mod_lineinfo").unwrap();
    let relocs: Vec<_> = s.relocations().collect();
    assert_eq!(relocs.len(), 2);
    for ((offset, r), target) in relocs.iter().zip([".text", ".init.text"]) {
        assert!(matches!(offset, 8 | 24));
        assert_eq!(r_type(r), elf::R_X86_64_64.0);
        assert_eq!(r.addend(), 0);
        let RelocationTarget::Symbol(sym) = r.target() else {
            panic!("{r:?}")
        };
        let sym = f.symbol_by_index(sym).unwrap();
        assert_eq!(sym.kind(), SymbolKind::Section);
        let sec = f.section_by_index(sym.section_index().unwrap()).unwrap();
        assert_eq!(sec.name().unwrap(), target);
    }
    let rela = f.section_by_name(".rela.mod_lineinfo").unwrap();
    assert_eq!(sh_flags(&rela), elf::SHF_INFO_LINK.0);
}

#[test]
fn embedding_twice_is_up_to_date_and_byte_identical() {
    let ko = x86_64();
    let new = v7_pair();
    let remove = [".mod_lineinfo", ".init.mod_lineinfo"];
    let once = apply(&ko, &new, &remove);
    let again = embed_sections(&once, &new, &remove).unwrap();
    assert_eq!(
        again,
        Embedded::UpToDate {
            len: once.len() as u64
        }
    );
    assert_eq!(again.image(&once), once);
    // Bytes left by an interrupted update are reported as cut-able.
    let mut longer = once.clone();
    longer.extend_from_slice(&[7; 100]);
    let len = once.len() as u64;
    assert_eq!(
        embed_sections(&longer, &new, &remove).unwrap(),
        Embedded::UpToDate { len }
    );
}

#[test]
fn replacements_keep_one_section_and_a_bounded_size() {
    let ko = x86_64();
    let mut file = ko.clone();
    let mut sizes = Vec::new();
    for round in 0..10 {
        let len = if round % 2 == 0 { 4000 } else { 300 };
        let new = [blob(
            ".mod_lineinfo",
            len,
            round as u8 + 1,
            &[(0, ".text")],
            8,
        )];
        let next = embed_sections(&file, &new, &[]).unwrap();
        let Embedded::Update(patch) = &next else {
            panic!("round {round} up to date")
        };
        assert_tail_is_unreferenced(&file, patch);
        file = next.image(&file);
        assert_kept(&ko, &file);
        let f = sections(&file);
        assert_eq!(
            f.sections()
                .filter(|s| s.name() == Ok(".mod_lineinfo"))
                .count(),
            1
        );
        assert_eq!(
            f.section_by_name(".mod_lineinfo").unwrap().data().unwrap(),
            &new[0].data[..]
        );
        sizes.push(file.len());
    }
    let bound = ko.len() + 2 * (4000 + 2000);
    assert!(sizes.iter().all(|&s| s <= bound), "{sizes:?} > {bound}");
    assert_eq!(sizes[8], sizes[6], "{sizes:?} keeps growing");
}

/// The in-place safety invariant: the tail overwrites no byte the old header refers to.
fn assert_tail_is_unreferenced(old: &[u8], patch: &Patch) {
    let f = sections(old);
    let header = elf::FileHeader64::<Endianness>::parse(old).unwrap();
    let e = Endianness::Little;
    let shoff = header.e_shoff.get(e);
    let shend = shoff + 64 * u64::from(header.e_shnum.get(e));
    let mut ranges: Vec<(u64, u64)> = f
        .sections()
        .filter_map(|s| s.file_range())
        .map(|(o, l)| (o, o + l))
        .collect();
    ranges.push((shoff, shend));
    let (start, end) = (patch.tail_offset, patch.len());
    for (s, e) in ranges {
        assert!(
            e <= start || s >= end || s == e,
            "tail {start:#x}..{end:#x} overwrites {s:#x}..{e:#x}"
        );
    }
}

use object::read::elf::FileHeader as _;

#[test]
fn removing_sections_restores_the_original_shape() {
    let ko = x86_64();
    let v7 = v7_pair();
    let with_v7 = apply(&ko, &v7, &[]);
    let v1 = [blob(".mod_lineinfo", 40, 2, &[], 8)];
    let with_v1 = apply(&with_v7, &v1, &[".init.mod_lineinfo"]);
    let f = sections(&with_v1);
    let names: Vec<_> = f.sections().map(|s| s.name().unwrap().to_owned()).collect();
    assert_eq!(
        names.len(),
        sections(&ko).sections().count() + 1,
        "{names:?}"
    );
    assert!(!names
        .iter()
        .any(|n| n.contains("init.mod") || n.starts_with(".rela.mod")));
    assert_kept(&ko, &with_v1);
}

#[test]
fn i386_uses_rel_sections_with_r_386_32() {
    let ko = module(Architecture::I386, Endianness::Little, true);
    let new = [blob(".init.mod_lineinfo", 24, 3, &[(8, ".init.text")], 4)];
    let out = apply(&ko, &new, &[]);
    assert_kept(&ko, &out);
    let f = sections(&out);
    assert!(f.section_by_name(".rel.init.mod_lineinfo").is_some());
    let s = f.section_by_name(".init.mod_lineinfo").unwrap();
    let (offset, r) = s.relocations().next().unwrap();
    assert_eq!(offset, 8);
    assert_eq!(r_type(&r), elf::R_386_32.0);
    assert!(r.has_implicit_addend());
    assert_eq!(&s.data().unwrap()[8..12], &[0; 4]);
}

#[test]
fn big_endian_64_bit_machines_get_their_absolute_type() {
    for (arch, r_type_want) in [
        (Architecture::S390x, elf::R_390_64.0),
        (Architecture::PowerPc64, elf::R_PPC64_ADDR64.0),
    ] {
        let ko = module(arch, Endianness::Big, true);
        let out = apply(
            &ko,
            &[blob(".mod_lineinfo", 16, 9, &[(0, ".text")], 8)],
            &[],
        );
        assert_kept(&ko, &out);
        let f = sections(&out);
        let (_, r) = f
            .section_by_name(".mod_lineinfo")
            .unwrap()
            .relocations()
            .next()
            .unwrap();
        assert_eq!(r_type(&r), r_type_want, "{arch:?}");
        assert_eq!(
            embed_sections(
                &out,
                &[blob(".mod_lineinfo", 16, 9, &[(0, ".text")], 8)],
                &[]
            )
            .unwrap(),
            Embedded::UpToDate {
                len: out.len() as u64
            }
        );
    }
}

#[test]
fn a_missing_section_symbol_is_a_clear_error() {
    let ko = module(Architecture::X86_64, Endianness::Little, false);
    let new = [blob(".init.mod_lineinfo", 24, 3, &[(8, ".init.text")], 8)];
    let e = embed_sections(&ko, &new, &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        ".init.mod_lineinfo+0x8: bad ELF: no section symbol for .init.text in .symtab"
    );
    let missing = [blob(".mod_lineinfo", 24, 3, &[(8, ".noinstr.text")], 8)];
    let e = embed_sections(&ko, &missing, &[]).unwrap_err().to_string();
    assert!(e.contains("no section `.noinstr.text`"), "{e}");
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let ko = x86_64();
    let mut nonzero = blob(".mod_lineinfo", 16, 1, &[(0, ".text")], 8);
    nonzero.data[0] = 5;
    let beyond = blob(".mod_lineinfo", 16, 1, &[], 8);
    let beyond = NewSection {
        relocations: vec![AnchorReloc {
            offset: 12,
            size: 8,
            target_section: ".text".into(),
        }],
        ..beyond
    };
    let odd = NewSection {
        align: 3,
        ..blob(".mod_lineinfo", 4, 0, &[], 8)
    };
    let twice = [blob(".a", 1, 0, &[], 8), blob(".a", 1, 0, &[], 8)];
    for new in [vec![nonzero], vec![beyond], vec![odd], twice.to_vec()] {
        assert!(embed_sections(&ko, &new, &[]).is_err(), "{new:?}");
    }
    let mips = module(Architecture::Mips64, Endianness::Big, true);
    let e = embed_sections(&mips, &[blob(".m", 8, 0, &[(0, ".text")], 8)], &[]).unwrap_err();
    assert!(e.to_string().contains("e_machine 8"), "{e}");
    assert!(embed_sections(&mips, &[blob(".m", 8, 1, &[], 8)], &[]).is_ok());
}

#[test]
fn damaged_input_never_panics() {
    let ko = x86_64();
    let new = [blob(".mod_lineinfo", 16, 0, &[(0, ".text")], 8)];
    for len in 0..ko.len() {
        let _ = embed_sections(&ko[..len], &new, &[]);
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        let mut bad = ko.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % bad.len() as u64) as usize;
            bad[i] = (seed >> 40) as u8;
        }
        let _ = embed_sections(&bad, &new, &[".data"]);
    }
}
