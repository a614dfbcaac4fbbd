//! Helpers for the hostile-input tests: fixtures built with `cc`/`ld` in a temp dir, the real
//! binary run with a deadline, ELF header patching by byte offsets, and the outcome checks every
//! case shares (one-line stderr naming the file, no panic, `.ko` untouched or fully updated).
#![allow(dead_code)]

pub use crate::common::tools::run;
use object::read::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_kbuild-lineinfo");
/// No case may take longer than this (a hang is a failure, not a slow test).
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs the binary with `args` in `dir`, killing it at the deadline (then the test fails).
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("MAKEFLAGS");
    cmd.env_remove("MFLAGS").env_remove("CARGO_MAKEFLAGS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    wait_deadline(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()), &args)
}

pub fn wait_deadline(cmd: &mut Command, what: &dyn std::fmt::Debug) -> Output {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what:?}: {e}"));
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what:?}: no exit within {DEADLINE:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stderr is exactly one line, names `name`, and is no panic.
pub fn assert_one_line(out: &Output, name: &str) {
    let err = stderr(out);
    assert_no_panic(out);
    assert_eq!(err.lines().count(), 1, "expected one stderr line: {err:?}");
    assert!(err.contains(name), "stderr does not name {name}: {err:?}");
}

pub fn assert_no_panic(out: &Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    assert!(
        out.status.code().is_some(),
        "killed by a signal: {:?}: {err}",
        out.status
    );
}

/// Exit status 1 with one stderr line naming `name`.
pub fn assert_fails(out: &Output, name: &str) {
    assert_eq!(out.status.code(), Some(1), "status: {}", stderr(out));
    assert_one_line(out, name);
}

/// C sources for a small module: `.text` in two files, one `.init.text` function, a header.
pub fn write_module_sources(dir: &Path) {
    std::fs::write(
        dir.join("a.c"),
        "#include \"h.h\"\nint helper(int x) { return twice(x) * 3 + 1; }\n\
         __attribute__((section(\".init.text\"))) int init_module(void) { return helper(2); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("h.h"),
        "static inline int twice(int v)\n{\n\treturn v + v;\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.c"),
        "int exit_value(int x)\n{\n\tif (x > 2)\n\t\treturn x - 2;\n\treturn x + 7;\n}\n",
    )
    .unwrap();
}

/// `m.ko`: `cc -c -g -O1` of two C files merged with `ld -r`; `flags` go to cc.
pub fn build_module(dir: &Path, flags: &[&str]) -> PathBuf {
    write_module_sources(dir);
    for name in ["a", "b"] {
        run(Command::new("cc")
            .args(["-c", "-g", "-O1", "-fno-pic"])
            .args(flags)
            .arg("-o")
            .arg(dir.join(format!("{name}.o")))
            .arg(dir.join(format!("{name}.c"))));
    }
    let ko = dir.join("m.ko");
    run(Command::new("ld")
        .arg("-r")
        .arg("-o")
        .arg(&ko)
        .arg(dir.join("a.o"))
        .arg(dir.join("b.o")));
    ko
}

/// A small statically linked executable with `_text`/`_etext`, like a vmlinux.
pub fn build_vmlinux(dir: &Path) -> PathBuf {
    write_module_sources(dir);
    std::fs::write(dir.join("s.c"), "void _start(void) { for (;;) ; }\n").unwrap();
    let out = dir.join("vmlinux");
    run(Command::new("cc")
        .args([
            "-g",
            "-O1",
            "-nostdlib",
            "-static",
            "-Wl,--defsym=_text=_start",
            "-o",
        ])
        .arg(&out)
        .args(["s.c", "b.c"])
        .current_dir(dir));
    out
}

/// Where a section's header and data are, for patching.
#[derive(Debug, Clone, Copy)]
pub struct SectionAt {
    pub index: usize,
    pub header: usize,
    pub offset: usize,
    pub size: usize,
}

/// ELF64 little-endian only (what `cc` builds here).
pub fn section_at(data: &[u8], name: &str) -> SectionAt {
    let file = object::File::parse(data).unwrap();
    let s = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("no section {name}"));
    let (offset, size) = s.file_range().unwrap();
    let shoff = u64::from_le_bytes(data[0x28..0x30].try_into().unwrap()) as usize;
    SectionAt {
        index: s.index().0,
        header: shoff + 64 * s.index().0,
        offset: offset as usize,
        size: size as usize,
    }
}

pub fn put_u16(data: &mut [u8], at: usize, v: u16) {
    data[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
pub fn put_u32(data: &mut [u8], at: usize, v: u32) {
    data[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
pub fn put_u64(data: &mut [u8], at: usize, v: u64) {
    data[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
pub fn get_u64(data: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(data[at..at + 8].try_into().unwrap())
}

/// The `.ko` after a run: byte-identical to `before`, or a complete ELF whose
/// `.mod_lineinfo` a second run leaves alone.
pub fn assert_untouched_or_updated(ko: &Path, before: &[u8]) -> bool {
    let after = std::fs::read(ko).unwrap();
    if after == before {
        return false;
    }
    let file = object::File::parse(&*after)
        .unwrap_or_else(|e| panic!("{}: half-written: {e}", ko.display()));
    assert!(
        file.section_by_name(".mod_lineinfo").is_some(),
        "{}: changed without .mod_lineinfo",
        ko.display()
    );
    assert!(
        after.len() as u64 >= section_end(&file),
        "{}: truncated",
        ko.display()
    );
    true
}

fn section_end(file: &object::File<'_>) -> u64 {
    file.sections()
        .filter_map(|s| s.file_range())
        .map(|(o, s)| o + s)
        .max()
        .unwrap_or(0)
}
