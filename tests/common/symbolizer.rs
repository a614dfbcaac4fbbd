//! The second oracle: `llvm-symbolizer --no-inlines` in batch mode (one
//! process, addresses on stdin). It answers with the line table row in effect
//! at the address, like docs/format.md section 1 rule 3, but prints line 0 where a
//! line-0 row is in effect; such answers are returned as `None`.

use super::answer::Answer;
use super::tools::describe;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Symbolizes every address in `addrs` against `obj` (a linked file).
pub fn symbolize(obj: &Path, addrs: &[u64]) -> Vec<Option<Answer>> {
    let mut cmd = Command::new("llvm-symbolizer");
    cmd.args(["--no-inlines", "--functions=none"])
        .arg(format!("--obj={}", obj.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", describe(&cmd)));
    let input: String = addrs.iter().map(|a| format!("0x{a:x}\n")).collect();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("llvm-symbolizer output");
    writer
        .join()
        .expect("writer thread")
        .expect("write addresses");
    assert!(
        out.status.success(),
        "{} failed: {}",
        describe(&cmd),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let answers = parse(&text);
    assert_eq!(
        answers.len(),
        addrs.len(),
        "llvm-symbolizer printed {} records for {} addresses",
        answers.len(),
        addrs.len()
    );
    answers
}

/// Parses records separated by blank lines; each record's first line is
/// `file:line:column`.
pub fn parse(text: &str) -> Vec<Option<Answer>> {
    text.split("\n\n")
        .filter(|rec| !rec.trim().is_empty())
        .map(|rec| parse_location(rec.trim().lines().next().unwrap_or("")))
        .collect()
}

fn parse_location(loc: &str) -> Option<Answer> {
    let mut it = loc.rsplitn(3, ':');
    let _column = it.next()?;
    let line: u32 = it.next()?.parse().ok()?;
    let file = it.next()?;
    (line != 0 && file != "??").then(|| Answer {
        file: file.to_string(),
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_and_unknowns() {
        let got = parse("/s/a.c:11:20\n\n??:0:0\n\n/s/h.h:0:0\n\n/s/b.c:3:0\n\n");
        let show: Vec<String> = got
            .iter()
            .map(|a| a.as_ref().map_or("??".into(), |a| a.to_string()))
            .collect();
        assert_eq!(show, ["/s/a.c:11", "??", "??", "/s/b.c:3"]);
    }
}
