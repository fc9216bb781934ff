//! Fuzz target bodies for `auth0-api`, one public function per target.
//!
//! Each body calls the public entry point a user calls and asserts the properties that must
//! hold for every input. The bodies live in `targets.rs`, which
//! `tests/e2e/tests/fuzz_corpus.rs` includes as well, so the checked-in corpus replays through
//! exactly the same code on stable without libFuzzer.

include!("targets.rs");
