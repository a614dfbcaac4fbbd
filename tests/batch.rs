//! Batch mode (`kbuild-lineinfo modules`) on small module trees built at test time: C fixtures
//! compiled with `cc -c -g`, merged with `ld -r --build-id=sha1` into `.ko` files under a fake
//! object tree whose `modules.order` lists `.o` names, as Kbuild writes it.
//!
//! Checks what a kernel build relies on: the same bytes whatever the parallelism and cache state,
//! Kbuild-style output under real GNU make, the cache doing only the work that changed, a
//! configured tree that does not enable the step left alone, and SIGINT leaving every module
//! either untouched or complete.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::SystemTime;

const BIN: &str = env!("CARGO_BIN_EXE_kbuild-lineinfo");
const MODULES: usize = 12;

/// Inlined into every module from a header, so each module has two file names at least.
const HELPER_H: &str = "static inline __attribute__((always_inline)) int helper(int k)
{
\treturn k * k + 3;
}
";

/// The first object of module `i`: `functions` functions; `variant` changes the code.
pub(crate) fn source_a(i: usize, functions: usize, variant: usize) -> String {
    let mut s = format!("#include \"../helper.h\"\nint mod{i}_counter;\n");
    for f in 0..functions {
        s += &format!(
            "int mod{i}_f{f}(int x)\n{{\n\tint s = 0;\n\tfor (int k = 0; k < x; k++)\n\
             \t\ts += helper(k) * {};\n\tmod{i}_counter += s;\n\treturn s + {variant};\n}}\n\n",
            i + f + 1
        );
    }
    s
}

/// The second object: calls into the first, so the merged module needs its relocations.
fn source_b(i: usize) -> String {
    format!(
        "int mod{i}_f0(int x);\nint mod{i}_b(int y)\n{{\n\tif (y > 10)\n\t\treturn mod{i}_f0(y - 1);\n\
         \treturn y * 7;\n}}\n"
    )
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fake object tree: `drivers/mI/modI.ko` for each module, `modules.order` listing `.o`s.
/// (Also used by `concurrent.rs` and `batch_paths.rs`.)
pub(crate) struct Tree {
    _dir: tempfile::TempDir,
    pub(crate) root: PathBuf,
}

impl Tree {
    pub(crate) fn new(modules: usize, functions: usize) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("obj");
        std::fs::create_dir_all(root.join("drivers")).unwrap();
        std::fs::write(root.join("drivers/helper.h"), HELPER_H).unwrap();
        let tree = Tree { _dir: dir, root };
        let mut order = String::new();
        for i in 0..modules {
            tree.build(i, functions, 0);
            order += &format!("drivers/m{i}/mod{i}.o\n");
        }
        std::fs::write(tree.root.join("modules.order"), order).unwrap();
        tree
    }

    /// A copy of this tree in a fresh directory (`cp -a`).
    pub(crate) fn copy(&self) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("obj");
        run(Command::new("cp").arg("-a").arg(&self.root).arg(&root));
        Tree { _dir: dir, root }
    }

    pub(crate) fn name(i: usize) -> String {
        format!("drivers/m{i}/mod{i}.ko")
    }

    /// Compiles and links module `i` (relative paths and a prefix map: the bytes do not depend
    /// on where the tree is).
    fn build(&self, i: usize, functions: usize, variant: usize) {
        self.build_from(i, &source_a(i, functions, variant));
    }

    /// Compiles and links module `i` with `a` as its first object's source.
    pub(crate) fn build_from(&self, i: usize, a: &str) {
        let dir = format!("drivers/m{i}");
        std::fs::create_dir_all(self.root.join(&dir)).unwrap();
        std::fs::write(self.root.join(&dir).join("a.c"), a).unwrap();
        std::fs::write(self.root.join(&dir).join("b.c"), source_b(i)).unwrap();
        let map = format!("-fdebug-prefix-map={}=/kernel", self.root.display());
        for f in ["a", "b"] {
            run(Command::new("cc")
                .current_dir(&self.root)
                .args(["-c", "-g", "-O1", &map, "-o"])
                .arg(format!("{dir}/{f}.o"))
                .arg(format!("{dir}/{f}.c")));
        }
        run(Command::new("ld")
            .current_dir(&self.root)
            .args(["-r", "--build-id=sha1", "-o"])
            .arg(Tree::name(i))
            .arg(format!("{dir}/a.o"))
            .arg(format!("{dir}/b.o")));
    }

    pub(crate) fn modules(&self) -> Vec<PathBuf> {
        let order = std::fs::read_to_string(self.root.join("modules.order")).unwrap();
        order
            .lines()
            .map(|l| self.root.join(l.replace(".o", ".ko")))
            .collect()
    }

    /// Every module's bytes, by name.
    pub(crate) fn bytes(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.modules()
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(&self.root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    }

    fn mtimes(&self) -> Vec<SystemTime> {
        self.modules()
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .collect()
    }

    /// `kbuild-lineinfo modules --objtree ROOT ARGS...` outside make.
    pub(crate) fn batch(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("modules")
            .arg("--objtree")
            .arg(&self.root)
            .args(args);
        for v in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "V", "KBUILD_VERBOSE"] {
            cmd.env_remove(v);
        }
        cmd.output().unwrap()
    }
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Warnings and errors: stderr lines other than `-v` explanations (`lineinfo: ...`).
pub(crate) fn warnings(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| !l.starts_with("lineinfo: "))
        .map(String::from)
        .collect()
}

/// Runs a batch that must succeed without a warning; returns its stdout and `-v` explanations.
pub(crate) fn ok(tree: &Tree, args: &[&str]) -> String {
    let out = tree.batch(args);
    assert!(
        out.status.success() && warnings(&out).is_empty(),
        "modules {args:?}: {:?}\n{}",
        out.status,
        stderr(&out)
    );
    stdout(&out) + &stderr(&out)
}

fn lineinfo_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("  LINEINFO [M] "))
        .collect()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn output_is_the_same_for_any_parallelism_and_cache_state() {
    let template = Tree::new(MODULES, 3);
    let original = template.bytes();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = path_str(cache.path());
    let runs: [(&str, Vec<&str>); 6] = [
        ("-j1 --no-cache", vec!["-j1", "--no-cache"]),
        ("-j2 --no-cache", vec!["-j2", "--no-cache"]),
        ("-j8 --no-cache", vec!["-j8", "--no-cache"]),
        ("-j2 cold cache", vec!["-j2", "--cache-dir", cache_dir]),
        ("-j2 warm cache", vec!["-j2", "--cache-dir", cache_dir]),
        ("-j1 warm cache", vec!["-j1", "--cache-dir", cache_dir]),
    ];
    let mut reference: Option<BTreeMap<PathBuf, Vec<u8>>> = None;
    for (what, args) in runs {
        let tree = template.copy();
        let out = ok(&tree, &args);
        assert_eq!(lineinfo_lines(&out).len(), MODULES, "{what}: {out}");
        let bytes = tree.bytes();
        for (name, b) in &bytes {
            assert_ne!(b, &original[name], "{what}: {} not updated", name.display());
        }
        match &reference {
            None => reference = Some(bytes),
            Some(r) => {
                for (name, b) in &bytes {
                    assert!(
                        b == &r[name],
                        "{what}: {} differs from -j1 --no-cache",
                        name.display()
                    );
                }
            }
        }
    }
}

/// Runs `make ARGS` with a `+` recipe that calls the batch under make's jobserver.
fn make(tree: &Tree, cache: &Path, args: &[&str]) -> Output {
    let makefile = tree.root.join("Makefile.lineinfo");
    std::fs::write(
        &makefile,
        format!(
            "all:\n\t+@{BIN} modules --objtree {} --cache-dir {}\n",
            tree.root.display(),
            cache.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("make");
    cmd.arg("-f")
        .arg(&makefile)
        .args(args)
        .current_dir(&tree.root);
    for v in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "V", "KBUILD_VERBOSE"] {
        cmd.env_remove(v);
    }
    cmd.output().unwrap()
}

#[test]
fn under_gnu_make_lines_are_kbuild_style() {
    let template = Tree::new(MODULES, 3);
    let want: Vec<String> = (0..MODULES)
        .map(|i| format!("  LINEINFO [M] {}", Tree::name(i)))
        .collect();
    for jobs in ["-j1", "-j2", "-j4"] {
        let tree = template.copy();
        let cache = tempfile::tempdir().unwrap();
        let out = make(&tree, cache.path(), &[jobs]);
        assert!(out.status.success(), "make {jobs}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "make {jobs}: stderr");
        let mut got: Vec<String> = stdout(&out).lines().map(String::from).collect();
        got.sort();
        let mut want = want.clone();
        want.sort();
        assert_eq!(got, want, "make {jobs}: stdout");

        // Nothing changed: nothing to say.
        let out = make(&tree, cache.path(), &[jobs]);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "make {jobs} again: {}",
            stderr(&out)
        );
        assert_eq!(stdout(&out), "", "make {jobs} again: stdout");
    }

    let tree = template.copy();
    let cache = tempfile::tempdir().unwrap();
    let out = make(&tree, cache.path(), &["-s", "-j2"]);
    assert!(out.status.success(), "make -s: {}", stderr(&out));
    assert_eq!(
        (stdout(&out).as_str(), stderr(&out).as_str()),
        ("", ""),
        "make -s prints nothing"
    );
    assert_ne!(tree.bytes(), template.bytes(), "make -s did the work");

    let tree = template.copy();
    let out = make(&tree, cache.path(), &["-j2", "V=1"]);
    assert!(out.status.success(), "make V=1: {}", stderr(&out));
    let all = stdout(&out) + &stderr(&out);
    assert_eq!(lineinfo_lines(&all).len(), MODULES, "V=1: {all}");
    assert!(all.contains("from cache"), "V=1 explains cache hits: {all}");
    assert!(
        all.contains("modules.order: 12 modules"),
        "V=1 explains the order: {all}"
    );
}

/// Flips one byte in the middle of every regular file under `dir`; returns how many.
fn damage_one(dir: &Path) -> PathBuf {
    let mut files = walk(dir);
    files.sort();
    let victim = files
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    let mut b = std::fs::read(&victim).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x40;
    std::fs::write(&victim, b).unwrap();
    victim
}

#[test]
fn cache_does_only_the_work_that_changed() {
    let tree = Tree::new(MODULES, 3);
    let cache = tempfile::tempdir().unwrap();
    let cache_args = ["-j2", "-v", "--cache-dir", path_str(cache.path())];
    let first = ok(&tree, &cache_args);
    assert_eq!(lineinfo_lines(&first).len(), MODULES, "{first}");
    assert_eq!(
        first.matches("entries, from DWARF").count(),
        MODULES,
        "cold cache: {first}"
    );
    let updated = tree.bytes();
    let mtimes = tree.mtimes();

    // Nothing changed: all from cache, all up to date, no module rewritten.
    let second = ok(&tree, &cache_args);
    assert!(lineinfo_lines(&second).is_empty(), "{second}");
    assert_eq!(
        second.matches("up to date (from cache)").count(),
        MODULES,
        "{second}"
    );
    assert_eq!(tree.mtimes(), mtimes, "a module was rewritten");
    assert_eq!(tree.bytes(), updated);

    // One module relinked to different content: only it is processed.
    tree.build(5, 3, 1);
    let third = ok(&tree, &cache_args);
    assert_eq!(
        lineinfo_lines(&third),
        vec![format!("  LINEINFO [M] {}", Tree::name(5))],
        "{third}"
    );
    assert!(
        third.contains(&format!("{}: ", Tree::name(5))) && third.contains("entries, from DWARF"),
        "{third}"
    );
    let mut updated = tree.bytes();
    let changed = updated.clone();

    // Every module relinked to identical content (our section stripped): all from cache, and
    // the bytes of a full run again.
    for m in tree.modules() {
        run(Command::new("objcopy")
            .args(["--remove-section", ".mod_lineinfo"])
            .arg(&m));
    }
    assert_ne!(tree.bytes(), updated, "objcopy removed nothing");
    let fourth = ok(&tree, &cache_args);
    assert_eq!(lineinfo_lines(&fourth).len(), MODULES, "{fourth}");
    assert_eq!(
        fourth.matches("entries, from cache").count(),
        MODULES,
        "{fourth}"
    );
    assert_eq!(
        tree.bytes(),
        changed,
        "bytes from the cache differ from a full run"
    );

    // Relinked for real (same inputs, same bytes): the same.
    for i in 0..MODULES {
        tree.build(i, 3, usize::from(i == 5));
    }
    let fifth = ok(&tree, &cache_args);
    assert_eq!(
        fifth.matches("entries, from cache").count(),
        MODULES,
        "{fifth}"
    );
    assert_eq!(tree.bytes(), changed);

    // A corrupt cache entry: one warning, a recomputation, the right bytes.
    let victim = damage_one(cache.path());
    for m in tree.modules() {
        run(Command::new("objcopy")
            .args(["--remove-section", ".mod_lineinfo"])
            .arg(&m));
    }
    let out = tree.batch(&cache_args);
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings = warnings(&out);
    assert_eq!(
        warnings.len(),
        1,
        "one warning for {}: {warnings:?}",
        victim.display()
    );
    assert!(warnings[0].contains("corrupt"), "{warnings:?}");
    assert_eq!(
        stderr(&out).matches("entries, from DWARF").count(),
        1,
        "{}",
        stderr(&out)
    );
    assert_eq!(tree.bytes(), changed);

    // A cap too small for anything, then one that evicts: the build never fails.
    for cap in ["0", "1"] {
        updated = tree.bytes();
        for m in tree.modules() {
            run(Command::new("objcopy")
                .args(["--remove-section", ".mod_lineinfo"])
                .arg(&m));
        }
        let small = tempfile::tempdir().unwrap();
        let out = ok(
            &tree,
            &[
                "-j2",
                "--cache-size",
                cap,
                "--cache-dir",
                path_str(small.path()),
            ],
        );
        assert_eq!(lineinfo_lines(&out).len(), MODULES, "cap {cap}: {out}");
        assert_eq!(tree.bytes(), updated, "cap {cap}");
    }
}

/// A module whose table is large: one line-table entry per line, ~300 KB of `.mod_lineinfo`.
pub(crate) fn source_large(i: usize) -> String {
    let mut s = String::from("volatile int v;\n");
    for f in 0..100 {
        s += &format!("void mod{i}_f{f}(void)\n{{\n");
        for k in 0..1000 {
            s += &format!("\tv = {};\n", k * 7 + f + i);
        }
        s += "}\n";
    }
    s
}

/// A cache cap that cannot hold every entry (4 modules of ~300 KB each, 1 MiB): entries are
/// evicted, every run succeeds, and the directory ends under its cap.
#[test]
fn eviction_never_fails_the_build() {
    const LARGE: usize = 4;
    let tree = Tree::new(0, 0);
    let mut order = String::new();
    for i in 0..LARGE {
        tree.build_from(i, &source_large(i));
        order += &format!("drivers/m{i}/mod{i}.o\n");
    }
    std::fs::write(tree.root.join("modules.order"), order).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let args = [
        "-j2",
        "-v",
        "--cache-size",
        "1",
        "--cache-dir",
        path_str(cache.path()),
    ];
    let first = ok(&tree, &args);
    let want = tree.bytes();
    assert_eq!(lineinfo_lines(&first).len(), LARGE, "{first}");
    for _ in 0..2 {
        for m in tree.modules() {
            run(Command::new("objcopy")
                .args(["--remove-section", ".mod_lineinfo"])
                .arg(&m));
        }
        let out = ok(&tree, &args);
        assert_eq!(lineinfo_lines(&out).len(), LARGE, "{out}");
        assert!(
            out.contains("entries, from DWARF"),
            "every entry survived a 1 MiB cap: {out}"
        );
        assert_eq!(tree.bytes(), want);
    }
    let size: u64 = walk(cache.path())
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    eprintln!("cache holds {size} bytes under a 1 MiB cap");
    assert!(size <= 1 << 20, "cache holds {size} bytes, cap 1 MiB");
}

/// Every file under `dir` (not directories), in no set order.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files
}

#[test]
fn configured_tree_runs_only_when_enabled_or_forced() {
    let template = Tree::new(3, 1);
    let original = template.bytes();
    let configure = |tree: &Tree, conf: &str| {
        std::fs::create_dir_all(tree.root.join("include/config")).unwrap();
        std::fs::write(tree.root.join("include/config/auto.conf"), conf).unwrap();
    };

    let tree = template.copy();
    configure(
        &tree,
        "CONFIG_MODULES=y\n# CONFIG_KALLSYMS_LINEINFO_MODULES is not set\n",
    );
    // Skipped, in one line that names the option and --force (silent under -s).
    let out = tree.batch(&["--no-cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (stdout(&out), stderr(&out)),
        (
            String::new(),
            format!(
                "kbuild-lineinfo: {}/include/config/auto.conf: CONFIG_KALLSYMS_LINEINFO_MODULES \
                 is not set: modules skipped (--force to process them anyway)\n",
                tree.root.display()
            )
        ),
        "disabled step"
    );
    let out = ok(&tree, &["--no-cache", "-s"]);
    assert_eq!(out, "", "disabled step under -s printed something");
    assert_eq!(tree.bytes(), original, "disabled step touched a module");
    let out = ok(&tree, &["--no-cache", "--force"]);
    assert_eq!(lineinfo_lines(&out).len(), 3, "--force: {out}");
    let forced = tree.bytes();
    assert_ne!(forced, original);

    let tree = template.copy();
    configure(
        &tree,
        "CONFIG_MODULES=y\nCONFIG_KALLSYMS_LINEINFO_MODULES=y\n",
    );
    let out = ok(&tree, &["--no-cache"]);
    assert_eq!(lineinfo_lines(&out).len(), 3, "enabled: {out}");
    assert_eq!(tree.bytes(), forced);
}

#[test]
fn sigint_leaves_every_module_untouched_or_complete() {
    const COPIES: usize = 300;
    let source = Tree::new(1, 400);
    let module = std::fs::read(source.root.join(Tree::name(0))).unwrap();

    // The expected result, from an uninterrupted run on a copy.
    let reference = source.copy();
    ok(&reference, &["--no-cache"]);
    let done = std::fs::read(reference.root.join(Tree::name(0))).unwrap();
    assert_ne!(done, module);

    let dir = tempfile::tempdir().unwrap();
    let mut order = String::new();
    for c in 0..COPIES {
        let name = format!("drivers/c{c}/copy{c}.ko");
        std::fs::create_dir_all(dir.path().join(format!("drivers/c{c}"))).unwrap();
        std::fs::write(dir.path().join(&name), &module).unwrap();
        order += &format!("drivers/c{c}/copy{c}.o\n");
    }
    std::fs::write(dir.path().join("modules.order"), order).unwrap();

    let mut child = Command::new(BIN)
        .args(["modules", "-j2", "--no-cache", "--objtree"])
        .arg(dir.path())
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..5 {
        lines.next().expect("batch ended early").unwrap();
    }
    run(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let rest = lines.count();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit status after SIGINT");

    let (mut untouched, mut complete) = (0, 0);
    for c in 0..COPIES {
        let got = std::fs::read(dir.path().join(format!("drivers/c{c}/copy{c}.ko"))).unwrap();
        if got == module {
            untouched += 1;
        } else if got == done {
            complete += 1;
        } else {
            panic!("copy {c} is neither the original nor the complete module");
        }
    }
    eprintln!(
        "after SIGINT: {complete} complete, {untouched} untouched ({rest} lines after the signal)"
    );
    assert!(
        complete >= 5 && untouched > 0,
        "{complete} complete, {untouched} untouched"
    );
    assert_eq!(complete, 5 + rest, "every complete module was reported");
}
