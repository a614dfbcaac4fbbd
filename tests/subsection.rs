//! A line program that steps back: clang's integrated assembler after `.subsection 1`.
//!
//! arm64's `ALTERNATIVE` puts its replacement instructions in `.subsection 1` of the section
//! being assembled, so every arm64 `.S` file that uses it (`entry.S` first of all) has rows
//! that jump forward to the subsection, then back with `DW_LNS_advance_pc` of 2^64 - n. gimli
//! calls that "address overflow"; a clang-built arm64 kernel stopped at its first link
//! (`.tmp_vmlinux1: unit at .debug_info+0x41ce6: bad DWARF: address overflow`).
//!
//! The oracle is binutils' `addr2line`, which puts a sequence's rows in address order:
//! `llvm-symbolizer` bisects them as they come and answers the line of a row before the jump for
//! addresses after it. Every address of the code where `addr2line` answers must get its line,
//! through the module path (`module`, then `lookup --module`) and the vmlinux path (`vmlinux
//! -o T.o`, then `lookup --vmlinux --table`), on x86-64 and arm64.

use std::path::Path;
use std::process::Command;

use object::{Object, ObjectSection};

/// One architecture: how to assemble and link, the oracle, and the instructions.
struct Target {
    name: &'static str,
    clang: &'static [&'static str],
    ld: &'static str,
    addr2line: &'static str,
    /// A one-instruction filler, a trap, a return.
    nop: &'static str,
    trap: &'static str,
    ret: &'static str,
    text: u64,
}

const X86_64: Target = Target {
    name: "x86-64",
    clang: &[],
    ld: "ld",
    addr2line: "addr2line",
    nop: "nop",
    trap: "ud2",
    ret: "ret",
    text: 0xffff_ffff_8100_0000,
};

const ARM64: Target = Target {
    name: "arm64",
    clang: &["--target=aarch64-linux-gnu"],
    ld: "aarch64-linux-gnu-ld",
    addr2line: "aarch64-linux-gnu-addr2line",
    nop: "nop",
    trap: "brk #0x800",
    ret: "ret",
    text: 0xffff_8000_8001_0000,
};

/// Two functions; the first sends instructions to `.subsection 1` twice, as `ALTERNATIVE` does.
fn source(t: &Target) -> String {
    let (nop, trap, ret) = (t.nop, t.trap, t.ret);
    format!(
        "\t.text
\t.globl _text
_text:
\t.globl f
\t.type f,%function
f:
\t{nop}
\t{nop}
\t.subsection 1
\t{trap}
\t{trap}
\t.previous
\t{nop}
\t{nop}
\t.subsection 1
\t{trap}
\t.previous
\t{nop}
\t{nop}
\t{nop}
\t{ret}
\t.size f, .-f
\t.globl g
\t.type g,%function
g:
\t{nop}
\t{nop}
\t{ret}
\t.size g, .-g
"
    )
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/deps.sh installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `addr2line`'s `file:line` per address as `(basename, line)`; `None` for `??`.
fn oracle(t: &Target, file: &Path, addresses: &[u64]) -> Vec<Option<(String, u32)>> {
    let mut cmd = Command::new(t.addr2line);
    cmd.arg("-e").arg(file);
    cmd.args(addresses.iter().map(|a| format!("{a:#x}")));
    run(&mut cmd).lines().map(file_line).collect()
}

/// `(basename, line)` of the last word `FILE:LINE` of an answer line; `None` for `??`.
fn file_line(answer: &str) -> Option<(String, u32)> {
    let last = answer.split_whitespace().last()?;
    let (file, line) = last.rsplit_once(':')?;
    let line: u32 = line.split(' ').next()?.parse().ok()?;
    let base = file.rsplit('/').next()?;
    (base != "??" && line != 0).then(|| (base.to_owned(), line))
}

/// Our answers through `lookup` with `args`, one per address.
fn ours(args: &[&std::ffi::OsStr], addresses: &[u64]) -> Vec<Option<(String, u32)>> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"));
    cmd.args(["lookup", "-s"]).args(args);
    cmd.args(addresses.iter().map(|a| format!("{a:#x}")));
    let out = run(&mut cmd);
    let answers: Vec<_> = out.lines().map(file_line).collect();
    assert_eq!(answers.len(), addresses.len(), "{out}");
    answers
}

/// The `.text` of `file`: (address, size).
fn text(file: &Path) -> (u64, u64) {
    let data = std::fs::read(file).unwrap();
    let object = object::File::parse(&*data).unwrap();
    let text = object.section_by_name(".text").unwrap();
    (text.address(), text.size())
}

fn check(t: &Target) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.S"), source(t)).unwrap();
    run(Command::new("clang")
        .current_dir(d)
        .args(t.clang)
        .args(["-c", "-g", "s.S", "-o", "s.o"]));
    // The fixture is what it claims: its program steps back by 2^64 - n.
    let program = run(Command::new("llvm-dwarfdump")
        .args(["-v", "--debug-line"])
        .arg(d.join("s.o")));
    assert!(
        program.contains("DW_LNS_advance_pc (184467440737095"),
        "{}: clang's program does not step back:\n{program}",
        t.name
    );

    // A module: every byte of .text, offsets as in s.o.
    run(Command::new(t.ld)
        .current_dir(d)
        .args(["-r", "s.o", "-o", "m.ko"]));
    run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .current_dir(d)
        .args(["module", "-s", "--layout", "v7", "m.ko"]));
    let (_, size) = text(&d.join("m.ko"));
    let offsets: Vec<u64> = (0..size).collect();
    let want = oracle(t, &d.join("s.o"), &offsets);
    let got = ours(&["--module".as_ref(), d.join("m.ko").as_os_str()], &offsets);
    let compared = compare(t, "module", &offsets, &want, &got);

    // A vmlinux linked at a kernel address.
    let text_at = format!("-Ttext={:#x}", t.text);
    run(Command::new(t.ld)
        .current_dir(d)
        .args(["-e", "f", &text_at, "s.o", "-o", "vmlinux"]));
    run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .current_dir(d)
        .args(["vmlinux", "-s", "--layout", "v7", "-o", "t.o", "vmlinux"]));
    let (start, size) = text(&d.join("vmlinux"));
    assert_eq!(start, t.text);
    let addresses: Vec<u64> = (start..start + size).collect();
    let want = oracle(t, &d.join("vmlinux"), &addresses);
    let got = ours(
        &[
            "--vmlinux".as_ref(),
            d.join("vmlinux").as_os_str(),
            "--table".as_ref(),
            d.join("t.o").as_os_str(),
        ],
        &addresses,
    );
    let compared = compared + compare(t, "vmlinux", &addresses, &want, &got);
    eprintln!("{}: {compared} addresses agree with addr2line", t.name);
}

/// Asserts that every address `addr2line` answers gets its answer; returns how many. Where it
/// answers `??` (the subsection's code: the assembler ends the sequence before it), the rows
/// there keep their lines (docs/format.md §1 rule 4): exactly the source lines of the
/// instructions sent to the subsection.
fn compare(
    t: &Target,
    what: &str,
    addresses: &[u64],
    want: &[Option<(String, u32)>],
    got: &[Option<(String, u32)>],
) -> usize {
    let mut compared = 0;
    let mut lines = std::collections::BTreeSet::new();
    let mut subsection = std::collections::BTreeSet::new();
    for ((address, want), got) in addresses.iter().zip(want).zip(got) {
        let Some(want) = want else {
            let (file, line) = got
                .clone()
                .unwrap_or_else(|| panic!("{address:#x}: no answer"));
            assert_eq!(file, "s.S");
            subsection.insert(line);
            continue;
        };
        assert_eq!(
            got.as_ref(),
            Some(want),
            "{} {what} at {address:#x}: ours against addr2line",
            t.name
        );
        lines.insert(want.1);
        compared += 1;
    }
    // The rows after each jump back are among those compared: f's lines after each
    // `.previous`, and g's.
    assert!(lines.len() >= 8, "{} {what}: only lines {lines:?}", t.name);
    let traps: std::collections::BTreeSet<u32> = (1..)
        .zip(source(t).lines())
        .filter(|(_, text)| text.trim() == t.trap)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        subsection, traps,
        "{} {what}: the subsection's lines",
        t.name
    );
    compared
}

#[test]
#[cfg_attr(no_clang, ignore = "needs clang: scripts/deps.sh installs it")]
fn x86_64_subsection_rows_step_back() {
    check(&X86_64);
}

#[test]
#[cfg_attr(no_clang, ignore = "needs clang: scripts/deps.sh installs it")]
fn arm64_subsection_rows_step_back() {
    check(&ARM64);
}
