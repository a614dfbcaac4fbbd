//! `--vmlinux` given a kernel as a distribution installs it: an x86 bzImage whose payload is the
//! vmlinux stripped of its symbols (gzip, xz, zstd), an arm64 `Image.gz` (raw memory from
//! `_text`), with the System.map `nm -n` makes of the unstripped vmlinux, beside the image or
//! named. The answers of `lookup` and `annotate` are checked against `llvm-symbolizer` on the
//! unstripped vmlinux (an independent oracle). Then hostile inputs: each one line naming the
//! file, exit 1, nothing on stdout and no file written. The real-data test pairs Debian's
//! vmlinuz with a System.map made from its debug vmlinux.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::annotate::{kernel_text_symbols, Sym};
use crate::common;
use common::build::VMLINUX_UNITS;
use common::realdata::Rng;
use common::{Variant, Workspace};
use kbuild_lineinfo::testing::bzimage;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kbuild-lineinfo")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs the tool in `dir` with no input.
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("MAKEFLAGS")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `head` then `tail`, as arguments.
fn with<'a>(head: &[&'a str], tail: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(tail.iter().map(|s| s.as_str()))
        .collect()
}

/// `cmd` with `input` on stdin; its stdout.
fn filter(cmd: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (scripts/deps.sh installs it)"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}");
    out.stdout
}

/// The annotate fixtures linked like a kernel with tables of `layout`, and a `linux_banner`
/// as init/version.c has it: `vmlinux` in the workspace.
fn vmlinux_with_banner(layout: &'static str) -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    let v = Variant {
        layout: Some(layout),
        ..Variant::new("vmlinuz")
    };
    let mut objs = ws.compile_all(&v, &VMLINUX_UNITS);
    let banner = ws.path("banner.c");
    fs::write(
        &banner,
        "const char linux_banner[] = \"Linux version 0.0.0-fixture (test) #1\\n\";\n",
    )
    .unwrap();
    let banner_o = ws.path("banner.o");
    common::tools::run(
        Command::new("cc")
            .args(["-c", "-o"])
            .arg(&banner_o)
            .arg(&banner),
    );
    objs.push(banner_o);
    let stub = ws.path("stub.o");
    let tool = |args: &[&str], out: &Path, input: Option<&Path>| {
        let mut cmd = Command::new(bin());
        cmd.args(args).arg(out);
        if let Some(i) = input {
            cmd.arg(i);
        }
        common::tools::run(&mut cmd);
    };
    tool(
        &["vmlinux", "--layout", layout, "--stub", "-o"],
        &stub,
        None,
    );
    let link1 = ws.link_vmlinux(&v, &objs, &[&stub], "vmlinux.1");
    let tables = ws.path("tables.o");
    tool(
        &["vmlinux", "--layout", layout, "-o"],
        &tables,
        Some(&link1),
    );
    let vmlinux = ws.link_vmlinux(&v, &objs, &[&tables], "vmlinux");
    (ws, vmlinux)
}

/// `nm -n` of `elf`: what scripts/mksysmap starts from.
fn system_map(elf: &Path) -> Vec<u8> {
    let out = Command::new("nm").arg("-n").arg(elf).output().unwrap();
    assert!(out.status.success(), "nm -n {}", elf.display());
    out.stdout
}

/// The payload arch/x86/boot/compressed makes: `objcopy -S` (no symbols, no DWARF).
fn stripped(ws: &Workspace, elf: &Path) -> Vec<u8> {
    let out = ws.path("vmlinux.bin");
    common::tools::run(Command::new("objcopy").arg("-S").arg(elf).arg(&out));
    fs::read(out).unwrap()
}

/// `payload` compressed by `cmd`, with the 4-byte size the kernel's `size_append` adds.
fn compressed(cmd: &str, args: &[&str], payload: &[u8]) -> Vec<u8> {
    let mut out = filter(cmd, args, payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out
}

/// An arm64 `Image` of `elf`: its memory from `_text` on (`objcopy -O binary`, `_text` being
/// its lowest address), with the header's magic and little-endian flags over the first bytes
/// (where arm64's own header sits over its first instructions).
fn arm64_image(ws: &Workspace, elf: &Path) -> Vec<u8> {
    let out = ws.path("Image");
    common::tools::run(
        Command::new("objcopy")
            .args(["-O", "binary"])
            .arg(elf)
            .arg(&out),
    );
    let mut image = fs::read(&out).unwrap();
    image[0x18..0x20].copy_from_slice(&[0; 8]);
    image[0x38..0x3c].copy_from_slice(b"ARM\x64");
    image
}

/// Random addresses and `name+0xOFF/0xSIZE` queries of `symbols`.
fn queries(symbols: &[Sym], count: usize, seed: u64) -> (Vec<String>, Vec<u64>) {
    let mut rng = Rng(seed);
    let mut queries = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..count {
        let s = &symbols[(rng.next() % symbols.len() as u64) as usize];
        let offset = rng.next() % s.size;
        addresses.push(s.address + offset);
        queries.push(format!("{:#x}", s.address + offset));
    }
    (queries, addresses)
}

/// The bzImage (every compressor) and the arm64 Image.gz of a vmlinux with tables, each with
/// the System.map of the unstripped vmlinux, answer `lookup` and `annotate` as
/// `llvm-symbolizer` does on the unstripped vmlinux; the map is found beside the image by its
/// release (`System.map-REL` next to `vmlinuz-REL`) or named with `--system-map`.
#[test]
fn a_vmlinuz_with_its_system_map_answers_as_its_vmlinux() {
    for layout in ["v1", "v7"] {
        let (ws, vmlinux) = vmlinux_with_banner(layout);
        let symbols = kernel_text_symbols(&vmlinux);
        let payload = stripped(&ws, &vmlinux);
        let map = system_map(&vmlinux);
        let boot = ws.path("boot");
        fs::create_dir_all(&boot).unwrap();
        fs::write(boot.join("System.map-0.0.0-fixture"), &map).unwrap();
        let zstd = compressed("zstd", &["-q", "-19", "-c"], &payload);
        fs::write(boot.join("vmlinuz-0.0.0-fixture"), bzimage(&zstd)).unwrap();
        let vmlinuz = boot.join("vmlinuz-0.0.0-fixture");
        let vmlinuz = vmlinuz.to_str().unwrap();

        let unique = crate::lookup::unique(&symbols);
        let (absolute, addresses) = queries(&unique, 600, 0x7a11_0001 + layout.len() as u64);
        let mut f = crate::lookup::Figures::default();
        let args = ["--vmlinux", vmlinuz];
        crate::lookup::check(&args, &absolute, &addresses, &symbols, &vmlinux, &mut f);
        let mut frames = crate::annotate::Figures::default();
        let mut rng = Rng(0x7a11_0002);
        crate::annotate::check_frames(&symbols, None, &vmlinux, &args, 600, &mut rng, &mut frames);
        crate::annotate::assert_figures(&format!("annotate vmlinuz {layout}"), &frames);

        // The other compressors and the arm64 Image.gz, the map named: the same answers.
        let want = run(
            ws.root(),
            &with(&[&["lookup"], &args[..]].concat(), &absolute),
        );
        assert!(want.status.success(), "{}", text(&want.stderr));
        fs::write(ws.path("System.map"), &map).unwrap();
        let image = arm64_image(&ws, &vmlinux);
        for (name, bytes) in [
            (
                "bzImage.gz",
                bzimage(&compressed("gzip", &["-9", "-c"], &payload)),
            ),
            (
                "bzImage.xz",
                bzimage(&compressed("xz", &["--check=crc32", "-c"], &payload)),
            ),
            ("Image.gz", filter("gzip", &["-9", "-c"], &image)),
            ("Image", image.clone()),
        ] {
            fs::write(ws.path(name), bytes).unwrap();
            let args = ["lookup", "--vmlinux", name, "--system-map", "System.map"];
            let got = run(ws.root(), &with(&args, &absolute));
            assert!(got.status.success(), "{name}: {}", text(&got.stderr));
            assert_eq!(text(&got.stdout), text(&want.stdout), "{name}");
            let notes = |o: &Output| text(&o.stderr).lines().count();
            assert_eq!(notes(&got), notes(&want), "{name}: {}", text(&got.stderr));
        }
        crate::lookup::assert_figures(&format!("vmlinuz {layout}"), &f);
    }
}

/// The files of `dir`, to show nothing was written.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    all.sort();
    all
}

/// A zstd frame of RLE blocks that decompresses to `size` zero bytes in a few KiB (RFC 8878
/// §3.1.1: window 128 KiB, no content size, blocks of type RLE of 128 KiB each).
fn zstd_bomb(size: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 << 10;
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3];
    let blocks = size.div_ceil(BLOCK);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((BLOCK as u32) << 3);
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.push(0);
    }
    frame
}

/// Each hostile input is one line naming the file at fault, exit 1, nothing on stdout, nothing
/// written: a truncated payload, a zstd bomb (past the 1 GiB cap), neither ELF nor a known
/// image, a placeholder System.map (Debian's), a System.map of another build, none at all, and
/// an image whose map names no tables (no DWARF to build them from either).
#[test]
fn hostile_vmlinuz_inputs_are_one_line_each() {
    let (ws, vmlinux) = vmlinux_with_banner("v7");
    let payload = stripped(&ws, &vmlinux);
    let map = system_map(&vmlinux);
    let zstd = compressed("zstd", &["-q", "-c"], &payload);
    let d = ws.path("hostile");
    fs::create_dir_all(&d).unwrap();
    let put = |name: &str, bytes: &[u8]| fs::write(d.join(name), bytes).unwrap();
    let image = bzimage(&zstd);
    put("vmlinuz", &image);
    put("cut", &image[..image.len() / 2]);
    put("bomb", &bzimage(&zstd_bomb((1 << 30) + (1 << 20))));
    put("text", b"this is no kernel\n");
    put("System.map", &map);
    put(
        "placeholder.map",
        b"ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n",
    );
    // Another build: every address 0x40 later.
    let shifted: String = text(&map)
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((a, rest)) => match u64::from_str_radix(a, 16) {
                Ok(a) => format!("{:016x} {rest}\n", a + 0x40),
                Err(_) => format!("{l}\n"),
            },
            None => format!("{l}\n"),
        })
        .collect();
    put("other.map", shifted.as_bytes());
    let no_tables: String = text(&map)
        .lines()
        .filter(|l| !l.contains(" lineinfo_"))
        .map(|l| format!("{l}\n"))
        .collect();
    put("no-tables.map", no_tables.as_bytes());
    let lonely = ws.path("lonely");
    fs::create_dir_all(&lonely).unwrap();
    fs::write(lonely.join("vmlinuz-1.2.3"), &image).unwrap();
    let lonely = lonely.join("vmlinuz-1.2.3");
    let lonely = lonely.to_str().unwrap();

    let cases: [(&[&str], String); 7] = [
        (
            &["--vmlinux", "cut"],
            "kbuild-lineinfo: cut: bzImage payload at 0x900".into(),
        ),
        (
            &["--vmlinux", "bomb"],
            "kbuild-lineinfo: bomb: zstd data: decompresses to more than 1024 MiB (refused)\n"
                .into(),
        ),
        (
            &["--vmlinux", "text"],
            "kbuild-lineinfo: text: not a kernel image (neither ELF, an x86 bzImage, nor an \
             arm64 or RISC-V Image)\n"
                .into(),
        ),
        (
            &["--vmlinux", "vmlinuz", "--system-map", "placeholder.map"],
            "kbuild-lineinfo: placeholder.map: a placeholder, not a System.map (\"The real \
             System.map is in the linux-image-<version>-dbg package\"): pass the real one, or \
             the debug vmlinux\n"
                .into(),
        ),
        (
            &["--vmlinux", "vmlinuz", "--system-map", "other.map"],
            "kbuild-lineinfo: other.map: is not the System.map of vmlinuz: its linux_banner".into(),
        ),
        (
            &["--vmlinux", "vmlinuz", "--system-map", "no-tables.map"],
            "kbuild-lineinfo: vmlinuz: no lineinfo tables (no lineinfo_* symbols in \
             no-tables.map) and no DWARF (bzImage, zstd payload): pass the debug vmlinux"
                .into(),
        ),
        (
            &["--vmlinux", lonely],
            format!(
                "kbuild-lineinfo: {lonely}: has no symbols (bzImage, zstd payload): pass its \
                 System.map with --system-map (none at {dir}/System.map-1.2.3 or \
                 {dir}/System.map)\n",
                dir = Path::new(lonely).parent().unwrap().display()
            ),
        ),
    ];
    let before = listing(&d);
    for (args, want) in cases {
        for sub in ["lookup", "annotate"] {
            let mut all = vec![sub];
            all.extend(args);
            if sub == "lookup" {
                all.push("0x0");
            }
            let out = run(&d, &all);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{all:?}: {err}");
            assert!(out.stdout.is_empty(), "{all:?}: {}", text(&out.stdout));
            assert!(
                err.starts_with(&want) && err.lines().count() == 1,
                "{all:?}:\n{err}\nwant: {want}"
            );
        }
    }
    assert_eq!(listing(&d), before, "nothing written");
    // The good pair answers, so what failed above was the hostile file.
    let out = run(&d, &["lookup", "--vmlinux", "vmlinuz", "0x0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Debian's installed kernel (the -unsigned package's vmlinuz, a zstd bzImage) with a System.map
/// made from its debug vmlinux as scripts/mksysmap makes it: Debian's kernel carries no tables,
/// and its stripped payload no DWARF, so the answer is the one line that says to pass the debug
/// vmlinux; with the tables built from that vmlinux (`--table`), the vmlinuz and the map answer
/// as the debug vmlinux does. Debian's own System.map is the placeholder: one line says so.
#[test]
#[ignore = "needs the corpus: scripts/corpus.sh (KBUILD_LINEINFO_VMLINUZ, KBUILD_LINEINFO_VMLINUX)"]
fn debian_vmlinuz_with_a_system_map_from_its_debug_vmlinux() {
    let set = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let (Some(vmlinuz), Some(vmlinux)) = (
        set("KBUILD_LINEINFO_VMLINUZ"),
        set("KBUILD_LINEINFO_VMLINUX"),
    ) else {
        panic!(
            "KBUILD_LINEINFO_VMLINUZ and KBUILD_LINEINFO_VMLINUX must be set (scripts/corpus.sh \
             cloud prints VMLINUZ and VMLINUX)"
        );
    };
    let (vmlinuz, vmlinux) = (PathBuf::from(vmlinuz), PathBuf::from(vmlinux));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // scripts/mksysmap: no absolute, debugging or undefined symbols, no local labels.
    let map: String = text(&system_map(&vmlinux))
        .lines()
        .filter(|l| {
            let mut f = l.split_whitespace();
            let (kind, name) = (f.nth(1).unwrap_or("U"), f.next().unwrap_or(""));
            !matches!(kind, "a" | "N" | "U" | "w") && !name.starts_with(".L")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(d.join("System.map"), &map).unwrap();
    let z = vmlinuz.to_str().unwrap();
    let out = run(
        d,
        &[
            "lookup",
            "--vmlinux",
            z,
            "--system-map",
            "System.map",
            "0x0",
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!(
        "kbuild-lineinfo: {z}: no lineinfo tables (no lineinfo_* symbols in System.map) and no \
         DWARF (bzImage, zstd payload): pass the debug vmlinux"
    );
    assert!(err.starts_with(&want) && err.lines().count() == 1, "{err}");
    let placeholder = vmlinuz.with_file_name(
        vmlinuz
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace("vmlinuz-", "System.map-"),
    );
    if placeholder.is_file() {
        let out = run(d, &["lookup", "--vmlinux", z, "0x0"]);
        let err = text(&out.stderr);
        assert!(err.contains(": a placeholder, not a System.map (") && err.lines().count() == 1);
    }
    // With tables from the debug vmlinux: the same answers as the debug vmlinux gives.
    let table = d.join("tables.o");
    common::tools::run(
        Command::new(bin())
            .args(["vmlinux", "--layout", "v7", "-o"])
            .arg(&table)
            .arg(&vmlinux),
    );
    let symbols = kernel_text_symbols(&vmlinux);
    let (absolute, _) = queries(&crate::lookup::unique(&symbols), 2000, 0x7a11_0003);
    let x = vmlinux.to_str().unwrap();
    let t = table.to_str().unwrap();
    let want = run(
        d,
        &with(&["lookup", "--vmlinux", x, "--table", t], &absolute),
    );
    let got = run(
        d,
        &with(
            &[
                "lookup",
                "--vmlinux",
                z,
                "--system-map",
                "System.map",
                "--table",
                t,
            ],
            &absolute,
        ),
    );
    assert!(got.status.success(), "{}", text(&got.stderr));
    let (got, want) = (text(&got.stdout), text(&want.stdout));
    // One exception, named: of several symbols at one address with the same number of leading
    // underscores (`__pfx___memmove`, `__pfx_memmove`), kallsyms lists first the one `nm -n`
    // lists first (scripts/kallsyms.c compare_symbols: "initial order"); a System.map is in
    // that order, the ELF symbol table is not. The rest of the answer must be the same.
    let address: std::collections::HashMap<&str, &str> = map
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3).then(|| (f[2], f[0]))
        })
        .collect();
    let same_place = |g: &str, w: &str| {
        let split = |l: &str| {
            let mut f = l.splitn(3, ' ');
            let (query, symbol, answer) = (f.next()?, f.next()?, f.next()?);
            let (name, rest) = symbol.split_once('+')?;
            Some((
                query.to_string(),
                name.to_string(),
                rest.to_string(),
                answer.to_string(),
            ))
        };
        match (split(g), split(w)) {
            (Some(g), Some(w)) => {
                (&g.0, &g.2, &g.3) == (&w.0, &w.2, &w.3)
                    && address.contains_key(g.1.as_str())
                    && address.get(g.1.as_str()) == address.get(w.1.as_str())
            }
            _ => false,
        }
    };
    let differ: Vec<(&str, &str)> = got
        .lines()
        .zip(want.lines())
        .filter(|&(g, w)| g != w && !same_place(g, w))
        .collect();
    assert!(
        differ.is_empty() && got.lines().count() == absolute.len(),
        "{} of {} answers differ (vmlinuz, debug vmlinux), e.g. {:#?}",
        differ.len(),
        absolute.len(),
        &differ[..differ.len().min(5)]
    );
}
