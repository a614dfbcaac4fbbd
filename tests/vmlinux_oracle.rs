//! The vmlinux path end to end against an independent oracle.
//!
//! For each build variant: compile the fixtures, link a mini vmlinux with the
//! CLI's stub (link 1), generate the tables from link 1 both as an object and
//! as assembly (assembled with `cc -c`), link each into link 2 at the same
//! place, and check that
//! * text did not move between the links;
//! * `lookup --vmlinux link2 ADDR` agrees with `llvm-dwarfdump --debug-line`
//!   (docs/format.md section 1 rules, via tests/common/dwarfdump.rs) on every
//!   address in `[_text, _etext)` the oracle answers: 100 %, names relative to
//!   the tree and normalised;
//! * every function symbol start there is annotated; `.init.text` and
//!   `.exit.text` addresses are `??`;
//! * the `.o` and `.S` routes give the same answers, stdout equals the `.S`,
//!   and a second run writes identical bytes.

use crate::common;

use common::build::{matrix_cells, VMLINUX_UNITS};
use common::elf::{self, STT_FUNC};
use common::*;
use std::path::{Path, PathBuf};

const V1_SYMBOLS: [&str; 8] = [
    "lineinfo_num_entries",
    "lineinfo_num_files",
    "lineinfo_num_blocks",
    "lineinfo_block_addrs",
    "lineinfo_block_offsets",
    "lineinfo_data",
    "lineinfo_file_offsets",
    "lineinfo_filenames",
];
const V7_EXTRA_SYMBOLS: [&str; 2] = ["lineinfo_data_size", "lineinfo_filenames_size"];

#[test]
fn dwarf5_in_tree() {
    check_variant(Variant::new("dwarf5-in-tree"));
}

#[test]
fn dwarf4_out_of_tree_with_srctree() {
    check_variant(Variant {
        dwarf: DwarfVersion::V4,
        style: BuildStyle::OutOfTree,
        pass_srctree: true,
        ..Variant::new("dwarf4-O=")
    });
}

#[test]
fn dwarf5_prefix_mapped_zlib() {
    check_variant(Variant {
        compress: Compress::Zlib,
        style: BuildStyle::PrefixMapped,
        ..Variant::new("dwarf5-prefix-map-zlib")
    });
}

#[test]
fn dwarf4_zlib_with_srctree() {
    check_variant(Variant {
        dwarf: DwarfVersion::V4,
        compress: Compress::Zlib,
        pass_srctree: true,
        ..Variant::new("dwarf4-zlib-srctree")
    });
}

#[test]
fn dwarf5_zstd() {
    check_variant(Variant {
        compress: Compress::Zstd,
        ..Variant::new("dwarf5-zstd")
    });
}

#[test]
fn dwarf4_legacy_zdebug() {
    check_variant(Variant {
        dwarf: DwarfVersion::V4,
        compress: Compress::ZlibGnu,
        ..Variant::new("dwarf4-zdebug")
    });
}

#[test]
fn dwarf64_format() {
    check_variant(Variant {
        dwarf64: true,
        ..Variant::new("dwarf5-dwarf64")
    });
}

#[test]
fn layout_v7_out_of_tree() {
    check_variant(Variant {
        style: BuildStyle::OutOfTree,
        pass_srctree: true,
        layout: Some("v7"),
        ..Variant::new("dwarf5-O=-v7")
    });
}

#[test]
fn layout_v1_explicit_prefix_mapped_with_srctree() {
    check_variant(Variant {
        dwarf: DwarfVersion::V4,
        style: BuildStyle::PrefixMapped,
        pass_srctree: true,
        layout: Some("v1"),
        ..Variant::new("dwarf4-prefix-map-srctree-v1")
    });
}

matrix_tests!();

#[test]
fn stub_defines_every_symbol_with_zero_counts() {
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    for layout in [None, Some("v1"), Some("v7")] {
        let tag = layout.unwrap_or("default");
        let obj = ws.path(&format!("stub-{tag}.o"));
        cli.stub(layout, &obj);
        let asm = ws.path(&format!("stub-{tag}.S"));
        cli.stub(layout, &asm);
        let asm_obj = ws.assemble(&asm, &format!("stub-{tag}-from-S.o"));
        for file in [&obj, &asm_obj] {
            let what = format!("stub {tag} {}", file.display());
            check_table_symbols(file, layout, &what);
            let mut counts = vec![
                "lineinfo_num_entries",
                "lineinfo_num_files",
                "lineinfo_num_blocks",
            ];
            if layout == Some("v7") {
                counts.extend(V7_EXTRA_SYMBOLS);
            }
            for name in counts {
                assert_eq!(
                    elf::u32_at_symbol(file, name),
                    Some(0),
                    "{what}: {name} must be 0"
                );
            }
        }
    }
}

/// Every table symbol is defined, global, and in a read-only `.rodata`.
fn check_table_symbols(file: &Path, layout: Option<&str>, what: &str) {
    let syms = elf::symbols(file);
    let mut names: Vec<&str> = V1_SYMBOLS.to_vec();
    if layout == Some("v7") {
        names.extend(V7_EXTRA_SYMBOLS);
    }
    for name in names {
        let s = syms
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{what}: symbol {name} not defined"));
        assert!(s.global, "{what}: {name} is not global");
        assert_eq!(s.section, ".rodata", "{what}: {name} not in .rodata");
    }
    let rodata = elf::section(file, ".rodata").expect(".rodata");
    assert_eq!(
        rodata.sh_flags & 0x7,
        0x2,
        "{what}: .rodata flags must be SHF_ALLOC only (no write/exec), got {:#x}",
        rodata.sh_flags
    );
}

fn check_variant(v: Variant) {
    let ws = Workspace::new();
    if let Some(why) = ws.unsupported(&v) {
        common::tools::unavailable(&format!("variant {}", v.name), &why);
        return;
    }
    let cli = Cli::new(ws.root());
    let objs = ws.compile_all(&v, &VMLINUX_UNITS);
    let links = build_links(&ws, &cli, &v, &objs, "");
    let oracle = line_oracle(&ws, &v, &links, "");
    check_against_oracle(&ws, &cli, &v, &links, &oracle);
    check_table_object(&ws, &v, &links, &oracle);
    check_determinism(&ws, &cli, &v, &links);
}

/// The `llvm-dwarfdump --debug-line` oracle of link 1 (LLVM 14 reads no zstd or `.zdebug`).
fn line_oracle(ws: &Workspace, v: &Variant, links: &Links, tag: &str) -> LineOracle {
    let plain = match v.compress {
        Compress::Zstd | Compress::ZlibGnu => {
            ws.decompressed(&links.link1, &format!("{tag}vmlinux.1.plain"))
        }
        _ => links.link1.clone(),
    };
    LineOracle::from_file(&plain)
}

/// Link 1 with the stub, tables from link 1 (`.o` and `.S`, the `.S` assembled by the variant's
/// compiler), link 2 twice; every file name starts with `tag`.
fn build_links(ws: &Workspace, cli: &Cli, v: &Variant, objs: &[PathBuf], tag: &str) -> Links {
    let name = |n: &str| format!("{tag}{n}");
    let stub = ws.path(&name("stub.o"));
    cli.stub(v.layout, &stub);
    let link1 = ws.link_vmlinux(v, objs, &[&stub], &name("vmlinux.1"));
    common::build::assert_compressed_as_asked(v, &link1, ".debug_line");
    let srctree = ws.srctree_arg(v);
    let tables_o = ws.path(&name("tables.o"));
    cli.vmlinux(v.layout, srctree.as_deref(), &link1, &tables_o);
    let tables_s = ws.path(&name("tables.S"));
    cli.vmlinux(v.layout, srctree.as_deref(), &link1, &tables_s);
    let tables_s_o = ws.assemble_with(&v.toolchain, &tables_s, &name("tables-from-S.o"));
    let link2 = ws.link_vmlinux(v, objs, &[&tables_o], &name("vmlinux.2"));
    let link2_from_asm = ws.link_vmlinux(v, objs, &[&tables_s_o], &name("vmlinux.2s"));
    for l2 in [&link2, &link2_from_asm] {
        assert_text_unmoved(&link1, l2);
    }
    Links {
        link1,
        link2,
        link2_from_asm,
        tables_o,
        tables_s,
    }
}

/// One (compiler, DWARF version, split) compiles the fixtures once; each linker × compression
/// cell links them (a zlib cell with `--compress-debug-sections=zlib`, a zstd one by `objcopy`),
/// builds the tables with the tool, links them and compares every `[_text, _etext)` address with
/// `llvm-dwarfdump --debug-line` (100 %) and with `llvm-symbolizer --no-inlines` (every address
/// it answers inside a function). The layout alternates so that each linker sees v1 and v7.
fn check_matrix(cc: Cc, dwarf: DwarfVersion, split: bool) {
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let objects = Variant::matrix_objects(cc, dwarf, split);
    let objs = ws.compile_all(&objects, &VMLINUX_UNITS);
    let mut cells = Vec::new();
    for v in matrix_cells(&ws, &objects, "") {
        let tag = format!("{}-", v.name);
        let links = build_links(&ws, &cli, &v, &objs, &tag);
        let oracle = line_oracle(&ws, &v, &links, &tag);
        check_against_oracle(&ws, &cli, &v, &links, &oracle);
        check_table_object(&ws, &v, &links, &oracle);
        let agreed = check_against_symbolizer(&ws, &cli, &v, &links, &tag);
        cells.push(format!("{}: {agreed}", v.name));
    }
    eprintln!("{}", cells.join("\n"));
}

/// `lookup --vmlinux` against `llvm-symbolizer --no-inlines` on link 1: every address inside a
/// function that the symbolizer answers must agree. Returns "N/N agree".
fn check_against_symbolizer(
    ws: &Workspace,
    cli: &Cli,
    v: &Variant,
    links: &Links,
    tag: &str,
) -> String {
    let lo = elf::symbol_value(&links.link1, "_text").expect("_text");
    let hi = elf::symbol_value(&links.link1, "_etext").expect("_etext");
    let first = elf::text_symbols(&links.link1, ".text")
        .into_iter()
        .filter(|s| s.st_type == STT_FUNC && (lo..hi).contains(&s.value))
        .map(|s| s.value)
        .min()
        .expect("functions in the fixture");
    let text: Vec<u64> = (first..hi).collect();
    let plain = match v.compress {
        Compress::None | Compress::Zlib => links.link1.clone(),
        _ => ws.decompressed(&links.link1, &format!("{tag}vmlinux.1.sym")),
    };
    let oracle = common::symbolizer::symbolize(&plain, &text);
    let got = cli.lookup_vmlinux(&links.link2, &text);
    let expect = Expect::new(&[ws.tree_root(v)]);
    let mut report = Report::default();
    for (l, o) in got.iter().zip(&oracle) {
        report.add(&expect, &l.query, o.as_ref(), l.answer.as_ref());
    }
    let title = format!("{} vs llvm-symbolizer", v.name);
    report.assert_perfect(&title);
    assert!(report.answered() > 500, "{title}: too few answers");
    format!("{0}/{0} agree with llvm-symbolizer", report.answered())
}

/// The files one variant produces.
struct Links {
    link1: PathBuf,
    link2: PathBuf,
    link2_from_asm: PathBuf,
    tables_o: PathBuf,
    tables_s: PathBuf,
}

/// Text sections and symbols are at the same addresses in both links: the real
/// tables linked instead of the stub must not move code.
fn assert_text_unmoved(link1: &Path, link2: &Path) {
    for name in [".text", ".init.text", ".exit.text"] {
        let a = elf::section(link1, name).expect("section in link 1");
        let b = elf::section(link2, name).expect("section in link 2");
        assert_eq!(
            (a.addr, a.size),
            (b.addr, b.size),
            "{name} moved between links"
        );
        // Contents may differ (code addressing data placed after .rodata);
        // addresses may not.
    }
    let syms = |f: &Path| -> Vec<(String, u64)> {
        let mut v: Vec<_> = elf::symbols(f)
            .into_iter()
            .filter(|s| s.section.ends_with("text"))
            .map(|s| (s.name, s.value))
            .collect();
        v.sort();
        v
    };
    assert_eq!(syms(link1), syms(link2), "text symbols moved between links");
}

fn check_against_oracle(
    ws: &Workspace,
    cli: &Cli,
    v: &Variant,
    links: &Links,
    oracle: &LineOracle,
) {
    let lo = elf::symbol_value(&links.link1, "_text").expect("_text");
    let hi = elf::symbol_value(&links.link1, "_etext").expect("_etext");
    let text: Vec<u64> = (lo..hi).collect();
    let got = cli.lookup_vmlinux(&links.link2, &text);
    let got_asm = cli.lookup_vmlinux(&links.link2_from_asm, &text);
    if let Some((a, b)) = got.iter().zip(&got_asm).find(|(a, b)| a != b) {
        panic!("{}: .o and .S tables disagree: {a:?} vs {b:?}", v.name);
    }

    let expect = Expect::new(&[ws.tree_root(v)]);
    let funcs: Vec<u64> = elf::text_symbols(&links.link1, ".text")
        .into_iter()
        .filter(|s| s.st_type == STT_FUNC && (lo..hi).contains(&s.value))
        .map(|s| s.value)
        .collect();
    assert!(
        funcs.len() >= 10,
        "{}: only {} functions in the fixture",
        v.name,
        funcs.len()
    );
    let mut report = Report::default();
    for (&a, l) in text.iter().zip(&got) {
        // The kernel's guard: an address before the first function has no
        // symbol to resolve to; the brief compares only addresses inside one.
        let inside_function = funcs.first().is_some_and(|&f| a >= f);
        let answer = oracle.answer(a);
        let oracle_answer = if inside_function {
            answer.as_ref()
        } else {
            None
        };
        report.add(&expect, &l.query, oracle_answer, l.answer.as_ref());
    }
    report.assert_perfect(&format!("{} [_text, _etext)", v.name));
    eprintln!("{}", report.describe(v.name).lines().next().unwrap_or(""));

    let unannotated: Vec<String> = funcs
        .iter()
        .filter(|&&f| got[(f - lo) as usize].answer.is_none())
        .map(|f| format!("0x{f:x}"))
        .collect();
    assert!(
        unannotated.is_empty(),
        "{}: function starts printed ??: {unannotated:?}",
        v.name
    );

    check_init_exit_unannotated(cli, v, links);
}

/// Code after `_etext` moves in a real kernel link: never covered.
fn check_init_exit_unannotated(cli: &Cli, v: &Variant, links: &Links) {
    let mut addrs = Vec::new();
    for name in [".init.text", ".exit.text"] {
        let s = elf::section(&links.link1, name).expect("init/exit section");
        assert!(s.size > 0, "{name} is empty in the fixture");
        addrs.extend(s.addr..s.addr + s.size);
    }
    let got = cli.lookup_vmlinux(&links.link2, &addrs);
    let annotated: Vec<String> = got
        .iter()
        .filter_map(|l| l.answer.as_ref().map(|a| format!("{} {a}", l.query)))
        .collect();
    assert!(
        annotated.is_empty(),
        "{}: {} init/exit text addresses annotated, e.g. {:?}",
        v.name,
        annotated.len(),
        &annotated[..annotated.len().min(10)]
    );
}

/// Symbols and counts of the generated object: every referenced name once,
/// blocks of 64 entries.
fn check_table_object(ws: &Workspace, v: &Variant, links: &Links, oracle: &LineOracle) {
    check_table_symbols(&links.tables_o, v.layout, &format!("{} tables.o", v.name));
    let lo = elf::symbol_value(&links.link1, "_text").expect("_text");
    let hi = elf::symbol_value(&links.link1, "_etext").expect("_etext");
    let expect = Expect::new(&[ws.tree_root(v)]);
    let mut names: Vec<String> = (lo..hi)
        .filter_map(|a| oracle.answer(a))
        .map(|a| expect.name(&a.file))
        .collect();
    names.sort();
    names.dedup();
    let read = |n: &str| elf::u32_at_symbol(&links.tables_o, n).unwrap_or_else(|| panic!("{n}"));
    let entries = read("lineinfo_num_entries");
    assert_eq!(
        read("lineinfo_num_files") as usize,
        names.len(),
        "{}: num_files must count each referenced name once: {names:?}",
        v.name
    );
    assert_eq!(
        read("lineinfo_num_blocks"),
        entries.div_ceil(64),
        "{}: blocks of 64",
        v.name
    );
    assert!(
        entries > 64,
        "{}: fixture too small to span two blocks ({entries})",
        v.name
    );
}

fn check_determinism(ws: &Workspace, cli: &Cli, v: &Variant, links: &Links) {
    let srctree = ws.srctree_arg(v);
    let again_o = ws.path("tables-again.o");
    cli.vmlinux(v.layout, srctree.as_deref(), &links.link1, &again_o);
    let again_s = ws.path("tables-again.S");
    cli.vmlinux(v.layout, srctree.as_deref(), &links.link1, &again_s);
    let read = |p: &Path| std::fs::read(p).expect("read output");
    assert!(
        read(&links.tables_o) == read(&again_o),
        "{}: .o output not deterministic",
        v.name
    );
    assert!(
        read(&links.tables_s) == read(&again_s),
        "{}: .S output not deterministic",
        v.name
    );
    let stdout = cli.vmlinux_stdout(v.layout, srctree.as_deref(), &links.link1);
    assert!(
        stdout == read(&links.tables_s),
        "{}: stdout differs from the .S file",
        v.name
    );
    let dash = cli.vmlinux_stdout_dash(v.layout, srctree.as_deref(), &links.link1);
    assert!(
        dash == read(&links.tables_s),
        "{}: `-o -` differs from the .S file",
        v.name
    );
}
