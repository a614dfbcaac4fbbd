//! Layout v1 when `.text` does not start the module's text memory (docs/format.md §4.2, §6).
//!
//! The v1 kernel looks up `address - mod->mem[MOD_TEXT].base`, and the 6.12 loader fills
//! `MOD_TEXT` with every executable, non-init section in section-header order, each at
//! `ALIGN(size so far, sh_addralign)` (`layout_sections()`, `module_get_offset_and_type()` in
//! kernel/module/main.c). The fixture module puts `.sched.text` (odd size) and `.text.unlikely`
//! before a 64-byte-aligned `.text`, with `.exit.text` after it. The oracle is `ld`: a full link
//! that lays those input sections out one after the other in ONE output section at 0x100000,
//! aligning each as `ld` does, so that an address minus 0x100000 is its text-memory offset by
//! `ld`'s arithmetic, not ours; `llvm-symbolizer --no-inlines` answers each address, and the
//! decoded v1 blob (the test's own decoder) must give the same line with the kernel's
//! symbol-start guard.
//!
//! A module whose loader-sized section comes first (AArch64 `.plt`) gets one warning naming the
//! section and layout v7, and no table that would print wrong lines.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::blob::{decode_v1_module, Entry, Table};
use common::realdata::same_file;
use common::tools::run;
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

const M_C: &str = r#"
int helper(int x);
__attribute__((section(".sched.text"))) int sched_a(int x)
{
	return helper(x) - 3;
}
extern void __attribute__((cold)) warn_slowpath(int i);
int checked(int *p, int n)
{
	int s = 0;
	for (int i = 0; i < n; i++) {
		if (__builtin_expect(p[i] < 0, 0)) {
			warn_slowpath(i);
			s -= helper(p[i]) * 7;
			continue;
		}
		s += p[i] * 3;
	}
	return s;
}
__attribute__((aligned(64))) int foo(int x)
{
	return helper(x) * 2 + 1;
}
int helper(int x)
{
	if (x > 3)
		return x * x + 5;
	return 7;
}
__attribute__((section(".init.text"))) int init_a(int y)
{
	return helper(y) + 11;
}
__attribute__((section(".exit.text"))) void exit_a(int *p)
{
	*p = helper(*p) + 2;
}
"#;

/// Text memory in this order (`.init.text`, init memory, follows in the section headers).
const TEXT_MEMORY: [&str; 4] = [".sched.text", ".text.unlikely", ".text", ".exit.text"];

fn section_header_order(ko: &Path) -> Vec<String> {
    let data = std::fs::read(ko).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.sections()
        .filter(|s| {
            matches!(s.flags(), object::SectionFlags::Elf { sh_flags, .. } if sh_flags.0 & 6 == 6)
                && s.size() > 0
        })
        .map(|s| s.name().unwrap().to_string())
        .collect()
}

#[test]
fn v1_table_sits_where_the_loader_puts_text() {
    let mut headers = TEXT_MEMORY.to_vec();
    headers.push(".init.text");
    check(&headers, &TEXT_MEMORY, None);
}

/// With `CONFIG_MODULE_UNLOAD` off (the tree's `.config`), `.exit.text` is init memory: the
/// sections after it move up in text memory.
#[test]
fn v1_without_module_unload_leaves_exit_text_out() {
    let headers = [
        ".sched.text",
        ".exit.text",
        ".text.unlikely",
        ".text",
        ".init.text",
    ];
    let text_memory = [".sched.text", ".text.unlikely", ".text"];
    check(
        &headers,
        &text_memory,
        Some("# CONFIG_MODULE_UNLOAD is not set\n"),
    );
}

/// Builds the fixture with its code sections in `headers` order, embeds v1 (through the batch
/// and the tree's `.config` when `config` is given), and checks every address of `text_memory`
/// as `ld` lays it out.
fn check(headers: &[&str], text_memory: &[&str], config: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("m.c"), M_C).unwrap();
    run(Command::new("cc")
        .current_dir(d)
        .args(["-c", "-g", "-O2", "-fno-pic", "m.c", "-o", "m.o"]));
    // `ld -r` with a script: the output sections come in the script's order.
    let order: String = headers
        .iter()
        .map(|n| format!("  {n} : {{ *({n}) }}\n"))
        .collect();
    std::fs::write(d.join("order.lds"), format!("SECTIONS {{\n{order}}}\n")).unwrap();
    run(Command::new("ld")
        .current_dir(d)
        .args(["-r", "-T", "order.lds", "m.o", "-o", "m.ko"]));
    let ko = d.join("m.ko");
    assert_eq!(section_header_order(&ko), headers, "fixture section order");

    // The oracle link: text memory as one output section at 0x100000, the rest far away.
    let inputs: String = text_memory.iter().map(|n| format!("*({n}) ")).collect();
    let others: String = headers
        .iter()
        .filter(|n| !text_memory.contains(n))
        .enumerate()
        .map(|(i, n)| format!("  {n} {:#x} : {{ *({n}) }}\n", 0x800000 + 0x100000 * i))
        .collect();
    std::fs::write(
        d.join("oracle.lds"),
        format!("SECTIONS {{\n  .textmem 0x100000 : {{ {inputs} }}\n{others}}}\n"),
    )
    .unwrap();
    run(Command::new("ld").current_dir(d).args([
        "--unresolved-symbols=ignore-all",
        "-e",
        "0",
        "-T",
        "oracle.lds",
        "m.ko",
        "-o",
        "m.linked",
    ]));
    let linked = std::fs::read(d.join("m.linked")).unwrap();
    let linked = object::File::parse(&*linked).unwrap();
    let textmem = linked.section_by_name(".textmem").unwrap();
    let (base, size) = (textmem.address(), textmem.size());
    // `.text` does not start text memory, and is 64-aligned in it.
    let aligned = linked.symbols().find(|s| s.name() == Ok("foo")).unwrap();
    assert!(aligned.address() > base && (aligned.address() - base) % 64 == 0);
    // kallsyms' symbols (named, not `.L…`/`L0…`/`$…`), as text-memory offsets.
    let mut starts: Vec<u64> = linked
        .symbols()
        .filter(|s| matches!(s.kind(), SymbolKind::Text | SymbolKind::Unknown))
        .filter(|s| s.section_index() == Some(textmem.index()))
        .filter(|s| {
            !s.name().is_ok_and(|n| {
                n.is_empty() || n.starts_with(".L") || n.starts_with("L0") || n.starts_with('$')
            })
        })
        .map(|s| s.address() - base)
        .collect();
    starts.sort_unstable();
    starts.dedup();

    std::fs::copy(&ko, d.join("plain.ko")).unwrap();
    let out = match config {
        Some(config) => {
            std::fs::write(d.join(".config"), config).unwrap();
            std::fs::write(d.join("modules.order"), "m.ko\n").unwrap();
            run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
                .args(["modules", "--layout", "v1", "--no-cache", "--objtree"])
                .arg(d))
        }
        None => run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
            .args(["module", "--layout", "v1"])
            .arg(&ko)),
    };
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&ko).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let blob = file.section_by_name(".mod_lineinfo").unwrap();
    let table = decode_v1_module(blob.data().unwrap()).unwrap();

    let placed: Vec<(&str, u64)> = text_memory
        .iter()
        .map(|n| (*n, section_offset(&linked, &ko, n, base)))
        .collect();
    eprintln!("text memory by ld: {placed:x?}");
    let addresses: Vec<u64> = (base..base + size).collect();
    let oracle = common::symbolizer::symbolize(&d.join("m.linked"), &addresses);
    let (mut compared, mut agreed) = (0, 0);
    let mut per_section = std::collections::HashMap::new();
    let mut shown = Vec::new();
    for (address, want) in addresses.iter().zip(&oracle) {
        let offset = address - base;
        let Some(start) = starts.iter().rev().find(|&&s| s <= offset) else {
            continue;
        };
        let Some(want) = want else { continue };
        compared += 1;
        let got = kernel_v1_lookup(&table, offset, *start);
        let section = placed
            .iter()
            .rev()
            .find(|(_, at)| offset >= *at)
            .map(|(n, _)| *n)
            .unwrap();
        *per_section.entry(section).or_insert(0u64) += 1;
        match got {
            Some(e)
                if same_file(&want.file, &table.names[e.file as usize]) && e.line == want.line =>
            {
                agreed += 1
            }
            other => {
                if shown.len() < 10 {
                    shown.push(format!(
                        "{section}: text memory +{offset:#x}: llvm-symbolizer {}:{}, ours {:?}",
                        want.file,
                        want.line,
                        other.map(|e| (&table.names[e.file as usize], e.line))
                    ));
                }
            }
        }
    }
    eprintln!("{compared} compared ({per_section:?}), {agreed} agree; {shown:#?}");
    for name in text_memory {
        assert!(
            per_section.get(name).copied().unwrap_or(0) > 4,
            "{name} barely compared"
        );
    }
    assert_eq!(agreed, compared, "every text-memory address agrees");

    // One loader rule for every command: `module` and `gen-mod-lineinfo` run in the tree
    // without --objtree read the same config as `modules --objtree` and write the same bytes.
    if config.is_some() {
        for command in ["module", "gen-mod-lineinfo"] {
            let copy = d.join(format!("{command}.ko"));
            std::fs::copy(d.join("plain.ko"), &copy).unwrap();
            run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
                .current_dir(d)
                .args([command, "--layout", "v1"])
                .arg(&copy));
            assert!(
                std::fs::read(&copy).unwrap() == data,
                "{command} in the tree: other bytes than `modules --objtree`"
            );
        }
    }

    // `lookup --module` maps SECTION+OFF into text memory the same way.
    // Every third address inside a section (not the alignment padding between them).
    let ko_data = std::fs::read(&ko).unwrap();
    let ko_file = object::File::parse(&*ko_data).unwrap();
    let (offsets, queries): (Vec<u64>, Vec<String>) = (0..size)
        .step_by(3)
        .filter_map(|offset| {
            let (name, at) = placed.iter().rev().find(|(_, at)| offset >= *at).unwrap();
            let section_size = ko_file.section_by_name(name).unwrap().size();
            (offset - at < section_size).then(|| (offset, format!("{name}+{:#x}", offset - at)))
        })
        .unzip();
    let input: String = queries.iter().map(|q| format!("{q}\n")).collect();
    let mut lookup = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"));
    lookup
        .args(["lookup", "--module"])
        .arg(&ko)
        .arg("--objtree")
        .arg(d);
    let answers = common::realdata::parse_lookup(&common::realdata::pipe(&mut lookup, &input));
    // Run in the tree, without --objtree, `lookup` reads the same config (the one rule).
    let mut in_tree = Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"));
    in_tree.current_dir(d).args(["lookup", "--module"]).arg(&ko);
    assert_eq!(
        common::realdata::parse_lookup(&common::realdata::pipe(&mut in_tree, &input)),
        answers,
        "lookup in the tree without --objtree"
    );
    let mut checked = 0;
    for ((&offset, answer), query) in offsets.iter().zip(&answers).zip(&queries) {
        let want = &oracle[offset as usize];
        let Some(start) = starts.iter().rev().find(|&&s| s <= offset) else {
            continue;
        };
        let ours = kernel_v1_lookup(&table, offset, *start)
            .map(|e| (table.names[e.file as usize].clone(), e.line));
        assert_eq!(answer, &ours, "{query}");
        if want.is_some() {
            checked += 1;
        }
    }
    assert!(checked > 50, "lookup barely checked");
}

/// The v1 kernel's answer at text-memory `offset` inside the symbol that starts at
/// `symbol_start`: the last entry at or below the offset, not below the symbol.
fn kernel_v1_lookup(table: &Table, offset: u64, symbol_start: u64) -> Option<Entry> {
    let i = table
        .entries
        .partition_point(|e| u64::from(e.offset) <= offset);
    i.checked_sub(1)
        .map(|i| table.entries[i])
        .filter(|e| u64::from(e.offset) >= symbol_start)
        // A hole (file id = number of names, format §1 rule 7): the kernel answers nothing.
        .filter(|e| (e.file as usize) < table.names.len())
}

/// Where `ld` put input section `name` of `ko` inside the output section at `base`: the
/// address of the first symbol of that section in the link (the fixture defines a function at
/// the start of each).
fn section_offset(linked: &object::File, ko: &Path, name: &str, base: u64) -> u64 {
    let data = std::fs::read(ko).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let index = file.section_by_name(name).unwrap().index();
    let first = file
        .symbols()
        .filter(|s| s.section_index() == Some(index) && s.kind() == SymbolKind::Text)
        .min_by_key(|s| s.address())
        .unwrap();
    let in_link = linked.symbols().find(|s| s.name() == first.name()).unwrap();
    in_link.address() - first.address() - base
}

/// AArch64: the loader sizes `.plt` at load time; a module where it precedes `.text` gets one
/// warning that names it and layout v7, and no v1 table (it would be off by the `.plt` size).
/// Layout v7 covers the module.
#[test]
fn loader_sized_plt_first_is_warned_and_left_out() {
    let Ok(status) = Command::new("aarch64-linux-gnu-as")
        .arg("--version")
        .output()
    else {
        panic!("needs aarch64-linux-gnu-as: apt-get install binutils-aarch64-linux-gnu");
    };
    assert!(status.status.success());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // What scripts/module.lds gives an arm64 module: one-byte `.plt` sections before `.text`.
    std::fs::write(
        d.join("m.s"),
        ".section .plt,\"ax\",@progbits\n.byte 0\n\
         .section .text.ftrace_trampoline,\"ax\",@progbits\n.byte 0\n\
         .text\n.globl f\n.type f, %function\nf:\n\tnop\n\tnop\n\tret\n\
         .globl g\n.type g, %function\ng:\n\tmov x0, #1\n\tret\n",
    )
    .unwrap();
    run(Command::new("aarch64-linux-gnu-as")
        .current_dir(d)
        .args(["-g", "m.s", "-o", "m.o"]));
    std::fs::write(
        d.join("module.lds"),
        "SECTIONS {\n .plt 0 : { *(.plt) }\n .text.ftrace_trampoline 0 : { \
         *(.text.ftrace_trampoline) }\n .text 0 : { *(.text) }\n}\n",
    )
    .unwrap();
    run(Command::new("aarch64-linux-gnu-ld").current_dir(d).args([
        "-r",
        "-T",
        "module.lds",
        "m.o",
        "-o",
        "m.ko",
    ]));
    let ko = d.join("m.ko");
    assert_eq!(
        section_header_order(&ko)[..3],
        [".plt", ".text.ftrace_trampoline", ".text"]
    );
    let before = std::fs::read(&ko).unwrap();
    let out = run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args(["module", "--layout", "v1"])
        .arg(&ko));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("`.plt`")
            && warnings[0].contains("`.text`")
            && warnings[0].contains("v7"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&ko).unwrap(),
        before,
        "no v1 table: module untouched"
    );
    // v7 covers it, at `.text+0` (f) and `.text+8` (g) as the assembler's lines say.
    run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args(["module", "--layout", "v7"])
        .arg(&ko));
    let out = run(Command::new(env!("CARGO_BIN_EXE_kbuild-lineinfo"))
        .args(["lookup", "--module"])
        .arg(&ko)
        .args([".text+0x0", ".text+0xc"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(".text+0x0 ") && text.contains("m.s:9"),
        "{text}"
    );
    assert!(
        text.contains(".text+0xc ") && text.contains("m.s:15"),
        "{text}"
    );
}
