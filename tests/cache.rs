//! The build-id cache (`kbuild_lineinfo_cli::cache`), each operation in a child process (this
//! test binary again, its ignored test `cache::child_cache`), so that several processes share
//! one cache directory as in a parallel kernel build.
//!
//! Oracles: the payload bytes the test wrote, the files in the cache directory, the warnings on
//! stderr, and `readelf -n` for build-ids of objects compiled and linked at test time.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use kbuild_lineinfo_cli::cache::{build_id, Cache, Identity, Key};

/// The child's operation: `DIR`, `CAP`, `put|get|path`, `NAME`, one a line.
const CHILD_OP: &str = "KBUILD_LINEINFO_TEST_CACHE_CHILD";
/// What the child prints before its output (the test harness prints its own lines first).
const CHILD_OUTPUT: &[u8] = b"\n-- child output --\n";

/// Runs one cache operation in `dir` with a size `cap`, feeding `stdin`, in a child process;
/// its stdout is what the operation printed.
fn cache(dir: &Path, cap: u64, op: &[&str], stdin: &[u8]) -> Output {
    let exe = std::env::current_exe().unwrap();
    // The test's name in the one test binary: its module path without the crate's name.
    let module = module_path!().split_once("::").unwrap().1;
    let mut child = Command::new(exe)
        .args(["--ignored", "--exact", &format!("{module}::child_cache")])
        .args(["--nocapture", "--test-threads=1", "-q"])
        .env(
            CHILD_OP,
            format!("{}\n{cap}\n{}", dir.to_str().unwrap(), op.join("\n")),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let mut out = child.wait_with_output().unwrap();
    let at = out
        .stdout
        .windows(CHILD_OUTPUT.len())
        .position(|w| w == CHILD_OUTPUT)
        .unwrap_or_else(|| panic!("the child said nothing: {}", stderr(&out)));
    out.stdout.drain(..at + CHILD_OUTPUT.len());
    out
}

/// Not a test: the body of a child process started by [`cache`]. `put NAME` stores stdin
/// under NAME; `get NAME` prints its payload, exit 0 on a hit, 1 on a miss; `path NAME` prints
/// the entry file of NAME. Entries are keyed by NAME as if it were the content of an object
/// without build-id.
#[test]
#[ignore = "run as a child process by the tests of this file"]
fn child_cache() {
    let Ok(op) = std::env::var(CHILD_OP) else {
        return;
    };
    let [dir, cap, op, name] = op.split('\n').collect::<Vec<_>>()[..] else {
        panic!("{CHILD_OP}: {op:?}");
    };
    kbuild_lineinfo_cli::voice::init(false, false);
    let key = Key::new(&Identity::of(name.as_bytes()), "selftest", &[]);
    let cache = Cache::open(Some(dir.into()), cap.parse().unwrap());
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(CHILD_OUTPUT).unwrap();
    let code = match op {
        "put" => {
            let mut payload = Vec::new();
            std::io::stdin().read_to_end(&mut payload).unwrap();
            cache.put(&key, &payload);
            0
        }
        "get" => match cache.get(&key) {
            Some(payload) => {
                stdout.write_all(&payload).unwrap();
                0
            }
            None => 1,
        },
        "path" => {
            let dir = cache.dir().map(|d| d.to_string()).unwrap_or_default();
            writeln!(stdout, "{dir}/{}.entry", key.to_hex()).unwrap();
            0
        }
        other => panic!("{CHILD_OP}: no operation {other:?}"),
    };
    stdout.flush().unwrap();
    std::process::exit(code);
}

const CAP: u64 = 1 << 30;

fn put(dir: &Path, name: &str, payload: &[u8]) -> Output {
    let out = cache(dir, CAP, &["put", name], payload);
    assert!(out.status.success(), "put {name}: {}", stderr(&out));
    out
}

/// `Some(payload)` on a hit, `None` on a miss.
fn get(dir: &Path, name: &str) -> (Option<Vec<u8>>, Output) {
    let out = cache(dir, CAP, &["get", name], b"");
    let hit = match out.status.code() {
        Some(0) => Some(out.stdout.clone()),
        Some(1) => None,
        other => panic!("get {name}: exit {other:?}: {}", stderr(&out)),
    };
    (hit, out)
}

fn entry_path(dir: &Path, name: &str) -> PathBuf {
    let out = cache(dir, CAP, &["path", name], b"");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn warnings(out: &Output) -> usize {
    stderr(out).matches("kbuild-lineinfo: warning").count()
}

/// Total bytes of the entry files in `dir`.
fn entries_size(dir: &Path) -> u64 {
    let entries = fs::read_dir(dir).unwrap().map(|e| e.unwrap());
    let entries = entries.filter(|e| e.file_name().to_string_lossy().ends_with(".entry"));
    entries.map(|e| e.metadata().unwrap().len()).sum()
}

#[test]
fn miss_then_hit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/cache");
    let (hit, out) = get(&dir, "vmlinux");
    assert_eq!(hit, None);
    assert_eq!(
        warnings(&out),
        0,
        "a plain miss is silent: {}",
        stderr(&out)
    );
    let out = put(&dir, "vmlinux", b"lineinfo tables");
    assert_eq!(warnings(&out), 0, "{}", stderr(&out));
    assert_eq!(
        get(&dir, "vmlinux").0.as_deref(),
        Some(&b"lineinfo tables"[..])
    );
    assert_eq!(get(&dir, "other.ko").0, None, "another key misses");
}

/// Damages the entry of `name` with `damage`, then checks: miss, one warning, entry removed,
/// and a new put makes it hit again.
fn corrupt_entry_is_a_miss(damage: impl Fn(&mut Vec<u8>)) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let payload: Vec<u8> = (0..=255).collect();
    put(dir, "foo.ko", &payload);
    let path = entry_path(dir, "foo.ko");
    let mut bytes = fs::read(&path).unwrap();
    damage(&mut bytes);
    fs::write(&path, bytes).unwrap();

    let (hit, out) = get(dir, "foo.ko");
    assert_eq!(hit, None, "a corrupt entry must not be returned");
    assert_eq!(warnings(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&path.display().to_string()),
        "the warning names the entry"
    );
    assert!(!path.exists(), "the corrupt entry is removed");
    let (_, again) = get(dir, "foo.ko");
    assert_eq!(warnings(&again), 0, "only one warning per corrupt entry");

    put(dir, "foo.ko", &payload);
    assert_eq!(
        get(dir, "foo.ko").0,
        Some(payload),
        "the entry is rewritten and hits"
    );
}

#[test]
fn flipped_payload_byte_is_a_miss_with_a_warning() {
    corrupt_entry_is_a_miss(|bytes| *bytes.last_mut().unwrap() ^= 0x01);
}

#[test]
fn flipped_header_byte_is_a_miss_with_a_warning() {
    corrupt_entry_is_a_miss(|bytes| bytes[50] ^= 0x80); // inside the length field
}

#[test]
fn truncated_entry_is_a_miss_with_a_warning() {
    corrupt_entry_is_a_miss(|bytes| bytes.truncate(bytes.len() - 7));
}

#[test]
fn header_only_entry_is_a_miss_with_a_warning() {
    corrupt_entry_is_a_miss(|bytes| bytes.truncate(20));
}

#[test]
fn tiny_cap_evicts_least_recently_used() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Each entry: 84 header bytes + 200 payload = 284; three fit in 1000, four do not.
    let cap = 1000;
    let pause = || thread::sleep(Duration::from_millis(20)); // distinct mtimes
    for name in ["a", "b", "c"] {
        let out = cache(dir, cap, &["put", name], &[name.as_bytes()[0]; 200]);
        assert!(out.status.success());
        assert!(entries_size(dir) <= cap);
        pause();
    }
    let out = cache(dir, cap, &["get", "a"], b""); // a becomes the most recently used
    assert_eq!(out.status.code(), Some(0));
    pause();
    let out = cache(dir, cap, &["put", "d"], &[b'd'; 200]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        entries_size(dir) <= cap,
        "{} bytes over a cap of {cap}",
        entries_size(dir)
    );
    let present = |n| entry_path(dir, n).exists();
    assert!(!present("b"), "b was the least recently used");
    assert!(present("a") && present("c") && present("d"));
    assert_eq!(get(dir, "a").0, Some(vec![b'a'; 200]));
}

#[test]
fn concurrent_writers_of_one_key_never_leave_a_corrupt_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let payload = |w: u8| vec![w; 1 << 20]; // 1 MiB, so writes are not atomic by luck
    let valid: Vec<Vec<u8>> = (0..4).map(payload).collect();
    thread::scope(|s| {
        for w in 0..4u8 {
            s.spawn(move || {
                for _ in 0..8 {
                    let out = put(dir, "shared.ko", &payload(w));
                    assert_eq!(warnings(&out), 0, "writer {w}: {}", stderr(&out));
                }
            });
        }
        s.spawn(|| {
            for _ in 0..24 {
                let (hit, out) = get(dir, "shared.ko");
                assert_eq!(
                    warnings(&out),
                    0,
                    "reader saw a damaged entry: {}",
                    stderr(&out)
                );
                if let Some(hit) = hit {
                    assert!(valid.contains(&hit), "a mix of writes: {} bytes", hit.len());
                }
            }
        });
    });
    let (hit, _) = get(dir, "shared.ko");
    assert!(valid.contains(&hit.expect("the last write is readable")));
    let leftovers: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temp files left: {leftovers:?}");
}

/// Checks the "unusable directory" behaviour: one warning per process, misses, success.
fn continues_without_cache(dir: &Path) {
    let out = put(dir, "foo.ko", b"payload");
    assert_eq!(warnings(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("continuing without cache"),
        "{}",
        stderr(&out)
    );
    let (hit, out) = get(dir, "foo.ko");
    assert_eq!(hit, None);
    assert_eq!(warnings(&out), 1, "{}", stderr(&out));
}

#[test]
fn cache_dir_under_a_regular_file_warns_and_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, b"").unwrap();
    continues_without_cache(&file.join("cache"));
}

/// A directory nobody may write in. Root ignores permission bits (and CI runs as root), so as
/// root the directory is made immutable (`chattr +i`), which stops root too; the flag is taken
/// off again when the test ends, whatever happens.
#[test]
fn read_only_cache_dir_warns_and_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ro");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    let _immutable = (fs::metadata("/proc/self").unwrap().uid() == 0).then(|| Immutable::new(&dir));
    assert!(
        fs::write(dir.join("probe"), b"").is_err(),
        "{} is still writable: the test would prove nothing",
        dir.display()
    );
    continues_without_cache(&dir);
}

/// `chattr +i` on a directory for as long as it lives.
struct Immutable(PathBuf);

impl Immutable {
    fn new(dir: &Path) -> Immutable {
        let out = Command::new("chattr").arg("+i").arg(dir).output();
        match out {
            Ok(o) if o.status.success() => Immutable(dir.to_path_buf()),
            other => panic!(
                "as root, the read-only directory needs `chattr +i` (e2fsprogs) on a file system \
                 that supports it (TMPDIR: ext4, xfs, btrfs, tmpfs ≥ 6.0): {other:?}"
            ),
        }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

/// Compiles C at test time; the build-id oracle is `readelf -n`.
struct Elf {
    tmp: tempfile::TempDir,
}

impl Elf {
    fn new() -> Elf {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(
            tmp.path().join("a.c"),
            "int f(int x) { return x + 1; }\nint main(void) { return f(1); }\n",
        )
        .unwrap();
        Elf { tmp }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new(program)
            .args(args)
            .current_dir(self.tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", stderr(&out));
    }

    /// Our build-id of `name` in hex, or `none`.
    fn ours(&self, name: &str) -> String {
        let id = build_id(&fs::read(self.path(name)).unwrap());
        id.map_or("none".to_string(), |id| {
            id.iter().map(|b| format!("{b:02x}")).collect()
        })
    }

    /// `readelf -n`'s build-id of `name`, or `none`.
    fn readelf(&self, name: &str) -> String {
        let out = Command::new("readelf")
            .arg("-n")
            .arg(self.path(name))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let id = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Build ID: "));
        id.map_or("none".to_string(), str::to_string)
    }
}

#[test]
fn build_id_of_executables_and_relocatable_modules_matches_readelf() {
    let elf = Elf::new();
    elf.run("gcc", &["-g", "-c", "a.c", "-o", "a.o"]);
    elf.run("ld", &["-r", "--build-id=sha1", "a.o", "-o", "mod.ko"]);
    elf.run("gcc", &["-g", "-Wl,--build-id=sha1", "a.c", "-o", "exe"]);
    elf.run("gcc", &["-g", "-Wl,--build-id=none", "a.c", "-o", "noid"]);
    for name in ["mod.ko", "exe"] {
        let ours = elf.ours(name);
        assert_eq!(ours.len(), 40, "{name}: sha1 build-id expected, got {ours}");
        assert_eq!(ours, elf.readelf(name), "{name}");
    }
    assert_eq!(elf.ours("a.o"), "none");
    assert_eq!(elf.ours("noid"), "none");
    assert_eq!(elf.readelf("noid"), "none", "oracle agrees there is none");
}

#[test]
fn build_id_found_after_other_notes_in_a_merged_notes_section() {
    // vmlinux merges all notes into one `.notes` SHT_NOTE section; the build-id may come later.
    let elf = Elf::new();
    let asm = r#"
        .section .notes, "a", @note
        .balign 4
        .long 6, 4, 1          # namesz "Linux\0", descsz, type
        .asciz "Linux"
        .balign 4
        .long 0x01020304
        .long 4, 8, 3          # namesz "GNU\0", descsz, NT_GNU_BUILD_ID
        .asciz "GNU"
        .byte 0xde, 0xad, 0xbe, 0xef, 0x00, 0x11, 0x22, 0x33
    "#;
    fs::write(elf.path("notes.s"), asm).unwrap();
    elf.run("gcc", &["-c", "notes.s", "-o", "notes.o"]);
    assert_eq!(
        elf.readelf("notes.o"),
        "deadbeef00112233",
        "oracle reads the hand-made note"
    );
    assert_eq!(elf.ours("notes.o"), "deadbeef00112233");
}

#[test]
fn build_id_from_pt_note_when_section_headers_are_gone() {
    let elf = Elf::new();
    elf.run("gcc", &["-g", "-Wl,--build-id=sha1", "a.c", "-o", "exe"]);
    let expected = elf.readelf("exe");
    let mut bytes = fs::read(elf.path("exe")).unwrap();
    assert_eq!(&bytes[..5], b"\x7fELF\x02", "64-bit ELF expected");
    bytes[0x28..0x30].fill(0); // e_shoff
    bytes[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
    fs::write(elf.path("nosections"), bytes).unwrap();
    assert_eq!(
        elf.readelf("nosections"),
        expected,
        "oracle falls back to PT_NOTE too"
    );
    assert_eq!(elf.ours("nosections"), expected);
}
