//! Warm verification over the raw signature check, measured interleaved: each round times a
//! batch of raw checks and a batch of warm verifications back to back (alternating which goes
//! first), so drift and noise on a shared machine hit both sides alike. Reports the median of
//! each side, the ratio of the medians, and the median per-round difference: the cost of
//! everything but the signature.
//!
//! A third row per provider runs the same warm verification with a provider whose keys
//! accept any signature: that is the non-crypto part (parse, decode, key lookup, claim
//! checks) measured directly.
//!
//! Run: `cargo bench -p auth0-api --bench ratio [--features aws-lc]`.

mod fixtures;

use std::hint::black_box;
use std::time::Instant;

use auth0_api::Limits;
use auth0_api::internals::CompactJws;
use auth0_api::jose::jwk::JwkSet;

use fixtures::{ACCEPT_ALL, ES256_TOKEN, JWKS, NOW, RS256_TOKEN};

const ROUNDS: usize = 300;
const BATCH: usize = 20;

/// Nanoseconds per call of `f`, over one batch.
fn batch(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..BATCH {
        f();
    }
    start.elapsed().as_nanos() as f64 / BATCH as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    println!(
        "{:<22} {:>12} {:>12} {:>7} {:>14} {:>14}",
        "", "raw (us)", "warm (us)", "ratio", "warm-raw (us)", "no crypto (us)"
    );
    for (name, provider) in fixtures::providers() {
        let verifier = fixtures::verifier(provider);
        let mut caches = verifier.new_caches();
        let keys = JwkSet::parse(JWKS.as_bytes(), provider).unwrap();
        let free = fixtures::verifier(&ACCEPT_ALL);
        let mut free_caches = free.new_caches();
        for (alg, token) in [("RS256", RS256_TOKEN), ("ES256", ES256_TOKEN)] {
            fixtures::drive(&verifier, &mut caches, token, NOW);
            fixtures::drive(&free, &mut free_caches, token, NOW);
            let jws = CompactJws::parse(token, &Limits::default()).unwrap();
            let key = keys.select(jws.header()).unwrap();
            let raw = || {
                key.verify(
                    jws.header().alg,
                    black_box(jws.signing_input()),
                    black_box(jws.signature()),
                )
                .unwrap()
            };
            let warm = || {
                black_box(fixtures::warm(&verifier, &caches, black_box(token), NOW));
            };
            let no_crypto = || {
                black_box(fixtures::warm(&free, &free_caches, black_box(token), NOW));
            };
            // Warm-up.
            for _ in 0..BATCH {
                raw();
                warm();
                no_crypto();
            }
            let (mut raws, mut warms, mut diffs, mut frees) = (vec![], vec![], vec![], vec![]);
            for round in 0..ROUNDS {
                let (r, w) = if round % 2 == 0 {
                    let r = batch(raw);
                    (r, batch(warm))
                } else {
                    let w = batch(warm);
                    (batch(raw), w)
                };
                raws.push(r);
                warms.push(w);
                diffs.push(w - r);
                frees.push(batch(no_crypto));
            }
            let (r, w) = (median(&mut raws), median(&mut warms));
            println!(
                "{:<22} {:>12.2} {:>12.2} {:>7.3} {:>14.2} {:>14.2}",
                format!("{alg}/{name}"),
                r / 1e3,
                w / 1e3,
                w / r,
                median(&mut diffs) / 1e3,
                median(&mut frees) / 1e3,
            );
        }
    }
}
