//! Verifier configuration and its validation.

/// How DPoP-bound tokens (RFC 9449) are treated. Defaults to [`DpopMode::Allowed`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DpopMode {
    /// Bearer and DPoP tokens are both accepted; each is held to its own rules.
    #[default]
    Allowed,
    /// Only DPoP-bound tokens presented with the `DPoP` scheme and a valid proof.
    Required,
    /// Only the `Bearer` scheme; DPoP is ignored entirely (a token with `cnf.jkt` is accepted
    /// as a bearer token).
    Disabled,
}
