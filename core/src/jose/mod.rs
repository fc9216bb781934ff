//! JOSE building blocks: compact JWS, protected headers, JWK and JWK Sets, signature checks
//! and RFC 7638 thumbprints. This module knows nothing of OAuth.

pub mod alg;
#[cfg(feature = "aws-lc")]
pub mod aws_lc;
pub mod compact;
pub mod error;
pub mod header;
pub mod json;
pub mod jwk;
pub mod sign;
pub mod verify;

pub use alg::{Algorithm, KeyType};
pub use error::{JoseError, Segment};
