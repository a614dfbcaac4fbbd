//! `annotate` against an independent oracle: logs made of random `name+0xOFF/0xSIZE [mod]`
//! frames (symbols and sizes from binutils `nm`, sizes as kallsyms computes them: up to the
//! next symbol), half of them x86 `Call Trace:` frames (`%pB`: the kernel looks up
//! return address − 1) and half `RIP:` lines (`%pS`: the address itself). Every frame's
//! annotation must be what `llvm-symbolizer --no-inlines` says at that address.
//!
//! The fixture test runs everywhere (C fixtures compiled at test time); the real-data tests
//! need the Debian cloud kernel (`scripts/corpus.sh`, or `KBUILD_LINEINFO_VMLINUX` and
//! `KBUILD_LINEINFO_MODULES_DIR`) and are `#[ignore]`d: `cargo test --test tests annotate:: --
//! --include-ignored`.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::build::{MODULE_UNITS, VMLINUX_UNITS};
use common::realdata::{parse_symbolizer, pipe, same_file, symbol_value, Rng};
use common::{Variant, Workspace};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kbuild-lineinfo")
}

/// A text symbol as the oracle sees it.
#[derive(Debug, Clone)]
pub(crate) struct Sym {
    pub(crate) name: String,
    /// Its address in the file `llvm-symbolizer` reads.
    pub(crate) address: u64,
    /// kallsyms' size: up to the next symbol start (or `end`).
    pub(crate) size: u64,
}

/// [`nm_symbols`] of a vmlinux between its `_text` and `_etext`.
pub(crate) fn kernel_text_symbols(vmlinux: &Path) -> Vec<Sym> {
    let text = symbol_value(vmlinux, "_text");
    let etext = symbol_value(vmlinux, "_etext");
    nm_symbols(vmlinux, text, etext)
}

/// Text symbols of `elf` from `nm -n` in [start, end), with kallsyms sizes.
pub(crate) fn nm_symbols(elf: &Path, start: u64, end: u64) -> Vec<Sym> {
    let out = Command::new("nm").arg("-n").arg(elf).output().unwrap();
    assert!(out.status.success(), "nm {}", elf.display());
    let mut all: Vec<(u64, char, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let addr = u64::from_str_radix(f.next()?, 16).ok()?;
            let kind = f.next()?.chars().next()?;
            Some((addr, kind, f.next()?.to_string()))
        })
        .filter(|(a, _, n)| *a >= start && *a < end && !n.starts_with('$') && !n.starts_with(".L"))
        .collect();
    all.sort_by_key(|s| s.0);
    let mut symbols = Vec::new();
    for (i, (address, kind, name)) in all.iter().enumerate() {
        if !matches!(kind, 'T' | 't' | 'W' | 'w') {
            continue;
        }
        let next = all[i..]
            .iter()
            .map(|s| s.0)
            .find(|&a| a > *address)
            .unwrap_or(end);
        symbols.push(Sym {
            name: name.clone(),
            address: *address,
            size: next - address,
        });
    }
    symbols
}

#[derive(Debug, Default)]
pub(crate) struct Figures {
    frames: u64,
    /// Frames where DWARF answers.
    compared: u64,
    agree: u64,
    disagree: u64,
    /// DWARF answers, we print nothing (name and size shared by several symbols excluded).
    unannotated: u64,
    /// DWARF answers, several symbols share the frame's name and size: nothing to pick from.
    ambiguous: u64,
    /// DWARF has no answer (a line-0 row: docs/format.md §1 rule 1 drops it, the row before stays
    /// in effect), we print the line DWARF gives the nearest byte before it in the symbol.
    extra: u64,
    /// DWARF has no answer in the whole symbol, one of [`NO_UNIT_RANGE`].
    extra_no_unit: u64,
    /// DWARF has no answer and what we print is not the line in effect before it: wrong.
    extra_unexplained: Vec<String>,
}

/// One synthetic log of `count` frames of `symbols` (`module` appended as ` [module]`),
/// annotated with `args`, checked against `llvm-symbolizer` on `oracle`.
pub(crate) fn check_frames(
    symbols: &[Sym],
    module: Option<&str>,
    oracle: &Path,
    args: &[&str],
    count: usize,
    rng: &mut Rng,
    figures: &mut Figures,
) {
    let mut same_name_size: HashMap<(&str, u64), u32> = HashMap::new();
    for s in symbols {
        *same_name_size.entry((&s.name, s.size)).or_default() += 1;
    }
    let mut log = String::from("[    1.000000] Call Trace:\n[    1.000000]  <TASK>\n");
    let mut frames = Vec::new();
    for _ in 0..count {
        let s = &symbols[(rng.next() % symbols.len() as u64) as usize];
        let backtrace = rng.next().is_multiple_of(2);
        let suffix = module.map(|m| format!(" [{m}]")).unwrap_or_default();
        let (offset, address) = if backtrace {
            let off = 1 + rng.next() % s.size;
            (off, s.address + off - 1)
        } else {
            let off = rng.next() % s.size;
            (off, s.address + off)
        };
        let frame = format!("{}+{:#x}/{:#x}{suffix}", s.name, offset, s.size);
        log += &if backtrace {
            format!("[    1.000000]  {frame}\n")
        } else {
            format!("[    1.000000] RIP: 0010:{frame}\n")
        };
        let ambiguous = same_name_size[&(&s.name[..], s.size)] > 1;
        frames.push((frame, address, ambiguous, s.address));
    }
    let queries: String = frames.iter().map(|f| format!("{:#x}\n", f.1)).collect();
    let want = parse_symbolizer(&pipe(
        Command::new("llvm-symbolizer")
            .arg("--no-inlines")
            .arg(format!("--obj={}", oracle.display())),
        &queries,
    ));
    assert_eq!(want.len(), frames.len());
    let out = pipe(Command::new(bin()).arg("annotate").args(args), &log);
    let lines: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(lines.len(), frames.len(), "one output line per input line");
    let mut shown = 0;
    let mut extras = Vec::new();
    // Function padding symbols by address: a marker such as `__noinstr_text_start` can share
    // the address (and the padding) of a `__pfx_` symbol.
    let padding: HashMap<u64, &str> = symbols
        .iter()
        .filter(|s| s.name.starts_with("__pfx_"))
        .map(|s| (s.address, s.name.as_str()))
        .collect();
    for (((frame, address, ambiguous, start), want), line) in frames.iter().zip(&want).zip(&lines) {
        figures.frames += 1;
        let at = line
            .find(frame.as_str())
            .unwrap_or_else(|| panic!("{frame} lost: {line}"));
        let rest = &line[at + frame.len()..];
        let got = rest
            .strip_prefix(" (")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.rsplit_once(':'))
            .map(|(f, l)| (f.to_string(), l.parse::<u32>().unwrap()));
        assert!(got.is_some() || rest.is_empty(), "{line}");
        match (want, got) {
            (None, None) => {}
            (None, Some(_)) if *ambiguous => {}
            (None, Some(got)) => extras.push(Extra {
                address: *address,
                start: *start,
                symbol: padding
                    .get(start)
                    .copied()
                    .unwrap_or_else(|| frame.split_once('+').map_or("", |f| f.0))
                    .to_string(),
                got,
                line: line.to_string(),
            }),
            (Some(_), None) if *ambiguous => figures.ambiguous += 1,
            (Some((wf, wl)), got) => {
                figures.compared += 1;
                match got {
                    None => figures.unannotated += 1,
                    Some((f, l)) if same_file(wf, &f) && l == *wl => figures.agree += 1,
                    Some(_) => figures.disagree += 1,
                }
                if figures.compared > figures.agree && shown < 10 {
                    shown += 1;
                    eprintln!("{frame} at {address:#x}: DWARF {wf}:{wl}, annotate: {line}");
                }
            }
        }
    }
    explain_extras(oracle, &extras, figures);
}

/// A frame annotated where `llvm-symbolizer` has no line.
struct Extra {
    address: u64,
    /// The start of its symbol.
    start: u64,
    /// Its name, or the `__pfx_` symbol at the same address.
    symbol: String,
    got: (String, u32),
    line: String,
}

/// Symbols where we may print a line although `llvm-symbolizer` finds none in the whole symbol,
/// each with its reason. `llvm-symbolizer` first picks the unit whose address ranges hold the
/// address and only then reads that unit's line table; these symbols lie inside a line-table
/// sequence (so rule 3 gives them the line in effect, and the kernel prints it) but outside every
/// unit's ranges.
const NO_UNIT_RANGE: [(&str, &str); 2] = [
    (
        "__pfx_",
        "function padding (CONFIG_FUNCTION_PADDING_BYTES, 16 bytes before each function): \
         emitted before the function's DW_AT_low_pc, inside the sequence of the code before it",
    ),
    (
        "__raw_callee_save_",
        "paravirt callee-save thunks written as file-scope asm in a C file \
         (PV_CALLEE_SAVE_REGS_THUNK): in the file's sequence, in no function's range",
    ),
];

/// Frames we annotate where DWARF answers nothing (`llvm-symbolizer` says line 0 or `??`) must
/// carry the line DWARF gives the nearest byte below, within the symbol (rule 1: a line-0 row
/// is dropped and the row before it stays in effect; rule 3), or be in a symbol of
/// [`NO_UNIT_RANGE`]. Anything else is wrong.
fn explain_extras(oracle: &Path, extras: &[Extra], f: &mut Figures) {
    const BACK: u64 = 256;
    let mut queries = String::new();
    for e in extras {
        for a in e.address.saturating_sub(BACK).max(e.start)..e.address {
            queries += &format!("{a:#x}\n");
        }
    }
    let answers = parse_symbolizer(&pipe(
        Command::new("llvm-symbolizer")
            .arg("--no-inlines")
            .arg(format!("--obj={}", oracle.display())),
        &queries,
    ));
    let mut answers = answers.into_iter();
    for e in extras {
        let before: Vec<_> = answers
            .by_ref()
            .take((e.address.saturating_sub(BACK).max(e.start)..e.address).count())
            .collect();
        let (file, line) = &e.got;
        match before.iter().rev().flatten().next() {
            Some((wf, wl)) if same_file(wf, file) && wl == line => f.extra += 1,
            None if NO_UNIT_RANGE.iter().any(|(p, _)| e.symbol.starts_with(p)) => {
                f.extra_no_unit += 1;
            }
            other => f.extra_unexplained.push(format!(
                "{:#x}: DWARF has no line, the nearest line before it in the symbol is \
                 {other:?}, annotate: {}",
                e.address, e.line
            )),
        }
    }
}

pub(crate) fn assert_figures(what: &str, f: &Figures) {
    let pct = 100.0 * f.agree as f64 / f.compared.max(1) as f64;
    eprintln!(
        "{what}: {} frames, DWARF answers {}, agree {} ({pct:.3} %), disagree {}, unannotated \
         {}, ambiguous name+size {}, annotated where DWARF has line 0 with the line before it {}, \
         in a symbol outside every unit's ranges {}, otherwise {}",
        f.frames,
        f.compared,
        f.agree,
        f.disagree,
        f.unannotated,
        f.ambiguous,
        f.extra,
        f.extra_no_unit,
        f.extra_unexplained.len()
    );
    assert!(f.compared > 0, "{what}: nothing compared");
    assert_eq!(
        (f.agree, f.disagree),
        (f.compared - f.unannotated, 0),
        "{what}: {pct:.3} % agree, 100 % is the claim"
    );
    assert_eq!(
        f.unannotated, 0,
        "{what}: frames left unannotated where DWARF answers"
    );
    assert!(
        f.extra_unexplained.is_empty(),
        "{what}: frames annotated where DWARF has no line, not with the line in effect before \
         them (docs/format.md §1 rules 1 and 3): {:#?}",
        f.extra_unexplained
    );
}

fn fixture_variant(layout: &'static str) -> Variant {
    Variant {
        layout: Some(layout),
        ..Variant::new("annotate")
    }
}

/// The fixtures linked like a kernel (stub, tables from the first link, second link) and as
/// a module `fix-mod.ko` under `modules/`, with the module's oracle link (`.text` at 0x100000).
/// Every file is in `ws.root()`: `stub.o`, `vmlinux.1`, `tables.o`, `vmlinux`,
/// `modules/drivers/fix-mod.ko`.
pub(crate) struct Fixture {
    pub(crate) ws: Workspace,
    pub(crate) link1: PathBuf,
    pub(crate) tables: PathBuf,
    pub(crate) vmlinux: PathBuf,
    pub(crate) modules: PathBuf,
    pub(crate) module_oracle: PathBuf,
}

pub(crate) fn fixture(layout: &'static str) -> Fixture {
    let ws = Workspace::new();
    let v = fixture_variant(layout);
    let objs = ws.compile_all(&v, &VMLINUX_UNITS);
    let stub = ws.path("stub.o");
    common::tools::run(
        Command::new(bin())
            .args(["vmlinux", "--layout", layout, "--stub", "-o"])
            .arg(&stub),
    );
    let link1 = ws.link_vmlinux(&v, &objs, &[&stub], "vmlinux.1");
    let tables = ws.path("tables.o");
    common::tools::run(
        Command::new(bin())
            .args(["vmlinux", "--layout", layout, "-o"])
            .arg(&tables)
            .arg(&link1),
    );
    let vmlinux = ws.link_vmlinux(&v, &objs, &[&tables], "vmlinux");
    let objs = ws.compile_all(&v, &MODULE_UNITS);
    let modules = ws.path("modules");
    std::fs::create_dir_all(modules.join("drivers")).unwrap();
    let ko = ws.link_module(&v, &objs, "modules/drivers/fix-mod.ko");
    let module_oracle = ws.link_module_oracle(&ko, "fix-mod.linked");
    common::tools::run(
        Command::new(bin())
            .args(["module", "-s", "--layout", layout])
            .arg(&ko),
    );
    Fixture {
        ws,
        link1,
        tables,
        vmlinux,
        modules,
        module_oracle,
    }
}

/// Every frame agrees with DWARF, both layouts, linked tables and table object, modules.
#[test]
fn fixtures_agree_with_llvm_symbolizer() {
    for layout in ["v1", "v7"] {
        let fx = fixture(layout);
        let vmlinux = &fx.vmlinux;
        let symbols = kernel_text_symbols(vmlinux);
        let mut rng = Rng(0x5eed_0001);
        let mut f = Figures::default();
        let args = ["--vmlinux", vmlinux.to_str().unwrap()];
        check_frames(&symbols, None, vmlinux, &args, 2000, &mut rng, &mut f);
        // The table object with the first link's symbols answers the same.
        let (link1, tables) = (fx.link1.to_str().unwrap(), fx.tables.to_str().unwrap());
        let args = ["--vmlinux", link1, "--table", tables];
        check_frames(&symbols, None, vmlinux, &args, 2000, &mut rng, &mut f);
        assert_figures(&format!("fixture vmlinux {layout}"), &f);

        let oracle = &fx.module_oracle;
        let symbols = nm_symbols(
            oracle,
            0x10_0000,
            0x10_0000 + common::elf::section(oracle, ".text").map_or(0, |s| s.size),
        );
        let mut f = Figures::default();
        let args = ["--modules", fx.modules.to_str().unwrap()];
        check_frames(
            &symbols,
            Some("fix_mod"),
            oracle,
            &args,
            2000,
            &mut rng,
            &mut f,
        );
        assert_figures(&format!("fixture module {layout}"), &f);
    }
}

pub(crate) fn annotate(args: &[&str], input: &[u8]) -> std::process::Output {
    with_stdin(Command::new(bin()).arg("annotate").args(args), input)
}

/// What `cmd` printed with `input` on its standard input (written from another thread, so
/// that a large output cannot block it).
pub(crate) fn with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// The module `original` linked by `ld` for `llvm-symbolizer` (`.text` at 0x100000, other code
/// sections at 0x40000000) into `work/linked`, and its `.text` symbols there.
pub(crate) fn module_oracle(work: &Path, original: &Path) -> (PathBuf, Vec<Sym>) {
    let script = work.join("oracle.ld");
    std::fs::write(
        &script,
        "SECTIONS {\n  .text 0x100000 : { *(.text) }\n  .othertext 0x40000000 : { *(.text.*) \
         *(.*.text) *(.altinstr_replacement) *(.altinstr_aux) }\n  . = 0x50000000;\n}\n",
    )
    .unwrap();
    let linked = work.join("linked");
    common::tools::run(
        Command::new("ld")
            .args(["--unresolved-symbols=ignore-all", "--noinhibit-exec", "-T"])
            .arg(&script)
            .arg("-o")
            .arg(&linked)
            .arg(original),
    );
    let end = 0x10_0000 + common::elf::section(original, ".text").map_or(0, |s| s.size);
    let symbols = nm_symbols(&linked, 0x10_0000, end);
    (linked, symbols)
}

/// Huge lines, binary garbage, offsets past the symbol, unknown symbols and modules, wrong
/// build-ids: the log comes back byte for byte, exit 0, no panic.
#[test]
fn hostile_logs_pass_through_unchanged() {
    let fx = fixture("v1");
    let vmlinux = &fx.vmlinux;
    let s = &kernel_text_symbols(vmlinux)[0];
    let m = nm_symbols(
        &fx.module_oracle,
        0x10_0000,
        0x10_0001 + common::elf::section(&fx.module_oracle, ".text").map_or(0, |s| s.size),
    );
    let m = &m[0];
    let mut log = Vec::new();
    let mut line = |l: String| {
        log.extend_from_slice(l.as_bytes());
        log.push(b'\n');
    };
    line(" Call Trace:".into());
    line(format!(" {}+{:#x}/{:#x}", s.name, s.size + 1, s.size));
    line(format!(" {}+{:#x}/{:#x}", s.name, s.size * 4, s.size * 8));
    line(format!("RIP: 0010:{}+{:#x}/{:#x}", s.name, s.size, s.size));
    line(format!(" {}+0x0/{:#x}", s.name, s.size));
    line(" no_such_symbol+0x1/0x10 [nosuchmod]".into());
    line(format!(" {}+0x1/{:#x} [nosuchmod]", s.name, s.size));
    line(format!(
        " {}+0x1/{:#x} [fix_mod 00112233445566778899aabbccddeeff00112233]",
        m.name, m.size
    ));
    line(format!(" {}+0x{}/{:#x}", s.name, "f".repeat(40), s.size));
    line(format!(" {}{}+0x1/{:#x}", "a".repeat(600), s.name, s.size));
    let mut huge = b" ".to_vec();
    huge.extend(
        std::iter::repeat_n(
            format!("{}+0x1/{:#x} ", s.name, s.size).into_bytes(),
            20_000,
        )
        .flatten(),
    );
    log.extend_from_slice(&huge);
    log.push(b'\n');
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    log.extend_from_slice(&garbage);
    log.extend_from_slice(b"\r\n\xff\xfe no newline at the end");
    let args = [
        "--vmlinux",
        vmlinux.to_str().unwrap(),
        "--modules",
        fx.modules.to_str().unwrap(),
    ];
    let out = annotate(&args, &log);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == log,
        "the hostile log did not come back unchanged"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("no nosuchmod.ko under"), "{stderr}");
    assert!(stderr.contains("build-id"), "{stderr}");
}

/// A vmlinux without tables (DWARF and a build-id): the first run builds its tables and keeps
/// them and its text symbols in the cache (two entries); the next reads both back, the same
/// output. An entry truncated or with a byte changed is said (one warning), removed and made
/// again, never trusted: the same output, the same entry bytes as before.
#[test]
fn a_damaged_cache_entry_is_made_again() {
    let ws = Workspace::new();
    let v = fixture_variant("v7");
    let objs = ws.compile_all(&v, &VMLINUX_UNITS);
    let vmlinux = ws.path("vmlinux");
    common::tools::run(
        Command::new(v.toolchain.linker())
            .args(["-z", "noexecstack", "--build-id=sha1", "-T"])
            .arg(ws.src().join("mini-vmlinux.ld"))
            .arg("-o")
            .arg(&vmlinux)
            .args(&objs),
    );
    let mut log = String::from("[    1.000000] Call Trace:\n");
    for s in kernel_text_symbols(&vmlinux).iter().filter(|s| s.size > 1) {
        log += &format!("[    1.000000]  {}+0x1/{:#x}\n", s.name, s.size);
    }
    let cache = tempfile::tempdir().unwrap();
    let run = || {
        let out = with_stdin(
            Command::new(bin())
                .args(["-v", "annotate", "--vmlinux", vmlinux.to_str().unwrap()])
                .env("KBUILD_LINEINFO_CACHE", cache.path()),
            log.as_bytes(),
        );
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        (String::from_utf8(out.stdout).unwrap(), err)
    };
    // The entry holding the packed text symbols, the one holding the tables.
    let entries = || {
        let mut entries: Vec<(Vec<u8>, PathBuf)> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "entry"))
            .map(|p| (std::fs::read(&p).unwrap(), p))
            .collect();
        assert_eq!(entries.len(), 2, "{entries:?}");
        // Entry header: 84 bytes, then the payload.
        entries.sort_by_key(|(bytes, _)| !bytes[84..].starts_with(b"KLISYMS1"));
        entries
    };
    let (cold, cold_err) = run();
    assert!(cold.matches(".c:").count() > 10, "{cold}\n{cold_err}");
    assert!(!cold_err.contains("from the cache"), "{cold_err}");
    let kept = entries();
    let (warm, warm_err) = run();
    assert_eq!(warm, cold);
    assert!(warm_err.contains("from the cache"), "{warm_err}");
    for (which, what) in [(0, "text symbols"), (1, "tables")] {
        for damage in ["truncated", "a byte changed"] {
            let (bytes, path) = &kept[which];
            let damaged = match damage {
                "truncated" => bytes[..bytes.len() / 2].to_vec(),
                _ => {
                    let mut b = bytes.clone();
                    b[84 + (bytes.len() - 84) / 3] ^= 0x10;
                    b
                }
            };
            std::fs::write(path, damaged).unwrap();
            let (out, err) = run();
            assert_eq!(out, cold, "{what} {damage}: {err}");
            let warnings: Vec<_> = err.lines().filter(|l| l.contains("warning")).collect();
            assert!(
                warnings.len() == 1 && warnings[0].contains("corrupt cache entry"),
                "{what} {damage}: one warning about the entry: {err}"
            );
            assert_eq!(
                entries(),
                kept,
                "{what} {damage}: made again, the same bytes"
            );
        }
    }
}

/// `--check` leaves the log alone and reports a wrong or missing line, exit 1; a right one
/// passes with exit 0.
#[test]
fn check_reports_disagreements() {
    let fx = fixture("v7");
    let vmlinux = &fx.vmlinux;
    let symbols = kernel_text_symbols(vmlinux);
    let args = ["--vmlinux", vmlinux.to_str().unwrap()];
    // A frame the tables answer for, annotated by annotate itself.
    let (good, bad) = symbols
        .iter()
        .find_map(|s| {
            let log = format!("RIP: 0010:{}+0x0/{:#x}\n", s.name, s.size);
            let out = String::from_utf8(annotate(&args, log.as_bytes()).stdout).unwrap();
            let (head, line) = out.trim_end().rsplit_once(':')?;
            let wrong = format!(
                "{head}:{})\n",
                line.trim_end_matches(')').parse::<u32>().ok()? + 1
            );
            Some((out, wrong))
        })
        .expect("a symbol with a line");
    // --like-kernel with v7 tables: the Call Trace frame (%pB) gets its line, RIP (%pS) none.
    let rip = good.trim_end().rsplit_once(" (").unwrap().0.to_string();
    let frame = rip
        .strip_prefix("RIP: 0010:")
        .unwrap()
        .replace("+0x0/", "+0x1/");
    let log = format!(" Call Trace:\n {frame}\n{rip}\n");
    let like: Vec<&str> = ["--like-kernel"].into_iter().chain(args).collect();
    let out = String::from_utf8(annotate(&like, log.as_bytes()).stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].starts_with(&format!(" {frame} (")), "{out}");
    assert_eq!(lines[2], rip, "v7 prints no line for %pS");
    let check: Vec<&str> = ["--check"].into_iter().chain(args).collect();
    let out = annotate(&check, good.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, good.as_bytes());
    let out = annotate(&check, bad.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, bad.as_bytes(), "--check does not rewrite");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("<stdin>:1:") && stderr.contains("the tables say"),
        "{stderr}"
    );
}

/// 20,000 random frames of the cloud vmlinux's text per layout, with the table object our
/// tool makes (the cloud vmlinux carries none).
#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_vmlinux_frames_agree_with_llvm_symbolizer() {
    let vmlinux = common::realdata::cloud().vmlinux;
    assert!(
        vmlinux.exists(),
        "{}: missing (scripts/corpus.sh)",
        vmlinux.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let symbols = kernel_text_symbols(&vmlinux);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for layout in ["v1", "v7"] {
        let table = dir.path().join(format!("table-{layout}.o"));
        common::tools::run(
            Command::new(bin())
                .args(["vmlinux", "--layout", layout, "-o"])
                .arg(&table)
                .arg(&vmlinux),
        );
        let args = [
            "--vmlinux",
            vmlinux.to_str().unwrap(),
            "--table",
            table.to_str().unwrap(),
        ];
        let mut f = Figures::default();
        for _ in 0..4 {
            check_frames(&symbols, None, &vmlinux, &args, 5000, &mut rng, &mut f);
        }
        assert_figures(&format!("cloud vmlinux {layout}"), &f);
    }
}

/// Modules of the cloud kernel, copied and embedded (v1 and v7), frames of their `.text`
/// checked against the original linked by `ld` with `.text` at 0x100000.
#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_module_frames_agree_with_llvm_symbolizer() {
    const MODULES: [&str; 10] = [
        "arch/x86/kvm/kvm.ko",
        "arch/x86/kvm/kvm-intel.ko",
        "fs/xfs/xfs.ko",
        "fs/ext4/ext4.ko",
        "net/nsh/nsh.ko",
        "net/sched/cls_flower.ko",
        "drivers/net/virtio_net.ko",
        "fs/fuse/fuse.ko",
        "net/ipv4/tcp_bbr.ko",
        "lib/crc7.ko",
    ];
    let root = common::realdata::cloud().modules_dir;
    assert!(
        root.exists(),
        "{}: missing (scripts/corpus.sh)",
        root.display()
    );
    let work = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x0bad_cafe);
    for layout in ["v1", "v7"] {
        let dir = work.path().join(layout);
        let mut f = Figures::default();
        for rel in MODULES {
            let original = root.join(rel);
            if !original.exists() {
                eprintln!("skipped {rel}: not in this tree");
                continue;
            }
            let copy = dir.join(rel);
            std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
            std::fs::copy(&original, &copy).unwrap();
            common::tools::run(
                Command::new(bin())
                    .args(["module", "-s", "--layout", layout])
                    .arg(&copy),
            );
            let (linked, symbols) = module_oracle(work.path(), &original);
            if symbols.is_empty() {
                continue;
            }
            let name = Path::new(rel)
                .file_stem()
                .unwrap()
                .to_str()
                .unwrap()
                .replace('-', "_");
            let args = ["--modules", dir.to_str().unwrap()];
            check_frames(
                &symbols,
                Some(&name),
                &linked,
                &args,
                1000,
                &mut rng,
                &mut f,
            );
        }
        assert_figures(&format!("cloud modules {layout}"), &f);
    }
}

/// The cells of `KBUILD_LINEINFO_KERNEL_LOGS` (one directory per booted kernel, as
/// `tests/kernel/run.sh` keeps them with `E2E_LOGS`) that hold `console.log` and `with`.
fn kernel_cells(with: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(
        std::env::var_os("KBUILD_LINEINFO_KERNEL_LOGS")
            .expect("KBUILD_LINEINFO_KERNEL_LOGS: the directory of booted kernels' logs"),
    );
    let mut cells: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("console.log").exists() && p.join(with).exists())
        .collect();
    cells.sort();
    assert!(
        !cells.is_empty(),
        "{}: no <cell>/console.log with <cell>/{with} (run tests/kernel/run.sh with E2E_LOGS)",
        root.display()
    );
    cells
}

/// The same booted kernels as a distribution installs them (`tests/kernel/run.sh` with
/// `E2E_LOGS` writes `<cell>/root`: `/boot/vmlinuz-REL` with `System.map-REL`, and
/// `/lib/modules/REL` stripped of DWARF, compressed with xz and zstd; `<cell>/release`): with no
/// file named but the release and the root, every ` (file:line)` stripped from the boot log comes
/// back byte for byte.
#[test]
#[ignore = "needs booted kernels installed: KBUILD_LINEINFO_KERNEL_LOGS=DIR/<cell>/{console.log,release,root/}"]
fn installed_kernel_logs_round_trip() {
    let cells = kernel_cells("release");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/annotate-roundtrip.sh");
    let cache = tempfile::tempdir().unwrap();
    let mut failed = Vec::new();
    for cell in &cells {
        let release = std::fs::read_to_string(cell.join("release")).unwrap();
        let out = Command::new("bash")
            .arg(&script)
            .arg(cell.join("console.log"))
            .args(["--", "-r", release.trim(), "--root"])
            .arg(cell.join("root"))
            .env("KBUILD_LINEINFO_BIN", bin())
            .env("XDG_CACHE_HOME", cache.path())
            .output()
            .unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            failed.push(cell.display().to_string());
        }
        // The answers came from what was installed (`--check` looks every annotation up): the
        // vmlinuz, and compressed modules.
        let out = Command::new(bin())
            .args(["-v", "annotate", "--check", "-r", release.trim(), "--root"])
            .arg(cell.join("root"))
            .arg(cell.join("console.log"))
            .env("XDG_CACHE_HOME", cache.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        let vmlinuz = format!(
            "boot/vmlinuz-{}: answers the frames of vmlinux",
            release.trim()
        );
        if !said.contains(&vmlinuz) || !said.contains(".ko.xz: answers") {
            failed.push(format!(
                "{}: not answered from the vmlinuz and .ko.xz modules: {said}",
                cell.display()
            ));
        }
    }
    assert!(failed.is_empty(), "round trip failed: {failed:?}");
}

/// Booted kernels' logs (`KBUILD_LINEINFO_KERNEL_LOGS`: one directory per kernel with `console.log`, `vmlinux` and `modules/`): every ` (file:line)`
/// stripped and annotated again gives the log back byte for byte, and `--check` agrees
/// (`scripts/annotate-roundtrip.sh`).
#[test]
#[ignore = "needs booted kernel logs: KBUILD_LINEINFO_KERNEL_LOGS=DIR/<cell>/{console.log,vmlinux,modules/}"]
fn booted_kernel_logs_round_trip() {
    let cells = kernel_cells("vmlinux");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/annotate-roundtrip.sh");
    let mut failed = Vec::new();
    for cell in &cells {
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .arg(cell.join("console.log"))
            .arg(cell.join("vmlinux"));
        if cell.join("modules").is_dir() {
            cmd.arg(cell.join("modules"));
        }
        let out = cmd.env("KBUILD_LINEINFO_BIN", bin()).output().unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            failed.push(cell.display().to_string());
        }
    }
    assert!(failed.is_empty(), "round trip failed: {failed:?}");
}
