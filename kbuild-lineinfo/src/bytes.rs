//! Target byte order for the tables: writers append, readers return `None` past the end of a
//! slice and never panic.

use crate::vocab::Endian;

/// `v` in the target's byte order.
pub(crate) fn u32_bytes(v: u32, endian: Endian) -> [u8; 4] {
    if endian == Endian::Big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// Appends `v` in the target's byte order.
pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32, endian: Endian) {
    out.extend_from_slice(&u32_bytes(v, endian));
}

/// Appends every value of `vs` in the target's byte order.
pub(crate) fn put_u32s(out: &mut Vec<u8>, vs: &[u32], endian: Endian) {
    out.reserve(4 * vs.len());
    for &v in vs {
        put_u32(out, v, endian);
    }
}

/// Appends zero bytes until `out.len()` is a multiple of 4.
pub(crate) fn pad_to_4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

/// The u32 at byte offset `at` of `bytes`, or `None` if it does not fit.
pub(crate) fn read_u32(bytes: &[u8], at: usize, endian: Endian) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if endian == Endian::Big {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    })
}

/// The u64 at byte offset `at` of `bytes`, or `None` if it does not fit.
pub(crate) fn read_u64(bytes: &[u8], at: usize, endian: Endian) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(if endian == Endian::Big {
        u64::from_be_bytes(raw)
    } else {
        u64::from_le_bytes(raw)
    })
}

/// `len` bytes of `bytes` from `at`, or `None` if they do not fit (any `u32` inputs accepted).
pub(crate) fn slice(bytes: &[u8], at: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(at).ok()?;
    let end = usize::try_from(at.checked_add(len)?).ok()?;
    bytes.get(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order() {
        assert_eq!(u32_bytes(0x0102_0304, Endian::Little), [4, 3, 2, 1]);
        assert_eq!(u32_bytes(0x0102_0304, Endian::Big), [1, 2, 3, 4]);
        let bytes = [9, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(read_u32(&bytes, 1, Endian::Big), Some(0x0102_0304));
        assert_eq!(read_u32(&bytes, 1, Endian::Little), Some(0x0403_0201));
        assert_eq!(
            read_u64(&bytes, 1, Endian::Big),
            Some(0x0102_0304_0506_0708)
        );
        assert_eq!(
            read_u64(&bytes, 1, Endian::Little),
            Some(0x0807_0605_0403_0201)
        );
    }

    #[test]
    fn reads_past_the_end_miss() {
        let bytes = [0u8; 8];
        assert_eq!(read_u32(&bytes, 5, Endian::Little), None);
        assert_eq!(read_u32(&bytes, usize::MAX - 1, Endian::Little), None);
        assert_eq!(read_u64(&bytes, 1, Endian::Little), None);
        assert_eq!(slice(&bytes, 4, 5), None);
        assert_eq!(slice(&bytes, u64::MAX, 2), None);
        assert_eq!(slice(&bytes, 8, 0), Some(&[][..]));
    }

    #[test]
    fn padding() {
        let mut out = vec![1, 2, 3, 4, 5];
        pad_to_4(&mut out);
        assert_eq!(out, [1, 2, 3, 4, 5, 0, 0, 0]);
        pad_to_4(&mut out);
        assert_eq!(out.len(), 8, "aligned stays put");
    }
}
