//! Two runs at once on one tree (a build and an IDE, two terminals): both succeed, and every
//! module ends byte for byte as one run alone leaves it.
//!
//! The oracle is a single uninterrupted run on a copy of the same tree. Each round starts two
//! processes on a fresh copy at the same moment; a round where neither run waited for the other
//! proves nothing, so the test also requires that some run said (under `-v` / `V=1`) that it
//! waited for the other: the race happened and the lock decided it. Without the lock the same
//! rounds fail ("file changed while it was being read", "section … lies outside the file").

use crate::batch::Tree;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_kbuild-lineinfo");

/// How one of the two runs is started.
#[derive(Debug, Clone, Copy)]
enum Run {
    /// `modules -v -j2` with a cache shared by the round's runs.
    Batch,
    /// `modules -v -j2 --no-cache`.
    BatchNoCache,
    /// `module KO...` with `V=1`, every module of the tree in order.
    Module,
}

fn command(run: Run, root: &Path, modules: &[PathBuf], cache: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    match run {
        Run::Batch | Run::BatchNoCache => {
            cmd.args(["modules", "-v", "-j2", "--objtree"]).arg(root);
            match run {
                Run::Batch => cmd.arg("--cache-dir").arg(cache),
                _ => cmd.arg("--no-cache"),
            };
        }
        Run::Module => {
            cmd.args(["module", "--layout", "v1"])
                .args(modules)
                .env("V", "1");
        }
    }
    for v in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "KBUILD_VERBOSE"] {
        cmd.env_remove(v);
    }
    if !matches!(run, Run::Module) {
        cmd.env_remove("V");
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The lines where a run says it waited for the other.
fn waits(out: &Output) -> usize {
    text(out)
        .lines()
        .filter(|l| l.contains(": waited ") && l.contains("for another run"))
        .count()
}

/// Every module's bytes under `root`, by path relative to it.
fn bytes(root: &Path, modules: &[PathBuf]) -> BTreeMap<PathBuf, Vec<u8>> {
    modules
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            (rel, std::fs::read(p).unwrap())
        })
        .collect()
}

/// `rounds` rounds (or more, see below) of `pair` started together on a fresh copy of `template` (the `.ko` files
/// listed in `modules`, relative to the tree); each run must exit 0 without a warning and
/// leave `reference`. Returns the number of waits the runs reported.
fn race(
    template: &Path,
    modules: &[PathBuf],
    pair: [Run; 2],
    rounds: usize,
    reference: &BTreeMap<PathBuf, Vec<u8>>,
) -> usize {
    let mut waited = 0;
    // At least `rounds`; then on until some run waited (a loaded machine may start the second
    // run late a few times in a row), or give up at four times as many.
    let mut round = 0;
    while round < rounds || (waited == 0 && round < rounds * 4) {
        round += 1;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("obj");
        let status = Command::new("cp")
            .arg("-a")
            .arg(template)
            .arg(&root)
            .status()
            .unwrap();
        assert!(status.success(), "cp -a {}", template.display());
        let kos: Vec<PathBuf> = modules.iter().map(|m| root.join(m)).collect();
        let cache = dir.path().join("cache");
        let children: Vec<_> = pair
            .iter()
            .map(|&run| command(run, &root, &kos, &cache).spawn().unwrap())
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for (run, out) in pair.iter().zip(&outputs) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let complaints: Vec<&str> = stderr
                .lines()
                .filter(|l| l.starts_with("kbuild-lineinfo"))
                .collect();
            assert!(
                out.status.success() && complaints.is_empty(),
                "round {round}, {pair:?}: the {run:?} run: {:?}\n{}",
                out.status,
                text(out)
            );
            waited += waits(out);
        }
        let got = bytes(&root, &kos);
        for (name, b) in &got {
            assert!(
                b == &reference[name],
                "round {round}, {pair:?}: {} differs from a single run's",
                name.display()
            );
        }
    }
    waited
}

/// The bytes one `modules --no-cache` run alone leaves on a copy of the tree at `template`.
fn single_run(template: &Path, modules: &[PathBuf]) -> BTreeMap<PathBuf, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("obj");
    assert!(Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(&root)
        .status()
        .unwrap()
        .success());
    let out = Command::new(BIN)
        .args(["modules", "-j1", "--no-cache", "--objtree"])
        .arg(&root)
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .unwrap();
    assert!(out.status.success(), "single run: {}", text(&out));
    let kos: Vec<PathBuf> = modules.iter().map(|m| root.join(m)).collect();
    bytes(&root, &kos)
}

/// Runs every pair `rounds` times; each pair must have waited at least once.
fn every_pair(template: &Path, modules: &[PathBuf], rounds: usize) {
    let reference = single_run(template, modules);
    let pairs = [
        [Run::Batch, Run::Batch],
        [Run::Module, Run::Module],
        [Run::BatchNoCache, Run::Module],
    ];
    for pair in pairs {
        let waited = race(template, modules, pair, rounds, &reference);
        eprintln!("{pair:?}: {waited} waits");
        assert!(
            waited > 0,
            "{pair:?}: no run waited for the other in {} rounds: the race was not exercised",
            rounds * 4
        );
    }
}

#[test]
fn two_runs_at_once_both_succeed_and_leave_one_runs_bytes() {
    // One module of 400 functions, copied 40 times (the same build-id: after the first, the
    // cached runs are as fast as the embedding, so the two runs meet on many modules).
    const COPIES: usize = 40;
    let source = Tree::new(1, 400);
    let module = std::fs::read(&source.modules()[0]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("obj");
    let mut modules = Vec::new();
    for c in 0..COPIES {
        let name = PathBuf::from(format!("drivers/c{c}/copy{c}.ko"));
        std::fs::create_dir_all(root.join(name.parent().unwrap())).unwrap();
        std::fs::write(root.join(&name), &module).unwrap();
        modules.push(name);
    }
    let order: String = (0..COPIES)
        .map(|c| format!("drivers/c{c}/copy{c}.o\n"))
        .collect();
    std::fs::write(root.join("modules.order"), order).unwrap();
    every_pair(&root, &modules, 4);
}

#[test]
#[ignore = "needs the corpus: scripts/corpus.sh"]
fn two_runs_at_once_on_the_cloud_corpus() {
    // The first 80 modules of Debian's modules.order, as an object tree of their own.
    let (dir, order) = crate::common::realdata::modules_corpus();
    let listed = std::fs::read_to_string(order).unwrap();
    let tree = tempfile::tempdir().unwrap();
    let root = tree.path().join("obj");
    let mut modules = Vec::new();
    for name in listed.lines().filter(|l| !l.is_empty()).take(80) {
        let to = root.join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(dir.join(name), &to).unwrap();
        modules.push(PathBuf::from(name));
    }
    let order: String = modules
        .iter()
        .map(|m| format!("{}\n", m.display()))
        .collect();
    std::fs::write(root.join("modules.order"), order).unwrap();
    every_pair(&root, &modules, 2);
}
