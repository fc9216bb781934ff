//! JOSE building blocks: algorithms, JWK and JWK Sets, signature checks behind a
//! crypto-provider trait, and signers for client assertions. This module knows nothing of
//! OAuth.
//!
//! - [`Algorithm`]: the asymmetric algorithms; `none` and `HS*` cannot be represented.
//! - [`verify`]: the [`CryptoProvider`](verify::CryptoProvider) trait and the default
//!   RustCrypto provider, [`RUST_CRYPTO`](verify::RUST_CRYPTO).
//! - [`jwk`]: JSON Web Keys and Sets, and RFC 7638 thumbprints.
//! - [`sign`]: signers for `private_key_jwt` client assertions.
//!
//! Parsing compact JWS and their headers, and the bounded JSON reader, are internal.

pub(crate) mod alg;
#[cfg(feature = "aws-lc")]
pub mod aws_lc;
pub(crate) mod compact;
pub(crate) mod error;
pub(crate) mod header;
pub(crate) mod json;
pub mod jwk;
pub(crate) mod key;
pub(crate) mod provider;
pub mod sign;

pub mod verify {
    //! Signature checks behind a small crypto-provider trait, and the default RustCrypto
    //! provider.
    //!
    //! The JOSE logic (parsing, key selection, algorithm binding) never calls a crypto crate
    //! directly: it imports keys with a [`CryptoProvider`] once, when a JWK Set is loaded, and
    //! verifies through the resulting [`VerifyingKey`]. A faster backend is a second provider.
    pub use super::provider::{CryptoProvider, RUST_CRYPTO, RustCrypto, VerifyingKey};
}

pub use alg::{Algorithm, KeyType};
pub use compact::Limits;
pub use error::{JoseError, Segment};
pub use json::JsonError;
