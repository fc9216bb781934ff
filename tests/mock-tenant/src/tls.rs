//! A throw-away certificate authority and the server certificate it issues for loopback.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::Error;

/// What `start` needs from the TLS set-up.
pub(crate) struct TlsMaterial {
    pub(crate) ca_pem: String,
    pub(crate) ca_der: Vec<u8>,
    pub(crate) leaf_der: Vec<u8>,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{what}: {e}"))
}

/// Creates a CA, a server certificate for `names` (by default `localhost` and `127.0.0.1`),
/// and a rustls configuration (ring provider, HTTP/1.1 only) serving it.
pub(crate) fn generate(names: &[String]) -> Result<TlsMaterial, Error> {
    let ca_key = KeyPair::generate().map_err(|e| tls_err("ca key generation failed", e))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| tls_err("ca parameters rejected", e))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "auth0-api mock tenant CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)
        .map_err(|e| tls_err("ca self-signing failed", e))?;

    let leaf_key = KeyPair::generate().map_err(|e| tls_err("server key generation failed", e))?;
    let mut leaf_params = CertificateParams::new(names.to_vec())
        .map_err(|e| tls_err("server parameters rejected", e))?;
    leaf_params.distinguished_name = DistinguishedName::new();
    leaf_params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca)
        .map_err(|e| tls_err("server certificate signing failed", e))?;

    let ca_cert: &rcgen::Certificate = ca.as_ref();
    let leaf_der = leaf.der().to_vec();
    let chain = vec![
        leaf.der().clone(),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("protocol versions rejected", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls_err("server certificate rejected", e))?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().to_vec(),
        leaf_der,
        server_config: Arc::new(server_config),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_exported_in_both_encodings() {
        let names = crate::TenantOptions::default().tls_names;
        let material = generate(&names).unwrap();
        assert!(material.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!material.ca_der.is_empty());
        assert_eq!(
            material.server_config.alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
        let other = generate(&names).unwrap();
        assert_ne!(
            material.ca_der, other.ca_der,
            "every tenant gets its own CA"
        );
    }
}
