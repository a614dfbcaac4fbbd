//! Target byte order: the one home for reading and writing integers in it, on object's
//! [`object::Endian`] trait. Writers append or overwrite; readers return `None` past the end of
//! a slice (or for a width that is not 1, 2, 4 or 8 bytes) and never panic.

use object::Endian as _;

use crate::vocab::Endian;

/// `v` in the target's byte order.
pub(crate) fn u32_bytes(v: u32, endian: Endian) -> [u8; 4] {
    endian.write_u32(v)
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

/// The u16 at byte offset `at` of `bytes`, or `None` if it does not fit.
pub(crate) fn read_u16(bytes: &[u8], at: usize, endian: Endian) -> Option<u16> {
    let raw: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(endian.read_u16(raw))
}

/// The u32 at byte offset `at` of `bytes`, or `None` if it does not fit.
pub(crate) fn read_u32(bytes: &[u8], at: usize, endian: Endian) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(endian.read_u32(raw))
}

/// The u64 at byte offset `at` of `bytes`, or `None` if it does not fit.
pub(crate) fn read_u64(bytes: &[u8], at: usize, endian: Endian) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(endian.read_u64(raw))
}

/// The unsigned integer that fills `field` (1, 2, 4 or 8 bytes); `None` for another width.
pub(crate) fn read_uint(field: &[u8], endian: Endian) -> Option<u64> {
    Some(match field.len() {
        1 => u64::from(field[0]),
        2 => u64::from(endian.read_u16(field.try_into().ok()?)),
        4 => u64::from(endian.read_u32(field.try_into().ok()?)),
        8 => endian.read_u64(field.try_into().ok()?),
        _ => return None,
    })
}

/// Writes the low bytes of `v` into `field` (1, 2, 4 or 8 bytes); `None` for another width,
/// `field` then unchanged.
pub(crate) fn write_uint(field: &mut [u8], v: u64, endian: Endian) -> Option<()> {
    match field.len() {
        1 => field[0] = v as u8,
        2 => field.copy_from_slice(&endian.write_u16(v as u16)),
        4 => field.copy_from_slice(&endian.write_u32(v as u32)),
        8 => field.copy_from_slice(&endian.write_u64(v)),
        _ => return None,
    }
    Some(())
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
        assert_eq!(read_u16(&bytes, 1, Endian::Big), Some(0x0102));
        assert_eq!(read_u16(&bytes, 1, Endian::Little), Some(0x0201));
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
    fn every_width() {
        let (le, be) = (Endian::Little, Endian::Big);
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(read_uint(&bytes[..1], be), Some(1));
        assert_eq!(read_uint(&bytes[..2], le), Some(0x0201));
        assert_eq!(read_uint(&bytes[..2], be), Some(0x0102));
        assert_eq!(read_uint(&bytes[..4], le), Some(0x0403_0201));
        assert_eq!(read_uint(&bytes, be), Some(0x0102_0304_0506_0708));
        assert_eq!(read_uint(&bytes[..3], le), None);
        for (width, endian) in [(1, le), (2, be), (4, le), (8, be)] {
            let mut field = vec![0; width];
            let v = 0x1122_3344_5566_7788;
            write_uint(&mut field, v, endian).unwrap();
            let mask = u64::MAX >> (64 - 8 * width);
            assert_eq!(read_uint(&field, endian), Some(v & mask), "width {width}");
        }
        assert_eq!(write_uint(&mut [0; 5], 1, le), None);
    }

    #[test]
    fn reads_past_the_end_miss() {
        let bytes = [0u8; 8];
        assert_eq!(read_u32(&bytes, 5, Endian::Little), None);
        assert_eq!(read_u32(&bytes, usize::MAX - 1, Endian::Little), None);
        assert_eq!(read_u64(&bytes, 1, Endian::Little), None);
        assert_eq!(read_u16(&bytes, 7, Endian::Little), None);
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
