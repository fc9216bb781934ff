//! Token exchange.

pub mod client_auth;
pub mod error;
pub mod params;
pub mod response;
