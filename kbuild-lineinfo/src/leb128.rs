//! LEB128 and zig-zag (docs/format.md §3): minimal-length writers, readers that stop after 5 bytes.
//!
//! Every value in a lineinfo stream fits in 32 bits, so a well-formed number is at most 5 bytes
//! long. The writers always produce the shortest encoding. The readers accept any encoding of at
//! most 5 bytes whose value fits in 32 bits (non-minimal ones included, as the kernel does) and
//! return `None` for anything else: a number cut short by the end of the input, a 5th byte that
//! still has its continuation bit set, or a 5th byte carrying bits beyond bit 31. The kernel
//! instead returns whatever it assembled so far; a reader that refuses is what a checker of our
//! own output needs. This file calls nothing else in the crate.

/// The most bytes a 32-bit LEB128 number may take (the kernel stops reading after this many).
pub const MAX_LEN: usize = 5;

const CONTINUE: u8 = 0x80;
const PAYLOAD: u8 = 0x7f;
const SIGN: u8 = 0x40;

/// Appends `v` as unsigned LEB128, in its shortest form (1 to 5 bytes).
#[inline]
pub fn write_uleb128(out: &mut Vec<u8>, mut v: u32) {
    while v >= u32::from(CONTINUE) {
        out.push((v as u8 & PAYLOAD) | CONTINUE);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` as signed LEB128, in its shortest form (1 to 5 bytes).
#[inline]
pub fn write_sleb128(out: &mut Vec<u8>, mut v: i32) {
    loop {
        let byte = v as u8 & PAYLOAD;
        v >>= 7; // arithmetic shift: the sign is kept
        let done = (v == 0 && byte & SIGN == 0) || (v == -1 && byte & SIGN != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | CONTINUE);
    }
}

/// Zig-zag: maps signed to unsigned so that small magnitudes stay small
/// (0 → 0, −1 → 1, 1 → 2, −2 → 3, …), as the v1 kernel's `zigzag_encode`.
#[inline]
pub fn zigzag(v: i32) -> u32 {
    ((v as u32) << 1) ^ ((v >> 31) as u32)
}

/// The inverse of [`zigzag`], as the v1 kernel's `zigzag_decode`.
#[inline]
pub fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Reads an unsigned LEB128 number at `*pos` and advances `*pos` past it.
///
/// `None` (with `*pos` unchanged) when the number is cut short by the end of `data`, runs past
/// 5 bytes, or does not fit in 32 bits.
#[inline]
pub fn read_uleb128(data: &[u8], pos: &mut usize) -> Option<u32> {
    // Fast path: most stream values (deltas, small file ids) take one byte.
    let first = *data.get(*pos)?;
    if first & CONTINUE == 0 {
        *pos += 1;
        return Some(u32::from(first));
    }
    let (raw, len) = read_raw(data, *pos)?;
    // A 5-byte number carries 35 payload bits; the top 3 must be zero.
    if raw > u64::from(u32::MAX) {
        return None;
    }
    *pos += len;
    Some(raw as u32)
}

/// Reads a signed LEB128 number at `*pos` and advances `*pos` past it.
///
/// `None` (with `*pos` unchanged) when the number is cut short by the end of `data`, runs past
/// 5 bytes, or does not fit in 32 bits (the bits above bit 31 must repeat the sign bit).
#[inline]
pub fn read_sleb128(data: &[u8], pos: &mut usize) -> Option<i32> {
    let first = *data.get(*pos)?;
    if first & CONTINUE == 0 {
        *pos += 1;
        // Sign-extend the 7 payload bits.
        return Some(i32::from((first << 1) as i8 >> 1));
    }
    let (raw, len) = read_raw(data, *pos)?;
    let bits = 7 * len as u32;
    // Sign-extend from the last payload bit read (bits <= 35, so the shift stays in range).
    let value = ((raw << (64 - bits)) as i64) >> (64 - bits);
    let value = i32::try_from(value).ok()?;
    *pos += len;
    Some(value)
}

/// Collects the payload bits of at most [`MAX_LEN`] bytes starting at `start`:
/// the bits (low group first) and the number of bytes, or `None` if cut short or too long.
#[inline]
fn read_raw(data: &[u8], start: usize) -> Option<(u64, usize)> {
    let mut raw = 0u64;
    for i in 0..MAX_LEN {
        let byte = *data.get(start.checked_add(i)?)?;
        raw |= u64::from(byte & PAYLOAD) << (7 * i);
        if byte & CONTINUE == 0 {
            return Some((raw, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uleb(v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_uleb128(&mut out, v);
        out
    }

    fn sleb(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        write_sleb128(&mut out, v);
        out
    }

    /// Every length boundary of unsigned LEB128, bytes written out by hand.
    #[test]
    fn uleb128_boundaries() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16383, &[0xff, 0x7f]),
            (16384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xff, 0xff, 0xff, 0x7f]),
            (268_435_456, &[0x80, 0x80, 0x80, 0x80, 0x01]),
            (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, bytes) in cases {
            assert_eq!(uleb(v), bytes, "writing {v}");
            let mut pos = 0;
            assert_eq!(read_uleb128(bytes, &mut pos), Some(v), "reading {v}");
            assert_eq!(pos, bytes.len(), "length of {v}");
        }
    }

    /// Every length boundary of signed LEB128 (±64 · 128ⁿ), bytes written out by hand.
    #[test]
    fn sleb128_boundaries() {
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (-1, &[0x7f]),
            (63, &[0x3f]),
            (64, &[0xc0, 0x00]),
            (-64, &[0x40]),
            (-65, &[0xbf, 0x7f]),
            (8191, &[0xff, 0x3f]),
            (8192, &[0x80, 0xc0, 0x00]),
            (-8192, &[0x80, 0x40]),
            (-8193, &[0xff, 0xbf, 0x7f]),
            (1_048_575, &[0xff, 0xff, 0x3f]),
            (1_048_576, &[0x80, 0x80, 0xc0, 0x00]),
            (-1_048_576, &[0x80, 0x80, 0x40]),
            (-1_048_577, &[0xff, 0xff, 0xbf, 0x7f]),
            (134_217_727, &[0xff, 0xff, 0xff, 0x3f]),
            (134_217_728, &[0x80, 0x80, 0x80, 0xc0, 0x00]),
            (-134_217_728, &[0x80, 0x80, 0x80, 0x40]),
            (-134_217_729, &[0xff, 0xff, 0xff, 0xbf, 0x7f]),
            (i32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x07]),
            (i32::MIN, &[0x80, 0x80, 0x80, 0x80, 0x78]),
        ];
        for &(v, bytes) in cases {
            assert_eq!(sleb(v), bytes, "writing {v}");
            let mut pos = 0;
            assert_eq!(read_sleb128(bytes, &mut pos), Some(v), "reading {v}");
            assert_eq!(pos, bytes.len(), "length of {v}");
        }
    }

    #[test]
    fn zigzag_values() {
        let cases = [
            (0, 0),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (2, 4),
            (i32::MAX, u32::MAX - 1),
            (i32::MIN, u32::MAX),
        ];
        for (s, u) in cases {
            assert_eq!(zigzag(s), u, "zigzag({s})");
            assert_eq!(unzigzag(u), s, "unzigzag({u})");
        }
    }

    #[test]
    fn readers_reject_six_bytes() {
        let six = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        let mut pos = 0;
        assert_eq!(read_uleb128(&six, &mut pos), None);
        assert_eq!(read_sleb128(&six, &mut pos), None);
        assert_eq!(pos, 0, "a refused number does not move the position");
    }

    #[test]
    fn readers_reject_cut_short() {
        for bytes in [&[][..], &[0x80], &[0xff, 0xff], &[0x80, 0x80, 0x80, 0x80]] {
            let mut pos = 0;
            assert_eq!(read_uleb128(bytes, &mut pos), None, "{bytes:x?}");
            assert_eq!(read_sleb128(bytes, &mut pos), None, "{bytes:x?}");
        }
        // Cut short at a position past the start.
        let mut pos = 1;
        assert_eq!(read_uleb128(&[0x00, 0x81], &mut pos), None);
        let mut pos = 7;
        assert_eq!(
            read_uleb128(&[0x00], &mut pos),
            None,
            "position past the end"
        );
    }

    #[test]
    fn readers_reject_values_beyond_32_bits() {
        // 2^32 = 0x80 0x80 0x80 0x80 0x10.
        let mut pos = 0;
        assert_eq!(
            read_uleb128(&[0x80, 0x80, 0x80, 0x80, 0x10], &mut pos),
            None
        );
        // 2^31 as SLEB128 needs a sign bit above bit 31: 0x80 0x80 0x80 0x80 0x08.
        assert_eq!(
            read_sleb128(&[0x80, 0x80, 0x80, 0x80, 0x08], &mut pos),
            None
        );
        // -2^31 - 1.
        assert_eq!(
            read_sleb128(&[0xff, 0xff, 0xff, 0xff, 0x77], &mut pos),
            None
        );
    }

    #[test]
    fn readers_accept_non_minimal() {
        let mut pos = 0;
        assert_eq!(read_uleb128(&[0x81, 0x80, 0x00], &mut pos), Some(1));
        assert_eq!(pos, 3);
        let mut pos = 0;
        assert_eq!(read_sleb128(&[0xff, 0x7f], &mut pos), Some(-1));
        assert_eq!(pos, 2);
    }

    #[test]
    fn readers_walk_a_stream() {
        let mut data = Vec::new();
        write_uleb128(&mut data, 300);
        write_sleb128(&mut data, -65);
        write_uleb128(&mut data, 5);
        let mut pos = 0;
        assert_eq!(read_uleb128(&data, &mut pos), Some(300));
        assert_eq!(read_sleb128(&data, &mut pos), Some(-65));
        assert_eq!(read_uleb128(&data, &mut pos), Some(5));
        assert_eq!(pos, data.len());
        assert_eq!(read_uleb128(&data, &mut pos), None);
    }

    /// The shortest length, computed independently from the value's significant bits.
    fn uleb_len(v: u32) -> usize {
        let bits = 32 - v.leading_zeros() as usize;
        bits.div_ceil(7).max(1)
    }

    fn sleb_len(v: i32) -> usize {
        // Significant bits plus one sign bit.
        let bits = 33
            - if v < 0 {
                v.leading_ones()
            } else {
                v.leading_zeros()
            } as usize;
        bits.div_ceil(7)
    }

    proptest! {
        #[test]
        fn uleb128_round_trip(v: u32) {
            let bytes = uleb(v);
            prop_assert_eq!(bytes.len(), uleb_len(v));
            let mut pos = 0;
            prop_assert_eq!(read_uleb128(&bytes, &mut pos), Some(v));
            prop_assert_eq!(pos, bytes.len());
        }

        #[test]
        fn sleb128_round_trip(v: i32) {
            let bytes = sleb(v);
            prop_assert_eq!(bytes.len(), sleb_len(v));
            let mut pos = 0;
            prop_assert_eq!(read_sleb128(&bytes, &mut pos), Some(v));
            prop_assert_eq!(pos, bytes.len());
        }

        #[test]
        fn zigzag_round_trip(v: i32) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
            // Small magnitudes stay small: |v| < 2^k maps below 2^(k+1).
            prop_assert!(u64::from(zigzag(v)) <= 2 * u64::from(v.unsigned_abs()));
        }

        #[test]
        fn readers_never_overrun(data: Vec<u8>, start in 0usize..12) {
            let mut pos = start;
            if read_uleb128(&data, &mut pos).is_some() {
                prop_assert!(pos > start && pos <= data.len() && pos - start <= MAX_LEN);
            }
            let mut pos = start;
            if read_sleb128(&data, &mut pos).is_some() {
                prop_assert!(pos > start && pos <= data.len() && pos - start <= MAX_LEN);
            }
        }
    }
}
