//! Verification.

pub mod challenge;
pub mod context;
pub mod dpop;
pub mod error;
