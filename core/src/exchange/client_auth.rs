//! Client authentication at the token endpoint: `client_secret_post`, `client_secret_basic`
//! (RFC 6749 section 2.3.1) and `private_key_jwt` (RFC 7523 sections 2.2 and 3, OIDC Core
//! section 9).
//!
//! [`ClientAuth::apply`] adds the credentials to a [`FormParams`] and returns the value of an
//! `Authorization` header when the method needs one. For `private_key_jwt` it signs a fresh
//! client assertion with `iss` = `sub` = client id, `aud` = the issuer, `iat` = now,
//! `exp` = now + 60 s and a `jti` made from 16 caller-supplied random bytes (the core draws
//! no randomness).

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt;
use core::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::{ExchangeError, InputError};
use super::params::{FormParams, encode_component};
use crate::jose::sign::{Signer, sign_compact};
use crate::time::UnixTime;

/// `client_assertion_type` for a JWT client assertion (RFC 7523 section 2.2).
pub(crate) const CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a client assertion: `exp` = `iat` + 60 s.
pub(crate) const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A client secret. `Debug` and `Display` print `[redacted]`.
///
/// Its memory is zeroized when it is dropped ([`ZeroizeOnDrop`]). It is neither `Clone` (no
/// copies to forget about) nor `PartialEq` (comparing secrets with `==` leaks their prefix
/// through timing); a [`TokenExchanger`](super::TokenExchanger) shares one copy between its
/// clones.
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret. A `String` moves in without a copy; a `&str` is copied, and the
    /// caller's copy stays the caller's to clear.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret itself.
    ///
    /// # Security
    /// Only for sending to the token endpoint; never log or display it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for ClientSecret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for ClientSecret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// Overwrites the secret with zeros and leaves it empty.
impl Zeroize for ClientSecret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for ClientSecret {}

/// Clones share the secret (one copy in memory, zeroized when the last clone drops).
#[derive(Clone)]
enum Method {
    SecretPost(Arc<ClientSecret>),
    SecretBasic(Arc<ClientSecret>),
    PrivateKeyJwt(Arc<dyn Signer>),
}

/// How the client authenticates to the token endpoint, with its client id.
///
/// `Debug` shows the method and client id only. Clones share the secret or signer; there is
/// no `PartialEq`.
#[derive(Clone)]
pub(crate) struct ClientAuth {
    client_id: String,
    method: Method,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("ClientAuth");
        s.field("client_id", &self.client_id)
            .field("method", &self.method_name());
        match &self.method {
            Method::SecretPost(secret) | Method::SecretBasic(secret) => {
                s.field("client_secret", secret)
            }
            Method::PrivateKeyJwt(signer) => s.field("signer", signer),
        };
        s.finish()
    }
}

fn check_client_id(client_id: String) -> Result<String, ExchangeError> {
    if client_id.trim().is_empty() {
        return Err(ExchangeError::Input(
            InputError::MissingClientAuthentication,
        ));
    }
    Ok(client_id)
}

impl ClientAuth {
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    ///
    /// # Errors
    /// [`InputError::MissingClientAuthentication`] for a blank client id or empty secret.
    pub(crate) fn client_secret_post(
        client_id: impl Into<String>,
        secret: ClientSecret,
    ) -> Result<Self, ExchangeError> {
        if secret.0.is_empty() {
            return Err(ExchangeError::Input(
                InputError::MissingClientAuthentication,
            ));
        }
        Ok(Self {
            client_id: check_client_id(client_id.into())?,
            method: Method::SecretPost(Arc::new(secret)),
        })
    }

    /// `client_secret_basic`: HTTP Basic with the form-urlencoded id and secret
    /// (RFC 6749 section 2.3.1).
    ///
    /// # Errors
    /// [`InputError::MissingClientAuthentication`] for a blank client id or empty secret.
    pub(crate) fn client_secret_basic(
        client_id: impl Into<String>,
        secret: ClientSecret,
    ) -> Result<Self, ExchangeError> {
        if secret.0.is_empty() {
            return Err(ExchangeError::Input(
                InputError::MissingClientAuthentication,
            ));
        }
        Ok(Self {
            client_id: check_client_id(client_id.into())?,
            method: Method::SecretBasic(Arc::new(secret)),
        })
    }

    /// `private_key_jwt`: a client assertion signed by `signer` (RFC 7523).
    ///
    /// # Errors
    /// [`InputError::MissingClientAuthentication`] for a blank client id.
    pub(crate) fn private_key_jwt(
        client_id: impl Into<String>,
        signer: Arc<dyn Signer>,
    ) -> Result<Self, ExchangeError> {
        Ok(Self {
            client_id: check_client_id(client_id.into())?,
            method: Method::PrivateKeyJwt(signer),
        })
    }

    /// Picks the method from configuration: a signing key wins over a secret (as upstream),
    /// a secret gives `client_secret_post`.
    ///
    /// # Errors
    /// [`InputError::MissingClientAuthentication`] without a client id or without any
    /// credential.
    pub(crate) fn from_config(
        client_id: Option<&str>,
        secret: Option<ClientSecret>,
        signer: Option<Arc<dyn Signer>>,
    ) -> Result<Self, ExchangeError> {
        let client_id = client_id.ok_or(ExchangeError::Input(
            InputError::MissingClientAuthentication,
        ))?;
        match (signer, secret) {
            (Some(signer), _) => Self::private_key_jwt(client_id, signer),
            (None, Some(secret)) => Self::client_secret_post(client_id, secret),
            (None, None) => Err(ExchangeError::Input(
                InputError::MissingClientAuthentication,
            )),
        }
    }

    /// The client id.
    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The method name as registered in OAuth metadata (`client_secret_post`,
    /// `client_secret_basic`, `private_key_jwt`).
    pub(crate) fn method_name(&self) -> &'static str {
        match self.method {
            Method::SecretPost(_) => "client_secret_post",
            Method::SecretBasic(_) => "client_secret_basic",
            Method::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }

    /// Adds the client credentials to `form` and returns the `Authorization` header value
    /// when the method sends one (`client_secret_basic`).
    ///
    /// `issuer` is the assertion audience and `random` the entropy for its `jti`; both are
    /// unused by the secret methods. Use fresh random bytes for every request.
    ///
    /// # Errors
    /// [`InputError::TimeOverflow`] and [`InputError::Signing`] for `private_key_jwt`.
    pub(crate) fn apply(
        &self,
        form: &mut FormParams,
        issuer: &str,
        now: UnixTime,
        random: &[u8; 16],
    ) -> Result<Option<String>, ExchangeError> {
        match &self.method {
            Method::SecretPost(secret) => {
                form.push("client_id", self.client_id.as_str());
                form.push("client_secret", secret.expose_secret());
                Ok(None)
            }
            Method::SecretBasic(secret) => {
                // RFC 6749 section 2.3.1: id and secret are form-urlencoded before Basic.
                // Sized for the worst case (every byte percent-encoded): no reallocation leaves
                // a copy of the secret behind.
                let mut credentials = Zeroizing::new(String::with_capacity(
                    3 * (self.client_id.len() + secret.expose_secret().len()) + 1,
                ));
                encode_component(&self.client_id, &mut credentials);
                credentials.push(':');
                encode_component(secret.expose_secret(), &mut credentials);
                let mut value = String::from("Basic ");
                STANDARD.encode_string(credentials.as_bytes(), &mut value);
                Ok(Some(value))
            }
            Method::PrivateKeyJwt(signer) => {
                let jti = jti_from_random(random);
                let assertion =
                    client_assertion(&self.client_id, issuer, now, &jti, signer.as_ref())?;
                form.push("client_id", self.client_id.as_str());
                form.push("client_assertion_type", CLIENT_ASSERTION_TYPE);
                form.push("client_assertion", assertion);
                Ok(None)
            }
        }
    }
}

/// A `jti` from 16 random bytes: base64url without padding (22 characters, 128 bits).
pub(crate) fn jti_from_random(random: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// Signs a client assertion (RFC 7523 section 3): `iss` = `sub` = `client_id`,
/// `aud` = `audience` (the issuer), `iat` = `now`, `exp` = `now` + 60 s, `jti` as given.
///
/// # Errors
/// [`InputError::TimeOverflow`] when `now + 60 s` overflows, [`InputError::Signing`].
pub(crate) fn client_assertion(
    client_id: &str,
    audience: &str,
    now: UnixTime,
    jti: &str,
    signer: &dyn Signer,
) -> Result<String, ExchangeError> {
    let exp = now
        .checked_add(ASSERTION_LIFETIME)
        .ok_or(ExchangeError::Input(InputError::TimeOverflow))?;
    let mut claims = Map::new();
    claims.insert("iss".into(), Value::from(client_id));
    claims.insert("sub".into(), Value::from(client_id));
    claims.insert("aud".into(), Value::from(audience));
    claims.insert("iat".into(), Value::from(now.as_secs()));
    claims.insert("exp".into(), Value::from(exp.as_secs()));
    claims.insert("jti".into(), Value::from(jti));
    Ok(sign_compact(&Map::new(), &claims, signer)?)
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeSet;
    use alloc::format;
    use alloc::vec::Vec;

    use super::*;
    use crate::exchange::params::decode_form;
    use crate::jose::Algorithm;
    use crate::jose::compact::{CompactJws, Limits};
    use crate::jose::jwk::Jwk;
    use crate::jose::provider::RUST_CRYPTO;
    use crate::jose::sign::{Es256Signer, SignError};

    const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI","kid":"key-1"}"#;
    const ISSUER: &str = "https://tenant.example.com/";
    const NOW: UnixTime = UnixTime::from_secs(1_700_000_000);

    fn signer() -> Es256Signer {
        Es256Signer::from_jwk(&serde_json::from_str(A3_JWK).unwrap()).unwrap()
    }

    fn random(i: u32) -> [u8; 16] {
        let mut r = [0u8; 16];
        r[..4].copy_from_slice(&i.to_be_bytes());
        r[15] = 0xa5;
        r
    }

    #[test]
    fn client_secret_post_puts_credentials_in_the_body() {
        let auth = ClientAuth::client_secret_post("cid", "s3cr&t".into()).unwrap();
        let mut form = FormParams::new();
        assert_eq!(auth.apply(&mut form, ISSUER, NOW, &[0; 16]).unwrap(), None);
        assert_eq!(form.get("client_id"), Some("cid"));
        assert_eq!(form.get("client_secret"), Some("s3cr&t"));
        assert_eq!(auth.method_name(), "client_secret_post");
    }

    #[test]
    fn client_secret_basic_form_encodes_before_base64() {
        let auth = ClientAuth::client_secret_basic("id:1 ü", "p@ss+w/rd:".into()).unwrap();
        let mut form = FormParams::new();
        let header = auth
            .apply(&mut form, ISSUER, NOW, &[0; 16])
            .unwrap()
            .unwrap();
        let b64 = header.strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
        assert_eq!(decoded, "id%3A1+%C3%BC:p%40ss%2Bw%2Frd%3A");
        assert!(form.pairs().is_empty());
    }

    #[test]
    fn missing_client_authentication() {
        let cases: Vec<Result<ClientAuth, ExchangeError>> = alloc::vec![
            ClientAuth::from_config(None, Some("s".into()), None),
            ClientAuth::from_config(Some("cid"), None, None),
            ClientAuth::from_config(Some(" "), Some("s".into()), None),
            ClientAuth::client_secret_post("cid", "".into()),
            ClientAuth::client_secret_basic("", "s".into()),
            ClientAuth::private_key_jwt("", Arc::new(signer())),
        ];
        for (i, c) in cases.into_iter().enumerate() {
            assert!(
                matches!(
                    c,
                    Err(ExchangeError::Input(
                        InputError::MissingClientAuthentication
                    ))
                ),
                "case {i}"
            );
        }
        let both = ClientAuth::from_config(Some("cid"), Some("s".into()), Some(Arc::new(signer())));
        assert_eq!(both.unwrap().method_name(), "private_key_jwt");
        let secret = ClientAuth::from_config(Some("cid"), Some("s".into()), None).unwrap();
        assert_eq!(secret.method_name(), "client_secret_post");
        assert_eq!(secret.client_id(), "cid");
    }

    /// T-76: every claim of the assertion, checked after verifying it with the JOSE layer.
    #[test]
    fn private_key_jwt_assertion_claims() {
        let signer = signer();
        let public = Jwk::from_members(&signer.public_jwk(), &RUST_CRYPTO).unwrap();
        let auth = ClientAuth::private_key_jwt("my-client", Arc::new(signer)).unwrap();
        let mut form = FormParams::new();
        assert_eq!(
            auth.apply(&mut form, ISSUER, NOW, &random(7)).unwrap(),
            None
        );
        assert_eq!(form.get("client_id"), Some("my-client"));
        assert_eq!(
            form.get("client_assertion_type"),
            Some(CLIENT_ASSERTION_TYPE)
        );
        assert_eq!(form.get("client_secret"), None);
        // The assertion survives form encoding intact.
        let decoded = decode_form(&form.encode()).unwrap();
        let assertion = decoded
            .iter()
            .find(|(n, _)| n == "client_assertion")
            .unwrap()
            .1
            .clone();

        let jws = CompactJws::parse(&assertion, &Limits::default()).unwrap();
        assert_eq!(jws.header().alg, Algorithm::ES256);
        assert_eq!(jws.header().kid.as_deref(), Some("key-1"));
        jws.verify(&public).unwrap();
        let claims: Map<String, Value> = serde_json::from_slice(jws.payload()).unwrap();
        assert_eq!(claims["iss"], "my-client");
        assert_eq!(claims["sub"], "my-client");
        assert_eq!(claims["aud"], ISSUER);
        assert_eq!(claims["iat"], NOW.as_secs());
        assert_eq!(claims["exp"], NOW.as_secs() + 60);
        assert_eq!(claims["jti"], jti_from_random(&random(7)));
        assert_eq!(claims.len(), 6, "{claims:?}");
        assert_eq!(jti_from_random(&random(7)).len(), 22);
    }

    #[test]
    fn jti_is_unique_across_assertions() {
        let signer = signer();
        let mut jtis = BTreeSet::new();
        let mut assertions = BTreeSet::new();
        for i in 0..10_000u32 {
            let jti = jti_from_random(&random(i));
            assert!(jtis.insert(jti.clone()), "jti repeated at {i}");
            if i < 50 {
                let a = client_assertion("c", ISSUER, NOW, &jti, &signer).unwrap();
                assert!(assertions.insert(a), "assertion repeated at {i}");
            }
        }
        // Two assertions with different jti at the same instant never share a jti claim.
        let a = client_assertion("c", ISSUER, NOW, &jti_from_random(&random(1)), &signer).unwrap();
        let b = client_assertion("c", ISSUER, NOW, &jti_from_random(&random(2)), &signer).unwrap();
        let claim = |t: &str| {
            let jws = CompactJws::parse(t, &Limits::default()).unwrap();
            serde_json::from_slice::<Map<String, Value>>(jws.payload()).unwrap()["jti"].clone()
        };
        assert_ne!(claim(&a), claim(&b));
    }

    #[test]
    fn assertion_time_overflow_is_an_error() {
        let r = client_assertion(
            "c",
            ISSUER,
            UnixTime::from_secs(u64::MAX - 10),
            "j",
            &signer(),
        );
        assert!(matches!(
            r,
            Err(ExchangeError::Input(InputError::TimeOverflow))
        ));
    }

    #[derive(Debug)]
    struct FailingKms;

    impl Signer for FailingKms {
        fn algorithm(&self) -> Algorithm {
            Algorithm::ES256
        }
        fn key_id(&self) -> Option<&str> {
            None
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, SignError> {
            Err(SignError::Signing)
        }
    }

    #[test]
    fn signer_failure_is_typed() {
        let auth = ClientAuth::private_key_jwt("c", Arc::new(FailingKms)).unwrap();
        let mut form = FormParams::new();
        let r = auth.apply(&mut form, ISSUER, NOW, &[1; 16]);
        assert!(matches!(
            r,
            Err(ExchangeError::Input(InputError::Signing(
                SignError::Signing
            )))
        ));
        assert!(form.pairs().is_empty());
    }

    #[test]
    fn debug_and_display_redact_secrets() {
        let secret = ClientSecret::new("hunter2-very-secret");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert!(!format!("{secret:?}").contains("hunter2"));
        let secret = || ClientSecret::new("hunter2-very-secret");
        for auth in [
            ClientAuth::client_secret_post("cid", secret()).unwrap(),
            ClientAuth::client_secret_basic("cid", secret()).unwrap(),
            ClientAuth::private_key_jwt("cid", Arc::new(signer())).unwrap(),
        ] {
            for dbg in [format!("{auth:?}"), format!("{:?}", auth.clone())] {
                assert!(!dbg.contains("hunter2") && !dbg.contains("jpsQ"), "{dbg}");
                assert!(dbg.contains("[redacted]") && dbg.contains("cid"), "{dbg}");
            }
        }
    }

    /// Resolves to one impl when `T` lacks the trait `Tr` of the second impl, and is
    /// ambiguous (a compile error) when `T` has it: a check that a type does NOT implement
    /// a trait.
    trait LacksTrait<Marker> {
        fn check() {}
    }
    impl<T: ?Sized> LacksTrait<()> for T {}

    struct HasPartialEq;
    impl<T: ?Sized + PartialEq> LacksTrait<HasPartialEq> for T {}
    struct HasClone;
    impl<T: Clone> LacksTrait<HasClone> for T {}

    fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn secrets_are_zeroized_on_drop_and_never_copied_or_compared() {
        zeroized_on_drop::<ClientSecret>();
        zeroized_on_drop::<crate::jose::sign::Es256Signer>();
        #[cfg(feature = "rsa-signing")]
        zeroized_on_drop::<crate::jose::sign::RsaSigner>();
        // Fails to compile if ClientSecret gains PartialEq or Clone.
        <ClientSecret as LacksTrait<_>>::check();

        let mut secret = ClientSecret::new(String::from("hunter2-very-secret"));
        secret.zeroize();
        assert_eq!(secret.expose_secret(), "");
        // An emptied secret is refused, not sent.
        assert!(matches!(
            ClientAuth::client_secret_post("cid", secret),
            Err(ExchangeError::Input(
                InputError::MissingClientAuthentication
            ))
        ));
    }

    #[test]
    fn clones_of_client_auth_share_one_secret() {
        let auth = ClientAuth::client_secret_basic("cid", "p@ss".into()).unwrap();
        let clone = auth.clone();
        let (Method::SecretBasic(a), Method::SecretBasic(b)) = (&auth.method, &clone.method) else {
            panic!("method changed on clone");
        };
        assert!(Arc::ptr_eq(a, b));
        assert_eq!(Arc::strong_count(a), 2);
        drop(clone);
        assert_eq!(Arc::strong_count(a), 1);
        let header = |auth: &ClientAuth| auth.apply(&mut FormParams::new(), ISSUER, NOW, &[0; 16]);
        assert_eq!(
            header(&auth).unwrap().as_deref(),
            Some("Basic Y2lkOnAlNDBzcw==")
        );
    }
}
