//! Embedding sections into module-like objects built at test time with `cc -c -g` and `ld -r`,
//! checked with binutils (`readelf`, `objdump`, `ld`) and `object` as independent oracles.
//!
//! The file handling of the `module` and `modules` subcommands
//! (`kbuild_lineinfo_cli::modules::embed`) is called directly, so that each failure point can be
//! driven on its own. Tests that need a separate process (SIGKILL, RLIMIT_FSIZE) re-run this test
//! binary with the ignored test `embed::child_embed`, which embeds what the environment asks for.
use crate::common::tools::{self, run};
use kbuild_lineinfo::emit::ko::{embed_sections, NewSection};
use kbuild_lineinfo_cli::modules::embed::{embed_file, open_locked, Lock, Outcome};
use object::read::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SHF_ALLOC: u64 = 2;
const CHILD_PATH: &str = "KBUILD_LINEINFO_TEST_EMBED_PATH";
const CHILD_BLOB: &str = "KBUILD_LINEINFO_TEST_EMBED_BLOB";

/// `m.ko` from two C files: `.text` functions in both, one `.init.text` function; `extra` is
/// more C for the first file. `m32` builds an i386 module.
fn build_module(dir: &Path, extra: &str, m32: bool) -> PathBuf {
    let a = format!(
        "int helper(int x) {{ return x * 3 + 1; }}\n\
         __attribute__((section(\".init.text\"))) int init_module(void) {{ return helper(2); }}\n{extra}"
    );
    let b = "int exit_value(int x) { if (x > 2) return x - 2; return x + 7; }\n";
    let arch: &[&str] = if m32 { &["-m32"] } else { &[] };
    for (name, src) in [("a", a.as_str()), ("b", b)] {
        std::fs::write(dir.join(format!("{name}.c")), src).unwrap();
        run(Command::new("cc")
            .args(arch)
            .args(["-c", "-g", "-O1", "-fno-pic", "-o"])
            .arg(dir.join(format!("{name}.o")))
            .arg(dir.join(format!("{name}.c"))));
    }
    let ko = dir.join("m.ko");
    let emul: &[&str] = if m32 { &["-m", "elf_i386"] } else { &[] };
    run(Command::new("ld")
        .args(emul)
        .arg("-r")
        .arg("-o")
        .arg(&ko)
        .arg(dir.join("a.o"))
        .arg(dir.join("b.o")));
    ko
}

fn blob(name: &str, len: usize, seed: u8, anchors: &[(u64, &str)], size: u8) -> NewSection {
    let data = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let anchors = anchors
        .iter()
        .map(|&(offset, target)| (offset, size, target));
    NewSection::with_anchors(name, data, 4, SHF_ALLOC, anchors)
}

/// Every section of `old` has the same header fields and bytes at the same index in `new`
/// (`.shstrtab` may only grow at its end).
fn assert_sections_kept(old: &[u8], new: &[u8]) {
    let (a, b) = (
        object::File::parse(old).unwrap(),
        object::File::parse(new).unwrap(),
    );
    for s in a.sections() {
        let t = b.section_by_index(s.index()).unwrap();
        let name = s.name().unwrap();
        assert_eq!(name, t.name().unwrap());
        let (x, y) = (s.data().unwrap(), t.data().unwrap());
        if name == ".shstrtab" {
            assert!(y.starts_with(x));
            continue;
        }
        assert_eq!(x, y, "{name} bytes");
        assert_eq!(s.file_range(), t.file_range(), "{name} moved");
        let fields =
            |s: &object::read::Section| (s.kind(), s.flags(), s.address(), s.size(), s.align());
        assert_eq!(fields(&s), fields(&t), "{name} header");
    }
}

/// The first relocation of section `rel_section` in `readelf -rW` output `relocs`.
fn first_reloc<'a>(relocs: &'a str, rel_section: &str) -> &'a str {
    let header = format!("Relocation section '{rel_section}'");
    let section = relocs
        .split(&header)
        .nth(1)
        .unwrap_or_else(|| panic!("no {rel_section}"));
    section.lines().nth(2).unwrap()
}

/// Runs a binutils tool that must succeed without printing warnings.
fn clean_tool(tool: &str, args: &[&str], file: &Path) -> String {
    let out = run(Command::new(tool).args(args).arg(file));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.trim().is_empty(), "{tool} {args:?} warns: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn embedded_section_is_exact_and_everything_else_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), "", false);
    let old = std::fs::read(&ko).unwrap();
    let new = [blob(".mod_lineinfo", 133, 5, &[], 8)];
    assert_eq!(
        embed_file(&ko, &new, &[".mod_lineinfo"]).unwrap(),
        Outcome::Updated
    );
    let bytes = std::fs::read(&ko).unwrap();
    assert_sections_kept(&old, &bytes);
    let f = object::File::parse(&*bytes).unwrap();
    let s = f.section_by_name(".mod_lineinfo").unwrap();
    assert_eq!(s.data().unwrap(), &new[0].data[..]);
    assert!(s.align() >= 4);
    assert_eq!(
        f.sections().count(),
        object::File::parse(&*old).unwrap().sections().count() + 1
    );

    let sections = clean_tool("readelf", &["-SW"], &ko);
    let line = sections
        .lines()
        .find(|l| l.contains(" .mod_lineinfo "))
        .unwrap();
    let fields: Vec<&str> = line.split(']').nth(1).unwrap().split_whitespace().collect();
    // Name Type Address Off Size ES Flg Lk Inf Al
    assert_eq!(fields.len(), 10, "{line}");
    assert_eq!(
        (fields[1], fields[6], fields[9]),
        ("PROGBITS", "A", "4"),
        "{line}"
    );
    clean_tool("readelf", &["-a", "-W"], &ko);
    clean_tool("objdump", &["-d"], &ko);
    run(Command::new("ld")
        .arg("-r")
        .arg("-o")
        .arg(dir.path().join("again.o"))
        .arg(&ko));
}

#[test]
fn second_run_is_unchanged_and_does_not_touch_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), "", false);
    let new = [blob(".mod_lineinfo", 64, 1, &[(8, ".text")], 8)];
    assert_eq!(embed_file(&ko, &new, &[]).unwrap(), Outcome::Updated);
    let once = std::fs::read(&ko).unwrap();
    let past = std::time::SystemTime::now() - Duration::from_secs(1000);
    std::fs::File::options()
        .write(true)
        .open(&ko)
        .unwrap()
        .set_modified(past)
        .unwrap();
    assert_eq!(embed_file(&ko, &new, &[]).unwrap(), Outcome::Unchanged);
    assert_eq!(std::fs::read(&ko).unwrap(), once);
    assert_eq!(std::fs::metadata(&ko).unwrap().modified().unwrap(), past);
}

#[test]
fn alternating_replacements_keep_one_section_and_bounded_size() {
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), "", false);
    let start = std::fs::metadata(&ko).unwrap().len();
    let mut sizes = Vec::new();
    for round in 0..10u8 {
        let len = if round % 2 == 0 { 5000 } else { 700 };
        let new = [blob(".mod_lineinfo", len, round, &[], 8)];
        assert_eq!(embed_file(&ko, &new, &[]).unwrap(), Outcome::Updated);
        let bytes = std::fs::read(&ko).unwrap();
        let f = object::File::parse(&*bytes).unwrap();
        assert_eq!(
            f.sections()
                .filter(|s| s.name() == Ok(".mod_lineinfo"))
                .count(),
            1
        );
        assert_eq!(
            f.section_by_name(".mod_lineinfo").unwrap().data().unwrap(),
            &new[0].data[..]
        );
        sizes.push(bytes.len() as u64);
    }
    assert!(
        sizes.iter().all(|&s| s <= start + 2 * 5000 + 8192),
        "{start} → {sizes:?}"
    );
    clean_tool("readelf", &["-a", "-W"], &ko);
}

/// A linker script that places the covered sections at known addresses.
const LINK_SCRIPT: &str = "SECTIONS {
  . = 0x10000; .text : { *(.text) }
  . = 0x20000; .init.text : { *(.init.text) }
  . = 0x30000; .mod_lineinfo : { *(.mod_lineinfo) }
  . = 0x40000; .init.mod_lineinfo : { *(.init.mod_lineinfo) }
}";

fn v7_sections(size: u8) -> [NewSection; 2] {
    [
        blob(".mod_lineinfo", 40, 1, &[(8, ".text")], size),
        blob(".init.mod_lineinfo", 40, 2, &[(8, ".init.text")], size),
    ]
}

/// Links `ko` with [`LINK_SCRIPT`] and returns the anchors' linked values.
fn linked_anchors(dir: &Path, ko: &Path, emul: &[&str], size: usize) -> Vec<u64> {
    std::fs::write(dir.join("link.ld"), LINK_SCRIPT).unwrap();
    let out = dir.join("linked");
    run(Command::new("ld")
        .args(emul)
        .args(["-T"])
        .arg(dir.join("link.ld"))
        .args(["--unresolved-symbols=ignore-all", "-e", "0", "-o"])
        .arg(&out)
        .arg(ko));
    let bytes = std::fs::read(&out).unwrap();
    let f = object::File::parse(&*bytes).unwrap();
    [".mod_lineinfo", ".init.mod_lineinfo"]
        .iter()
        .map(|name| {
            let data = f.section_by_name(name).unwrap().data().unwrap();
            let mut word = [0u8; 8];
            word[..size].copy_from_slice(&data[8..8 + size]);
            u64::from_le_bytes(word)
        })
        .collect()
}

#[test]
fn anchors_link_to_the_section_addresses_x86_64() {
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), "", false);
    embed_file(&ko, &v7_sections(8), &[]).unwrap();
    let relocs = clean_tool("readelf", &["-rW"], &ko);
    let first = first_reloc(&relocs, ".rela.mod_lineinfo");
    assert!(
        first.contains("R_X86_64_64") && first.trim_end().ends_with(".text + 0"),
        "{first}"
    );
    let init = first_reloc(&relocs, ".rela.init.mod_lineinfo");
    assert!(init.trim_end().ends_with(".init.text + 0"), "{init}");
    assert_eq!(linked_anchors(dir.path(), &ko, &[], 8), [0x10000, 0x20000]);
}

#[test]
fn anchors_link_to_the_section_addresses_i386_rel() {
    let dir = tempfile::tempdir().unwrap();
    let probe = Command::new("cc")
        .args(["-m32", "-x", "c", "-c", "-o", "/dev/null", "-"])
        .stdin(Stdio::null())
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        tools::unavailable(
            "anchors_link_to_the_section_addresses_i386_rel",
            "`cc -m32` does not work here (gcc-multilib)",
        );
        return;
    }
    let ko = build_module(dir.path(), "", true);
    embed_file(&ko, &v7_sections(4), &[]).unwrap();
    let relocs = clean_tool("readelf", &["-rW"], &ko);
    let first = first_reloc(&relocs, ".rel.mod_lineinfo");
    assert!(
        first.contains("R_386_32") && first.trim_end().ends_with(".text"),
        "{first}"
    );
    assert_eq!(
        linked_anchors(dir.path(), &ko, &["-m", "elf_i386"], 4),
        [0x10000, 0x20000]
    );
}

/// Holds `flock(op)` on `path` from the test, as another run would.
fn hold(path: &Path, op: rustix::fs::FlockOperation) -> std::fs::File {
    let f = std::fs::File::open(path).unwrap();
    rustix::fs::flock(&f, op).unwrap();
    f
}

#[test]
fn a_module_locked_by_another_run_is_read_once_that_run_lets_go() {
    use rustix::fs::FlockOperation::{LockExclusive, LockShared};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), "", false);
    let opened = open_locked(&ko).unwrap();
    assert_eq!(opened.lock, Lock::Taken);
    assert_eq!(opened.meta.len(), std::fs::metadata(&ko).unwrap().len());
    drop(opened);

    // Another run holds the module and grows it; this one opens it only once that run is done,
    // and maps the bytes it left.
    let other = hold(&ko, LockExclusive);
    let path = ko.clone();
    let waiter = std::thread::spawn(move || {
        let opened = open_locked(&path).unwrap();
        (opened.lock.clone(), opened.map.len())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "open_locked did not wait for the lock"
    );
    let grown = [std::fs::read(&ko).unwrap(), vec![0; 100]].concat();
    std::fs::write(&ko, &grown).unwrap();
    drop(other);
    let (lock, len) = waiter.join().unwrap();
    assert_eq!(len, grown.len(), "mapped before the other run was done");
    let waited = lock.waited().expect("a wait");
    assert!(waited >= Duration::from_millis(250), "{lock:?}");
    assert_eq!(lock.warning(), None);

    // A read-only module is locked shared: readers do not wait for each other, but do wait
    // for a writer.
    std::fs::set_permissions(&ko, std::fs::Permissions::from_mode(0o444)).unwrap();
    let reader = hold(&ko, LockShared);
    assert_eq!(open_locked(&ko).unwrap().lock, Lock::Taken);
    drop(reader);
    let writer = hold(&ko, LockExclusive);
    let path = ko.clone();
    let waiter = std::thread::spawn(move || open_locked(&path).unwrap().lock.waited());
    std::thread::sleep(Duration::from_millis(100));
    drop(writer);
    assert!(waiter.join().unwrap().is_some());

    // Without locks (NFS without lockd): one warning per run, not an error.
    let unavailable = Lock::Unavailable("No locks available (os error 37)".into());
    let w = unavailable.warning().expect("a warning for the first");
    assert!(w.contains("No locks available") && !w.contains('\n'), "{w}");
    assert_eq!(unavailable.warning(), None, "warned twice");
}

#[test]
fn read_only_and_missing_files_are_clear_errors() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), "", false);
    let old = std::fs::read(&ko).unwrap();
    std::fs::set_permissions(&ko, std::fs::Permissions::from_mode(0o444)).unwrap();
    let new = [blob(".mod_lineinfo", 16, 1, &[], 8)];
    let e = format!("{:#}", embed_file(&ko, &new, &[]).unwrap_err());
    assert!(
        e.contains(&ko.display().to_string()) && e.contains("read-only"),
        "{e}"
    );
    assert!(!e.contains('\n'));
    assert_eq!(std::fs::read(&ko).unwrap(), old);
    assert_eq!(
        std::fs::metadata(&ko).unwrap().permissions().mode() & 0o777,
        0o444
    );
    let gone = dir.path().join("gone.ko");
    let e = format!("{:#}", embed_file(&gone, &new, &[]).unwrap_err());
    assert!(
        e.contains(&gone.display().to_string()) && e.contains("No such file"),
        "{e}"
    );
    std::fs::write(&gone, b"not an ELF file at all").unwrap();
    let e = format!("{:#}", embed_file(&gone, &new, &[]).unwrap_err());
    assert!(e.starts_with(&gone.display().to_string()), "{e}");
}

#[test]
fn embedding_keeps_mode_and_gives_the_library_image() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ko = build_module(dir.path(), "", false);
    std::fs::set_permissions(&ko, std::fs::Permissions::from_mode(0o640)).unwrap();
    let old = std::fs::read(&ko).unwrap();
    let new = v7_sections(8);
    let want = embed_sections(&old, &new, &[]).unwrap().image(&old);
    assert_eq!(embed_file(&ko, &new, &[]).unwrap(), Outcome::Updated);
    assert_eq!(std::fs::read(&ko).unwrap(), want);
    assert_eq!(
        std::fs::metadata(&ko).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        5,
        "a stray temporary file"
    );
}

// ---- tests in a child process ----

/// The blob a child embeds: `CHILD_BLOB` bytes with an anchor against `.text`.
fn child_sections(len: usize) -> Vec<NewSection> {
    vec![blob(".mod_lineinfo", len, 3, &[(8, ".text")], 8)]
}

/// Not a test: the body of a child process started by the tests below.
#[test]
#[ignore = "run as a child process by kill_9_* and full_disk_*"]
fn child_embed() {
    let Ok(path) = std::env::var(CHILD_PATH) else {
        return;
    };
    let len = std::env::var(CHILD_BLOB).unwrap().parse().unwrap();
    let sections = child_sections(len);
    println!("READY");
    let t = Instant::now();
    let result = embed_file(Path::new(&path), &sections, &[]);
    let micros = t.elapsed().as_micros();
    match result {
        Ok(outcome) => println!("CHILD-OK {outcome:?} {micros}"),
        Err(e) => {
            eprintln!("CHILD-ERROR {e:#}");
            std::process::exit(1);
        }
    }
}

fn child(path: &Path, blob: usize, limit_kib: Option<u64>) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match limit_kib {
        // `trap "" XFSZ` makes writes past the limit fail with EFBIG instead of killing.
        Some(kib) => {
            let mut c = Command::new("sh");
            c.args([
                "-c",
                &format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""),
            ])
            .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    // The test's name in the one test binary: its module path without the crate's name.
    let module = module_path!().split_once("::").unwrap().1;
    cmd.args(["--ignored", "--exact", &format!("{module}::child_embed")])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD_PATH, path)
        .env(CHILD_BLOB, blob.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A module of several MB: a large initialised array in `.data`.
fn big_module(dir: &Path) -> PathBuf {
    build_module(dir, "int big_table[1 << 20] = { 1, 2, 3 };\n", false)
}

/// Referenced bytes (ELF header, section headers, section data) of `file` equal those of `want`.
fn same_as_elf(file: &[u8], want: &[u8]) -> bool {
    let (Ok(a), Ok(b)) = (object::File::parse(file), object::File::parse(want)) else {
        return false;
    };
    let ehdr = 64.min(file.len());
    file[..ehdr] == want[..ehdr]
        && a.sections().count() == b.sections().count()
        && a.sections().zip(b.sections()).all(|(s, t)| {
            (s.name(), s.file_range(), s.data(), s.flags())
                == (t.name(), t.file_range(), t.data(), t.flags())
        })
}

#[test]
fn kill_9_in_place_leaves_old_or_new() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = big_module(dir.path());
    let old = std::fs::read(&pristine).unwrap();
    let blob = 3 << 20;
    let new = embed_sections(&old, &child_sections(blob), &[])
        .unwrap()
        .image(&old);
    let ko = dir.path().join("victim.ko");
    // One undisturbed run for the timing of the embedding itself.
    std::fs::write(&ko, &old).unwrap();
    let out = child(&ko, blob, None).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let micros: u64 = stdout
        .split("CHILD-OK Updated ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    let full = Duration::from_micros(micros);
    assert_eq!(std::fs::read(&ko).unwrap(), new);

    let (mut seed, mut counts) = (0x9e37_79b9_7f4a_7c15u64, [0usize; 4]);
    for round in 0..60 {
        std::fs::write(&ko, &old).unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = full.mul_f64((seed % 1000) as f64 / 800.0);
        let mut c = child(&ko, blob, None).spawn().unwrap();
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(c.stdout.take().unwrap());
        while !line.contains("READY") {
            line.clear();
            assert!(
                std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0,
                "child ended early"
            );
        }
        std::thread::sleep(delay);
        c.kill().unwrap(); // SIGKILL
        let landed = {
            use std::os::unix::process::ExitStatusExt;
            c.wait().unwrap().signal() == Some(9)
        };
        let now = std::fs::read(&ko).unwrap();
        let state = if now == old {
            0
        } else if now == new {
            3
        } else if same_as_elf(&now, &old) {
            1 // old module, unreferenced bytes after it
        } else if now.starts_with(&new) && same_as_elf(&now, &new) {
            2 // new module, old bytes not yet cut
        } else {
            panic!(
                "round {round} ({delay:?}): {} bytes, neither old nor new",
                now.len()
            );
        };
        // Only a kill that landed on a running child says anything (`Child::kill` is Ok for a
        // child that already exited too).
        if landed {
            counts[state] += 1;
        } else {
            assert_eq!(
                state, 3,
                "round {round}: the child exited, yet the module is not new"
            );
        }
        // The next run finishes the job exactly.
        embed_file(&ko, &child_sections(blob), &[]).unwrap();
        assert_eq!(
            std::fs::read(&ko).unwrap(),
            new,
            "round {round}: after recovery"
        );
    }
    eprintln!(
        "in-place: run {full:?}; kills that landed found: old {}, old+tail {}, new+leftover {}, \
         new {}",
        counts[0], counts[1], counts[2], counts[3]
    );
    // The kills landed mid-run: some before the new bytes were in, some after, or the rounds
    // proved nothing about a kill in the middle of the write.
    assert!(
        counts[0] + counts[1] > 0 && counts[2] + counts[3] > 0,
        "the kills did not span the write: {counts:?} (old, old+tail, new+leftover, new)"
    );
}

#[test]
fn full_disk_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let ko = big_module(dir.path());
    let old = std::fs::read(&ko).unwrap();
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    // Below the module's size in both 512- and 1024-byte units: nothing may grow.
    let limit = old.len() as u64 / 1024;
    let out = child(&ko, 64 << 10, Some(limit)).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    let line = err
        .lines()
        .find(|l| l.starts_with("CHILD-ERROR"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains(&ko.display().to_string()) && line.contains("File too large"),
        "{line}"
    );
    assert_eq!(std::fs::read(&ko).unwrap(), old);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        entries,
        "temporary left"
    );
}
