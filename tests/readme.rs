//! What the documents show is what the tool prints: the README's headline frames and the
//! `annotate` example of `docs/usage.md`, on the Debian cloud kernel they were taken from.
//!
//! Each shown frame is checked twice: `annotate` (tables made by `vmlinux -o table.o`) must
//! print exactly the shown line, and `llvm-symbolizer --no-inlines` must give the shown
//! `file:line` at the address the kernel looks up (return address − 1 for a `Call Trace:`
//! frame, the address itself for `RIP:`), with `nm` for the symbol: the documents cannot show a
//! line that only our tables believe.

use crate::common::realdata::{cloud, same_file, symbol_value};
use crate::common::symbolizer::symbolize;
use crate::common::tools::run;
use std::path::Path;
use std::process::Command;

/// A frame as a document shows it: the log line as the kernel prints it without tables, what
/// `annotate` must turn it into, and whether the kernel looks up the address before it (`%pB`).
#[derive(Debug)]
struct Shown {
    bare: String,
    annotated: String,
    backtrace: bool,
}

/// The `name+0xOFF/0xSIZE (file:line)` lines of the first code block of `text` whose frames
/// carry a line.
fn shown_frames(text: &str, block_marker: &str) -> Vec<Shown> {
    let start = text
        .find(block_marker)
        .expect("the example block is in the document");
    let block = &text[start..];
    let block = &block[block.find("```\n").expect("a code block") + 4..];
    let block = &block[..block.find("```").expect("the block ends")];
    let mut frames = Vec::new();
    for line in block.lines() {
        // docs/usage.md shows `before → after`: the right-hand column is the output.
        let line = line.rsplit("     ").next().unwrap_or(line).trim_end();
        let line = line.trim_start_matches('→').trim_start();
        let Some(open) = line.rfind(" (") else {
            continue;
        };
        if !line.ends_with(')') || !line[..open].contains("+0x") {
            continue;
        }
        frames.push(Shown {
            bare: line[..open].to_string(),
            annotated: line.to_string(),
            backtrace: !line.contains("RIP: "),
        });
    }
    assert!(
        !frames.is_empty(),
        "no annotated frame in the block after {block_marker:?}"
    );
    frames
}

/// `name+0xOFF` of a shown frame, as (name, offset).
fn symbol_offset(frame: &str) -> (String, u64) {
    let word = frame
        .split_whitespace()
        .find(|w| w.contains("+0x"))
        .expect("a name+0xOFF word");
    let word = word.rsplit(':').next().unwrap();
    let (name, rest) = word.split_once("+0x").unwrap();
    let off = rest.split('/').next().unwrap();
    (name.to_string(), u64::from_str_radix(off, 16).unwrap())
}

/// `with_table`: annotate is given the table object; otherwise it builds the tables from the
/// vmlinux's DWARF itself.
fn check(document: &Path, block_marker: &str, with_table: bool) {
    let corpus = cloud();
    let text = std::fs::read_to_string(document).unwrap();
    let frames = shown_frames(&text, block_marker);
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.o");
    let tool = env!("CARGO_BIN_EXE_kbuild-lineinfo");
    run(Command::new(tool)
        .arg("vmlinux")
        .arg("-o")
        .arg(&table)
        .arg(&corpus.vmlinux));

    let mut log = String::from(" Call Trace:\n");
    for f in &frames {
        log.push_str(&f.bare);
        log.push('\n');
    }
    let log_file = dir.path().join("oops.txt");
    std::fs::write(&log_file, &log).unwrap();
    let mut annotate = Command::new(tool);
    annotate
        .arg("annotate")
        .arg("--vmlinux")
        .arg(&corpus.vmlinux);
    if with_table {
        annotate.arg("--table").arg(&table);
    }
    let out = run(annotate.arg(&log_file));
    let printed = String::from_utf8(out.stdout).unwrap();
    let printed: Vec<&str> = printed.lines().skip(1).collect();
    let expected: Vec<&str> = frames.iter().map(|f| f.annotated.as_str()).collect();
    assert_eq!(
        printed,
        expected,
        "{}: what annotate prints",
        document.display()
    );

    let addrs: Vec<u64> = frames
        .iter()
        .map(|f| {
            let (name, off) = symbol_offset(&f.bare);
            symbol_value(&corpus.vmlinux, &name) + off - u64::from(f.backtrace)
        })
        .collect();
    for (f, answer) in frames.iter().zip(symbolize(&corpus.vmlinux, &addrs)) {
        let oracle = answer.unwrap_or_else(|| panic!("llvm-symbolizer has no line for {}", f.bare));
        let shown = &f.annotated[f.annotated.rfind(" (").unwrap() + 2..f.annotated.len() - 1];
        let (shown_file, shown_line) = shown.rsplit_once(':').unwrap();
        assert!(
            same_file(&oracle.file, shown_file) && shown_line == oracle.line.to_string(),
            "{}: {} shows {shown}, llvm-symbolizer says {oracle}",
            document.display(),
            f.bare
        );
    }
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn the_readme_headline_is_what_annotate_prints() {
    check(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"),
        "# kbuild-lineinfo",
        true,
    );
}

/// The same frames from Debian's debug vmlinux alone: the tables are built from its DWARF.
#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn the_readme_headline_from_the_debug_vmlinux_alone() {
    check(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"),
        "# kbuild-lineinfo",
        false,
    );
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn the_usage_annotate_example_is_what_annotate_prints() {
    check(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/usage.md"),
        "On the Debian 6.12.118 cloud vmlinux",
        true,
    );
}
