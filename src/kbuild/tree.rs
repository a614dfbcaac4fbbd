//! What a Kbuild object tree says about this step: is it configured, is the step enabled, where
//! is the source tree, which layout does the tree's kernel read.
//!
//! An object tree is *configured* when it has `include/config/auto.conf`. Anything else (an
//! unpacked distribution module tree with its `modules.order`) is processed as listed.
//!
//! [`choose_layout`] is how every command finds the layout the tree's kernel reads.

use camino::{Utf8Path, Utf8PathBuf};
use std::fs;

use kbuild_lineinfo::loader::LoaderConfig;

use kbuild_lineinfo::Layout;

/// The facts read from an object tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// `include/config/auto.conf` exists.
    pub configured: bool,
    /// `CONFIG_KALLSYMS_LINEINFO_MODULES=y` in `auto.conf`.
    pub modules_enabled: bool,
    /// The source tree: the objtree's `source` link (O= builds), the directory its generated
    /// `Makefile` includes, else the objtree itself when it holds the kernel sources.
    pub srctree: Option<Utf8PathBuf>,
    /// The layout the tree's `include/linux/mod_lineinfo.h` describes, if it has one.
    pub layout: Option<Layout>,
    /// Where the tree's kernel loads module sections (`CONFIG_MODULE_UNLOAD`).
    pub loader: LoaderConfig,
}

/// Reads what `objtree` says; never fails (missing facts are `false`/`None`).
pub fn inspect(objtree: &Utf8Path) -> Tree {
    let auto_conf = fs::read_to_string(objtree.join("include/config/auto.conf")).ok();
    let configured = auto_conf.is_some();
    let modules_enabled = auto_conf.as_deref().is_some_and(|c| {
        c.lines()
            .any(|l| l.trim() == "CONFIG_KALLSYMS_LINEINFO_MODULES=y")
    });
    let srctree = if configured {
        find_srctree(objtree)
    } else {
        None
    };
    let layout = srctree.as_deref().and_then(header_layout);
    Tree {
        configured,
        modules_enabled,
        srctree,
        layout,
        loader: loader_config(Some(objtree)),
    }
}

/// Where the kernel loads module sections, the one rule for every command (`module`, `modules`,
/// `gen-mod-lineinfo`, `gen_lineinfo`, `lookup`, `annotate`): the object tree is `objtree`
/// (`--objtree`), else the current directory (where Kbuild runs its steps);
/// `CONFIG_MODULE_UNLOAD` comes from its `include/config/auto.conf`, else its `.config`; without
/// either, the series' assumption (unload on, as in every distribution kernel: `.exit*` stays in
/// persistent text).
pub fn loader_config(objtree: Option<&Utf8Path>) -> LoaderConfig {
    let objtree = objtree.unwrap_or(Utf8Path::new("."));
    let config = ["include/config/auto.conf", ".config"]
        .iter()
        .find_map(|f| fs::read_to_string(objtree.join(f)).ok());
    match config {
        Some(text) => LoaderConfig {
            module_unload: text.lines().any(|l| l.trim() == "CONFIG_MODULE_UNLOAD=y"),
        },
        None => LoaderConfig::default(),
    }
}

fn find_srctree(objtree: &Utf8Path) -> Option<Utf8PathBuf> {
    if let Ok(target) = fs::read_link(objtree.join("source")) {
        return Utf8PathBuf::try_from(target).ok().map(|t| objtree.join(t));
    }
    // O= builds generate `Makefile` as: include /path/to/linux/Makefile
    if let Ok(makefile) = fs::read_to_string(objtree.join("Makefile")) {
        if let Some(path) = makefile
            .lines()
            .filter_map(|l| l.trim().strip_prefix("include "))
            .find_map(|p| p.trim().strip_suffix("/Makefile"))
        {
            return Some(Utf8PathBuf::from(path));
        }
    }
    objtree
        .join("Kconfig")
        .is_file()
        .then(|| objtree.to_path_buf())
}

/// The layout a table is built in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub layout: Layout,
    pub from: From,
}

/// Where a [`Chosen`] layout comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// `--layout` named it.
    Option,
    /// The header of this source tree.
    Header(Utf8PathBuf),
    /// This source tree has no `include/linux/mod_lineinfo.h` (no series): v1.
    NoHeader(Utf8PathBuf),
    /// No tree was found: v1.
    NoTree,
}

/// The header that says a tree's layout, relative to its source tree.
pub const HEADER: &str = "include/linux/mod_lineinfo.h";

/// The layout `asked` for, else that of the first source tree found: `srctree` (`--srctree`),
/// `env_srctree` (Kbuild's exported `$srctree`, relative to the object tree it runs in), the
/// source tree of the configured object tree `objtree`; v1 without one, or when the tree has
/// no header.
pub fn choose_layout(
    asked: Option<Layout>,
    srctree: Option<&Utf8Path>,
    env_srctree: Option<&Utf8Path>,
    objtree: &Utf8Path,
) -> Chosen {
    if let Some(layout) = asked {
        return Chosen {
            layout,
            from: From::Option,
        };
    }
    let found = match srctree.or(env_srctree) {
        Some(tree) => Some(tree.to_path_buf()),
        None => inspect(objtree).srctree,
    };
    match found {
        Some(tree) => match header_layout(&tree) {
            Some(layout) => Chosen {
                layout,
                from: From::Header(tree),
            },
            None => Chosen {
                layout: Layout::V1,
                from: From::NoHeader(tree),
            },
        },
        None => Chosen {
            layout: Layout::V1,
            from: From::NoTree,
        },
    }
}

/// Kbuild's exported `$srctree`, if set.
pub fn env_srctree() -> Option<Utf8PathBuf> {
    std::env::var("srctree")
        .ok()
        .filter(|s| !s.is_empty())
        .map(Into::into)
}

/// The layout the tree's module header describes, if the tree has one.
pub fn header_layout(srctree: &Utf8Path) -> Option<Layout> {
    let header = fs::read_to_string(srctree.join(HEADER)).ok()?;
    Some(kbuild_lineinfo::layout::of_module_header(&header))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Temporary directories are UTF-8 here.
    fn utf8(p: &std::path::Path) -> &Utf8Path {
        Utf8Path::from_path(p).expect("a UTF-8 temporary directory")
    }

    #[test]
    fn unconfigured_tree_has_no_facts() {
        let dir = tempfile::tempdir().unwrap();
        let t = inspect(utf8(dir.path()));
        assert_eq!(
            t,
            Tree {
                configured: false,
                modules_enabled: false,
                srctree: None,
                layout: None,
                loader: LoaderConfig::default(),
            }
        );
    }

    #[test]
    fn module_unload_comes_from_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let d = utf8(dir.path());
        assert!(
            loader_config(Some(d)).module_unload,
            "no config: the series' assumption"
        );
        fs::write(d.join(".config"), "# CONFIG_MODULE_UNLOAD is not set\n").unwrap();
        assert!(!loader_config(Some(d)).module_unload);
        fs::write(
            d.join(".config"),
            "CONFIG_MODULES=y\nCONFIG_MODULE_UNLOAD=y\n",
        )
        .unwrap();
        assert!(loader_config(Some(d)).module_unload);
        // auto.conf wins over .config.
        fs::create_dir_all(d.join("include/config")).unwrap();
        fs::write(d.join("include/config/auto.conf"), "CONFIG_MODULES=y\n").unwrap();
        assert!(!loader_config(Some(d)).module_unload);
        assert!(!inspect(d).loader.module_unload);
    }

    #[test]
    fn configured_o_build_finds_source_and_layout() {
        let src = tempfile::tempdir().unwrap();
        let obj = tempfile::tempdir().unwrap();
        fs::create_dir_all(utf8(src.path()).join("include/linux")).unwrap();
        fs::write(
            utf8(src.path()).join("include/linux/mod_lineinfo.h"),
            "struct mod_lineinfo_desc { u64 anchor; u32 size; u32 table_offset; };\n",
        )
        .unwrap();
        fs::create_dir_all(utf8(obj.path()).join("include/config")).unwrap();
        fs::write(
            utf8(obj.path()).join("include/config/auto.conf"),
            "CONFIG_MODULES=y\nCONFIG_KALLSYMS_LINEINFO_MODULES=y\n",
        )
        .unwrap();
        fs::write(
            utf8(obj.path()).join("Makefile"),
            format!("include {}/Makefile\n", utf8(src.path())),
        )
        .unwrap();
        let t = inspect(utf8(obj.path()));
        assert!(t.configured && t.modules_enabled);
        assert_eq!(t.srctree.as_deref(), Some(utf8(src.path())));
        assert_eq!(t.layout, Some(Layout::V7));
    }

    #[test]
    fn layout_comes_from_the_first_tree_found() {
        let v7 = tempfile::tempdir().unwrap();
        let v7 = utf8(v7.path());
        fs::create_dir_all(v7.join("include/linux")).unwrap();
        fs::write(
            v7.join(HEADER),
            "struct mod_lineinfo_desc { u64 anchor; u32 size; };\n",
        )
        .unwrap();
        let bare = tempfile::tempdir().unwrap();
        let bare = utf8(bare.path());
        let choose = |asked, src, env| choose_layout(asked, src, env, bare);
        assert_eq!(choose(Some(Layout::V1), Some(v7), None).from, From::Option);
        let from_option = choose(None, Some(v7), Some(bare));
        assert_eq!(from_option.layout, Layout::V7);
        assert_eq!(from_option.from, From::Header(v7.into()));
        assert_eq!(choose(None, None, Some(v7)).layout, Layout::V7);
        assert_eq!(
            choose(None, Some(bare), Some(v7)),
            Chosen {
                layout: Layout::V1,
                from: From::NoHeader(bare.into())
            }
        );
        assert_eq!(choose(None, None, None).from, From::NoTree);
        // A configured O= tree leads to its source.
        fs::create_dir_all(bare.join("include/config")).unwrap();
        fs::write(bare.join("include/config/auto.conf"), "").unwrap();
        fs::write(bare.join("Makefile"), format!("include {v7}/Makefile\n")).unwrap();
        assert_eq!(choose(None, None, None).from, From::Header(v7.into()));
    }

    #[test]
    fn disabled_step_is_seen() {
        let obj = tempfile::tempdir().unwrap();
        fs::create_dir_all(utf8(obj.path()).join("include/config")).unwrap();
        fs::write(
            utf8(obj.path()).join("include/config/auto.conf"),
            "# CONFIG_KALLSYMS_LINEINFO_MODULES is not set\n",
        )
        .unwrap();
        fs::write(utf8(obj.path()).join("Kconfig"), "").unwrap();
        let t = inspect(utf8(obj.path()));
        assert!(t.configured && !t.modules_enabled);
        assert_eq!(t.srctree.as_deref(), Some(utf8(obj.path())));
    }
}
