//! Real data: layout v1 places every code section of a module's text memory, not only `.text`
//! (docs/format.md §4.2): each section's entries sit at its offset in text memory as the loader
//! lays it out. For every module of the Debian cloud corpus with a code section other than
//! `.text` and `.exit.text` in text memory (`.static_call.text`, `.altinstr_aux`,
//! `.noinstr.text`, `.text.unlikely`, `.ref.text`, …), a sample of those with `.exit.text`, and
//! the one whose text memory starts with `.exit.text`: the module is embedded with `module
//! --layout v1`, its blob decoded by the harness (`common::blob`) and looked up as the kernel does
//! (text memory offset from `common::textmem`, the loader's rule written from the kernel, with
//! the symbol-start guard), against `llvm-symbolizer --no-inlines` on the original linked with
//! each section at its own address (`v7_oracle::link`). No wrong answer is tolerated.
//!
//! Needs the corpus (`scripts/corpus.sh cloud`), hence `#[ignore]`.

use crate::common;
use crate::v7_oracle;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::realdata::{self, listed_modules, parallel_map, same_file, Rng};
use common::{blob, textmem};

/// Random offsets per section, besides every symbol start in it.
const PER_SECTION: u64 = 200;
/// Modules with only `.text` and `.exit.text` in text memory, drawn at random.
const EXIT_ONLY: usize = 15;

/// What one module's check found, per section name: (compared, agreed), and the wrong answers.
#[derive(Debug, Default)]
struct Found {
    per_section: BTreeMap<String, (u64, u64)>,
    wrong: Vec<String>,
}

fn check_module(name: &str, original: &Path, work: &Path, seed: u64) -> Found {
    let ko = work.join("m.ko");
    std::fs::copy(original, &ko).unwrap();
    common::tools::run(
        Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
            .args(["module", "-s", "--layout", "v1"])
            .arg(&ko),
    );
    let bytes = std::fs::read(original).unwrap();
    let placed = textmem::text_memory(&bytes, true);
    let sections = v7_oracle::covered_sections(&bytes);
    let linked = work.join("linked");
    v7_oracle::link(original, &linked, &sections, false);
    let Some(section) = common::elf::section(&ko, ".mod_lineinfo") else {
        return Found::default(); // no entries at all: nothing placed, nothing to check
    };
    let table = blob::decode_v1_module(&section.data)
        .unwrap_or_else(|e| panic!("{name}: not a v1 blob by docs/format.md: {e}"));

    let mut rng = Rng(seed | 1);
    // (section, offset in it, its place in text memory)
    let mut samples = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        if s.name == ".text" {
            continue;
        }
        let Some(p) = placed.iter().find(|p| p.name == s.name) else {
            continue; // init text: not in text memory, v1 does not cover it
        };
        let n = PER_SECTION.min(s.size);
        let offsets = (0..n)
            .map(|_| rng.next() % s.size)
            .chain(s.starts.iter().copied());
        samples.extend(offsets.map(|o| (i, o, p.offset)));
    }
    let addresses: Vec<u64> = samples
        .iter()
        .map(|(i, o, _)| sections[*i].base + o)
        .collect();
    let oracle = v7_oracle::symbolize(&linked, &addresses);

    let mut found = Found::default();
    for ((i, offset, at), want) in samples.iter().zip(&oracle) {
        let s = &sections[*i];
        let (Some(start), Some((want_file, want_line))) = (s.symbol_start(*offset), want) else {
            continue;
        };
        // The kernel: text memory offset, last entry at or below it, not below the symbol.
        let t = at + offset;
        let k = table.entries.partition_point(|e| u64::from(e.offset) <= t);
        let got = k
            .checked_sub(1)
            .map(|k| table.entries[k])
            .filter(|e| u64::from(e.offset) >= at + start)
            .and_then(|e| Some((table.names.get(e.file as usize)?.as_str(), e.line)));
        let tally = found.per_section.entry(s.name.clone()).or_default();
        tally.0 += 1;
        if got.is_some_and(|(f, l)| same_file(want_file, f) && l == *want_line) {
            tally.1 += 1;
        } else if found.wrong.len() < 10 {
            found.wrong.push(format!(
                "{name}: {}+{offset:#x} (text memory {t:#x}): llvm-symbolizer \
                 {want_file}:{want_line}, decoded {got:?}",
                s.name
            ));
        }
    }
    found
}

/// The modules to check: those with a code section other than `.text`/`.exit.text` in text
/// memory, those whose text memory does not start with `.text`, and `EXIT_ONLY` others.
fn pick(root: &Path, listed: &[String]) -> Vec<String> {
    let mut picked = Vec::new();
    let mut exit_only = Vec::new();
    for m in listed {
        let bytes = std::fs::read(root.join(m)).unwrap();
        let placed: Vec<_> = textmem::text_memory(&bytes, true)
            .into_iter()
            .filter(|p| p.size > 0)
            .collect();
        let other = placed
            .iter()
            .any(|p| p.name != ".text" && p.name != ".exit.text");
        let first_not_text = placed.first().is_some_and(|p| p.name != ".text");
        if other || first_not_text {
            picked.push(m.clone());
        } else if placed.iter().any(|p| p.name == ".exit.text") {
            exit_only.push(m.clone());
        }
    }
    let mut rng = Rng(0x00c0_ffee_1234_5678);
    for _ in 0..EXIT_ONLY.min(exit_only.len()) {
        let i = (rng.next() % exit_only.len() as u64) as usize;
        picked.push(exit_only.swap_remove(i));
    }
    picked
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_v1_places_every_code_section_of_text_memory() {
    let (root, order) = realdata::modules_corpus();
    let picked = pick(&root, &listed_modules(&order));
    let work = tempfile::tempdir().unwrap();
    let figures = parallel_map(&picked, |i, m| {
        let scratch = tempfile::tempdir_in(work.path()).unwrap();
        check_module(m, &root.join(m), scratch.path(), i as u64 * 7919)
    });
    let results: BTreeMap<_, _> = picked.iter().cloned().zip(figures).collect();
    let mut per_section: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut wrong = Vec::new();
    for f in results.values() {
        for (s, (c, a)) in &f.per_section {
            let t = per_section.entry(s.clone()).or_default();
            t.0 += c;
            t.1 += a;
        }
        wrong.extend(f.wrong.iter().cloned());
    }
    eprintln!(
        "{} modules; per section (compared, agreed): {per_section:?}",
        results.len()
    );
    // Every kind of section that has lines is reached, and agrees everywhere (the corpus's
    // `.static_call.text` and `.altinstr_*` are assembly without lines: nothing to compare).
    for name in [".exit.text", ".noinstr.text", ".ref.text"] {
        assert!(
            per_section.get(name).is_some_and(|t| t.0 > 20),
            "{name} barely compared: {per_section:?}"
        );
    }
    assert!(
        wrong.is_empty(),
        "v1 offsets of code sections other than .text wrong (100 % is the claim): {wrong:#?}"
    );
}
