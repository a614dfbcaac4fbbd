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
    .map(|p| rooted(root, Path::new(&p)))
    .collect()
}

/// `root/path`, with every symbolic link on the way resolved inside `root`, as a chroot would
/// see it: `modules_install` leaves `lib/modules/REL/build` pointing at the absolute path of
/// the build tree, which under `--root` names a file of this machine, not of the image.
fn rooted(root: &Path, path: &Path) -> PathBuf {
    fn walk(root: &Path, path: &Path, hops: &mut u32) -> PathBuf {
        let mut at = root.to_path_buf();
        for part in path.components() {
            at.push(part);
            // Only an absolute link is read again inside the root (a relative one leads where
            // it leads from here, and the path keeps its name). Bounded, as the kernel bounds a
            // path walk (40 links): a loop ends here.
            let Some(target) = std::fs::read_link(&at).ok().filter(|_| *hops < 40) else {
                continue;
            };
            if let Ok(inside) = target.strip_prefix("/") {
                *hops += 1;
                at = walk(root, inside, hops);
            }
        }
        at
    }
    if root == Path::new("/") {
        return root.join(path);
    }
    walk(root, path, &mut 0)
}

/// The module directories tried: the installed modules, then the debug package's.
pub fn module_candidates(root: &Path, release: &str) -> Vec<PathBuf> {
    [
        format!("lib/modules/{release}"),
        format!("usr/lib/debug/lib/modules/{release}"),
    ]
    .into_iter()
    .map(|p| rooted(root, Path::new(&p)))
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
    fn absolute_links_stay_inside_the_root() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let rel = "6.12.1";
        std::fs::create_dir_all(r.join("lib/modules/6.12.1")).unwrap();
        std::fs::create_dir_all(r.join("usr/src/obj")).unwrap();
        std::fs::write(r.join("usr/src/obj/vmlinux"), b"x").unwrap();
        // What modules_install leaves: an absolute link to the build tree.
        std::os::unix::fs::symlink("/usr/src/obj", r.join("lib/modules/6.12.1/build")).unwrap();
        assert_eq!(
            find(r, rel).vmlinux,
            Ok(r.join("usr/src/obj/vmlinux")),
            "the link is read inside the root"
        );
        // A link to this machine's own file does not count under another root.
        std::fs::remove_file(r.join("lib/modules/6.12.1/build")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("vmlinux"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("lib/modules/6.12.1/build")).unwrap();
        assert!(find(r, rel).vmlinux.is_err());
        // A loop ends.
        std::fs::remove_file(r.join("lib/modules/6.12.1/build")).unwrap();
        std::os::unix::fs::symlink(
            "/lib/modules/6.12.1/build",
            r.join("lib/modules/6.12.1/build"),
        )
        .unwrap();
        assert!(find(r, rel).vmlinux.is_err());
    }

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
