//! JOSE building blocks: compact JWS, protected headers, JWK and JWK Sets, signature checks
//! and RFC 7638 thumbprints. This module knows nothing of OAuth.
//!
//! Its parts depend on each other in one direction, leaves first: [`json`] and [`error`],
//! then [`alg`], [`header`], [`key`] (decoded public key material), [`provider`] (importing
//! that material into verifying keys), [`jwk`], [`compact`], and last [`sign`].

pub mod alg;
#[cfg(feature = "aws-lc")]
pub mod aws_lc;
pub mod compact;
pub mod error;
pub mod header;
pub mod json;
pub mod jwk;
pub mod key;
pub mod provider;
pub mod sign;

/// The crypto-provider module under its former name.
pub use provider as verify;

pub use alg::{Algorithm, KeyType};
pub use error::{JoseError, Segment};
