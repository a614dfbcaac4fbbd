//! clang's DWARF 5 in relocatable objects (issue 10): every unit's low_pc is a `DW_FORM_addrx`
//! index into `.debug_addr`, names are `DW_FORM_strx` indices into `.debug_str_offsets`, ranges
//! and locations are `rnglistx`/`loclistx`, and in an `ET_REL` file each of those sections has
//! its own relocation section. Reading the first such unit used to fail with "unexpected end of
//! input" and stop the kernel build.
//!
//! The inputs are committed objects (`tests/data/clang-dwarf5/build.sh` rebuilds them with
//! clang 14 and ld.lld 14): two units merged with `ld.lld -r` like a module, with and without
//! `-gsplit-dwarf`. The oracle is `llvm-symbolizer --no-inlines` on the same object.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kbuild_lineinfo::extract::{self, Options};
use kbuild_lineinfo::LineTable;
use object::{Object, ObjectSection};

/// Where `-fdebug-prefix-map` put the sources.
const TREE: &str = "/usr/src/clang-fixture";

fn fixture(name: &str) -> (PathBuf, Vec<u8>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/clang-dwarf5")
        .join(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, data)
}

/// `file:line` at each of `offsets` of the object's only code section, by llvm-symbolizer
/// (`None` where it knows no line).
fn symbolize(path: &Path, offsets: std::ops::Range<u64>) -> Vec<Option<(String, u32)>> {
    let mut child = Command::new("llvm-symbolizer")
        .args(["--no-inlines", "--functions=none"])
        .arg(format!("--obj={}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("llvm-symbolizer (apt-get install llvm; scripts/deps.sh installs it)");
    let input: String = offsets.clone().map(|o| format!("0x{o:x}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let answers: Vec<_> = text
        .split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            let mut it = r.trim().rsplitn(3, ':');
            let (_col, line, file) = (it.next()?, it.next()?, it.next()?);
            let line: u32 = line.parse().ok()?;
            (line != 0 && file != "??").then(|| (normalize(file), line))
        })
        .collect();
    assert_eq!(answers.len(), offsets.count());
    answers
}

/// `a/./b/../c` → `a/c`, as the kernel's names are written.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "." => {}
            ".." if parts.last().is_some_and(|l| !l.is_empty() && *l != "..") => {
                parts.pop();
            }
            _ => parts.push(p),
        }
    }
    parts.join("/")
}

/// The answer of `table` at `offset` (the last entry at or below it), with the name under
/// [`TREE`] as the symbolizer prints it.
fn answer(table: &LineTable, offset: u32) -> Option<(String, u32)> {
    let i = table.entries.partition_point(|e| e.offset <= offset);
    let e = table.entries.get(i.checked_sub(1)?)?;
    let name = String::from_utf8(table.files[e.file as usize].clone()).unwrap();
    Some((format!("{TREE}/{name}"), e.line))
}

/// The `.text` table of `data`, read through the library (no CLI).
fn text_table(data: &[u8]) -> LineTable {
    let module = extract::module(data, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("the object has line information");
    assert_eq!(module.sections.len(), 1, "only .text has code");
    module.section(".text").expect(".text").table.clone()
}

fn check_against_symbolizer(name: &str) {
    let (path, data) = fixture(name);
    let file = object::File::parse(&*data).unwrap();
    for needed in [".debug_addr", ".debug_str_offsets", ".debug_line_str"] {
        assert!(
            file.section_by_name(needed).is_some_and(|s| s.size() > 0),
            "{name}: the fixture lost its {needed}"
        );
    }
    let size = file.section_by_name(".text").unwrap().size();
    let table = text_table(&data);
    let oracle = symbolize(&path, 0..size);
    let mut compared = 0;
    for (offset, want) in oracle.iter().enumerate() {
        let Some(want) = want else { continue };
        compared += 1;
        let got = answer(&table, offset as u32);
        assert_eq!(
            got.as_ref(),
            Some(want),
            "{name}: .text+{offset:#x}: ours vs llvm-symbolizer"
        );
    }
    assert!(
        compared > 500,
        "{name}: only {compared} of {size} offsets compared"
    );
    let mut files: Vec<_> = table.files.iter().map(|f| f.as_slice()).collect();
    files.sort();
    assert_eq!(files, [&b"a.c"[..], b"b.c", b"h.h"], "{name}");
}

#[test]
fn clang_dwarf5_module_agrees_with_llvm_symbolizer() {
    check_against_symbolizer("m.ko");
}

#[test]
fn clang_dwarf5_split_skeletons_agree_with_llvm_symbolizer() {
    check_against_symbolizer("m-gsplit-dwarf.ko");
}

/// What a unit says about addresses, ranges and locations is never read: garbage in those
/// sections (and in their relocations) leaves the table as it is.
#[test]
fn sections_the_table_does_not_need_never_matter() {
    for name in ["m.ko", "m-gsplit-dwarf.ko"] {
        let (_, data) = fixture(name);
        let want = text_table(&data);
        let mut spoiled = data.clone();
        let file = object::File::parse(&*data).unwrap();
        let mut hit = Vec::new();
        for s in file.sections() {
            let sname = s.name().unwrap();
            let base = sname.trim_start_matches(".rela");
            if ![".debug_addr", ".debug_rnglists", ".debug_loclists"].contains(&base) {
                continue;
            }
            let (offset, size) = s.file_range().unwrap();
            spoiled[offset as usize..(offset + size) as usize].fill(0xff);
            hit.push(sname.to_string());
        }
        assert!(
            hit.iter().any(|s| s == ".debug_addr") && hit.iter().any(|s| s == ".rela.debug_addr"),
            "{name}: {hit:?}"
        );
        assert_eq!(text_table(&spoiled), want, "{name}: {hit:?} spoiled");
    }
}
