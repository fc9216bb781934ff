//! Shared helpers for the end-to-end tests: loading the public vectors in `shared/vectors`.
