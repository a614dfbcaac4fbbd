//! Running external tools: the C compiler, binutils and LLVM utilities.
//! A failing tool panics with its full command line and its stderr, since
//! every caller is a test that cannot continue without the tool's output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `elf` without its DWARF (`objcopy --strip-debug`), as `out`: a module or vmlinux with
/// nothing to build tables from.
pub fn strip_debug(elf: &Path, out: &Path) {
    run(Command::new("objcopy")
        .arg("--strip-debug")
        .arg(elf)
        .arg(out));
}

/// Runs `cmd` and returns its output; panics (naming the command and quoting
/// stderr) when it cannot be started or exits non-zero.
pub fn run(cmd: &mut Command) -> Output {
    let out = try_run(cmd);
    if !out.status.success() {
        panic!(
            "command failed ({}): {}\n--- stderr ---\n{}\n--- stdout (first 2000 bytes) ---\n{}",
            out.status,
            describe(cmd),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(2000)]),
        );
    }
    out
}

/// Panics with `out`'s stderr unless its command exited 0 (for a command run with
/// [`try_run`] or `Command::output` whose failure is a finding, not a missing tool).
#[track_caller]
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` and returns its output whatever its exit status; panics only
/// when it cannot be started.
pub fn try_run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {}: {e} (scripts/deps.sh installs the test tools)",
            describe(cmd)
        )
    })
}

/// A test, or a variant of one, that cannot run here because of `why` (a tool or a compiler
/// capability is missing): a failure that says so, since `scripts/deps.sh` installs everything
/// the tests use. With `KBUILD_LINEINFO_ALLOW_SKIP=1` (and not under `CI`) it is a `SKIPPED`
/// note on stderr instead and the caller returns: a conscious choice, never a silent one.
#[track_caller]
pub fn unavailable(test: &str, why: &str) {
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false");
    if set("KBUILD_LINEINFO_ALLOW_SKIP") && !set("CI") {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    panic!(
        "{test} cannot run: {why}. scripts/deps.sh installs the test tools \
         (KBUILD_LINEINFO_ALLOW_SKIP=1 skips instead, except under CI)"
    );
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = String::new();
    if let Some(dir) = cmd.get_current_dir() {
        s.push_str(&format!("(cd {} && ", dir.display()));
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    if cmd.get_current_dir().is_some() {
        s.push(')');
    }
    s
}

/// The C compiler `cc` would use for the host (honours `$CC`), falling back
/// to plain `cc`.
pub fn compiler() -> PathBuf {
    let triple = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    cc::Build::new()
        .target(&triple)
        .host(&triple)
        .opt_level(2)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .try_get_compiler()
        .map(|c| c.path().to_path_buf())
        .unwrap_or_else(|_| PathBuf::from("cc"))
}

/// True when the C compiler `cc` accepts `flag` (probed by compiling an empty unit).
pub fn compiler_accepts(cc: &Path, flag: &str, scratch: &Path) -> bool {
    let src = scratch.join("probe.c");
    std::fs::write(&src, "int probe;\n").expect("write probe.c");
    Command::new(cc)
        .args(["-c", flag])
        .arg(&src)
        .arg("-o")
        .arg(scratch.join("probe.o"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The free tokens in a jobserver fifo or pipe at `path` (`/proc/PID/fd/N` for make's own): every
/// byte read without blocking, then written back.
pub fn jobserver_tokens(path: &Path) -> std::io::Result<usize> {
    use std::io::{ErrorKind, Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000; // Linux value; std has no named constant
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(O_NONBLOCK)
        .open(path)?;
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    f.write_all(&bytes)?;
    Ok(bytes.len())
}
