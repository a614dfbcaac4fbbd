//! The bytes of one cache entry file, and their checks.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "KLICACHE"
//!      8     4  entry format version, little-endian u32 (ENTRY_FORMAT)
//!     12    32  the key digest (guards against a misnamed or swapped file)
//!     44     8  payload length, little-endian u64
//!     52    16  xxh3-128 of the payload, little-endian u128
//!     68    16  zero
//!     84     n  payload
//! ```
//! The checksum finds damage, it is not a seal (the key digest is blake3): xxh3 reads the
//! megabytes of a vmlinux's entries ten times faster than blake3, which a warm `annotate` would
//! otherwise spend most of its time on.
//! Pure: bytes in, bytes out. A mismatch anywhere is reported as [`Corrupt`], never a panic.

use std::fmt;

use super::Key;

const MAGIC: [u8; 8] = *b"KLICACHE";
/// Version of the layout above; a different one reads as corrupt (keys differ across tool
/// versions anyway, so this only catches damage).
const ENTRY_FORMAT: u32 = 2;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 84;

/// Why an entry file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(String);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The entry file for `payload` under `key`.
#[cfg(test)]
pub fn encode(key: &Key, payload: &[u8]) -> Vec<u8> {
    [&header(key, payload)[..], payload].concat()
}

/// The [`HEADER_LEN`] bytes before `payload` in its entry file under `key`.
pub fn header(key: &Key, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&ENTRY_FORMAT.to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(payload));
    out
}

/// The payload of an entry file read for `key`, after checking every header field.
pub fn decode<'a>(key: &Key, file: &'a [u8]) -> Result<&'a [u8], Corrupt> {
    let corrupt = |why: String| Err(Corrupt(why));
    if file.len() < HEADER_LEN {
        return corrupt(format!(
            "expected {HEADER_LEN} header bytes, found {}",
            file.len()
        ));
    }
    let (header, payload) = file.split_at(HEADER_LEN);
    if header[..8] != MAGIC {
        return corrupt(format!("bad magic {:02x?}", &header[..8]));
    }
    let format = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
    if format != ENTRY_FORMAT {
        return corrupt(format!("entry format {format}, expected {ENTRY_FORMAT}"));
    }
    if header[12..44] != key.as_bytes()[..] {
        return corrupt("entry belongs to another key".to_string());
    }
    let len = u64::from_le_bytes(header[44..52].try_into().unwrap_or_default());
    if len != payload.len() as u64 {
        return corrupt(format!(
            "payload of {len} bytes announced, {} present",
            payload.len()
        ));
    }
    if header[52..84] != checksum(payload) {
        return corrupt(format!("checksum mismatch over {len} payload bytes"));
    }
    Ok(payload)
}

/// The checksum field: xxh3-128 of `payload`, then 16 zero bytes.
fn checksum(payload: &[u8]) -> [u8; 32] {
    let mut field = [0; 32];
    field[..16].copy_from_slice(&twox_hash::XxHash3_128::oneshot(payload).to_le_bytes());
    field
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Identity;

    fn key(n: u8) -> Key {
        Key::new(&Identity::BuildId(vec![n]), "v7", &[])
    }

    #[test]
    fn round_trip() {
        let file = encode(&key(1), b"table bytes");
        assert_eq!(file.len(), HEADER_LEN + 11);
        assert_eq!(&file[..8], b"KLICACHE");
        assert_eq!(&file[8..12], &[2, 0, 0, 0]);
        assert_eq!(&file[68..84], &[0; 16]);
        assert_eq!(&file[44..52], &[11, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&key(1), &file), Ok(&b"table bytes"[..]));
        assert_eq!(decode(&key(1), &encode(&key(1), b"")), Ok(&b""[..]));
    }

    #[test]
    fn every_damage_is_detected() {
        let file = encode(&key(1), b"table bytes");
        let mut flipped = file.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let mut bad_magic = file.clone();
        bad_magic[0] = b'X';
        let mut bad_format = file.clone();
        bad_format[8] = 1;
        let cases: [(&[u8], &str); 6] = [
            (&file[..10], "expected 84 header bytes, found 10"),
            (
                &file[..file.len() - 1],
                "payload of 11 bytes announced, 10 present",
            ),
            (&flipped, "checksum mismatch over 11 payload bytes"),
            (&bad_magic, "bad magic"),
            (&bad_format, "entry format 1, expected 2"),
            (
                &encode(&key(2), b"table bytes"),
                "entry belongs to another key",
            ),
        ];
        for (bytes, why) in cases {
            let err = decode(&key(1), bytes).unwrap_err().to_string();
            assert!(err.starts_with(why), "{err:?} should start with {why:?}");
        }
    }
}
