//! `lookup` as a person uses it, and what `annotate` says besides the log: addresses as an oops
//! prints them and `name+0xOFF/0xSIZE` frames answered like `llvm-symbolizer --no-inlines`
//! (an independent oracle), the symbol printed with the line, every `??` explained on stderr
//! (not under `-s`), a bad query reported with where it came from while the rest is answered
//! (exit 1), and the one-line notes of `annotate` (module frames without `--modules`, a stub
//! table, a `--modules` directory that cannot be read).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::annotate::{fixture, kernel_text_symbols, nm_symbols, Fixture, Sym};
use crate::common;
use common::realdata::{parse_symbolizer, pipe, same_file, symbol_value, Rng};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kbuild-lineinfo")
}

/// Runs the tool in `dir` with `stdin`.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("MAKEFLAGS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_string();
    let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
    let out = child.wait_with_output().unwrap();
    // A command that fails up front reads nothing: a broken pipe is no failure of the test.
    let written = writer.join().unwrap();
    assert!(written.is_ok() || !out.status.success(), "{written:?}");
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One parsed output line: the symbol column and `(file, line)`.
fn parse(line: &str) -> (String, Option<(String, u32)>) {
    let [_, symbol, answer] = line.splitn(3, ' ').collect::<Vec<_>>()[..] else {
        panic!("not QUERY SYMBOL ANSWER: {line:?}");
    };
    let answer = answer
        .rsplit_once(':')
        .map(|(f, l)| (f.to_string(), l.parse().unwrap()));
    (symbol.to_string(), answer)
}

#[derive(Debug, Default)]
pub(crate) struct Figures {
    queries: u64,
    /// Queries where DWARF answers.
    compared: u64,
    agree: u64,
    /// Printed symbol: right name (one of those at that start), offset and kallsyms size.
    symbol_right: u64,
}

/// `queries` (one per symbol and address) answered by `lookup ARGS` against `llvm-symbolizer`
/// on `oracle` at `addresses`; `starts` is every symbol of `symbols` by address.
pub(crate) fn check(
    args: &[&str],
    queries: &[String],
    addresses: &[u64],
    symbols: &[Sym],
    oracle: &Path,
    figures: &mut Figures,
) {
    let input: String = queries.iter().map(|q| format!("{q}\n")).collect();
    let oracle_input: String = addresses.iter().map(|a| format!("{a:#x}\n")).collect();
    let want = parse_symbolizer(&pipe(
        Command::new("llvm-symbolizer")
            .arg("--no-inlines")
            .arg(format!("--obj={}", oracle.display())),
        &oracle_input,
    ));
    let out = run(Path::new("."), &[&["lookup"], args].concat(), &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), queries.len());
    // No bare `??`: one reason on stderr for each.
    let unknown = lines.iter().filter(|l| l.ends_with(" ??")).count();
    assert_eq!(
        text(&out.stderr).lines().count(),
        unknown,
        "{}",
        text(&out.stderr)
    );
    let mut by_start: HashMap<u64, Vec<&Sym>> = HashMap::new();
    for s in symbols {
        by_start.entry(s.address).or_default().push(s);
    }
    let mut shown = 0;
    for (((query, &address), want), line) in queries.iter().zip(addresses).zip(&want).zip(&lines) {
        assert!(line.starts_with(&format!("{query} ")), "{line}");
        figures.queries += 1;
        let (symbol, got) = parse(line);
        let start = symbols.iter().rev().find(|s| s.address <= address).unwrap();
        let right = by_start[&start.address]
            .iter()
            .any(|s| symbol == format!("{}+{:#x}/{:#x}", s.name, address - s.address, s.size));
        figures.symbol_right += u64::from(right);
        let Some((want_file, want_line)) = want else {
            continue;
        };
        figures.compared += 1;
        match got {
            Some((f, l)) if same_file(want_file, &f) && l == *want_line => figures.agree += 1,
            _ if shown < 10 => {
                shown += 1;
                eprintln!("{query} at {address:#x}: DWARF {want_file}:{want_line}: {line}");
            }
            _ => {}
        }
    }
}

pub(crate) fn assert_figures(what: &str, f: &Figures) {
    eprintln!("{what}: {f:?}");
    assert!(f.compared > 100, "{what}: too few compared");
    assert_eq!(f.agree, f.compared, "{what}: lines disagree with DWARF");
    assert_eq!(
        f.symbol_right, f.queries,
        "{what}: symbols are not kallsyms'"
    );
}

/// Symbols whose name and size are their own (a `name+0xOFF/0xSIZE` names one place).
pub(crate) fn unique(symbols: &[Sym]) -> Vec<Sym> {
    let mut count: HashMap<(&str, u64), u32> = HashMap::new();
    for s in symbols {
        *count.entry((&s.name, s.size)).or_default() += 1;
    }
    symbols
        .iter()
        .filter(|s| count[&(&s.name[..], s.size)] == 1)
        .cloned()
        .collect()
}

/// Random (symbol, offset) pairs of `symbols`.
fn sample(symbols: &[Sym], count: usize, rng: &mut Rng) -> Vec<(Sym, u64)> {
    (0..count)
        .map(|_| {
            let s = &symbols[(rng.next() % symbols.len() as u64) as usize];
            (s.clone(), rng.next() % s.size)
        })
        .collect()
}

/// vmlinux: absolute addresses (linked tables, and a table object with the first link's
/// symbols) and `name+0xOFF/0xSIZE` frames answer what DWARF says, with kallsyms' symbol.
#[test]
fn vmlinux_addresses_and_frames_agree_with_llvm_symbolizer() {
    for layout in ["v1", "v7"] {
        let fx = fixture(layout);
        let (vmlinux, link1) = (fx.vmlinux.to_str().unwrap(), fx.link1.to_str().unwrap());
        let symbols = kernel_text_symbols(&fx.vmlinux);
        let picks = sample(&unique(&symbols), 1500, &mut Rng(0x100c_0001));
        let addresses: Vec<u64> = picks.iter().map(|(s, o)| s.address + o).collect();
        let absolute: Vec<String> = addresses.iter().map(|a| format!("{a:#x}")).collect();
        let frames: Vec<String> = picks
            .iter()
            .map(|(s, o)| format!("{}+{o:#x}/{:#x}", s.name, s.size))
            .collect();
        let mut f = Figures::default();
        let linked = ["--vmlinux", vmlinux];
        check(
            &linked,
            &absolute,
            &addresses,
            &symbols,
            &fx.vmlinux,
            &mut f,
        );
        check(&linked, &frames, &addresses, &symbols, &fx.vmlinux, &mut f);
        let table = ["--vmlinux", link1, "--table", fx.tables.to_str().unwrap()];
        check(&table, &absolute, &addresses, &symbols, &fx.vmlinux, &mut f);
        assert_figures(&format!("lookup vmlinux {layout}"), &f);
    }
}

/// A module: `.text+0xOFF` and `name+0xOFF` answer what DWARF says of its oracle link.
#[test]
fn module_sections_and_frames_agree_with_llvm_symbolizer() {
    for layout in ["v1", "v7"] {
        let fx = fixture(layout);
        let oracle = &fx.module_oracle;
        let end = 0x10_0000 + common::elf::section(oracle, ".text").map_or(0, |s| s.size);
        let symbols = nm_symbols(oracle, 0x10_0000, end);
        let picks = sample(&unique(&symbols), 1000, &mut Rng(0x100c_0002));
        let addresses: Vec<u64> = picks.iter().map(|(s, o)| s.address + o).collect();
        let sections: Vec<String> = addresses
            .iter()
            .map(|a| format!(".text+{:#x}", a - 0x10_0000))
            .collect();
        let frames: Vec<String> = picks
            .iter()
            .map(|(s, o)| format!("{}+{o:#x}", s.name))
            .collect();
        let ko = fx.modules.join("drivers/fix-mod.ko");
        let args = ["--module", ko.to_str().unwrap()];
        let mut f = Figures::default();
        check(&args, &sections, &addresses, &symbols, oracle, &mut f);
        check(&args, &frames, &addresses, &symbols, oracle, &mut f);
        assert_figures(&format!("lookup module {layout}"), &f);
    }
}

fn first_text_symbol(fx: &Fixture) -> Sym {
    let symbols = unique(&kernel_text_symbols(&fx.vmlinux));
    // Not `_text`: kallsyms prints the function that starts there.
    symbols
        .into_iter()
        .find(|s| s.size > 8 && !s.name.starts_with('_'))
        .unwrap()
}

/// What a person pastes, one per line: answered in order; a line that is no query is reported
/// with the input's name and line number, answered `?? ??`, and the exit status is 1.
#[test]
fn a_bad_query_is_reported_and_the_rest_answered() {
    let fx = fixture("v1");
    let s = first_text_symbol(&fx);
    let address = s.address + 4;
    let input = format!(
        "{address:#x}\n[<{address:x}>]\n\n{}+0x4/{:#x}\nzz\n{}+0x4 [fix_mod]\n",
        s.name, s.size, s.name
    );
    let out = run(fx.ws.root(), &["lookup", "--vmlinux", "vmlinux"], &input);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "kbuild-lineinfo: <stdin>:5: `zz`: not an address (0xffffffff81a2b475), \
         SYMBOL+0xOFF[/0xSIZE] or SECTION+0xOFF\n"
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    let answer = lines[0].split_once(' ').unwrap().1;
    assert!(
        answer.starts_with(&format!("{}+0x4/{:#x} ", s.name, s.size)),
        "{stdout}"
    );
    assert!(!answer.ends_with("??"), "{stdout}");
    for (line, query) in lines.iter().zip([
        format!("{address:#x}"),
        format!("[<{address:x}>]"),
        format!("{}+0x4/{:#x}", s.name, s.size),
        "zz".into(),
        format!("{}+0x4 [fix_mod]", s.name),
    ]) {
        let want = if query == "zz" {
            "zz ?? ??".to_string()
        } else {
            format!("{query} {answer}")
        };
        assert_eq!(*line, want);
    }
    // On the command line: named by its position.
    let out = run(
        fx.ws.root(),
        &["lookup", "--vmlinux", "vmlinux", "0x0", "0xq"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.ends_with("kbuild-lineinfo: argument 2: `0xq`: not an address (0xffffffff81a2b475), SYMBOL+0xOFF[/0xSIZE] or SECTION+0xOFF\n"), "{err}");
}

/// A table object alone answers offsets from `_text`; an absolute address or a symbol is an
/// error with the hint (once), and the other queries are still answered.
#[test]
fn an_absolute_address_against_a_table_object_is_an_error_with_a_hint() {
    let fx = fixture("v7");
    let text_start = symbol_value(&fx.vmlinux, "_text");
    let s = first_text_symbol(&fx);
    let offset = format!("{:#x}", s.address - text_start);
    // As an oops prints it (the fixture's own addresses fit in 32 bits, as offsets do).
    let absolute = format!("{:#x}", 0xffff_ffff_8000_0000 + s.address);
    let args = [
        "lookup",
        "--vmlinux",
        "tables.o",
        &absolute,
        &offset,
        "f+0x1",
    ];
    let out = run(fx.ws.root(), &args, "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "kbuild-lineinfo: tables.o: {absolute}: an absolute address, but tables.o is a table \
             object alone, whose queries are offsets from _text; give the linked image too: \
             --vmlinux VMLINUX --table tables.o\n\
             kbuild-lineinfo: tables.o: f+0x1: a symbol, but tables.o is a table object alone\n"
        )
    );
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("{absolute} ?? ??"));
    assert!(lines[1].starts_with(&format!("{offset} ?? ")) && !lines[1].ends_with("??"));
    assert_eq!(lines[2], "f+0x1 ?? ??");
    // With the image, the symbol's address answers the offset's line.
    let address = format!("{:#x}", s.address);
    let args = [
        "lookup",
        "--vmlinux",
        "vmlinux.1",
        "--table",
        "tables.o",
        &address,
    ];
    let out = run(fx.ws.root(), &args, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let with_image = text(&out.stdout);
    let line = |l: &str| l.rsplit_once(' ').unwrap().1.to_string();
    assert_eq!(line(with_image.trim_end()), line(lines[1]), "{with_image}");
}

/// Every `??` says why on stderr, one line each, in a person's words; `-s` keeps stdout and
/// drops the reasons.
#[test]
fn every_unknown_line_says_why() {
    let fx = fixture("v1");
    let (t, e) = (
        symbol_value(&fx.vmlinux, "_text"),
        symbol_value(&fx.vmlinux, "_etext"),
    );
    let below = format!("{:#x}", t - 0x10);
    let args = ["lookup", "--vmlinux", "vmlinux", &below];
    let out = run(fx.ws.root(), &args, "");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), format!("{below} ?? ??\n"));
    assert_eq!(
        text(&out.stderr),
        format!(
            "kbuild-lineinfo: vmlinux: {below}: outside [_text, _etext) = [{t:#x}, {e:#x}), the \
             core kernel text the tables cover (init code? a module's address: lookup --module \
             KO SYMBOL+0xOFF)\n"
        )
    );
    let ko = "modules/drivers/fix-mod.ko";
    let queries = [
        ".init.text+0x0",
        ".nope+0x0",
        ".text+0x100000",
        "no_such_fn+0x0",
    ];
    let args = [&["lookup", "--module", ko][..], &queries].concat();
    let out = run(fx.ws.root(), &args, "");
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    for (line, q) in stdout.lines().zip(queries) {
        assert!(
            line.starts_with(&format!("{q} ")) && line.ends_with(" ??"),
            "{stdout}"
        );
    }
    let size = common::elf::section(&fx.module_oracle, ".text")
        .unwrap()
        .size;
    let p = format!("kbuild-lineinfo: {ko}:");
    assert_eq!(
        text(&out.stderr),
        format!(
            "{p} .init.text+0x0: `.init.text` is init memory, which v1 tables do not cover (v7 \
             tables do)\n\
             {p} .nope+0x0: no code section or text symbol `.nope`\n\
             {p} .text+0x100000: past the end of `.text` ({size:#x} bytes; a module's queries \
             are offsets: SYMBOL+0xOFF or SECTION+0xOFF)\n\
             {p} no_such_fn+0x0: no code section or text symbol `no_such_fn`\n"
        )
    );
    let silent = run(fx.ws.root(), &[&["lookup", "-s"], &args[1..]].concat(), "");
    assert!(silent.status.success());
    assert_eq!(silent.stdout, out.stdout);
    assert_eq!(text(&silent.stderr), "");
    // v7 covers init text.
    let fx = fixture("v7");
    let args = ["lookup", "--module", ko, ".init.text+0x0"];
    let out = run(fx.ws.root(), &args, "");
    assert!(
        !text(&out.stdout).trim_end().ends_with("??"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(text(&out.stderr), "");
}

/// The stub of a first link (all counts 0): one line says so, to `lookup` and `annotate`
/// alike, not one per query; none under `-s`.
#[test]
fn a_stub_table_says_so_once() {
    let fx = fixture("v1");
    let out = run(
        fx.ws.root(),
        &["lookup", "--vmlinux", "stub.o", "0x0", "0x10"],
        "",
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "0x0 ?? ??\n0x10 ?? ??\n");
    assert_eq!(
        text(&out.stderr),
        "kbuild-lineinfo: stub.o: the lineinfo tables are empty (all counts 0: the stub of a \
         first link?); every address answers ??\n"
    );
    let s = first_text_symbol(&fx);
    let log = format!("RIP: 0010:{}+0x1/{:#x}\n", s.name, s.size);
    let args = ["annotate", "--vmlinux", "vmlinux.1", "--table", "stub.o"];
    let out = run(fx.ws.root(), &args, &log);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), log);
    assert_eq!(
        text(&out.stderr),
        "kbuild-lineinfo: stub.o: the lineinfo tables are empty (all counts 0: the stub of a \
         first link?); no frame of vmlinux gets a line\n"
    );
    let out = run(fx.ws.root(), &[&args[..], &["-s"]].concat(), &log);
    assert_eq!(text(&out.stderr), "");
}

/// `annotate` without `--modules`: the frames of modules stay as they are, and one line at
/// the end says how many and what to pass (none under `-s`); a `--modules` that cannot be read
/// is an error before any log is read.
#[test]
fn annotate_says_what_it_leaves_and_refuses_a_missing_modules_dir() {
    let fx = fixture("v1");
    let s = first_text_symbol(&fx);
    let log = format!(
        " Call Trace:\n  a+0x1/0x10 [fix_mod]\n  b+0x2/0x10 [fix_mod]\n  {}+0x1/{:#x}\n  c+0x3/0x10 [other]\n",
        s.name, s.size
    );
    let out = run(fx.ws.root(), &["annotate", "--vmlinux", "vmlinux"], &log);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stderr),
        "kbuild-lineinfo: 3 frame(s) of modules left as they are: pass --modules DIR (the \
         directory holding their .ko files, e.g. /lib/modules/VERSION)\n"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("[fix_mod]\n") && stdout.contains("[other]\n"));
    assert!(stdout.lines().nth(3).unwrap().ends_with(')'), "{stdout}");
    let out = run(
        fx.ws.root(),
        &["annotate", "-s", "--vmlinux", "vmlinux"],
        &log,
    );
    assert_eq!(
        (text(&out.stderr), out.stdout.clone()),
        (String::new(), stdout.into_bytes())
    );
    let args = [
        "annotate",
        "--vmlinux",
        "vmlinux",
        "--modules",
        "no-such-dir",
    ];
    let out = run(fx.ws.root(), &args, &log);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "kbuild-lineinfo: no-such-dir: cannot read: No such file or directory\n"
    );
}
