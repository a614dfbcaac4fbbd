//! Real data: the Debian cloud vmlinux (FORMAT.md §1 prototype figures), checked against
//! `llvm-symbolizer --no-inlines` on 200,000 random addresses of `[_text, _etext)`.
//!
//! Needs the corpus: `KBUILD_LINEINFO_VMLINUX` names the vmlinux (`.ci/run` fetches it with
//! `../shared/corpus/debian-kernel.sh cloud`). Without it the test says so and does nothing;
//! with `KBUILD_LINEINFO_REQUIRE_CORPUS=1` (CI) a missing corpus is a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn corpus_vmlinux() -> Option<PathBuf> {
    match std::env::var_os("KBUILD_LINEINFO_VMLINUX") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("KBUILD_LINEINFO_REQUIRE_CORPUS").is_some() => {
            panic!("KBUILD_LINEINFO_REQUIRE_CORPUS is set but KBUILD_LINEINFO_VMLINUX is not")
        }
        None => {
            eprintln!("skipped: set KBUILD_LINEINFO_VMLINUX to the Debian cloud vmlinux");
            None
        }
    }
}

/// Runs `cmd` with `input` on stdin, returns stdout; panics with stderr on failure.
fn pipe(cmd: &mut Command, input: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn symbol_value(elf: &Path, name: &str) -> u64 {
    let out = Command::new("nm").arg(elf).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("nm: no {name} in {}", elf.display()));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

/// Folds `.` and `dir/..` the way a reader would; the oracle prints paths as DWARF joins them.
fn fold(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            _ => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if path.starts_with('/') { format!("/{joined}") } else { joined }
}

/// xorshift64*: a fixed sequence, so a failure can be reproduced.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `file:line` from llvm-symbolizer's `--no-inlines` output: function line, then location line.
fn parse_symbolizer(out: &str) -> Vec<Option<(String, u32)>> {
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    lines
        .chunks(2)
        .map(|pair| {
            let loc = pair.get(1)?;
            let mut parts = loc.rsplitn(3, ':');
            let _col = parts.next()?;
            let line: u32 = parts.next()?.parse().ok()?;
            let file = parts.next()?;
            (file != "??" && line != 0).then(|| (fold(file), line))
        })
        .collect()
}

#[test]
fn debian_cloud_vmlinux_agrees_with_llvm_symbolizer() {
    let Some(vmlinux) = corpus_vmlinux() else { return };
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lineinfo.o");
    let status = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args(["vmlinux", "-o"])
        .arg(&table)
        .arg(&vmlinux)
        .status()
        .unwrap();
    assert!(status.success());

    let text = symbol_value(&vmlinux, "_text");
    let etext = symbol_value(&vmlinux, "_etext");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let count = 200_000;
    let addresses: Vec<u64> = (0..count).map(|_| text + rng.next() % (etext - text)).collect();

    let queries: String = addresses.iter().map(|a| format!("{:#x}\n", a)).collect();
    let oracle = parse_symbolizer(&pipe(
        Command::new("llvm-symbolizer").arg("--no-inlines").arg(format!("--obj={}", vmlinux.display())),
        &queries,
    ));
    assert_eq!(oracle.len(), count);

    let offsets: String = addresses.iter().map(|a| format!("{:#x}\n", a - text)).collect();
    let ours: Vec<Option<(String, u32)>> = pipe(
        Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo")).args(["lookup", "--vmlinux"]).arg(&table),
        &offsets,
    )
    .lines()
    .map(|l| {
        let (_, answer) = l.split_once(' ').unwrap();
        let (file, line) = answer.rsplit_once(':')?;
        Some((file.to_string(), line.parse().unwrap()))
    })
    .collect();
    assert_eq!(ours.len(), count);

    let (mut compared, mut agree, mut unannotated) = (0u64, 0u64, 0u64);
    let mut shown = 0;
    for ((address, want), got) in addresses.iter().zip(&oracle).zip(&ours) {
        let Some((want_file, want_line)) = want else { continue };
        compared += 1;
        match got {
            Some((file, line)) => {
                assert!(!file.starts_with('/'), "absolute name {file}");
                assert!(
                    !file.split('/').any(|c| c == "." || c == ".." || c.is_empty()),
                    "name not normalised: {file}"
                );
                let same_file = want_file == file || want_file.ends_with(&format!("/{file}"));
                if same_file && want_line == line {
                    agree += 1;
                } else if shown < 10 {
                    shown += 1;
                    eprintln!("{address:#x}: llvm-symbolizer {want_file}:{want_line}, ours {file}:{line}");
                }
            }
            None => unannotated += 1,
        }
    }
    let rate = agree as f64 / compared as f64;
    eprintln!(
        "{count} addresses, {compared} with a DWARF answer: {agree} agree ({:.3} %), {unannotated} unannotated",
        rate * 100.0
    );
    assert!(compared > count as u64 / 2, "too few addresses with an answer: {compared}");
    assert!(rate >= 0.999, "agreement {:.4} % is below 99.9 %", rate * 100.0);
    assert_eq!(unannotated, 0, "addresses with a DWARF answer left unannotated");
}
