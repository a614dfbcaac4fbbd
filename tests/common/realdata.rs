//! Helpers of the real-data tests (`real_vmlinux.rs`, `real_modules.rs`, and `v7_oracle`
//! for `real_modules_v7.rs`/`v7_modules.rs`): where the Debian corpus is (environment
//! variables, with `KBUILD_LINEINFO_REQUIRE_CORPUS=1` making a missing corpus a failure),
//! piping queries through a tool, a reproducible pseudo-random sequence, and the parsers of
//! `llvm-symbolizer --no-inlines` and `kbuild-lineinfo lookup` output.

use super::answer::normalize;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `file:line`, or `None` when the tool knows none.
pub type Answer = Option<(String, u32)>;

/// The paths named by the environment variables `vars`, or `None` (with a "skipped" note
/// saying to set them to `what`) when one is unset; a panic instead when
/// `KBUILD_LINEINFO_REQUIRE_CORPUS` is set.
pub fn corpus_paths<const N: usize>(vars: [&str; N], what: &str) -> Option<[PathBuf; N]> {
    let values = vars.map(std::env::var_os);
    if values.iter().all(Option::is_some) {
        return Some(values.map(|v| PathBuf::from(v.unwrap())));
    }
    if std::env::var_os("KBUILD_LINEINFO_REQUIRE_CORPUS").is_some() {
        panic!(
            "KBUILD_LINEINFO_REQUIRE_CORPUS is set but {} is not",
            vars.join(" or ")
        );
    }
    eprintln!("skipped: set {} to {what}", vars.join(" and "));
    None
}

/// [`corpus_paths`] for a single variable.
pub fn corpus_path(var: &str, what: &str) -> Option<PathBuf> {
    corpus_paths([var], what).map(|[p]| p)
}

/// The module tree and its `modules.order`: `KBUILD_LINEINFO_MODULES_DIR` and
/// `KBUILD_LINEINFO_MODULES_ORDER`, as [`corpus_paths`] finds them.
pub fn modules_corpus() -> Option<(PathBuf, PathBuf)> {
    let [dir, order] = corpus_paths(
        [
            "KBUILD_LINEINFO_MODULES_DIR",
            "KBUILD_LINEINFO_MODULES_ORDER",
        ],
        "the Debian cloud module tree and its modules.order",
    )?;
    Some((dir, order))
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

/// `kbuild-lineinfo lookup` output: `QUERY file:line` or `QUERY ??`.
pub fn parse_lookup(out: &str) -> Vec<Answer> {
    out.lines()
        .map(|l| {
            let (_, answer) = l.split_once(' ').unwrap();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_symbolizer_pairs_and_unknowns() {
        let got = parse_symbolizer("f\n/s/./a/../b.c:11:20\n\n??\n??:0:0\n\ng\n/s/h.h:0:0\n\n");
        assert_eq!(got, [Some(("/s/b.c".to_string(), 11)), None, None]);
    }

    #[test]
    fn parses_lookup_answers_and_unknowns() {
        let got = parse_lookup(".text+0x10 fs/a.c:3\n.text+0x20 ??\n");
        assert_eq!(got, [Some(("fs/a.c".to_string(), 3)), None]);
    }
}
