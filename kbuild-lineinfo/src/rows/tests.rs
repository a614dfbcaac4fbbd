//! Line programs written out by hand, gimli-style: each test is a DWARF 4 `.debug_line` program
//! with its opcodes spelled out and annotated, read from a relocatable ELF file through
//! [`read_rows`] twice, by the fast runner (`rows/program.rs`) and by gimli alone, which must
//! agree, and checked against the rows the docs/format.md §1 rules give (rules 1, 3 and 5, and the
//! end of a sequence).

use super::*;
use crate::table::{self, Entry};

/// A line program's instructions, each method one opcode (DWARF 4 §6.2.5).
#[derive(Default)]
struct Program(Vec<u8>);

impl Program {
    /// `DW_LNE_set_address`: a new sequence's first address (8 bytes).
    fn set_address(mut self, address: u64) -> Self {
        self.0.extend([0, 9, 0x02]);
        self.0.extend(address.to_le_bytes());
        self
    }
    /// `DW_LNS_advance_pc` by `n` (ULEB128, one byte here).
    fn advance_pc(mut self, n: u8) -> Self {
        assert!(n < 0x80);
        self.0.extend([0x02, n]);
        self
    }
    /// `DW_LNS_advance_line` by `n` (SLEB128, one byte here).
    fn advance_line(mut self, n: i8) -> Self {
        assert!((-64..64).contains(&n));
        self.0.extend([0x03, (n as u8) & 0x7f]);
        self
    }
    /// `DW_LNS_set_file` (1-based in DWARF 4).
    fn set_file(mut self, file: u8) -> Self {
        assert!(file < 0x80);
        self.0.extend([0x04, file]);
        self
    }
    /// `DW_LNS_copy`: a row with the current registers.
    fn copy(mut self) -> Self {
        self.0.push(0x01);
        self
    }
    /// A special opcode: address += `addr`, line += `line`, then a row (line_base -5,
    /// line_range 14, opcode_base 13).
    fn special(mut self, addr: u8, line: i8) -> Self {
        assert!((-5..=8).contains(&line), "line_base -5, line_range 14");
        let op = (i16::from(line) + 5) + 14 * i16::from(addr) + 13;
        self.0.push(u8::try_from(op).expect("a special opcode"));
        self
    }
    /// `DW_LNE_end_sequence`: a row that ends the sequence; the registers start again.
    fn end_sequence(mut self) -> Self {
        self.0.extend([0, 1, 0x01]);
        self
    }
}

/// A relocatable x86-64 ELF file with one DWARF 4 unit (`/src/t.c`) whose line program is
/// `program`; its file table: 1 = `a.c`, 2 = `inc/b.h`.
fn elf(program: &Program) -> Vec<u8> {
    let abbrev = [
        1, 0x11, 0, // abbreviation 1: DW_TAG_compile_unit, no children
        0x03, 0x08, // DW_AT_name, DW_FORM_string
        0x1b, 0x08, // DW_AT_comp_dir, DW_FORM_string
        0x10, 0x17, // DW_AT_stmt_list, DW_FORM_sec_offset
        0, 0, 0, // end of the attributes, of the abbreviations
    ];
    let mut die = vec![1]; // abbreviation 1
    die.extend(b"t.c\0/src\0");
    die.extend(0u32.to_le_bytes()); // stmt_list: offset 0 in .debug_line
    let mut info = Vec::new();
    info.extend((2 + 4 + 1 + die.len() as u32).to_le_bytes()); // unit_length
    info.extend(4u16.to_le_bytes()); // version
    info.extend(0u32.to_le_bytes()); // debug_abbrev_offset
    info.push(8); // address_size
    info.extend(die);

    let mut header = vec![
        1,    // minimum_instruction_length
        1,    // maximum_operations_per_instruction
        1,    // default_is_stmt
        0xfb, // line_base -5
        14,   // line_range
        13,   // opcode_base
        0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, // standard_opcode_lengths
    ];
    header.extend(b"inc\0\0"); // include_directories: 1 = inc; end
    header.extend(b"a.c\0\0\0\0"); // file 1: a.c, directory 0 (the unit's), mtime, length
    header.extend(b"b.h\0\x01\0\0"); // file 2: b.h in directory 1
    header.push(0); // end of file_names
    let mut line = Vec::new();
    let length = 2 + 4 + header.len() + program.0.len();
    line.extend((length as u32).to_le_bytes()); // unit_length
    line.extend(4u16.to_le_bytes()); // version
    line.extend((header.len() as u32).to_le_bytes()); // header_length
    line.extend(header);
    line.extend(&program.0);

    use object::write::Object;
    use object::{Architecture, BinaryFormat, Endianness, SectionKind};
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    for (name, data) in [
        (".debug_abbrev", &abbrev[..]),
        (".debug_info", &info),
        (".debug_line", &line),
    ] {
        let id = obj.add_section(Vec::new(), name.as_bytes().to_vec(), SectionKind::Debug);
        obj.set_section_data(id, data.to_vec(), 1);
    }
    obj.write().unwrap()
}

/// The rows of `program`, read by the fast runner and by gimli alone (the same, or the test
/// fails), as (address, file name, line), an end of sequence as (address, "", 0).
fn rows(program: Program) -> (Rows, Vec<(u64, String, u32)>) {
    let data = elf(&program);
    let input = Input::parse(&data).unwrap();
    let namer = Namer::new(None);
    let read = |gimli_only| {
        let effort = Effort {
            threads: 1,
            gimli_only,
        };
        read_rows(&input, &namer, effort).unwrap()
    };
    // The fast runner takes the whole program itself (nothing left to gimli), so that the two
    // readings below are two paths. Its encoding from the header, as `read_unit` gets it.
    let sections = Sections::load(&input).unwrap();
    let dwarf = sections.dwarf(RunTimeEndian::Little);
    let unit = line_unit(&dwarf, dwarf.units().next().unwrap().unwrap()).unwrap();
    let encoding = encoding_of(unit.line_program.as_ref().unwrap().header()).unwrap();
    let address_at = |at: usize| {
        Some(u64::from_le_bytes(
            program.0.get(at..at + 8)?.try_into().ok()?,
        ))
    };
    let whole = program::run::<()>(&program.0, &encoding, address_at, |_| Ok(())).unwrap();
    assert_eq!(whole, Ok(()), "the fast runner ran the program");
    let (fast, gimli) = (read(false), read(true));
    assert_eq!(fast.points, gimli.points, "fast runner and gimli");
    assert_eq!(fast.names, gimli.names);
    assert_eq!(fast.rows, gimli.rows);
    let named = fast
        .points
        .iter()
        .map(|p| {
            let name = match p.is_end() {
                true => String::new(),
                false => String::from_utf8(fast.names[p.file as usize].clone()).unwrap(),
            };
            (p.address, name, p.line)
        })
        .collect();
    (fast, named)
}

fn row(address: u64, file: &str, line: u32) -> (u64, String, u32) {
    (address, file.to_string(), line)
}

fn end(address: u64) -> (u64, String, u32) {
    (address, String::new(), 0)
}

#[test]
fn rule_1_line_0_and_unresolvable_files_have_no_answer() {
    let program = Program::default()
        .set_address(0x1000)
        .advance_line(9)
        .copy() // 0x1000 a.c:10
        .advance_pc(4)
        .advance_line(-10)
        .copy() // 0x1004 a.c:0: no answer from here on
        .advance_pc(4)
        .advance_line(20)
        .set_file(9)
        .copy() // 0x1008 file 9 (there is none): still no answer
        .advance_pc(8)
        .set_file(2)
        .copy() // 0x1010 inc/b.h:20
        .advance_pc(0x10)
        .end_sequence(); // 0x1020
    let (rows, named) = rows(program);
    assert_eq!(
        named,
        [
            row(0x1000, "a.c", 10),
            end(0x1004),
            row(0x1010, "inc/b.h", 20),
            end(0x1020)
        ]
    );
    assert_eq!(rows.rows, 2, "rows read with a line and a file");
    // Rule 7: the table says so with a hole (keeping the line before it).
    let (t, stats) = table::build(&rows.points, &rows.names, &[], 0x1000, 0x1100).unwrap();
    let hole = Entry::NO_LINE;
    let got: Vec<_> = t
        .entries
        .iter()
        .map(|e| (e.offset, e.file, e.line))
        .collect();
    assert_eq!(
        got,
        [(0, 0, 10), (4, hole, 10), (0x10, 1, 20), (0x20, hole, 20)]
    );
    assert_eq!(stats.hole_entries, 2);
}

/// gas often puts a row at the very address it ends the sequence at: that row covers no byte,
/// and the end is a hole (rule 7), as `llvm-symbolizer` and `addr2line` answer nothing there.
#[test]
fn a_row_at_the_end_address_covers_nothing() {
    let program = Program::default()
        .set_address(0x3000)
        .advance_line(41)
        .copy() // 0x3000 a.c:42
        .advance_pc(1)
        .copy() // 0x3001 a.c:42, at the end's address
        .end_sequence(); // 0x3001
    let (rows, named) = rows(program);
    assert_eq!(named, [row(0x3000, "a.c", 42), end(0x3001)]);
    let (t, _) = table::build(&rows.points, &rows.names, &[], 0x3000, 0x4000).unwrap();
    let got: Vec<_> = t
        .entries
        .iter()
        .map(|e| (e.offset, e.file, e.line))
        .collect();
    assert_eq!(got, [(0, 0, 42), (1, Entry::NO_LINE, 42)]);
}

#[test]
fn rule_3_the_last_row_at_an_address_wins() {
    let program = Program::default()
        .set_address(0x2000)
        .advance_line(9)
        .copy() // 0x2000 a.c:10
        .advance_line(1)
        .copy() // 0x2000 a.c:11
        .set_file(2)
        .special(0, 1) // 0x2000 inc/b.h:12: the answer at 0x2000
        .special(8, 1) // 0x2008 inc/b.h:13
        .advance_pc(8)
        .end_sequence(); // 0x2010
    let (_, named) = rows(program);
    assert_eq!(
        named,
        [
            row(0x2000, "inc/b.h", 12),
            row(0x2008, "inc/b.h", 13),
            end(0x2010)
        ]
    );
}

#[test]
fn rule_3_where_a_sequence_ends_and_another_starts_the_new_one_wins() {
    // The later sequence in address order comes first in the program.
    let program = Program::default()
        .set_address(0x3010)
        .advance_line(39)
        .copy() // 0x3010 a.c:40
        .advance_pc(8)
        .end_sequence() // 0x3018
        .set_address(0x3000)
        .advance_line(4)
        .copy() // 0x3000 a.c:5 (registers started again: line 1 + 4)
        .advance_pc(0x10)
        .end_sequence(); // 0x3010, where the other sequence starts
    let (_, named) = rows(program);
    assert_eq!(
        named,
        [
            row(0x3000, "a.c", 5),
            end(0x3010),
            row(0x3010, "a.c", 40),
            end(0x3018)
        ],
        "sorted by address, at one address the end first: the last point answers"
    );
}

#[test]
fn end_of_sequence_has_no_answer_and_resets_the_registers() {
    let program = Program::default()
        .set_address(0x4000)
        .set_file(2)
        .advance_line(6)
        .copy() // 0x4000 inc/b.h:7
        .advance_pc(4)
        .end_sequence() // 0x4004: no answer from here on
        .set_address(0x4100)
        .copy() // 0x4100 a.c:1: file 1 and line 1 again
        .special(2, 0) // 0x4102 a.c:1 again: a row of its own (rule 5 merges it, not rows)
        .advance_pc(2)
        .end_sequence(); // 0x4104
    let (rows, named) = rows(program);
    assert_eq!(
        named,
        [
            row(0x4000, "inc/b.h", 7),
            end(0x4004),
            row(0x4100, "a.c", 1),
            row(0x4102, "a.c", 1),
            end(0x4104),
        ]
    );
    // A region that starts inside the first sequence gets its answer at offset 0 (rule 6's
    // region start); one that starts where it ended has no answer there, so no entry.
    let entries = |start| {
        let (t, _) = table::build(&rows.points, &rows.names, &[], start, 0x4100).unwrap();
        t.entries
    };
    assert_eq!(
        entries(0x4002),
        [
            Entry {
                offset: 0,
                file: 0,
                line: 7
            },
            // Rule 7: the sequence's end is a hole.
            Entry {
                offset: 2,
                file: Entry::NO_LINE,
                line: 7
            }
        ]
    );
    assert_eq!(entries(0x4004), []);
}

#[test]
fn rule_5_one_entry_per_offset_and_no_repeat_of_the_previous_answer() {
    let program = Program::default()
        .set_address(0x5000)
        .advance_line(9)
        .copy() // 0x5000 a.c:10
        .special(4, 0) // 0x5004 a.c:10: the same answer, no entry
        .special(4, 1) // 0x5008 a.c:11
        .special(0, 5) // 0x5008 a.c:16: replaces a.c:11 (rule 3), one entry
        .set_file(2)
        .special(4, 0) // 0x500c inc/b.h:16: same line, other file: an entry
        .advance_line(-6)
        .special(4, 0) // 0x5010 inc/b.h:10
        .advance_pc(4)
        .end_sequence(); // 0x5014
    let (rows, _) = rows(program);
    let (t, _) = table::build(&rows.points, &rows.names, &[], 0x5000, 0x5014).unwrap();
    let e = |offset, file, line| Entry { offset, file, line };
    // File ids by first use: a.c 0, inc/b.h 1.
    assert_eq!(
        t.entries,
        [e(0, 0, 10), e(8, 0, 16), e(0xc, 1, 16), e(0x10, 1, 10)]
    );
    assert_eq!(t.files, [b"a.c".to_vec(), b"inc/b.h".to_vec()]);
    assert!(t.entries.windows(2).all(|w| w[0].offset < w[1].offset));
}
