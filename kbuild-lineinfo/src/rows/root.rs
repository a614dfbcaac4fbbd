//! Units opened for their root entry only.
//!
//! `gimli::Dwarf::unit` parses the unit's whole abbreviation table, although reading line
//! programs needs only the root entry (name, compilation directory, `DW_AT_stmt_list`, string
//! bases). A kernel unit's table has hundreds of abbreviations: parsing them all was an eighth of
//! the vmlinux step. Here only the root entry's abbreviation is found and handed to gimli as a table of one; anything unexpected falls back to gimli's
//! full parse, which also gives its error.

use std::sync::Arc;

use gimli::{Reader, Section};

/// The abbreviations to read the root entry of `header` with: that entry's alone when it can
/// be found, else the unit's whole table (parsed by gimli, which also reports its errors).
pub(super) fn abbreviations<R: Reader>(
    dwarf: &gimli::Dwarf<R>,
    header: &gimli::UnitHeader<R>,
) -> gimli::Result<Arc<gimli::Abbreviations>> {
    match root_abbreviation(dwarf, header) {
        Some(table) => Ok(Arc::new(table)),
        None => dwarf.abbreviations(header),
    }
}

/// A table holding only the abbreviation the root entry of `header` uses.
fn root_abbreviation<R: Reader>(
    dwarf: &gimli::Dwarf<R>,
    header: &gimli::UnitHeader<R>,
) -> Option<gimli::Abbreviations> {
    let mut entries = header
        .range_from(gimli::UnitOffset(header.header_size())..)
        .ok()?;
    let code = entries.read_uleb128().ok()?;
    if code == 0 {
        return None;
    }
    let mut section = dwarf.debug_abbrev.reader().clone();
    section.skip(header.debug_abbrev_offset().0).ok()?;
    let bytes = section.to_slice().ok()?;
    let found = find(&bytes, code)?;
    let mut table = bytes[found].to_vec();
    table.push(0);
    // LEB128s and bytes only: the byte order does not matter.
    let section = gimli::DebugAbbrev::new(&table, gimli::LittleEndian);
    section.abbreviations(gimli::DebugAbbrevOffset(0)).ok()
}

/// Where the declaration of abbreviation `code` is in a table starting at `bytes[0]`; `None`
/// when the table ends first or is cut short.
///
/// GCC orders abbreviations by use, so the root's (used once) is often the last: this walks
/// LEB128s without building anything, far cheaper than gimli's parse of the whole table.
fn find(bytes: &[u8], code: u64) -> Option<std::ops::Range<usize>> {
    let mut at = 0;
    loop {
        let start = at;
        let this = uleb(bytes, &mut at)?;
        if this == 0 {
            return None;
        }
        skip_leb(bytes, &mut at)?; // tag
        at += 1; // children
        loop {
            let name = uleb(bytes, &mut at)?;
            let form = uleb(bytes, &mut at)?;
            if form == u64::from(gimli::DW_FORM_implicit_const.0) {
                skip_leb(bytes, &mut at)?;
            }
            if name == 0 && form == 0 {
                break;
            }
        }
        if this == code {
            return Some(start..at);
        }
    }
}

/// Reads an unsigned LEB128 at `*at`; `None` past the end or beyond 64 bits.
#[inline]
fn uleb(bytes: &[u8], at: &mut usize) -> Option<u64> {
    // Most attribute names and forms fit in one byte.
    let first = *bytes.get(*at)?;
    if first & 0x80 == 0 {
        *at += 1;
        return Some(u64::from(first));
    }
    uleb_long(bytes, at)
}

fn uleb_long(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        if shift >= 64 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
    }
}

/// Skips a LEB128 (signed or not) at `*at`; `None` past the end.
fn skip_leb(bytes: &[u8], at: &mut usize) -> Option<()> {
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        if byte & 0x80 == 0 {
            return Some(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_declaration_after_others_and_past_implicit_constants() {
        let table = [
            // 1: DW_TAG_base_type, no children, (DW_AT_name, DW_FORM_string), (const_value,
            // implicit_const -3), end.
            1, 0x24, 0, 0x03, 0x08, 0x1c, 0x21, 0x7d, 0, 0, //
            // 0x81 0x01 (129): DW_TAG_compile_unit, children, (DW_AT_name, DW_FORM_strp), end.
            0x81, 0x01, 0x11, 1, 0x03, 0x0e, 0, 0, //
            0,
        ];
        assert_eq!(find(&table, 1), Some(0..10));
        assert_eq!(find(&table, 129), Some(10..18));
        assert_eq!(find(&table, 2), None);
        assert_eq!(find(&table[..15], 129), None, "cut short");
    }

    #[test]
    fn leb128_past_64_bits_is_refused() {
        let bytes = [0xff; 11];
        assert_eq!(uleb(&bytes, &mut 0), None);
        assert_eq!(uleb(&[0xe5, 0x8e, 0x26], &mut 0), Some(624_485));
    }
}
