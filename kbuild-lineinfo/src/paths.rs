//! DWARF file entries → names that read like the kernel tree (docs/format.md §2).
//!
//! Pure byte-string work: a name is joined from its DWARF parts, folded lexically (never through
//! the file system) and made relative to the source tree, or else to the compilation directory.
//! Names stay bytes: DWARF does not promise UTF-8, and the kernel prints bytes.

/// Joins DWARF's parts into one path: `name` if absolute, else `dir/name` if `dir` is absolute,
/// else `comp_dir/dir/name`. Empty parts are skipped.
pub fn join(comp_dir: &[u8], dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(comp_dir.len() + dir.len() + name.len() + 2);
    if !is_absolute(name) {
        if !is_absolute(dir) {
            push_component(&mut out, comp_dir);
        }
        push_component(&mut out, dir);
    }
    push_component(&mut out, name);
    out
}

fn push_component(out: &mut Vec<u8>, part: &[u8]) {
    if part.is_empty() {
        return;
    }
    if is_absolute(part) {
        out.clear();
    } else if !out.is_empty() && !out.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(part);
}

fn is_absolute(path: &[u8]) -> bool {
    path.first() == Some(&b'/')
}

/// Folds `.` components, empty components and `dir/..` pairs, lexically.
///
/// A leading `/` is kept; `..` that climbs above the start of a relative path is kept (it names
/// something outside), and `..` above `/` is dropped, as the kernel's own `realpath` would.
pub fn normalize(path: &[u8]) -> Vec<u8> {
    let absolute = is_absolute(path);
    let mut parts: Vec<&[u8]> = Vec::with_capacity(path.iter().filter(|&&b| b == b'/').count() + 1);
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => match parts.last() {
                Some(&last) if last != b".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(part),
            },
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if absolute {
        out.push(b'/');
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(part);
    }
    out
}

/// `path` relative to `root` when `path` lies below it (both already normalised), else `None`.
pub fn strip_root<'a>(path: &'a [u8], root: &[u8]) -> Option<&'a [u8]> {
    let root = root.strip_suffix(b"/").unwrap_or(root);
    if root.is_empty() {
        return (!is_absolute(path)).then_some(path);
    }
    let rest = path.strip_prefix(root)?;
    let rest = rest.strip_prefix(b"/")?;
    (!rest.is_empty()).then_some(rest)
}

/// Turns DWARF file parts into the name the kernel prints.
///
/// With a source tree, names below it are made relative to it; otherwise (or when a name is not
/// below it) names below `comp_dir` are made relative to `comp_dir`. Anything else keeps its full,
/// normalised path: two different `foo.c` must stay two names.
#[derive(Debug, Clone, Default)]
pub struct Namer {
    srctree: Option<Vec<u8>>,
}

impl Namer {
    /// `srctree` is the kernel source tree as the compiler saw it (absolute, or relative to the
    /// compilation directory as DWARF records it).
    pub fn new(srctree: Option<&[u8]>) -> Self {
        Namer {
            srctree: srctree.map(normalize),
        }
    }

    /// What [`Namer::name_in`] needs of a compilation directory, made once for all its names.
    pub fn comp_dir(&self, comp_dir: &[u8]) -> CompDir {
        let comp_dir = normalize(comp_dir);
        // A relative srctree is relative to the compilation directory.
        let root = self
            .srctree
            .as_ref()
            .map(|srctree| normalize(&join(&comp_dir, srctree, b"")));
        CompDir { comp_dir, root }
    }

    /// The printed name of `dir` + `name` in a compilation directory prepared by
    /// [`Namer::comp_dir`].
    pub fn name_in(&self, comp: &CompDir, dir: &[u8], name: &[u8]) -> Vec<u8> {
        let full = normalize(&join(&comp.comp_dir, dir, name));
        if let Some(rest) = comp.root.as_ref().and_then(|root| strip_root(&full, root)) {
            return rest.to_vec();
        }
        match strip_root(&full, &comp.comp_dir).or_else(|| strip_rustc_sysroot(&full)) {
            Some(rest) => rest.to_vec(),
            None => full,
        }
    }
}

/// `path` relative to rustc's remapped source root, `/rustc/<commit hash>/`, when it lies below
/// it (already normalised), else `None`.
///
/// rustc names the standard library's sources `/rustc/<hash>/library/core/src/…` in the DWARF of
/// every crate that inlines `core`, `alloc` or `compiler_builtins` code (and of the precompiled
/// libraries themselves, whose compilation directory that root is): a directory nobody has,
/// 48 bytes of hash in every printed line. Below it names print as below a compilation
/// directory, `library/core/src/…` (docs/format.md §2).
fn strip_rustc_sysroot(path: &[u8]) -> Option<&[u8]> {
    let rest = path.strip_prefix(b"/rustc/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (hash, below) = rest.split_at(slash);
    let below = &below[1..];
    let is_hash = hash.len() >= 7 && hash.iter().all(u8::is_ascii_hexdigit);
    (is_hash && !below.is_empty()).then_some(below)
}

/// A compilation directory, normalised, and the source tree as seen from it (if one is set).
#[derive(Debug, Clone)]
pub struct CompDir {
    comp_dir: Vec<u8>,
    root: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    /// The printed name, the way the product asks for it: the compilation directory
    /// prepared once ([`Namer::comp_dir`]), then [`Namer::name_in`].
    fn name(n: &Namer, comp_dir: &[u8], dir: &[u8], file: &[u8]) -> Vec<u8> {
        n.name_in(&n.comp_dir(comp_dir), dir, file)
    }

    #[test]
    fn normalize_folds_dots() {
        assert_eq!(s(normalize(b"a/./b//c")), "a/b/c");
        assert_eq!(
            s(normalize(b"arch/x86/kvm/../../../virt/kvm/kvm_main.c")),
            "virt/kvm/kvm_main.c"
        );
        assert_eq!(s(normalize(b"../fs/x.c")), "../fs/x.c");
        assert_eq!(s(normalize(b"a/../../x.c")), "../x.c");
        assert_eq!(s(normalize(b"/../x.c")), "/x.c");
        assert_eq!(s(normalize(b"/home/u/linux/./fs/")), "/home/u/linux/fs");
        assert_eq!(s(normalize(b"./")), "");
    }

    #[test]
    fn join_follows_dwarf() {
        assert_eq!(s(join(b"/b", b"inc", b"x.h")), "/b/inc/x.h");
        assert_eq!(s(join(b"/b", b"/usr/inc", b"x.h")), "/usr/inc/x.h");
        assert_eq!(s(join(b"/b", b"inc", b"/abs/x.h")), "/abs/x.h");
        assert_eq!(s(join(b"", b"init", b"main.c")), "init/main.c");
        assert_eq!(s(join(b"/b/", b"", b"x.c")), "/b/x.c");
    }

    #[test]
    fn names_relative_to_comp_dir() {
        let n = Namer::new(None);
        assert_eq!(
            s(name(&n, b"/home/u/linux", b"fs", b"read_write.c")),
            "fs/read_write.c"
        );
        assert_eq!(
            s(name(
                &n,
                b"/home/u/linux",
                b"/home/u/linux/./include/linux",
                b"fs.h"
            )),
            "include/linux/fs.h"
        );
        assert_eq!(
            s(name(
                &n,
                b"/home/u/linux",
                b"arch/x86/kvm/../../../virt/kvm",
                b"kvm_main.c"
            )),
            "virt/kvm/kvm_main.c"
        );
        // Outside the compilation directory: the full path, never a basename.
        assert_eq!(
            s(name(
                &n,
                b"/home/u/linux",
                b"/usr/lib/gcc/include",
                b"stddef.h"
            )),
            "/usr/lib/gcc/include/stddef.h"
        );
        // Debian's prefix-mapped relative comp_dir.
        assert_eq!(
            s(name(&n, b"debian/build/x", b"init", b"main.c")),
            "init/main.c"
        );
    }

    #[test]
    fn names_relative_to_srctree_for_o_builds() {
        let n = Namer::new(Some(b"/src/linux"));
        assert_eq!(
            s(name(&n, b"/build/obj", b"../../src/linux/fs", b"x.c")),
            "fs/x.c"
        );
        // Generated files live in the object tree: relative to comp_dir.
        assert_eq!(
            s(name(&n, b"/build/obj", b"include/generated", b"autoconf.h")),
            "include/generated/autoconf.h"
        );
        // A relative srctree is relative to comp_dir (Kbuild's `srctree := ..`).
        let n = Namer::new(Some(b".."));
        assert_eq!(s(name(&n, b"/src/linux/build", b"../fs", b"x.c")), "fs/x.c");
        assert_eq!(
            s(name(&n, b"/src/linux/build", b"", b"../mm/y.c")),
            "mm/y.c"
        );
    }

    #[test]
    fn rustc_sysroot_names_print_from_library() {
        let n = Namer::new(Some(b"/src/linux"));
        let hash = "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860";
        // Core's code inlined into a kernel crate, compiled in the object tree.
        let dir = format!("{hash}/library/core/src/slice/iter");
        assert_eq!(
            s(name(&n, b"/build/obj", dir.as_bytes(), b"macros.rs")),
            "library/core/src/slice/iter/macros.rs"
        );
        // Folded first: compiler_builtins reaches libm through `../`.
        let dir =
            format!("{hash}/library/compiler-builtins/compiler-builtins/src/math/../../../libm");
        assert_eq!(
            s(name(&n, b"/build/obj", dir.as_bytes(), b"src/lib.rs")),
            "library/compiler-builtins/libm/src/lib.rs"
        );
        // The kernel's own Rust: relative to the tree, like C.
        assert_eq!(
            s(name(
                &n,
                b"/build/obj",
                b"/src/linux/rust/kernel",
                b"print.rs"
            )),
            "rust/kernel/print.rs"
        );
        // Not a hash, or nothing below it: an ordinary absolute name.
        for other in [
            "/rustc/not-a-hash/lib.rs",
            "/rustc/abc/x.rs",
            "/rustc/59807616e1fa/",
        ] {
            assert_eq!(
                s(name(&n, b"/build/obj", b"", other.as_bytes())),
                normalize_str(other)
            );
        }
    }

    fn normalize_str(p: &str) -> String {
        s(normalize(p.as_bytes()))
    }

    #[test]
    fn strip_root_needs_a_component_boundary() {
        assert_eq!(strip_root(b"/a/bc/x", b"/a/b"), None);
        assert_eq!(strip_root(b"/a/b/x", b"/a/b/"), Some(&b"x"[..]));
        assert_eq!(strip_root(b"/a/b", b"/a/b"), None);
        assert_eq!(strip_root(b"x/y", b""), Some(&b"x/y"[..]));
    }
}
