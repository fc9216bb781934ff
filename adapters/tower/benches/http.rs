//! Server CPU and latency of one axum route over loopback HTTP, RustCrypto provider:
//! unprotected, protected by `ProtectLayer` (RS256, warm caches), guarded by a hand-written
//! `jsonwebtoken` check with a pre-parsed key (its RustCrypto backend), and the raw
//! signature check. See `common/mod.rs` for the method.
//!
//! ```text
//! cargo bench -p auth0-api-tower --features axum --bench http
//! ```

mod common;

use auth0_api::jose::verify::RUST_CRYPTO;
use criterion::{criterion_group, criterion_main};

fn bench(c: &mut criterion::Criterion) {
    jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
        .install_default()
        .expect("the first provider installed");
    common::run(c, "rust-crypto", &RUST_CRYPTO);
}

criterion_group!(benches, bench);
criterion_main!(benches);
