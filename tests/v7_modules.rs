//! Layout v7 for modules end to end (FORMAT.md §4.3): a module-like `.ko` built with the
//! system compiler (functions in `.text`, `.init.text`, `.exit.text`, `.noinstr.text` and one
//! uncovered section), embedded with `kbuild-lineinfo module --layout v7`, then checked against
//! an independent oracle: `ld` links a copy of the ORIGINAL module at fixed section addresses
//! and `llvm-symbolizer --no-inlines` answers every covered address. A second link of the
//! embedded module checks the anchors' relocations and the kernel's validation.

mod common;
mod v7_oracle;

use std::path::{Path, PathBuf};
use std::process::Command;

use v7_oracle::{Sample, COVERED};

const A_C: &str = r#"
int helper(int x);
struct s { int a, b; };
static inline int twice(struct s *p) { return p->a * 2 + p->b; }
int foo(int x)
{
	struct s v = { x, helper(x) };
	return twice(&v) + 1;
}
__attribute__((section(".init.text"))) int init_a(int y)
{
	int s = 0;
	for (int i = 0; i < y; i++)
		s += helper(i) * i;
	return s;
}
__attribute__((section(".exit.text"))) void exit_a(int *p)
{
	*p = helper(*p) + 2;
}
__attribute__((section(".sched.text"))) int sched_a(int x)
{
	return helper(x) - 3;
}
"#;

const B_C: &str = r#"
static inline int sq(int x) { return x * x; }
int helper(int x)
{
	if (x > 3)
		return sq(x) + sq(x - 1);
	return 7;
}
int bar(int x) { return helper(x) + helper(x + 1); }
__attribute__((section(".noinstr.text"))) int noinstr_b(int z)
{
	return helper(z) ^ 0x55;
}
__attribute__((section(".init.text"))) int init_b(void) { return bar(3) + 1; }
"#;

const C_C: &str = r#"
#include "c.h"
int baz(int *v, int n)
{
	int t = 0;
	for (int i = 0; i < n; i++)
		t += clamp(v[i]);
	return t;
}
__attribute__((section(".exit.text"))) void exit_c(int *v) { v[0] = baz(v, 4); }
__attribute__((section(".noinstr.text"))) int noinstr_c(int q) { return clamp(q) * 5; }
"#;

const C_H: &str = r#"
static inline int clamp(int x)
{
	if (x < 0)
		return 0;
	return x > 100 ? 100 : x;
}
"#;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Builds `m.ko` in `dir` from the three sources (`-m32` for i386); `None` when the compiler
/// cannot target it.
fn build_module(dir: &Path, m32: bool) -> Option<PathBuf> {
    for (name, text) in [("a.c", A_C), ("b.c", B_C), ("c.c", C_C), ("c.h", C_H)] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut objects = Vec::new();
    for name in ["a.c", "b.c", "c.c"] {
        let object = dir.join(name).with_extension("o");
        let mut cc = Command::new("cc");
        cc.current_dir(dir).args(["-c", "-g", "-O2", "-fno-pic"]);
        if m32 {
            cc.arg("-m32");
        }
        let status = cc.arg(name).arg("-o").arg(&object).status().unwrap();
        if !status.success() {
            assert!(m32, "cc failed on {name}");
            return None;
        }
        objects.push(object);
    }
    let ko = dir.join("m.ko");
    let mut ld = Command::new("ld");
    if m32 {
        ld.args(["-m", "elf_i386"]);
    }
    run(ld.arg("-r").args(&objects).arg("-o").arg(&ko));
    Some(ko)
}

fn embed(ko: &Path) {
    run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args(["module", "--layout", "v7"])
        .arg(ko));
}

/// Builds, embeds, and checks every byte of every covered section against the oracle.
fn check(m32: bool) {
    let dir = tempfile::tempdir().unwrap();
    let Some(original) = build_module(dir.path(), m32) else {
        common::tools::unavailable(
            "the i386 module",
            "`cc -m32` does not work here (gcc-multilib)",
        );
        return;
    };
    let embedded = dir.path().join("embedded.ko");
    std::fs::copy(&original, &embedded).unwrap();
    embed(&embedded);
    let first = std::fs::read(&embedded).unwrap();
    embed(&embedded);
    assert_eq!(
        std::fs::read(&embedded).unwrap(),
        first,
        "second run changed the module"
    );

    let sections = v7_oracle::covered_sections(&std::fs::read(&original).unwrap());
    let names: Vec<_> = sections.iter().map(|s| s.name).collect();
    assert_eq!(names, COVERED, "the test module covers every section");
    let samples: Vec<Sample> = sections
        .iter()
        .enumerate()
        .flat_map(|(i, s)| (0..s.size).map(move |offset| Sample { section: i, offset }))
        .collect();
    let bases = [0x100000, 0x200000, 0x300000, 0x400000];
    let (tally, kernel) = v7_oracle::compare(
        &original,
        &embedded,
        &sections,
        &samples,
        &bases,
        m32,
        dir.path(),
    );
    eprintln!(
        "{}: {} addresses, {} compared ({:?}), {} agree, {} descriptors",
        if m32 { "i386" } else { "x86-64" },
        tally.samples,
        tally.compared,
        tally.per_section,
        tally.agreed,
        kernel.descriptors
    );
    for line in &tally.shown {
        eprintln!("{line}");
    }
    assert_eq!(kernel.descriptors, 4);
    assert_eq!(
        kernel.blobs.len(),
        2,
        ".mod_lineinfo and .init.mod_lineinfo"
    );
    for name in COVERED {
        assert!(
            tally.per_section.get(name).copied().unwrap_or(0) > 4,
            "{name} barely compared"
        );
    }
    assert_eq!(
        tally.agreed, tally.compared,
        "every address agrees with llvm-symbolizer"
    );
    assert_eq!(tally.unannotated_starts, 0);
    assert_eq!(
        tally.kernel_mismatch, 0,
        "lookup --module differs from the ld-relocated blob"
    );

    // The relocation sections are of the target's kind, and name the blobs.
    let file = std::fs::read(&embedded).unwrap();
    let elf = object::File::parse(&*file).unwrap();
    use object::{Object, ObjectSection};
    let prefix = if m32 { ".rel" } else { ".rela" };
    for blob in [".mod_lineinfo", ".init.mod_lineinfo"] {
        let name = format!("{prefix}{blob}");
        assert!(elf.section_by_name(&name).is_some(), "no {name}");
        let s = elf.section_by_name(blob).unwrap();
        assert_eq!(s.align(), 8);
        assert!(matches!(s.flags(), object::SectionFlags::Elf { sh_flags, .. } if sh_flags.0 == 2));
    }
}

#[test]
fn x86_64_module_agrees_with_llvm_symbolizer() {
    check(false);
}

#[test]
fn i386_module_agrees_with_llvm_symbolizer() {
    check(true);
}

/// A module whose only code is outside the covered sections gets no blob; the entries there
/// are counted in the batch summary.
#[test]
fn uncovered_sections_are_counted_and_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), false).unwrap();
    let order = dir.path().join("modules.order");
    std::fs::write(&order, "m.ko\n").unwrap();
    let out = run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args(["modules", "--layout", "v7", "--no-cache", "-v", "--objtree"])
        .arg(dir.path())
        .arg("--order")
        .arg(&order));
    let summary = out
        .lines()
        .find(|l| l.contains("uncovered"))
        .unwrap_or_else(|| panic!("{out}"));
    // `.sched.text` holds one function of a few instructions: at least one entry.
    let words: Vec<&str> = summary.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "uncovered").unwrap();
    let count: u64 = words[at - 4]
        .parse()
        .unwrap_or_else(|_| panic!("{summary}"));
    assert!(count >= 1, "{summary}");

    // Only `.sched.text`: no blob at all.
    let lone = dir.path().join("lone.c");
    std::fs::write(
        &lone,
        "__attribute__((section(\".sched.text\"))) int f(int x) { return x + 1; }\n",
    )
    .unwrap();
    let lone_ko = dir.path().join("lone.ko");
    run(Command::new("cc")
        .args(["-c", "-g", "-O2"])
        .arg(&lone)
        .arg("-o")
        .arg(&lone_ko));
    let before = std::fs::read(&lone_ko).unwrap();
    embed(&lone_ko);
    assert_eq!(
        std::fs::read(&lone_ko).unwrap(),
        before,
        "no covered entries: module untouched"
    );
    let _ = ko;
}
