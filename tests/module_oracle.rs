//! The module path end to end against an independent oracle.
//!
//! A module-like `.ko` is `ld -r` of several fixture objects. The tool embeds
//! `.mod_lineinfo` in place; the oracle is a full link of an untouched copy
//! with `.text` at 0x100000, `.init.text` at 0x200000 and `.exit.text` at
//! 0x300000 (tests/fixtures/module.ld), asked through `llvm-symbolizer
//! --no-inlines`. `lookup --module m.ko .text+0xOFF` must agree on every
//! offset the oracle answers (the README's 100 %: no wrong answer tolerated),
//! annotate every function start, and a second `module` run must leave the file
//! byte-identical.

use crate::common;

use common::blob::decode_v1_module;
use common::build::{matrix_cells, MODULE_UNITS};
use common::elf::{self, STT_FUNC};
use common::symbolizer::symbolize;
use common::tools::run;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHT_PROGBITS: u32 = 1;
const SHF_ALLOC: u64 = 2;

/// Oracle-link addresses of the covered sections (tests/fixtures/module.ld).
const PLACED: [(&str, u64); 3] = [
    (".text", 0x100000),
    (".init.text", 0x200000),
    (".exit.text", 0x300000),
];

#[test]
fn module_dwarf5_in_tree() {
    check_module(Variant::new("module-dwarf5"));
}

#[test]
fn module_dwarf4_out_of_tree() {
    check_module(Variant {
        dwarf: DwarfVersion::V4,
        style: BuildStyle::OutOfTree,
        pass_srctree: true,
        ..Variant::new("module-dwarf4-O=")
    });
}

#[test]
fn module_zlib_prefix_mapped() {
    check_module(Variant {
        compress: Compress::Zlib,
        style: BuildStyle::PrefixMapped,
        ..Variant::new("module-zlib-prefix-map")
    });
}

#[test]
fn module_zstd() {
    check_module(Variant {
        compress: Compress::Zstd,
        dwarf: DwarfVersion::V4,
        ..Variant::new("module-zstd")
    });
}

#[test]
fn module_legacy_zdebug() {
    check_module(Variant {
        compress: Compress::ZlibGnu,
        ..Variant::new("module-zdebug")
    });
}

#[test]
fn module_layout_v7() {
    check_module(Variant {
        layout: Some("v7"),
        ..Variant::new("module-v7")
    });
}

#[test]
fn module_layout_v7_out_of_tree_dwarf64() {
    check_module(Variant {
        layout: Some("v7"),
        dwarf64: true,
        style: BuildStyle::OutOfTree,
        pass_srctree: true,
        ..Variant::new("module-v7-O=-dwarf64")
    });
}

fn check_module(v: Variant) {
    let ws = Workspace::new();
    if let Some(why) = ws.unsupported(&v) {
        common::tools::unavailable(&format!("variant {}", v.name), &why);
        return;
    }
    let cli = Cli::new(ws.root());
    let objs = ws.compile_all(&v, &MODULE_UNITS);
    check_module_from(&ws, &cli, &v, &objs, "");
}

/// Links `objs` into a `.ko` as `v` says and checks it; every file name starts with `tag`.
fn check_module_from(ws: &Workspace, cli: &Cli, v: &Variant, objs: &[PathBuf], tag: &str) {
    let v = *v;
    let name = |n: &str| format!("{tag}{n}");
    let ko = ws.link_module(&v, objs, &name("m.ko"));
    common::build::assert_compressed_as_asked(&v, &ko, ".debug_info");
    let orig = ws.path(&name("orig.ko"));
    std::fs::copy(&ko, &orig).expect("copy .ko");
    let plain = match v.compress {
        Compress::None => orig.clone(),
        _ => ws.decompressed(&orig, &name("orig.plain.ko")),
    };
    let linked = ws.link_module_oracle(&plain, &name("m.linked"));

    let srctree = ws.srctree_arg(&v);
    cli.module(v.layout, srctree.as_deref(), &[&ko]);
    check_sections(&ko, &v);
    check_v1_blob(ws, &v, &ko, &orig, &linked);

    let once = std::fs::read(&ko).expect("read .ko");
    cli.module(v.layout, srctree.as_deref(), &[&ko]);
    assert!(
        once == std::fs::read(&ko).expect("read .ko"),
        "{}: second run changed the .ko",
        v.name
    );
    check_batch_matches_single(ws, cli, &v, &orig, &once, tag);

    let expect = Expect::new(&[ws.tree_root(&v)]);
    compare_section(cli, &v, &expect, &ko, &orig, &linked, ".text");
    check_bare_offsets(cli, &v, &ko, &orig);
    for (section, _) in &PLACED[1..] {
        // v1 covers the module's text memory (`.text`, then `.exit.text` with
        // CONFIG_MODULE_UNLOAD); init text is freed and never covered.
        if v.layout == Some("v7") || *section == ".exit.text" {
            compare_section(cli, &v, &expect, &ko, &orig, &linked, section);
        } else {
            assert_uncovered(cli, &v, &ko, &orig, section);
        }
    }
}

/// One (compiler, DWARF version, split) compiles the fixtures once; each `ld -r` linker ×
/// compression cell (`objcopy` compresses the `.ko`) gets the whole module check against
/// `llvm-symbolizer --no-inlines`. The layout alternates so that each linker sees v1 and v7.
fn check_matrix(cc: Cc, dwarf: DwarfVersion, split: bool) {
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let objects = Variant::matrix_objects(cc, dwarf, split);
    let objs = ws.compile_all(&objects, &MODULE_UNITS);
    for v in matrix_cells(&ws, &objects, "module-") {
        check_module_from(&ws, &cli, &v, &objs, &format!("{}-", v.name));
    }
}

/// Several `.ko` in one invocation get the same bytes as one at a time.
fn check_batch_matches_single(
    ws: &Workspace,
    cli: &Cli,
    v: &Variant,
    orig: &Path,
    once: &[u8],
    tag: &str,
) {
    let copies: Vec<_> = (0..3)
        .map(|i| ws.path(&format!("{tag}batch{i}.ko")))
        .collect();
    for c in &copies {
        std::fs::copy(orig, c).expect("copy .ko");
    }
    let refs: Vec<&Path> = copies.iter().map(|c| c.as_path()).collect();
    cli.module(v.layout, ws.srctree_arg(v).as_deref(), &refs);
    for c in &copies {
        assert!(
            std::fs::read(c).expect("read") == once,
            "{}: batch run of {} differs from single run",
            v.name,
            c.display()
        );
    }
}

matrix_tests!();

/// A module without DWARF is left alone: exit 0, same bytes, no section.
#[test]
fn module_without_debug_info_is_left_alone() {
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let obj = ws.path("nodebug.o");
    run(Command::new(common::tools::compiler())
        .current_dir(ws.src())
        .args(["-O2", "-Iinclude", "-c", "drivers/foo/a.c", "-o"])
        .arg(&obj));
    let ko = ws.path("nodebug.ko");
    run(Command::new("ld").args(["-r", "-o"]).arg(&ko).arg(&obj));
    let before = std::fs::read(&ko).expect("read");
    cli.module(None, None, &[&ko]);
    assert!(
        std::fs::read(&ko).expect("read") == before,
        "a .ko without DWARF was rewritten"
    );
    assert!(elf::section(&ko, ".mod_lineinfo").is_none());
}

/// `.mod_lineinfo` (and for v7 `.init.mod_lineinfo` and the relocation
/// section): PROGBITS, SHF_ALLOC only, aligned; as readelf sees it too.
fn check_sections(ko: &Path, v: &Variant) {
    let mut wanted = vec![".mod_lineinfo"];
    let min_align = if v.layout == Some("v7") {
        wanted.push(".init.mod_lineinfo");
        8
    } else {
        4
    };
    for name in &wanted {
        let s =
            elf::section(ko, name).unwrap_or_else(|| panic!("{}: no {name} in the .ko", v.name));
        assert_eq!(s.sh_type, SHT_PROGBITS, "{}: {name} type", v.name);
        assert_eq!(
            s.sh_flags, SHF_ALLOC,
            "{}: {name} flags must be SHF_ALLOC only",
            v.name
        );
        assert!(
            s.align >= min_align,
            "{}: {name} aligned to {}",
            v.name,
            s.align
        );
        assert!(s.size >= 24, "{}: {name} only {} bytes", v.name, s.size);
    }
    if v.layout == Some("v7") {
        let names = elf::section_names(ko);
        assert!(
            names
                .iter()
                .any(|n| n == ".rela.mod_lineinfo" || n == ".rel.mod_lineinfo"),
            "{}: v7 needs a relocation section for the anchors: {names:?}",
            v.name
        );
    }
    let readelf = run(Command::new("readelf").args(["-S", "-W"]).arg(ko));
    let text = String::from_utf8_lossy(&readelf.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(" .mod_lineinfo "))
        .unwrap_or_else(|| panic!("{}: readelf does not list .mod_lineinfo:\n{text}", v.name));
    assert!(line.contains("PROGBITS"), "{}: readelf: {line}", v.name);
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(
        fields.contains(&"A"),
        "{}: readelf flags are not just A: {line}",
        v.name
    );
}

/// v1 blob (docs/format.md 4.2), read by the harness's own decoder: header
/// counts, every entry equal to the oracle's answer at its offset, an entry
/// at exactly every function start (rule 6; `lookup` on a module applies no
/// symbol-start guard, so only the bytes show this), names referenced once.
fn check_v1_blob(ws: &Workspace, v: &Variant, ko: &Path, orig: &Path, linked: &Path) {
    if v.layout == Some("v7") {
        return;
    }
    let blob = elf::section(ko, ".mod_lineinfo")
        .expect(".mod_lineinfo")
        .data;
    let u32_at = |i: usize| u32::from_le_bytes(blob[i..i + 4].try_into().expect("4 bytes"));
    let (entries, blocks, reserved) = (u32_at(0), u32_at(12), u32_at(20));
    assert!(
        entries > 64,
        "{}: only {entries} entries: fixture too small",
        v.name
    );
    assert_eq!(blocks, entries.div_ceil(64), "{}: blocks of 64", v.name);
    assert_eq!(reserved, 0, "{}: reserved header word", v.name);
    let table =
        decode_v1_module(&blob).unwrap_or_else(|e| panic!("{}: .mod_lineinfo: {e}", v.name));
    assert_eq!(table.entries.len(), entries as usize);
    assert!(
        table.entries.windows(2).all(|w| w[0].offset < w[1].offset),
        "{}: entry offsets must strictly increase",
        v.name
    );

    let text = elf::section(linked, ".text").expect(".text");
    let oracle = symbolize(
        linked,
        &(text.addr..text.addr + text.size).collect::<Vec<_>>(),
    );
    let expect = Expect::new(&[ws.tree_root(v)]);
    let mut names: Vec<String> = oracle
        .iter()
        .flatten()
        .map(|a| expect.name(&a.file))
        .collect();
    names.sort();
    names.dedup();
    // `.text` comes first in this module's text memory; `.exit.text` entries follow it.
    let in_text: Vec<_> = table
        .entries
        .iter()
        .filter(|e| u64::from(e.offset) < text.size)
        .collect();
    assert!(
        in_text.len() < table.entries.len(),
        "{}: no .exit.text entries",
        v.name
    );
    let mut stored: Vec<String> = in_text
        .iter()
        .filter_map(|e| table.names.get(e.file as usize).cloned())
        .collect();
    stored.sort();
    stored.dedup();
    assert_eq!(
        stored, names,
        "{}: .text entries must name exactly the files the oracle names",
        v.name
    );
    let mut all = table.names.clone();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        table.names.len(),
        "{}: a name stored twice",
        v.name
    );

    let mut report = Report::default();
    for e in in_text {
        let ours = table.names.get(e.file as usize).map(|f| Answer {
            file: f.clone(),
            line: e.line,
        });
        let at = oracle.get(e.offset as usize).and_then(Option::as_ref);
        report.add(
            &expect,
            &format!("entry .text+0x{:x}", e.offset),
            at,
            ours.as_ref(),
        );
    }
    report.assert_perfect(&format!("{} decoded entries", v.name));

    let missing: Vec<String> = elf::text_symbols(orig, ".text")
        .into_iter()
        .filter(|s| {
            s.st_type == STT_FUNC && oracle.get(s.value as usize).is_some_and(Option::is_some)
        })
        .filter(|s| !table.entries.iter().any(|e| u64::from(e.offset) == s.value))
        .map(|s| format!("{} (.text+0x{:x})", s.name, s.value))
        .collect();
    assert!(
        missing.is_empty(),
        "{}: no entry at these function starts (rule 6): {missing:?}",
        v.name
    );
}

/// Every offset of `section` the oracle answers, via `SECTION+0xOFF`.
fn compare_section(
    cli: &Cli,
    v: &Variant,
    expect: &Expect,
    ko: &Path,
    orig: &Path,
    linked: &Path,
    section: &str,
) {
    let base = PLACED
        .iter()
        .find(|(n, _)| *n == section)
        .expect("placed")
        .1;
    let placed = elf::section(linked, section).expect("section in oracle link");
    let size = elf::section(orig, section).expect("section in .ko").size;
    assert_eq!(
        (placed.addr, placed.size),
        (base, size),
        "{section} not where module.ld puts it"
    );

    let addrs: Vec<u64> = (base..base + size).collect();
    let oracle = symbolize(linked, &addrs);
    let queries: Vec<String> = (0..size).map(|o| format!("{section}+0x{o:x}")).collect();
    let got = cli.lookup_module(ko, &queries);
    let mut report = Report::default();
    for ((l, o), _) in got.iter().zip(&oracle).zip(&addrs) {
        report.add(expect, &l.query, o.as_ref(), l.answer.as_ref());
    }
    let title = format!("{} {section}", v.name);
    report.assert_perfect(&title);
    eprintln!("{}", report.describe(&title).lines().next().unwrap_or(""));

    let unannotated: Vec<String> = elf::text_symbols(orig, section)
        .into_iter()
        .filter(|s| s.st_type == STT_FUNC && got[s.value as usize].answer.is_none())
        .map(|s| format!("{} ({section}+0x{:x})", s.name, s.value))
        .collect();
    assert!(
        unannotated.is_empty(),
        "{title}: function starts printed ??: {unannotated:?}"
    );
}

/// A bare `0xOFF` means `.text+0xOFF`.
fn check_bare_offsets(cli: &Cli, v: &Variant, ko: &Path, orig: &Path) {
    let size = elf::section(orig, ".text").expect(".text").size;
    let bare: Vec<String> = (0..size).map(|o| format!("0x{o:x}")).collect();
    let named: Vec<String> = (0..size).map(|o| format!(".text+0x{o:x}")).collect();
    let a = cli.lookup_module(ko, &bare);
    let b = cli.lookup_module(ko, &named);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            x.answer, y.answer,
            "{}: {} and {} differ",
            v.name, x.query, y.query
        );
    }
}

/// v1 covers text memory only: init sections print `??`.
fn assert_uncovered(cli: &Cli, v: &Variant, ko: &Path, orig: &Path, section: &str) {
    let size = elf::section(orig, section).expect("section").size;
    let queries: Vec<String> = (0..size).map(|o| format!("{section}+0x{o:x}")).collect();
    let annotated: Vec<String> = cli
        .lookup_module(ko, &queries)
        .into_iter()
        .filter_map(|l| l.answer.map(|a| format!("{} {a}", l.query)))
        .collect();
    assert!(
        annotated.is_empty(),
        "{}: v1 covers text memory only, yet {} {section} offsets annotated, e.g. {:?}",
        v.name,
        annotated.len(),
        &annotated[..annotated.len().min(10)]
    );
}
