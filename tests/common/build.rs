//! Building test inputs at test time: a temporary workspace holding a copy of
//! `tests/fixtures` as a small kernel-like source tree (`src/`), objects
//! compiled from it in one of several styles (in-tree, O= out-of-tree with
//! `../src` paths, `-fdebug-prefix-map`), DWARF 4/5/64, compressed or not;
//! then a two-pass "mini vmlinux" link like `scripts/link-vmlinux.sh`, a
//! module-like `.ko` made with `ld -r`, and the oracle link of a `.ko`. The compiler (gcc, clang
//! or the system's `cc`), `-gsplit-dwarf` and the linker (GNU ld or ld.lld) are the variant's
//! [`Toolchain`]; the oracle link of a `.ko` is always GNU ld's.

use super::tools::{compiler, compiler_accepts, run};
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// Compilation units of the mini vmlinux.
pub const VMLINUX_UNITS: [&str; 4] = [
    "drivers/foo/a.c",
    "drivers/foo/b.c",
    "kernel/c.c",
    "lib/d.c",
];
/// Compilation units merged into the module-like `.ko`.
pub const MODULE_UNITS: [&str; 3] = ["drivers/foo/a.c", "drivers/foo/b.c", "lib/d.c"];
/// Where `-fdebug-prefix-map` maps the source tree in the `PrefixMapped` style.
pub const PREFIX_MAP_TARGET: &str = "/usr/src/linux-fixture";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DwarfVersion {
    V4,
    V5,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compress {
    None,
    /// `-gz=zlib` objects and a zlib-compressed link (`--compress-debug-sections=zlib`).
    Zlib,
    /// zstd-compressed debug sections, written by `objcopy` (gcc 12 has no `-gz=zstd`).
    Zstd,
    /// Legacy GNU compression: `.zdebug_*` sections (`objcopy --compress-debug-sections=zlib-gnu`).
    ZlibGnu,
}

/// The C compiler of a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    /// What `cc` picks for the host (honours `$CC`).
    System,
    Gcc,
    Clang,
}

/// The linker of a variant (vmlinux links and `ld -r` of modules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linker {
    /// GNU ld (binutils).
    Bfd,
    /// `ld.lld`, as `make LLVM=1` uses.
    Lld,
}

/// Compiler, linker and `-gsplit-dwarf` (`CONFIG_DEBUG_INFO_SPLIT`) of a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Toolchain {
    pub cc: Cc,
    pub linker: Linker,
    pub split: bool,
}

impl Toolchain {
    /// The system `cc` with GNU ld, no split DWARF: what the suites used before the matrix.
    pub const SYSTEM: Toolchain = Toolchain {
        cc: Cc::System,
        linker: Linker::Bfd,
        split: false,
    };

    /// The compiler's command.
    pub fn compiler(&self) -> PathBuf {
        match self.cc {
            Cc::System => compiler(),
            Cc::Gcc => need("gcc"),
            Cc::Clang => need("clang"),
        }
    }

    /// The linker's command.
    pub fn linker(&self) -> PathBuf {
        match self.linker {
            Linker::Bfd => need("ld"),
            Linker::Lld => need("ld.lld"),
        }
    }

    /// A short name for messages: `clang-split-lld`.
    pub fn tag(&self) -> String {
        let cc = match self.cc {
            Cc::System => "cc",
            Cc::Gcc => "gcc",
            Cc::Clang => "clang",
        };
        let ld = match self.linker {
            Linker::Bfd => "ld",
            Linker::Lld => "lld",
        };
        let split = if self.split { "-split" } else { "" };
        format!("{cc}{split}-{ld}")
    }
}

/// `tool`, which the matrix tests need: a missing one is a failure naming how to get it (the
/// tests that need clang or ld.lld are `#[ignore]`d when the build found neither, see build.rs).
fn need(tool: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|f| f.is_file())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!(
            "{tool} is not installed: scripts/deps.sh installs it (apt-get install clang lld llvm)"
        )
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildStyle {
    /// `cd src && cc -c drivers/foo/a.c`: names relative to comp_dir = srctree.
    InTree,
    /// `cd build && cc -c ../src/drivers/foo/a.c` (an O= build); needs `--srctree`.
    OutOfTree,
    /// Absolute source paths, `-fdebug-prefix-map=<src>=/usr/src/linux-fixture`.
    PrefixMapped,
}

/// One way of building the fixtures and running the tool on them.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    pub name: &'static str,
    pub dwarf: DwarfVersion,
    /// `-gdwarf64` (64-bit DWARF format for the units gcc writes itself).
    pub dwarf64: bool,
    pub compress: Compress,
    pub style: BuildStyle,
    /// Pass `--srctree` to the tool (required for `OutOfTree`).
    pub pass_srctree: bool,
    /// `--layout` value, `None` for the default (v1).
    pub layout: Option<&'static str>,
    pub toolchain: Toolchain,
}

impl Variant {
    /// The plain build: DWARF 5 in the tree, uncompressed, the system toolchain, layout v1;
    /// tests change what they vary with `Variant { field, ..Variant::new(name) }`.
    pub fn new(name: &'static str) -> Variant {
        Variant {
            name,
            dwarf: DwarfVersion::V5,
            dwarf64: false,
            compress: Compress::None,
            style: BuildStyle::InTree,
            pass_srctree: false,
            layout: None,
            toolchain: Toolchain::SYSTEM,
        }
    }

    /// The objects of a fixture matrix, compiled once by `cc` with DWARF `dwarf`, split or not;
    /// [`matrix_cells`] links them in each cell.
    pub fn matrix_objects(cc: Cc, dwarf: DwarfVersion, split: bool) -> Variant {
        Variant {
            dwarf,
            toolchain: Toolchain {
                cc,
                split,
                linker: Linker::Bfd,
            },
            ..Variant::new("matrix objects")
        }
    }
}

/// A temporary directory with `src/` (the fixture tree), `build/` and `obj/`.
#[derive(Debug)]
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new()
            .prefix("lineinfo-oracle-")
            .tempdir()
            .expect("create temp dir");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        copy_tree(&fixtures, &dir.path().join("src"));
        for d in ["build", "obj"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("create dir");
        }
        Workspace { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn src(&self) -> PathBuf {
        self.root().join("src")
    }

    /// A path for a generated file at the workspace root.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    /// Why `v` cannot be built with the tools here, or `None`.
    pub fn unsupported(&self, v: &Variant) -> Option<String> {
        if v.dwarf64 && !compiler_accepts(&v.toolchain.compiler(), "-gdwarf64", self.root()) {
            return Some("the C compiler does not accept -gdwarf64".into());
        }
        if v.compress == Compress::Zstd
            && !objcopy_compresses(&v.toolchain.compiler(), "zstd", self.root())
        {
            return Some("objcopy cannot write zstd-compressed debug sections".into());
        }
        None
    }

    /// The `--srctree` argument the tool gets for `v`.
    pub fn srctree_arg(&self, v: &Variant) -> Option<String> {
        v.pass_srctree.then(|| self.tree_root(v))
    }

    /// The directory the tool's names must be relative to under `v`: where
    /// the fixture tree appears in the DWARF.
    pub fn tree_root(&self, v: &Variant) -> String {
        match v.style {
            BuildStyle::PrefixMapped => PREFIX_MAP_TARGET.to_string(),
            _ => self.src().display().to_string(),
        }
    }

    /// Compiles one fixture unit (`drivers/foo/a.c`) to `obj/<unit>.o`.
    pub fn compile(&self, v: &Variant, unit: &str) -> PathBuf {
        let src = self.src();
        let out = self.path("obj").join(unit).with_extension("o");
        std::fs::create_dir_all(out.parent().expect("parent")).expect("create obj dir");
        let (cwd, file, include, gen) = match v.style {
            BuildStyle::InTree => (
                src.clone(),
                unit.to_string(),
                "include".to_string(),
                "kernel/generated.c".to_string(),
            ),
            BuildStyle::OutOfTree => (
                self.path("build"),
                format!("../src/{unit}"),
                "../src/include".to_string(),
                "../src/kernel/generated.c".to_string(),
            ),
            BuildStyle::PrefixMapped => (
                src.clone(),
                src.join(unit).display().to_string(),
                src.join("include").display().to_string(),
                src.join("kernel/generated.c").display().to_string(),
            ),
        };
        let mut cmd = Command::new(v.toolchain.compiler());
        cmd.current_dir(&cwd)
            .args(c_flags(v))
            .arg(format!("-I{include}"));
        cmd.arg(format!("-DFIXTURE_GEN_FILE=\"{gen}\""));
        if v.style == BuildStyle::PrefixMapped {
            cmd.arg(format!(
                "-fdebug-prefix-map={}={PREFIX_MAP_TARGET}",
                src.display()
            ));
        }
        run(cmd.args(["-c", &file, "-o"]).arg(&out));
        out
    }

    pub fn compile_all(&self, v: &Variant, units: &[&str]) -> Vec<PathBuf> {
        units.iter().map(|u| self.compile(v, u)).collect()
    }

    /// Links `objs` + `extra` (the lineinfo stub or tables) with
    /// `mini-vmlinux.ld` into `name`; the debug sections of the result are
    /// compressed as `v` says.
    pub fn link_vmlinux(
        &self,
        v: &Variant,
        objs: &[PathBuf],
        extra: &[&Path],
        name: &str,
    ) -> PathBuf {
        let out = self.path(name);
        let mut cmd = Command::new(v.toolchain.linker());
        cmd.args(["-z", "noexecstack", "-T"])
            .arg(self.src().join("mini-vmlinux.ld"))
            .arg("-o")
            .arg(&out)
            .args(objs)
            .args(extra);
        if v.compress == Compress::Zlib {
            cmd.arg("--compress-debug-sections=zlib");
        }
        run(&mut cmd);
        match v.compress {
            Compress::Zstd => compress_in_place(&out, "zstd"),
            Compress::ZlibGnu => compress_in_place(&out, "zlib-gnu"),
            _ => {}
        }
        out
    }

    /// `ld -r` of `objs` into a module-like `name` (compressed as `v` says).
    pub fn link_module(&self, v: &Variant, objs: &[PathBuf], name: &str) -> PathBuf {
        let out = self.path(name);
        run(Command::new(v.toolchain.linker())
            .args(["-r", "-o"])
            .arg(&out)
            .args(objs));
        match v.compress {
            Compress::None => {}
            Compress::Zlib => compress_in_place(&out, "zlib"),
            Compress::Zstd => compress_in_place(&out, "zstd"),
            Compress::ZlibGnu => compress_in_place(&out, "zlib-gnu"),
        }
        out
    }

    /// The oracle link of a `.ko`: `.text` at 0x100000, `.init.text` at
    /// 0x200000, `.exit.text` at 0x300000 (see `module.ld`).
    pub fn link_module_oracle(&self, ko: &Path, name: &str) -> PathBuf {
        let out = self.path(name);
        run(Command::new("ld")
            .args([
                "--unresolved-symbols=ignore-all",
                "-z",
                "noexecstack",
                "-e",
                "0",
                "-T",
            ])
            .arg(self.src().join("module.ld"))
            .arg("-o")
            .arg(&out)
            .arg(ko));
        out
    }

    /// A copy of `file` with every debug section decompressed (by binutils),
    /// for oracles that cannot read zstd (LLVM 14).
    pub fn decompressed(&self, file: &Path, name: &str) -> PathBuf {
        let out = self.path(name);
        run(Command::new("objcopy")
            .arg("--decompress-debug-sections")
            .arg(file)
            .arg(&out));
        out
    }

    /// Assembles a `.S` with the system C compiler, as the kernel does.
    pub fn assemble(&self, s: &Path, name: &str) -> PathBuf {
        self.assemble_with(&Toolchain::SYSTEM, s, name)
    }

    /// Assembles a `.S` with `tc`'s compiler (clang's integrated assembler for `LLVM=1`).
    pub fn assemble_with(&self, tc: &Toolchain, s: &Path, name: &str) -> PathBuf {
        let out = self.path(name);
        run(Command::new(tc.compiler())
            .arg("-c")
            .arg(s)
            .arg("-o")
            .arg(&out));
        out
    }
}

/// Flags common to every fixture compile under `v`: optimised, freestanding,
/// non-PIC code like the kernel's, with the requested DWARF.
fn c_flags(v: &Variant) -> Vec<String> {
    let mut f: Vec<String> = [
        "-O2",
        "-g",
        "-Wall",
        "-fno-pie",
        "-fno-stack-protector",
        "-ffreestanding",
    ]
    .map(String::from)
    .to_vec();
    f.push("-fno-asynchronous-unwind-tables".into());
    if cfg!(target_arch = "x86_64") {
        f.push("-fcf-protection=none".into());
    }
    f.push(match v.dwarf {
        DwarfVersion::V4 => "-gdwarf-4".into(),
        DwarfVersion::V5 => "-gdwarf-5".into(),
    });
    if v.dwarf64 {
        f.push("-gdwarf64".into());
    }
    if v.toolchain.split {
        f.push("-gsplit-dwarf".into());
    }
    if v.compress == Compress::Zlib {
        f.push("-gz=zlib".into());
    }
    f
}

fn compress_in_place(file: &Path, kind: &str) {
    run(Command::new("objcopy")
        .arg(format!("--compress-debug-sections={kind}"))
        .arg(file));
}

/// Asserts that `section` of `file` is compressed as `v` asked (legacy GNU compression also
/// renames the sections `.zdebug_*`).
pub fn assert_compressed_as_asked(v: &Variant, file: &Path, section: &str) {
    let want = match v.compress {
        Compress::None => None,
        Compress::Zlib => Some(object::CompressionFormat::Zlib),
        Compress::Zstd => Some(object::CompressionFormat::Zstandard),
        Compress::ZlibGnu => {
            let names = super::elf::section_names(file);
            assert!(
                names.iter().any(|n| n.starts_with(".zdebug_")),
                "{}: no .zdebug_* sections in {}",
                v.name,
                file.display()
            );
            Some(object::CompressionFormat::Zlib)
        }
    };
    let got = super::elf::debug_compression(file, section);
    assert_eq!(
        got,
        want,
        "{}: {section} compression of {}",
        v.name,
        file.display()
    );
}

/// True when `objcopy --compress-debug-sections=<kind>` really compresses.
pub fn objcopy_compresses(cc: &Path, kind: &str, scratch: &Path) -> bool {
    let src = scratch.join("probe_zstd.c");
    // Enough DWARF that compressing it pays: objcopy leaves a section that would not shrink.
    let probe: String = (0..32)
        .map(|i| {
            format!("int probe_function_number_{i}(int argument) {{ return argument * {i}; }}\n")
        })
        .collect();
    std::fs::write(&src, probe).expect("write probe");
    let obj = scratch.join("probe_zstd.o");
    let ok = Command::new(cc)
        .args(["-g", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("objcopy")
            .arg(format!("--compress-debug-sections={kind}"))
            .arg(&obj)
            .status()
            .is_ok_and(|s| s.success());
    ok && super::elf::debug_compression(&obj, ".debug_info").is_some()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixtures") {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy fixture");
        }
    }
}

/// The six link cells of a fixture matrix over objects compiled once with `objects`: GNU ld and
/// `ld.lld` × none/zlib/zstd, the layout alternating so that each linker sees v1 and v7. Each
/// variant is named `PREFIX{toolchain}-dwarf{4,5}-{compression}-{layout}`; a cell the machine
/// cannot build panics (the tools are installed by `scripts/deps.sh`).
pub fn matrix_cells(ws: &Workspace, objects: &Variant, prefix: &str) -> Vec<Variant> {
    let mut cells = Vec::new();
    for (i, linker) in [Linker::Bfd, Linker::Lld].into_iter().enumerate() {
        for (j, compress) in [Compress::None, Compress::Zlib, Compress::Zstd]
            .into_iter()
            .enumerate()
        {
            let toolchain = Toolchain {
                linker,
                ..objects.toolchain
            };
            let layout = ((i + j) % 2 == 1).then_some("v7");
            let name = format!(
                "{prefix}{}-dwarf{}-{compress:?}-{}",
                toolchain.tag(),
                if objects.dwarf == DwarfVersion::V4 {
                    4
                } else {
                    5
                },
                layout.unwrap_or("v1")
            );
            let v = Variant {
                name: Box::leak(name.into_boxed_str()),
                compress,
                layout,
                toolchain,
                ..*objects
            };
            if let Some(why) = ws.unsupported(&v) {
                panic!("{}: {why}", v.name);
            }
            cells.push(v);
        }
    }
    cells
}
