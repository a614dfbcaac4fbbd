//! Paths of the batch (`modules`) that no other test drove end to end, each judged from outside
//! the tool:
//!
//! - `modules --vmlinux F -o O`: the table object is read back by the harness's own decoder
//!   (`common::vmtable`) and every address of `[_text, _etext)` checked with `llvm-symbolizer`;
//! - `--memory-budget`: two big modules never run side by side, seen in `strace -f` of the run
//!   (each job's first and last system call, per thread), and seen overlapping without the budget;
//! - the cache: a warm entry misses when `--layout`, `--srctree` or `CONFIG_MODULE_UNLOAD`
//!   changes, and what the miss writes is what a run without cache writes;
//! - make's jobserver: under a real `make -j3`, with the real batch, every token is back in make's
//!   pipe while only one long job runs, and after the batch (none held idle, none lost).

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::batch::{ok, run, source_large, stderr, warnings, Tree};
use crate::common::build::VMLINUX_UNITS;
use crate::common::realdata::{parse_symbolizer, pipe, symbol_value};
use crate::common::{vmtable, Expect, Variant, Workspace};

const BIN: &str = env!("CARGO_BIN_EXE_kbuild-lineinfo");

/// `modules --vmlinux F -o O` writes the vmlinux tables next to the modules: decoded by the
/// harness, every address of the image's text with a DWARF answer gets it.
#[test]
fn modules_with_vmlinux_writes_tables_that_agree_with_llvm_symbolizer() {
    let ws = Workspace::new();
    let v = Variant {
        layout: Some("v1"),
        ..Variant::new("batch-vmlinux")
    };
    let objs = ws.compile_all(&v, &VMLINUX_UNITS);
    let stub = ws.path("stub.o");
    run(Command::new(BIN)
        .args(["vmlinux", "--stub", "-o"])
        .arg(&stub));
    let vmlinux = ws.link_vmlinux(&v, &objs, &[&stub], "vmlinux.1");
    let tree = Tree::new(2, 3);
    for layout in ["v1", "v7"] {
        let table = ws.path(&format!("tables-{layout}.o"));
        let out = ok(
            &tree.copy(),
            &[
                "--no-cache",
                "--layout",
                layout,
                "--vmlinux",
                vmlinux.to_str().unwrap(),
                "-o",
                table.to_str().unwrap(),
            ],
        );
        assert!(
            out.contains(&format!("  LINEINFO {}\n", vmlinux.display())),
            "{out}"
        );
        assert_eq!(out.matches("  LINEINFO [M] ").count(), 2, "{out}");

        let arrays = vmtable::Arrays::of_elf(&fs::read(&table).unwrap()).unwrap();
        let decoded = vmtable::decode(&arrays, layout == "v7")
            .unwrap_or_else(|e| panic!("{layout}: not a table by docs/format.md: {e}"));
        let text = symbol_value(&vmlinux, "_text");
        let etext = symbol_value(&vmlinux, "_etext");
        let queries: String = (text..etext).map(|a| format!("{a:#x}\n")).collect();
        let oracle = parse_symbolizer(&pipe(
            Command::new("llvm-symbolizer")
                .arg("--no-inlines")
                .arg(format!("--obj={}", vmlinux.display())),
            &queries,
        ));
        let expect = Expect::new(&[ws.tree_root(&v)]);
        let mut compared = 0;
        let mut wrong = Vec::new();
        for (a, want) in (text..etext).zip(&oracle) {
            let Some((file, line)) = want else { continue };
            compared += 1;
            let got = decoded.lookup(a - text);
            if got != Some((expect.name(file).as_str(), *line)) {
                wrong.push(format!("{a:#x}: DWARF {file}:{line}, table {got:?}"));
            }
        }
        assert!(
            compared > 100,
            "{layout}: only {compared} addresses answered"
        );
        assert!(
            wrong.is_empty(),
            "{layout}: {} of {compared} wrong: {:#?}",
            wrong.len(),
            &wrong[..wrong.len().min(20)]
        );
    }
}

/// `NAME: … from DWARF` or `from cache` of each module in a `-v` run.
fn sources(out: &str) -> Vec<(String, &'static str)> {
    let mut v: Vec<(String, &'static str)> = out
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(".ko: ")?;
            let from = if rest.contains("from cache") {
                "cache"
            } else if rest.contains("from DWARF") {
                "DWARF"
            } else {
                return None;
            };
            Some((format!("{}.ko", name.rsplit('/').next().unwrap()), from))
        })
        .collect();
    v.sort();
    v
}

/// A module with a function in `.exit.text`, whose v1 place depends on CONFIG_MODULE_UNLOAD.
fn exit_source(i: usize) -> String {
    format!(
        "int mod{i}_f0(int x) {{ return x * 3 + 1; }}\n\
         int mod{i}_g(int x)\n{{\n\tint s = 0;\n\tfor (int k = 0; k < x; k++)\n\t\ts += k * k;\n\treturn s;\n}}\n\
         __attribute__((section(\".exit.text\"), used)) void mod{i}_exit(void)\n{{\n\tmod{i}_g(3);\n}}\n"
    )
}

/// A warm cache must miss when the layout, the source tree or CONFIG_MODULE_UNLOAD changes,
/// and each miss must write what a run without cache writes.
#[test]
fn warm_cache_misses_when_layout_srctree_or_module_unload_change() {
    let base = Tree::new(2, 4);
    base.build_from(1, &exit_source(1));
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let all = |from: &'static str| -> Vec<(String, &'static str)> {
        vec![("mod0.ko".into(), from), ("mod1.ko".into(), from)]
    };
    // Each case: extra arguments, the .config to write (None: none), and whether it hits.
    let config_off = "CONFIG_MODULES=y\n# CONFIG_MODULE_UNLOAD is not set\n";
    let cases: [(&str, &[&str], Option<&str>, &str); 7] = [
        ("cold", &["--layout", "v1"], None, "DWARF"),
        ("warm", &["--layout", "v1"], None, "cache"),
        ("layout v7", &["--layout", "v7"], None, "DWARF"),
        (
            "srctree",
            &["--layout", "v1", "--srctree", "/elsewhere"],
            None,
            "DWARF",
        ),
        (
            "CONFIG_MODULE_UNLOAD=n",
            &["--layout", "v1", "--force"],
            Some(config_off),
            "DWARF",
        ),
        (
            "CONFIG_MODULE_UNLOAD=n again",
            &["--layout", "v1", "--force"],
            Some(config_off),
            "cache",
        ),
        ("v1 again", &["--layout", "v1"], None, "cache"),
    ];
    let mut bytes_by_case: HashMap<&str, _> = HashMap::new();
    for (name, args, config, from) in cases {
        let tree = base.copy();
        let cold = base.copy();
        if let Some(c) = config {
            for t in [&tree, &cold] {
                fs::write(t.root.join(".config"), c).unwrap();
            }
        }
        let mut with_cache = vec!["-v", "--cache-dir", cache_dir];
        with_cache.extend(args);
        let out = ok(&tree, &with_cache);
        assert_eq!(sources(&out), all(from), "{name}: {out}");
        let mut no_cache = vec!["--no-cache"];
        no_cache.extend(args);
        ok(&cold, &no_cache);
        assert!(
            tree.bytes() == cold.bytes(),
            "{name}: the cached run wrote other bytes than a run without cache"
        );
        bytes_by_case.insert(name, tree.bytes());
    }
    // The cases that miss do change the output, so a hit there would have been wrong.
    for other in ["layout v7", "CONFIG_MODULE_UNLOAD=n"] {
        assert!(
            bytes_by_case[other] != bytes_by_case["cold"],
            "{other}: same bytes as the v1 run: the case tests nothing"
        );
    }
}

/// Each job's interval per module, from `strace -f -ttt`: the first traced system call of the
/// thread that opens the module, to that thread's last traced call before it opens another
/// module (or ends).
fn job_intervals(log: &str, names: &[&str]) -> HashMap<String, (f64, f64)> {
    let mut by_thread: HashMap<&str, Vec<(f64, &str)>> = HashMap::new();
    for line in log.lines() {
        // `TID  SECONDS.MICROS call(...) = result`
        let Some((tid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Some((t, call)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let Ok(t) = t.parse::<f64>() else { continue };
        by_thread.entry(tid).or_default().push((t, call));
    }
    let mut out = HashMap::new();
    for calls in by_thread.values() {
        let mut current: Option<(String, f64, f64)> = None;
        for (t, call) in calls {
            let opened = call
                .starts_with("openat(")
                .then(|| names.iter().find(|n| call.contains(&format!("/{n}\""))))
                .flatten();
            if let Some(name) = opened.filter(|n| current.as_ref().is_none_or(|c| c.0 != **n)) {
                if let Some((n, s, e)) = current.take() {
                    out.insert(n, (s, e));
                }
                current = Some((name.to_string(), *t, *t));
            } else if let Some(c) = current.as_mut() {
                c.2 = *t;
            }
        }
        if let Some((n, s, e)) = current {
            out.insert(n, (s, e));
        }
    }
    out
}

/// `--memory-budget`: two modules whose estimated peaks (half their size) sum above the budget
/// never run at once at `-j2`, while small ones still run beside them; with a large budget the
/// same two do overlap (the observation can see an overlap).
#[test]
fn memory_budget_keeps_two_big_modules_apart() {
    if Command::new("strace").arg("-V").output().is_err() {
        crate::common::tools::unavailable("memory budget test", "`strace` is not installed");
        return;
    }
    let tree = Tree::new(8, 2);
    for i in 0..2 {
        long_module(&tree, i, 4);
    }
    let sizes: Vec<u64> = tree
        .modules()
        .iter()
        .map(|m| fs::metadata(m).unwrap().len())
        .collect();
    let big = sizes[0].min(sizes[1]);
    // Budget: below the two big estimates together, above one big and one small estimate.
    let budget_mib = big >> 20;
    assert!(
        budget_mib >= 1
            && (sizes[0].max(sizes[1]) + sizes[2..].iter().max().unwrap()) / 2 < budget_mib << 20,
        "fixture sizes do not fit the test: {sizes:?}"
    );
    let names = ["mod0.ko", "mod1.ko"];
    let overlap = |budget: u64| -> (f64, String) {
        let t = tree.copy();
        let log = t.root.join("strace.log");
        let out = Command::new("strace")
            .args([
                "-f",
                "-ttt",
                "-e",
                "trace=openat,close,munmap,pwrite64,write,rename",
            ])
            .arg("-o")
            .arg(&log)
            .arg(BIN)
            .args([
                "modules",
                "--no-cache",
                "-j2",
                "--memory-budget",
                &budget.to_string(),
            ])
            .arg("--objtree")
            .arg(&t.root)
            .env_remove("MAKEFLAGS")
            .env_remove("MAKELEVEL")
            .output()
            .unwrap();
        assert!(
            out.status.success() && warnings(&out).is_empty(),
            "{}",
            stderr(&out)
        );
        let text = fs::read_to_string(&log).unwrap();
        let jobs = job_intervals(&text, &names);
        let (a, b) = (jobs["mod0.ko"], jobs["mod1.ko"]);
        let seconds = a.1.min(b.1) - a.0.max(b.0);
        (seconds, format!("mod0 {a:?}, mod1 {b:?}"))
    };
    for round in 0..3 {
        let (seconds, jobs) = overlap(budget_mib);
        assert!(
            seconds < 0.0,
            "round {round}: --memory-budget {budget_mib} (big modules {sizes:?} bytes): the two \
             big jobs overlapped {seconds:.3} s: {jobs}"
        );
    }
    let (seconds, jobs) = overlap(1 << 20);
    assert!(
        seconds > 0.0,
        "without a binding budget the two big jobs should overlap at -j2: {jobs}"
    );
}

/// Module `i` of `tree` made long to process: `copies` copies of one object of 100,000 line
/// rows (compiled once, symbols renamed per copy with `objcopy --prefix-symbols`), `ld -r`.
fn long_module(tree: &Tree, i: usize, copies: usize) {
    let dir = tree.root.join(format!("drivers/m{i}"));
    fs::write(dir.join("long.c"), source_large(i)).unwrap();
    run(Command::new("cc")
        .current_dir(&dir)
        .args(["-c", "-g", "-O0", "-o", "long.o", "long.c"]));
    let mut ld = Command::new("ld");
    ld.current_dir(&dir).args(["-r", "--build-id=sha1", "-o"]);
    ld.arg(tree.root.join(Tree::name(i)));
    for c in 0..copies {
        let copy = format!("long{c}.o");
        run(Command::new("objcopy")
            .current_dir(&dir)
            .arg(format!("--prefix-symbols=c{c}_"))
            .args(["long.o", &copy]));
        ld.arg(copy);
    }
    run(&mut ld);
}

/// The free tokens in make's jobserver pipe `path` (`/proc/PID/fd/N`); `None` once make is gone.
fn tokens(path: &Path) -> Option<usize> {
    crate::common::tools::jobserver_tokens(path).ok()
}

/// What a batch run under `make -j3` showed: the lines of the run with the time they arrived,
/// make's stderr, and the free tokens in make's pipe over time.
struct MakeRun {
    lines: Vec<(Duration, String)>,
    err: String,
    polls: Vec<(Duration, usize)>,
}

/// Runs the batch over `tree` inside a real `make -j3` recipe, polling make's jobserver pipe.
fn batch_under_make(tree: &Tree) -> MakeRun {
    let dir = tempfile::tempdir().unwrap();
    let flags = dir.path().join("flags");
    let makefile = dir.path().join("Makefile");
    fs::write(
        &makefile,
        format!(
            "all:\n\t+@echo \"$$MAKEFLAGS\" > {flags}; {BIN} modules --no-cache -v --objtree {root} 2>&1; \
             echo BATCH-DONE; sleep 0.5\n",
            flags = flags.display(),
            root = tree.root.display()
        ),
    )
    .unwrap();
    let mut make = Command::new("make")
        .args(["-j3", "-f"])
        .arg(&makefile)
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("MFLAGS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    // Lines of the run with the time they arrived (the -v explanations, sent to stdout by the
    // recipe's 2>&1).
    let stdout = make.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map(|l| (start.elapsed(), l.unwrap()))
            .collect::<Vec<_>>()
    });
    // make's jobserver pipe, from the MAKEFLAGS the recipe saw: --jobserver-auth=R,W.
    let pipe_path = loop {
        // The shell creates the file before `echo` writes it: wait for the line.
        let f = fs::read_to_string(&flags).unwrap_or_default();
        if f.ends_with('\n') {
            let auth = f
                .split_whitespace()
                .find_map(|w| w.strip_prefix("--jobserver-auth="))
                .unwrap_or_else(|| panic!("no jobserver in MAKEFLAGS: {f}"))
                .to_string();
            let read_fd = auth.split(',').next().unwrap().to_string();
            break Path::new("/proc")
                .join(make.id().to_string())
                .join("fd")
                .join(read_fd);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the recipe never ran"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut polls = Vec::new();
    while let Some(n) = tokens(&pipe_path) {
        polls.push((start.elapsed(), n));
        std::thread::sleep(Duration::from_millis(5));
        if make.try_wait().unwrap().is_some() {
            break;
        }
    }
    let status = make.wait().unwrap();
    let lines = reader.join().unwrap();
    let mut err = String::new();
    make.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    MakeRun { lines, err, polls }
}

/// Under a real `make -j3` (two tokens in make's pipe), the real batch runs one long module and
/// eight small ones: once the small ones are done, both tokens are back in make's pipe while the
/// long one still runs (none held idle), and after the batch (none lost).
///
/// The long module must outlast the small ones by a margin the polls can see; how long it takes
/// depends on the machine, so it grows (8, 32, 128 copies of its object) until it does.
#[test]
fn make_tokens_come_back_while_one_long_job_runs() {
    let tree = Tree::new(9, 2);
    let settle = Duration::from_millis(30);
    let mut tried = Vec::new();
    let (run, smalls_done, long_done) = loop {
        let copies = 8 << (2 * tried.len());
        long_module(&tree, 0, copies);
        let run = batch_under_make(&tree);
        let when = |what: &str| {
            run.lines
                .iter()
                .filter(|(_, l)| l.contains(what))
                .map(|(t, _)| *t)
                .max()
                .unwrap_or_else(|| panic!("no line with {what}: {:?}", run.lines))
        };
        let long_done = when("mod0.ko: ");
        let smalls_done = (1..9).map(|i| when(&format!("mod{i}.ko: "))).max().unwrap();
        if long_done > smalls_done + settle * 3 {
            break (run, smalls_done, long_done);
        }
        tried.push(format!(
            "{copies} copies: long {long_done:?}, small ones {smalls_done:?}"
        ));
        assert!(
            tried.len() < 3,
            "the long module never outlasted the small ones: the test proves nothing: {tried:?}"
        );
    };
    let MakeRun { lines, err, polls } = run;
    let batch_done = lines
        .iter()
        .filter(|(_, l)| l.contains("BATCH-DONE"))
        .map(|(t, _)| *t)
        .max()
        .unwrap_or_else(|| panic!("no BATCH-DONE line: {lines:?}"));
    let during: Vec<usize> = polls
        .iter()
        .filter(|(t, _)| *t > smalls_done + settle && *t < long_done)
        .map(|p| p.1)
        .collect();
    assert!(!during.is_empty(), "no poll while the long job ran alone");
    assert!(
        during.iter().all(|&n| n == 2),
        "tokens free while only the long job ran (2 expected: none held idle): {during:?}"
    );
    let after: Vec<usize> = polls
        .iter()
        .filter(|(t, _)| *t > batch_done + settle)
        .map(|p| p.1)
        .collect();
    assert!(!after.is_empty(), "no poll after the batch");
    assert!(
        after.iter().all(|&n| n == 2),
        "tokens free after the batch (2 expected: none lost): {after:?}"
    );
    let complaints: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("lineinfo: "))
        .collect();
    assert!(
        complaints.is_empty(),
        "make or the batch complained: {complaints:#?}"
    );
}
