//! Real data: the Debian cloud vmlinux (docs/format.md §1 prototype figures), checked against
//! `llvm-symbolizer --no-inlines` on 200,000 random addresses of `[_text, _etext)`, in both
//! layouts, twice: through `lookup` and through the harness's own decoding of the table's bytes
//! (`common::vmtable`, written from docs/format.md). Every address with a DWARF answer must get
//! it from both (the README's 100 %), none left unannotated; every address without one (line 0,
//! or outside every sequence) must get none (format §1 rule 7).
//!
//! Needs the corpus (`scripts/corpus.sh cloud`, or `KBUILD_LINEINFO_VMLINUX` and the other
//! variables of `common::realdata::locate`), hence `#[ignore]`: `scripts/test.sh` runs it with
//! `--include-ignored`; run on purpose without the corpus, it fails and says what to run.

use crate::common;

use std::process::Command;

use common::realdata::{self, parse_lookup, parse_symbolizer, pipe, symbol_value, Rng};
use common::vmtable;

/// Addresses the test may leave out, each with its reason; none today. An address listed here
/// is still queried and its answers printed, only not counted as wrong.
const EXCEPTIONS: [(u64, &str); 0] = [];

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_vmlinux_agrees_with_llvm_symbolizer() {
    let vmlinux = realdata::cloud().vmlinux;
    let dir = tempfile::tempdir().unwrap();

    let text = symbol_value(&vmlinux, "_text");
    let etext = symbol_value(&vmlinux, "_etext");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let count = 200_000;
    let addresses: Vec<u64> = (0..count)
        .map(|_| text + rng.next() % (etext - text))
        .collect();

    let queries: String = addresses.iter().map(|a| format!("{:#x}\n", a)).collect();
    let symbolized = pipe(
        Command::new("llvm-symbolizer")
            .arg("--no-inlines")
            .arg(format!("--obj={}", vmlinux.display())),
        &queries,
    );
    let oracle = parse_symbolizer(&symbolized);
    // Where llvm-symbolizer has no line, the line table decides (§1 rule 7): it has none either
    // (line 0, no sequence), or a row runs on where llvm-symbolizer finds no unit (padding).
    let table_rows = common::dwarfdump::LineOracle::from_file(&vmlinux);
    assert_eq!(oracle.len(), count);
    let compared = oracle.iter().filter(|a| a.is_some()).count();
    assert!(
        compared > count / 2,
        "too few addresses with an answer: {compared}"
    );

    for layout in ["v1", "v7"] {
        let table = dir.path().join(format!("lineinfo-{layout}.o"));
        let status = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
            .args(["vmlinux", "--layout", layout, "-o"])
            .arg(&table)
            .arg(&vmlinux)
            .status()
            .unwrap();
        assert!(status.success());
        // The harness's own reading of the bytes (docs/format.md §3, §4.1), then the tool's.
        let arrays = vmtable::Arrays::of_elf(&std::fs::read(&table).unwrap()).unwrap();
        let decoded = vmtable::decode(&arrays, layout == "v7")
            .unwrap_or_else(|e| panic!("{layout}: not a table by docs/format.md: {e}"));
        let offsets: String = addresses
            .iter()
            .map(|a| format!("{:#x}\n", a - text))
            .collect();
        let ours = parse_lookup(&pipe(
            Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
                .args(["lookup", "--vmlinux"])
                .arg(&table),
            &offsets,
        ));
        assert_eq!(ours.len(), count);

        let mut wrong = Vec::new();
        let (mut agree, mut decoded_agree, mut none) = (0usize, 0usize, 0usize);
        let mut no_unit = 0usize;
        for ((address, want), got) in addresses.iter().zip(&oracle).zip(&ours) {
            let Some((want_file, want_line)) = want else {
                // DWARF has no line: neither may print one (§1 rule 7); but where a line table
                // row runs on into padding no unit's ranges hold, the table follows the rows.
                let from_bytes = decoded.lookup(address - text);
                let runs_on = table_rows.answer(*address);
                let same = |a: Option<(&str, u32)>| {
                    a.zip(runs_on.as_ref()).is_some_and(|((f, l), r)| {
                        realdata::same_file(&common::answer::normalize(&r.file), f) && l == r.line
                    })
                };
                if runs_on.is_some()
                    && same(got.as_ref().map(|(f, l)| (f.as_str(), *l)))
                    && same(from_bytes)
                {
                    no_unit += 1;
                } else if got.is_some() || from_bytes.is_some() {
                    wrong.push(format!(
                        "{address:#x}: llvm-symbolizer no line, lookup {got:?}, decoded {from_bytes:?}"
                    ));
                } else {
                    none += 1;
                }
                continue;
            };
            let right = |a: Option<(&str, u32)>| {
                a.is_some_and(|(f, l)| realdata::same_file(want_file, f) && l == *want_line)
            };
            if let Some((file, _)) = got {
                realdata::assert_clean_name(file, "");
            }
            let from_bytes = decoded.lookup(address - text);
            agree += usize::from(right(got.as_ref().map(|(f, l)| (f.as_str(), *l))));
            decoded_agree += usize::from(right(from_bytes));
            if !right(got.as_ref().map(|(f, l)| (f.as_str(), *l))) || !right(from_bytes) {
                wrong.push(format!(
                    "{address:#x}: llvm-symbolizer {want_file}:{want_line}, lookup {got:?}, \
                     decoded {from_bytes:?}"
                ));
            }
        }
        eprintln!(
            "{layout}: {count} addresses, {compared} with a DWARF answer: lookup agrees on \
             {agree}, the harness's decoding of the table on {decoded_agree}; of the {} without, \
             both print none for {none}, a line table row runs on outside every unit for \
             {no_unit} ({} entries, {} files)",
            count - compared,
            decoded.entries.len(),
            decoded.names.len()
        );
        let listed: Vec<u64> = EXCEPTIONS.iter().map(|e| e.0).collect();
        wrong.retain(|w| !listed.iter().any(|a| w.starts_with(&format!("{a:#x}:"))));
        assert!(
            wrong.is_empty(),
            "{layout}: {} of {count} addresses wrong (100 % is the claim), e.g.\n{}",
            wrong.len(),
            wrong[..wrong.len().min(20)].join("\n")
        );
    }
}
