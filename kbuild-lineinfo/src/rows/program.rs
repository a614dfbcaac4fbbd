//! A fast runner of line programs for the common case, with gimli as the reference.
//!
//! gimli's `LineRows::next_row` decodes every instruction into an enum through the generic
//! `Reader` and copies a full row of registers each time: about 200 instructions per row, half
//! of the vmlinux step. This runs the same state machine (DWARF 5 §6.2) over the program bytes,
//! keeping only the registers the table uses (address, file, line, end of sequence), and follows
//! gimli's choices: tombstone addresses (below the current one, or -2 and above) skip their
//! sequence, a line never goes below 0, unknown opcodes are skipped.
//!
//! One choice is not gimli's: an address advance wraps around the address size, as in
//! binutils, libdw and LLVM, where gimli stops with "address overflow". Clang's integrated
//! assembler steps *back* that way (`DW_LNS_advance_pc` of 2^64 - n, a 10-byte LEB128) after
//! the rows of a `.subsection 1`, which arm64's `ALTERNATIVE` uses in every assembly file
//! (arm64's `entry.S`: without this a clang-built arm64 kernel stopped at its first link). The
//! caller puts such rows back in address order (rows.rs, `UnitReader::end_sequence`).
//!
//! Whatever it does not handle, it gives back to gimli: VLIW programs, `DW_LNE_define_file`,
//! signed LEB128s of 10 bytes, unsigned ones past 64 bits, address sizes other than 1, 2, 4,
//! 8, a cut-short program. The caller then reads the unit again with gimli, so errors and odd cases keep
//! gimli's exact behaviour. `DW_LNE_set_address` operands are read through gimli's reader, so
//! that relocations applied on read (modules) apply here too.

use crate::bytes;
use crate::vocab::Endian;

/// What a program's header says about its encoding.
#[derive(Debug, Clone)]
pub(super) struct Encoding {
    pub version: u16,
    pub address_size: u8,
    pub endian: Endian,
    pub minimum_instruction_length: u8,
    pub maximum_operations_per_instruction: u8,
    pub line_base: i8,
    pub line_range: u8,
    pub opcode_base: u8,
    /// Operand counts of standard opcodes 1 to `opcode_base - 1`.
    pub standard_opcode_lengths: Vec<u8>,
}

/// One row of the line matrix, as far as the table cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Row {
    /// A row of a sequence: from `address` on, `file`'s `line` (0 when unknown).
    Line { address: u64, file: u64, line: u64 },
    /// The end of a sequence: no answer from `address` on.
    End { address: u64 },
}

/// The run stopped at something left to gimli.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unhandled;

/// How a run ended: every row given to the callback, or given up (rows so far must be dropped).
pub(super) type Outcome<E> = Result<Result<(), Unhandled>, E>;

/// Runs `program` (the instructions after the header), giving each row to `row`, in order.
///
/// `address_at(offset)` reads the operand of `DW_LNE_set_address` at `offset` in `program`
/// (through gimli's reader, which applies any relocation on read; `None` where gimli fails):
/// the only value of a line program that a relocation changes.
pub(super) fn run<E>(
    program: &[u8],
    encoding: &Encoding,
    address_at: impl Fn(usize) -> Option<u64>,
    mut row: impl FnMut(Row) -> Result<(), E>,
) -> Outcome<E> {
    let Some(machine) = Machine::new(encoding, &address_at) else {
        return Ok(Err(Unhandled));
    };
    let mut state = State::START;
    let mut input = Input {
        bytes: program,
        at: 0,
    };
    while input.at < program.len() {
        match machine.step(&mut state, &mut input) {
            Some(Some(r)) => row(r)?,
            Some(None) => {}
            None => return Ok(Err(Unhandled)),
        }
    }
    Ok(Ok(()))
}

/// The registers that matter.
#[derive(Debug, Clone, Copy)]
struct State {
    address: u64,
    file: u64,
    line: u64,
    /// The sequence's address is a tombstone: its rows are skipped (gimli's rule).
    tombstone: bool,
}

impl State {
    const START: State = State {
        address: 0,
        file: 1,
        line: 1,
        tombstone: false,
    };

    fn advance_line(&mut self, increment: i64) {
        if increment < 0 {
            let decrement = increment.unsigned_abs();
            self.line = self.line.saturating_sub(decrement);
        } else {
            self.line = self.line.wrapping_add(increment as u64);
        }
    }

    fn line_row(&self) -> Option<Row> {
        (!self.tombstone).then_some(Row::Line {
            address: self.address,
            file: self.file,
            line: self.line,
        })
    }
}

/// The constants of one program.
struct Machine<'e> {
    encoding: &'e Encoding,
    address_at: &'e dyn Fn(usize) -> Option<u64>,
    /// All ones in an address.
    mask: u64,
    /// Addresses from here on are tombstones.
    min_tombstone: u64,
}

impl<'e> Machine<'e> {
    fn new(encoding: &'e Encoding, address_at: &'e dyn Fn(usize) -> Option<u64>) -> Option<Self> {
        if encoding.maximum_operations_per_instruction != 1
            || encoding.line_range == 0
            || encoding.opcode_base == 0
            || !matches!(encoding.address_size, 1 | 2 | 4 | 8)
        {
            return None;
        }
        let mask = !0u64 >> (64 - 8 * u32::from(encoding.address_size));
        Some(Machine {
            encoding,
            address_at,
            mask,
            min_tombstone: mask - 1,
        })
    }

    /// `address + advance`, wrapping around the address size (where gimli's `add_sized`
    /// fails: the module documentation says why).
    fn add(&self, address: u64, advance: u64) -> Option<u64> {
        Some(address.wrapping_add(advance) & self.mask)
    }

    fn advance_ops(&self, state: &mut State, operations: u64) -> Option<()> {
        if !state.tombstone {
            let length = u64::from(self.encoding.minimum_instruction_length);
            state.address = self.add(state.address, length.wrapping_mul(operations))?;
        }
        Some(())
    }

    /// Executes one instruction: `Some(Some(row))` when it makes a row, `Some(None)` when not,
    /// `None` for what is left to gimli.
    #[inline]
    fn step(&self, state: &mut State, input: &mut Input<'_>) -> Option<Option<Row>> {
        let e = self.encoding;
        let opcode = input.u8()?;
        if opcode >= e.opcode_base && opcode != 0 {
            let adjusted = opcode - e.opcode_base;
            state.advance_line(i64::from(e.line_base) + i64::from(adjusted % e.line_range));
            self.advance_ops(state, u64::from(adjusted / e.line_range))?;
            return Some(state.line_row());
        }
        match opcode {
            0 => return self.extended(state, input),
            1 => return Some(state.line_row()),
            2 => {
                let operations = input.uleb()?;
                self.advance_ops(state, operations)?;
            }
            3 => {
                let increment = input.sleb()?;
                state.advance_line(increment);
            }
            4 => state.file = input.uleb()?,
            5 | 12 => {
                input.uleb()?;
            }
            8 => {
                let adjusted = 255 - e.opcode_base;
                self.advance_ops(state, u64::from(adjusted / e.line_range))?;
            }
            9 => {
                let advance = input.u16(e.endian)?;
                if !state.tombstone {
                    state.address = self.add(state.address, u64::from(advance))?;
                }
            }
            6 | 7 | 10 | 11 => {}
            _ => {
                let operands = *e.standard_opcode_lengths.get(usize::from(opcode) - 1)?;
                for _ in 0..operands {
                    input.uleb()?;
                }
            }
        }
        Some(None)
    }

    fn extended(&self, state: &mut State, input: &mut Input<'_>) -> Option<Option<Row>> {
        let length = usize::try_from(input.uleb()?).ok()?;
        let end = input.at.checked_add(length)?;
        if length == 0 || end > input.bytes.len() {
            return None;
        }
        let mut operands = Input {
            bytes: &input.bytes[..end],
            at: input.at + 1,
        };
        let opcode = input.bytes[input.at];
        input.at = end;
        match opcode {
            // DW_LNE_end_sequence
            1 => {
                let row = (!state.tombstone).then_some(Row::End {
                    address: state.address,
                });
                *state = State::START;
                Some(row)
            }
            // DW_LNE_set_address
            2 => {
                let size = usize::from(self.encoding.address_size);
                operands.bytes.get(operands.at..operands.at + size)?;
                let address = (self.address_at)(operands.at)?;
                state.tombstone = address < state.address || address >= self.min_tombstone;
                if !state.tombstone {
                    state.address = address;
                }
                Some(None)
            }
            // DW_LNE_define_file changes the file table: gimli's business.
            3 if self.encoding.version <= 4 => None,
            // DW_LNE_set_discriminator
            4 => operands.uleb().map(|_| None),
            _ => Some(None),
        }
    }
}

/// Bytes being read; every reader returns `None` past the end or on what gimli would refuse.
struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Input<'_> {
    #[inline]
    fn u8(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u16(&mut self, endian: Endian) -> Option<u16> {
        let v = bytes::read_u16(self.bytes, self.at, endian)?;
        self.at += 2;
        Some(v)
    }

    /// An unsigned LEB128 of at most 10 bytes, the tenth 0 or 1 (gimli's rule: no bit past
    /// the 64th; anything else is gimli's to refuse).
    #[inline]
    fn uleb(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..63).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        match self.u8()? {
            last @ (0 | 1) => Some(value | u64::from(last) << 63),
            _ => None,
        }
    }

    /// A signed LEB128 of at most 9 bytes.
    fn sleb(&mut self) -> Option<i64> {
        let mut value = 0i64;
        for shift in (0..63).step_by(7) {
            let byte = self.u8()?;
            value |= i64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if shift + 7 < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << (shift + 7);
                }
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoding() -> Encoding {
        Encoding {
            version: 5,
            address_size: 8,
            endian: Endian::Little,
            minimum_instruction_length: 1,
            maximum_operations_per_instruction: 1,
            line_base: -5,
            line_range: 14,
            opcode_base: 13,
            standard_opcode_lengths: vec![0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1],
        }
    }

    /// A little-endian address read from the program bytes, as gimli reads an unrelocated one.
    fn address_in(program: &[u8], size: u8) -> impl Fn(usize) -> Option<u64> + '_ {
        move |at| {
            let bytes = program.get(at..at + usize::from(size))?;
            Some(bytes.iter().rev().fold(0, |v, &b| v << 8 | u64::from(b)))
        }
    }

    fn rows(program: &[u8], e: &Encoding) -> Result<Vec<Row>, Unhandled> {
        let mut out = Vec::new();
        run::<()>(program, e, address_in(program, e.address_size), |r| {
            out.push(r);
            Ok(())
        })
        .unwrap()
        .map(|()| out)
    }

    const SET_ADDRESS_0X1000: [u8; 11] = [0, 9, 2, 0x00, 0x10, 0, 0, 0, 0, 0, 0];

    #[test]
    fn special_standard_and_extended_opcodes() {
        let mut program = SET_ADDRESS_0X1000.to_vec();
        program.extend([
            3, 9, // advance_line +9: line 10
            1, // copy: 0x1000 line 10
            // special 0x4b: adjusted 62 = 4 * 14 + 6: address +4, line +1 (-5 + 6)
            0x4b, //
            4, 2, // set_file 2
            2, 0x10, // advance_pc 16
            3, 0x7e, // advance_line -2: line 9
            1,    // copy: 0x1014 line 9, file 2
            9, 0x00, 0x01, // fixed_advance_pc 0x100
            8,    // const_add_pc: (255 - 13) / 14 = 17
            0, 1, 1, // end_sequence at 0x1125
        ]);
        let want = vec![
            Row::Line {
                address: 0x1000,
                file: 1,
                line: 10,
            },
            Row::Line {
                address: 0x1004,
                file: 1,
                line: 11,
            },
            Row::Line {
                address: 0x1014,
                file: 2,
                line: 9,
            },
            Row::End { address: 0x1125 },
        ];
        assert_eq!(rows(&program, &encoding()), Ok(want));
    }

    #[test]
    fn a_line_never_goes_below_zero_and_unknown_opcodes_are_skipped() {
        let mut e = encoding();
        e.opcode_base = 14;
        e.standard_opcode_lengths.push(2); // opcode 13: two operands
        let mut program = SET_ADDRESS_0X1000.to_vec();
        program.extend([3, 0x70, 1]); // advance_line -16 from 1: line 0
        program.extend([13, 0x80, 0x01, 5]); // unknown standard opcode, two LEB128s
        program.extend([0, 2, 0x80, 7]); // unknown extended opcode 0x80
        program.extend([0, 1, 1]);
        let want = vec![
            Row::Line {
                address: 0x1000,
                file: 1,
                line: 0,
            },
            Row::End { address: 0x1000 },
        ];
        assert_eq!(rows(&program, &e), Ok(want));
    }

    #[test]
    fn a_tombstone_sequence_gives_no_row() {
        let mut program = SET_ADDRESS_0X1000.to_vec();
        program.extend([1, 2, 4]); // row at 0x1000, then 0x1004
                                   // set_address 0 (below): tombstone until the end of the sequence.
        program.extend([0, 9, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1]);
        // A new sequence at -1 (a tombstone too), then one at 0x2000.
        program.extend([
            0, 9, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 1, 1,
        ]);
        program.extend([0, 9, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1]);
        // The rows of the tombstoned sequence from the tombstone on, and its end, are dropped
        // (as gimli drops them).
        let want = vec![
            Row::Line {
                address: 0x1000,
                file: 1,
                line: 1,
            },
            Row::Line {
                address: 0x2000,
                file: 1,
                line: 1,
            },
            Row::End { address: 0x2000 },
        ];
        assert_eq!(rows(&program, &encoding()), Ok(want));
    }

    #[test]
    fn odd_programs_are_left_to_gimli() {
        let e = encoding();
        let cut = &SET_ADDRESS_0X1000[..6];
        assert_eq!(rows(cut, &e), Err(Unhandled), "cut short");
        let past_64_bits = [
            2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
        ];
        assert_eq!(rows(&past_64_bits, &e), Err(Unhandled));
        let ten_byte_sleb = [
            3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert_eq!(rows(&ten_byte_sleb, &e), Err(Unhandled));
        let mut v4 = e.clone();
        v4.version = 4;
        assert_eq!(
            rows(&[0, 3, 3, b'a', 0], &v4),
            Err(Unhandled),
            "define_file"
        );
        let mut vliw = e.clone();
        vliw.maximum_operations_per_instruction = 2;
        assert_eq!(rows(&[1], &vliw), Err(Unhandled));
    }

    /// Clang's integrated assembler after a `.subsection 1`: forward past the end, then back
    /// by 2^64 - n (a 10-byte LEB128). Addresses wrap around the address size.
    #[test]
    fn an_advance_wraps_around_the_address_size() {
        let mut program = SET_ADDRESS_0X1000.to_vec();
        program.extend([1, 2, 0x20, 1]); // 0x1000, then advance 0x20: 0x1020
                                         // advance_pc 2^64 - 0x1c: back to 0x1004.
        program.extend([
            2, 0xe4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1,
        ]);
        program.extend([0, 1, 1]);
        let line = |address| Row::Line {
            address,
            file: 1,
            line: 1,
        };
        let want = vec![
            line(0x1000),
            line(0x1020),
            line(0x1004),
            Row::End { address: 0x1004 },
        ];
        assert_eq!(rows(&program, &encoding()), Ok(want));
        // With 4-byte addresses, 2^32 - 0x1c steps back the same way, and so does 2^64 - 0x1c.
        let mut small = encoding();
        small.address_size = 4;
        let mut program = vec![0, 5, 2, 0x00, 0x10, 0, 0];
        program.extend([1, 2, 0x20, 1, 2, 0xe4, 0xff, 0xff, 0xff, 0x0f, 1]);
        program.extend([
            2, 0xe4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1,
        ]);
        let want = vec![line(0x1000), line(0x1020), line(0x1004), line(0x0fe8)];
        assert_eq!(rows(&program, &small), Ok(want));
    }

    #[test]
    fn leb128s() {
        let mut input = Input {
            bytes: &[0xe5, 0x8e, 0x26, 0x7f, 0x80, 0x7f],
            at: 0,
        };
        assert_eq!(input.uleb(), Some(624_485));
        assert_eq!(input.sleb(), Some(-1));
        assert_eq!(input.sleb(), Some(-128));
        let max9 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(
            Input {
                bytes: &max9,
                at: 0
            }
            .uleb(),
            Some((1 << 63) - 1)
        );
        assert_eq!(
            Input {
                bytes: &max9,
                at: 0
            }
            .sleb(),
            Some(-1)
        );
    }
}
