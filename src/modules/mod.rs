//! The module step: line tables for each `.ko`, embedded as sections ([`embed`]).
pub mod embed;
