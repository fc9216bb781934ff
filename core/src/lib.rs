//! Sans-IO verification of OAuth 2 / OpenID Connect access tokens for HTTP APIs, with DPoP
//! (RFC 9449) and token exchange (RFC 8693), for Auth0 and any standards-compliant server.
//!
//! This crate never opens a socket, reads a clock, sleeps, spawns or draws randomness. A
//! network-using operation is a *flow*: a value you drive. It emits descriptions of the HTTP
//! requests it needs ([`http::HttpRequest`]), consumes the responses you hand it, and takes
//! the current time ([`time::UnixTime`]) at every step.
//!
//! # Guarantees
//! - No I/O, no clock, no global state; `#![no_std]` with `alloc`.
//! - Untrusted input (tokens, JSON documents, HTTP responses) never panics, is bounded in
//!   size and nesting, and fails with a typed error that never echoes token contents.
//! - `none` and `HS*` cannot be represented as algorithms.
//!
//! # Features
//! - `std` (default): `std::error::Error` interop through `core::error::Error`.
//! - `http` (default): conversions to and from the `http` crate's types.
//! - `es384`, `es512`, `eddsa`: ES384, ES512 and EdDSA (Ed25519) signatures.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod cache;
pub mod claims;
pub mod config;
pub mod delegation;
pub mod discovery;
pub mod domain;
pub mod exchange;
pub mod extract;
pub mod flow;
pub mod http;
pub mod jose;
pub mod resource_metadata;
pub mod time;
pub mod verify;

pub use flow::{Action, FetchKey};
pub use time::UnixTime;
