//! Running the real `kbuild-lineinfo` binary (CLI contract in the test brief)
//! and parsing `lookup` output: one line per query, `QUERY file:line` or
//! `QUERY ??`, the query echoed exactly as given.

use super::answer::Answer;
use super::tools::{describe, run};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Queries per `lookup` invocation (keeps command lines short).
const LOOKUP_CHUNK: usize = 1024;

/// The binary, run in a fixed working directory.
#[derive(Clone, Debug)]
pub struct Cli {
    cwd: PathBuf,
}

/// One `lookup` output line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub query: String,
    pub answer: Option<Answer>,
}

impl Cli {
    pub fn new(cwd: &Path) -> Cli {
        Cli {
            cwd: cwd.to_path_buf(),
        }
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"));
        cmd.current_dir(&self.cwd);
        cmd
    }

    /// Runs the binary with `args`; panics with its stderr unless it succeeds.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        run(self.command().args(args))
    }

    /// `vmlinux [--layout L] [--srctree D] -o OUT INPUT`.
    pub fn vmlinux(&self, layout: Option<&str>, srctree: Option<&str>, input: &Path, out: &Path) {
        let to = [OsStr::new("-o"), out.as_os_str()];
        self.vmlinux_to(layout, srctree, &to, input);
        assert_written(out, "vmlinux");
    }

    /// `vmlinux [--layout L] [--srctree D] INPUT`: the assembly on stdout.
    pub fn vmlinux_stdout(
        &self,
        layout: Option<&str>,
        srctree: Option<&str>,
        input: &Path,
    ) -> Vec<u8> {
        self.vmlinux_to(layout, srctree, &[], input).stdout
    }

    /// `vmlinux [--layout L] [--srctree D] -o - INPUT`: the assembly on stdout.
    pub fn vmlinux_stdout_dash(
        &self,
        layout: Option<&str>,
        srctree: Option<&str>,
        input: &Path,
    ) -> Vec<u8> {
        let to = [OsStr::new("-o"), OsStr::new("-")];
        self.vmlinux_to(layout, srctree, &to, input).stdout
    }

    /// `vmlinux [--layout L] [--srctree D] TO... INPUT`.
    fn vmlinux_to(
        &self,
        layout: Option<&str>,
        srctree: Option<&str>,
        to: &[&OsStr],
        input: &Path,
    ) -> Output {
        let mut args = vmlinux_args(layout, srctree);
        args.extend(to.iter().map(|&a| a.to_owned()));
        args.push(input.into());
        self.run(args)
    }

    /// `vmlinux [--layout L] --stub -o OUT`.
    pub fn stub(&self, layout: Option<&str>, out: &Path) {
        let mut args = vmlinux_args(layout, None);
        args.extend(["--stub".into(), "-o".into(), out.into()]);
        self.run(args);
        assert_written(out, "vmlinux --stub");
    }

    /// `module [--layout L] [--srctree D] KO...` (rewrites the files in place).
    pub fn module(&self, layout: Option<&str>, srctree: Option<&str>, kos: &[&Path]) {
        let mut args: Vec<OsString> = vec!["module".into()];
        push_common(&mut args, layout, srctree);
        args.extend(kos.iter().map(|k| k.as_os_str().to_owned()));
        self.run(args);
    }

    /// `lookup --vmlinux FILE 0xADDR...`, in order of `addrs`.
    pub fn lookup_vmlinux(&self, file: &Path, addrs: &[u64]) -> Vec<Lookup> {
        let queries: Vec<String> = addrs.iter().map(|a| format!("0x{a:x}")).collect();
        self.lookup("--vmlinux", file, &queries)
    }

    /// `lookup --module KO QUERY...` where a query is `SECTION+0xOFF` or `0xOFF`.
    pub fn lookup_module(&self, ko: &Path, queries: &[String]) -> Vec<Lookup> {
        self.lookup("--module", ko, queries)
    }

    fn lookup(&self, flag: &str, file: &Path, queries: &[String]) -> Vec<Lookup> {
        let mut out = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(LOOKUP_CHUNK) {
            let mut cmd = self.command();
            cmd.arg("lookup").arg(flag).arg(file).args(chunk);
            let text = String::from_utf8(run(&mut cmd).stdout).expect("lookup prints UTF-8");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(
                lines.len(),
                chunk.len(),
                "{} printed {} lines for {} queries",
                describe(&cmd),
                lines.len(),
                chunk.len()
            );
            for (line, query) in lines.iter().zip(chunk) {
                out.push(parse_lookup_line(line, query));
            }
        }
        out
    }
}

/// A subcommand that exited 0 must have written its output.
fn assert_written(out: &Path, what: &str) {
    let len = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    assert!(
        len > 0,
        "kbuild-lineinfo {what} exited 0 but wrote nothing to {}",
        out.display()
    );
}

fn vmlinux_args(layout: Option<&str>, srctree: Option<&str>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["vmlinux".into()];
    push_common(&mut args, layout, srctree);
    args
}

fn push_common(args: &mut Vec<OsString>, layout: Option<&str>, srctree: Option<&str>) {
    if let Some(l) = layout {
        args.extend(["--layout".into(), l.into()]);
    }
    if let Some(s) = srctree {
        args.extend(["--srctree".into(), s.into()]);
    }
}

/// Parses `QUERY SYMBOL file:line` / `QUERY SYMBOL ??` (SYMBOL is `name+0xOFF/0xSIZE` or
/// `??`); panics on anything else, since a malformed line is a contract violation.
pub fn parse_lookup_line(line: &str, query: &str) -> Lookup {
    let rest = line
        .strip_prefix(query)
        .and_then(|r| r.strip_prefix(' '))
        .unwrap_or_else(|| panic!("lookup line {line:?} does not echo query {query:?}"));
    let (_symbol, rest) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("lookup line {line:?}: expected a symbol or ??"));
    let answer = if rest == "??" {
        None
    } else {
        let (file, l) = rest
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("lookup line {line:?}: expected file:line or ??"));
        let line: u32 = l
            .parse()
            .unwrap_or_else(|_| panic!("lookup line {line:?}: bad line number"));
        Some(Answer {
            file: file.to_string(),
            line,
        })
    };
    Lookup {
        query: query.to_string(),
        answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_lines_parse() {
        let l = parse_lookup_line(".text+0x1c f+0x4/0x10 drivers/a.c:12", ".text+0x1c");
        assert_eq!(l.answer.unwrap().to_string(), "drivers/a.c:12");
        assert_eq!(parse_lookup_line("0x10 ?? ??", "0x10").answer, None);
    }

    #[test]
    #[should_panic(expected = "does not echo")]
    fn lookup_line_must_echo_the_query() {
        parse_lookup_line("0x11 ?? a.c:1", "0x10");
    }
}
