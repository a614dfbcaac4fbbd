//! The cache payload of one module: the sections to embed (or "no DWARF") and the figures.
//!
//! A flat little-endian record; the cache entry around it carries the key and a checksum, so a
//! payload that does not parse is a stale format (a miss), never trusted.

use kbuild_lineinfo::emit::ko::{AnchorReloc, NewSection};
use kbuild_lineinfo::extract::Stats;

/// What was computed for one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    NoDebugInfo,
    Sections {
        sections: Vec<NewSection>,
        stats: Stats,
        /// What the user is told about this module (e.g. v1 sections that cannot be placed).
        warnings: Vec<String>,
    },
}

/// The tag of [`Record::Sections`]; 1 was the format before `uncovered_entries`, 2 the one
/// before the section figures and warnings (both now a miss).
const RECORD_SECTIONS: u8 = 3;

pub fn encode(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    match record {
        Record::NoDebugInfo => out.push(0),
        Record::Sections {
            sections,
            stats,
            warnings,
        } => {
            out.push(RECORD_SECTIONS);
            let figures = [
                stats.rows,
                stats.entries,
                stats.files,
                stats.symbol_entries,
                stats.hole_entries,
                stats.offset_overflow,
                stats.uncovered_entries,
                stats.code_sections,
                stats.code_bytes,
                stats.covered_sections,
                stats.covered_bytes,
            ];
            for v in figures {
                out.extend_from_slice(&v.to_le_bytes());
            }
            put_len(&mut out, warnings.len());
            for w in warnings {
                put_bytes(&mut out, w.as_bytes());
            }
            put_len(&mut out, sections.len());
            for s in sections {
                put_bytes(&mut out, s.name.as_bytes());
                out.extend_from_slice(&s.align.to_le_bytes());
                out.extend_from_slice(&s.flags.to_le_bytes());
                put_bytes(&mut out, &s.data);
                put_len(&mut out, s.relocations.len());
                for r in &s.relocations {
                    out.extend_from_slice(&r.offset.to_le_bytes());
                    out.push(r.size);
                    put_bytes(&mut out, r.target_section.as_bytes());
                }
            }
        }
    }
    out
}

/// The record in `bytes`, `None` when it does not parse completely.
pub fn decode(bytes: &[u8]) -> Option<Record> {
    let mut r = Reader(bytes);
    let record = match r.u8()? {
        0 => Record::NoDebugInfo,
        RECORD_SECTIONS => {
            let stats = Stats {
                rows: r.u64()?,
                entries: r.u64()?,
                files: r.u64()?,
                symbol_entries: r.u64()?,
                hole_entries: r.u64()?,
                offset_overflow: r.u64()?,
                uncovered_entries: r.u64()?,
                code_sections: r.u64()?,
                code_bytes: r.u64()?,
                covered_sections: r.u64()?,
                covered_bytes: r.u64()?,
            };
            let mut warnings = Vec::new();
            for _ in 0..r.len()? {
                warnings.push(String::from_utf8(r.bytes()?.to_vec()).ok()?);
            }
            let mut sections = Vec::new();
            for _ in 0..r.len()? {
                let name = String::from_utf8(r.bytes()?.to_vec()).ok()?;
                let (align, flags) = (r.u64()?, r.u64()?);
                let data = r.bytes()?.to_vec();
                let mut relocations = Vec::new();
                for _ in 0..r.len()? {
                    let offset = r.u64()?;
                    let size = r.u8()?;
                    let target_section = String::from_utf8(r.bytes()?.to_vec()).ok()?;
                    relocations.push(AnchorReloc {
                        offset,
                        size,
                        target_section,
                    });
                }
                sections.push(NewSection {
                    name,
                    data,
                    align,
                    flags,
                    relocations,
                });
            }
            Record::Sections {
                sections,
                stats,
                warnings,
            }
        }
        _ => return None,
    };
    r.0.is_empty().then_some(record)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?)
            .ok()
            .filter(|&n| n <= self.0.len())
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let record = Record::Sections {
            sections: vec![NewSection {
                name: ".mod_lineinfo".into(),
                data: vec![1, 2, 3, 4, 5],
                align: 8,
                flags: 2,
                relocations: vec![AnchorReloc {
                    offset: 8,
                    size: 8,
                    target_section: ".text".into(),
                }],
            }],
            stats: Stats {
                rows: 10,
                entries: 5,
                files: 2,
                symbol_entries: 1,
                hole_entries: 2,
                offset_overflow: 0,
                uncovered_entries: 3,
                code_sections: 4,
                code_bytes: 400,
                covered_sections: 3,
                covered_bytes: 300,
            },
            warnings: vec!["layout v1: `.plt` …".into()],
        };
        let bytes = encode(&record);
        assert_eq!(decode(&bytes), Some(record));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        assert_eq!(
            decode(&encode(&Record::NoDebugInfo)),
            Some(Record::NoDebugInfo)
        );
        assert_eq!(decode(&[7]), None);
    }
}
