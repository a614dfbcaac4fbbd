//! Byte layouts of the tables (FORMAT.md §4): where the arrays of an
//! [`EncodedTable`](crate::encode::EncodedTable) go, for vmlinux and for modules.
//!
//! Writers here produce bytes and symbol lists; readers ([`crate::decode`]) share only these
//! definitions.

pub mod v1;
pub mod v7;

/// One global symbol of the vmlinux tables, in `.rodata` link order.
///
/// `align` is the alignment the symbol needs (4 for u32 values and arrays, 1 for byte arrays);
/// `bytes` are in the target's byte order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub symbol: &'static str,
    pub align: u32,
    pub bytes: Vec<u8>,
}
