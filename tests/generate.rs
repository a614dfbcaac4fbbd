//! `kbuild-lineinfo generate`: the man pages pass `man --warnings` and `groff -ww` without a
//! word, name every subcommand the binary's own `--help` lists, and the bash completion script
//! loads in bash and completes subcommand names.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kbuild-lineinfo");

fn generate(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("generate")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "generate {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The subcommands `kbuild-lineinfo --help` lists (the oracle: what a user sees).
fn subcommands() -> Vec<String> {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let listed: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   ")) // a description's second line
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect();
    assert!(listed.len() >= 8, "{help}");
    listed
}

/// `tool ARGS FILE` must succeed and print nothing on stderr.
fn silent(tool: &str, args: &[&str], file: &Path) {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e} (scripts/deps.sh installs it)"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{tool} {args:?} {}: {:?}\n{stderr}",
        file.display(),
        out.status
    );
}

/// Both roff checkers on one page: `man` renders it, `groff` with every warning on.
fn check_page(page: &Path) {
    silent("man", &["--warnings", "-l", "-Tutf8"], page);
    silent("groff", &["-man", "-ww", "-z"], page);
}

#[test]
fn man_page_is_clean_roff_and_names_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("kbuild-lineinfo.1");
    std::fs::write(&page, generate(&["man"]).stdout).unwrap();
    check_page(&page);
    let rendered = Command::new("man")
        .args(["-l", "-Tutf8"])
        .arg(&page)
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(text.contains("CONFIG_KALLSYMS_LINEINFO"), "{text}");
    for sub in subcommands() {
        assert!(
            text.contains(&format!("kbuild-lineinfo-{sub}(1)")),
            "the page does not name {sub}:\n{text}"
        );
    }
    assert!(!text.contains("selftest"), "a hidden subcommand is named");

    // --dir: the same first page, and one clean page per subcommand.
    let pages = dir.path().join("man1");
    generate(&["man", "--dir", pages.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(pages.join("kbuild-lineinfo.1")).unwrap(),
        std::fs::read(&page).unwrap()
    );
    for sub in subcommands() {
        let page = pages.join(format!("kbuild-lineinfo-{sub}.1"));
        assert!(page.is_file(), "no page {}", page.display());
        check_page(&page);
    }
}

#[test]
fn bash_completion_loads_and_completes_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("kbuild-lineinfo.bash");
    std::fs::write(&script, generate(&["complete-bash"]).stdout).unwrap();
    // Load it as bash-completion does, find the function `complete -p` names, and ask it for
    // the words after `kbuild-lineinfo mod` and `kbuild-lineinfo modules --ca`.
    let probe = r#"
set -eu
source "$1"
spec=$(complete -p kbuild-lineinfo)
fn=${spec#*-F }
fn=${fn%% *}
ask() {
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" kbuild-lineinfo "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    echo "$* => ${COMPREPLY[*]}"
}
ask kbuild-lineinfo mod
ask kbuild-lineinfo ''
ask kbuild-lineinfo modules --ca
"#;
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", probe, "probe"])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "{:?}\n{stdout}\n{stderr}",
        out.status
    );
    let answers: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split(" => ").nth(1).unwrap_or("").split(' ').collect())
        .collect();
    let mut mod_ = answers[0].clone();
    mod_.sort_unstable();
    assert_eq!(mod_, ["module", "modules"], "{stdout}");
    for sub in subcommands() {
        assert!(
            answers[1].contains(&sub.as_str()),
            "{sub} not offered: {stdout}"
        );
    }
    assert!(
        !stdout.contains("selftest"),
        "a hidden subcommand is offered: {stdout}"
    );
    assert!(answers[2].contains(&"--cache-dir"), "{stdout}");
    assert!(answers[2].contains(&"--cache-size"), "{stdout}");
}

#[test]
fn completions_for_other_shells_and_bad_requests() {
    for (what, mark) in [
        ("complete-zsh", "#compdef kbuild-lineinfo"),
        ("complete-fish", "complete -c kbuild-lineinfo"),
    ] {
        let text = String::from_utf8(generate(&[what]).stdout).unwrap();
        assert!(text.contains(mark), "{what}:\n{text}");
        for sub in subcommands() {
            assert!(text.contains(&sub), "{what} lacks {sub}");
        }
        assert!(
            !text.contains("selftest"),
            "{what} offers a hidden subcommand"
        );
    }
    let out = Command::new(BIN)
        .args(["generate", "complete-bash", "--dir", "/nonexistent"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("kbuild-lineinfo: /nonexistent: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
    let out = Command::new(BIN)
        .args(["generate", "complete-tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
