//! Caches.

pub mod jwks;
pub mod lru;
pub mod replay;
