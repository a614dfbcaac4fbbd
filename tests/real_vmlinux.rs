//! Real data: the Debian cloud vmlinux (docs/format.md §1 prototype figures), checked against
//! `llvm-symbolizer --no-inlines` on 200,000 random addresses of `[_text, _etext)`, in both
//! layouts, twice: through `lookup` and through the harness's own decoding of the table's bytes
//! (`common::vmtable`, written from docs/format.md). Every address with a DWARF answer must get
//! it from both (the README's 100 %), none left unannotated.
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
    let oracle = parse_symbolizer(&pipe(
        Command::new("llvm-symbolizer")
            .arg("--no-inlines")
            .arg(format!("--obj={}", vmlinux.display())),
        &queries,
    ));
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
        let (mut agree, mut decoded_agree) = (0usize, 0usize);
        for ((address, want), got) in addresses.iter().zip(&oracle).zip(&ours) {
            let Some((want_file, want_line)) = want else {
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
             {agree}, the harness's decoding of the table on {decoded_agree} ({} entries, {} files)",
            decoded.entries.len(),
            decoded.names.len()
        );
        let listed: Vec<u64> = EXCEPTIONS.iter().map(|e| e.0).collect();
        wrong.retain(|w| !listed.iter().any(|a| w.starts_with(&format!("{a:#x}:"))));
        assert!(
            wrong.is_empty(),
            "{layout}: {} of {compared} addresses wrong (100 % is the claim), e.g.\n{}",
            wrong.len(),
            wrong[..wrong.len().min(20)].join("\n")
        );
    }
}
