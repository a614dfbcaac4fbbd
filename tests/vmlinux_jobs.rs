//! The vmlinux step reads compilation units on as many threads as it has job slots; the bytes it
//! writes must not depend on that number, nor on which thread finished first.
//!
//! * Fixtures (four units, DWARF 4, 5 and 64-bit DWARF): `-j1`, `-j2`, `-j3`, `-j8`, as an object
//!   and as assembly, and under GNU make's jobserver (`make -j4`, recipe with `+`), all
//!   byte-identical.
//! * The Debian cloud vmlinux (`KBUILD_LINEINFO_VMLINUX`, see `tests/real_vmlinux.rs`): `-j1`,
//!   `-j2`, `-j8` byte-identical; without the corpus the test says so and does nothing.
//!
//! Both also check the fast line-program runner against gimli's (`--gimli-only`, hidden): the
//! same rows read and the same bytes.

use crate::common;

use common::build::VMLINUX_UNITS;
use common::realdata;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const JOBS: [usize; 4] = [1, 2, 3, 8];

/// The binary with no make or jobserver variables inherited from whoever runs the tests, so
/// that `-j` decides.
fn tool() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"));
    for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CARGO_MAKEFLAGS"] {
        cmd.env_remove(var);
    }
    cmd
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `vmlinux -jN -o OUT INPUT`; returns the bytes written and the summary line.
fn tables(input: &Path, out: &Path, jobs: usize, srctree: Option<&str>) -> (Vec<u8>, String) {
    tables_with(input, out, jobs, srctree, &[])
}

fn tables_with(
    input: &Path,
    out: &Path,
    jobs: usize,
    srctree: Option<&str>,
    extra: &[&str],
) -> (Vec<u8>, String) {
    let mut cmd = tool();
    // The statistics are a `-v` line.
    cmd.arg("vmlinux")
        .arg("-v")
        .arg(format!("-j{jobs}"))
        .args(extra);
    if let Some(dir) = srctree {
        cmd.args(["--srctree", dir]);
    }
    let run = ok(
        cmd.arg("-o").arg(out).arg(input).output().unwrap(),
        &format!("vmlinux -j{jobs} -o {}", out.display()),
    );
    let summary = String::from_utf8_lossy(&run.stderr)
        .lines()
        .filter(|l| l.contains(" rows, "))
        .collect::<Vec<_>>()
        .join("\n");
    (fs::read(out).unwrap(), summary)
}

/// Rows read, from the summary (`lineinfo: FILE: N rows, …`).
fn rows_of(summary: &str) -> u64 {
    summary
        .split(": ")
        .nth(2)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no row count in {summary:?}"))
}

fn link1(ws: &Workspace, v: &Variant) -> PathBuf {
    let cli = Cli::new(ws.root());
    let objs = ws.compile_all(v, &VMLINUX_UNITS);
    let stub = ws.path("stub.o");
    cli.stub(v.layout, &stub);
    ws.link_vmlinux(v, &objs, &[&stub], "vmlinux.1")
}

fn variant(name: &'static str, dwarf: DwarfVersion) -> Variant {
    Variant {
        dwarf,
        style: BuildStyle::OutOfTree,
        pass_srctree: true,
        ..Variant::new(name)
    }
}

fn check_fixture(v: Variant) {
    let ws = Workspace::new();
    if let Some(why) = ws.unsupported(&v) {
        eprintln!("SKIPPED variant {}: {why}", v.name);
        return;
    }
    let input = link1(&ws, &v);
    let srctree = ws.srctree_arg(&v);
    for ext in ["o", "S"] {
        let (first, summary) = tables(
            &input,
            &ws.path(&format!("t-j1.{ext}")),
            1,
            srctree.as_deref(),
        );
        assert!(rows_of(&summary) > 0, "{}: no rows read: {summary}", v.name);
        fs::write(
            ws.path(&format!(
                "t-j1.summary{}",
                if ext == "o" { "" } else { ".S" }
            )),
            &summary,
        )
        .unwrap();
        for jobs in JOBS {
            let out = ws.path(&format!("t-j{jobs}.{ext}"));
            let (bytes, other) = tables(&input, &out, jobs, srctree.as_deref());
            assert!(
                bytes == first,
                "{}: -j{jobs} wrote other bytes than -j1 (.{ext})",
                v.name
            );
            assert_eq!(other, summary, "{}: -j{jobs} summary", v.name);
        }
    }

    // gimli alone reads the same rows and writes the same bytes.
    let first = fs::read(ws.path("t-j1.o")).unwrap();
    let summary = fs::read_to_string(ws.path("t-j1.summary")).unwrap();
    let (gimli, other) = tables_with(
        &input,
        &ws.path("t-gimli.o"),
        2,
        srctree.as_deref(),
        &["--gimli-only"],
    );
    assert!(gimli == first, "{}: --gimli-only wrote other bytes", v.name);
    assert_eq!(other, summary, "{}: --gimli-only summary", v.name);

    // Under make's jobserver, with the tokens make -j4 lends.
    let dir = ws.root();
    let mut makefile = String::from(".PHONY: all\nall:\n\t+");
    makefile += &format!("{} vmlinux", env!("CARGO_BIN_EXE_kbuild-lineinfo"));
    if let Some(s) = &srctree {
        makefile += &format!(" --srctree {s}");
    }
    makefile += &format!(" -o t-make.o {}\n", input.display());
    fs::write(dir.join("Makefile"), makefile).unwrap();
    let mut make = Command::new("make");
    for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CARGO_MAKEFLAGS"] {
        make.env_remove(var);
    }
    let out = ok(
        make.arg("-j4").arg("-s").current_dir(dir).output().unwrap(),
        "make -j4",
    );
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    for word in ["warning", "jobserver", "token", "internal"] {
        assert!(!err.contains(word), "{word:?} in make's stderr:\n{err}");
    }
    let first = fs::read(ws.path("t-j1.o")).unwrap();
    assert!(
        fs::read(dir.join("t-make.o")).unwrap() == first,
        "{}: under make -j4, other bytes than -j1",
        v.name
    );
}

#[test]
fn fixture_tables_are_identical_at_any_jobs_dwarf5() {
    check_fixture(variant("dwarf5-jobs", DwarfVersion::V5));
}

#[test]
fn fixture_tables_are_identical_at_any_jobs_dwarf4() {
    check_fixture(variant("dwarf4-jobs", DwarfVersion::V4));
}

#[test]
fn fixture_tables_are_identical_at_any_jobs_dwarf64() {
    check_fixture(Variant {
        dwarf64: true,
        ..variant("dwarf64-jobs", DwarfVersion::V5)
    });
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_vmlinux_tables_are_identical_at_any_jobs() {
    let vmlinux = realdata::cloud().vmlinux;
    let dir = tempfile::tempdir().unwrap();
    let (first, summary) = tables(&vmlinux, &dir.path().join("t-j1.o"), 1, None);
    assert!(rows_of(&summary) > 1_000_000, "too few rows: {summary}");
    for jobs in [2, 8] {
        let (bytes, other) = tables(
            &vmlinux,
            &dir.path().join(format!("t-j{jobs}.o")),
            jobs,
            None,
        );
        assert!(bytes == first, "-j{jobs} wrote other bytes than -j1");
        assert_eq!(other, summary, "-j{jobs} summary");
    }
    let out = dir.path().join("t-gimli.o");
    let (gimli, other) = tables_with(&vmlinux, &out, 2, None, &["--gimli-only"]);
    assert!(gimli == first, "--gimli-only wrote other bytes");
    assert_eq!(
        other.replace("t-gimli", "t-j1"),
        summary,
        "--gimli-only summary"
    );
}
