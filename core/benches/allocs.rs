//! Heap use of verification, counted with an instrumented global allocator: allocations per
//! warm verification, and the bytes the caches keep for one tenant (discovery document and a
//! 3-key JWK Set with certificate chains).
//!
//! Run: `cargo bench -p auth0-api --bench allocs [--features aws-lc]`. With `aws-lc`, the
//! keys' memory inside aws-lc is allocated by the C library and is not counted here.

mod fixtures;

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

use fixtures::{ES256_TOKEN, NOW, RS256_TOKEN};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 1000;

fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    for (name, provider) in fixtures::providers() {
        let verifier = fixtures::verifier(provider);

        let mut caches = verifier.new_caches();
        let region = Region::new(GLOBAL);
        let claims = fixtures::drive(&verifier, &mut caches, RS256_TOKEN, NOW);
        drop(claims);
        let stats = region.change();
        // Reallocations are already counted in bytes (de)allocated by their size change.
        let held = stats.bytes_allocated as isize - stats.bytes_deallocated as isize;
        println!(
            "{name}: one tenant cached (discovery + 3-key JWKS): {held} bytes held in {} blocks \
             ({} allocations during the cold verification)",
            stats.allocations as isize - stats.deallocations as isize,
            stats.allocations,
        );

        for (alg, token) in [("RS256", RS256_TOKEN), ("ES256", ES256_TOKEN)] {
            fixtures::drive(&verifier, &mut caches, token, NOW);
            let region = Region::new(GLOBAL);
            for _ in 0..ROUNDS {
                let claims = fixtures::warm(&verifier, &caches, token, NOW);
                drop(claims);
            }
            let stats = region.change();
            println!(
                "{name}: warm {alg} verification: {:.1} allocations, {:.0} bytes allocated, \
                 {} bytes not freed over {ROUNDS} rounds",
                stats.allocations as f64 / ROUNDS as f64,
                stats.bytes_allocated as f64 / ROUNDS as f64,
                stats.bytes_allocated as isize - stats.bytes_deallocated as isize,
            );
        }
    }
}
