//! Real data: the Debian cloud vmlinux (FORMAT.md §1 prototype figures), checked against
//! `llvm-symbolizer --no-inlines` on 200,000 random addresses of `[_text, _etext)`.
//!
//! Needs the corpus (`scripts/corpus.sh cloud`, or `KBUILD_LINEINFO_VMLINUX` and the other
//! variables of `common::realdata::locate`), hence `#[ignore]`: `scripts/test.sh` runs it with
//! `--include-ignored`; run on purpose without the corpus, it fails and says what to run.

use crate::common;

use std::process::Command;

use common::realdata::{self, parse_lookup, parse_symbolizer, pipe, symbol_value, Rng};

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_vmlinux_agrees_with_llvm_symbolizer() {
    let vmlinux = realdata::cloud().vmlinux;
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("lineinfo.o");
    let status = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args(["vmlinux", "-o"])
        .arg(&table)
        .arg(&vmlinux)
        .status()
        .unwrap();
    assert!(status.success());

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

    let (mut compared, mut agree, mut unannotated) = (0u64, 0u64, 0u64);
    let mut shown = 0;
    for ((address, want), got) in addresses.iter().zip(&oracle).zip(&ours) {
        let Some((want_file, want_line)) = want else {
            continue;
        };
        compared += 1;
        match got {
            Some((file, line)) => {
                realdata::assert_clean_name(file, "");
                if realdata::same_file(want_file, file) && want_line == line {
                    agree += 1;
                } else if shown < 10 {
                    shown += 1;
                    eprintln!(
                        "{address:#x}: llvm-symbolizer {want_file}:{want_line}, ours {file}:{line}"
                    );
                }
            }
            None => unannotated += 1,
        }
    }
    let rate = agree as f64 / compared as f64;
    eprintln!(
        "{count} addresses, {compared} with a DWARF answer: {agree} agree ({:.3} %), {unannotated} unannotated",
        rate * 100.0
    );
    assert!(
        compared > count as u64 / 2,
        "too few addresses with an answer: {compared}"
    );
    assert!(
        rate >= 0.999,
        "agreement {:.4} % is below 99.9 %",
        rate * 100.0
    );
    assert_eq!(
        unannotated, 0,
        "addresses with a DWARF answer left unannotated"
    );
}
