//! `kbuild-lineinfo annotate`: append ` (file:line)` to every stack frame of a kernel log that
//! lacks one, exactly as the kernel would print it, from the embedded tables alone (no DWARF).
//!
//! A frame `name+0xOFF/0xSIZE [mod]` becomes an address through the symbol table of vmlinux or
//! of the module's `.ko` ([`kbuild_lineinfo::kallsyms`]), so KASLR and load addresses do not
//! matter. Which address is looked up follows the `printk` format that printed the frame
//! (`__sprint_symbol` in the series' `kernel/kallsyms.c`):
//!
//! * `%pB`/`%pBb` (x86 `Call Trace:` frames, `/proc/PID/stack`, and KTAP lines: the series'
//!   KUnit suite formats frames with `sprint_backtrace`): the frame holds a return
//!   address; the kernel looks up **return address − 1** = `name + OFF − 1`. Its symbol-start
//!   guard compares with the symbol start in v7 and with symbol start − 1 in v1 (v1 computes
//!   `sym_start` after undoing the −1 on the offset, so it ends up one byte low).
//! * `%pS` (register lines `RIP:`/`pc :`/`lr :`, arm64 and RISC-V traces, `stack_trace_print`,
//!   `WARNING: … at`): the address itself, `name + OFF`, guarded by the symbol start.
//!
//! Frames that already carry an annotation are left alone; `--check` compares them with the
//! tables instead. `--like-kernel` annotates only what the kernel itself annotates: every frame
//! for a v1 table, only `%pB` frames for a v7 table (v7 gives `%pS` no line). Lines without
//! frames, and frames that do not resolve (unknown symbol or module, offset past the symbol,
//! a build-id that is not the module's), pass through byte for byte.

mod modules;
pub use modules::open_module;
mod release;

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use kbuild_lineinfo::frames::{Frame, Scanner};
use kbuild_lineinfo::symbolize::{Format, Symbolizer};
use kbuild_lineinfo::Layout;

use super::built::{Built, Source};
use crate::cli::AnnotateArgs;
use crate::mmap::InputError;
use modules::ModuleDirs;

/// Longer lines are copied through unparsed (the kernel's lines are under 1 KiB).
const MAX_LINE: usize = 64 * 1024;
/// Warnings about modules (not found, no tables, other build-id) printed at most.
const MAX_WARNINGS: usize = 20;

pub fn run(args: &AnnotateArgs) -> Result<ExitCode> {
    let mut annotator = Annotator::new(args)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.logs.is_empty() || args.logs.iter().all(|p| p.as_os_str() == "-") {
        let stdin = std::io::stdin();
        annotator.annotate("<stdin>", &mut stdin.lock(), &mut out)?;
    } else {
        for path in &args.logs {
            let name = path.to_string();
            if path.as_os_str() == "-" {
                annotator.annotate(&name, &mut std::io::stdin().lock(), &mut out)?;
                continue;
            }
            let file = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
            annotator.annotate(&name, &mut std::io::BufReader::new(file), &mut out)?;
        }
    }
    out.flush()?;
    if annotator.unlocated_modules > 0 {
        crate::voice::note(format_args!(
            "{} frame(s) of modules left as they are: pass --modules DIR (the directory holding \
             their .ko files, e.g. /lib/modules/VERSION)",
            annotator.unlocated_modules
        ));
    }
    if annotator.disagreements > 0 {
        eprintln!(
            "kbuild-lineinfo: {} annotation(s) disagree with the tables",
            annotator.disagreements
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

struct Annotator {
    vmlinux: Option<Vmlinux>,
    modules: Option<ModuleDirs>,
    built: Built,
    check: bool,
    like_kernel: bool,
    disagreements: u64,
    warnings: usize,
    /// Frames of modules seen without `--modules`.
    unlocated_modules: u64,
    /// Modules whose build-id differs from the log's (warned once each).
    mismatched: HashSet<String>,
}

/// The vmlinux and where its tables came from (for `-v`).
struct Vmlinux {
    symbolizer: Symbolizer<'static>,
    path: PathBuf,
    source: Source,
    announced: bool,
}

impl Annotator {
    fn new(args: &AnnotateArgs) -> Result<Annotator> {
        let built = Built::new(args.no_cache);
        let (vmlinux, modules) = files(args)?;
        let vmlinux = match vmlinux {
            Some(path) => {
                let table = args.table.as_deref().map(|t| t.as_std_path());
                let inputs = super::kernel::Inputs {
                    image: &path,
                    table,
                    system_map: args.system_map.as_deref().map(|m| m.as_std_path()),
                };
                let (symbolizer, source) = super::kernel::open(&inputs, &built)?;
                if symbolizer.is_bare() {
                    bail!(
                        "{}: a relocatable object: --vmlinux takes the linked vmlinux (its \
                         symbols)",
                        path.display()
                    );
                }
                if symbolizer.is_empty() {
                    let tables = table.unwrap_or(&path).display();
                    crate::voice::note(format_args!(
                        "{tables}: the lineinfo tables are empty (all counts 0: the stub of a \
                         first link?); no frame of vmlinux gets a line"
                    ));
                }
                Some(Vmlinux {
                    symbolizer,
                    path,
                    source,
                    announced: false,
                })
            }
            None => None,
        };
        Ok(Annotator {
            vmlinux,
            modules: modules.map(ModuleDirs::new),
            built,
            check: args.check,
            like_kernel: args.like_kernel,
            disagreements: 0,
            warnings: 0,
            unlocated_modules: 0,
            mismatched: HashSet::new(),
        })
    }

    /// Copies `input` to `out`, annotating every frame it can.
    fn annotate(&mut self, name: &str, input: &mut dyn BufRead, out: &mut dyn Write) -> Result<()> {
        let mut scanner = Scanner::new();
        let mut line = Vec::new();
        let mut frames = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            let read =
                read_line(input, &mut line).with_context(|| format!("{name}: cannot read"))?;
            number += 1;
            match read {
                Read::Eof => return Ok(()),
                Read::Long => {
                    out.write_all(&line)?;
                    copy_rest_of_line(input, out)?;
                    scanner = Scanner::new();
                    continue;
                }
                Read::Line => {}
            }
            let newline = line.last() == Some(&b'\n');
            let text = &line[..line.len() - usize::from(newline)];
            scanner.line_into(text, &mut frames);
            self.write_line(text, &frames, out, (name, number))?;
            if newline {
                out.write_all(b"\n")?;
            }
        }
    }

    /// Writes one line with the annotations its frames lack.
    fn write_line(
        &mut self,
        text: &[u8],
        frames: &[Frame],
        out: &mut dyn Write,
        at: (&str, u64),
    ) -> Result<()> {
        let mut done = 0;
        for frame in frames {
            if frame.annotation.is_some() && !self.check {
                continue;
            }
            // Frames that do not resolve are left alone, also by --check.
            let Some(answer) = self.answer(text, frame) else {
                continue;
            };
            match (&frame.annotation, answer) {
                (Some(existing), ours) => {
                    let ours = ours.map_or(b" (nothing)".to_vec(), |(a, _)| a);
                    if text[existing.span.clone()] != ours[..] {
                        self.report(text, frame, &ours, at);
                    }
                }
                (None, Some((annotation, by_kernel))) if by_kernel || !self.like_kernel => {
                    out.write_all(&text[done..frame.end])?;
                    out.write_all(&annotation)?;
                    done = frame.end;
                }
                (None, _) => {}
            }
        }
        out.write_all(&text[done..])?;
        Ok(())
    }

    fn report(&mut self, text: &[u8], frame: &Frame, ours: &[u8], at: (&str, u64)) {
        self.disagreements += 1;
        let printed = frame
            .annotation
            .as_ref()
            .map_or(&b""[..], |a| &text[a.span.clone()]);
        eprintln!(
            "{}:{}: {}: printed{}, the tables say{}",
            at.0,
            at.1,
            String::from_utf8_lossy(&text[frame.name.start..frame.end]),
            String::from_utf8_lossy(printed),
            String::from_utf8_lossy(ours)
        );
    }

    /// The annotation the kernel would print for `frame` (truncated as the kernel's buffer
    /// would), and whether the kernel itself prints one for this kind of frame; `Some(None)`
    /// when the kernel prints none, `None` when the frame does not resolve (no image, unknown or
    /// ambiguous symbol, offset past it).
    fn answer(&mut self, text: &[u8], frame: &Frame) -> Option<Option<(Vec<u8>, bool)>> {
        let name = &text[frame.name.clone()];
        let (image, source) = match &frame.module {
            None => self.vmlinux()?,
            Some(module) => {
                let module = text[module.clone()].to_vec();
                let build_id = frame.build_id.clone().map(|r| text[r].to_vec());
                self.module(&module, build_id.as_deref())?
            }
        };
        let format = Format::of(frame.context, image.is_x86());
        let answer = image.at_symbol(name, frame.offset, Some(frame.size), format);
        let found = match answer.line {
            Ok(found) => found,
            Err(miss) if miss.is_unresolved() => return None,
            Err(_) => return Some(None),
        };
        let mut annotation = b" (".to_vec();
        annotation.extend_from_slice(found.file);
        annotation.extend_from_slice(format!(":{})", found.line).as_bytes());
        // snprintf into KSYM_SYMBOL_LEN: the kernel cuts what does not fit.
        let room = image
            .max_frame()
            .saturating_sub(frame.end - frame.name.start);
        annotation.truncate(room);
        // The kernel reads only the tables its image carries: none where we built them from
        // DWARF (a module v1 could not place, a distribution's debug package).
        let printed_by_kernel = matches!(source, Source::Embedded | Source::Table)
            && (image.layout() == Layout::V1 || format == Format::Backtrace);
        Some(Some((annotation, printed_by_kernel)))
    }

    /// The vmlinux; under `-v`, the first time, which file answers its frames.
    fn vmlinux(&mut self) -> Option<(&Symbolizer<'static>, Source)> {
        let v = self.vmlinux.as_mut()?;
        announce(&mut v.announced, &v.path, "vmlinux", v.source);
        Some((&v.symbolizer, v.source))
    }

    /// The module called `name` (`-` and `_` alike), loaded on first use; `None` (with one
    /// warning) when it is not under `--modules`, has no tables nor DWARF, or has another
    /// build-id. Under `-v`, the first time, which file answers its frames.
    fn module(
        &mut self,
        name: &[u8],
        build_id: Option<&[u8]>,
    ) -> Option<(&Symbolizer<'static>, Source)> {
        let Some(dirs) = self.modules.as_mut() else {
            self.unlocated_modules += 1;
            return None;
        };
        let key = String::from_utf8_lossy(name).replace('-', "_");
        if !dirs.loaded.contains_key(&key) {
            let loaded = dirs.load(&key, &self.built);
            match &loaded {
                Err(e) => {
                    let e = crate::voice::render(e);
                    let message = format!("[{key}]: {e}; its frames stay as they are");
                    warn(&mut self.warnings, &message);
                }
                Ok(m) if m.symbolizer.is_empty() => {
                    let message = format!(
                        "{}: the lineinfo tables are empty (all counts 0); no frame of [{key}] \
                         gets a line",
                        m.path.display()
                    );
                    warn(&mut self.warnings, &message);
                }
                Ok(_) => {}
            }
            dirs.loaded.insert(key.clone(), loaded.ok());
        }
        let module = dirs.loaded.get_mut(&key)?.as_mut()?;
        let image = &module.symbolizer;
        if let Some(printed) = build_id {
            if !image.is_build_id(printed) {
                if self.mismatched.insert(key.clone()) {
                    let own: String = image
                        .build_id()
                        .unwrap_or_default()
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    let own = if own.is_empty() { "none".into() } else { own };
                    let message = format!(
                        "[{key}]: the log's build-id {} is not the module's ({own}, {}); its \
                         frames stay as they are",
                        String::from_utf8_lossy(printed),
                        module.path.display()
                    );
                    warn(&mut self.warnings, &message);
                }
                return None;
            }
        }
        let what = format!("[{key}]");
        announce(&mut module.announced, &module.path, &what, module.source);
        Some((&module.symbolizer, module.source))
    }
}

/// The vmlinux and the module directories: `--vmlinux` and `--modules`, else what `-r` finds
/// (a vmlinux that is not found is an error naming the paths tried, as are module
/// directories when no vmlinux is given either).
fn files(args: &AnnotateArgs) -> Result<(Option<PathBuf>, Option<Vec<PathBuf>>)> {
    let vmlinux = args.vmlinux.as_ref().map(PathBuf::from);
    let modules = match &args.modules {
        Some(root) => {
            // Read once up front: a typo is an error now, not a warning at the first frame.
            std::fs::read_dir(root).with_context(|| format!("{root}: cannot read"))?;
            Some(vec![root.into()])
        }
        None => None,
    };
    let Some(rel) = &args.release else {
        return Ok((vmlinux, modules));
    };
    let found = release::find(args.root.as_std_path(), rel);
    let vmlinux = match (vmlinux, found.vmlinux) {
        (Some(given), _) => Some(given),
        (None, Ok(path)) => Some(path),
        (None, Err(tried)) => bail!(
            "release {rel}: no vmlinux (tried {}); pass --vmlinux FILE",
            release::list(&tried)
        ),
    };
    let modules = match (modules, found.modules) {
        (Some(given), _) => Some(given),
        (None, Ok(dirs)) => Some(dirs),
        (None, Err(tried)) => {
            crate::voice::note(format_args!(
                "release {rel}: no module directory (tried {}); frames of modules stay as they \
                 are",
                release::list(&tried)
            ));
            None
        }
    };
    Ok((vmlinux, modules))
}

/// Under `-v`, once per image (`announced`), the file that answers its frames and where its
/// tables came from.
fn announce(announced: &mut bool, path: &Path, image: &str, source: Source) {
    if !std::mem::replace(announced, true) {
        crate::voice::explain(format_args!(
            "{}: answers the frames of {image} ({})",
            path.display(),
            source.describe()
        ));
    }
}

fn warn(count: &mut usize, message: &str) {
    *count += 1;
    if *count <= MAX_WARNINGS {
        crate::voice::warn(message);
    }
}

/// Maps `path` for the rest of the run: the parsed symbols and tables borrow it.
fn map_forever(path: &Path) -> Result<&'static [u8]> {
    let map = crate::mmap::map(path)?;
    Ok(Box::leak(Box::new(map)))
}

/// The table object `path`, for the rest of the run. Errors name it (the caller names the
/// image).
pub fn parse_table(path: &Path) -> Result<object::File<'static>> {
    let data = map_forever(path)?;
    object::File::parse(data)
        .map_err(|e| InputError::new(path, kbuild_lineinfo::Error::from(e)).into())
}

enum Read {
    Line,
    Long,
    Eof,
}

/// Reads up to and including `\n` into `buf`, or stops at [`MAX_LINE`] bytes (`Read::Long`).
fn read_line(input: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<Read> {
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                Read::Eof
            } else {
                Read::Line
            });
        }
        let room = MAX_LINE - buf.len();
        let chunk = &available[..available.len().min(room)];
        if let Some(nl) = chunk.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&chunk[..=nl]);
            input.consume(nl + 1);
            return Ok(Read::Line);
        }
        let n = chunk.len();
        buf.extend_from_slice(chunk);
        input.consume(n);
        if buf.len() >= MAX_LINE {
            return Ok(Read::Long);
        }
    }
}

/// Copies through the next `\n` (included) or the end of input.
fn copy_rest_of_line(input: &mut dyn BufRead, out: &mut dyn Write) -> std::io::Result<()> {
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        if let Some(nl) = available.iter().position(|&b| b == b'\n') {
            out.write_all(&available[..=nl])?;
            input.consume(nl + 1);
            return Ok(());
        }
        let n = available.len();
        out.write_all(available)?;
        input.consume(n);
    }
}
