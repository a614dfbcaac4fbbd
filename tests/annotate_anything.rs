//! `annotate` on what a user has rather than what a kernel built with the series carries:
//! modules without `.mod_lineinfo` but with DWARF (a distribution's debug package), plain or
//! compressed, their tables built in memory and kept in the build-id cache; `-r RELEASE --root
//! DIR` finding the files where the packages put them. The oracle is `llvm-symbolizer
//! --no-inlines` on the original module linked by `ld` (`.text` at 0x100000), as in
//! `annotate.rs`.
//!
//! The fixture tests run everywhere; the real-data ones need the Debian cloud debug kernel
//! (`scripts/corpus.sh cloud`) and are `#[ignore]`d without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::annotate::Figures;
use crate::annotate::{
    annotate, assert_figures, check_frames, kernel_text_symbols, module_oracle, nm_symbols,
    with_stdin,
};
use crate::common;
use common::build::MODULE_UNITS;
use common::realdata::Rng;
use common::{Variant, Workspace};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kbuild-lineinfo")
}

/// `file` compressed by `tool` (`xz`, `zstd`, `gzip`) into `file` + `.suffix`, the original
/// removed (as `make modules_install` with CONFIG_MODULE_COMPRESS_* leaves it).
fn compress(file: &Path, tool: &str) -> PathBuf {
    let status = Command::new(tool)
        .args(["-q", "-f"])
        .arg(file)
        .status()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(status.success(), "{tool} {}", file.display());
    let suffix = match tool {
        "xz" => "xz",
        "zstd" => "zst",
        _ => "gz",
    };
    if file.exists() {
        std::fs::remove_file(file).unwrap(); // zstd keeps its input
    }
    PathBuf::from(format!("{}.{suffix}", file.display()))
}

/// `cmd`'s stdout and stderr, `input` on its stdin; it must succeed.
fn succeeds_with(cmd: &mut Command, input: &str) -> (String, String) {
    let out = with_stdin(cmd, input.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// The text symbols of a module's oracle link, with kallsyms sizes.
fn module_symbols(oracle: &Path, original: &Path) -> Vec<crate::annotate::Sym> {
    let size = common::elf::section(original, ".text").map_or(0, |s| s.size);
    nm_symbols(oracle, 0x10_0000, 0x10_0000 + size)
}

/// The fixture module with DWARF and no tables, as a `.ko` and compressed three ways: every
/// frame of its `.text` agrees with DWARF, from tables built in memory.
#[test]
fn modules_with_dwarf_only_agree_with_llvm_symbolizer() {
    let ws = Workspace::new();
    let v = Variant::new("annotate-dwarf");
    let objs = ws.compile_all(&v, &MODULE_UNITS);
    let ko = ws.link_module(&v, &objs, "fix-mod.ko");
    let oracle = ws.link_module_oracle(&ko, "fix-mod.linked");
    let symbols = module_symbols(&oracle, &ko);
    assert!(!symbols.is_empty());
    let mut rng = Rng(0x5eed_0022);
    for tool in ["", "xz", "zstd", "gzip"] {
        let dir = ws.path(&format!("modules-{tool}"));
        std::fs::create_dir_all(dir.join("drivers")).unwrap();
        let copy = dir.join("drivers/fix-mod.ko");
        std::fs::copy(&ko, &copy).unwrap();
        if !tool.is_empty() {
            compress(&copy, tool);
        }
        let mut f = Figures::default();
        let args = ["--no-cache", "--modules", dir.to_str().unwrap()];
        let (name, log) = (Some("fix_mod"), &mut rng);
        check_frames(&symbols, name, &oracle, &args, 1000, log, &mut f);
        assert_figures(&format!("fixture module from DWARF ({tool:?})"), &f);
    }
}

/// A `.ko.xz` that holds no module, a truncated `.ko.zst`, a module with neither tables nor
/// DWARF, a build-id that is not the module's: one line each on stderr (however many frames),
/// the log back byte for byte.
#[test]
fn modules_that_cannot_answer_are_one_line_each() {
    let ws = Workspace::new();
    let v = Variant::new("annotate-hostile");
    let objs = ws.compile_all(&v, &MODULE_UNITS);
    let ko = ws.link_module(&v, &objs, "fix-mod.ko");
    let dir = ws.path("modules");
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notamodule.ko");
    std::fs::write(&text, "not a module\n".repeat(100)).unwrap();
    compress(&text, "xz");
    let cut = dir.join("cut.ko");
    std::fs::copy(&ko, &cut).unwrap();
    let cut = compress(&cut, "zstd");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let bare = dir.join("bare.ko");
    common::tools::run(
        Command::new("strip")
            .arg("--strip-debug")
            .arg(&ko)
            .arg("-o")
            .arg(&bare),
    );
    let mut log = String::new();
    for name in ["notamodule", "cut", "bare", "fix_mod"] {
        for _ in 0..3 {
            log += &format!("[    1.000000]  f+0x1/0x10 [{name}]\n");
        }
    }
    std::fs::copy(&ko, dir.join("fix-mod.ko")).unwrap();
    log += "[    1.000000]  f+0x1/0x10 [fix_mod 00112233445566778899aabbccddeeff00112233]\n";
    let args = ["--no-cache", "--modules", dir.to_str().unwrap()];
    let out = annotate(&args, log.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), log);
    let lines: Vec<&str> = stderr.lines().collect();
    let expect = [
        (
            "notamodule",
            "notamodule.ko.xz: xz-compressed, but not an ELF module inside",
        ),
        ("cut", "cut.ko.zst: zstd data: "),
        (
            "bare",
            "bare.ko: no .mod_lineinfo, and no DWARF line information",
        ),
        (
            "fix_mod",
            "the log's build-id 00112233445566778899aabbccddeeff00112233 is not the module's",
        ),
    ];
    assert_eq!(lines.len(), expect.len(), "{stderr}");
    for (line, (name, what)) in lines.iter().zip(expect) {
        let start = format!("kbuild-lineinfo: warning: [{name}]: ");
        assert!(line.starts_with(&start), "{line:?} should start {start:?}");
        assert!(line.contains(what), "{line:?} should say {what:?}");
    }
}

/// The corpus as Debian's dbg package lays it out under a root:
/// `usr/lib/debug/boot/vmlinux-REL` and `usr/lib/debug/lib/modules/REL/` (relative links to
/// the corpus: `--root` reads an absolute link inside the root, as a chroot would), and an installed
/// `lib/modules/REL/` holding one module stripped of DWARF (as `INSTALL_MOD_STRIP` leaves it)
/// and compressed: `-r REL --root ROOT` answers as `--vmlinux`/`--modules` on the debug files
/// do (checked against `llvm-symbolizer` by the test after this one), `-v` naming the debug
/// files; the second run reads every table from the cache, the same output.
/// A symbolic link at `link` to the absolute path `target`, spelled relative to the link's
/// directory (`../../…/target`), so that it leads there under any `--root` too.
fn relative_link(target: &Path, link: &Path) {
    let dir = link.parent().unwrap().canonicalize().unwrap();
    let up = dir.components().count() - 1;
    let mut relative = PathBuf::new();
    for _ in 0..up {
        relative.push("..");
    }
    relative.push(target.canonicalize().unwrap().strip_prefix("/").unwrap());
    std::os::unix::fs::symlink(relative, link).unwrap();
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn release_finds_a_debian_debug_package() {
    let corpus = common::realdata::cloud();
    let rel = "6.12.118+deb13-cloud-amd64";
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let debug_boot = r.join("usr/lib/debug/boot");
    let debug_modules = r.join("usr/lib/debug/lib/modules");
    let installed = r.join("lib/modules").join(rel).join("kernel/drivers/net");
    for d in [&debug_boot, &debug_modules, &installed] {
        std::fs::create_dir_all(d).unwrap();
    }
    relative_link(&corpus.vmlinux, &debug_boot.join(format!("vmlinux-{rel}")));
    relative_link(&corpus.modules_dir, &debug_modules.join(rel));
    let stripped = installed.join("virtio_net.ko");
    common::tools::run(
        Command::new("strip")
            .arg("--strip-debug")
            .arg(corpus.modules_dir.join("drivers/net/virtio_net.ko"))
            .arg("-o")
            .arg(&stripped),
    );
    compress(&stripped, "xz");
    let log = "[    1.000000] Call Trace:\n\
               [    1.000000]  schedule+0x30/0x100\n\
               [    1.000000]  xfs_readdir+0x10/0x500 [xfs]\n\
               [    1.000000]  virtnet_poll+0x40/0x600 [virtio_net]\n";
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.args(["-v", "annotate"])
            .args(args)
            .env("KBUILD_LINEINFO_CACHE", cache.path());
        succeeds_with(&mut cmd, log)
    };
    let root_arg = r.to_str().unwrap();
    let (cold, cold_err) = run(&["-r", rel, "--root", root_arg]);
    let (warm, warm_err) = run(&["-r", rel, "--root", root_arg]);
    let direct = annotate(
        &[
            "--no-cache",
            "--vmlinux",
            corpus.vmlinux.to_str().unwrap(),
            "--modules",
            corpus.modules_dir.to_str().unwrap(),
        ],
        log.as_bytes(),
    );
    let direct = String::from_utf8(direct.stdout).unwrap();
    assert_eq!(cold, direct, "{cold_err}");
    assert_eq!(warm, cold, "{warm_err}");
    assert_eq!(
        cold.matches(".c:").count() + cold.matches(".h:").count(),
        3,
        "{cold}"
    );
    let vmlinux = debug_boot.join(format!("vmlinux-{rel}"));
    let answers = |err: &str, file: &Path, what: &str| {
        let line = format!("{}: answers the frames of {what} (", file.display());
        assert!(err.contains(&line), "-v should say {line:?}:\n{err}");
    };
    for err in [&cold_err, &warm_err] {
        answers(err, &vmlinux, "vmlinux");
        let dbg = debug_modules.join(rel);
        answers(err, &dbg.join("fs/xfs/xfs.ko"), "[xfs]");
        answers(err, &dbg.join("drivers/net/virtio_net.ko"), "[virtio_net]");
    }
    assert!(!cold_err.contains("from the cache"), "{cold_err}");
    assert_eq!(warm_err.matches("from the cache)").count(), 3, "{warm_err}");

    // Nothing there: one line naming the paths tried.
    let out = annotate(&["-r", "6.0.0-none", "--root", root_arg], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let tried = r.join("boot/vmlinuz-6.0.0-none");
    assert!(
        stderr.lines().count() == 1 && stderr.contains(tried.to_str().unwrap()),
        "{stderr}"
    );
}

/// Debian's cloud debug kernel, no tables anywhere: random frames of vmlinux (tables built
/// from its DWARF) and of several modules, plain and compressed (`.ko.xz`, `.ko.zst` in a
/// copy), agree with `llvm-symbolizer`, none left unannotated where DWARF answers.
#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_dwarf_only_frames_agree_with_llvm_symbolizer() {
    const MODULES: [(&str, &str); 6] = [
        ("fs/xfs/xfs.ko", ""),
        ("arch/x86/kvm/kvm.ko", "xz"),
        ("drivers/net/virtio_net.ko", "zstd"),
        ("net/sched/cls_flower.ko", ""),
        ("net/ipv4/ip_gre.ko", "xz"),
        ("net/ipv4/tcp_bbr.ko", "zstd"),
    ];
    let corpus = common::realdata::cloud();
    let work = tempfile::tempdir().unwrap();
    let mut rng = Rng(0xdeb1_a22b);
    let vmlinux = corpus.vmlinux.to_str().unwrap();
    let symbols = kernel_text_symbols(&corpus.vmlinux);
    let mut f = Figures::default();
    let args = ["--no-cache", "--vmlinux", vmlinux];
    check_frames(
        &symbols,
        None,
        &corpus.vmlinux,
        &args,
        4000,
        &mut rng,
        &mut f,
    );
    assert_figures("cloud vmlinux from DWARF", &f);

    let dir = work.path().join("modules");
    let mut f = Figures::default();
    for (rel, tool) in MODULES {
        let original = corpus.modules_dir.join(rel);
        let copy = dir.join(rel);
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(&original, &copy).unwrap();
        if !tool.is_empty() {
            compress(&copy, tool);
        }
        let (linked, symbols) = module_oracle(work.path(), &original);
        let name = Path::new(rel).file_stem().unwrap().to_str().unwrap();
        let args = ["--no-cache", "--modules", dir.to_str().unwrap()];
        check_frames(&symbols, Some(name), &linked, &args, 1000, &mut rng, &mut f);
    }
    assert_figures("cloud modules from DWARF", &f);
}

/// A module built in a kernel-like tree (absolute names in its DWARF, as an `O=` build leaves
/// them) and carrying no tables: the names `lookup` gives from its DWARF are relative to the
/// tree, found as the directory above `include/linux/`, and every line is `addr2line`'s.
#[test]
fn module_names_from_dwarf_read_like_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("linux");
    std::fs::create_dir_all(tree.join("include/linux")).unwrap();
    std::fs::create_dir_all(tree.join("drivers/fix")).unwrap();
    std::fs::write(
        tree.join("include/linux/fix.h"),
        "static inline int fix_twice(int x)\n{\n\treturn x * 2 + (x > 7);\n}\n",
    )
    .unwrap();
    std::fs::write(
        tree.join("drivers/fix/m.c"),
        "#include <linux/fix.h>\n\nint fix_entry(int *v, int n)\n{\n\tint t = 0;\n\n\
         \tfor (int i = 0; i < n; i++)\n\t\tt += fix_twice(v[i]);\n\treturn t;\n}\n",
    )
    .unwrap();
    let object = dir.path().join("m.o");
    let status = Command::new("cc")
        .args(["-c", "-g", "-O2", "-fno-pic", "-I"])
        .arg(tree.join("include"))
        .arg(tree.join("drivers/fix/m.c"))
        .arg("-o")
        .arg(&object)
        .status()
        .unwrap();
    assert!(status.success());
    let ko = dir.path().join("m.ko");
    let status = Command::new("ld")
        .arg("-r")
        .arg(&object)
        .arg("-o")
        .arg(&ko)
        .status()
        .unwrap();
    assert!(status.success());
    let size = common::elf::section(&ko, ".text").unwrap().size;
    let offsets: Vec<String> = (0..size).map(|o| format!("{o:#x}")).collect();
    let out = Command::new("addr2line")
        .arg("-e")
        .arg(&object)
        .args(&offsets)
        .output()
        .unwrap();
    let prefix = format!("{}/", tree.display());
    let want: Vec<Option<String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let l = l.split(" (").next().unwrap();
            (!l.starts_with("??")).then(|| l.strip_prefix(&prefix).unwrap_or(l).to_owned())
        })
        .collect();
    let (got, said) = succeeds_with(
        Command::new(bin())
            .args(["lookup", "-v", "--no-cache", "--module"])
            .arg(&ko),
        &offsets.join("\n"),
    );
    assert!(said.contains("no .mod_lineinfo"), "{said}");
    let got: Vec<&str> = got.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(got.len(), want.len());
    let mut names = std::collections::BTreeSet::new();
    for ((offset, want), got) in offsets.iter().zip(&want).zip(&got) {
        let Some(want) = want else { continue };
        assert_eq!(got, want, "{offset}: ours against addr2line");
        names.insert(got.rsplit_once(':').unwrap().0);
    }
    let names: Vec<&str> = names.into_iter().collect();
    assert_eq!(names, ["drivers/fix/m.c", "include/linux/fix.h"]);
}
