//! Tables from rustc's DWARF (Rust-for-Linux code): `tests/fixtures/rust/lineinfo_rust.rs`, a
//! `no_std` crate with generics at several types, `#[inline(always)]` helpers, inlined `core`
//! iterators, slices, `Option` and sorting, panics (`panic!`, bounds checks, `unwrap`) and an
//! `init_module` in `.init.text`, compiled with the machine's `rustc` as Kbuild compiles a kernel
//! crate: the flags of 6.12's `KBUILD_RUSTFLAGS` and arch/x86/Makefile that touch code
//! (`-Crelocation-model=static -Ccode-model=kernel -Cno-redzone=y -Zfunction-sections=n
//! -Ccodegen-units=1 -Csymbol-mangling-version=v0 -Cforce-frame-pointers=y -Cpanic=abort`, `-O2`;
//! `-Z` through `RUSTC_BOOTSTRAP=1`, as Kbuild does), from a copy of the fixture at
//! `samples/rust/lineinfo_rust.rs` of a tree, out of tree (`O=`: the compilation directory is
//! the object tree, the source an absolute path) or in tree.
//!
//! * Linked like a module (`ld -r`): as Kbuild builds it (one `.text`, `.init.text`), layouts v1
//!   and v7; and split by rustc into four codegen units with per-function sections, the units
//!   `ld -r`'d into one object (several compilation units, every code section), v7.
//! * Linked like a mini vmlinux with the toolchain's precompiled `core` and `compiler_builtins`
//!   (whose own units have the compilation directory `/rustc/<hash>`), both layouts, and with no
//!   tables (`lookup` builds them from the DWARF).
//!
//! Every covered address must agree with `llvm-symbolizer --no-inlines` (its path folded, as it
//! prints compiler_builtins' `src/math/../../../libm` unfolded); the fixture's rows must print
//! as `samples/rust/lineinfo_rust.rs` and `core`'s as `library/core/src/…`, never with a
//! directory of this machine or rustc's `/rustc/<hash>/` (docs/format.md §2).
//!
//! `rustc` is here wherever these tests are (cargo built them with it), with the `core` of the
//! host target, so none of them needs an `#[ignore]`: a missing or failing `rustc` fails them.

use crate::common;
use crate::v7_oracle;

use common::answer::{normalize, Answer};
use common::cli::Cli;
use common::realdata::same_file;
use common::symbolizer::symbolize;
use common::tools::run;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the fixture's rows must print, relative to the tree.
const FIXTURE: &str = "samples/rust/lineinfo_rust.rs";

/// The fixture's files, under `tests/fixtures/`.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `rustc` as cargo found it (`$RUSTC`), else from `PATH`.
fn rustc() -> Command {
    Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// How the fixture is compiled.
#[derive(Clone, Copy)]
struct Build {
    /// `O=` (compiled in `obj/` from `linux/samples/…` by its absolute path), else in the tree
    /// (compiled in `linux/` from the relative `samples/rust/lineinfo_rust.rs`).
    out_of_tree: bool,
    /// Kbuild's `-Zfunction-sections=n` and `-Ccodegen-units=1`, else rustc's defaults for
    /// both sections (one per function) and `-Ccodegen-units=4`.
    kbuild: bool,
}

/// As Kbuild builds a module or vmlinux.
const KBUILD: Build = Build {
    out_of_tree: true,
    kbuild: true,
};

/// The fixture compiled in `dir` (the tree is `dir/linux`, returned second): its objects, one
/// per codegen unit.
fn compile_rust(dir: &Path, build: Build) -> (Vec<PathBuf>, PathBuf) {
    let tree = dir.join("linux");
    let source = tree.join(FIXTURE);
    std::fs::create_dir_all(source.parent().unwrap()).unwrap();
    std::fs::copy(fixture("rust/lineinfo_rust.rs"), &source).unwrap();
    let (cwd, source) = if build.out_of_tree {
        (dir.join("obj"), source)
    } else {
        (tree.clone(), PathBuf::from(FIXTURE))
    };
    let out = cwd.join("rust-objects");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = rustc();
    cmd.current_dir(&cwd).env("RUSTC_BOOTSTRAP", "1");
    cmd.args([
        "--edition=2021",
        "--crate-type=lib",
        "--emit=obj",
        "-Cpanic=abort",
    ]);
    cmd.args(["-Cembed-bitcode=n", "-Clto=n", "-Cforce-unwind-tables=n"]);
    cmd.args(["-Csymbol-mangling-version=v0", "-Crelocation-model=static"]);
    cmd.args([
        "-Cno-redzone=y",
        "-Ccode-model=kernel",
        "-Cforce-frame-pointers=y",
    ]);
    cmd.args(["-Copt-level=2", "-Cdebuginfo=2"]);
    if build.kbuild {
        cmd.args(["-Zfunction-sections=n", "-Ccodegen-units=1"]);
    } else {
        cmd.arg("-Ccodegen-units=4");
    }
    run(cmd.arg("--out-dir").arg(&out).arg(&source));
    let mut objects: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    objects.sort();
    let want = if build.kbuild { 1..=1 } else { 2..=4 };
    assert!(
        want.contains(&objects.len()),
        "rustc wrote {} objects: {objects:?}",
        objects.len()
    );
    (objects, tree)
}

/// The fixture as a module: its objects `ld -r`'d into `dir/rust.ko` (`args` first).
fn link_module(dir: &Path, objects: &[PathBuf], args: &[&str]) -> PathBuf {
    let ko = dir.join("rust.ko");
    run(Command::new("ld")
        .arg("-r")
        .args(args)
        .arg("-o")
        .arg(&ko)
        .args(objects));
    ko
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
fn agrees(oracle: &Answer, ours: &Answer) -> bool {
    oracle.line == ours.line && same_file(&normalize(&oracle.file), &ours.file)
}

/// What a comparison of our answers with the oracle's found.
#[derive(Debug, Default)]
struct Count {
    compared: usize,
    agreed: usize,
    unannotated: usize,
    /// Our answers in the fixture's file, and those of them not named [`FIXTURE`].
    fixture_names: usize,
    fixture_misnamed: usize,
    /// Our answers that name `core`'s sources, and those that kept rustc's `/rustc/…` root.
    core_names: usize,
    rustc_root: usize,
    /// Our answers with a full path to a directory of this machine (the temporary folder, the
    /// repository). A precompiled `compiler_builtins` of crates.io (before Rust 1.86) keeps
    /// rustc's remapped `/cargo/registry/…` names, which are no such directory.
    local: usize,
    local_dirs: [String; 2],
    shown: Vec<String>,
}

impl Count {
    /// A count for answers about the files of `dir`.
    fn new(dir: &Path) -> Count {
        let dir = dir.to_str().unwrap().to_string();
        Count {
            local_dirs: [dir, env!("CARGO_MANIFEST_DIR").to_string()],
            ..Count::default()
        }
    }

    fn add(&mut self, what: String, oracle: Option<Answer>, ours: Option<Answer>) {
        let Some(oracle) = oracle else {
            return;
        };
        self.compared += 1;
        let Some(ours) = ours else {
            self.unannotated += 1;
            return;
        };
        if oracle.file.ends_with("/lineinfo_rust.rs") {
            self.fixture_names += 1;
            self.fixture_misnamed += usize::from(ours.file != FIXTURE);
        }
        self.core_names += usize::from(ours.file.starts_with("library/core/src/"));
        self.rustc_root += usize::from(ours.file.starts_with("/rustc/"));
        self.local += usize::from(
            self.local_dirs
                .iter()
                .any(|d| ours.file.starts_with(d.as_str())),
        );
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
        assert!(self.fixture_names > 0, "{what}: no answer in the fixture");
        assert_eq!(
            self.fixture_misnamed, 0,
            "{what}: the fixture's rows print as {FIXTURE}"
        );
        assert!(
            self.core_names > 0,
            "{what}: no answer names core's inlined code"
        );
        assert_eq!(
            self.rustc_root, 0,
            "{what}: core's names print from library/"
        );
        assert_eq!(self.local, 0, "{what}: no name keeps a full path");
    }
}

/// The fixture built as `build`, as a module `ld -r`'d with `args` and given layout v7's table
/// (`module --srctree`, as Kbuild's hook runs it); every byte of every covered code section is
/// compared, the names through `lookup --module`.
fn check_module_v7(build: Build, args: &[&str], min_sections: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (objects, tree) = compile_rust(dir.path(), build);
    let original = link_module(dir.path(), &objects, args);
    let embedded = dir.path().join("embedded.ko");
    std::fs::copy(&original, &embedded).unwrap();
    Cli::new(dir.path()).module(Some("v7"), tree.to_str(), &[&embedded]);

    let sections = v7_oracle::covered_sections(&std::fs::read(&original).unwrap());
    assert!(
        sections.iter().filter(|s| s.covered).count() >= min_sections,
        "at least {min_sections} code sections covered: {sections:?}"
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
    let mut count = Count::new(dir.path());
    for ((q, want), got) in queries.iter().zip(oracle).zip(ours) {
        let want = want.map(|(file, line)| Answer { file, line });
        count.add(q.clone(), want, got.answer);
    }
    count.assert_all_agree("rust module v7", 200);
}

/// As Kbuild builds a Rust module: one `.text` and the init code's `.init.text`.
#[test]
fn rust_module_v7_as_kbuild_builds_it_agrees_with_llvm_symbolizer() {
    check_module_v7(KBUILD, &[], 2);
}

/// Four codegen units (four compilation units, in tree) with per-function sections, `ld -r`'d
/// into one module as Kbuild links a module of several objects.
#[test]
fn rust_module_v7_codegen_units_every_section_agrees_with_llvm_symbolizer() {
    let build = Build {
        out_of_tree: false,
        kbuild: false,
    };
    check_module_v7(build, &[], 6);
}

/// Layout v1 covers `.text` alone, at the offsets the loader gives it.
#[test]
fn rust_module_v1_agrees_with_llvm_symbolizer() {
    let dir = tempfile::tempdir().unwrap();
    let (objects, tree) = compile_rust(dir.path(), KBUILD);
    let original = link_module(dir.path(), &objects, &[]);
    let embedded = dir.path().join("embedded.ko");
    std::fs::copy(&original, &embedded).unwrap();
    Cli::new(dir.path()).module(Some("v1"), tree.to_str(), &[&embedded]);

    // The oracle: the original linked with .text at 0x100000 (tests/fixtures/module.ld).
    let linked = dir.path().join("rust.linked");
    run(Command::new("ld")
        .args(["-T"])
        .arg(fixture("module.ld"))
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
    let mut count = Count::new(dir.path());
    for ((q, want), got) in queries.iter().zip(oracle).zip(ours) {
        count.add(q.clone(), want, got.answer);
    }
    count.assert_all_agree("rust module v1", 200);
}

/// Links the fixture, the kernel's mem* stand-ins and `core` like a vmlinux (stub first, then
/// the tables made from link 1 with `--srctree`, as Kbuild's hook runs it; `None`: no tables at
/// all, as a distribution's debug vmlinux, compiled in tree) and compares every address of
/// `[_text, _etext)`.
fn check_vmlinux(layout: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(dir.path());
    let build = Build {
        out_of_tree: layout.is_some(),
        kbuild: true,
    };
    let (rust, tree) = compile_rust(dir.path(), build);
    let mem = dir.path().join("kernel_mem.o");
    run(Command::new("cc")
        .args(["-O2", "-g", "-ffreestanding", "-fno-builtin", "-c", "-o"])
        .arg(&mem)
        .arg(fixture("rust/kernel_mem.c")));
    let rlibs = sysroot_rlibs();
    let link = |extra: Option<&Path>, out: &Path| {
        run(Command::new("ld")
            .args(["-z", "noexecstack", "-T"])
            .arg(fixture("mini-vmlinux.ld"))
            .arg("-o")
            .arg(out)
            .args(&rust)
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
        cli.vmlinux(Some(layout), tree.to_str(), &link1, &tables);
        link(Some(&tables), &vmlinux);
    } else {
        link(None, &vmlinux);
    }

    let text = common::elf::symbol_value(&vmlinux, "_text").unwrap();
    let etext = common::elf::symbol_value(&vmlinux, "_etext").unwrap();
    let addresses: Vec<u64> = (text..etext).collect();
    let oracle = symbolize(&vmlinux, &addresses);
    let ours = cli.lookup_vmlinux(&vmlinux, &addresses);
    let mut count = Count::new(dir.path());
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
