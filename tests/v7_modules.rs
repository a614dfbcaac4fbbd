//! Layout v7 for modules end to end (docs/format.md §4.3): a module-like `.ko` built with the
//! system compiler (functions in `.text`, `.init.text`, `.exit.text`, `.noinstr.text`,
//! `.sched.text`, a `__cold` function and gcc's `.cold` clone of an `unlikely()` branch in
//! `.text.unlikely`, and `.altinstr_replacement`, which no blob covers), embedded with
//! `kbuild-lineinfo module --layout v7`, then checked against
//! an independent oracle: `ld` links a copy of the ORIGINAL module at fixed section addresses
//! and `llvm-symbolizer --no-inlines` answers every covered address. A second link of the
//! embedded module checks the anchors' relocations and the kernel's validation.

use crate::common;
use crate::v7_oracle;

use std::path::{Path, PathBuf};
use std::process::Command;

use v7_oracle::Sample;

/// The code sections of the test module, in the order `ld -r` leaves them; all but
/// `.altinstr_replacement` are covered.
const CODE: [&str; 7] = [
    ".text",
    ".init.text",
    ".exit.text",
    ".sched.text",
    ".text.unlikely",
    ".altinstr_replacement",
    ".noinstr.text",
];

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
extern void __attribute__((cold)) warn_slowpath(const char *what, int i);
/* gcc moves the unlikely branch (it calls a cold function) to `checked.cold` in .text.unlikely */
int checked(int *p, int n)
{
	int s = 0;
	for (int i = 0; i < n; i++) {
		if (__builtin_expect(p[i] < 0, 0)) {
			warn_slowpath("negative", i);
			s -= helper(p[i]) * 7;
			continue;
		}
		s += p[i] * 3;
	}
	return s;
}
__attribute__((section(".altinstr_replacement"))) int alt_a(int x) { return x + 5; }
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
void report(int v);
__attribute__((cold, noinline)) void warn_slowpath(const char *what, int i)
{
	report(what[0]);
	report(i);
}
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

/// How the test module is built: compiler, extra flags, the `ld -r` linker.
#[derive(Debug, Clone, Copy)]
struct Build {
    cc: &'static str,
    flags: &'static [&'static str],
    ld: &'static str,
}

/// The system `cc` with its default DWARF, GNU ld.
const SYSTEM: Build = Build {
    cc: "cc",
    flags: &[],
    ld: "ld",
};

/// Builds `m.ko` in `dir` from the three sources (`-m32` for i386); `None` when the compiler
/// cannot target it.
fn build_module(dir: &Path, m32: bool) -> Option<PathBuf> {
    build_module_with(dir, m32, SYSTEM)
}

fn build_module_with(dir: &Path, m32: bool, how: Build) -> Option<PathBuf> {
    for (name, text) in [("a.c", A_C), ("b.c", B_C), ("c.c", C_C), ("c.h", C_H)] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let mut objects = Vec::new();
    for name in ["a.c", "b.c", "c.c"] {
        let object = dir.join(name).with_extension("o");
        let mut cc = Command::new(how.cc);
        cc.current_dir(dir)
            .args(["-c", "-g", "-O2", "-fno-pic"])
            .args(how.flags);
        if m32 {
            cc.arg("-m32");
        }
        let status = cc
            .arg(name)
            .arg("-o")
            .arg(&object)
            .status()
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/deps.sh installs it)", how.cc));
        if !status.success() {
            assert!(m32, "{} failed on {name}", how.cc);
            return None;
        }
        objects.push(object);
    }
    let ko = dir.join("m.ko");
    let mut ld = Command::new(how.ld);
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

/// The offset of gcc's `checked.cold` in `.text.unlikely`; `None` when the compiler made no
/// such clone (clang never splits functions that way).
fn cold_clone(ko: &[u8]) -> Option<u64> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(ko).unwrap();
    let symbol = file.symbols().find(|s| s.name() == Ok("checked.cold"))?;
    let section = file
        .section_by_index(symbol.section_index().unwrap())
        .unwrap();
    assert_eq!(section.name(), Ok(".text.unlikely"));
    Some(symbol.address())
}

/// Builds, embeds, and checks every byte of every covered section against the oracle.
fn check(m32: bool) {
    check_with(m32, SYSTEM);
}

fn check_with(m32: bool, how: Build) {
    let dir = tempfile::tempdir().unwrap();
    let Some(original) = build_module_with(dir.path(), m32, how) else {
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

    let bytes = std::fs::read(&original).unwrap();
    let sections = v7_oracle::covered_sections(&bytes);
    let mut names: Vec<_> = sections.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    let mut want = CODE.to_vec();
    want.sort_unstable();
    // gcc makes every kind of code section; clang has no `.cold` clones, so its set may be
    // smaller, and every section it does make is checked all the same.
    let gcc = !how.cc.contains("clang");
    if gcc {
        assert_eq!(
            names, want,
            "the test module has every kind of code section"
        );
    }
    let cold = cold_clone(&bytes);
    assert!(!gcc || cold.is_some(), "gcc made no checked.cold clone");
    let samples = v7_oracle::every_covered_byte(&sections);
    let (tally, kernel) =
        v7_oracle::compare(&original, &embedded, &sections, &samples, m32, dir.path());
    eprintln!(
        "{} {how:?}: {} addresses, {} compared ({:?}), {} agree, {} descriptors",
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
    assert_eq!(
        kernel.descriptors,
        sections.iter().filter(|s| s.covered).count()
    );
    assert_eq!(
        kernel.blobs.len(),
        2,
        ".mod_lineinfo and .init.mod_lineinfo"
    );
    for s in sections.iter().filter(|s| s.covered) {
        assert!(
            tally.per_section.get(&s.name).copied().unwrap_or(0) > 4,
            "{} barely compared",
            s.name
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
    assert_eq!(
        tally.decoded_agreed, tally.compared,
        "the harness's decoding of the linked blobs agrees with llvm-symbolizer"
    );

    // The `.cold` clone's first byte: the line llvm-symbolizer gives, through the init-free
    // persistent blob.
    if let Some(cold) = cold {
        let unlikely = sections
            .iter()
            .find(|s| s.name == ".text.unlikely")
            .unwrap();
        let want =
            v7_oracle::symbolize(&dir.path().join("original.linked"), &[unlikely.base + cold]);
        let got = v7_oracle::lookup(&embedded, &[format!(".text.unlikely+{cold:#x}")]);
        let (Some((want_file, want_line)), Some((file, line))) = (&want[0], &got[0]) else {
            panic!("checked.cold: llvm-symbolizer {want:?}, ours {got:?}");
        };
        assert!(
            common::realdata::same_file(want_file, file) && want_line == line,
            "checked.cold: llvm-symbolizer {want_file}:{want_line}, ours {file}:{line}"
        );
    }

    // `.altinstr_replacement` is never covered.
    let alt = sections
        .iter()
        .find(|s| s.name == ".altinstr_replacement")
        .expect("the module has .altinstr_replacement");
    let queries: Vec<String> = (0..alt.size)
        .map(|o| format!(".altinstr_replacement+{o:#x}"))
        .collect();
    assert!(v7_oracle::lookup(&embedded, &queries)
        .iter()
        .all(Option::is_none));

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

/// The judge can fail: one changed byte in the linked `.mod_lineinfo` is caught, either by the
/// harness's decoder (a header off its boundary) or by llvm-symbolizer (a changed line).
#[test]
fn a_changed_blob_byte_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let original = build_module_with(dir.path(), false, SYSTEM).unwrap();
    let embedded = dir.path().join("embedded.ko");
    std::fs::copy(&original, &embedded).unwrap();
    embed(&embedded);
    let sections = v7_oracle::covered_sections(&std::fs::read(&original).unwrap());
    let text = sections.iter().position(|s| s.name == ".text").unwrap();
    let samples: Vec<Sample> = (0..sections[text].size)
        .map(|offset| Sample {
            section: text,
            offset,
        })
        .collect();
    let (tally, kernel) =
        v7_oracle::compare(&original, &embedded, &sections, &samples, false, dir.path());
    assert!(tally.compared > 100, "{tally:?}");
    assert_eq!(tally.decoded_agreed, tally.compared, "the unchanged blob");
    let addresses: Vec<u64> = samples
        .iter()
        .map(|s| sections[text].base + s.offset)
        .collect();
    let oracle = v7_oracle::symbolize(&dir.path().join("original.linked"), &addresses);

    // `.mod_lineinfo`, descriptor 0 (`.text` comes first): its header and stream.
    let blob = &kernel.blobs[0];
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let header = u32_at(blob, 8 + 12) as usize;
    let data = header + u32_at(blob, header + 4 * 5) as usize;
    let changed = |at: usize, byte: fn(u8) -> u8| {
        let mut blobs = kernel.blobs.clone();
        blobs[0][at] = byte(blobs[0][at]);
        v7_oracle::LinkedBlobs::decode(blobs, false)
    };

    // table_offset + 2: no header starts there.
    let err = changed(8 + 12, |b| b + 2)
        .err()
        .expect("a misplaced header decodes");
    assert!(err.contains("4-byte boundary"), "{err}");

    // The first entry's line (the stream's second ULEB128 after a one-byte file id): every
    // line of the first block moves, and llvm-symbolizer disagrees.
    assert!(blob[data] < 0x80, "file id of one byte");
    let moved = changed(data + 1, |b| if b & 0x7f == 0x7f { b - 1 } else { b + 1 })
        .expect("a changed line still decodes");
    let (compared, agreed) = moved.agreement(&sections, &samples, &addresses, &oracle);
    assert_eq!(compared, tally.compared);
    assert!(
        agreed < compared,
        "a changed line went unnoticed: {agreed} of {compared} agree"
    );
    eprintln!("changed line: {agreed} of {compared} addresses agree with llvm-symbolizer");
}

/// The toolchain cells beyond gcc and GNU ld, one `#[test]` each: `-m32`, compiler, its flags,
/// linker (`ld -r`).
macro_rules! toolchain_tests {
    ($($name:ident: $m32:literal, $cc:literal, $flags:expr, $ld:literal;)*) => {$(
        #[test]
        #[cfg_attr(no_clang, ignore = "needs clang and ld.lld: scripts/deps.sh installs them")]
        fn $name() {
            check_with($m32, Build { cc: $cc, flags: $flags, ld: $ld });
        }
    )*};
}

toolchain_tests! {
    clang_dwarf5_lld_module_agrees_with_llvm_symbolizer:
        false, "clang", &["-gdwarf-5"], "ld.lld";
    clang_dwarf5_split_module_agrees_with_llvm_symbolizer:
        false, "clang", &["-gdwarf-5", "-gsplit-dwarf"], "ld";
    clang_dwarf4_lld_module_agrees_with_llvm_symbolizer:
        false, "clang", &["-gdwarf-4"], "ld.lld";
    clang_dwarf5_i386_module_agrees_with_llvm_symbolizer:
        true, "clang", &["-gdwarf-5"], "ld.lld";
    gcc_dwarf5_split_lld_module_agrees_with_llvm_symbolizer:
        false, "gcc", &["-gdwarf-5", "-gsplit-dwarf"], "ld.lld";
}

/// A module whose only code is outside the covered sections gets no blob; the entries there
/// are counted in the batch summary.
/// Entries in `.altinstr_replacement` are counted as uncovered in the batch summary; a module
/// whose only code is there gets no blob.
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
    // `.altinstr_replacement` holds one function of a few instructions: at least one entry.
    let words: Vec<&str> = summary.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "uncovered").unwrap();
    let count: u64 = words[at - 4]
        .parse()
        .unwrap_or_else(|_| panic!("{summary}"));
    assert!(count >= 1, "{summary}");
    // Seven code sections with lines, six covered.
    assert!(
        summary.contains("code sections with lines: 7 (") && summary.contains("covered: 6 ("),
        "{summary}"
    );

    // Only `.altinstr_replacement`: no blob at all.
    let lone = dir.path().join("lone.c");
    std::fs::write(
        &lone,
        "__attribute__((section(\".altinstr_replacement\"))) int f(int x) { return x + 1; }\n",
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

/// With `CONFIG_MODULE_UNLOAD` off in the tree's config, the loader puts `.exit*` in init memory:
/// `.exit.text` is then described by `.init.mod_lineinfo` (docs/format.md §4.3); with it on, by
/// `.mod_lineinfo`.
#[test]
fn exit_text_follows_module_unload() {
    use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};
    for (config, want) in [
        ("# CONFIG_MODULE_UNLOAD is not set\n", ".init.mod_lineinfo"),
        ("CONFIG_MODULE_UNLOAD=y\n", ".mod_lineinfo"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        build_module(dir.path(), false).unwrap();
        std::fs::write(dir.path().join(".config"), config).unwrap();
        let order = dir.path().join("modules.order");
        std::fs::write(&order, "m.ko\n").unwrap();
        run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
            .args(["modules", "--layout", "v7", "--no-cache", "--objtree"])
            .arg(dir.path())
            .arg("--order")
            .arg(&order));
        let data = std::fs::read(dir.path().join("m.ko")).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let described = |blob: &str| -> Vec<String> {
            let section = file.section_by_name(blob).unwrap();
            section
                .relocations()
                .map(|(_, r)| {
                    let RelocationTarget::Symbol(i) = r.target() else {
                        panic!("{blob}: anchor without a symbol")
                    };
                    let symbol = file.symbol_by_index(i).unwrap();
                    let target = file
                        .section_by_index(symbol.section_index().unwrap())
                        .unwrap();
                    target.name().unwrap().to_string()
                })
                .collect()
        };
        let (persistent, init) = (described(".mod_lineinfo"), described(".init.mod_lineinfo"));
        assert_eq!(persistent[0], ".text", "{config}: .text first");
        let holder = if init.iter().any(|n| n == ".exit.text") {
            ".init.mod_lineinfo"
        } else {
            assert!(
                persistent.iter().any(|n| n == ".exit.text"),
                "{config}: {persistent:?}"
            );
            ".mod_lineinfo"
        };
        assert_eq!(
            holder, want,
            "{config}: persistent {persistent:?}, init {init:?}"
        );
        assert!(init.iter().any(|n| n == ".init.text"));
        assert!(persistent.iter().any(|n| n == ".text.unlikely"));
    }
}
