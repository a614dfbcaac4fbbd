//! Inputs gcc here cannot produce: ELF executables written byte by byte
//! (tests/common/elfwrite.rs) for four targets (ELF64 LE x86-64, ELF64 BE
//! s390x, ELF32 LE i386, ELF32 BE ppc), carrying DWARF 4 or 5 in the 32- or
//! 64-bit format written with `gimli::write` from rows this file chooses.
//! The expectation is the rows themselves (docs/format.md section 1 applied by a
//! ten-line model below), so the oracle is independent by construction.
//!
//! Each input is turned into a table object with `vmlinux -o t.o`, and
//! `lookup --vmlinux t.o OFF` must give every covered offset its row's
//! file:line; the file table must hold exactly the referenced names, in
//! order of first use, relative to comp_dir and normalised.

use crate::common;

use common::elf;
use common::elfwrite::{
    self, OutSection, OutSymbol, Target, SHF_ALLOC, SHF_EXECINSTR, SHT_PROGBITS, STT_FUNC,
    STT_NOTYPE,
};
use common::{Answer, Cli, Workspace};
use gimli::write::{
    Address, AttributeValue, DirectoryId, Dwarf, FileId, LineProgram, LineString, Unit,
};
use gimli::{Encoding, Format, LineEncoding, RunTimeEndian};
use object::{Object, ObjectSection};
use std::path::Path;

const TEXT: u64 = 0x100_0000;
const TEXT_SIZE: u64 = 0x600;
const INIT: u64 = TEXT + 0x1000;
const COMP_DIR: &str = "/build/linux";

/// (directory as written, file name, the name the tool must print).
/// Directory "" is directory 0, the compilation directory.
const FILES: [(&str, &str, &str); 6] = [
    ("drivers/foo", "a.c", "drivers/foo/a.c"),
    ("/build/linux/include/linux", "h.h", "include/linux/h.h"),
    (
        "arch/x86/kvm/../../../virt/kvm",
        "kvm_main.c",
        "virt/kvm/kvm_main.c",
    ),
    ("", "init/main.c", "init/main.c"),
    ("./kernel", "fork.c", "kernel/fork.c"),
    ("init", "only_init.c", "init/only_init.c"),
];
/// Index in `FILES` of the name used only outside `[_text, _etext)`.
const ONLY_INIT: usize = 5;

/// A sequence: owning unit, absolute start, length, rows as
/// (offset in sequence, file index, line) in program order.
#[derive(Clone, Debug)]
struct Seq {
    unit: usize,
    start: u64,
    len: u64,
    rows: Vec<(u64, usize, u64)>,
}

fn sequences() -> Vec<Seq> {
    vec![
        Seq {
            unit: 0,
            start: TEXT,
            len: 0x40,
            // Two rows at 0: the last wins. Line 0 at 0x10: no line up to 0x18.
            rows: vec![
                (0, 0, 10),
                (0, 1, 3),
                (8, 0, 11),
                (0x10, 0, 0),
                (0x18, 2, 100),
                (0x20, 3, 5),
                (0x30, 3, 5),
                (0x38, 0, 9),
            ],
        },
        Seq {
            unit: 0,
            start: TEXT + 0x40, // begins where the previous one ends
            len: 0x40,
            rows: vec![(0, 4, 7), (4, 4, 8), (0x10, 1, 1_000_000), (0x20, 4, 2)],
        },
        Seq {
            unit: 1,
            start: TEXT + 0x100,
            len: 0,
            rows: generated_rows(140),
        },
        // After _etext and a discarded-code tombstone at 0: never covered.
        Seq {
            unit: 2,
            start: INIT,
            len: 0x10,
            rows: vec![(0, ONLY_INIT, 3), (8, ONLY_INIT, 4)],
        },
        Seq {
            unit: 2,
            start: 0,
            len: 0x10,
            rows: vec![(0, ONLY_INIT, 77)],
        },
    ]
    .into_iter()
    .map(|mut s| {
        if s.len == 0 {
            s.len = s.rows.last().map_or(0, |r| r.0) + 3;
        }
        s
    })
    .collect()
}

/// Deterministic rows (fixed LCG): repeated addresses, line 0, big and
/// backward line jumps, several files.
fn generated_rows(n: usize) -> Vec<(u64, usize, u64)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let mut off = 0;
    (0..n)
        .map(|i| {
            if i > 0 {
                off += [0, 1, 1, 2, 3, 4, 6][next(7) as usize];
            }
            let line = match next(20) {
                0 => 0,
                1 => 70_000 + next(1000),
                2 => 3_000_000,
                _ => 1 + next(5000),
            };
            (off, next(5) as usize, line)
        })
        .collect()
}

/// docs/format.md section 1 rules 1 and 3 for one sequence: the last row at or
/// below `addr` whose line is not 0.
fn expected(seqs: &[Seq], addr: u64) -> Option<Answer> {
    let seq = seqs
        .iter()
        .find(|s| s.start <= addr && addr < s.start + s.len)?;
    seq.rows
        .iter()
        .rev()
        .find(|r| seq.start + r.0 <= addr)
        // A line-0 row: no line from there on (format §1 rules 1 and 7).
        .filter(|r| r.2 != 0)
        .map(|r| Answer {
            file: FILES[r.1].2.to_string(),
            line: r.2 as u32,
        })
}

/// The DWARF sections for `seqs`, one unit per distinct `unit`.
fn write_dwarf(encoding: Encoding, endian: RunTimeEndian, seqs: &[Seq]) -> Vec<(String, Vec<u8>)> {
    let mut dwarf = Dwarf::new();
    for unit in 0..3 {
        let ls = |s: &str, d: &mut Dwarf| LineString::new(s, encoding, &mut d.line_strings);
        let comp = ls(COMP_DIR, &mut dwarf);
        let src_dir = ls(FILES[0].0, &mut dwarf);
        let src = ls(FILES[0].1, &mut dwarf);
        let mut program = LineProgram::new(
            encoding,
            LineEncoding::default(),
            comp,
            Some(src_dir),
            src,
            None,
        );
        let ids: Vec<FileId> = FILES
            .iter()
            .map(|(dir, name, _)| {
                let d: DirectoryId = if dir.is_empty() {
                    program.default_directory()
                } else {
                    let dir = ls(dir, &mut dwarf);
                    program.add_directory(dir)
                };
                let name = ls(name, &mut dwarf);
                program.add_file(name, d, None)
            })
            .collect();
        for s in seqs.iter().filter(|s| s.unit == unit) {
            program.begin_sequence(Some(Address::Constant(s.start)));
            for &(off, file, line) in &s.rows {
                let row = program.row();
                row.address_offset = off;
                row.file = ids[file];
                row.line = line;
                program.generate_row();
            }
            program.end_sequence(s.len);
        }
        let mut u = Unit::new(encoding, program);
        let root = u.root();
        let (name, comp_dir) = if encoding.version >= 5 {
            (
                AttributeValue::LineStringRef(dwarf.line_strings.add(format!("unit{unit}.c"))),
                AttributeValue::LineStringRef(dwarf.line_strings.add(COMP_DIR)),
            )
        } else {
            (
                AttributeValue::String(format!("unit{unit}.c").into_bytes()),
                AttributeValue::String(COMP_DIR.into()),
            )
        };
        u.get_mut(root).set(gimli::DW_AT_name, name);
        u.get_mut(root).set(gimli::DW_AT_comp_dir, comp_dir);
        dwarf.units.add(u);
    }
    elfwrite::dwarf_sections(&mut dwarf, endian)
}

fn build_input(t: Target, version: u16, format: Format, seqs: &[Seq]) -> Vec<u8> {
    build_input_without(t, version, format, seqs, &[])
}

/// `build_input` minus the symbols named in `omit`.
fn build_input_without(
    t: Target,
    version: u16,
    format: Format,
    seqs: &[Seq],
    omit: &[&str],
) -> Vec<u8> {
    let encoding = Encoding {
        format,
        version,
        address_size: if t.is_64 { 8 } else { 4 },
    };
    let endian = if t.big_endian {
        RunTimeEndian::Big
    } else {
        RunTimeEndian::Little
    };
    let text = |name: &str, addr, size| OutSection {
        name: name.into(),
        sh_type: SHT_PROGBITS,
        flags: SHF_ALLOC | SHF_EXECINSTR,
        addr,
        align: 16,
        data: vec![0; size as usize],
    };
    let mut sections = vec![
        text(".text", TEXT, TEXT_SIZE),
        text(".init.text", INIT, 0x10),
    ];
    for (name, data) in write_dwarf(encoding, endian, seqs) {
        sections.push(OutSection::debug(name, data));
    }
    let sym = |name: &str, value, section, st_type, global| OutSymbol {
        name: name.into(),
        value,
        section,
        st_type,
        global,
    };
    let mut symbols = vec![
        sym("_text", TEXT, 0, STT_NOTYPE, true),
        sym("_etext", TEXT + TEXT_SIZE, 0, STT_NOTYPE, true),
        sym("f_a", TEXT, 0, STT_FUNC, true),
        sym("f_mid", TEXT + 0x1a, 0, STT_FUNC, false),
        sym("f_same", TEXT + 0x30, 0, STT_FUNC, false),
        sym("f_b", TEXT + 0x40, 0, STT_FUNC, true),
        sym("f_c", TEXT + 0x100, 0, STT_FUNC, true),
        sym("init_fn", INIT, 1, STT_FUNC, true),
    ];
    symbols.retain(|s| !omit.contains(&s.name.as_str()));
    elfwrite::write_exec(t, &sections, &symbols)
}

/// The names stored in a v1/v7 table object, in id order.
fn table_names(tables: &Path) -> Vec<String> {
    let n = elf::u32_at_symbol(tables, "lineinfo_num_files").expect("lineinfo_num_files");
    let sym = elf::symbols(tables)
        .into_iter()
        .find(|s| s.name == "lineinfo_filenames")
        .expect("lineinfo_filenames");
    let data = elf::section(tables, &sym.section).expect("section").data;
    data[sym.value as usize..]
        .split(|&b| b == 0)
        .take(n as usize)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn check(t: Target, version: u16, format: Format, layout: Option<&str>) {
    let what = format!(
        "{} DWARF{version} {format:?} layout {}",
        t.name,
        layout.unwrap_or("default")
    );
    let seqs = sequences();
    let covered: Vec<u64> = seqs
        .iter()
        .filter(|s| s.start >= TEXT && s.start < TEXT + TEXT_SIZE)
        .flat_map(|s| s.start..s.start + s.len)
        .collect();
    assert!(
        covered.iter().all(|&a| a < TEXT + TEXT_SIZE),
        "{what}: rows past _etext"
    );

    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let input = ws.path("input.elf");
    std::fs::write(&input, build_input(t, version, format, &seqs)).expect("write input");
    let tables = ws.path("t.o");
    cli.vmlinux(layout, None, &input, &tables);
    check_object_kind(&tables, t, &what);

    let offsets: Vec<u64> = covered.iter().map(|a| a - TEXT).collect();
    let got = cli.lookup_vmlinux(&tables, &offsets);
    let wrong: Vec<String> = got
        .iter()
        .zip(&covered)
        .filter_map(|(l, &a)| {
            let want = expected(&seqs, a);
            (l.answer != want).then(|| format!("{}: want {want:?}, got {:?}", l.query, l.answer))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{what}: {} of {} offsets wrong: {:#?}",
        wrong.len(),
        covered.len(),
        &wrong[..wrong.len().min(20)]
    );

    let mut order: Vec<String> = Vec::new();
    for a in &covered {
        if let Some(ans) = expected(&seqs, *a) {
            if !order.contains(&ans.file) {
                order.push(ans.file);
            }
        }
    }
    assert_eq!(
        table_names(&tables),
        order,
        "{what}: file table (ids by first use, referenced names only)"
    );
    let entries = elf::u32_at_symbol(&tables, "lineinfo_num_entries").expect("num_entries");
    assert!(
        entries > 64,
        "{what}: {entries} entries do not span two blocks"
    );
    assert_eq!(
        elf::u32_at_symbol(&tables, "lineinfo_num_blocks"),
        Some(entries.div_ceil(64)),
        "{what}"
    );
    if layout == Some("v7") {
        let size: usize = order.iter().map(|n| n.len() + 1).sum();
        assert_eq!(
            elf::u32_at_symbol(&tables, "lineinfo_filenames_size"),
            Some(size as u32),
            "{what}"
        );
    }

    // --srctree equal to comp_dir names the same files: same bytes.
    let with_srctree = ws.path("t-srctree.o");
    cli.vmlinux(layout, Some(COMP_DIR), &input, &with_srctree);
    let read = |p: &Path| std::fs::read(p).expect("read");
    assert!(
        read(&tables) == read(&with_srctree),
        "{what}: --srctree={COMP_DIR} changed the output"
    );
}

/// The table object is a relocatable ELF for the input's target.
fn check_object_kind(tables: &Path, t: Target, what: &str) {
    let bytes = std::fs::read(tables).expect("read t.o");
    let file = object::File::parse(&*bytes).unwrap_or_else(|e| panic!("{what}: t.o: {e}"));
    assert_eq!(file.is_64(), t.is_64, "{what}: ELF class of t.o");
    assert_eq!(
        file.is_little_endian(),
        !t.big_endian,
        "{what}: byte order of t.o"
    );
    assert_eq!(
        file.kind(),
        object::ObjectKind::Relocatable,
        "{what}: t.o kind"
    );
    assert!(
        file.section_by_name(".rodata")
            .is_some_and(|s| s.size() > 0),
        "{what}: t.o has no .rodata"
    );
    let machine = [bytes[18], bytes[19]];
    let machine = if t.big_endian {
        u16::from_be_bytes(machine)
    } else {
        u16::from_le_bytes(machine)
    };
    assert_eq!(machine, t.e_machine, "{what}: e_machine of t.o");
}

fn all_formats(t: Target) {
    for version in [4, 5] {
        for format in [Format::Dwarf32, Format::Dwarf64] {
            check(t, version, format, None);
        }
    }
    check(t, 5, Format::Dwarf32, Some("v7"));
    check(t, 4, Format::Dwarf64, Some("v1"));
}

#[test]
fn elf64_little_endian_x86_64() {
    all_formats(elfwrite::X86_64);
}

#[test]
fn elf64_big_endian_s390x() {
    all_formats(elfwrite::S390X);
}

#[test]
fn elf32_little_endian_i386() {
    all_formats(elfwrite::I386);
}

#[test]
fn elf32_big_endian_ppc() {
    all_formats(elfwrite::PPC32);
}

/// The inputs themselves are valid: llvm-dwarfdump's reading of the
/// synthetic DWARF (through the harness oracle) matches the model, so a
/// failure above is the tool's, not the writer's.
#[test]
fn synthetic_inputs_read_back_with_llvm_dwarfdump() {
    let seqs = sequences();
    for t in [
        elfwrite::X86_64,
        elfwrite::S390X,
        elfwrite::I386,
        elfwrite::PPC32,
    ] {
        for (version, format) in [(4, Format::Dwarf32), (5, Format::Dwarf64)] {
            let ws = Workspace::new();
            let input = ws.path("input.elf");
            std::fs::write(&input, build_input(t, version, format, &seqs)).expect("write input");
            let oracle = common::LineOracle::from_file(&input);
            let expect = common::Expect::new(&[COMP_DIR]);
            for s in seqs.iter().filter(|s| s.start == TEXT || s.unit == 1) {
                for a in s.start..s.start + s.len {
                    let got = oracle.answer(a).map(|x| Answer {
                        file: expect.name(&x.file),
                        line: x.line,
                    });
                    assert_eq!(
                        got,
                        expected(&seqs, a),
                        "{} DWARF{version}: 0x{a:x}",
                        t.name
                    );
                }
            }
        }
    }
}

/// Without `_etext` the covered range ends with the section holding `_text`,
/// here the same place: the same table.
#[test]
fn missing_etext_falls_back_to_the_end_of_text() {
    let seqs = sequences();
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let with = ws.path("with.elf");
    let without = ws.path("without.elf");
    std::fs::write(
        &with,
        build_input(elfwrite::X86_64, 5, Format::Dwarf32, &seqs),
    )
    .expect("write");
    std::fs::write(
        &without,
        build_input_without(elfwrite::X86_64, 5, Format::Dwarf32, &seqs, &["_etext"]),
    )
    .expect("write");
    let (a, b) = (ws.path("a.o"), ws.path("b.o"));
    cli.vmlinux(None, None, &with, &a);
    cli.vmlinux(None, None, &without, &b);
    assert!(
        std::fs::read(&a).expect("a") == std::fs::read(&b).expect("b"),
        "tables differ without _etext"
    );
}

/// Without `_text` there is no base for offsets: an error naming the file.
#[test]
fn missing_text_symbol_is_an_error_naming_the_file() {
    let seqs = sequences();
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let input = ws.path("no-text-symbol.elf");
    std::fs::write(
        &input,
        build_input_without(elfwrite::S390X, 4, Format::Dwarf32, &seqs, &["_text"]),
    )
    .expect("write");
    let out = common::tools::try_run(
        cli.command()
            .args(["vmlinux", "-o"])
            .arg(ws.path("t.o"))
            .arg(&input),
    );
    assert!(
        !out.status.success(),
        "vmlinux on an input without _text must fail"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no-text-symbol.elf"),
        "error does not name the file: {stderr}"
    );
}
