//! Shared helpers for the end-to-end tests: one loader for the public vectors in
//! `tests/vectors` (Wycheproof and RFC examples), so every test reads them the same way and
//! reports the failing vector by id.
//!
//! The vectors are byte-identical copies kept in the repository (provenance and licences in
//! `tests/vectors/README.md`). They are read-only; a wrong expectation is handled in the test
//! that reads it, never by editing the data.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The `tests/vectors` directory, found from this crate's manifest (`<repo>/tests/e2e`).
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors"))
}

/// Reads and parses one vector file, `rel` being relative to [`vectors_dir`]
/// (`wycheproof/ed25519_test.json`, `rfc/rfc7515_a2_rs256.json`, ...).
///
/// # Panics
/// When the file is missing or is not JSON: the vectors are a fixed part of the test setup.
pub fn load(rel: &str) -> Value {
    let path = vectors_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read vector file {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("vector file {} is not JSON: {e}", path.display()))
}

/// Reads a Wycheproof file from `wycheproof/` and checks that its test count is consistent.
///
/// # Panics
/// When the file is missing, does not have the Wycheproof layout, or its `numberOfTests`
/// disagrees with the tests it holds.
pub fn wycheproof(file: &str) -> Suite {
    let suite: Suite = serde_json::from_value(load(&format!("wycheproof/{file}")))
        .unwrap_or_else(|e| panic!("{file}: not a Wycheproof test file: {e}"));
    assert_eq!(
        suite.number_of_tests,
        suite.cases().count(),
        "{file}: numberOfTests disagrees with the file's test cases"
    );
    suite
}

/// Reads an RFC example from `rfc/`.
///
/// # Panics
/// As [`load`].
pub fn rfc(file: &str) -> Value {
    load(&format!("rfc/{file}"))
}

/// A Wycheproof test file (the layout common to every schema used here).
#[derive(Debug, Deserialize)]
pub struct Suite {
    /// The primitive, when the file names one (`ECDSA`, `RSASSA-PSS`, ...).
    #[serde(default)]
    pub algorithm: Option<String>,
    /// The number of test cases the file declares.
    #[serde(rename = "numberOfTests")]
    pub number_of_tests: usize,
    /// Flag explanations.
    #[serde(default)]
    pub notes: Map<String, Value>,
    /// The groups, each with its key and test cases.
    #[serde(rename = "testGroups")]
    pub groups: Vec<Group>,
}

impl Suite {
    /// Every test case of every group, in file order.
    pub fn cases(&self) -> impl Iterator<Item = &Case> {
        self.groups.iter().flat_map(|g| g.tests.iter())
    }
}

/// A group: one key (in whatever members the schema gives) and its test cases.
#[derive(Debug, Deserialize)]
pub struct Group {
    /// The test cases.
    pub tests: Vec<Case>,
    /// Every other member (`publicKey`, `publicKeyJwk`, `keyJwk`, `public`, `private`,
    /// `sha`, `sLen`, ...), kept raw.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Group {
    /// The member `name`, if present and not `null`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }
}

/// What Wycheproof expects of one test case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Must be accepted.
    Valid,
    /// Must be rejected.
    Invalid,
    /// Either answer is conformant.
    Acceptable,
}

/// One test case.
#[derive(Debug, Deserialize)]
pub struct Case {
    /// The id reported on failure.
    #[serde(rename = "tcId")]
    pub tc_id: u64,
    /// What the case exercises.
    #[serde(default)]
    pub comment: String,
    /// Flags, explained in [`Suite::notes`].
    #[serde(default)]
    pub flags: Vec<String>,
    /// The expected result.
    pub result: Expect,
    /// The signed message, hex (primitive files).
    #[serde(default)]
    pub msg: Option<String>,
    /// The signature, hex (primitive files).
    #[serde(default)]
    pub sig: Option<String>,
    /// The JWS, a compact string or a JSON serialization (JOSE files).
    #[serde(default)]
    pub jws: Option<Value>,
}

impl Case {
    /// Whether the case carries `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vectors_are_where_the_loader_looks() {
        assert!(
            vectors_dir().join("README.md").is_file(),
            "{}",
            vectors_dir().display()
        );
        let suite = wycheproof("json_web_key_test.json");
        assert_eq!(suite.number_of_tests, 26);
        assert!(suite.cases().any(|c| c.tc_id == 26));
    }
}

/// The README's code, compiled as doctests so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
