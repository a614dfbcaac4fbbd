//! How the tool speaks to a person (issue 20, items 1, 3 and 4): a line for what was not done,
//! the layout found from the tree (or a line saying which was chosen), one verbosity rule for
//! `-s`/`-v`/`make -s`/`V=1`, one error form naming the file at fault, output modes from the
//! umask, and a progress bar that never hides a message (checked on a real pseudo-terminal).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::build::{MODULE_UNITS, VMLINUX_UNITS};
use crate::common::{tools, Variant, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_kbuild-lineinfo");

/// The layout note without a tree, as `module`/`vmlinux` print it.
const CHOSE_V1: &str = "kbuild-lineinfo: no kernel tree (--srctree, $srctree, --objtree): chose \
                        layout v1 (--layout v7 for a kernel with the series' latest posting)\n";

/// A v7 tree's header, as the series' latest posting has it (only what the tool reads).
const V7_HEADER: &str = "struct mod_lineinfo_desc {\n\tu64 anchor;\n\tu32 size;\n};\n";

/// The binary run in `cwd`, with nothing of make or Kbuild in its environment.
fn tool(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd);
    for v in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "V",
        "KBUILD_VERBOSE",
        "srctree",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A workspace with a module `m.ko` (DWARF) and `bare.ko` (the same, stripped).
fn modules() -> (Workspace, PathBuf, PathBuf) {
    let ws = Workspace::new();
    let v = Variant::new("voice");
    let objs = ws.compile_all(&v, &MODULE_UNITS);
    let ko = ws.link_module(&v, &objs, "m.ko");
    let bare = ws.path("bare.ko");
    tools::strip_debug(&ko, &bare);
    (ws, ko, bare)
}

/// A workspace with `vmlinux.1`, linked with the stub the tool writes.
fn vmlinux() -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    let v = Variant::new("voice");
    let objs = ws.compile_all(&v, &VMLINUX_UNITS);
    let stub = ws.path("stub.o");
    tools::run(
        tool(ws.root())
            .args(["vmlinux", "-s", "--stub", "-o"])
            .arg(&stub),
    );
    let image = ws.link_vmlinux(&v, &objs, &[&stub], "vmlinux.1");
    (ws, image)
}

fn copy(from: &Path, to: &Path) -> PathBuf {
    fs::copy(from, to).unwrap();
    to.to_path_buf()
}

/// A source tree carrying the v7 header.
fn v7_tree(ws: &Workspace) -> PathBuf {
    let tree = ws.path("linux");
    fs::create_dir_all(tree.join("include/linux")).unwrap();
    fs::write(tree.join("include/linux/mod_lineinfo.h"), V7_HEADER).unwrap();
    tree
}

#[test]
fn a_module_without_dwarf_is_left_alone_with_one_line() {
    let (ws, _, bare) = modules();
    let before = fs::read(&bare).unwrap();
    for sub in ["module", "gen-mod-lineinfo"] {
        let out = tool(ws.root()).arg(sub).arg(&bare).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{sub}: {}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "kbuild-lineinfo: {}: no DWARF line information: left alone\n",
                bare.display()
            ),
            "{sub}"
        );
        assert_eq!(stdout(&out), "", "{sub}");
        for quiet in [&["-s"][..], &[]] {
            let mut cmd = tool(ws.root());
            if quiet.is_empty() {
                cmd.env("MAKEFLAGS", "rRs -j2");
            }
            let out = cmd.arg(sub).args(quiet).arg(&bare).output().unwrap();
            assert_eq!(out.status.code(), Some(0));
            assert_eq!(stderr(&out), "", "{sub} {quiet:?}: silent");
        }
    }
    assert_eq!(fs::read(&bare).unwrap(), before, "left alone");
}

#[test]
fn modules_skipped_by_the_config_says_so_naming_the_option_and_force() {
    let (ws, ko, _) = modules();
    let obj = ws.path("obj");
    fs::create_dir_all(obj.join("include/config")).unwrap();
    fs::write(
        obj.join("include/config/auto.conf"),
        "CONFIG_MODULES=y\n# CONFIG_KALLSYMS_LINEINFO_MODULES is not set\n",
    )
    .unwrap();
    copy(&ko, &obj.join("m.ko"));
    fs::write(obj.join("modules.order"), "m.o\n").unwrap();
    let before = fs::read(obj.join("m.ko")).unwrap();
    let batch = |extra: &[&str]| {
        tool(ws.root())
            .args(["modules", "--no-cache", "--objtree"])
            .arg(&obj)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = batch(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "kbuild-lineinfo: {}/include/config/auto.conf: CONFIG_KALLSYMS_LINEINFO_MODULES is \
             not set: modules skipped (--force to process them anyway)\n",
            obj.display()
        )
    );
    assert_eq!(fs::read(obj.join("m.ko")).unwrap(), before);
    let out = batch(&["-s"]);
    assert_eq!((out.status.code(), stderr(&out)), (Some(0), String::new()));
    let out = batch(&["--force", "--layout", "v1"]);
    assert_eq!((out.status.code(), stderr(&out)), (Some(0), String::new()));
    assert_ne!(
        fs::read(obj.join("m.ko")).unwrap(),
        before,
        "--force did it"
    );
}

#[test]
fn module_and_vmlinux_take_the_layout_of_the_tree() {
    let (ws, ko, _) = modules();
    let tree = v7_tree(&ws);
    let tree_arg = tree.to_str().unwrap();
    let with = |name: &str, args: &[&str], env: Option<&Path>| {
        let ko = copy(&ko, &ws.path(name));
        let mut cmd = tool(ws.root());
        if let Some(src) = env {
            cmd.env("srctree", src);
        }
        let out = cmd.arg("module").args(args).arg(&ko).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        (fs::read(&ko).unwrap(), stderr(&out))
    };
    let (v7, _) = with("v7.ko", &["--layout", "v7", "--srctree", tree_arg], None);
    let (v1, _) = with("v1.ko", &["--layout", "v1", "--srctree", tree_arg], None);
    assert_ne!(v7, v1, "the layouts differ in bytes");
    let (auto, err) = with("a.ko", &["--srctree", tree_arg], None);
    assert_eq!((auto == v7, err.as_str()), (true, ""), "from --srctree");
    let (auto, err) = with("e.ko", &["--layout", "auto", "--srctree", tree_arg], None);
    assert_eq!((auto == v7, err.as_str()), (true, ""), "--layout auto");

    // Kbuild's exported $srctree, and a configured O= tree whose Makefile includes the source.
    let (v7_plain, _) = with("v7p.ko", &["--layout", "v7"], None);
    let (auto, err) = with("env.ko", &[], Some(&tree));
    assert_eq!(
        (auto == v7_plain, err.as_str()),
        (true, ""),
        "from $srctree"
    );
    let obj = ws.path("o");
    fs::create_dir_all(obj.join("include/config")).unwrap();
    // (CONFIG_MODULE_UNLOAD as the default loader assumes: only the layout may differ.)
    let conf = "CONFIG_MODULES=y\nCONFIG_MODULE_UNLOAD=y\n";
    fs::write(obj.join("include/config/auto.conf"), conf).unwrap();
    fs::write(
        obj.join("Makefile"),
        format!("include {tree_arg}/Makefile\n"),
    )
    .unwrap();
    let obj_arg = obj.to_str().unwrap();
    let (auto, err) = with("obj.ko", &["--objtree", obj_arg], None);
    assert_eq!(
        (auto == v7_plain, err.as_str()),
        (true, ""),
        "from --objtree"
    );

    // No tree: v1, and one line says so (none under -s); -v says where a layout came from.
    let (none, err) = with("none.ko", &[], None);
    assert_eq!(none, with("v1p.ko", &["--layout", "v1"], None).0);
    assert_eq!(err, CHOSE_V1);
    let (_, err) = with("quiet.ko", &["-s"], None);
    assert_eq!(err, "");
    let (_, err) = with("v.ko", &["-v", "--srctree", tree_arg], None);
    assert!(
        err.contains(&format!(
            "lineinfo: layout v7, from {tree_arg}/include/linux/mod_lineinfo.h\n"
        )),
        "{err}"
    );
}

#[test]
fn vmlinux_and_gen_lineinfo_take_the_layout_of_the_tree() {
    let (ws, image) = vmlinux();
    let tree = v7_tree(&ws);
    let run = |out: &str, args: &[&str]| {
        let o = ws.path(out);
        let run = tool(ws.root())
            .arg("vmlinux")
            .args(args)
            .arg("-o")
            .arg(&o)
            .arg(&image)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        (fs::read(&o).unwrap(), stderr(&run))
    };
    let tree_arg = tree.to_str().unwrap();
    let (v7, _) = run("v7.S", &["--layout", "v7", "--srctree", tree_arg]);
    let (v1, _) = run("v1.S", &["--layout", "v1", "--srctree", tree_arg]);
    assert_ne!(v7, v1);
    assert_eq!(
        run("a.S", &["--srctree", tree_arg]),
        (v7.clone(), String::new())
    );
    let (none, err) = run("n.S", &[]);
    assert_eq!(err, CHOSE_V1);
    assert_eq!(none, run("p.S", &["--layout", "v1"]).0);

    // The classic interface: stdout is the table, from $srctree's layout, as Kbuild runs it.
    let out = tool(ws.root())
        .env("srctree", &tree)
        .arg("gen_lineinfo")
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout, v7, "gen_lineinfo with $srctree: the v7 table");
}

#[test]
fn vmlinux_statistics_are_a_verbose_line_and_every_flag_agrees() {
    let (ws, image) = vmlinux();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = tool(ws.root());
        cmd.envs(env.iter().copied());
        let out = cmd
            .args(["vmlinux", "--layout", "v1", "-o", "t.o"])
            .args(args)
            .arg(&image)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stderr(&out)
    };
    assert_eq!(run(&[], &[]), "", "nothing to say by default");
    let verbose = run(&["-v"], &[]);
    assert!(
        verbose.starts_with(&format!("lineinfo: {}: ", image.display()))
            && verbose.contains(" rows, ")
            && verbose.lines().count() == 1,
        "{verbose}"
    );
    // The flags go anywhere on the line, as global options.
    let out = tool(ws.root())
        .args(["-v", "vmlinux", "--layout", "v1", "-o", "t.o"])
        .arg(&image)
        .output()
        .unwrap();
    assert_eq!(stderr(&out), verbose, "-v before the subcommand");
    assert_eq!(run(&[], &[("V", "1")]), verbose, "V=1");
    assert_eq!(run(&[], &[("MAKEFLAGS", "rR -- V=1")]), verbose, "make V=1");
    assert_eq!(run(&[], &[("MAKEFLAGS", "rRs -- V=1")]), "", "make -s V=1");
    assert_eq!(run(&["-s", "-v"], &[]), "", "-s wins");
}

#[test]
fn inputs_at_fault_are_named_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir(d.join("dir.ko")).unwrap();
    fs::write(d.join("empty.ko"), b"").unwrap();
    fs::write(d.join("text.ko"), b"obj-m += foo.o\n").unwrap();
    let cases = [
        ("dir.ko", "is a directory"),
        ("empty.ko", "is empty"),
        ("text.ko", "is not an ELF file"),
        ("none.ko", "No such file or directory"),
    ];
    for sub in ["vmlinux", "module", "gen_lineinfo", "gen-mod-lineinfo"] {
        for (file, what) in cases {
            let out = tool(d).args([sub, file]).output().unwrap();
            assert_eq!(
                (out.status.code(), stderr(&out)),
                (Some(1), format!("kbuild-lineinfo: {file}: {what}\n")),
                "{sub} {file}"
            );
        }
    }
}

#[test]
fn a_bad_table_is_named_not_the_vmlinux() {
    let (ws, image) = vmlinux();
    fs::write(ws.path("t.txt"), "not a table\n").unwrap();
    let head = fs::read(&image).unwrap()[..100].to_vec();
    fs::write(ws.path("cut.o"), head).unwrap();
    let annotate = |table: &str| {
        let out = tool(ws.root())
            .args(["annotate", "--vmlinux"])
            .arg(&image)
            .args(["--table", table])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), stderr(&out))
    };
    assert_eq!(
        annotate("t.txt"),
        (
            Some(1),
            "kbuild-lineinfo: t.txt: is not an ELF file\n".into()
        )
    );
    let (code, err) = annotate("cut.o");
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("kbuild-lineinfo: cut.o: bad ELF: ") && err.lines().count() == 1,
        "{err}"
    );
}

/// The mode of a new file `vmlinux -o` writes under `umask`.
fn mode_under(umask: &str, ws: &Path, image: &Path, out: &str) -> u32 {
    let status = Command::new("sh")
        .current_dir(ws)
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["vmlinux", "--layout", "v1", "-o", out])
        .arg(image)
        .env_remove("MAKEFLAGS")
        .status()
        .unwrap();
    assert!(status.success());
    fs::metadata(ws.join(out)).unwrap().permissions().mode() & 0o7777
}

#[test]
fn outputs_get_the_mode_cc_gives_and_modules_keep_theirs() {
    let (ws, image) = vmlinux();
    assert_eq!(mode_under("022", ws.root(), &image, "a.o"), 0o644);
    assert_eq!(mode_under("077", ws.root(), &image, "b.o"), 0o600);
    assert_eq!(mode_under("002", ws.root(), &image, "c.S"), 0o664);

    let (ws, ko, _) = modules();
    fs::set_permissions(&ko, fs::Permissions::from_mode(0o640)).unwrap();
    let before = fs::read(&ko).unwrap();
    tools::run(
        tool(ws.root())
            .args(["module", "-s", "--layout", "v1"])
            .arg(&ko),
    );
    assert_ne!(fs::read(&ko).unwrap(), before, "rewritten");
    let mode = fs::metadata(&ko).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640, "a module rewritten in place keeps its mode");
}

#[test]
fn no_temporary_file_is_named_in_a_message() {
    let (ws, image) = vmlinux();
    let out = tool(ws.root())
        .args(["vmlinux", "--layout", "v1", "-o", "no/such/dir/t.o"])
        .arg(&image)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err == "kbuild-lineinfo: no/such/dir: cannot create a file: No such file or directory\n"
            && !err.contains(".kbuild-lineinfo."),
        "{err}"
    );
}

/// The final screen of `command` run on a 40×120 pseudo-terminal (`script` allocates it; the
/// `vt100` crate plays the bytes as a terminal would), and the raw bytes.
fn on_a_terminal(cwd: &Path, command: &str) -> (Vec<String>, String) {
    let raw = Command::new("script")
        .current_dir(cwd)
        .args([
            "-qfec",
            &format!("stty rows 40 cols 120; {command}"),
            "/dev/null",
        ])
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("V")
        .env_remove("KBUILD_VERBOSE")
        .env_remove("srctree")
        .output()
        .expect("script(1) from util-linux");
    let mut parser = vt100::Parser::new(40, 120, 0);
    parser.process(&raw.stdout);
    let rows = parser
        .screen()
        .rows(0, 120)
        .map(|r| r.trim_end().to_string())
        .collect();
    (rows, String::from_utf8_lossy(&raw.stdout).into_owned())
}

#[test]
fn on_a_terminal_the_bar_gives_way_to_messages_and_to_a_summary() {
    let (ws, ko, _) = modules();
    let obj = ws.path("obj");
    let mut order = String::new();
    for i in 0..40 {
        copy(&ko, &obj.join(format!("m{i}.ko")));
        order += &format!("m{i}.o\n");
        if i == 30 {
            fs::write(obj.join("bad.ko"), "not a module\n").unwrap();
            order += "bad.o\n";
        }
    }
    fs::write(obj.join("modules.order"), order).unwrap();
    let command = format!(
        "exec {BIN} modules --no-cache -j1 --layout v1 --objtree {}",
        obj.display()
    );
    let (screen, raw) = on_a_terminal(ws.root(), &command);
    assert!(raw.contains("LINEINFO ["), "a bar was drawn: {raw:?}");
    let text: Vec<&String> = screen.iter().filter(|r| !r.is_empty()).collect();
    let error = format!(
        "kbuild-lineinfo: {}: is not an ELF file",
        obj.join("bad.ko").display()
    );
    assert_eq!(
        text.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        [error.as_str(), text.last().unwrap().as_str()],
        "the error on a line of its own, then the summary; no bar left: {screen:#?}"
    );
    let summary = text.last().unwrap();
    assert!(
        summary.starts_with("  LINEINFO 40 updated (0 from cache), 0 up to date, 1 failed; "),
        "{summary}"
    );
}
