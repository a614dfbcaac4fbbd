//! `kbuild-lineinfo kbuild install|uninstall` on synthetic kernel trees in a temp dir.
//!
//! The trees mimic the hooks of the CONFIG_KALLSYMS_LINEINFO series (docs/format.md §4.1/§4.2, and
//! the lines of scripts/link-vmlinux.sh, scripts/Makefile.modfinal and scripts/Makefile in the
//! posted patches) as small scripts and makefiles that really run: the rewritten hooks are
//! executed with `sh` and `make` against a fake tool that records how it was called.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::tools::assert_success;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_kbuild-lineinfo");

/// A miniature link-vmlinux.sh: the series' gen_lineinfo() with its call of the C tool.
const LINK_VMLINUX: &str = r#"#!/bin/sh
set -e
info() { printf '  %-7s %s\n' "${1}" "${2}"; }

# Tables from the DWARF of ${1} (scripts/gen_lineinfo is the series' C tool).
gen_lineinfo()
{
	info LINEINFO .tmp_lineinfo.S
	if ! scripts/gen_lineinfo "${1}" > .tmp_lineinfo.S; then
		echo >&2 "Failed to generate lineinfo from ${1}"
		exit 1
	fi
	lineinfo_o=.tmp_lineinfo.o
}

gen_lineinfo .tmp_vmlinux1
"#;

/// A miniature Makefile.modfinal: the series' command and recipe line, with Kbuild's helpers
/// reduced to what they do here.
const MODFINAL: &str = "\
include auto.conf
modules := m.o
cmd = @echo '  $(quiet_cmd_$(1))'; $(cmd_$(1))
newer-prereqs = $(filter-out FORCE,$?)

__modfinal: $(modules:%.o=%.ko)

quiet_cmd_lineinfo_ko = LINEINFO [M] $@
      cmd_lineinfo_ko = $(CONFIG_SHELL) $(srctree)/scripts/gen-mod-lineinfo.sh $@

%.ko: %.o FORCE
\t+$(if $(newer-prereqs),$(call cmd,lineinfo_ko))

FORCE:
";

const SCRIPTS_MAKEFILE: &str = "\
hostprogs-always-$(CONFIG_KALLSYMS)\t\t\t+= kallsyms\n\
hostprogs-always-$(CONFIG_KALLSYMS_LINEINFO)\t\t+= gen_lineinfo\n\
hostprogs-always-$(CONFIG_KALLSYMS_LINEINFO_MODULES)\t+= gen_lineinfo\n\
HOSTLDLIBS_gen_lineinfo = -ldw -lelf -lz\n";

const HEADER_V1: &str = "struct mod_lineinfo_header { u32 num_entries; u32 num_files; };\n";
const HEADER_V7: &str = "/* .mod_lineinfo and .init.mod_lineinfo */\nstruct mod_lineinfo_desc { u64 anchor; u32 size; u32 table_offset; };\n";

fn write(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes each `(path under root, text, mode)`.
fn write_files(root: &Path, files: &[(&str, &str, u32)]) {
    for &(rel, text, mode) in files {
        write(&root.join(rel), text, mode);
    }
}

/// A kernel tree without the series: top Makefile, an unpatched link script, CRLF noise.
fn plain_tree(root: &Path) {
    write_files(
        root,
        &[
            ("Makefile", "VERSION = 6\r\nPATCHLEVEL = 12\r\n", 0o644),
            (
                "scripts/link-vmlinux.sh",
                "#!/bin/sh\nset -e\necho link\n",
                0o755,
            ),
            ("scripts/Makefile.modfinal", "__modfinal:\n\t@:\n", 0o644),
            (
                "scripts/Makefile",
                "hostprogs-always-$(CONFIG_KALLSYMS) += kallsyms\n",
                0o644,
            ),
        ],
    );
}

/// A tree carrying the series (v1 or v7 header).
fn series_tree(root: &Path, v7: bool) {
    plain_tree(root);
    let header = if v7 { HEADER_V7 } else { HEADER_V1 };
    write_files(
        root,
        &[
            ("scripts/link-vmlinux.sh", LINK_VMLINUX, 0o755),
            ("scripts/Makefile.modfinal", MODFINAL, 0o644),
            ("scripts/Makefile", SCRIPTS_MAKEFILE, 0o644),
            (
                "scripts/gen_lineinfo.c",
                "int main(void) { return 1; }\n",
                0o644,
            ),
            ("scripts/gen-mod-lineinfo.sh", "#!/bin/sh\nexit 1\n", 0o755),
            ("include/linux/mod_lineinfo.h", header, 0o644),
        ],
    );
}

/// A stand-in for the tool: appends its arguments to `calls` and writes an empty .S.
fn fake_tool(dir: &Path) -> PathBuf {
    let tool = dir.join("bin/fake-lineinfo");
    let log = dir.join("calls");
    write(
        &tool,
        &format!(
            "#!/bin/sh\necho \"$@\" >> {}\n[ \"$1\" = gen_lineinfo ] && echo '# tables'\nexit 0\n",
            log.display()
        ),
        0o755,
    );
    tool
}

type Snapshot = BTreeMap<PathBuf, (Vec<u8>, u32)>;

/// Every file under `root` with its bytes and permission bits, and every directory.
fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                out.insert(rel, (b"<dir>".to_vec(), mode));
                stack.push(path);
            } else {
                out.insert(rel, (fs::read(&path).unwrap(), mode));
            }
        }
    }
    out
}

fn run(args: &[&str], srctree: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--srctree")
        .arg(srctree)
        .output()
        .unwrap()
}

/// `kbuild install --srctree SRCTREE --tool TOOL`, whatever its exit status.
fn try_install(srctree: &Path, tool: &Path) -> Output {
    Command::new(BIN)
        .args(["kbuild", "install", "--srctree"])
        .arg(srctree)
        .arg("--tool")
        .arg(tool)
        .output()
        .unwrap()
}

fn install(srctree: &Path, tool: &Path) -> Output {
    let out = try_install(srctree, tool);
    assert!(
        out.status.success(),
        "install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A temp dir with the fake tool and a series tree (`v7` or v1) at `linux/`.
fn series_setup(v7: bool) -> (TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (tree, tool) = (dir.path().join("linux"), fake_tool(dir.path()));
    series_tree(&tree, v7);
    (dir, tree, tool)
}

fn uninstall(srctree: &Path) -> Output {
    run(&["kbuild", "uninstall"], srctree)
}

fn text(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

#[test]
fn install_then_uninstall_restores_the_tree_byte_for_byte() {
    let (_dir, tree, tool) = series_setup(false);
    let before = snapshot(&tree);

    install(&tree, &tool);
    let during = snapshot(&tree);
    let changed: Vec<_> = before.keys().filter(|k| before[*k] != during[*k]).collect();
    assert_eq!(
        changed,
        [
            Path::new("scripts/Makefile"),
            Path::new("scripts/Makefile.modfinal"),
            Path::new("scripts/link-vmlinux.sh")
        ]
    );
    assert_eq!(
        during[Path::new("scripts/link-vmlinux.sh")].1,
        0o755,
        "mode kept"
    );

    let out = uninstall(&tree);
    assert_success(&out);
    assert_eq!(
        snapshot(&tree),
        before,
        "uninstall must restore every byte and mode"
    );
}

#[test]
fn installed_hooks_call_the_tool_under_sh_and_make() {
    let (dir, tree, tool) = series_setup(false);
    install(&tree, &tool);
    let tool = fs::canonicalize(&tool).unwrap();
    let calls = dir.path().join("calls");

    // link-vmlinux.sh, run from the tree as Kbuild does.
    let out = Command::new("sh")
        .arg("scripts/link-vmlinux.sh")
        .current_dir(&tree)
        .output()
        .unwrap();
    assert_success(&out);
    let srctree = fs::canonicalize(&tree).unwrap();
    let srctree = srctree.display();
    assert_eq!(
        text(&calls),
        format!("gen_lineinfo --layout v1 --srctree {srctree} .tmp_vmlinux1\n")
    );
    assert_eq!(text(&tree.join(".tmp_lineinfo.S")), "# tables\n");
    fs::remove_file(&calls).unwrap();

    // Makefile.modfinal: the per-module step, under make with the option on.
    fs::write(
        tree.join("auto.conf"),
        "CONFIG_KALLSYMS_LINEINFO_MODULES=y\n",
    )
    .unwrap();
    fs::write(tree.join("m.o"), "").unwrap();
    let make = |tree: &Path| {
        Command::new("make")
            .args([
                "-s",
                "-f",
                "scripts/Makefile.modfinal",
                "srctree=.",
                "CONFIG_SHELL=sh",
            ])
            .current_dir(tree)
            .output()
            .unwrap()
    };
    let out = make(&tree);
    assert_success(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "  LINEINFO [M] m.ko\n"
    );
    assert_eq!(
        text(&calls),
        format!("gen-mod-lineinfo --layout v1 --srctree {srctree} m.ko\n")
    );

    // The tool is a prerequisite of each module: a newer tool reruns the step, the same one does not.
    fs::write(tree.join("m.ko"), "").unwrap();
    fs::remove_file(&calls).unwrap();
    let out = make(&tree);
    assert!(out.status.success());
    assert!(
        !calls.exists(),
        "up to date: the step must not run ({})",
        String::from_utf8_lossy(&out.stdout)
    );
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(&tool)
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert!(make(&tree).status.success());
    assert_eq!(
        text(&calls),
        format!("gen-mod-lineinfo --layout v1 --srctree {srctree} m.ko\n")
    );

    let scripts = text(&tree.join("scripts/Makefile"));
    assert!(
        !scripts
            .lines()
            .any(|l| l.starts_with("hostprogs") && l.ends_with("gen_lineinfo")),
        "{scripts}"
    );
    assert!(scripts.contains("+= kallsyms"));
}

#[test]
fn installing_twice_is_installing_once() {
    let (dir, tree, tool) = series_setup(false);
    let before = snapshot(&tree);
    install(&tree, &tool);
    let once = snapshot(&tree);
    let out = install(&tree, &tool);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already installed"));
    assert_eq!(snapshot(&tree), once);

    // Another tool: the hooks call it, and uninstall still finds the pristine originals.
    let other = dir.path().join("bin/other-lineinfo");
    fs::copy(&tool, &other).unwrap();
    install(&tree, &other);
    let link = text(&tree.join("scripts/link-vmlinux.sh"));
    assert!(
        link.contains("other-lineinfo gen_lineinfo --layout v1"),
        "{link}"
    );
    assert!(!link.contains("fake-lineinfo"), "{link}");
    assert!(uninstall(&tree).status.success());
    assert_eq!(snapshot(&tree), before);
    let again = uninstall(&tree);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to undo"));
}

#[test]
fn v7_trees_get_the_v7_layout() {
    let (_dir, tree, tool) = series_setup(true);
    let out = install(&tree, &tool);
    assert!(String::from_utf8_lossy(&out.stdout).contains("v7 layout"));
    assert!(text(&tree.join("scripts/link-vmlinux.sh"))
        .contains(" gen_lineinfo --layout v7 --srctree "));
    assert!(text(&tree.join("scripts/Makefile.modfinal"))
        .contains(" gen-mod-lineinfo --layout v7 --srctree $(realpath $(srctree)) $@"));
}

#[test]
fn a_tree_without_the_series_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (tree, tool) = (dir.path().join("linux"), fake_tool(dir.path()));
    plain_tree(&tree);
    let before = snapshot(&tree);
    let out = try_install(&tree, &tool);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "does not carry the CONFIG_KALLSYMS_LINEINFO series",
        "scripts/gen_lineinfo.c",
        "scripts/gen-mod-lineinfo.sh",
        "include/linux/mod_lineinfo.h",
        "the call of scripts/gen_lineinfo in scripts/link-vmlinux.sh",
        "the call of scripts/gen-mod-lineinfo.sh in scripts/Makefile.modfinal",
        "kbuild-lineinfo modules --objtree OBJ --vmlinux OBJ/vmlinux -o OBJ/lineinfo.o",
        "kbuild-lineinfo lookup",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    assert_eq!(snapshot(&tree), before);
}

#[test]
fn uninstall_refuses_to_lose_later_edits_unless_forced() {
    let (_dir, tree, tool) = series_setup(false);
    let before = snapshot(&tree);
    install(&tree, &tool);
    let link = tree.join("scripts/link-vmlinux.sh");
    fs::write(&link, text(&link) + "# local edit\n").unwrap();

    let out = uninstall(&tree);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("changed since") && err.contains("scripts/link-vmlinux.sh"),
        "{err}"
    );
    assert!(
        text(&link).ends_with("# local edit\n"),
        "a refused uninstall changes nothing"
    );
    // Installing again would rewrite the edited file from a stale copy: refused too.
    let out = try_install(&tree, &tool);
    assert!(!out.status.success());

    let out = run(&["kbuild", "uninstall", "--force"], &tree);
    assert_success(&out);
    assert_eq!(snapshot(&tree), before);
}

#[test]
fn tool_paths_that_need_quoting_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("linux");
    series_tree(&tree, false);
    let tool = dir.path().join("my tools/kbuild-lineinfo");
    write(&tool, "#!/bin/sh\n", 0o755);
    let before = snapshot(&tree);
    let out = try_install(&tree, &tool);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("must be made of"));
    assert_eq!(snapshot(&tree), before);
}

// The make/ fragments, run the way a tree would run them, against the fake tool.

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn modfinal_fragment_runs_once_per_changed_module_with_the_trees_layout() {
    let dir = tempfile::tempdir().unwrap();
    let tool = fake_tool(dir.path());
    let tree = dir.path().join("linux");
    series_tree(&tree, true);
    let makefile = format!(
        "CONFIG_KALLSYMS_LINEINFO_MODULES := y\n\
         modules := m.o\n\
         srctree := {}\n\
         cmd = @echo '  $(quiet_cmd_$(1))'; $(cmd_$(1))\n\
         newer-prereqs = $(filter-out FORCE,$?)\n\
         __modfinal: m.ko\n\
         include {}\n\
         %.ko: %.o FORCE\n\
         \t+$(if $(newer-prereqs),$(call cmd,lineinfo_ko))\n\
         FORCE:\n",
        tree.display(),
        repo_file("make/Makefile.modfinal.lineinfo").display()
    );
    fs::write(dir.path().join("Makefile"), makefile).unwrap();
    fs::write(dir.path().join("m.o"), "").unwrap();
    let make = || {
        Command::new("make")
            .arg("-s")
            .env("KBUILD_LINEINFO", &tool)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = make();
    assert_success(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "  LINEINFO [M] m.ko\n"
    );
    let srctree = fs::canonicalize(&tree).unwrap();
    let want = format!(
        "gen-mod-lineinfo --layout v7 --srctree {} m.ko\n",
        srctree.display()
    );
    assert_eq!(text(&dir.path().join("calls")), want);
    fs::write(dir.path().join("m.ko"), "").unwrap();
    let out = make();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "an up-to-date module is left alone"
    );
}

#[test]
fn link_vmlinux_fragment_writes_a_real_stub_and_stops_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("a.c");
    fs::write(&c, "int f(void) { return 1; }\n").unwrap();
    let cc = Command::new("cc")
        .arg("-c")
        .arg(&c)
        .arg("-o")
        .arg(dir.path().join("vmlinux.o"))
        .status()
        .unwrap();
    assert!(cc.success());
    fs::copy(
        dir.path().join("vmlinux.o"),
        dir.path().join(".tmp_vmlinux1"),
    )
    .unwrap();
    let script = format!(
        "set -e\ninfo() {{ printf '  %-7s %s\\n' \"$1\" \"$2\"; }}\n\
         . {}\n\
         lineinfo_stub\necho \"stub: $lineinfo_o\"\n\
         lineinfo_table .tmp_vmlinux1\necho unreachable\n",
        repo_file("make/link-vmlinux.lineinfo.sh").display()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("KBUILD_LINEINFO", BIN)
        .env("srctree", dir.path())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("  LINEINFO .tmp_lineinfo.o\nstub: .tmp_lineinfo.o\n"),
        "{stdout}"
    );
    let nm = Command::new("nm")
        .arg(dir.path().join(".tmp_lineinfo.o"))
        .output()
        .unwrap();
    let symbols = String::from_utf8_lossy(&nm.stdout);
    for s in [
        "lineinfo_num_entries",
        "lineinfo_data",
        "lineinfo_filenames",
    ] {
        assert!(symbols.contains(s), "stub lacks {s}:\n{symbols}");
    }
    // .tmp_vmlinux1 here is an object without _text: the table step must fail the link.
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Failed to generate lineinfo from .tmp_vmlinux1"));
    assert!(!stdout.contains("unreachable"));
}

#[test]
fn gen_mod_lineinfo_wrapper_calls_the_tool() {
    let dir = tempfile::tempdir().unwrap();
    let tool = fake_tool(dir.path());
    let wrapper = repo_file("make/gen-mod-lineinfo.sh");
    let run = |args: &[&str], tool: &Path| {
        Command::new(&wrapper)
            .args(args)
            .env("KBUILD_LINEINFO", tool)
            .env("srctree", dir.path())
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    assert!(run(&["drivers/x.ko"], &tool).status.success());
    let srctree = fs::canonicalize(dir.path()).unwrap();
    let want = format!(
        "gen-mod-lineinfo --layout v1 --srctree {} drivers/x.ko\n",
        srctree.display()
    );
    assert_eq!(text(&dir.path().join("calls")), want);
    let usage = run(&[], &tool);
    assert_eq!(usage.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("Usage:"));
    let missing = run(&["x.ko"], &dir.path().join("nope"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("KBUILD_LINEINFO"));
}

#[test]
fn batch_fragment_runs_the_tool_within_makes_jobserver() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("bin/fake-lineinfo");
    let log = dir.path().join("calls");
    write(
        &tool,
        &format!(
            "#!/bin/sh\necho \"$@\" >> {0}\necho \"MAKEFLAGS=$MAKEFLAGS\" >> {0}\n",
            log.display()
        ),
        0o755,
    );
    let out = Command::new("make")
        .arg("-j2")
        .arg("-f")
        .arg(repo_file("make/lineinfo.mk"))
        .arg("objtree=O")
        .arg(format!("KBUILD_LINEINFO={}", tool.display()))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "  LINEINFO modules.order + O/vmlinux\n"
    );
    let calls = text(&log);
    let mut lines = calls.lines();
    let args: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        args,
        [
            "modules",
            "--objtree",
            "O",
            "--force",
            "--vmlinux",
            "O/vmlinux",
            "-o",
            "O/lineinfo.o"
        ]
    );
    assert!(
        lines.next().unwrap().contains("--jobserver-auth="),
        "{calls}"
    );
}
