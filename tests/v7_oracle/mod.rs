//! The independent oracle for v7 module tables, shared by `v7_modules.rs` and
//! `real_modules_v7.rs`: fully link a copy of the ORIGINAL module with `ld` at fixed section
//! addresses, ask `llvm-symbolizer --no-inlines` about covered addresses, and compare with
//! `kbuild-lineinfo lookup --module` on the embedded module. A second full link of the embedded
//! module checks that the anchors relocate to the sections' addresses and that the kernel's
//! lookup on the linked blob (anchors filled by `ld`, not by us) gives the same answers. The
//! linked blobs are read by the harness's own v7 decoder (`common::v7blob`, written from the
//! format text), never by the library's reader.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use crate::common::realdata::{
    assert_clean_name, parse_lookup, parse_symbolizer, pipe, same_file, Answer,
};
use crate::common::v7blob::{self, decode_v7_blob};

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind, SymbolSection};

/// Code the alternatives patcher copies into `.text` (never run in place): no blob covers it.
pub const NOT_COVERED: [&str; 1] = [".altinstr_replacement"];

/// A code section (`SHF_ALLOC | SHF_EXECINSTR`, not empty) of the original module: where the
/// oracle link puts it, its size, whether a v7 blob must cover it, and its text symbol starts
/// (offsets).
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub size: u64,
    pub base: u64,
    pub covered: bool,
    pub starts: Vec<u64>,
}

/// Every code section of `ko` with a distinct name, in section-header order, each given its
/// own link address (1 MiB apart and aligned, from 16 MiB: below 4 GiB for `-m32` modules),
/// with the symbols kallsyms would see in it. A name that occurs twice is left out (the oracle
/// link could not tell the two apart).
pub fn covered_sections(ko: &[u8]) -> Vec<Section> {
    let file = object::File::parse(ko).unwrap();
    let code: Vec<_> = file
        .sections()
        .filter(|s| {
            matches!(s.flags(), object::SectionFlags::Elf { sh_flags, .. }
                if sh_flags.0 & 6 == 6)
                && s.size() > 0
        })
        .collect();
    let mut out = Vec::new();
    let mut next = 0x100_0000u64;
    for section in &code {
        let name = section.name().unwrap().to_string();
        if code.iter().filter(|s| s.name().ok() == Some(&name)).count() > 1 {
            continue;
        }
        let mut starts: Vec<u64> = file
            .symbols()
            .filter(|s| matches!(s.kind(), SymbolKind::Text | SymbolKind::Unknown))
            // kallsyms skips unnamed symbols and is_mapping_symbol() names (`.L…`, `L0…`, `$…`:
            // include/linux/module_symbol.h), written out here, not taken from the tool.
            .filter(|s| {
                !s.name_bytes().is_ok_and(|n| {
                    n.is_empty()
                        || n.starts_with(b".L")
                        || n.starts_with(b"L0")
                        || n.starts_with(b"$")
                })
            })
            .filter(|s| s.section() == SymbolSection::Section(section.index()))
            .map(|s| s.address())
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let base = next;
        next = (base + section.size() + 0x10_0000).next_multiple_of(0x10_0000);
        out.push(Section {
            covered: !NOT_COVERED.contains(&name.as_str()),
            name,
            size: section.size(),
            base,
            starts,
        });
    }
    out
}

/// Links `ko` fully into `out` with each of `sections` at its base, everything undefined
/// ignored.
pub fn link(ko: &Path, out: &Path, sections: &[Section], m32: bool) {
    let script = out.with_extension("lds");
    let mut text = String::from("SECTIONS {\n");
    for s in sections {
        text += &format!("  {} {:#x} : {{ *({}) }}\n", s.name, s.base, s.name);
    }
    text += "}\n";
    std::fs::write(&script, text).unwrap();
    let mut cmd = linker(ko);
    if m32 {
        cmd.args(["-m", "elf_i386"]);
    }
    cmd.args([
        "--unresolved-symbols=ignore-all",
        "--no-check-sections",
        "-e",
        "0",
        "-T",
    ])
    .arg(&script)
    .arg("-o")
    .arg(out)
    .arg(ko);
    let result = cmd.output().unwrap();
    assert!(
        result.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// The binutils `ld` for `ko`'s machine: the host's for x86, the cross linker of
/// `binutils-aarch64-linux-gnu` / `binutils-riscv64-linux-gnu` for Debian's arm64 and riscv64
/// modules (RISC-V without relaxation, which would move code away from the module's offsets).
fn linker(ko: &Path) -> Command {
    let data = std::fs::read(ko).unwrap();
    let file = object::File::parse(&*data).unwrap();
    match file.architecture() {
        object::Architecture::Aarch64 => Command::new("aarch64-linux-gnu-ld"),
        object::Architecture::Riscv64 => {
            let mut cmd = Command::new("riscv64-linux-gnu-ld");
            cmd.arg("--no-relax");
            cmd
        }
        _ => Command::new("ld"),
    }
}

/// `llvm-symbolizer --no-inlines` on `linked` for `addresses`: `file:line` when it knows one.
pub fn symbolize(linked: &Path, addresses: &[u64]) -> Vec<Answer> {
    let queries: String = addresses.iter().map(|a| format!("{a:#x}\n")).collect();
    let out = pipe(
        Command::new("llvm-symbolizer")
            .arg("--no-inlines")
            .arg(format!("--obj={}", linked.display())),
        &queries,
    );
    let answers = parse_symbolizer(&out);
    assert_eq!(
        answers.len(),
        addresses.len(),
        "llvm-symbolizer answered a different count"
    );
    answers
}

/// `kbuild-lineinfo lookup --module ko` for `queries` (`SECTION+0xOFF`).
pub fn lookup(ko: &Path, queries: &[String]) -> Vec<Answer> {
    let input: String = queries.iter().map(|q| format!("{q}\n")).collect();
    let out = pipe(
        Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
            .args(["lookup", "--module"])
            .arg(ko),
        &input,
    );
    let answers = parse_lookup(&out);
    assert_eq!(answers.len(), queries.len());
    answers
}

/// The linked embedded module's blobs, decoded by the harness, and the kernel's lookup on them.
pub struct LinkedBlobs {
    pub blobs: Vec<Vec<u8>>,
    pub big_endian: bool,
    /// Each blob's descriptors with their sub-tables.
    pub decoded: Vec<Vec<v7blob::Section>>,
    /// Descriptors in all, each validated.
    pub descriptors: usize,
}

impl LinkedBlobs {
    /// Decodes `blobs` with the harness's v7 decoder; `Err` names the blob and the problem.
    pub fn decode(blobs: Vec<Vec<u8>>, big_endian: bool) -> Result<LinkedBlobs, String> {
        let decoded = blobs
            .iter()
            .enumerate()
            .map(|(i, b)| decode_v7_blob(b, big_endian).map_err(|e| format!("blob {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LinkedBlobs {
            descriptors: decoded.iter().map(Vec::len).sum(),
            blobs,
            big_endian,
            decoded,
        })
    }

    /// The kernel's answer at `address` with the symbol-start guard (`start`: the symbol's
    /// offset in its section).
    pub fn lookup(&self, address: u64, start: u64) -> Answer {
        let found = self
            .decoded
            .iter()
            .find_map(|sections| v7blob::lookup(sections, address))
            .filter(|f| u64::from(f.entry_offset) >= start)?;
        Some((found.file, found.line))
    }

    /// How many of `samples` (at `addresses`) inside a symbol have an `oracle` answer, and at
    /// how many of those the decoded blobs give the same file and line.
    pub fn agreement(
        &self,
        sections: &[Section],
        samples: &[Sample],
        addresses: &[u64],
        oracle: &[Answer],
    ) -> (u64, u64) {
        let (mut compared, mut agreed) = (0, 0);
        for ((sample, address), want) in samples.iter().zip(addresses).zip(oracle) {
            let (Some(start), Some((want_file, want_line))) =
                (sections[sample.section].symbol_start(sample.offset), want)
            else {
                continue;
            };
            compared += 1;
            if let Some((file, line)) = self.lookup(*address, start) {
                agreed += u64::from(same_file(want_file, &file) && *want_line == line);
            }
        }
        (compared, agreed)
    }
}

impl Section {
    /// The offset of the last symbol start at or below `offset`, if any.
    pub fn symbol_start(&self, offset: u64) -> Option<u64> {
        let i = self.starts.partition_point(|&s| s <= offset);
        i.checked_sub(1).map(|i| self.starts[i])
    }
}

/// Checks the fully linked embedded module `linked` (from `embedded`): every descriptor's
/// anchor is the address of the section its relocation names, its size that section's size,
/// and every sub-table passes the kernel's validation.
pub fn check_linked_blobs(embedded: &[u8], linked: &[u8]) -> LinkedBlobs {
    let ko = object::File::parse(embedded).unwrap();
    let out = object::File::parse(linked).unwrap();
    let mut blobs = Vec::new();
    for name in [".mod_lineinfo", ".init.mod_lineinfo"] {
        let Some(unlinked) = ko.section_by_name(name) else {
            continue;
        };
        // Which section each descriptor covers, from the embedded module's relocations.
        let mut targets: HashMap<u64, String> = HashMap::new();
        for (offset, reloc) in unlinked.relocations() {
            assert_eq!(reloc.addend(), 0, "{name}: anchor addend");
            let object::RelocationTarget::Symbol(sym) = reloc.target() else {
                panic!("{name}")
            };
            let sym = ko.symbol_by_index(sym).unwrap();
            assert_eq!(
                sym.kind(),
                SymbolKind::Section,
                "{name}: anchor against a section symbol"
            );
            let section = ko.section_by_index(sym.section_index().unwrap()).unwrap();
            targets.insert((offset - 8) / 16, section.name().unwrap().to_string());
        }
        let section = out
            .section_by_name(name)
            .unwrap_or_else(|| panic!("{name} not linked"));
        assert_eq!(section.align(), 8, "{name}: alignment");
        let bytes = section.data().unwrap().to_vec();
        let parsed = decode_v7_blob(&bytes, !out.is_little_endian())
            .unwrap_or_else(|e| panic!("{name}: not a v7 blob by docs/format.md: {e}"));
        assert!(!parsed.is_empty(), "{name}: no descriptors");
        assert_eq!(
            parsed.len(),
            targets.len(),
            "{name}: one relocation per descriptor"
        );
        for (i, d) in parsed.iter().enumerate() {
            let target = &targets[&(i as u64)];
            let covered = out.section_by_name(target).unwrap();
            assert_eq!(
                d.anchor,
                covered.address(),
                "{name}[{i}]: anchor of {target}"
            );
            assert_eq!(
                u64::from(d.size),
                covered.size(),
                "{name}[{i}]: size of {target}"
            );
        }
        blobs.push(bytes);
    }
    LinkedBlobs::decode(blobs, !out.is_little_endian()).expect("decoded above")
}

/// One covered address to check.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub section: usize,
    pub offset: u64,
}

/// Every byte of every covered section of `sections`.
pub fn every_covered_byte(sections: &[Section]) -> Vec<Sample> {
    sections
        .iter()
        .enumerate()
        .filter(|(_, s)| s.covered)
        .flat_map(|(i, s)| (0..s.size).map(move |offset| Sample { section: i, offset }))
        .collect()
}

/// What a comparison found.
#[derive(Debug, Default)]
pub struct Tally {
    pub samples: u64,
    /// With an oracle answer at or after the start of a symbol.
    pub compared: u64,
    pub agreed: u64,
    /// Compared addresses per section name.
    pub per_section: HashMap<String, u64>,
    pub unannotated: u64,
    /// Function starts with an oracle answer that we left unannotated.
    pub unannotated_starts: u64,
    /// Our answer differs from the kernel's lookup on the `ld`-relocated blob.
    pub kernel_mismatch: u64,
    /// Compared addresses where the harness's decoding of the linked blob agrees with the
    /// oracle.
    pub decoded_agreed: u64,
    pub shown: Vec<String>,
}

/// Compares the oracle on `original` (each section linked at its base) with our lookup on
/// `embedded` and with the kernel's lookup on the linked `embedded`, for `samples` of `sections`.
pub fn compare(
    original: &Path,
    embedded: &Path,
    sections: &[Section],
    samples: &[Sample],
    m32: bool,
    work: &Path,
) -> (Tally, LinkedBlobs) {
    let base_of = |s: &Section| s.base;
    let linked_original = work.join("original.linked");
    link(original, &linked_original, sections, m32);
    let linked_embedded = work.join("embedded.linked");
    link(embedded, &linked_embedded, sections, m32);
    let kernel = check_linked_blobs(
        &std::fs::read(embedded).unwrap(),
        &std::fs::read(&linked_embedded).unwrap(),
    );

    let addresses: Vec<u64> = samples
        .iter()
        .map(|s| base_of(&sections[s.section]) + s.offset)
        .collect();
    let oracle = symbolize(&linked_original, &addresses);
    let queries: Vec<String> = samples
        .iter()
        .map(|s| format!("{}+{:#x}", sections[s.section].name, s.offset))
        .collect();
    let ours = lookup(embedded, &queries);

    let mut tally = Tally {
        samples: samples.len() as u64,
        decoded_agreed: kernel.agreement(sections, samples, &addresses, &oracle).1,
        ..Tally::default()
    };
    for (((sample, address), want), got) in samples.iter().zip(&addresses).zip(&oracle).zip(&ours) {
        let section = &sections[sample.section];
        let Some(start) = section.symbol_start(sample.offset) else {
            continue;
        };
        let Some((want_file, want_line)) = want else {
            continue;
        };
        tally.compared += 1;
        *tally.per_section.entry(section.name.clone()).or_default() += 1;
        if kernel.lookup(*address, start) != *got {
            tally.kernel_mismatch += 1;
        }
        match got {
            Some((file, line)) => {
                assert_clean_name(file, "");
                if same_file(want_file, file) && want_line == line {
                    tally.agreed += 1;
                } else if tally.shown.len() < 10 {
                    tally.shown.push(format!(
                        "{}: {}+{:#x}: llvm-symbolizer {want_file}:{want_line}, ours {file}:{line}",
                        embedded.display(),
                        section.name,
                        sample.offset
                    ));
                }
            }
            None => {
                tally.unannotated += 1;
                if start == sample.offset {
                    tally.unannotated_starts += 1;
                }
            }
        }
    }
    (tally, kernel)
}
