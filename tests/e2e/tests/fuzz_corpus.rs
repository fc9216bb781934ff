//! Replays every checked-in fuzz input (`fuzz/corpus/<target>/*`) through the same target
//! bodies as `cargo fuzz`, on stable and without libFuzzer, so a crash once found stays fixed.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

#[allow(unreachable_pub, dead_code, clippy::all)]
mod targets {
    include!("../../../fuzz/src/targets.rs");
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_target_has_seeds() {
    for (name, _) in targets::TARGETS {
        let dir = corpus_dir().join(name);
        let count = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .count();
        assert!(count >= 3, "{name}: only {count} seeds");
    }
}

#[test]
fn every_corpus_file_replays_without_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0usize;
    for (name, body) in targets::TARGETS {
        let dir = corpus_dir().join(name);
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let data = fs::read(&file).unwrap();
            if panic::catch_unwind(|| body(&data)).is_err() {
                failures.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0);
    assert!(failures.is_empty(), "inputs that panic: {failures:#?}");
}

#[test]
fn the_empty_flow_input_is_a_valid_token() {
    // `verify_flow` asserts success when every choice is the valid one; an empty input
    // decodes to exactly that, so this proves the target gets past the signature check.
    targets::verify_flow(&[]);
}

#[test]
fn the_empty_dpop_input_is_a_valid_proof() {
    // Likewise `dpop_proof` asserts acceptance when every choice is the valid one: an empty
    // input is a proof really signed by the bound key, so the target gets past the signature.
    targets::dpop_proof(&[]);
}
