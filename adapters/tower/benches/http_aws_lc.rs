//! The `http` bench on the aws-lc provider: the layer's verifier and the hand-written
//! `jsonwebtoken` check (its aws-lc-rs backend) both verify with aws-lc.
//!
//! ```text
//! cargo bench -p auth0-api-tower --features axum --bench http_aws_lc
//! ```

mod common;

use auth0_api::jose::aws_lc::AWS_LC;
use criterion::{criterion_group, criterion_main};

fn bench(c: &mut criterion::Criterion) {
    jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
        .install_default()
        .expect("the first provider installed");
    common::run(c, "aws-lc", &AWS_LC);
}

criterion_group!(benches, bench);
criterion_main!(benches);
