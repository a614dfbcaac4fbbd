//! The line-table oracle: parses the text that `llvm-dwarfdump --debug-line`
//! prints (one row per line, in line-program order, with the file tables
//! printed above) plus each unit's `DW_AT_comp_dir`/`DW_AT_stmt_list` from
//! `llvm-dwarfdump --debug-info -r 0`, and answers addresses by docs/format.md
//! section 1: within the sequence containing the address, the last row at or
//! below it; end-of-sequence rows never answer; a row with line 0 or an
//! unresolvable file answers nothing (rules 1 and 7).

use super::answer::{join, Answer};
use super::tools::run;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// One row as printed; `file` is the full path built from the file tables,
/// `None` when the index does not resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub addr: u64,
    pub line: u32,
    pub file: Option<String>,
}

/// One sequence: rows in program order, covering `[start, end)`.
#[derive(Clone, Debug)]
pub struct Sequence {
    pub start: u64,
    pub end: u64,
    pub rows: Vec<Row>,
}

/// All sequences of a file, sorted by start address.
#[derive(Clone, Debug, Default)]
pub struct LineOracle {
    pub sequences: Vec<Sequence>,
}

impl LineOracle {
    /// Runs `llvm-dwarfdump` on `path` and parses its output.
    pub fn from_file(path: &Path) -> LineOracle {
        let info = dump(path, &["--debug-info", "-r", "0"]);
        let line = dump(path, &["--debug-line"]);
        LineOracle::parse(&info, &line)
    }

    /// Parses the two dumps (`--debug-info -r 0` and `--debug-line`).
    pub fn parse(info: &str, line: &str) -> LineOracle {
        let comp_dirs = parse_comp_dirs(info);
        let mut sequences = parse_line_tables(line, &comp_dirs);
        sequences.retain(|s| s.end > s.start);
        sequences.sort_by_key(|s| (s.start, s.end));
        LineOracle { sequences }
    }

    /// The answer at `addr`, or `None` where no sequence answers (or two
    /// overlapping sequences disagree).
    pub fn answer(&self, addr: u64) -> Option<Answer> {
        let mut found: Option<Answer> = None;
        let upto = self.sequences.partition_point(|s| s.start <= addr);
        for seq in self.sequences[..upto].iter().filter(|s| addr < s.end) {
            let Some(a) = seq.answer(addr) else { continue };
            match &found {
                Some(prev) if *prev != a => return None,
                _ => found = Some(a),
            }
        }
        found
    }

    /// Every address inside some sequence and within `[lo, hi)`, ascending.
    pub fn covered(&self, lo: u64, hi: u64) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .sequences
            .iter()
            .flat_map(|s| s.start.max(lo)..s.end.min(hi))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Number of rows (end-of-sequence rows excluded).
    pub fn row_count(&self) -> usize {
        self.sequences.iter().map(|s| s.rows.len()).sum()
    }
}

impl Sequence {
    /// The last row at or below `addr`, for an `addr` inside the sequence;
    /// `None` when that row has line 0 or no file (format §1 rules 1 and 7).
    pub fn answer(&self, addr: u64) -> Option<Answer> {
        let upto = self.rows.partition_point(|r| r.addr <= addr);
        let row = self.rows[..upto].last()?;
        Some(Answer {
            file: row.file.clone()?,
            line: row.line,
        })
        .filter(|a| a.line != 0)
    }
}

impl Sequence {
    /// The last row at or below `addr` whatever its line or file (what
    /// `llvm-symbolizer` reports), for an `addr` inside the sequence.
    pub fn raw_row(&self, addr: u64) -> Option<&Row> {
        let upto = self.rows.partition_point(|r| r.addr <= addr);
        self.rows[..upto].last()
    }
}

impl LineOracle {
    /// The sequences containing `addr`.
    pub fn containing(&self, addr: u64) -> impl Iterator<Item = &Sequence> {
        let upto = self.sequences.partition_point(|s| s.start <= addr);
        self.sequences[..upto].iter().filter(move |s| addr < s.end)
    }
}

fn dump(path: &Path, args: &[&str]) -> String {
    let out = run(Command::new("llvm-dwarfdump").args(args).arg(path));
    String::from_utf8(out.stdout).expect("llvm-dwarfdump prints UTF-8")
}

/// The last double-quoted string on `line`, with `\\` and `\"` unescaped.
fn quoted(line: &str) -> Option<String> {
    let end = line.rfind('"')?;
    let bytes = line.as_bytes();
    let mut start = end;
    loop {
        let q = line[..start].rfind('"')?;
        if q > 0 && bytes[q - 1] == b'\\' {
            start = q - 1;
            continue;
        }
        start = q;
        break;
    }
    Some(
        line[start + 1..end]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\"),
    )
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
}

/// `DW_AT_stmt_list` offset → `DW_AT_comp_dir` of each unit.
fn parse_comp_dirs(info: &str) -> HashMap<u64, String> {
    let mut map = HashMap::new();
    let (mut dir, mut stmt): (Option<String>, Option<u64>) = (None, None);
    let mut flush = |dir: &mut Option<String>, stmt: &mut Option<u64>| {
        if let Some(s) = stmt.take() {
            map.insert(s, dir.take().unwrap_or_default());
        }
        *dir = None;
    };
    for l in info.lines() {
        let t = l.trim_start();
        if t.contains("DW_TAG_") || t.contains("Compile Unit:") || t.contains("Type Unit:") {
            flush(&mut dir, &mut stmt);
        } else if t.starts_with("DW_AT_comp_dir") {
            dir = quoted(t);
        } else if t.starts_with("DW_AT_stmt_list") {
            stmt = t.split(['(', ')']).nth(1).and_then(parse_hex);
        }
    }
    flush(&mut dir, &mut stmt);
    map
}

/// File tables of one line program as printed.
#[derive(Default)]
struct Header {
    version: u16,
    comp_dir: String,
    dirs: HashMap<u64, String>,
    files: HashMap<u64, (String, u64)>,
}

impl Header {
    fn path(&self, index: u64) -> Option<String> {
        let (name, dir_index) = self.files.get(&index)?;
        let dir = if self.version < 5 && *dir_index == 0 {
            self.comp_dir.clone()
        } else {
            self.dirs.get(dir_index)?.clone()
        };
        Some(join(&join(&self.comp_dir, &dir), name))
    }
}

fn parse_line_tables(text: &str, comp_dirs: &HashMap<u64, String>) -> Vec<Sequence> {
    let mut out = Vec::new();
    let mut header = Header::default();
    let mut pending_file: Option<u64> = None;
    let mut rows: Vec<Row> = Vec::new();
    for l in text.lines() {
        let t = l.trim();
        if let Some(rest) = t.strip_prefix("debug_line[") {
            let offset = parse_hex(rest.trim_end_matches(']')).unwrap_or(u64::MAX);
            header = Header {
                comp_dir: comp_dirs.get(&offset).cloned().unwrap_or_default(),
                ..Header::default()
            };
            rows.clear();
        } else if let Some(v) = t.strip_prefix("version:") {
            header.version = v.trim().parse().unwrap_or(0);
        } else if let Some(rest) = t.strip_prefix("include_directories[") {
            let idx = rest.split(']').next().and_then(|s| s.trim().parse().ok());
            if let (Some(i), Some(d)) = (idx, quoted(t)) {
                header.dirs.insert(i, d);
            }
        } else if let Some(rest) = t.strip_prefix("file_names[") {
            pending_file = rest.split(']').next().and_then(|s| s.trim().parse().ok());
        } else if let (Some(i), Some(rest)) = (pending_file, t.strip_prefix("name:")) {
            let name = quoted(rest).unwrap_or_default();
            header.files.insert(i, (name, 0));
        } else if let (Some(i), Some(rest)) = (pending_file, t.strip_prefix("dir_index:")) {
            let d = rest.trim().parse().unwrap_or(0);
            if let Some(f) = header.files.get_mut(&i) {
                f.1 = d;
            }
        } else if t.starts_with("0x") {
            parse_row(t, &header, &mut rows, &mut out);
        }
    }
    out
}

/// One row line: `Address Line Column File ISA Discriminator Flags...`.
fn parse_row(t: &str, header: &Header, rows: &mut Vec<Row>, out: &mut Vec<Sequence>) {
    let f: Vec<&str> = t.split_whitespace().collect();
    let (Some(addr), Some(line), Some(file)) = (
        f.first().and_then(|s| parse_hex(s)),
        f.get(1).and_then(|s| s.parse::<u32>().ok()),
        f.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return;
    };
    if f.contains(&"end_sequence") {
        let rows = std::mem::take(rows);
        let start = rows.first().map_or(addr, |r| r.addr);
        out.push(Sequence {
            start,
            end: addr,
            rows,
        });
    } else {
        rows.push(Row {
            addr,
            line,
            file: header.path(file),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = r#"
0x0000000b: DW_TAG_compile_unit
              DW_AT_name	("a.c")
              DW_AT_comp_dir	("/build")
              DW_AT_stmt_list	(0x00000000)
"#;

    const LINE4: &str = r#"
debug_line[0x00000000]
Line table prologue:
         version: 4
include_directories[  1] = "include/linux"
file_names[  1]:
           name: "a.c"
      dir_index: 0
file_names[  2]:
           name: "h.h"
      dir_index: 1

Address            Line   Column File   ISA Discriminator Flags
------------------ ------ ------ ------ --- ------------- -------------
0x0000000000001000      3     13      1   0             0  is_stmt
0x0000000000001000      7      2      2   0             0  is_stmt
0x0000000000001004      0      0      1   0             0
0x0000000000001008      4      1      9   0             0
0x000000000000100c      5      1      1   0             0
0x0000000000001010      5      1      1   0             0  end_sequence
0x0000000000001010     20      1      1   0             0  is_stmt
0x0000000000001014     20      1      1   0             0  end_sequence
"#;

    #[test]
    fn answers_follow_format_section_1() {
        let o = LineOracle::parse(INFO, LINE4);
        assert_eq!(o.sequences.len(), 2);
        let at = |a| o.answer(a).map(|x| x.to_string());
        // Last row at an address wins.
        assert_eq!(at(0x1000).as_deref(), Some("/build/include/linux/h.h:7"));
        // Line 0 and unresolvable file rows: no line.
        assert_eq!(at(0x1003).as_deref(), Some("/build/include/linux/h.h:7"));
        assert_eq!(at(0x1004), None);
        assert_eq!(at(0x100b), None);
        assert_eq!(at(0x100c).as_deref(), Some("/build/a.c:5"));
        // At a sequence boundary the next sequence's row wins.
        assert_eq!(at(0x1010).as_deref(), Some("/build/a.c:20"));
        assert_eq!(at(0x1014), None);
        assert_eq!(at(0xfff), None);
        assert_eq!(o.covered(0, u64::MAX).len(), 0x14);
    }

    #[test]
    fn dwarf5_directory_zero_is_an_entry() {
        let line = LINE4.replace("version: 4", "version: 5").replace(
            "include_directories[  1]",
            "include_directories[  0] = \"/b5\"\ninclude_directories[  1]",
        );
        let o = LineOracle::parse(INFO, &line);
        assert_eq!(o.answer(0x100c).unwrap().file, "/b5/a.c");
        assert_eq!(o.answer(0x1000).unwrap().file, "/build/include/linux/h.h");
    }

    #[test]
    fn quoted_handles_escapes() {
        assert_eq!(quoted(r#"name: "a\"b.c""#).as_deref(), Some("a\"b.c"));
        assert_eq!(quoted(r#"DW_AT_comp_dir	("/x")"#).as_deref(), Some("/x"));
    }
}
