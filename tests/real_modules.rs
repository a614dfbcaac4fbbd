//! Real data: the Debian cloud module tree (1,138 modules) through `modules` (layout v1), then a
//! sample of modules checked against an oracle that never sees our code: the ORIGINAL module,
//! fully linked by `ld` with `.text` at 0x100000, asked by `llvm-symbolizer --no-inlines`.
//! Each answer is read twice: by `lookup --module`, and from the blob's bytes by the harness's
//! own decoder (`common::blob`, at the offset `common::textmem` gives `.text` in text memory).
//! Every module listed is processed, and every address with a DWARF answer agrees, both ways
//! (the README's 100 %); an exception would be listed below by name with its reason.
//!
//! Needs the corpus (`scripts/corpus.sh cloud`: the unpacked module tree and its
//! `modules.order`), hence `#[ignore]`: `scripts/test.sh` runs it with `--include-ignored`;
//! run on purpose without the corpus, it fails and says what to run.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::realdata::{self, copy_tree, listed_modules, parse_lookup, parse_symbolizer};
use common::realdata::{parallel_map, pick_modules, pipe, Rng};
use common::{blob, textmem};

use object::{Object, ObjectSection};

/// Where `.text` goes in the oracle's link; every other section lands far above it.
const TEXT_BASE: u64 = 0x10_0000;

/// Modules always in the sample: the big multi-object ones and a few small ones.
const FIXED: [&str; 8] = [
    "arch/x86/kvm/kvm.ko",
    "arch/x86/kvm/kvm-intel.ko",
    "arch/x86/kvm/kvm-amd.ko",
    "fs/xfs/xfs.ko",
    "fs/ext4/ext4.ko",
    "fs/btrfs/btrfs.ko",
    "net/nsh/nsh.ko",
    "net/sched/cls_flower.ko",
];
/// Modules of the cloud corpus the batch leaves alone ("up to date": nothing to embed), each
/// with its reason; every other module listed must be updated.
const NOT_UPDATED: [(&str, &str); 2] = [
    (
        "fs/nls/nls_ucs2_utils.ko",
        "no code at all (empty .text): only the UCS-2 case tables",
    ),
    (
        "crypto/cast_common.ko",
        "no code at all (empty .text): only the CAST S-boxes",
    ),
];

/// Pseudo-random modules added to [`FIXED`].
const RANDOM_MODULES: usize = 26;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kbuild-lineinfo")
}

/// The linker script of the oracle: `.text` alone at [`TEXT_BASE`], other code far above,
/// every orphan section after those (ld keeps the debug sections unallocated and relocated).
const LINK_SCRIPT: &str = "SECTIONS {
  .text 0x100000 : { *(.text) }
  .othertext 0x40000000 : { *(.text.*) *(.*.text) *(.altinstr_replacement) *(.altinstr_aux) }
  . = 0x50000000;
}
";

/// The original module linked as a whole; returns the `.text` size and the sorted `.text`
/// symbol starts (from `nm`) as offsets.
fn link_original(ko: &Path, work: &Path, script: &Path) -> (PathBuf, u64, Vec<u64>) {
    let linked = work.join("linked");
    let out = Command::new("ld")
        .args(["--unresolved-symbols=ignore-all", "--noinhibit-exec", "-T"])
        .arg(script)
        .arg("-o")
        .arg(&linked)
        .arg(ko)
        .output()
        .unwrap();
    assert!(
        linked.exists(),
        "ld {} failed: {}",
        ko.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&linked).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let text = file
        .section_by_name(".text")
        .expect("linked module has .text");
    assert_eq!(
        text.address(),
        TEXT_BASE,
        "{}: .text not at the base",
        ko.display()
    );
    let size = text.size();
    let nm = Command::new("nm").arg(&linked).output().unwrap();
    let mut starts: Vec<u64> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let value = u64::from_str_radix(w.next()?, 16).ok()?;
            let kind = w.next()?;
            (matches!(kind, "t" | "T" | "w" | "W")
                && (TEXT_BASE..TEXT_BASE + size).contains(&value))
            .then_some(value - TEXT_BASE)
        })
        .collect();
    starts.sort_unstable();
    starts.dedup();
    (linked, size, starts)
}

#[derive(Debug, Default)]
struct Figures {
    queried: u64,
    compared: u64,
    agree: u64,
    /// Agreeing when the harness decodes the blob itself.
    decoded_agree: u64,
    unannotated: u64,
    starts: u64,
    starts_unannotated: u64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.queried += o.queried;
        self.compared += o.compared;
        self.agree += o.agree;
        self.decoded_agree += o.decoded_agree;
        self.unannotated += o.unannotated;
        self.starts += o.starts;
        self.starts_unannotated += o.starts_unannotated;
    }
}

/// Checks one module: our `.ko` (`ours`) against the linked original (`original`).
fn check_module(
    name: &str,
    original: &Path,
    ours: &Path,
    work: &Path,
    script: &Path,
    seed: u64,
) -> Figures {
    let (linked, size, starts) = link_original(original, work, script);
    let mut rng = Rng(seed | 1);
    let count = (size / 16).clamp(300, 2500) as usize;
    let mut offsets: Vec<u64> = (0..count).map(|_| rng.next() % size.max(1)).collect();
    let random = offsets.len();
    offsets.extend(&starts);

    let queries: String = offsets
        .iter()
        .map(|o| format!("{:#x}\n", TEXT_BASE + o))
        .collect();
    let oracle = parse_symbolizer(&pipe(
        Command::new("llvm-symbolizer")
            .arg("--no-inlines")
            .arg(format!("--obj={}", linked.display())),
        &queries,
    ));
    assert_eq!(
        oracle.len(),
        offsets.len(),
        "{name}: llvm-symbolizer answer count"
    );
    let queries: String = offsets.iter().map(|o| format!(".text+{o:#x}\n")).collect();
    let answers = parse_lookup(&pipe(
        Command::new(bin()).args(["lookup", "--module"]).arg(ours),
        &queries,
    ));
    assert_eq!(answers.len(), offsets.len(), "{name}: lookup answer count");
    let bytes = std::fs::read(ours).unwrap();
    let decoded = blob::decode_v1_module(
        &crate::common::elf::section(ours, ".mod_lineinfo")
            .expect("our section")
            .data,
    )
    .unwrap_or_else(|e| panic!("{name}: .mod_lineinfo is not a v1 blob by docs/format.md: {e}"));
    // `.text`'s place in text memory, as the loader lays it out (CONFIG_MODULE_UNLOAD=y, as
    // the batch assumes without a .config).
    let text_at = textmem::text_memory(&bytes, true)
        .iter()
        .find(|p| p.name == ".text")
        .map(|p| p.offset)
        .unwrap_or_else(|| panic!("{name}: no .text in text memory"));
    let from_bytes = |offset: u64| -> realdata::Answer {
        let at = u32::try_from(text_at + offset).ok()?;
        let i = decoded.entries.partition_point(|e| e.offset <= at);
        let e = decoded.entries.get(i.checked_sub(1)?)?;
        // A hole (file id = number of names, format §1 rule 7) has no line.
        Some((decoded.names.get(e.file as usize)?.clone(), e.line))
    };

    let mut f = Figures {
        queried: offsets.len() as u64,
        ..Figures::default()
    };
    let mut shown = 0;
    for (i, ((offset, want), got)) in offsets.iter().zip(&oracle).zip(&answers).enumerate() {
        if let Some((file, _)) = got {
            realdata::assert_clean_name(file, &format!("{name}: "));
        }
        let Some((want_file, want_line)) = want else {
            continue;
        };
        if starts.first().is_none_or(|s| s > offset) {
            continue; // before the first symbol: the kernel's guard answers nothing there
        }
        let is_start = i >= random;
        f.starts += u64::from(is_start);
        f.compared += 1;
        let right = |a: &realdata::Answer| {
            a.as_ref().is_some_and(|(file, line)| {
                realdata::same_file(want_file, file) && want_line == line
            })
        };
        let decoded = from_bytes(*offset);
        if right(&decoded) {
            f.decoded_agree += 1;
        } else if shown < 5 {
            shown += 1;
            eprintln!("{name}: .text+{offset:#x}: llvm-symbolizer {want_file}:{want_line}, decoded blob {decoded:?}");
        }
        match got {
            Some((file, line)) => {
                if realdata::same_file(want_file, file) && want_line == line {
                    f.agree += 1;
                } else if shown < 5 {
                    shown += 1;
                    eprintln!("{name}: .text+{offset:#x}: llvm-symbolizer {want_file}:{want_line}, ours {file}:{line}");
                }
            }
            None => {
                f.unannotated += 1;
                f.starts_unannotated += u64::from(is_start);
                if shown < 5 {
                    shown += 1;
                    eprintln!("{name}: .text+{offset:#x}: llvm-symbolizer {want_file}:{want_line}, ours ??");
                }
            }
        }
    }
    names_clean(name, ours);
    readelf_clean(ours);
    f
}

/// Every file name of the `.mod_lineinfo` blob (docs/format.md §4.2: `filenames_size` at byte 8,
/// the names last) is relative and normalised.
fn names_clean(name: &str, ko: &Path) {
    let data = std::fs::read(ko).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let blob = file
        .section_by_name(".mod_lineinfo")
        .expect("our section")
        .data()
        .unwrap();
    let size = u32::from_le_bytes(blob[8..12].try_into().unwrap()) as usize;
    let names = &blob[blob.len() - size..];
    assert_eq!(names.last(), Some(&0), "{name}: names not NUL-terminated");
    for n in names[..size - 1].split(|&b| b == 0) {
        realdata::assert_clean_name(&String::from_utf8_lossy(n), &format!("{name}: "));
    }
}

/// `readelf -a` reads the whole module without a word on stderr.
fn readelf_clean(ko: &Path) {
    let out = Command::new("readelf")
        .args(["-aW"])
        .arg(ko)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "readelf -a {}: {}",
        ko.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fixed modules present in `listed`, then pseudo-random others, without repeats.
fn sample(listed: &[String]) -> Vec<String> {
    let mut rng = Rng(0x51ed_2701_a3c4_5b67);
    let picked = pick_modules(&FIXED, listed, FIXED.len() + RANDOM_MODULES, &mut rng);
    let fixed: Vec<&String> = picked
        .iter()
        .filter(|m| FIXED.contains(&m.as_str()))
        .collect();
    assert!(
        fixed.len() >= 6,
        "the corpus lacks most of the fixed sample: {fixed:?}"
    );
    picked
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn debian_cloud_modules_agree_with_linked_originals() {
    let (corpus_dir, order) = realdata::modules_corpus();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("modules");
    copy_tree(&corpus_dir, &copy);

    let out = Command::new(bin())
        .args([
            "modules",
            "--layout",
            "v1",
            "--no-cache",
            "-j2",
            "-v",
            "--objtree",
        ])
        .arg(&copy)
        .arg("--order")
        .arg(&order)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("lineinfo: "))
        .collect();
    assert!(
        out.status.success() && warnings.is_empty(),
        "modules: {:?}\n{stderr}",
        out.status
    );
    let listed = listed_modules(&order);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let updated: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("LINEINFO [M] "))
        .collect();
    eprintln!("{} modules listed, {} updated", listed.len(), updated.len());
    let not_updated: Vec<&String> = listed
        .iter()
        .filter(|m| !updated.iter().any(|u| u.ends_with(m.as_str())))
        .collect();
    let unexplained: Vec<String> = not_updated
        .iter()
        .filter(|m| !NOT_UPDATED.iter().any(|(name, _)| *name == m.as_str()))
        .map(|m| {
            let said = stdout
                .lines()
                .chain(stderr.lines())
                .find(|l| l.contains(m.as_str()));
            format!("{m}: {}", said.unwrap_or("(nothing said)"))
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "{} of {} modules not updated: {unexplained:#?}",
        unexplained.len(),
        listed.len()
    );

    let script = dir.path().join("module.ld");
    std::fs::write(&script, LINK_SCRIPT).unwrap();
    let picked = sample(&listed);
    let figures = parallel_map(&picked, |i, m| {
        let work = tempfile::tempdir().unwrap();
        check_module(
            m,
            &corpus_dir.join(m),
            &copy.join(m),
            work.path(),
            &script,
            i as u64 * 7919,
        )
    });

    let results: BTreeMap<_, _> = picked.iter().cloned().zip(figures).collect();
    assert_eq!(results.len(), picked.len());
    let mut total = Figures::default();
    for (m, f) in &results {
        eprintln!(
            "{m}: {} queried, {} with a DWARF answer, {} agree ({} decoded), {} unannotated; {} symbol starts, {} unannotated",
            f.queried, f.compared, f.agree, f.decoded_agree, f.unannotated, f.starts, f.starts_unannotated
        );
        total.add(f);
    }
    eprintln!(
        "total over {} modules: {} queried, {} with a DWARF answer, {} agree by lookup, {} by the \
         harness's decoding, {} unannotated; {} symbol starts, {} unannotated",
        results.len(),
        total.queried,
        total.compared,
        total.agree,
        total.decoded_agree,
        total.unannotated,
        total.starts,
        total.starts_unannotated
    );
    assert!(
        total.compared > 10_000,
        "too few addresses with an answer: {}",
        total.compared
    );
    assert_eq!(
        (total.agree, total.decoded_agree),
        (total.compared, total.compared),
        "addresses with a DWARF answer that lookup (first) or the decoded blob (second) gets \
         wrong or leaves unannotated: 100 % is the claim"
    );
}
