//! Tallying tool-versus-oracle comparisons and turning them into one
//! readable failure: counts, then the first disagreements with both answers.

use super::answer::{check_name_shape, Answer, Expect, Verdict};
use std::fmt::Write;

/// How many sample lines a failure message shows per category.
const SHOWN: usize = 25;

#[derive(Debug, Default)]
pub struct Report {
    pub agree: usize,
    pub no_oracle: usize,
    pub missing: Vec<String>,
    pub differ: Vec<String>,
    /// The oracle has no line, the tool prints one.
    pub extra: Vec<String>,
    pub bad_names: Vec<String>,
}

impl Report {
    /// Records one query: `what` names it in messages (e.g. `0x1000010`).
    pub fn add(
        &mut self,
        expect: &Expect,
        what: &str,
        oracle: Option<&Answer>,
        ours: Option<&Answer>,
    ) {
        if let Some(u) = ours {
            if let Some(why) = check_name_shape(&u.file) {
                self.bad_names.push(format!("{what}: {u}: {why}"));
            }
        }
        match expect.verdict(oracle, ours) {
            Verdict::NoOracle => self.no_oracle += 1,
            Verdict::Extra => self
                .extra
                .push(format!("{what}: oracle has no line, tool {}", show(ours))),
            Verdict::Agree => self.agree += 1,
            Verdict::Missing => self.missing.push(format!(
                "{what}: oracle {} (expect {}), tool ??",
                show(oracle),
                expected(expect, oracle)
            )),
            Verdict::Differ => self.differ.push(format!(
                "{what}: oracle {} (expect {}), tool {}",
                show(oracle),
                expected(expect, oracle),
                show(ours)
            )),
        }
    }

    /// Queries the oracle answered.
    pub fn answered(&self) -> usize {
        self.agree + self.missing.len() + self.differ.len()
    }

    /// Fraction of oracle-answered queries the tool agrees with.
    pub fn agreement(&self) -> f64 {
        if self.answered() == 0 {
            return 0.0;
        }
        self.agree as f64 / self.answered() as f64
    }

    /// Counts, then samples of each kind of failure.
    pub fn describe(&self, title: &str) -> String {
        let mut s = format!(
            "{title}: {} agree, {} missing (??), {} differ, {} with a line where DWARF has none, {} badly shaped names, {} without a line in either ({:.3}% agreement)\n",
            self.agree,
            self.missing.len(),
            self.differ.len(),
            self.extra.len(),
            self.bad_names.len(),
            self.no_oracle,
            100.0 * self.agreement()
        );
        for (name, list) in [
            ("missing", &self.missing),
            ("differ", &self.differ),
            ("extra", &self.extra),
            ("bad names", &self.bad_names),
        ] {
            for line in list.iter().take(SHOWN) {
                let _ = writeln!(s, "  {name}: {line}");
            }
        }
        s
    }

    /// Panics with `describe` unless every oracle answer is matched, no line
    /// is printed where the oracle has none, and every name is well shaped.
    pub fn assert_perfect(&self, title: &str) {
        assert!(self.answered() > 0, "{title}: the oracle answered nothing");
        assert!(
            self.missing.is_empty()
                && self.differ.is_empty()
                && self.extra.is_empty()
                && self.bad_names.is_empty(),
            "{}",
            self.describe(title)
        );
    }
}

fn show(a: Option<&Answer>) -> String {
    a.map_or_else(|| "??".to_string(), Answer::to_string)
}

fn expected(expect: &Expect, a: Option<&Answer>) -> String {
    a.map_or_else(
        || "??".to_string(),
        |a| format!("{}:{}", expect.name(&a.file), a.line),
    )
}
