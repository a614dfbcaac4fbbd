//! How the tool speaks: how much (the one verbosity rule every subcommand follows) and in which
//! form (`kbuild-lineinfo: FILE: what` on stderr), without ever writing over a progress bar.
//!
//! [`init`] is called once, before a subcommand runs, with `-s`/`-v`; everything that prints a
//! message goes through [`error`], [`warn`], [`note`] or [`explain`]. While a bar is on the
//! terminal ([`show_bar`]) each message first clears it and redraws it afterwards.

use std::fmt::Display;
use std::sync::{Mutex, OnceLock};

use indicatif::ProgressBar;

use crate::mmap::InputError;

/// How much to print, as Kbuild's `-s` / default / `V=1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// `-s`, `make -s`: errors and warnings only.
    Silent,
    /// What a person asked for was done, or why not (one line each), plus Kbuild-style lines.
    Normal,
    /// `-v`, `V=1`: also the lines that explain decisions and statistics.
    Verbose,
}

impl Verbosity {
    /// The one rule, from the flags and the environment `var` gives: `-s` or an `s` among
    /// make's single-letter flags (the first word of `MAKEFLAGS`) is silent; else `-v`, `V=1`
    /// on make's command line (in `MAKEFLAGS`), or `V`/`KBUILD_VERBOSE` containing `1` in the
    /// environment (Kbuild exports them) is verbose.
    pub fn of(silent: bool, verbose: bool, var: impl Fn(&str) -> Option<String>) -> Verbosity {
        let makeflags = var("MAKEFLAGS").unwrap_or_default();
        let make_silent = makeflags
            .split_whitespace()
            .next()
            .is_some_and(|w| !w.starts_with('-') && !w.contains('=') && w.contains('s'));
        let make_verbose = makeflags.split_whitespace().any(|w| w == "V=1");
        let env_verbose = ["V", "KBUILD_VERBOSE"]
            .iter()
            .any(|v| var(v).is_some_and(|v| v.contains('1')));
        if silent || make_silent {
            Verbosity::Silent
        } else if verbose || make_verbose || env_verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }
}

static VERBOSITY: OnceLock<Verbosity> = OnceLock::new();
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Sets the verbosity of this run from `-s`/`-v` and the environment; the first call wins.
pub fn init(silent: bool, verbose: bool) -> Verbosity {
    *VERBOSITY.get_or_init(|| Verbosity::of(silent, verbose, |v| std::env::var(v).ok()))
}

/// The verbosity set by [`init`] (normal if it was not called).
pub fn verbosity() -> Verbosity {
    VERBOSITY.get().copied().unwrap_or(Verbosity::Normal)
}

/// An error: always printed, `kbuild-lineinfo: FILE: what` (see [`render`]).
pub fn error(e: &anyhow::Error) {
    line(&format!("kbuild-lineinfo: {}", render(e)));
}

/// A warning: always printed (as a compiler's under `make -s`).
pub fn warn(msg: impl Display) {
    line(&format!("kbuild-lineinfo: warning: {msg}"));
}

/// What was done instead of what was asked (a module left alone, a step skipped, a default
/// chosen): one line, not under `-s`.
pub fn note(msg: impl Display) {
    if verbosity() != Verbosity::Silent {
        line(&format!("kbuild-lineinfo: {msg}"));
    }
}

/// An explanation or a statistic: only under `-v` / `V=1`.
pub fn explain(msg: impl Display) {
    if verbosity() == Verbosity::Verbose {
        line(&format!("lineinfo: {msg}"));
    }
}

/// The error chain as one line. Every layer is shown, outermost first, except a layer that only
/// names a file (a caller's `with_context(|| path)`) right above an [`InputError`], which names
/// the file at fault itself: `annotate --vmlinux V --table T` says `T: is not an ELF file`.
pub fn render(e: &anyhow::Error) -> String {
    let layers: Vec<&(dyn std::error::Error + 'static)> = e.chain().collect();
    let mut parts = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        let text = without_os_error(layer.to_string());
        let names_a_file_only = !text.contains(": ") && !text.contains(' ');
        let next_is_input = layers
            .get(i + 1)
            .is_some_and(|n| n.downcast_ref::<InputError>().is_some());
        if names_a_file_only && next_is_input {
            continue;
        }
        parts.push(text);
        if layer.downcast_ref::<InputError>().is_some() {
            // Its own cause is already in its text.
            break;
        }
    }
    parts.join(": ")
}

/// `text` without the ` (os error N)` Rust appends to the system's words.
fn without_os_error(text: String) -> String {
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

/// Registers the bar messages must not write over (`None`: the bar is gone).
pub fn show_bar(bar: Option<ProgressBar>) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

/// Prints one line on stderr; a bar on the terminal is cleared first and redrawn after.
fn line(text: &str) {
    let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    match bar {
        Some(bar) => bar.suspend(|| eprintln!("{text}")),
        None => eprintln!("{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(silent: bool, verbose: bool, env: &[(&str, &str)]) -> Verbosity {
        Verbosity::of(silent, verbose, |name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn flags_and_make_give_one_verbosity() {
        use Verbosity::*;
        assert_eq!(of(false, false, &[]), Normal);
        assert_eq!(of(true, false, &[]), Silent);
        assert_eq!(of(false, true, &[]), Verbose);
        assert_eq!(of(true, true, &[]), Silent, "-s wins, as in make");
        assert_eq!(of(false, false, &[("MAKEFLAGS", "rRs -j4")]), Silent);
        assert_eq!(of(false, false, &[("MAKEFLAGS", "s")]), Silent);
        assert_eq!(of(false, false, &[("MAKEFLAGS", " -j4 --sync")]), Normal);
        assert_eq!(of(false, false, &[("MAKEFLAGS", "rR -- V=1")]), Verbose);
        assert_eq!(of(false, false, &[("MAKEFLAGS", " -- V=1 s=2")]), Verbose);
        assert_eq!(of(false, false, &[("MAKEFLAGS", "s -- V=1")]), Silent);
        assert_eq!(of(false, false, &[("V", "1")]), Verbose);
        assert_eq!(of(false, false, &[("KBUILD_VERBOSE", "1")]), Verbose);
        assert_eq!(of(false, false, &[("KBUILD_VERBOSE", "0")]), Normal);
    }

    #[test]
    fn the_file_at_fault_is_named_once() {
        let input = InputError {
            path: "t.o".into(),
            what: "is not an ELF file".into(),
        };
        let e = anyhow::Error::new(input).context("vmlinux");
        assert_eq!(render(&e), "t.o: is not an ELF file");
        let e = anyhow::anyhow!("bad ELF: Could not read file magic").context("vmlinux");
        assert_eq!(render(&e), "vmlinux: bad ELF: Could not read file magic");
        let e = anyhow::Error::new(InputError {
            path: "d".into(),
            what: "is a directory".into(),
        })
        .context("cannot build the tables of vmlinux");
        assert_eq!(
            render(&e),
            "cannot build the tables of vmlinux: d: is a directory"
        );
        let io = std::io::Error::from_raw_os_error(28);
        let e = anyhow::Error::new(io).context("t.o: cannot write");
        assert_eq!(render(&e), "t.o: cannot write: No space left on device");
    }
}
