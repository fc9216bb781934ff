//! The loopback harness: the local HTTPS tenant, an actix-web server on a free port with the
//! middleware under test, and a real HTTP client.

#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use auth0_api::DomainPolicy;
use auth0_api::jose::jwk::Jwk;
use auth0_api::jose::sign::{Es256Signer, sign_compact};
use auth0_api::jose::verify::RUST_CRYPTO;
use auth0_api::verify::dpop::access_token_hash;
use auth0_api_actix::{Authenticated, Authorize, Claims, Policy, Protect, VerifierConfig};
use auth0_api_driver::system_clock;
use auth0_api_mock_tenant::{Alg, DEFAULT_AUDIENCE, MockTenant, TenantOptions, TokenSpec};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/.well-known/jwks.json";

pub fn tenant() -> MockTenant {
    MockTenant::start(TenantOptions::default()).unwrap()
}

/// The verifier configuration the tests start from: the tenant's issuer, its audience, the
/// tenant's algorithms, its IP-literal host allowed.
pub fn config(tenant: &MockTenant) -> VerifierConfig {
    VerifierConfig::new()
        .domain(tenant.issuer())
        .audience(DEFAULT_AUDIENCE)
        .algorithms(["RS256", "ES256"])
        .domain_policy(DomainPolicy::STRICT.with_ip_literals(true))
}

/// An SDK client over reqwest trusting the tenant's CA.
pub fn client(
    tenant: &MockTenant,
    config: VerifierConfig,
) -> Arc<auth0_api_driver::Client<auth0_api_reqwest::ReqwestTransport>> {
    let options = auth0_api_reqwest::ClientOptions {
        root_certificates_pem: vec![tenant.ca_pem().as_bytes().to_vec()],
        ..Default::default()
    };
    Arc::new(auth0_api_reqwest::client(config.build().unwrap(), options).unwrap())
}

/// The middleware over a fresh client for `tenant` with the default configuration.
pub fn protect(tenant: &MockTenant) -> Protect {
    Protect::new(client(tenant, config(tenant)))
}

pub fn mint(tenant: &MockTenant, spec: TokenSpec) -> String {
    tenant.mint_access_token(&spec).unwrap()
}

/// An RS256 token for the default audience, subject `user-1`.
pub fn token(tenant: &MockTenant) -> String {
    mint(tenant, spec().subject("user-1").scope("openid read:orders"))
}

pub fn spec() -> TokenSpec {
    TokenSpec::new(DEFAULT_AUDIENCE).alg(Alg::Rs256)
}

/// The typed claims of `/api/typed`.
#[derive(Debug, Deserialize)]
struct Profile {
    sub: String,
    org_id: String,
}

/// The application: every route under `/api` behind the middleware built by `protect` (given
/// the server's own origin), and two routes under `/bare` without it.
fn app(
    protect: Protect,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .service(
            web::scope("/api")
                .wrap(protect)
                .route(
                    "/me",
                    web::get().to(|user: Authenticated| async move {
                        HttpResponse::Ok().json(json!({
                            "sub": user.sub().unwrap(),
                            "scope": user.scope().unwrap(),
                            "dpop": user.scheme() == auth0_api::AuthScheme::DPoP,
                        }))
                    }),
                )
                .route(
                    "/typed",
                    web::get().to(|user: Authenticated<Profile>| async move {
                        let profile = user.into_inner();
                        HttpResponse::Ok()
                            .json(json!({"sub": profile.sub, "org_id": profile.org_id}))
                    }),
                )
                .route(
                    "/optional",
                    web::get().to(|user: Option<Authenticated>| async move {
                        let sub = user.map(|u| u.sub().unwrap().map(str::to_owned));
                        HttpResponse::Ok().json(json!({"sub": sub.flatten()}))
                    }),
                )
                .service(
                    web::resource("/orders")
                        .wrap(Authorize::new(Policy::new().all_scopes(["read:orders"])))
                        .route(web::get().to(|| async { HttpResponse::Ok().body("orders") })),
                )
                .service(
                    web::resource("/admin")
                        .wrap(Authorize::new(
                            Policy::new().any_permission(["orders:admin", "root"]),
                        ))
                        .route(web::get().to(|| async { HttpResponse::Ok().body("admin") })),
                ),
        )
        .service(
            web::scope("/bare")
                .route(
                    "/me",
                    web::get().to(|user: Authenticated| async move {
                        HttpResponse::Ok().body(format!("{:?}", user.sub()))
                    }),
                )
                .service(
                    web::resource("/orders")
                        .wrap(Authorize::new(Policy::new().all_scopes(["read:orders"])))
                        .route(web::get().to(|| async { HttpResponse::Ok().body("orders") })),
                )
                .route(
                    "/claims",
                    web::get().to(|claims: Option<Authenticated<Claims>>| async move {
                        HttpResponse::Ok().body(format!("{}", claims.is_some()))
                    }),
                ),
        )
}

/// A running server.
pub struct Api {
    /// `http://127.0.0.1:port`.
    pub origin: String,
    handle: ServerHandle,
    http: reqwest::Client,
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Every `WWW-Authenticate` header, in order.
    pub challenges: Vec<String>,
    pub content_type: Option<String>,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The `WWW-Authenticate` values as `&str`, for comparisons.
    pub fn challenges(&self) -> Vec<&str> {
        self.challenges.iter().map(String::as_str).collect()
    }

    /// The `error` of the JSON body.
    pub fn error(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }
}

impl Api {
    /// Starts the server; `protect` builds the middleware, given the server's origin.
    pub async fn start(protect: impl Fn(&str) -> Protect + Send + Clone + 'static) -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let for_app = origin.clone();
        let server = HttpServer::new(move || app(protect(&for_app)))
            .workers(2)
            // A client's EOF ends its request (and drops the verification) at once; actix-web
            // keeps serving half-closed connections by default.
            .h1_allow_half_closed(false)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Api {
            origin,
            handle,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.unwrap()).await
    }

    /// A GET of `path` that owns everything it needs, given its headers.
    pub fn get_owned(
        &self,
        path: &str,
    ) -> impl Fn(
        Vec<(String, String)>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>
    + use<> {
        let (http, url) = (self.http.clone(), self.url(path));
        move |headers| {
            let mut request = http.get(&url);
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            Box::pin(async move { read(request.send().await.unwrap()).await })
        }
    }

    pub async fn bearer(&self, path: &str, token: &str) -> Reply {
        self.get(path, &[("authorization", &format!("Bearer {token}"))])
            .await
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        challenges,
        content_type,
        body,
        text,
    }
}

/// A DPoP key: the tenant's ES256 client key, whose public JWK goes in each proof.
pub struct DpopKey {
    signer: Es256Signer,
    public: Map<String, Value>,
    /// The RFC 7638 thumbprint, for the token's `cnf.jkt`.
    pub jkt: String,
}

static JTI: AtomicU64 = AtomicU64::new(0);

impl DpopKey {
    pub fn new(tenant: &MockTenant) -> Self {
        let signer = Es256Signer::from_pkcs8_pem(tenant.es256_client().private_key_pem()).unwrap();
        let public = signer.public_jwk();
        let jkt = Jwk::from_members(&public, &RUST_CRYPTO)
            .unwrap()
            .thumbprint();
        Self {
            signer,
            public,
            jkt,
        }
    }

    /// A proof for `method` `url`, bound to `token`.
    pub fn proof(&self, method: &str, url: &str, token: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "jwk": self.public});
        let jti = format!("proof-{}", JTI.fetch_add(1, Ordering::SeqCst));
        let claims = json!({
            "jti": jti, "htm": method, "htu": url,
            "iat": system_clock().as_secs(), "ath": access_token_hash(token),
        });
        let (Value::Object(header), Value::Object(claims)) = (header, claims) else {
            unreachable!()
        };
        sign_compact(&header, &claims, &self.signer).unwrap()
    }
}
