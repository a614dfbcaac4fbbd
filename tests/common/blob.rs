//! An independent reader of the v1 `.mod_lineinfo` blob (docs/format.md 4.2 and
//! section 3), written from the format text alone, so the module test can
//! check table properties that `lookup` cannot show, such as an entry at
//! every function start (rule 6) when no symbol-start guard applies.

/// One decoded entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub offset: u32,
    pub file: u32,
    pub line: u32,
}

/// The decoded blob: entries in table order and the file names.
#[derive(Clone, Debug)]
pub struct Table {
    pub entries: Vec<Entry>,
    pub names: Vec<String>,
}

/// Decodes a little-endian v1 module blob; `Err` names the first problem.
pub fn decode_v1_module(blob: &[u8]) -> Result<Table, String> {
    let u32_at = |i: usize| -> Result<u32, String> {
        blob.get(i..i + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| format!("u32 at {i} past the {}-byte blob", blob.len()))
    };
    let (n, nf, names_size, nb, data_size) =
        (u32_at(0)?, u32_at(4)?, u32_at(8)?, u32_at(12)?, u32_at(16)?);
    let (n, nf, nb, data_size) = (n as usize, nf as usize, nb as usize, data_size as usize);
    let data_at = 24 + 8 * nb;
    let data = blob
        .get(data_at..data_at + data_size)
        .ok_or("data stream past the blob")?;
    let mut entries = Vec::with_capacity(n);
    for b in 0..nb {
        let addr = u32_at(24 + 4 * b)?;
        let start = u32_at(24 + 4 * nb + 4 * b)? as usize;
        let count = (n - 64 * b).min(64);
        decode_block(data, start, addr, count, &mut entries)?;
    }
    let files_at = data_at + data_size;
    let names_at = files_at + 4 * nf;
    let names_blob = blob
        .get(names_at..names_at + names_size as usize)
        .ok_or("file names past the blob")?;
    let mut names = Vec::with_capacity(nf);
    for i in 0..nf {
        names.push(file_name(names_blob, u32_at(files_at + 4 * i)?)?);
    }
    Ok(Table { entries, names })
}

/// The NUL-terminated name at `offset` of a table's file names (§2, every layout).
pub fn file_name(names: &[u8], offset: u32) -> Result<String, String> {
    let rest = names
        .get(offset as usize..)
        .ok_or("file offset past the names")?;
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or("unterminated file name")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

fn decode_block(
    data: &[u8],
    mut pos: usize,
    addr: u32,
    count: usize,
    out: &mut Vec<Entry>,
) -> Result<(), String> {
    let mut e = Entry {
        offset: addr,
        file: uleb(data, &mut pos)?,
        line: uleb(data, &mut pos)?,
    };
    out.push(e);
    for _ in 1..count {
        let delta = uleb(data, &mut pos)?;
        if delta == 0 {
            return Err(format!("zero address delta after offset {:#x}", e.offset));
        }
        e.offset = e.offset.checked_add(delta).ok_or("offset overflow")?;
        e.file = e.file.wrapping_add(unzigzag(uleb(data, &mut pos)?) as u32);
        e.line = e.line.wrapping_add(unzigzag(uleb(data, &mut pos)?) as u32);
        out.push(e);
    }
    Ok(())
}

fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn uleb(data: &[u8], pos: &mut usize) -> Result<u32, String> {
    let mut v: u64 = 0;
    for i in 0..5 {
        let b = *data.get(*pos).ok_or("LEB128 past the data")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(v).map_err(|_| "LEB128 above u32".to_string());
        }
    }
    Err("LEB128 longer than 5 bytes".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_hand_made_blob() {
        // 2 entries, 1 file "a.c", 1 block at offset 0x10.
        // Entry 0: file 0, line 300 (ULEB 0xac 0x02).
        // Entry 1: +4, file +0 (zigzag 0), line -2 (zigzag 3).
        let data = [0x00, 0xac, 0x02, 0x04, 0x00, 0x03];
        let mut blob = Vec::new();
        for v in [2u32, 1, 4, 1, data.len() as u32, 0, 0x10, 0] {
            blob.extend(v.to_le_bytes());
        }
        blob.extend(data);
        blob.extend(0u32.to_le_bytes());
        blob.extend(b"a.c\0");
        let t = decode_v1_module(&blob).unwrap();
        assert_eq!(t.names, ["a.c"]);
        assert_eq!(
            t.entries,
            [
                Entry {
                    offset: 0x10,
                    file: 0,
                    line: 300
                },
                Entry {
                    offset: 0x14,
                    file: 0,
                    line: 298
                }
            ]
        );
        assert!(decode_v1_module(&blob[..30]).is_err());
    }
}
