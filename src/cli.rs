//! Command-line arguments: one subcommand per job a kernel build needs.

use camino::Utf8PathBuf;
use clap::builder::{OsStringValueParser, PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use kbuild_lineinfo::Layout;

/// Build-time address→file:line tables for Linux kernels (CONFIG_KALLSYMS_LINEINFO).
///
/// Reads DWARF .debug_line from vmlinux and modules and writes the tables the kernel prints
/// `(file.c:123)` from. Drop-in for scripts/gen_lineinfo and scripts/gen-mod-lineinfo.sh.
#[derive(Debug, Parser)]
#[command(name = "kbuild-lineinfo", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub voice: Voice,
    #[command(subcommand)]
    pub command: Command,
}

/// How much every subcommand prints (with make's `-s` and `V=1`: [`crate::voice::Verbosity::of`]).
#[derive(Debug, Clone, Copy, Args)]
pub struct Voice {
    /// Print nothing but errors and warnings (as make -s).
    #[arg(short, long, global = true)]
    pub silent: bool,
    /// Explain every decision and print statistics (as V=1).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tables for vmlinux: an ELF object (-o X.o) or GNU as source (-o X.S, -o -, no -o).
    Vmlinux(VmlinuxArgs),
    /// Embed .mod_lineinfo in each module, in place (unchanged modules are not rewritten).
    Module(ModuleArgs),
    /// Batch: every module of modules.order (and vmlinux) under make's jobserver, with a cache.
    Modules(ModulesArgs),
    /// Print file:line for addresses, using only the tables embedded in FILE.
    Lookup(LookupArgs),
    /// Append (file:line) to the stack frames of kernel logs, from the embedded tables (or
    /// tables built from a vmlinux's DWARF).
    Annotate(AnnotateArgs),
    /// Classic interface of scripts/gen_lineinfo: assembly on stdout, summary on stderr.
    #[command(name = "gen_lineinfo")]
    GenLineinfo(GenLineinfoArgs),
    /// Classic interface of scripts/gen-mod-lineinfo.sh: embed into one .ko.
    #[command(name = "gen-mod-lineinfo")]
    GenModLineinfo(GenModLineinfoArgs),
    /// Wire the tool into a kernel tree carrying the lineinfo series (or undo it).
    Kbuild(KbuildArgs),
    /// Print the man page or a shell completion script (what scripts/install.sh installs).
    Generate(crate::generate::Args),
}

/// A path argument. Paths are UTF-8 ([`camino`]): Kbuild cannot build in other paths, and a
/// path that is not is one clear error naming the argument, not a surprise later.
fn utf8_path() -> impl TypedValueParser<Value = Utf8PathBuf> {
    OsStringValueParser::new().try_map(|s| {
        Utf8PathBuf::from_path_buf(s.into())
            .map_err(|_| "not valid UTF-8 (paths must be UTF-8, as Kbuild's are)")
    })
}

/// `--layout`: a name from [`Layout::name`], or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutArg {
    Fixed(Layout),
    /// The tree's: [`crate::kbuild::tree::choose_layout`].
    Auto,
}

impl LayoutArg {
    /// The layout given, `None` for `auto`.
    pub fn fixed(self) -> Option<Layout> {
        match self {
            LayoutArg::Fixed(l) => Some(l),
            LayoutArg::Auto => None,
        }
    }
}

/// `--layout`: a name from [`Layout::name`], or `auto`.
fn layout_arg_parser() -> impl TypedValueParser<Value = LayoutArg> {
    let auto = PossibleValue::new("auto").help(
        "The tree's (include/linux/mod_lineinfo.h of --srctree, $srctree or --objtree's \
         source), else v1",
    );
    let names = Layout::ALL.map(|l| PossibleValue::new(l.name()));
    PossibleValuesParser::new(names.into_iter().chain([auto])).try_map(|s| match s.as_str() {
        "auto" => Ok(LayoutArg::Auto),
        name => name.parse::<Layout>().map(LayoutArg::Fixed),
    })
}

/// The table options of the commands that build tables of one object.
#[derive(Debug, Clone, Args)]
pub struct TableArgs {
    /// Table layout: v1 (first posting), v7 (latest posting) or auto (the tree's).
    #[arg(long, value_parser = layout_arg_parser(), default_value = "auto")]
    pub layout: LayoutArg,
    /// Kernel source tree as the compiler saw it; names are printed relative to it.
    /// Default: found from DWARF (vmlinux), else each unit's compilation directory.
    #[arg(long, value_name = "DIR", value_parser = utf8_path())]
    pub srctree: Option<Utf8PathBuf>,
    /// The object tree (O=) whose config and source tree say the layout and where module
    /// sections load (default: the current directory).
    #[arg(long, value_name = "DIR", value_parser = utf8_path())]
    pub objtree: Option<Utf8PathBuf>,
}

/// The options the tables are built with, once the layout is chosen.
#[derive(Debug, Clone)]
pub struct TableOptions {
    pub layout: Layout,
    /// Names are printed relative to it (none: from DWARF).
    pub srctree: Option<Utf8PathBuf>,
}

#[derive(Debug, Args)]
pub struct VmlinuxArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// Output: *.o → ELF object; *.S, - or none → assembly on stdout.
    #[arg(short, long, value_name = "OUT", value_parser = utf8_path())]
    pub output: Option<Utf8PathBuf>,
    /// Threads when make's jobserver is not there (default: the CPUs; 1 under plain make).
    /// Under make, one thread per job slot free when the step starts. Never changes the output.
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run every line program with gimli rather than the fast runner (for tests: same bytes).
    #[arg(long, hide = true)]
    pub gimli_only: bool,
    /// Write the empty stub for the first link instead (all counts 0).
    #[arg(long, conflicts_with = "vmlinux")]
    pub stub: bool,
    /// ELF whose class, byte order and machine the stub object copies (default: x86-64).
    #[arg(long, value_name = "ELF", requires = "stub", value_parser = utf8_path())]
    pub like: Option<Utf8PathBuf>,
    /// The linked image with DWARF (.tmp_vmlinux1 in a kernel build).
    #[arg(required_unless_present = "stub", value_parser = utf8_path())]
    pub vmlinux: Option<Utf8PathBuf>,
}

#[derive(Debug, Args)]
pub struct ModuleArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// Modules (.ko) to update in place.
    #[arg(required = true, value_name = "KO", value_parser = utf8_path())]
    pub modules: Vec<Utf8PathBuf>,
}

#[derive(Debug, Args)]
pub struct ModulesArgs {
    /// The object tree (O=); modules.order paths are relative to it.
    #[arg(long, value_name = "DIR", default_value = ".", value_parser = utf8_path())]
    pub objtree: Utf8PathBuf,
    /// The list of modules (default: OBJTREE/modules.order).
    #[arg(long, value_name = "FILE", value_parser = utf8_path())]
    pub order: Option<Utf8PathBuf>,
    /// Kernel source tree as the compiler saw it (default: from the object tree).
    #[arg(long, value_name = "DIR", value_parser = utf8_path())]
    pub srctree: Option<Utf8PathBuf>,
    /// Table layout: v1 (first posting), v7 (latest posting) or auto (the tree's).
    #[arg(long, value_parser = layout_arg_parser(), default_value = "auto")]
    pub layout: LayoutArg,
    /// Jobs at once when make's jobserver is not there (default: the CPUs; 1 under plain make).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Cache directory (default: $KBUILD_LINEINFO_CACHE, else $XDG_CACHE_HOME/kbuild-lineinfo).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache", value_parser = utf8_path())]
    pub cache_dir: Option<Utf8PathBuf>,
    /// Do not read or write the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Cache size cap in MiB (least recently used entries go first).
    #[arg(long, value_name = "MIB", default_value_t = crate::cache::DEFAULT_SIZE_MIB)]
    pub cache_size: u64,
    /// Memory budget in MiB: jobs whose estimated peaks sum above it do not run side by side
    /// (a job alone always runs).
    #[arg(long, value_name = "MIB", default_value_t = 320)]
    pub memory_budget: u64,
    /// Run even if the tree's config does not enable CONFIG_KALLSYMS_LINEINFO_MODULES.
    #[arg(long)]
    pub force: bool,
    /// Also build the vmlinux tables from this image (needs -o).
    #[arg(long, value_name = "FILE", requires = "output", value_parser = utf8_path())]
    pub vmlinux: Option<Utf8PathBuf>,
    /// Output of the vmlinux tables (*.o or *.S).
    #[arg(short, long, value_name = "OUT", requires = "vmlinux", value_parser = utf8_path())]
    pub output: Option<Utf8PathBuf>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("image").required(true).args(["vmlinux", "module"]))]
pub struct LookupArgs {
    /// The linked vmlinux, or a vmlinuz (x86 bzImage, arm64 Image[.gz]) with its System.map:
    /// ADDR is an address as an oops prints it (0xffffffff81a2b475) or SYMBOL+0xOFF[/0xSIZE].
    /// A table object alone (vmlinux -o T.o): ADDR is an offset from _text.
    #[arg(long, value_name = "IMAGE", value_parser = utf8_path())]
    pub vmlinux: Option<Utf8PathBuf>,
    /// The tables for a vmlinux built without them: the object `kbuild-lineinfo vmlinux -o
    /// T.o VMLINUX` writes (symbols and _text come from --vmlinux).
    #[arg(long, value_name = "T.o", requires = "vmlinux", value_parser = utf8_path())]
    pub table: Option<Utf8PathBuf>,
    /// The System.map of an IMAGE without symbols (a vmlinuz: bzImage, arm64 Image[.gz]);
    /// default: System.map-REL beside vmlinuz-REL, else System.map beside it.
    #[arg(long, value_name = "FILE", requires = "vmlinux", value_parser = utf8_path())]
    pub system_map: Option<Utf8PathBuf>,
    /// A module carrying .mod_lineinfo: ADDR is SYMBOL+0xOFF[/0xSIZE], SECTION+0xOFF (any code
    /// section) or 0xOFF (in .text).
    #[arg(long, value_name = "KO", value_parser = utf8_path())]
    pub module: Option<Utf8PathBuf>,
    /// With --module and layout v1: the kernel tree whose config (CONFIG_MODULE_UNLOAD) says
    /// where the loader puts sections in text memory (default: the current directory's, else
    /// unload on).
    #[arg(long, value_name = "DIR", requires = "module", value_parser = utf8_path())]
    pub objtree: Option<Utf8PathBuf>,
    /// Do not read or write the cache of tables built from DWARF.
    #[arg(long)]
    pub no_cache: bool,
    /// What to look up (none: one per line on standard input). Prints ADDR, the symbol
    /// (name+0xOFF/0xSIZE) and file:line, `??` for what is unknown, and on stderr why (not
    /// under -s).
    #[arg(value_name = "ADDR")]
    pub queries: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AnnotateArgs {
    /// The linked vmlinux (its symbols, and its tables unless --table is given), or a vmlinuz
    /// (x86 bzImage, arm64 Image[.gz]) with its System.map.
    #[arg(long, value_name = "FILE", value_parser = utf8_path())]
    pub vmlinux: Option<Utf8PathBuf>,
    /// The tables for a vmlinux built without them: the object `kbuild-lineinfo vmlinux -o
    /// TABLE.o VMLINUX` writes.
    #[arg(long, value_name = "TABLE.o", requires = "vmlinux", value_parser = utf8_path())]
    pub table: Option<Utf8PathBuf>,
    /// The System.map of a --vmlinux without symbols (a vmlinuz: bzImage, arm64 Image[.gz]);
    /// default: System.map-REL beside vmlinuz-REL, else System.map beside it.
    #[arg(long, value_name = "FILE", requires = "vmlinux", value_parser = utf8_path())]
    pub system_map: Option<Utf8PathBuf>,
    /// Where the modules are: NAME.ko (or .ko.xz, .ko.zst, .ko.gz) is found (recursively) by
    /// the [NAME] of a frame; one without tables gets them built from its DWARF.
    #[arg(long, value_name = "DIR", value_parser = utf8_path())]
    pub modules: Option<Utf8PathBuf>,
    /// Find the files of this installed kernel release (uname -r) as decode_stacktrace.sh -r
    /// does: the first of ROOT/usr/lib/debug/boot/vmlinux-REL, ROOT/lib/modules/REL/build/vmlinux,
    /// ROOT/boot/vmlinux-REL, ROOT/boot/vmlinuz-REL; modules under ROOT/lib/modules/REL and
    /// ROOT/usr/lib/debug/lib/modules/REL (embedded tables first, else DWARF). --vmlinux and
    /// --modules override.
    #[arg(short = 'r', long = "release", value_name = "RELEASE")]
    pub release: Option<String>,
    /// The file system -r looks in: an unpacked package, a mounted image, a container.
    #[arg(long, value_name = "DIR", default_value = "/", requires = "release", value_parser = utf8_path())]
    pub root: Utf8PathBuf,
    /// Do not read or write the cache of tables built from DWARF ($KBUILD_LINEINFO_CACHE, else
    /// $XDG_CACHE_HOME/kbuild-lineinfo, else ~/.cache/kbuild-lineinfo).
    #[arg(long)]
    pub no_cache: bool,
    /// Verify the annotations already there; report each disagreement, exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// Annotate only what the kernel itself annotates: every frame for v1 tables, only
    /// backtrace (%pB) frames for v7 tables, no frame of an image whose tables were built
    /// from its DWARF (the kernel had none).
    #[arg(long)]
    pub like_kernel: bool,
    /// Kernel logs (none or -: standard input).
    #[arg(value_name = "LOG", value_parser = utf8_path())]
    pub logs: Vec<Utf8PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct GenLineinfoArgs {
    /// FILE is a module: print the assembly of its .mod_lineinfo blob.
    #[arg(long)]
    pub module: bool,
    #[command(flatten)]
    pub table: TableArgs,
    #[arg(value_parser = utf8_path())]
    pub file: Utf8PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct GenModLineinfoArgs {
    #[command(flatten)]
    pub table: TableArgs,
    #[arg(value_parser = utf8_path())]
    pub module: Utf8PathBuf,
}

#[derive(Debug, Args)]
pub struct KbuildArgs {
    #[command(subcommand)]
    pub action: KbuildAction,
}

#[derive(Debug, Subcommand)]
pub enum KbuildAction {
    /// Make the tree's build call this tool instead of scripts/gen_lineinfo and
    /// scripts/gen-mod-lineinfo.sh (originals kept in LINUX/.kbuild-lineinfo/).
    Install(KbuildInstallArgs),
    /// Put back the original files byte for byte.
    Uninstall(KbuildUninstallArgs),
}

#[derive(Debug, Args)]
pub struct KbuildInstallArgs {
    /// The kernel source tree (with the CONFIG_KALLSYMS_LINEINFO series).
    #[arg(long, value_name = "LINUX", value_parser = utf8_path())]
    pub srctree: Utf8PathBuf,
    /// The tool the tree will call (default: this executable).
    #[arg(long, value_name = "PATH", value_parser = utf8_path())]
    pub tool: Option<Utf8PathBuf>,
    /// Table layout: v1, v7 or auto (from the tree's include/linux/mod_lineinfo.h).
    #[arg(long, value_parser = layout_arg_parser(), default_value = "auto")]
    pub layout: LayoutArg,
}

#[derive(Debug, Args)]
pub struct KbuildUninstallArgs {
    /// The kernel source tree.
    #[arg(long, value_name = "LINUX", value_parser = utf8_path())]
    pub srctree: Utf8PathBuf,
    /// Restore even files changed since the installation.
    #[arg(long)]
    pub force: bool,
}
