//! The classic interfaces of the series' tools, as a tree that calls them by name uses them:
//! `gen_lineinfo FILE > out.S` (also when the binary is installed as `gen_lineinfo`),
//! `gen_lineinfo --module KO`, and `gen-mod-lineinfo KO` (the contract of gen-mod-lineinfo.sh).

use crate::common;

use common::build::{MODULE_UNITS, VMLINUX_UNITS};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The bytes of section `name` of an object, via objcopy (an independent reader).
fn section_bytes(obj: &Path, name: &str) -> Vec<u8> {
    let out = obj.with_extension("section.bin");
    tools::run(
        Command::new("objcopy")
            .args(["-O", "binary", "--only-section", name])
            .arg(obj)
            .arg(&out),
    );
    std::fs::read(out).unwrap()
}

/// A workspace, the CLI in it, the objects of [`MODULE_UNITS`] built as `v`, and the module
/// `m.ko` linked from them.
fn classic_module(v: &Variant) -> (Workspace, Cli, Vec<PathBuf>, PathBuf) {
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let objs = ws.compile_all(v, &MODULE_UNITS);
    let ko = ws.link_module(v, &objs, "m.ko");
    (ws, cli, objs, ko)
}

#[test]
fn gen_lineinfo_prints_assembly_and_one_summary_line() {
    let ws = Workspace::new();
    let cli = Cli::new(ws.root());
    let v = Variant::new("classic");
    let objs = ws.compile_all(&v, &VMLINUX_UNITS);
    let stub = ws.path("stub.o");
    cli.stub(None, &stub);
    let vmlinux = ws.link_vmlinux(&v, &objs, &[&stub], "vmlinux.1");

    // As Kbuild runs it (the layout given): one summary line, as the C tool's.
    let classic = cli.run([
        Path::new("gen_lineinfo"),
        Path::new("--layout"),
        Path::new("v1"),
        &vmlinux,
    ]);
    let stderr = String::from_utf8(classic.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one summary line, got: {stderr}");
    assert!(stderr.contains("entries"), "{stderr}");
    let s = ws.path("modern.S");
    cli.vmlinux(None, None, &vmlinux, &s);
    assert_eq!(
        classic.stdout,
        std::fs::read(&s).unwrap(),
        "gen_lineinfo stdout differs from -o X.S"
    );

    // Installed under the classic name: same bytes.
    let link = ws.path("gen_lineinfo");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kbuild-lineinfo"), &link).unwrap();
    let out = tools::run(Command::new(&link).arg(&vmlinux));
    assert_eq!(out.stdout, classic.stdout);

    // Errors: exit 1, one line naming the file.
    let missing = ws.path("no-such-vmlinux");
    let out = Command::new(&link).arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no-such-vmlinux"), "{err}");
}

#[test]
fn gen_lineinfo_module_assembles_to_the_embedded_blob() {
    let (ws, cli, _, ko) = classic_module(&Variant::new("classic"));
    let original = std::fs::read(&ko).unwrap();

    let out = cli.run([Path::new("gen_lineinfo"), Path::new("--module"), &ko]);
    assert_eq!(
        std::fs::read(&ko).unwrap(),
        original,
        "gen_lineinfo --module must not touch the module"
    );
    let s = ws.path("blob.S");
    std::fs::write(&s, &out.stdout).unwrap();
    let assembled = ws.assemble(&s, "blob.o");

    cli.module(None, None, &[&ko]);
    let embedded = section_bytes(&ko, ".mod_lineinfo");
    assert!(embedded.len() > 24, "blob too small: {}", embedded.len());
    assert_eq!(section_bytes(&assembled, ".mod_lineinfo"), embedded);
}

#[test]
fn gen_mod_lineinfo_keeps_the_script_contract() {
    let (ws, cli, _, ko) = classic_module(&Variant::new("classic"));

    // No DWARF: exit 0, file untouched.
    let bare = ws.path("bare.ko");
    tools::strip_debug(&ko, &bare);
    let before = std::fs::read(&bare).unwrap();
    let out = cli
        .command()
        .args(["gen-mod-lineinfo"])
        .arg(&bare)
        .output()
        .unwrap();
    tools::assert_success(&out);
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "kbuild-lineinfo: {}: no DWARF line information: left alone\n",
            bare.display()
        ),
        "one line says why nothing happened"
    );
    assert_eq!(std::fs::read(&bare).unwrap(), before);

    // With DWARF: the section appears; KBUILD_VERBOSE=1 says what happened; twice = once.
    let out = cli
        .command()
        .env("KBUILD_VERBOSE", "1")
        .arg("gen-mod-lineinfo")
        .arg(&ko)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("m.ko") && err.contains("entries"), "{err}");
    let once = std::fs::read(&ko).unwrap();
    assert!(!section_bytes(&ko, ".mod_lineinfo").is_empty());
    cli.run([Path::new("gen-mod-lineinfo"), &ko]);
    assert_eq!(
        std::fs::read(&ko).unwrap(),
        once,
        "a second run must change nothing"
    );

    // Exactly one argument, as the script takes.
    let out = cli.command().arg("gen-mod-lineinfo").output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn classic_tools_take_the_source_tree_from_kbuild_environment() {
    let v = Variant {
        style: BuildStyle::OutOfTree,
        pass_srctree: true,
        ..Variant::new("classic")
    };
    let (ws, cli, objs, ko) = classic_module(&v);
    let srctree = ws.srctree_arg(&v).expect("an O= build has a source tree");
    let out = cli
        .command()
        .env("srctree", &srctree)
        .arg("gen-mod-lineinfo")
        .arg(&ko)
        .output()
        .unwrap();
    tools::assert_success(&out);
    let offsets: Vec<String> = (0..64).map(|o| format!(".text+{:#x}", o * 4)).collect();
    let answers = cli.lookup_module(&ko, &offsets);
    let names: Vec<String> = answers
        .iter()
        .filter_map(|l| l.answer.as_ref().map(|a| a.file.clone()))
        .collect();
    assert!(!names.is_empty(), "no answers");
    for name in &names {
        assert_eq!(check_name_shape(name), None, "{name}");
    }
    // Without the environment the O= build's names are outside the compilation directory.
    let bare = ws.link_module(&v, &objs, "m2.ko");
    cli.command()
        .env_remove("srctree")
        .arg("gen-mod-lineinfo")
        .arg(&bare)
        .output()
        .unwrap();
    let answers = cli.lookup_module(&bare, &offsets);
    assert!(
        answers
            .iter()
            .filter_map(|l| l.answer.as_ref())
            .any(|a| check_name_shape(&a.file).is_some()),
        "the test cannot tell the environment's effect"
    );
}
