//! The non-crypto work of a warm verification, for instruction counts: runs one step many
//! times with keys that accept any signature, so that a profiler such as callgrind counts
//! parsing, decoding, key lookup and claim checks alone, deterministically (unlike timings,
//! instruction counts do not move with the load of a shared machine).
//!
//! ```text
//! cargo bench -p auth0-api --bench profile --no-run    # prints the binary's path
//! valgrind --tool=callgrind <binary> es256 0           # start-up alone
//! valgrind --tool=callgrind <binary> es256 10000       # plus 10,000 steps
//! ```
//!
//! The difference of the two totals, divided by the count, is the cost of one step. Steps:
//! `es256` and `rs256` (a whole warm verification of the fixture token), `jws` (splitting and
//! decoding the ES256 token), `header` (reading its protected header), `claims` (reading its
//! claims). Build with `CARGO_PROFILE_BENCH_DEBUG=true` for annotated sources.

mod fixtures;

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use auth0_api::internals::{CompactJws, Header};
use auth0_api::{Claims, Limits};

use fixtures::{ACCEPT_ALL, ES256_TOKEN, NOW, RS256_TOKEN};

fn main() {
    // Flags (`--bench` from `cargo bench`, harness options) are not steps.
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let step = args.next().unwrap_or_else(|| String::from("es256"));
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let limits = Limits::default();
    match step.as_str() {
        "es256" | "rs256" => {
            let token = if step == "es256" {
                ES256_TOKEN
            } else {
                RS256_TOKEN
            };
            let verifier = fixtures::verifier(&ACCEPT_ALL);
            let mut caches = verifier.new_caches();
            fixtures::drive(&verifier, &mut caches, token, NOW);
            for _ in 0..count {
                black_box(fixtures::warm(&verifier, &caches, black_box(token), NOW));
            }
        }
        "jws" => {
            for _ in 0..count {
                black_box(CompactJws::parse(black_box(ES256_TOKEN), &limits).unwrap());
            }
        }
        "header" => {
            let segment = ES256_TOKEN.split('.').next().unwrap();
            let header = String::from_utf8(URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap();
            for _ in 0..count {
                black_box(Header::from_json(black_box(&header), limits.max_json_depth).unwrap());
            }
        }
        "claims" => {
            let jws = CompactJws::parse(ES256_TOKEN, &limits).unwrap();
            for _ in 0..count {
                let payload = black_box(jws.payload());
                black_box(Claims::from_payload(payload, limits.max_json_depth).unwrap());
            }
        }
        other => eprintln!("unknown step {other:?}: es256, rs256, jws, header or claims"),
    }
}
