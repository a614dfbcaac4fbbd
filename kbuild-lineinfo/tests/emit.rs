//! The emitters against the real toolchain: `gcc -c` of the assembly must give the same `.rodata`
//! and symbols as the directly written object, and the object must link with `ld` into an image
//! from which [`image`] reads the tables back. A missing `gcc`, or binutils without the i386
//! emulation, fails the test and names `scripts/deps.sh` (as the README promises);
//! `KBUILD_LINEINFO_ALLOW_SKIP=1` outside CI turns that into a `SKIPPED` note.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kbuild_lineinfo::emit::{asm, elf, Target};
use kbuild_lineinfo::image::{symbol_data, text_symbols};
use kbuild_lineinfo::layout::Item;
use object::read::{Object, ObjectSection, ObjectSymbol};

fn item(symbol: &'static str, align: u32, bytes: Vec<u8>) -> Item {
    Item {
        symbol,
        align,
        bytes,
    }
}

fn le(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A deterministic byte stream that covers every byte value.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The v1 symbols with odd-sized arrays, plus items that stress the assembly: every byte value,
/// text that means something to the C preprocessor, and a wider alignment.
fn items() -> Vec<Item> {
    let mut every_byte: Vec<u8> = (0..=255).collect();
    every_byte.extend(noise(3001, 0x9e37_79b9_7f4a_7c15));
    let cpp_bait = b"??=??/\n#define x 1\n/* not a comment */ // nor this\n\"'\\0\\\\".to_vec();
    vec![
        item("lineinfo_num_entries", 4, le(&[70])),
        item("lineinfo_num_files", 4, le(&[3])),
        item("lineinfo_num_blocks", 4, le(&[2])),
        item("lineinfo_block_addrs", 4, le(&[0x10, 0x2000])),
        item("lineinfo_block_offsets", 4, le(&[0, 131])),
        item("lineinfo_data", 1, every_byte),
        item("lineinfo_file_offsets", 4, le(&[0, 8, 15])),
        item("lineinfo_filenames", 1, b"fs/a.c\0\0b.h\0\0\0c\0".to_vec()),
        item("test_cpp_bait", 1, cpp_bait),
        item("test_wide", 16, vec![0xaa; 3]),
        item("test_empty_last", 8, vec![]),
    ]
}

/// The empty stub: every count 0, every array empty.
fn stub_items() -> Vec<Item> {
    vec![
        item("lineinfo_num_entries", 4, le(&[0])),
        item("lineinfo_num_files", 4, le(&[0])),
        item("lineinfo_num_blocks", 4, le(&[0])),
        item("lineinfo_block_addrs", 4, vec![]),
        item("lineinfo_block_offsets", 4, vec![]),
        item("lineinfo_data", 1, vec![]),
        item("lineinfo_file_offsets", 4, vec![]),
        item("lineinfo_filenames", 1, vec![]),
    ]
}

fn have_gcc() -> bool {
    let found = Command::new("gcc").arg("--version").output().is_ok();
    if !found {
        unavailable("`gcc` is not installed");
    }
    found
}

/// A tool the test needs is missing: a failure naming `scripts/deps.sh`, which installs every
/// tool the tests use; a `SKIPPED` note instead with `KBUILD_LINEINFO_ALLOW_SKIP=1`, never under
/// `CI` (the rule of the CLI's `tests/common/tools.rs`, which this package cannot share).
#[track_caller]
fn unavailable(why: &str) {
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false");
    if set("KBUILD_LINEINFO_ALLOW_SKIP") && !set("CI") {
        eprintln!("SKIPPED: {why}");
        return;
    }
    panic!(
        "cannot run: {why}. scripts/deps.sh installs the test tools \
         (KBUILD_LINEINFO_ALLOW_SKIP=1 skips instead, except under CI)"
    );
}

/// Runs a command, failing the test with its command line and stderr when it fails; returns stderr.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    stderr
}

fn assemble(dir: &Path, items: &[Item]) -> PathBuf {
    let source = dir.join("tables.S");
    let mut text = Vec::new();
    asm::write_items(items, &mut text).unwrap();
    std::fs::write(&source, text).unwrap();
    let object = dir.join("tables-gcc.o");
    run(Command::new("gcc")
        .arg("-c")
        .arg(&source)
        .arg("-o")
        .arg(&object));
    object
}

/// `.rodata` (bytes, alignment) and (name, offset, size, global, kind) of its symbols.
type Rodata = (
    Vec<u8>,
    u64,
    Vec<(String, u64, u64, bool, object::SymbolKind)>,
);

fn rodata(data: &[u8]) -> Rodata {
    let file = object::File::parse(data).unwrap();
    let section = file.section_by_name(".rodata").expect(".rodata");
    let mut symbols: Vec<_> = file
        .symbols()
        .filter(|s| s.section_index() == Some(section.index()))
        .filter(|s| s.kind() != object::SymbolKind::Section)
        .map(|s| {
            let name = s.name().unwrap().to_owned();
            (name, s.address(), s.size(), s.is_global(), s.kind())
        })
        .collect();
    symbols.sort_by_key(|s| (s.1, s.0.clone()));
    (section.data().unwrap().to_vec(), section.align(), symbols)
}

fn check_same_as_gcc(items: &[Item]) {
    let dir = tempfile::tempdir().unwrap();
    let gcc = std::fs::read(assemble(dir.path(), items)).unwrap();
    let ours = elf::write_object(items, &Target::host_default()).unwrap();
    let (ours, theirs) = (rodata(&ours), rodata(&gcc));
    assert_eq!(ours.0, theirs.0, ".rodata bytes");
    assert_eq!(ours.1, theirs.1, ".rodata alignment");
    assert_eq!(ours.2, theirs.2, ".rodata symbols");
    assert_eq!(ours.2.len(), items.len());
    let gcc = object::File::parse(&*gcc).unwrap();
    assert!(gcc.section_by_name(".note.GNU-stack").is_some());
}

#[test]
fn assembly_and_object_agree() {
    if have_gcc() {
        check_same_as_gcc(&items());
    }
}

#[test]
fn assembly_and_object_agree_on_the_empty_stub() {
    if have_gcc() {
        check_same_as_gcc(&stub_items());
    }
}

/// A text section with `_text`, two functions, a local label and `_etext`, for the linker.
const START_S: &str = "\t.section .note.GNU-stack, \"\"
\t.text
\t.globl _start, _text, _etext
\t.type _start, @function
_text:
_start:
\tnop
\t.type helper, @function
helper:
\tnop
.Llocal:
\tnop
\tret
\t.balign 16
_etext:
";

/// Links `tables` with a tiny `_start` using the commands `link` gives for (start.S, tables.o,
/// image), and checks that `ld` has nothing to warn about, that every item reads back from the
/// image and that the text symbols are what `nm` lists.
fn check_link(tables: &[u8], items: &[Item], link: &[Command], e_type: u16) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("start.S"), START_S).unwrap();
    std::fs::write(dir.path().join("tables.o"), tables).unwrap();
    for mut cmd in link.iter().map(|c| clone_in(c, dir.path())) {
        let stderr = run(&mut cmd);
        assert_eq!(stderr, "", "{cmd:?} warned");
    }
    let image = dir.path().join("image");
    let data = std::fs::read(&image).unwrap();
    assert_eq!(u16::from_le_bytes([data[16], data[17]]), e_type, "e_type");

    let file = object::File::parse(&*data).unwrap();
    for item in items {
        let bytes = symbol_data(&file, item.symbol).unwrap_or_else(|| panic!("{}", item.symbol));
        assert_eq!(&bytes[..item.bytes.len()], item.bytes, "{}", item.symbol);
    }
    assert_eq!(symbol_data(&file, "no_such_symbol"), None);

    let nm = nm_text(&image);
    assert!(
        nm.contains_key("helper") && !nm.contains_key(".Llocal"),
        "{nm:?}"
    );
    let text = text_symbols(&data).unwrap();
    let input = kbuild_lineinfo::input::Input::parse(&data).unwrap();
    assert_eq!(input.symbol("_text"), Some(nm["_text"]));
    assert_eq!(input.symbol("_etext"), Some(nm["_etext"]));
    let mut expected: Vec<u64> = nm.values().copied().collect();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(text.addresses(), expected);
}

/// `nm`'s text symbols (types t and T) by name.
/// `cmd` to run in `dir`.
fn clone_in(cmd: &Command, dir: &Path) -> Command {
    let mut clone = Command::new(cmd.get_program());
    clone.args(cmd.get_args()).current_dir(dir);
    clone
}

fn gcc_link(flags: &[&str]) -> [Command; 1] {
    let mut gcc = Command::new("gcc");
    gcc.args(["-nostdlib", "-Wl,--fatal-warnings"]).args(flags);
    gcc.args(["start.S", "tables.o", "-o", "image"]);
    [gcc]
}

fn nm_text(image: &Path) -> std::collections::HashMap<String, u64> {
    let out = Command::new("nm").arg(image).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (value, kind, name) = (f.next()?, f.next()?, f.next()?);
            let text = kind.eq_ignore_ascii_case("t");
            text.then(|| (name.to_owned(), u64::from_str_radix(value, 16).unwrap()))
        })
        .collect()
}

#[test]
fn object_links_into_an_executable_and_reads_back() {
    if have_gcc() {
        let items = items();
        let tables = elf::write_object(&items, &Target::host_default()).unwrap();
        check_link(&tables, &items, &gcc_link(&["-static", "-no-pie"]), 2);
        check_link(&tables, &items, &gcc_link(&["-static-pie"]), 3);
    }
}

#[test]
fn empty_stub_links_and_reads_back() {
    if have_gcc() {
        let items = stub_items();
        let tables = elf::write_object(&items, &Target::host_default()).unwrap();
        check_link(&tables, &items, &gcc_link(&["-static", "-no-pie"]), 2);
    }
}

/// ELF32: `as --32` and `ld -m elf_i386`, when binutils has the i386 emulation.
#[test]
fn object_links_for_i386() {
    let emulations = Command::new("ld").arg("-V").output();
    let stdout = emulations.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if !stdout.as_deref().unwrap_or("").contains("elf_i386") {
        unavailable("`ld -V` lists no elf_i386 emulation");
        return;
    }
    let target = Target {
        is_64: false,
        e_machine: 3, // EM_386
        ..Target::host_default()
    };
    let items = items();
    let tables = elf::write_object(&items, &target).unwrap();
    let mut assemble = Command::new("as");
    assemble.args(["--32", "start.S", "-o", "start.o"]);
    let mut link = Command::new("ld");
    link.args([
        "-m",
        "elf_i386",
        "--fatal-warnings",
        "start.o",
        "tables.o",
        "-o",
        "image",
    ]);
    check_link(&tables, &items, &[assemble, link], 2);
}

/// The object read back before linking: symbol values are section offsets in `ET_REL`.
#[test]
fn relocatable_object_reads_back() {
    let items = items();
    let tables = elf::write_object(&items, &Target::host_default()).unwrap();
    let file = object::File::parse(&*tables).unwrap();
    for item in &items {
        let bytes = symbol_data(&file, item.symbol).unwrap();
        assert_eq!(&bytes[..item.bytes.len()], item.bytes, "{}", item.symbol);
    }
    assert_eq!(symbol_data(&file, "test_empty_last"), Some(&[][..]));
}

fn best_of_3(cmd: &mut Command) -> Duration {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            run(cmd);
            start.elapsed()
        })
        .min()
        .unwrap()
}

/// Full-size tables (5.4 MB, like the Debian cloud vmlinux): the assembly must still give the
/// object's bytes. Prints how long `gcc -c` and `as` take; run with `--ignored --nocapture`.
#[test]
#[ignore = "slow: assembles a 20 MB file"]
fn full_size_assembly_agrees_and_is_cheap() {
    if !have_gcc() {
        return;
    }
    // LEB128-like: mostly small values, some continuation bytes.
    let data: Vec<u8> = noise(5_200_000, 7)
        .into_iter()
        .map(|b| if b < 180 { b % 32 } else { b })
        .collect();
    let blocks: Vec<u32> = (0..22_300).map(|i| i * 97).collect();
    let names: Vec<u8> = (0..3565)
        .flat_map(|i| format!("drivers/x/file{i}.c\0").into_bytes())
        .collect();
    let offsets: Vec<u32> = (0..3565).map(|i| i * 20).collect();
    let mut items = stub_items();
    items[3].bytes = le(&blocks);
    items[4].bytes = le(&blocks);
    items[5].bytes = data;
    items[6].bytes = le(&offsets);
    items[7].bytes = names;

    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let object = assemble(dir.path(), &items);
    eprintln!("write + first gcc -c: {:?}", start.elapsed());
    let source = dir.path().join("tables.S");
    let size = std::fs::metadata(&source).unwrap().len();
    let gcc = best_of_3(
        Command::new("gcc")
            .arg("-c")
            .arg(&source)
            .arg("-o")
            .arg(&object),
    );
    let out = dir.path().join("tables-as.o");
    let gas = best_of_3(Command::new("as").arg(&source).arg("-o").arg(&out));
    let table_bytes: usize = items.iter().map(|i| i.bytes.len()).sum();
    eprintln!("{table_bytes} table bytes, {size} bytes of assembly: gcc -c {gcc:?}, as {gas:?}");

    let ours = elf::write_object(&items, &Target::host_default()).unwrap();
    assert_eq!(rodata(&ours), rodata(&std::fs::read(&object).unwrap()));
}
