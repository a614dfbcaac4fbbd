//! Tables from rustc's DWARF (Rust-for-Linux code): `tests/fixtures/rust/lineinfo_rust.rs`, a
//! `no_std` crate with generics, inlined `core` iterators and slices, and panics, compiled with
//! the machine's `rustc` as the kernel compiles its crates (`--emit=obj`, `-C panic=abort`, `-O`).
//!
//! * Linked like a module (`ld -r`): with rustc's per-function sections, layout v7 (every code
//!   section, every byte), and with one merged `.text` as the kernel's `-Zfunction-sections=n`
//!   leaves it, layout v1.
//! * Linked like a mini vmlinux with the toolchain's precompiled `core` and `compiler_builtins`
//!   (whose own units have the compilation directory `/rustc/<hash>`), both layouts.
//!
//! Every covered address must agree with `llvm-symbolizer --no-inlines` (its path folded, as it
//! prints compiler_builtins' `src/math/../../../libm` unfolded), and `core`'s names must print
//! as `library/core/src/…`, never `/rustc/<hash>/…` (docs/format.md §2).

use crate::common;
use crate::v7_oracle;

use common::answer::normalize;
use common::cli::Cli;
use common::realdata::same_file;
use common::symbolizer::symbolize;
use common::tools::run;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixture's files, under `tests/fixtures/rust/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rust")
        .join(name)
}

/// `rustc` as cargo found it (`$RUSTC`), else from `PATH`.
fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// The fixture crate as an object, in `dir`.
fn compile_rust(dir: &Path) -> PathBuf {
    let out = dir.join("lineinfo_rust.o");
    run(rustc()
        .args(["--edition", "2021", "--crate-type=lib", "--emit=obj"])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "opt-level=2",
            "-C",
            "debuginfo=2",
        ])
        .arg("-o")
        .arg(&out)
        .arg(fixture("lineinfo_rust.rs")));
    out
}

/// The toolchain's precompiled `core` and `compiler_builtins` (rlibs are `ar` archives).
fn sysroot_rlibs() -> Vec<PathBuf> {
    let out = run(rustc().args(["--print", "target-libdir"]));
    let libdir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let mut rlibs: Vec<PathBuf> = std::fs::read_dir(&libdir)
        .unwrap_or_else(|e| panic!("{}: {e}", libdir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".rlib")
                && (name.starts_with("libcore-") || name.starts_with("libcompiler_builtins-"))
        })
        .collect();
    // core first: an archive only resolves what the files before it need.
    rlibs.sort_by_key(|p| {
        !p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("libcore-")
    });
    assert_eq!(
        rlibs.len(),
        2,
        "core and compiler_builtins in {}",
        libdir.display()
    );
    rlibs
}

/// Whether `ours` is the oracle's answer: same line, same file once the oracle's path is
/// folded.
fn agrees(oracle: &common::answer::Answer, ours: &common::answer::Answer) -> bool {
    oracle.line == ours.line && same_file(&normalize(&oracle.file), &ours.file)
}

/// What a comparison of our answers with the oracle's found.
#[derive(Debug, Default)]
struct Count {
    compared: usize,
    agreed: usize,
    unannotated: usize,
    /// Our answers that name `core`'s sources, and those that kept rustc's `/rustc/…` root.
    core_names: usize,
    rustc_root: usize,
    shown: Vec<String>,
}

impl Count {
    fn add(
        &mut self,
        what: String,
        oracle: Option<common::answer::Answer>,
        ours: Option<common::answer::Answer>,
    ) {
        let Some(oracle) = oracle else {
            return;
        };
        self.compared += 1;
        let Some(ours) = ours else {
            self.unannotated += 1;
            return;
        };
        self.core_names += usize::from(ours.file.starts_with("library/core/src/"));
        self.rustc_root += usize::from(ours.file.starts_with("/rustc/"));
        if agrees(&oracle, &ours) {
            self.agreed += 1;
        } else if self.shown.len() < 10 {
            self.shown
                .push(format!("{what}: llvm-symbolizer {oracle}, ours {ours}"));
        }
    }

    fn assert_all_agree(&self, what: &str, min: usize) {
        eprintln!("{what}: {self:?}");
        assert!(
            self.compared >= min,
            "{what}: only {} addresses compared",
            self.compared
        );
        assert_eq!(
            self.agreed, self.compared,
            "{what}: every address agrees: {:#?}",
            self.shown
        );
        assert_eq!(self.unannotated, 0, "{what}: none unannotated");
        assert!(
            self.core_names > 0,
            "{what}: no answer names core's inlined code"
        );
        assert_eq!(
            self.rustc_root, 0,
            "{what}: core's names print from library/"
        );
    }
}

#[test]
fn rust_module_v7_every_section_agrees_with_llvm_symbolizer() {
    let dir = tempfile::tempdir().unwrap();
    let obj = compile_rust(dir.path());
    let original = dir.path().join("rust.ko");
    run(Command::new("ld")
        .args(["-r", "-o"])
        .arg(&original)
        .arg(&obj));
    let embedded = dir.path().join("embedded.ko");
    std::fs::copy(&original, &embedded).unwrap();
    Cli::new(dir.path()).module(Some("v7"), None, &[&embedded]);

    let sections = v7_oracle::covered_sections(&std::fs::read(&original).unwrap());
    assert!(
        sections.iter().filter(|s| s.covered).count() >= 6,
        "rustc's per-function sections are all covered: {sections:?}"
    );
    let samples = v7_oracle::every_covered_byte(&sections);
    let (tally, _kernel) =
        v7_oracle::compare(&original, &embedded, &sections, &samples, false, dir.path());
    eprintln!("rust module v7: {tally:?}");
    assert!(
        tally.compared > 200,
        "only {} addresses compared",
        tally.compared
    );
    assert_eq!(
        tally.agreed, tally.compared,
        "every address agrees: {:#?}",
        tally.shown
    );
    assert_eq!(tally.unannotated_starts, 0);
    assert_eq!(
        tally.kernel_mismatch, 0,
        "lookup --module differs from the linked blob"
    );

    // The same addresses through our lookup, for the names.
    let queries: Vec<String> = samples
        .iter()
        .map(|s| format!("{}+{:#x}", sections[s.section].name, s.offset))
        .collect();
    let addresses: Vec<u64> = samples
        .iter()
        .map(|s| sections[s.section].base + s.offset)
        .collect();
    let oracle = v7_oracle::symbolize(&dir.path().join("original.linked"), &addresses);
    let ours = Cli::new(dir.path()).lookup_module(&embedded, &queries);
    let mut count = Count::default();
    for ((q, want), got) in queries.iter().zip(oracle).zip(ours) {
        let want = want.map(|(file, line)| common::answer::Answer { file, line });
        count.add(q.clone(), want, got.answer);
    }
    count.assert_all_agree("rust module v7", 200);
}

#[test]
fn rust_module_v1_merged_text_agrees_with_llvm_symbolizer() {
    let dir = tempfile::tempdir().unwrap();
    let obj = compile_rust(dir.path());
    let original = dir.path().join("rust.ko");
    run(Command::new("ld")
        .args(["-r", "-T"])
        .arg(fixture("merge-text.ld"))
        .arg("-o")
        .arg(&original)
        .arg(&obj));
    let embedded = dir.path().join("embedded.ko");
    std::fs::copy(&original, &embedded).unwrap();
    Cli::new(dir.path()).module(Some("v1"), None, &[&embedded]);

    // The oracle: the original linked with .text at 0x100000 (tests/fixtures/module.ld).
    let linked = dir.path().join("rust.linked");
    run(Command::new("ld")
        .args(["-T"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/module.ld"))
        .arg("-o")
        .arg(&linked)
        .arg(&original)
        .args(["--unresolved-symbols=ignore-all", "-z", "noexecstack"]));
    let text = common::elf::section(&original, ".text").expect("one .text");
    let offsets: Vec<u64> = (0..text.size).collect();
    let addresses: Vec<u64> = offsets.iter().map(|o| 0x100000 + o).collect();
    let queries: Vec<String> = offsets.iter().map(|o| format!(".text+{o:#x}")).collect();
    let oracle = symbolize(&linked, &addresses);
    let ours = Cli::new(dir.path()).lookup_module(&embedded, &queries);
    let mut count = Count::default();
    for ((q, want), got) in queries.iter().zip(oracle).zip(ours) {
        count.add(q.clone(), want, got.answer);
    }
    count.assert_all_agree("rust module v1", 200);
}

/// Links the fixture, the kernel's mem* stand-ins and `core` like a vmlinux (stub first, then
/// the tables made from link 1; `None`: no tables at all, as a distribution's debug vmlinux) and
/// compares every address of `[_text, _etext)`.
fn check_vmlinux(layout: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(dir.path());
    let rust = compile_rust(dir.path());
    let mem = dir.path().join("kernel_mem.o");
    run(Command::new("cc")
        .args(["-O2", "-g", "-ffreestanding", "-fno-builtin", "-c", "-o"])
        .arg(&mem)
        .arg(fixture("kernel_mem.c")));
    let rlibs = sysroot_rlibs();
    let link = |extra: Option<&Path>, out: &Path| {
        run(Command::new("ld")
            .args(["-z", "noexecstack", "-T"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mini-vmlinux.ld"))
            .arg("-o")
            .arg(out)
            .arg(&rust)
            .arg(&mem)
            .args(extra)
            .args(&rlibs));
    };
    let vmlinux = dir.path().join("vmlinux");
    if let Some(layout) = layout {
        let stub = dir.path().join("stub.o");
        cli.stub(Some(layout), &stub);
        let link1 = dir.path().join("vmlinux.1");
        link(Some(&stub), &link1);
        let tables = dir.path().join("tables.o");
        cli.vmlinux(Some(layout), None, &link1, &tables);
        link(Some(&tables), &vmlinux);
    } else {
        link(None, &vmlinux);
    }

    let text = common::elf::symbol_value(&vmlinux, "_text").unwrap();
    let etext = common::elf::symbol_value(&vmlinux, "_etext").unwrap();
    let addresses: Vec<u64> = (text..etext).collect();
    let oracle = symbolize(&vmlinux, &addresses);
    let ours = cli.lookup_vmlinux(&vmlinux, &addresses);
    let mut count = Count::default();
    for ((a, want), got) in addresses.iter().zip(oracle).zip(ours) {
        count.add(format!("{a:#x}"), want, got.answer);
    }
    let what = format!("rust vmlinux {}", layout.unwrap_or("without tables"));
    count.assert_all_agree(&what, 10_000);
}

#[test]
fn rust_vmlinux_v1_agrees_with_llvm_symbolizer() {
    check_vmlinux(Some("v1"));
}

#[test]
fn rust_vmlinux_v7_agrees_with_llvm_symbolizer() {
    check_vmlinux(Some("v7"));
}

/// A vmlinux with DWARF and no tables (a distribution's debug vmlinux): `lookup` builds them in
/// memory from its DWARF, as `vmlinux -o` would, and every address still agrees.
#[test]
fn rust_vmlinux_without_tables_is_answered_from_its_dwarf() {
    check_vmlinux(None);
}
