//! Verification cost over the raw signature check, in one run: for each provider and for
//! RS256 (2048-bit) and ES256, a warm verification through the flow (`poll_shared` on filled
//! caches) beside `Jwk::verify` on the same signing input with the same key. Also the cold
//! path (discovery and a 3-key JWK Set processed) and token-level parsing alone.
//!
//! Run: `cargo bench -p auth0-api --bench verify [--features aws-lc]`. Compare rows of the same
//! group as ratios; absolute times depend on the machine.

mod fixtures;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

use auth0_api::Claims;
use auth0_api::Limits;
use auth0_api::RequestContext;
use auth0_api::internals::CompactJws;
use auth0_api::internals::json::DEFAULT_MAX_DEPTH;
use auth0_api::jose::jwk::JwkSet;

use fixtures::{ES256_TOKEN, JWKS, NOW, RS256_TOKEN};

fn warm_against_raw(c: &mut Criterion) {
    for (name, provider) in fixtures::providers() {
        let verifier = fixtures::verifier(provider);
        let mut caches = verifier.new_caches();
        let keys = JwkSet::parse(JWKS.as_bytes(), provider).unwrap();
        for (alg, token) in [("RS256", RS256_TOKEN), ("ES256", ES256_TOKEN)] {
            fixtures::drive(&verifier, &mut caches, token, NOW);
            let jws = CompactJws::parse(token, &Limits::default()).unwrap();
            let key = keys.select(jws.header()).unwrap();
            let mut group = c.benchmark_group(format!("{alg}/{name}"));
            group.bench_function("raw_signature", |b| {
                b.iter(|| {
                    key.verify(
                        jws.header().alg,
                        black_box(jws.signing_input()),
                        black_box(jws.signature()),
                    )
                    .unwrap()
                })
            });
            group.bench_function("warm_verification", |b| {
                b.iter(|| fixtures::warm(&verifier, &caches, black_box(token), NOW))
            });
            group.finish();
        }
    }
}

fn cold(c: &mut Criterion) {
    let mut group = c.benchmark_group("cold");
    for (name, provider) in fixtures::providers() {
        let verifier = fixtures::verifier(provider);
        group.bench_function(format!("RS256/{name}/discovery_jwks_verify"), |b| {
            b.iter(|| {
                let mut caches = verifier.new_caches();
                fixtures::drive(&verifier, &mut caches, black_box(RS256_TOKEN), NOW)
            })
        });
        group.bench_function(format!("{name}/jwks_3_keys_parse_import"), |b| {
            b.iter(|| JwkSet::parse(black_box(JWKS.as_bytes()), provider).unwrap())
        });
    }
    group.finish();
}

fn parse(c: &mut Criterion) {
    let verifier = fixtures::verifier(&auth0_api::jose::verify::RUST_CRYPTO);
    let mut group = c.benchmark_group("parse");
    group.bench_function("RS256/compact_jws", |b| {
        b.iter(|| CompactJws::parse(black_box(RS256_TOKEN), &Limits::default()).unwrap())
    });
    let jws = CompactJws::parse(RS256_TOKEN, &Limits::default()).unwrap();
    group.bench_function("RS256/claims", |b| {
        b.iter(|| Claims::from_payload(black_box(jws.payload()), DEFAULT_MAX_DEPTH).unwrap())
    });
    group.bench_function("RS256/pre_network_checks", |b| {
        b.iter(|| {
            verifier
                .verify_access_token(black_box(RS256_TOKEN), &RequestContext::default())
                .unwrap()
        })
    });
    group.finish();
}

fn config() -> Criterion {
    fixtures::short_runs(Criterion::default())
}

criterion_group! {
    name = benches;
    config = config();
    targets = warm_against_raw, cold, parse
}
criterion_main!(benches);
