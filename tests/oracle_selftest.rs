//! Trusting the harness before trusting the tool: the `llvm-dwarfdump`-based
//! oracle (tests/common/dwarfdump.rs) must agree with `llvm-symbolizer` on
//! every address of the fixtures, except where a line-0 row is in effect
//! (docs/format.md section 1 rule 1 drops those rows; the symbolizer prints line 0).
//! Nothing here runs `kbuild-lineinfo`.

use crate::common;

use common::build::{MODULE_UNITS, VMLINUX_UNITS};
use common::symbolizer::symbolize;
use common::*;
use std::path::Path;

fn variant(name: &'static str, dwarf: DwarfVersion, style: BuildStyle) -> Variant {
    Variant {
        dwarf,
        style,
        ..Variant::new(name)
    }
}

/// Compares the two oracles on `addrs` of `linked`; returns how many
/// addresses both answered, and how many lie inside some sequence.
fn cross_check(linked: &Path, addrs: &[u64]) -> (usize, usize) {
    let oracle = LineOracle::from_file(linked);
    assert!(
        oracle.row_count() > 50,
        "fixture has only {} rows",
        oracle.row_count()
    );
    let sym = symbolize(linked, addrs);
    let mut both = 0;
    let mut problems = Vec::new();
    for (&a, s) in addrs.iter().zip(&sym) {
        let d = oracle.answer(a);
        match (&d, s) {
            (Some(d), Some(s)) if d == s => both += 1,
            (Some(_), None) => {
                // Only a line-0 row in effect may make the symbolizer silent.
                let raw_zero = oracle
                    .containing(a)
                    .any(|q| q.raw_row(a).is_some_and(|r| r.line == 0));
                if !raw_zero {
                    problems.push(format!("0x{a:x}: dwarfdump {d:?}, symbolizer ??"));
                }
            }
            (None, None) => {}
            _ => problems.push(format!("0x{a:x}: dwarfdump {d:?}, symbolizer {s:?}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{}: {} disagreements, first: {:#?}",
        linked.display(),
        problems.len(),
        &problems[..problems.len().min(20)]
    );
    let covered = addrs
        .iter()
        .filter(|&&a| oracle.containing(a).next().is_some())
        .count();
    (both, covered)
}

fn vmlinux_range(linked: &Path) -> Vec<u64> {
    let text = common::elf::section(linked, ".text").expect(".text");
    let exit = common::elf::section(linked, ".exit.text").expect(".exit.text");
    (text.addr..exit.addr + exit.size).collect()
}

#[test]
fn dwarfdump_oracle_agrees_with_symbolizer_on_mini_vmlinux() {
    for v in [
        variant("dwarf4-o=", DwarfVersion::V4, BuildStyle::OutOfTree),
        variant(
            "dwarf5-prefix-map",
            DwarfVersion::V5,
            BuildStyle::PrefixMapped,
        ),
    ] {
        let ws = Workspace::new();
        let objs = ws.compile_all(&v, &VMLINUX_UNITS);
        let linked = ws.link_vmlinux(&v, &objs, &[], "vmlinux.plain");
        let addrs = vmlinux_range(&linked);
        let (both, covered) = cross_check(&linked, &addrs);
        eprintln!(
            "{}: {both} of {covered} covered addresses answered by both oracles",
            v.name
        );
        assert!(
            both * 10 >= covered * 9,
            "{}: too few answers ({both} of {covered})",
            v.name
        );
    }
}

#[test]
fn dwarfdump_oracle_agrees_with_symbolizer_on_module_link() {
    let v = variant("dwarf5-module", DwarfVersion::V5, BuildStyle::InTree);
    let ws = Workspace::new();
    let objs = ws.compile_all(&v, &MODULE_UNITS);
    let ko = ws.link_module(&v, &objs, "m.ko");
    let linked = ws.link_module_oracle(&ko, "m.linked");
    let mut addrs = Vec::new();
    for s in [".text", ".init.text", ".exit.text"] {
        let sec = common::elf::section(&linked, s).expect("section");
        addrs.extend(sec.addr..sec.addr + sec.size);
    }
    let (both, covered) = cross_check(&linked, &addrs);
    eprintln!("module: {both} of {covered} covered addresses answered by both oracles");
    assert!(
        both * 10 >= covered * 9,
        "too few answers ({both} of {covered})"
    );
}

#[test]
fn fixture_names_resolve_to_the_tree() {
    // The names the oracle reports, after mapping, are the fixture paths:
    // proves the Expect mapping for each build style.
    for (v, root) in [
        (
            variant("in-tree", DwarfVersion::V5, BuildStyle::InTree),
            None,
        ),
        (variant("o=", DwarfVersion::V4, BuildStyle::OutOfTree), None),
        (
            variant("prefix", DwarfVersion::V5, BuildStyle::PrefixMapped),
            Some(build::PREFIX_MAP_TARGET),
        ),
    ] {
        let ws = Workspace::new();
        let objs = ws.compile_all(&v, &VMLINUX_UNITS);
        let linked = ws.link_vmlinux(&v, &objs, &[], "vmlinux.plain");
        let root = root.map_or_else(|| ws.src().display().to_string(), str::to_string);
        assert_eq!(ws.tree_root(&v), root);
        let expect = Expect::new(&[root]);
        let oracle = LineOracle::from_file(&linked);
        let mut names: Vec<String> = vmlinux_range(&linked)
            .into_iter()
            .filter_map(|a| oracle.answer(a))
            .map(|a| expect.name(&a.file))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(
            names,
            [
                "drivers/foo/a.c",
                "drivers/foo/b.c",
                "include/linux/lineinfo_fixture.h",
                "kernel/c.c",
                "kernel/generated.c",
                "lib/d.c"
            ],
            "{}",
            v.name
        );
    }
}
