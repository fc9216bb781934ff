//! Domain to issuer normalisation (placeholder until the full module lands).

use alloc::string::String;

/// A normalised issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer(String);

/// Why a domain was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainError;

impl Issuer {
    /// Normalises a domain.
    ///
    /// # Errors
    /// When the domain is not valid.
    pub fn from_domain(input: &str) -> Result<Self, DomainError> {
        let t = input.trim();
        let host = t
            .strip_prefix("https://")
            .unwrap_or(t)
            .trim_end_matches('/');
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return Err(DomainError);
        }
        Ok(Self(alloc::format!(
            "https://{}/",
            host.to_ascii_lowercase()
        )))
    }

    /// The issuer string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
