//! Per-`.ko` work: what to embed, how to embed it safely, and batches over `modules.order`.

pub mod batch;
pub mod cached;
pub mod embed;
pub mod lineinfo;
pub mod order;
