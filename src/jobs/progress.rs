//! What the user sees while a batch runs: Kbuild-style lines, or a progress bar on a terminal.
//!
//! Lines look like `  LINEINFO [M] drivers/foo.ko` and go to stdout whole, under a lock, so
//! parallel jobs never interleave them. `-s` prints nothing; `V=1` adds lines that explain
//! decisions. On a terminal and outside make (no `MAKEFLAGS`/`MAKELEVEL`) the default verbosity
//! shows an indicatif bar instead: messages clear it before they print ([`crate::voice`]), and
//! when the batch ends it gives way to one summary line. Write errors (a closed stdout pipe) are
//! ignored.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::voice::Verbosity;

/// Reports progress of a batch; shared by reference between jobs.
#[derive(Debug)]
pub struct Progress {
    verbosity: Verbosity,
    sink: Sink,
}

#[derive(Debug)]
enum Sink {
    Silent,
    Lines(Mutex<LineSink>),
    Bar(ProgressBar),
}

/// A writer that receives whole lines only.
struct LineSink(Box<dyn Write + Send>);

impl std::fmt::Debug for LineSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineSink")
    }
}

impl Progress {
    /// Progress for `total` objects on stdout: a bar if stdout is a terminal, the verbosity is
    /// [`Verbosity::Normal`] and make is not running us; lines otherwise.
    pub fn new(verbosity: Verbosity, total: u64) -> Progress {
        let bar_fits = verbosity == Verbosity::Normal && io::stdout().is_terminal();
        if bar_fits && !under_make() {
            let bar = bar(total);
            crate::voice::show_bar(Some(bar.clone()));
            return Progress {
                verbosity,
                sink: Sink::Bar(bar),
            };
        }
        Progress::to_writer(verbosity, Box::new(io::stdout()))
    }

    /// Progress as lines into `out` (tests, or a caller that wants another stream).
    pub fn to_writer(verbosity: Verbosity, out: Box<dyn Write + Send>) -> Progress {
        let sink = match verbosity {
            Verbosity::Silent => Sink::Silent,
            _ => Sink::Lines(Mutex::new(LineSink(out))),
        };
        Progress { verbosity, sink }
    }

    /// One object is done: `  LINEINFO [M] drivers/foo.ko` (`[M]` for `.ko` modules).
    pub fn processed(&self, name: &Path) {
        match &self.sink {
            Sink::Silent => {}
            Sink::Lines(_) => self.line(&processed_line(name)),
            Sink::Bar(bar) => {
                bar.set_message(name.display().to_string());
                bar.inc(1);
            }
        }
    }

    /// An explanation printed only at [`Verbosity::Verbose`]: a `lineinfo: …` line on stderr,
    /// as every subcommand explains (the bar is never shown then).
    pub fn verbose(&self, msg: impl Display) {
        if self.verbosity == Verbosity::Verbose {
            crate::voice::explain(msg);
        }
    }

    /// The batch is over: the bar gives way to `summary` (`  LINEINFO …`), which stays on the
    /// terminal; lines need nothing.
    pub fn finish(&self, summary: impl Display) {
        if let Sink::Bar(bar) = &self.sink {
            crate::voice::show_bar(None);
            bar.finish_and_clear();
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "  LINEINFO {summary}").and_then(|()| out.flush());
        }
    }

    /// Writes one whole line under the lock and flushes it, ignoring write errors.
    fn line(&self, text: &str) {
        match &self.sink {
            Sink::Lines(out) => {
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = out
                    .0
                    .write_all(text.as_bytes())
                    .and_then(|()| out.0.flush());
            }
            Sink::Bar(bar) => bar.println(text.trim_end()),
            Sink::Silent => {}
        }
    }
}

/// The Kbuild-style line for one processed object, newline included.
fn processed_line(name: &Path) -> String {
    let module = name.extension().is_some_and(|e| e == "ko");
    let tag = if module { "[M] " } else { "" };
    format!("  LINEINFO {tag}{}\n", name.display())
}

/// Whether make runs us: then its output conventions (plain lines) apply.
fn under_make() -> bool {
    std::env::var_os("MAKEFLAGS").is_some() || std::env::var_os("MAKELEVEL").is_some()
}

fn bar(total: u64) -> ProgressBar {
    let style = ProgressStyle::with_template("  LINEINFO [{bar:30}] {pos}/{len} {wide_msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout()).with_style(style)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer whose bytes the test can read back. It takes at most 3 bytes per call and
    /// yields, so lines written without the lock would interleave.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.lock().unwrap().extend_from_slice(&buf[..n]);
            std::thread::yield_now();
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn text(s: &Shared) -> String {
        String::from_utf8(s.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn modules_get_the_m_tag_and_vmlinux_does_not() {
        assert_eq!(
            processed_line(Path::new("drivers/foo.ko")),
            "  LINEINFO [M] drivers/foo.ko\n"
        );
        assert_eq!(processed_line(Path::new("vmlinux")), "  LINEINFO vmlinux\n");
    }

    /// The Kbuild-style lines follow the verbosity; explanations never go into them (they are
    /// `lineinfo: …` lines on stderr, through `voice::explain`).
    #[test]
    fn verbosity_filters_lines() {
        for (verbosity, expected) in [
            (Verbosity::Silent, ""),
            (Verbosity::Normal, "  LINEINFO vmlinux\n"),
            (Verbosity::Verbose, "  LINEINFO vmlinux\n"),
        ] {
            let out = Shared::default();
            let p = Progress::to_writer(verbosity, Box::new(out.clone()));
            p.processed(Path::new("vmlinux"));
            p.verbose("cache hit");
            p.finish("1 done");
            assert_eq!(text(&out), expected, "{verbosity:?}");
        }
    }

    #[test]
    fn parallel_jobs_never_interleave_lines() {
        let out = Shared::default();
        let p = Progress::to_writer(Verbosity::Normal, Box::new(out.clone()));
        std::thread::scope(|s| {
            for t in 0..4 {
                let p = &p;
                s.spawn(move || {
                    for i in 0..200 {
                        p.processed(Path::new(&format!("drivers/t{t}/m{i}.ko")));
                    }
                });
            }
        });
        let text = text(&out);
        assert_eq!(text.lines().count(), 800);
        for line in text.lines() {
            assert!(
                line.starts_with("  LINEINFO [M] drivers/t") && line.ends_with(".ko"),
                "{line:?}"
            );
        }
    }
}
