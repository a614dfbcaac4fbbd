//! Helpers of the real-data tests (`real_vmlinux.rs`, `real_modules.rs`, and `v7_oracle`
//! for `real_modules_v7.rs`/`v7_modules.rs`): where the Debian corpus is, piping queries
//! through a tool, a reproducible pseudo-random sequence, and the parsers of
//! `llvm-symbolizer --no-inlines` and `kbuild-lineinfo lookup` output.
//!
//! The real-data tests are `#[ignore = "needs the corpus: scripts/corpus.sh"]`: a plain
//! `cargo test` lists them as ignored, `scripts/test.sh` runs them with `--include-ignored`
//! once `scripts/corpus.sh` has the corpus (and fails under `CI=true` when it cannot fetch it),
//! and a test run on purpose without the corpus fails, naming what to run.

use super::answer::normalize;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// `file:line`, or `None` when the tool knows none.
pub type Answer = Option<(String, u32)>;

/// One unpacked corpus flavour, as `scripts/corpus.sh` lays it out.
#[derive(Debug, PartialEq)]
pub struct Corpus {
    pub vmlinux: PathBuf,
    pub modules_dir: PathBuf,
    pub modules_order: PathBuf,
}

/// Where the `flavour` corpus is, given the environment `var`: `KBUILD_LINEINFO_VMLINUX`,
/// `KBUILD_LINEINFO_MODULES_DIR` and `KBUILD_LINEINFO_MODULES_ORDER` (cloud only) name the
/// files directly; otherwise the directory `scripts/corpus.sh` fills,
/// `${KBUILD_LINEINFO_CORPUS:-${XDG_CACHE_HOME:-~/.cache}/kbuild-lineinfo/corpus}/FLAVOUR`,
/// counts once its `.complete` marker is there. `Err` says what to run.
pub fn locate(flavour: &str, var: impl Fn(&str) -> Option<OsString>) -> Result<Corpus, String> {
    let named = [
        "KBUILD_LINEINFO_VMLINUX",
        "KBUILD_LINEINFO_MODULES_DIR",
        "KBUILD_LINEINFO_MODULES_ORDER",
    ]
    .map(|v| var(v).filter(|s| !s.is_empty()).map(PathBuf::from));
    if flavour == "cloud" {
        if let [Some(vmlinux), Some(modules_dir), Some(modules_order)] = named {
            return Ok(Corpus {
                vmlinux,
                modules_dir,
                modules_order,
            });
        }
    }
    let absolute = |v: &str| var(v).map(PathBuf::from).filter(|p| p.is_absolute());
    let root = match absolute("KBUILD_LINEINFO_CORPUS") {
        Some(root) => root,
        None => absolute("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))
            .ok_or("neither KBUILD_LINEINFO_CORPUS, XDG_CACHE_HOME nor HOME is set")?
            .join("kbuild-lineinfo/corpus"),
    };
    let dir = root.join(flavour);
    if !dir.join(".complete").is_file() {
        return Err(format!(
            "needs the {flavour} corpus: run scripts/corpus.sh {flavour} (no {}/.complete)",
            dir.display()
        ));
    }
    Ok(Corpus {
        vmlinux: dir.join("vmlinux"),
        modules_dir: dir.join("modules"),
        modules_order: dir.join("modules.order"),
    })
}

/// The Debian cloud corpus ([`locate`] in this process's environment); panics, naming what
/// to run, when it is not there. Only `#[ignore]`d tests call it.
pub fn cloud() -> Corpus {
    locate("cloud", |v| std::env::var_os(v)).unwrap_or_else(|why| panic!("{why}"))
}

/// The module tree and its `modules.order` of [`cloud`].
pub fn modules_corpus() -> (PathBuf, PathBuf) {
    let c = cloud();
    (c.modules_dir, c.modules_order)
}

/// A copy of the module tree `from` at `to` (`cp -a`), for a batch that must leave the corpus
/// untouched.
pub fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "cp -a {} {} failed",
        from.display(),
        to.display()
    );
}

/// The modules `modules.order` at `order` lists, as `.ko` paths relative to the tree (a
/// `.o` entry, as older kernels write, names its `.ko`).
pub fn listed_modules(order: &Path) -> Vec<String> {
    std::fs::read_to_string(order)
        .unwrap_or_else(|e| panic!("{}: {e}", order.display()))
        .lines()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.strip_suffix(".o")
                .map_or(l.to_string(), |s| format!("{s}.ko"))
        })
        .collect()
}

/// The modules of `fixed` that `listed` has, then others drawn from `listed` with `rng`,
/// without repeats, until there are `total` (or all of `listed`).
pub fn pick_modules(fixed: &[&str], listed: &[String], total: usize, rng: &mut Rng) -> Vec<String> {
    let mut picked: Vec<String> = fixed
        .iter()
        .filter(|m| listed.iter().any(|l| l == *m))
        .map(|m| m.to_string())
        .collect();
    while picked.len() < total.min(listed.len()) {
        let m = &listed[(rng.next() % listed.len() as u64) as usize];
        if !picked.contains(m) {
            picked.push(m.clone());
        }
    }
    picked
}

/// Runs `cmd` with `input` on stdin, returns stdout; panics with stderr on failure.
pub fn pipe(cmd: &mut Command, input: &str) -> String {
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
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// xorshift64*: a fixed sequence, so a failure can be reproduced.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `file:line` from llvm-symbolizer's `--no-inlines` output (function line, then location
/// line); `None` for `??` and line 0. The name is folded lexically ([`normalize`]): the
/// oracle prints names as DWARF joins them. (`symbolizer::parse` reads the
/// `--functions=none` format instead, one line per record.)
pub fn parse_symbolizer(out: &str) -> Vec<Answer> {
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    lines
        .chunks(2)
        .map(|pair| {
            let loc = pair.get(1)?;
            let mut parts = loc.rsplitn(3, ':');
            let _col = parts.next()?;
            let line: u32 = parts.next()?.parse().ok()?;
            let file = parts.next()?;
            (file != "??" && line != 0).then(|| (normalize(file), line))
        })
        .collect()
}

/// `kbuild-lineinfo lookup` output: `QUERY SYMBOL file:line` or `QUERY SYMBOL ??` (SYMBOL is
/// `name+0xOFF/0xSIZE` or `??`).
pub fn parse_lookup(out: &str) -> Vec<Answer> {
    out.lines()
        .map(|l| {
            let [_, _, answer] = l.splitn(3, ' ').collect::<Vec<_>>()[..] else {
                panic!("lookup line {l:?}: expected QUERY SYMBOL ANSWER");
            };
            if answer == "??" {
                return None;
            }
            let (file, line) = answer.rsplit_once(':')?;
            Some((file.to_string(), line.parse().unwrap()))
        })
        .collect()
}

/// Panics unless our `file` name is relative and normalised (no empty, `.` or `..`
/// component); `context` (empty, or ending in `": "`) starts the message.
#[track_caller]
pub fn assert_clean_name(file: &str, context: &str) {
    assert!(!file.starts_with('/'), "{context}absolute name {file}");
    assert!(
        !file
            .split('/')
            .any(|c| c == "." || c == ".." || c.is_empty()),
        "{context}name not normalised: {file}"
    );
}

/// Whether our (relative, normalised) name is the oracle's, which may be absolute.
pub fn same_file(oracle: &str, ours: &str) -> bool {
    oracle == ours || oracle.ends_with(&format!("/{ours}"))
}

/// The value of symbol `name` in `elf`, as binutils `nm` lists it (an oracle outside our code).
pub fn symbol_value(elf: &Path, name: &str) -> u64 {
    let out = Command::new("nm").arg(elf).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some(name))
        .unwrap_or_else(|| panic!("nm: no {name} in {}", elf.display()));
    u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap()
}

/// `f(i, &items[i])` for every item, on two threads (the machine's two cores: one module at a
/// time each, the next taken as one finishes), the results in the order of `items`.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let results = Mutex::new(Vec::with_capacity(items.len()));
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(i, item);
                results.lock().unwrap().push((i, r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn corpus_is_found_by_variables_then_by_the_cache_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("kbuild-lineinfo/corpus");
        let cloud = root.join("cloud");
        std::fs::create_dir_all(&cloud).unwrap();
        let xdg = tmp.path().to_str().unwrap();
        // Not complete yet: an error that names the script.
        let err = locate("cloud", env(&[("XDG_CACHE_HOME", xdg)])).unwrap_err();
        assert!(err.contains("scripts/corpus.sh cloud"), "{err}");
        std::fs::write(cloud.join(".complete"), "").unwrap();
        let found = locate(
            "cloud",
            env(&[("XDG_CACHE_HOME", xdg), ("HOME", "/nowhere")]),
        );
        assert_eq!(found.unwrap().vmlinux, cloud.join("vmlinux"));
        // HOME/.cache when XDG_CACHE_HOME is unset or relative; KBUILD_LINEINFO_CORPUS first.
        let home = tmp.path().join("home");
        std::fs::create_dir_all(home.join(".cache")).unwrap();
        std::os::unix::fs::symlink(
            tmp.path().join("kbuild-lineinfo"),
            home.join(".cache/kbuild-lineinfo"),
        )
        .unwrap();
        let h = home.to_str().unwrap();
        let found = locate("cloud", env(&[("XDG_CACHE_HOME", "rel"), ("HOME", h)])).unwrap();
        assert_eq!(
            found.modules_order,
            home.join(".cache/kbuild-lineinfo/corpus/cloud/modules.order")
        );
        let r = root.to_str().unwrap();
        let found = locate(
            "cloud",
            env(&[("KBUILD_LINEINFO_CORPUS", r), ("HOME", "/nowhere")]),
        );
        assert_eq!(found.unwrap().modules_dir, cloud.join("modules"));
        assert!(locate("arm64", env(&[("KBUILD_LINEINFO_CORPUS", r)])).is_err());
        // The three variables name the cloud files directly, wherever they are.
        let named = [
            ("KBUILD_LINEINFO_VMLINUX", "/v"),
            ("KBUILD_LINEINFO_MODULES_DIR", "/m"),
            ("KBUILD_LINEINFO_MODULES_ORDER", "/o"),
        ];
        let found = locate("cloud", env(&named)).unwrap();
        assert_eq!(found.vmlinux, Path::new("/v"));
        assert!(locate("cloud", env(&named[..2])).is_err());
    }

    #[test]
    fn parses_symbolizer_pairs_and_unknowns() {
        let got = parse_symbolizer("f\n/s/./a/../b.c:11:20\n\n??\n??:0:0\n\ng\n/s/h.h:0:0\n\n");
        assert_eq!(got, [Some(("/s/b.c".to_string(), 11)), None, None]);
    }

    #[test]
    fn parses_lookup_answers_and_unknowns() {
        let got = parse_lookup(".text+0x10 f+0x10/0x20 fs/a.c:3\n.text+0x20 ?? ??\n");
        assert_eq!(got, [Some(("fs/a.c".to_string(), 3)), None]);
    }
}
