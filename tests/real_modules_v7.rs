//! Real data: every module of the Debian cloud kernel with layout v7 (docs/format.md §4.3), then a
//! sample of 30 modules checked against the oracle of `v7_oracle` (a full `ld` link of the
//! original module at fixed section addresses, asked with `llvm-symbolizer --no-inlines`).
//!
//! Needs the corpus (`scripts/corpus.sh cloud`), hence `#[ignore]`: `scripts/test.sh` runs it
//! with `--include-ignored`; run on purpose without the corpus, it fails and says what to run.
//! The corpus is never modified: the batch runs on a copy.

use crate::common;
use crate::v7_oracle;

use std::process::Command;

use common::realdata::{self, copy_tree, listed_modules, pick_modules, Rng};
use v7_oracle::{Sample, Tally};

/// Modules always in the sample; the rest is drawn from modules.order with a fixed seed.
const FIXED: [&str; 7] = [
    "arch/x86/kvm/kvm.ko",
    "arch/x86/kvm/kvm-intel.ko",
    "arch/x86/kvm/kvm-amd.ko",
    "fs/xfs/xfs.ko",
    "fs/btrfs/btrfs.ko",
    "net/nsh/nsh.ko",
    "net/sched/cls_flower.ko",
];
const SAMPLE_MODULES: usize = 30;
/// Modules of the cloud corpus the batch leaves alone ("up to date": nothing to embed), each
/// with its reason; every other module listed must be processed.
const NOT_PROCESSED: [(&str, &str); 2] = [
    (
        "fs/nls/nls_ucs2_utils.ko",
        "no code at all (empty .text): only the UCS-2 case tables",
    ),
    (
        "crypto/cast_common.ko",
        "no code at all (empty .text): only the CAST S-boxes",
    ),
];
/// Addresses per module, spread over its covered sections by size (at least 100 per section).
const ADDRESSES: u64 = 2_000;

/// Samples of one module: `ADDRESSES` over its covered sections by size, each present section
/// at least 100 (or all its bytes).
fn samples(sections: &[v7_oracle::Section], rng: &mut Rng) -> Vec<Sample> {
    let total: u64 = sections.iter().filter(|s| s.covered).map(|s| s.size).sum();
    let mut out = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        if s.size == 0 || !s.covered {
            continue;
        }
        let n = (ADDRESSES * s.size / total.max(1)).max(100).min(s.size);
        out.extend((0..n).map(|_| Sample {
            section: i,
            offset: rng.next() % s.size,
        }));
    }
    out
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_modules_v7_agree_with_llvm_symbolizer() {
    let (modules, order) = realdata::modules_corpus();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    copy_tree(&modules, &tree);
    let order_copy = work.path().join("modules.order");
    std::fs::copy(&order, &order_copy).unwrap();
    let listed = listed_modules(&order);

    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args([
            "modules",
            "--layout",
            "v7",
            "--no-cache",
            "-j2",
            "-v",
            "--objtree",
        ])
        .arg(&tree)
        .arg("--order")
        .arg(&order_copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "batch failed:\n{stderr}");
    let summary = stderr
        .lines()
        .find(|l| l.contains(" processed ("))
        .unwrap_or_else(|| panic!("{stderr}"));
    eprintln!("batch ({:.1} s): {summary}", start.elapsed().as_secs_f64());
    // "N processed (C from cache), U up to date, D without DWARF, F failed; ...": a module
    // without covered code is "up to date" (nothing to embed), which is a success too.
    let numbers: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(5)
        .map(|w| w.parse().unwrap())
        .collect();
    let [processed, _cached, unchanged, no_dwarf, failed] = numbers[..] else {
        panic!("{summary}")
    };
    assert_eq!(failed, 0, "{summary}");
    assert_eq!(
        processed + unchanged + no_dwarf,
        listed.len() as u64,
        "{summary}"
    );
    // Zero skipped: every module listed is processed, save those named in NOT_PROCESSED.
    // The -v explanations, on stderr.
    let explained = String::from_utf8_lossy(&out.stderr);
    let left_alone: Vec<&str> = explained
        .lines()
        .filter(|l| l.contains(": up to date (") || l.contains(": no DWARF line information"))
        .filter(|l| !NOT_PROCESSED.iter().any(|(m, _)| l.contains(m)))
        .collect();
    assert!(
        left_alone.is_empty() && processed + NOT_PROCESSED.len() as u64 == listed.len() as u64,
        "{summary}\nleft alone, not in NOT_PROCESSED: {left_alone:#?}"
    );

    // The fixed modules that this corpus has (the x86 ones are not in arm64 or riscv64 trees).
    let mut rng = Rng(0x5eed_0f7e_571e_55aa);
    let chosen = pick_modules(&FIXED, &listed, SAMPLE_MODULES, &mut rng);

    let mut total = Tally::default();
    let mut unlikely_bytes = 0;
    let mut descriptors = 0;
    for name in &chosen {
        let original = modules.join(name);
        assert!(
            original.exists(),
            "{} is not in the corpus",
            original.display()
        );
        let scratch = tempfile::tempdir_in(work.path()).unwrap();
        let original_copy = scratch.path().join("original.ko");
        std::fs::copy(&original, &original_copy).unwrap();
        let bytes = std::fs::read(&original_copy).unwrap();
        let sections = v7_oracle::covered_sections(&bytes);
        unlikely_bytes += sections
            .iter()
            .filter(|s| s.name == ".text.unlikely")
            .map(|s| s.size)
            .sum::<u64>();
        let samples = samples(&sections, &mut rng);
        let (tally, kernel) = v7_oracle::compare(
            &original_copy,
            &tree.join(name),
            &sections,
            &samples,
            false,
            scratch.path(),
        );
        eprintln!(
            "{name}: {} addresses, {} compared, {} agree, {} unannotated, {} descriptors",
            tally.samples, tally.compared, tally.agreed, tally.unannotated, kernel.descriptors
        );
        for line in &tally.shown {
            eprintln!("  {line}");
        }
        total.samples += tally.samples;
        total.compared += tally.compared;
        total.agreed += tally.agreed;
        total.unannotated += tally.unannotated;
        total.unannotated_starts += tally.unannotated_starts;
        total.kernel_mismatch += tally.kernel_mismatch;
        total.decoded_agreed += tally.decoded_agreed;
        for (section, n) in tally.per_section {
            *total.per_section.entry(section).or_default() += n;
        }
        descriptors += kernel.descriptors;
    }
    let rate = total.agreed as f64 / total.compared.max(1) as f64;
    eprintln!(
        "{} modules, {} descriptors: {} addresses, {} compared ({:?}), {} agree ({:.3} %), \
         {} unannotated ({} at function starts), {} differ from the ld-relocated blob",
        chosen.len(),
        descriptors,
        total.samples,
        total.compared,
        total.per_section,
        total.agreed,
        rate * 100.0,
        total.unannotated,
        total.unannotated_starts,
        total.kernel_mismatch
    );
    assert!(
        total.compared > total.samples / 2,
        "too few addresses with an answer"
    );
    for section in [".text", ".init.text", ".exit.text"] {
        assert!(
            total.per_section.get(section).copied().unwrap_or(0) > 100,
            "{section} barely compared"
        );
    }
    // gcc's `.cold` clones: Debian 13's gcc-14 kernels have them in hundreds of modules, the
    // cloud kernel's gcc-12 build in almost none.
    if unlikely_bytes >= 500 {
        assert!(
            total
                .per_section
                .get(".text.unlikely")
                .copied()
                .unwrap_or(0)
                > 50,
            ".text.unlikely barely compared"
        );
    }
    // The README's 100 %: every compared address agrees, through lookup and through the
    // harness's own decoding of the ld-relocated blobs.
    assert_eq!(
        total.agreed,
        total.compared,
        "lookup: {} of {} addresses with a DWARF answer wrong or unannotated (rate {:.4} %)",
        total.compared - total.agreed,
        total.compared,
        rate * 100.0
    );
    assert_eq!(
        total.kernel_mismatch, 0,
        "lookup --module differs from the ld-relocated blob"
    );
    assert_eq!(
        total.decoded_agreed, total.compared,
        "the harness's decoding of the linked blobs must agree with llvm-symbolizer everywhere"
    );
}
