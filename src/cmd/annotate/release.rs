//! `-r RELEASE [--root DIR]`: the files of an installed kernel, found where
//! `scripts/decode_stacktrace.sh -r` looks (and where Debian's, Fedora's and Ubuntu's debug
//! packages put theirs), under `DIR` (an unpacked package, a mounted image, a container).

use std::path::{Path, PathBuf};

/// Where a release's files are.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// The first vmlinux of [`vmlinux_candidates`] that exists.
    pub vmlinux: Result<PathBuf, Vec<PathBuf>>,
    /// The module directories of [`module_candidates`] that exist (with embedded tables
    /// first: the installed modules, then the debug package's).
    pub modules: Result<Vec<PathBuf>, Vec<PathBuf>>,
}

/// The vmlinux paths tried, in order: a debug package's image with DWARF, the build tree's,
/// an uncompressed image in `/boot`, then the installed vmlinuz.
pub fn vmlinux_candidates(root: &Path, release: &str) -> Vec<PathBuf> {
    [
        format!("usr/lib/debug/boot/vmlinux-{release}"),
        format!("lib/modules/{release}/build/vmlinux"),
        format!("boot/vmlinux-{release}"),
        format!("boot/vmlinuz-{release}"),
    ]
    .into_iter()
    .map(|p| root.join(p))
    .collect()
}

/// The module directories tried: the installed modules, then the debug package's.
pub fn module_candidates(root: &Path, release: &str) -> Vec<PathBuf> {
    [
        format!("lib/modules/{release}"),
        format!("usr/lib/debug/lib/modules/{release}"),
    ]
    .into_iter()
    .map(|p| root.join(p))
    .collect()
}

/// The files of `release` under `root`; what was tried when nothing is there.
pub fn find(root: &Path, release: &str) -> Found {
    let tried = vmlinux_candidates(root, release);
    let vmlinux = tried.iter().find(|p| p.is_file()).cloned().ok_or(tried);
    let tried = module_candidates(root, release);
    let dirs: Vec<_> = tried.iter().filter(|p| p.is_dir()).cloned().collect();
    let modules = if dirs.is_empty() {
        Err(tried)
    } else {
        Ok(dirs)
    };
    Found { vmlinux, modules }
}

/// `A, B or C`.
pub fn list(paths: &[PathBuf]) -> String {
    let names: Vec<_> = paths.iter().map(|p| p.display().to_string()).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_existing_vmlinux_and_every_module_directory() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let rel = "6.12.1-amd64";
        let none = find(r, rel);
        assert_eq!(none.vmlinux, Err(vmlinux_candidates(r, rel)));
        assert_eq!(none.modules, Err(module_candidates(r, rel)));
        std::fs::create_dir_all(r.join("boot")).unwrap();
        std::fs::write(r.join("boot/vmlinuz-6.12.1-amd64"), b"").unwrap();
        assert_eq!(
            find(r, rel).vmlinux,
            Ok(r.join("boot/vmlinuz-6.12.1-amd64"))
        );
        std::fs::create_dir_all(r.join("usr/lib/debug/boot")).unwrap();
        std::fs::write(r.join("usr/lib/debug/boot/vmlinux-6.12.1-amd64"), b"").unwrap();
        let debug = r.join("usr/lib/debug/boot/vmlinux-6.12.1-amd64");
        assert_eq!(
            find(r, rel).vmlinux,
            Ok(debug),
            "the debug image comes first"
        );
        let dbg = r.join("usr/lib/debug/lib/modules").join(rel);
        std::fs::create_dir_all(&dbg).unwrap();
        assert_eq!(find(r, rel).modules, Ok(vec![dbg.clone()]));
        std::fs::create_dir_all(r.join("lib/modules").join(rel)).unwrap();
        let installed = r.join("lib/modules").join(rel);
        assert_eq!(find(r, rel).modules, Ok(vec![installed, dbg]));
    }

    #[test]
    fn lists_read_as_a_sentence() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(list(&[p("/a")]), "/a");
        assert_eq!(list(&[p("/a"), p("/b"), p("/c")]), "/a, /b or /c");
    }
}
