//! Per-`.ko` work: one pipeline for every command that embeds ([`lineinfo`]), how to embed
//! safely, the cache record, and `modules.order`.

pub mod cached;
pub mod embed;
pub mod lineinfo;
pub mod order;
