//! Hostile input and faults through the real binary: truncated and patched ELF files, bad DWARF,
//! bad LEB128 in line programs, rows past 4 GiB, bad relocations, too many file names, broken
//! `modules.order`, unwritable, vanishing and oversized outputs, SIGKILL mid-embed, corrupt cache
//! entries and a broken jobserver.
//!
//! Every case runs `kbuild-lineinfo` in a fresh temp dir with a deadline and checks: the exit
//! status (1 where the build must stop), stderr is one line naming the file and the problem (no
//! panic, no `RUST_BACKTRACE` hint), and each `.ko` is byte-identical or completely updated.
//! `docs/hostile.md` lists the cases and what happens.
mod util;

use std::path::Path;
use std::process::Command;
use util::*;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// `module` on a patched copy of a freshly built module: fails, names the file, leaves it alone.
fn module_rejects(patch: impl FnOnce(&mut Vec<u8>), expect: &[&str]) {
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    let mut data = std::fs::read(&ko).unwrap();
    patch(&mut data);
    std::fs::write(&ko, &data).unwrap();
    let out = run_in(dir.path(), &["module", "m.ko"], &[]);
    assert_fails(&out, "m.ko");
    for word in expect {
        assert!(
            stderr(&out).contains(word),
            "stderr lacks {word:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(std::fs::read(&ko).unwrap(), data, "m.ko was modified");
}

// ---- Truncation -------------------------------------------------------------------------------

/// 200 cut points spread over the file, plus every byte of the ELF header.
fn cut_points(len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..64).collect();
    cuts.extend((0..200).map(|i| 64 + i * (len - 65) / 199));
    cuts.dedup();
    cuts
}

#[test]
fn truncated_module_fails_and_stays_untouched_at_every_cut() {
    let dir = temp();
    let full = std::fs::read(build_module(dir.path(), &[])).unwrap();
    let ko = dir.path().join("cut.ko");
    for cut in cut_points(full.len()) {
        std::fs::write(&ko, &full[..cut]).unwrap();
        let out = run_in(dir.path(), &["module", "cut.ko"], &[]);
        assert_fails(&out, "cut.ko");
        assert_eq!(
            std::fs::read(&ko).unwrap(),
            &full[..cut],
            "cut at {cut}: file modified"
        );
    }
}

#[test]
fn truncated_vmlinux_fails_with_one_line_at_every_cut() {
    let dir = temp();
    let full = std::fs::read(build_vmlinux(dir.path())).unwrap();
    let image = dir.path().join("cut");
    for cut in cut_points(full.len()) {
        std::fs::write(&image, &full[..cut]).unwrap();
        let out = run_in(dir.path(), &["vmlinux", "-o", "out.o", "cut"], &[]);
        // Cuts inside trailing non-debug sections may still leave a readable image.
        if out.status.success() {
            assert_no_panic(&out);
        } else {
            assert_fails(&out, "cut");
        }
    }
}

// ---- ELF header and section headers -----------------------------------------------------------

#[test]
fn wrong_class_is_rejected() {
    module_rejects(|d| d[4] = 1, &["m.ko"]); // ELFCLASS32 with 64-bit headers
    module_rejects(|d| d[4] = 7, &["m.ko"]);
}

#[test]
fn wrong_byte_order_is_rejected() {
    module_rejects(|d| d[5] = 2, &["m.ko"]); // big endian: every header field now nonsense
    module_rejects(|d| d[5] = 0, &["m.ko"]);
}

#[test]
fn unknown_machine_is_rejected_or_handled() {
    // e_machine = EM_AARCH64 on x86-64 relocations: the relocation types mean other things.
    module_rejects(|d| put_u16(d, 0x12, 183), &["m.ko"]);
    module_rejects(|d| put_u16(d, 0x12, 0x7777), &["m.ko"]);
}

#[test]
fn section_header_table_out_of_range_is_rejected() {
    module_rejects(|d| put_u64(d, 0x28, 0xffff_ffff_0000), &["m.ko"]); // e_shoff
    module_rejects(
        |d| {
            let l = d.len() as u64;
            put_u64(d, 0x28, l - 10)
        },
        &["m.ko"],
    );
    module_rejects(|d| put_u16(d, 0x3c, 0xfff0), &["m.ko"]); // e_shnum
    module_rejects(|d| put_u16(d, 0x3e, 0xfff0), &["m.ko"]); // e_shstrndx
}

#[test]
fn section_data_out_of_range_is_rejected() {
    for name in [
        ".debug_line",
        ".debug_info",
        ".strtab",
        ".shstrtab",
        ".rela.debug_line",
        ".symtab",
    ] {
        module_rejects(
            |d| {
                let s = section_at(d, name);
                put_u64(d, s.header + 24, 1 << 40)
            },
            &["m.ko"],
        );
        module_rejects(
            |d| {
                let s = section_at(d, name);
                put_u64(d, s.header + 32, 1 << 40)
            },
            &["m.ko"],
        );
        module_rejects(
            |d| {
                let s = section_at(d, name);
                put_u64(d, s.header + 32, u64::MAX)
            },
            &["m.ko"],
        );
    }
}

// ---- DWARF ------------------------------------------------------------------------------------

#[test]
fn debug_line_unit_length_past_the_end_is_rejected() {
    module_rejects(
        |d| {
            let s = section_at(d, ".debug_line");
            put_u32(d, s.offset, 0x7fff_0000)
        },
        &["m.ko", "DWARF"],
    );
    // A 64-bit DWARF length that runs past the end.
    module_rejects(
        |d| {
            let s = section_at(d, ".debug_line");
            put_u32(d, s.offset, 0xffff_ffff)
        },
        &["m.ko"],
    );
}

#[test]
fn dwarf_versions_1_and_6_are_rejected() {
    for version in [1u16, 6] {
        module_rejects(
            |d| {
                let s = section_at(d, ".debug_line");
                put_u16(d, s.offset + 4, version)
            },
            &["m.ko"],
        );
        module_rejects(
            |d| {
                let s = section_at(d, ".debug_info");
                put_u16(d, s.offset + 4, version)
            },
            &["m.ko", ".debug_info"],
        );
    }
}

// ---- Relocations ------------------------------------------------------------------------------

/// Patches the first relocation in `.rela.debug_line` with `f(r_offset, r_info)`.
fn patch_rela(d: &mut [u8], f: impl Fn(u64, u64) -> (u64, u64)) {
    let s = section_at(d, ".rela.debug_line");
    let (offset, info) = f(get_u64(d, s.offset), get_u64(d, s.offset + 8));
    put_u64(d, s.offset, offset);
    put_u64(d, s.offset + 8, info);
}

#[test]
fn relocation_of_unknown_type_names_type_and_section() {
    // R_X86_64_PC32 (2) has no business in .debug_line.
    module_rejects(
        |d| patch_rela(d, |o, i| (o, (i & !0xffff_ffff) | 2)),
        &["m.ko", ".debug_line", "2"],
    );
    module_rejects(
        |d| patch_rela(d, |o, i| (o, (i & !0xffff_ffff) | 0xfe)),
        &["m.ko", ".debug_line"],
    );
}

#[test]
fn relocation_symbol_out_of_range_is_rejected() {
    module_rejects(
        |d| patch_rela(d, |o, i| (o, (0xffff << 32) | (i & 0xffff_ffff))),
        &["m.ko"],
    );
}

#[test]
fn relocation_offset_past_section_end_is_rejected() {
    module_rejects(
        |d| {
            let n = section_at(d, ".debug_line").size as u64;
            patch_rela(d, |_, i| (n - 2, i))
        },
        &["m.ko", ".debug_line"],
    );
    module_rejects(
        |d| patch_rela(d, |_, i| (u64::MAX - 3, i)),
        &["m.ko", ".debug_line"],
    );
}

/// `m.ko` embedded with layout v7, then its first `.rela.mod_lineinfo` entry's `r_offset` set
/// to `r_offset`; `lookup --module` on it must fail with one line naming the file, the blob and
/// the relocation (it panicked on `at..at + 8` for an `r_offset` near 2^64).
fn lookup_rejects_anchor_at(r_offset: u64, expect: &str) {
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    let out = run_in(dir.path(), &["module", "--layout", "v7", "m.ko"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut data = std::fs::read(&ko).unwrap();
    let rela = section_at(&data, ".rela.mod_lineinfo");
    put_u64(&mut data, rela.offset, r_offset);
    std::fs::write(&ko, &data).unwrap();
    let out = run_in(dir.path(), &["lookup", "--module", "m.ko", "0x0"], &[]);
    assert_fails(&out, "m.ko");
    let err = stderr(&out);
    let at = format!("relocation at {r_offset:#x}");
    for word in [".mod_lineinfo", &at, expect] {
        assert!(err.contains(word), "stderr lacks {word:?}: {err}");
    }
}

#[test]
fn module_anchor_relocation_outside_the_anchors_is_rejected() {
    lookup_rejects_anchor_at(0xffff_ffff_ffff_fff8, "past the end of the blob");
    lookup_rejects_anchor_at(u64::MAX, "past the end of the blob");
    lookup_rejects_anchor_at(0, "in the blob root");
    // The descriptor's size and table_offset fields, not its anchor.
    lookup_rejects_anchor_at(16, "not in the anchor");
}

#[test]
fn section_size_past_the_address_space_is_rejected() {
    // Found by fuzz target elf_rows: sh_size near 2^64 overflowed `address + size`.
    module_rejects(
        |d| {
            let s = section_at(d, ".text");
            put_u64(d, s.header + 32, u64::MAX - 8)
        },
        &["m.ko"],
    );
}

// ---- File names -------------------------------------------------------------------------------

#[test]
fn too_many_file_names_is_a_clear_error() {
    let dir = temp();
    let mut c = String::from("int big(volatile int *p) {\n");
    for i in 0..65_536 {
        c.push_str(&format!("#line 1 \"f{i:05}.c\"\n *p = {i};\n"));
    }
    c.push_str("return 0; }\n");
    std::fs::write(dir.path().join("many.c"), c).unwrap();
    run(Command::new("cc")
        .args(["-c", "-g", "-O0", "-o", "many.ko", "many.c"])
        .current_dir(dir.path()));
    let before = std::fs::read(dir.path().join("many.ko")).unwrap();
    let out = run_in(dir.path(), &["module", "many.ko"], &[]);
    assert_fails(&out, "many.ko");
    assert!(
        stderr(&out).contains("65536 distinct file names"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(dir.path().join("many.ko")).unwrap(), before);
}

#[test]
fn non_utf8_file_names_keep_their_bytes() {
    let dir = temp();
    let src = b"int caf(int x) { return x + 1; }\n#line 7 \"caf\xe9/\xff\xfe.c\"\nint g(int x) { return x * 2; }\n";
    std::fs::write(dir.path().join("nu.c"), src).unwrap();
    run(Command::new("cc")
        .args(["-c", "-g", "-O1", "-o", "nu.ko", "nu.c"])
        .current_dir(dir.path()));
    let out = run_in(dir.path(), &["module", "nu.ko"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // `g` starts after `caf`; its first row is line 7 of the non-UTF-8 name.
    let file = std::fs::read(dir.path().join("nu.ko")).unwrap();
    let obj = object::File::parse(&*file).unwrap();
    use object::read::{Object, ObjectSymbol};
    let g = obj
        .symbols()
        .find(|s| s.name() == Ok("g"))
        .unwrap()
        .address();
    let query = format!(".text+{g:#x}");
    let out = run_in(dir.path(), &["lookup", "--module", "nu.ko", &query], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // QUERY SYMBOL FILE:LINE; the symbol's size is the compiler's.
    let (head, tail) = (
        [query.as_bytes(), b" g+0x0/"].concat(),
        b" caf\xe9/\xff\xfe.c:7\n",
    );
    assert!(
        out.stdout.starts_with(&head) && out.stdout.ends_with(tail),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// ---- modules.order ----------------------------------------------------------------------------

#[test]
fn modules_order_with_missing_blank_crlf_and_duplicate_entries() {
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("d")).unwrap();
    std::fs::copy(&ko, tree.join("d/x.ko")).unwrap();
    std::fs::copy(&ko, tree.join("y.ko")).unwrap();
    std::fs::write(
        tree.join("modules.order"),
        "d/x.o\r\n\n   \nmissing.o\ny.ko\nd/x.o\r\n",
    )
    .unwrap();
    let out = run_in(
        dir.path(),
        &["modules", "--objtree", "tree", "--no-cache", "--force"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_one_line(&out, "missing.ko");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("d/x.ko").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("y.ko").count(), 1, "{stdout}");
    for m in ["d/x.ko", "y.ko"] {
        let data = std::fs::read(tree.join(m)).unwrap();
        assert!(
            assert_untouched_or_updated(&tree.join(m), &std::fs::read(&ko).unwrap()),
            "{m} not updated"
        );
        drop(data);
    }
}

// ---- Arguments ---------------------------------------------------------------------------------

/// Paths are UTF-8 (camino), as Kbuild's are: a path argument that is not is refused up front
/// with one line naming the argument and the problem, whether or not the path exists, and the
/// file is left alone.
#[test]
fn non_utf8_path_argument_is_one_clear_error() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = temp();
    let obj = OsStr::from_bytes(b"obj\xff");
    let ko = OsStr::from_bytes(b"m\xfe.ko");
    std::fs::create_dir(dir.path().join(obj)).unwrap();
    std::fs::write(dir.path().join(ko), b"\x7fELF not really").unwrap();
    let cases: [(&[&OsStr], &str); 4] = [
        (
            &[OsStr::new("modules"), OsStr::new("--objtree"), obj],
            "--objtree",
        ),
        (&[OsStr::new("module"), ko], "<KO>"),
        (
            &[
                OsStr::new("lookup"),
                OsStr::new("--module"),
                ko,
                OsStr::new("0x0"),
            ],
            "--module",
        ),
        (&[OsStr::new("annotate"), ko], "[LOG]"),
    ];
    for (args, name) in cases {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(dir.path())
            .env_remove("RUST_BACKTRACE")
            .env_remove("MAKEFLAGS")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let out = wait_deadline(&mut cmd, &args);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_one_line(&out, name);
        assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
    }
    assert_eq!(
        std::fs::read(dir.path().join(ko)).unwrap(),
        b"\x7fELF not really"
    );
}

// ---- Unwritable, vanishing and oversized outputs ----------------------------------------------

#[test]
fn read_only_module_is_refused_even_for_root() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    std::fs::set_permissions(&ko, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&ko).unwrap();
    let out = run_in(dir.path(), &["module", "m.ko"], &[]);
    assert_fails(&out, "m.ko");
    assert!(stderr(&out).contains("read-only"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&ko).unwrap(), before);
}

#[test]
fn vanishing_module_is_an_error_for_that_module_only() {
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    let names: Vec<String> = (0..40).map(|i| format!("m{i:02}.ko")).collect();
    for n in &names {
        std::fs::copy(&ko, tree.join(n)).unwrap();
    }
    std::fs::write(tree.join("modules.order"), names.join("\n")).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "modules",
            "--objtree",
            "tree",
            "--no-cache",
            "--force",
            "-j",
            "1",
        ])
        .current_dir(dir.path())
        .env_remove("MAKEFLAGS")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Delete modules from the end of the list while the run goes on.
    for n in names.iter().rev().take(20) {
        let _ = std::fs::remove_file(tree.join(n));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let out = wait_deadline_child(child.id(), &mut child);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    for line in err.lines() {
        assert!(
            line.starts_with("kbuild-lineinfo: tree/m"),
            "unexpected stderr line {line:?}"
        );
    }
    for n in &names {
        let p = tree.join(n);
        if p.exists() {
            assert_untouched_or_updated(&p, &std::fs::read(&ko).unwrap());
        }
    }
    assert_eq!(out.status.code().unwrap() != 0, !err.is_empty(), "{err}");
}

fn wait_deadline_child(_pid: u32, child: &mut std::process::Child) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < DEADLINE, "no exit within {DEADLINE:?}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut stderr = Vec::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    std::process::Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr,
    }
}

#[test]
fn full_disk_leaves_the_module_untouched() {
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    let before = std::fs::read(&ko).unwrap();
    // `ulimit -f` counts 512-byte blocks: the file may not grow by one block.
    let blocks = before.len() / 512;
    let script = format!("ulimit -f {blocks} && exec \"$0\" module m.ko");
    let out = wait_deadline(
        Command::new("sh")
            .args(["-c", &script, BIN])
            .current_dir(dir.path())
            .env_remove("RUST_BACKTRACE")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
        &"ulimit -f",
    );
    assert_fails(&out, "m.ko");
    assert!(
        !assert_untouched_or_updated(&ko, &before),
        "updated beyond the file size limit?"
    );
}

#[test]
fn sigkill_during_module_embedding_leaves_old_or_new_module() {
    let dir = temp();
    // A larger module, so that the kill lands inside the extraction and the embedding.
    let mut extra = String::new();
    for i in 0..1500 {
        extra.push_str(&format!(
            "int f{i}(int x) {{ if (x > {i}) return x - {i}; return x * 3; }}\n"
        ));
    }
    std::fs::write(dir.path().join("big.c"), extra).unwrap();
    run(Command::new("cc")
        .args(["-c", "-g", "-O1", "-o", "big.o", "big.c"])
        .current_dir(dir.path()));
    let original = std::fs::read(dir.path().join("big.o")).unwrap();
    let ko = dir.path().join("k.ko");
    std::fs::write(&ko, &original).unwrap();
    // The run's length: the fastest of three (the first one reads the files from disk), so that
    // the kill delays below span the run, start to end.
    let spawn = || {
        Command::new(BIN)
            .args(["module", "-s", "k.ko"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let full_run = (0..3)
        .map(|_| {
            std::fs::write(&ko, &original).unwrap();
            let start = std::time::Instant::now();
            assert!(spawn().wait().unwrap().success());
            start.elapsed()
        })
        .min()
        .unwrap();
    let updated = std::fs::read(&ko).unwrap();
    // Rounds whose kill landed (the child died of SIGKILL: `Child::kill` also says Ok for a
    // child that had already exited), and the states found after them.
    let (mut kills, mut old_seen, mut new_seen) = (0, 0, 0);
    for i in 0..60u32 {
        std::fs::write(&ko, &original).unwrap();
        let mut child = spawn();
        std::thread::sleep(full_run * i / 80);
        child.kill().unwrap();
        let killed = {
            use std::os::unix::process::ExitStatusExt;
            child.wait().unwrap().signal() == Some(9)
        };
        // The in-place strategy (src/modules/embed.rs) may leave unreferenced bytes after the
        // ELF the header describes; the next run cuts them. Anything else is a torn module.
        let now = std::fs::read(&ko).unwrap();
        if killed {
            kills += 1;
            old_seen += usize::from(now.starts_with(&original));
        }
        new_seen += usize::from(now.starts_with(&updated));
        let old_or_new = now.starts_with(&original) || now.starts_with(&updated);
        assert!(
            old_or_new,
            "kill {i}: {} bytes, neither old nor new",
            now.len()
        );
        object::File::parse(&*now).unwrap_or_else(|e| panic!("kill {i}: {e}"));
        // A rerun always completes the job.
        let out = run_in(dir.path(), &["module", "-s", "k.ko"], &[]);
        assert!(
            out.status.success(),
            "rerun after kill {i}: {}",
            stderr(&out)
        );
        assert_eq!(std::fs::read(&ko).unwrap(), updated, "rerun after kill {i}");
    }
    // The rounds must span the run: kills that landed on a running child and found the module
    // untouched, and rounds late enough to find it new, or they proved nothing.
    assert!(
        kills >= 10 && old_seen > 0 && new_seen > 0,
        "{kills} kills landed on a running child, {old_seen} of them found the old module, \
         {new_seen} rounds the new one: the kill delays ({full_run:?} run) no longer span it"
    );
}

// ---- Cache and jobserver ----------------------------------------------------------------------

/// A tree of three modules with a modules.order, under `dir/name`.
fn tree_of_modules(dir: &Path, name: &str, ko: &Path) -> std::path::PathBuf {
    let tree = dir.join(name);
    std::fs::create_dir_all(&tree).unwrap();
    for n in ["a.ko", "b.ko", "c.ko"] {
        std::fs::copy(ko, tree.join(n)).unwrap();
    }
    std::fs::write(tree.join("modules.order"), "a.ko\nb.ko\nc.ko\n").unwrap();
    tree
}

fn cache_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out
}

fn corrupt_cache_gives_cold_bytes(damage: impl Fn(&mut Vec<u8>)) {
    let dir = temp();
    // Distinct modules, so that each has its own cache entry.
    let ko = build_module(dir.path(), &[]);
    let cold = tree_of_modules(dir.path(), "cold", &ko);
    let out = run_in(
        dir.path(),
        &[
            "modules",
            "--objtree",
            "cold",
            "--no-cache",
            "--force",
            "-s",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let warm = tree_of_modules(dir.path(), "warm", &ko);
    let args = [
        "modules",
        "--objtree",
        "warm",
        "--cache-dir",
        "cache",
        "--force",
        "-s",
    ];
    assert!(run_in(dir.path(), &args, &[]).status.success());
    let entries = cache_files(&dir.path().join("cache"));
    assert!(!entries.is_empty(), "nothing cached");
    for e in &entries {
        let mut data = std::fs::read(e).unwrap();
        damage(&mut data);
        std::fs::write(e, data).unwrap();
    }
    let again = tree_of_modules(dir.path(), "again", &ko);
    let args = [
        "modules",
        "--objtree",
        "again",
        "--cache-dir",
        "cache",
        "--force",
        "-s",
    ];
    let out = run_in(dir.path(), &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_panic(&out);
    for n in ["a.ko", "b.ko", "c.ko"] {
        assert_eq!(
            std::fs::read(again.join(n)).unwrap(),
            std::fs::read(cold.join(n)).unwrap(),
            "{n}"
        );
    }
    let _ = warm;
}

#[test]
fn flipped_cache_bytes_are_a_miss() {
    corrupt_cache_gives_cold_bytes(|d| {
        let n = d.len();
        for at in [0, n / 3, n / 2, n - 1] {
            d[at] ^= 0x5a;
        }
    });
}

#[test]
fn truncated_cache_entries_are_a_miss() {
    corrupt_cache_gives_cold_bytes(|d| d.truncate(d.len() / 2));
    corrupt_cache_gives_cold_bytes(|d| d.clear());
}

fn broken_jobserver(makeflags: &str) {
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    tree_of_modules(dir.path(), "t", &ko);
    let args = ["modules", "--objtree", "t", "--no-cache", "--force", "-s"];
    let out = run_in(dir.path(), &args, &[("MAKEFLAGS", makeflags)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_one_line(&out, "jobserver");
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
    for n in ["a.ko", "b.ko", "c.ko"] {
        assert!(assert_untouched_or_updated(
            &dir.path().join("t").join(n),
            &std::fs::read(&ko).unwrap()
        ));
    }
}

#[test]
fn jobserver_fifo_that_does_not_exist_warns_once() {
    broken_jobserver(" -j4 --jobserver-auth=fifo:/nonexistent/jobserver");
}

#[test]
fn jobserver_closed_fds_warn_once() {
    broken_jobserver(" -j4 --jobserver-auth=99,100");
}

#[test]
fn fuzz_crash_section_end_overflow_is_an_error() {
    // elf_rows artifact: `.text` at a saturated synthetic base 0xffff_ffff_ffff_ffff with size
    // 0x1f panicked on `address + size` in extract::module.
    let dir = temp();
    let bytes = include_bytes!("bad_input/fuzz-section-end-overflow.o");
    std::fs::write(dir.path().join("f.ko"), bytes).unwrap();
    let out = run_in(dir.path(), &["module", "f.ko"], &[]);
    assert_fails(&out, "f.ko");
    assert!(
        stderr(&out).contains("ends past the 64-bit address space"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(dir.path().join("f.ko")).unwrap(), bytes);
}

// ---- LEB128 in a line program -----------------------------------------------------------------

/// Offsets in `.debug_line` where an instruction of a line program starts, from
/// `llvm-dwarfdump --debug-line -v` (an oracle independent of gimli).
fn line_instruction_offsets(data: &[u8]) -> Vec<usize> {
    let dir = temp();
    let path = dir.path().join("o.ko");
    std::fs::write(&path, data).unwrap();
    let out = run(Command::new("llvm-dwarfdump")
        .args(["--debug-line", "-v"])
        .arg(&path));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (at, rest) = l.strip_prefix("0x")?.split_once(": ")?;
            (at.len() == 8 && rest.get(2..3) == Some(" ")).then_some(())?;
            usize::from_str_radix(at, 16).ok()
        })
        .collect()
}

/// Ends the line program of `b.c` (the last unit of `m.ko`'s `.debug_line`) with `tail`: from the
/// last instruction boundary that leaves room, `DW_LNS_set_prologue_end` (a one-byte instruction
/// that makes no row) fills up to `tail`, which ends at the end of the unit and section. Panics
/// when a relocation reaches into the patched bytes (it would overwrite them).
fn patch_line_program_tail(d: &mut [u8], tail: &[u8]) {
    let line = section_at(d, ".debug_line");
    let rela = section_at(d, ".rela.debug_line");
    let reloc_end = (0..rela.size / 24)
        .map(|i| get_u64(d, rela.offset + 24 * i) as usize + 8)
        .max()
        .unwrap();
    let end = line.size - tail.len();
    let from = line_instruction_offsets(d)
        .into_iter()
        .filter(|&at| at <= end)
        .max()
        .unwrap();
    assert!(
        reloc_end <= from,
        "relocation up to {reloc_end:#x} in the tail"
    );
    d[line.offset + from..line.offset + end].fill(0x0a);
    d[line.offset + end..line.offset + line.size].copy_from_slice(tail);
}

#[test]
fn leb128_cut_short_at_the_end_of_the_line_program_is_rejected() {
    // DW_LNS_advance_pc and DW_LNS_advance_line operands, and an extended opcode's length, whose
    // continuation bits run into the end of the unit.
    for tail in [
        &[0x02, 0x80, 0x80][..],
        &[0x03, 0xff],
        &[0x00, 0x80, 0x80, 0x80],
    ] {
        module_rejects(
            |d| patch_line_program_tail(d, tail),
            &["m.ko", "DWARF", "end of input"],
        );
    }
}

#[test]
fn leb128_longer_than_64_bits_in_the_line_program_is_rejected() {
    // Ten continuation bytes: the value needs more than 64 bits (gimli stops at the tenth byte).
    let mut advance_pc = vec![0x02];
    advance_pc.extend([0x80; 10]);
    advance_pc.extend([0x00, 0x00, 0x01, 0x01]);
    // The same as the length of an extended opcode (DW_LNE_set_address would follow).
    let mut length = vec![0x00];
    length.extend([0x80; 10]);
    length.extend([0x00, 0x02]);
    for tail in [advance_pc, length] {
        module_rejects(
            |d| patch_line_program_tail(d, &tail),
            &["m.ko", "DWARF", "LEB128"],
        );
    }
}

#[test]
fn padded_leb128_longer_than_5_bytes_reads_as_its_value() {
    // DWARF does not bound the length of a LEB128: `81 80 80 80 80 80 00` is 1 in 7 bytes (more
    // than the 5 a u32 needs). The table must equal the one of the same program with `02 01`
    // and two-byte no-ops.
    let dir = temp();
    let ko = build_module(dir.path(), &[]);
    let original = std::fs::read(&ko).unwrap();
    let lineinfo = |tail: &[u8]| {
        let mut data = original.clone();
        patch_line_program_tail(&mut data, tail);
        std::fs::write(&ko, &data).unwrap();
        let out = run_in(dir.path(), &["module", "m.ko"], &[]);
        assert!(out.status.success(), "{tail:x?}: {}", stderr(&out));
        assert_no_panic(&out);
        let data = std::fs::read(&ko).unwrap();
        let s = section_at(&data, ".mod_lineinfo");
        data[s.offset..s.offset + s.size].to_vec()
    };
    let end_sequence = [0x00, 0x01, 0x01];
    let padded = [
        &[0x02, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00][..],
        &end_sequence,
    ]
    .concat();
    let short = [
        &[0x02, 0x01, 0x02, 0x00, 0x02, 0x00, 0x02, 0x00][..],
        &end_sequence,
    ]
    .concat();
    assert_eq!(lineinfo(&padded), lineinfo(&short));
}

// ---- Offsets past 4 GiB -----------------------------------------------------------------------

const LOW: u64 = 0x1000;
const HIGH: u64 = LOW + (1 << 32) + 0x100;

/// DWARF 4 for one unit `big.c` with two sequences of 0x20 bytes: lines 10, 11 at `LOW`, lines
/// 98, 99 at `HIGH` (4 GiB + 0x100 past `LOW`).
fn dwarf_across_4_gib() -> Vec<(String, Vec<u8>)> {
    use gimli::write::{Address, Dwarf, LineProgram, LineString, Unit};
    let encoding = gimli::Encoding {
        format: gimli::Format::Dwarf32,
        version: 4,
        address_size: 8,
    };
    let s = |v: &str| LineString::String(v.as_bytes().to_vec());
    let mut program = LineProgram::new(
        encoding,
        gimli::LineEncoding::default(),
        s("/build"),
        None,
        s("big.c"),
        None,
    );
    let dir = program.default_directory();
    let file = program.add_file(s("big.c"), dir, None);
    for (start, lines) in [(LOW, [10, 11]), (HIGH, [98, 99])] {
        program.begin_sequence(Some(Address::Constant(start)));
        for (off, line) in [0, 0x10].into_iter().zip(lines) {
            let row = program.row();
            row.address_offset = off;
            row.file = file;
            row.line = line;
            program.generate_row();
        }
        program.end_sequence(0x20);
    }
    let mut dwarf = Dwarf::new();
    let mut unit = Unit::new(encoding, program);
    let root = unit.root();
    let name = gimli::write::AttributeValue::String(b"big.c".to_vec());
    unit.get_mut(root).set(gimli::DW_AT_name, name);
    let dir = gimli::write::AttributeValue::String(b"/build".to_vec());
    unit.get_mut(root).set(gimli::DW_AT_comp_dir, dir);
    dwarf.units.add(unit);
    crate::common::elfwrite::dwarf_sections(&mut dwarf, gimli::RunTimeEndian::Little)
}

/// A vmlinux-like executable: `.text` at `LOW`, `.text.high` at `HIGH`, `_text` = `LOW` and
/// `_etext` past both, so that every row is inside `[_text, _etext)`.
fn vmlinux_across_4_gib() -> Vec<u8> {
    use crate::common::elfwrite::*;
    let text = |name: &str, addr| OutSection {
        name: name.into(),
        sh_type: SHT_PROGBITS,
        flags: SHF_ALLOC | SHF_EXECINSTR,
        addr,
        align: 16,
        data: vec![0x90; 0x20],
    };
    let mut sections = vec![text(".text", LOW), text(".text.high", HIGH)];
    for (name, data) in dwarf_across_4_gib() {
        sections.push(OutSection::debug(name, data));
    }
    let sym = |name: &str, value| OutSymbol {
        name: name.into(),
        value,
        section: 0,
        st_type: STT_NOTYPE,
        global: true,
    };
    let symbols = [sym("_text", LOW), sym("_etext", HIGH + 0x1000)];
    write_exec(X86_64, &sections, &symbols)
}

#[test]
fn offsets_past_4_gib_are_skipped_with_one_warning_never_wrapped() {
    let dir = temp();
    std::fs::write(dir.path().join("vmlinux"), vmlinux_across_4_gib()).unwrap();
    let out = run_in(dir.path(), &["vmlinux", "-o", "t.o", "vmlinux"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_panic(&out);
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("4 GiB"), "{err}");
    assert!(warnings[0].contains(" 2 rows "), "{err}");
    // The low rows answer; the high rows' offsets less 4 GiB (0x100, 0x110) do not give 98/99.
    let queries = ["0x0", "0xf", "0x10", "0x1f", "0x100", "0x110", "0x11f"];
    let mut args = vec!["lookup", "--vmlinux", "t.o"];
    args.extend(queries);
    let out = run_in(dir.path(), &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answers = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = answers.lines().collect();
    assert_eq!(lines.len(), queries.len(), "{answers}");
    for (q, want) in queries[..4].iter().zip([10, 10, 11, 11]) {
        assert!(
            lines.contains(&&*format!("{q} ?? big.c:{want}")),
            "{answers}"
        );
    }
    assert!(
        !answers.contains(":98") && !answers.contains(":99"),
        "a row past 4 GiB wrapped: {answers}"
    );
}
