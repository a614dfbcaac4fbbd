//! Embedding in place over a copy of a real module tree (a benchmark, not a test; it modifies
//! the files):
//!
//!   KBUILD_LINEINFO_BENCH_DIR=/tmp/copy cargo bench --bench embed
//!
//! times `kbuild_lineinfo_cli::modules::embed::embed_file` over every `.ko` below the directory
//! with 2 threads, like the module step at `-j2`: a first embed, the same again (up to date),
//! then a replacement. Each module gets v7-like sections: a 16 KiB `.mod_lineinfo` anchored at
//! `.text` and a 1 KiB `.init.mod_lineinfo` anchored at `.init.text` when present.

use std::path::{Path, PathBuf};
use std::time::Instant;

use kbuild_lineinfo::emit::ko::{embed_sections, NewSection};
use kbuild_lineinfo_cli::modules::embed::{embed_file, Outcome};
use object::read::Object;

const SHF_ALLOC: u64 = 2;

fn main() {
    let Ok(root) = std::env::var("KBUILD_LINEINFO_BENCH_DIR") else {
        eprintln!(
            "embed: set KBUILD_LINEINFO_BENCH_DIR to a scratch copy of a module tree \
             (its modules are rewritten)"
        );
        std::process::exit(2);
    };
    let mut files = Vec::new();
    collect_modules(Path::new(&root), &mut files);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    // Untimed: which sections each module gets (anchors only for sections it has).
    let plans: Vec<_> = files
        .iter()
        .map(|f| (f.clone(), bench_sections(f)))
        .collect();
    let missing = plans.iter().filter(|p| p.1.is_none()).count();
    eprintln!(
        "{} modules, {:.2} GB, {missing} without section symbols",
        files.len(),
        bytes as f64 / 1e9
    );
    let plans: Vec<_> = plans
        .into_iter()
        .filter_map(|(f, s)| Some((f, s?)))
        .collect();
    for (label, seed) in [
        ("in-place, first embed", 0u8),
        ("in-place, up to date", 0),
        ("in-place, replace", 1),
    ] {
        let t = Instant::now();
        let outcomes = std::thread::scope(|s| {
            let halves = plans.chunks(plans.len().div_ceil(2).max(1));
            let jobs: Vec<_> = halves
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|(f, secs)| {
                                let mut secs = secs.clone();
                                secs.iter_mut().for_each(|n| n.data[0] = seed);
                                embed_file(f, &secs, &[]).unwrap()
                            })
                            .filter(|o| *o == Outcome::Updated)
                            .count()
                    })
                })
                .collect();
            jobs.into_iter().map(|j| j.join().unwrap()).sum::<usize>()
        });
        let took = t.elapsed();
        let per = took.as_secs_f64() * 1e3 / plans.len().max(1) as f64;
        eprintln!(
            "{label:24} {:6.2} s  {per:.3} ms/module  {outcomes} updated",
            took.as_secs_f64()
        );
    }
}

fn collect_modules(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect_modules(&p, out);
        } else if p.extension().is_some_and(|x| x == "ko") {
            out.push(p);
        }
    }
}

/// The sections a module gets; None when anchors cannot be made.
fn bench_sections(path: &Path) -> Option<Vec<NewSection>> {
    let bytes = std::fs::read(path).unwrap();
    let f = object::File::parse(&*bytes).ok()?;
    let mut out = Vec::new();
    for (name, target, len) in [
        (".mod_lineinfo", ".text", 16 << 10),
        (".init.mod_lineinfo", ".init.text", 1 << 10),
    ] {
        if f.section_by_name(target).is_some() {
            out.push(blob(name, len, target));
        }
    }
    embed_sections(&bytes, &out, &[]).ok().map(|_| out)
}

/// `len` bytes of a fixed pattern, aligned 4, with one 8-byte anchor at offset 8 to `target`.
fn blob(name: &str, len: usize, target: &str) -> NewSection {
    let data = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(1))
        .collect();
    NewSection::with_anchors(name, data, 4, SHF_ALLOC, [(8, 8, target)])
}
