//! The dashboard: server-rendered pages at `/ui/...` (and `/`), served by the API's
//! service. Sign-in is OIDC authorization code with PKCE against the API's issuer, or —
//! for a local install — an API key (the admin key printed at first start). A signed,
//! HttpOnly, Secure, SameSite=Lax cookie holds the session; every form carries a CSRF
//! token. Pages authorise exactly as the API does ([`crate::routes::access`]): another
//! account's objects are "not found". Output is escaped; charts are the backtest report's
//! SVG ([`tradewind_charts`]); no scripts.

mod pages;
pub mod session;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tradewind_ledger::accounts::now_nanos;

use crate::Api;
use crate::auth::Caller;
use crate::problem::ApiError;
use session::{LOGIN_CSRF, Nonce, Principal, SESSION, SIGN_IN, Session, SignIn, Signer};

/// The dashboard's settings.
#[derive(Clone, Debug)]
pub struct DashboardConfig {
    /// The OIDC client the dashboard signs users in as (at the API's issuer, see
    /// [`crate::Config::oidc`]); `None`: sign-in with an API key only.
    pub client_id: Option<String>,
    /// The client's secret, for an issuer that wants one besides PKCE.
    pub client_secret: Option<String>,
    /// The scopes asked for; the access token must be for the API's audience (Entra:
    /// `openid api://<api app>/<scope>`).
    pub scope: String,
    /// The dashboard's public base URL (`https://platform.example.com`): the redirect
    /// URI is `<it>/ui/callback`. `None`: `http://<Host header>` (a local install).
    pub public_url: Option<String>,
    /// The key signing cookies (32 bytes or more); random per start when not given
    /// (then a restart signs everyone out).
    pub session_key: Vec<u8>,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            client_id: None,
            client_secret: None,
            scope: "openid".into(),
            public_url: None,
            session_key: crate::random::<32>().to_vec(),
            session_ttl: Duration::from_secs(8 * 3600),
        }
    }
}

/// How long an OIDC sign-in may take between the redirect and the callback.
const SIGN_IN_TTL: i64 = 600;

/// The dashboard's state: the API's, and its cookie signer.
pub struct Dashboard {
    api: Arc<Api>,
    signer: Signer,
    endpoints: tokio::sync::OnceCell<Endpoints>,
}

/// The issuer's endpoints, from its discovery document.
#[derive(Clone, Deserialize)]
struct Endpoints {
    authorization_endpoint: String,
    token_endpoint: String,
}

fn now_secs() -> i64 {
    now_nanos() / 1_000_000_000
}

/// A page's failure, shown as a page.
pub struct Page(Response);

impl From<ApiError> for Page {
    fn from(e: ApiError) -> Self {
        let p = e.problem();
        if p.status >= 500 {
            tracing::warn!(status = p.status, reason = %e, "dashboard: failed");
        }
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Page(html(status, pages::error_page(&p.title, &p.detail)))
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        self.0
    }
}

/// An HTML answer with the headers every page carries: no scripts or foreign resources
/// may run (CSP), no caching of account data, no framing.
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// A signed-in viewer: the session and the caller it stands for (re-checked against the
/// ledger on every request: a revoked key or a removed admin loses its rights at once).
pub struct Viewer {
    /// The session.
    pub session: Session,
    /// The caller, as the API would see it.
    pub caller: Caller,
    /// The dashboard.
    pub ui: Arc<Dashboard>,
}

/// A request without a valid session: sent to the sign-in page.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        redirect("/ui/login", &[])
    }
}

impl FromRequestParts<Arc<Dashboard>> for Viewer {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, ui: &Arc<Dashboard>) -> Result<Self, Response> {
        let peer = parts
            .extensions
            .get::<tradewind_http::Peer>()
            .map(|p| p.0.ip().to_string())
            .unwrap_or_else(|| "unknown".into());
        ui.api
            .limits
            .check_address(&peer)
            .map_err(|e| Page::from(e).into_response())?;
        let session = session::cookie(&parts.headers, SESSION)
            .and_then(|c| ui.signer.open::<Session>(SESSION, c, now_secs()))
            .ok_or_else(|| SignInFirst.into_response())?;
        let failed = |e: ApiError| Page::from(e).into_response();
        let caller = match &session.who {
            Principal::User(subject) => Caller::user(&ui.api.ledger, subject.clone())
                .await
                .map_err(failed)?,
            Principal::Key(id) => match ui.api.ledger.api_key(id).await {
                Ok(Some(k)) if k.revoked_at.is_none() => k.into(),
                Ok(_) => return Err(SignInFirst.into_response()),
                Err(e) => return Err(failed(e.into())),
            },
        };
        ui.api
            .limits
            .check_caller(&caller)
            .map_err(|e| Page::from(e).into_response())?;
        Ok(Viewer {
            session,
            caller,
            ui: ui.clone(),
        })
    }
}

impl Viewer {
    /// The CSRF token of this session's forms.
    pub fn csrf(&self) -> String {
        self.ui.signer.csrf(&self.session.sid)
    }
}

/// A form's CSRF field.
#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// The sign-in form.
#[derive(Deserialize)]
struct KeyForm {
    csrf: String,
    key: String,
    secret: String,
}

/// The issuer's answer to the redirect.
#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

impl Dashboard {
    /// The dashboard over `api`.
    pub fn new(api: Arc<Api>) -> Self {
        let signer = Signer::new(&api.config.dashboard.session_key);
        Dashboard {
            api,
            signer,
            endpoints: tokio::sync::OnceCell::new(),
        }
    }

    fn oidc_client(&self) -> Option<&str> {
        self.api
            .oidc
            .as_ref()
            .and(self.api.config.dashboard.client_id.as_deref())
    }

    async fn endpoints(&self) -> Result<&Endpoints, ApiError> {
        let issuer = self
            .api
            .config
            .oidc
            .as_ref()
            .map(|o| o.issuer.trim_end_matches('/').to_owned())
            .ok_or_else(|| ApiError::NotFound("OIDC sign-in is not configured".into()))?;
        self.endpoints
            .get_or_try_init(|| async {
                let url = format!("{issuer}/.well-known/openid-configuration");
                let unavailable = |e: String| {
                    tracing::warn!(%url, error = %e, "dashboard: the issuer's discovery document cannot be read");
                    ApiError::Unavailable("the identity provider cannot be reached now".into())
                };
                let resp = self
                    .api
                    .http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| unavailable(e.to_string()))?;
                let body = resp.bytes().await.map_err(|e| unavailable(e.to_string()))?;
                serde_json::from_slice::<Endpoints>(&body).map_err(|e| unavailable(e.to_string()))
            })
            .await
    }

    fn redirect_uri(&self, headers: &HeaderMap) -> String {
        match &self.api.config.dashboard.public_url {
            Some(base) => format!("{}/ui/callback", base.trim_end_matches('/')),
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}/ui/callback")
            }
        }
    }

    fn signed_in(&self, who: Principal) -> Response {
        let ttl = self.api.config.dashboard.session_ttl.as_secs() as i64;
        let s = Session {
            who,
            exp: now_secs() + ttl,
            sid: session::random_token::<16>(),
        };
        redirect(
            "/ui/",
            &[
                session::set_cookie(SESSION, &self.signer.seal(SESSION, &s), Some(ttl)),
                session::set_cookie(SIGN_IN, "", Some(0)),
                session::set_cookie(LOGIN_CSRF, "", Some(0)),
            ],
        )
    }
}

async fn root() -> Response {
    redirect("/ui/", &[])
}

async fn login_page(State(ui): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    // The form's CSRF token binds to a nonce cookie (a login CSRF would sign the victim
    // in as the attacker).
    let nonce = session::cookie(&headers, LOGIN_CSRF)
        .and_then(|c| ui.signer.open::<Nonce>(LOGIN_CSRF, c, now_secs()))
        .map(|n| n.0)
        .unwrap_or_else(session::random_token::<16>);
    let mut r = html(
        StatusCode::OK,
        pages::login_page(ui.oidc_client().is_some(), &ui.signer.csrf(&nonce), None),
    );
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
        LOGIN_CSRF,
        &ui.signer.seal(LOGIN_CSRF, &Nonce(nonce)),
        None,
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn login_key(
    State(ui): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Result<Response, Page> {
    let nonce = session::cookie(&headers, LOGIN_CSRF)
        .and_then(|c| ui.signer.open::<Nonce>(LOGIN_CSRF, c, now_secs()))
        .ok_or_else(|| ApiError::Forbidden("the sign-in form expired; load it again".into()))?;
    if !ui.signer.csrf_ok(&nonce.0, &form.csrf) {
        return Err(ApiError::Forbidden("the form's CSRF token does not match".into()).into());
    }
    let refuse = |why: &str| {
        tracing::info!(key = %form.key, reason = why, "dashboard: key sign-in refused");
        html(
            StatusCode::UNAUTHORIZED,
            pages::login_page(
                ui.oidc_client().is_some(),
                &ui.signer.csrf(&nonce.0),
                Some("That key and secret do not sign in."),
            ),
        )
    };
    let Some(key) = ui
        .api
        .ledger
        .api_key(form.key.trim())
        .await
        .map_err(ApiError::from)?
    else {
        return Ok(refuse("unknown key"));
    };
    if key.revoked_at.is_some() {
        return Ok(refuse("revoked"));
    }
    let given = crate::auth::signing_key(form.secret.trim());
    // Compared in constant time (the stored value is a hash, but a timing oracle on it
    // is still one).
    let (x, y) = (given.as_bytes(), key.signing_key.as_bytes());
    if x.len() != y.len() || x.iter().zip(y).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0 {
        return Ok(refuse("wrong secret"));
    }
    tracing::info!(key = %key.id, "dashboard: signed in with a key");
    Ok(ui.signed_in(Principal::Key(key.id)))
}

async fn login_oidc(
    State(ui): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Result<Response, Page> {
    let client = ui
        .oidc_client()
        .ok_or_else(|| ApiError::NotFound("OIDC sign-in is not configured".into()))?
        .to_owned();
    let ep = ui.endpoints().await?;
    let sign_in = SignIn {
        state: session::random_token::<16>(),
        verifier: session::random_token::<32>(),
        redirect: ui.redirect_uri(&headers),
        exp: now_secs() + SIGN_IN_TTL,
    };
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client.as_str()),
        ("redirect_uri", sign_in.redirect.as_str()),
        ("scope", ui.api.config.dashboard.scope.as_str()),
        ("state", sign_in.state.as_str()),
        (
            "code_challenge",
            session::challenge(&sign_in.verifier).as_str(),
        ),
        ("code_challenge_method", "S256"),
    ])
    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let sep = if ep.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(redirect(
        &format!("{}{sep}{query}", ep.authorization_endpoint),
        &[session::set_cookie(
            SIGN_IN,
            &ui.signer.seal(SIGN_IN, &sign_in),
            Some(SIGN_IN_TTL),
        )],
    ))
}

async fn callback(
    State(ui): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> Result<Response, Page> {
    let refused = |why: String| -> Page {
        tracing::info!(reason = %why, "dashboard: OIDC sign-in refused");
        ApiError::Unauthenticated(why).into()
    };
    if let Some(e) = cb.error {
        return Err(refused(format!(
            "the identity provider refused: {e} {}",
            cb.error_description.unwrap_or_default()
        )));
    }
    let sign_in = session::cookie(&headers, SIGN_IN)
        .and_then(|c| ui.signer.open::<SignIn>(SIGN_IN, c, now_secs()))
        .ok_or_else(|| refused("no sign-in in progress in this browser (or it expired)".into()))?;
    if cb.state.as_deref() != Some(sign_in.state.as_str()) {
        return Err(refused(
            "state does not match this browser's sign-in".into(),
        ));
    }
    let code = cb
        .code
        .ok_or_else(|| refused("the answer has no code".into()))?;
    let client = ui
        .oidc_client()
        .ok_or_else(|| ApiError::NotFound("OIDC sign-in is not configured".into()))?
        .to_owned();
    let ep = ui.endpoints().await?;
    let mut form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", sign_in.redirect.clone()),
        ("client_id", client),
        ("code_verifier", sign_in.verifier.clone()),
    ];
    if let Some(secret) = &ui.api.config.dashboard.client_secret {
        form.push(("client_secret", secret.clone()));
    }
    let body =
        serde_urlencoded::to_string(&form).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let resp = ui
        .api
        .http
        .post(&ep.token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "dashboard: the token endpoint cannot be reached");
            ApiError::Unavailable("the identity provider cannot be reached now".into())
        })?;
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default();
    if !status.is_success() {
        return Err(refused(format!(
            "the identity provider did not give a token (HTTP {status})"
        )));
    }
    let answer: TokenAnswer = serde_json::from_slice(&bytes)
        .map_err(|e| refused(format!("the token answer does not read: {e}")))?;
    // The same checks as a bearer token on the API: issuer, audience, signature, expiry.
    let oidc = ui
        .api
        .oidc
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("OIDC sign-in is not configured".into()))?;
    let subject = oidc.verify(&answer.access_token).await?;
    tracing::info!(%subject, "dashboard: signed in with OIDC");
    Ok(ui.signed_in(Principal::User(subject)))
}

async fn logout(v: Viewer, Form(form): Form<CsrfForm>) -> Result<Response, Page> {
    if !v.ui.signer.csrf_ok(&v.session.sid, &form.csrf) {
        return Err(ApiError::Forbidden("the form's CSRF token does not match".into()).into());
    }
    Ok(redirect(
        "/ui/login",
        &[session::set_cookie(SESSION, "", Some(0))],
    ))
}

async fn not_found() -> Page {
    ApiError::NotFound("no such page".into()).into()
}

/// The dashboard's routes: `/` and `/ui/...`.
pub fn router(api: Arc<Api>) -> Router {
    let ui = Arc::new(Dashboard::new(api));
    let a = "/ui/accounts/{account}";
    Router::new()
        .route("/", get(root))
        .route("/ui", get(root))
        .route("/ui/", get(pages::home))
        .route("/ui/login", get(login_page).post(login_key))
        .route("/ui/login/oidc", get(login_oidc))
        .route("/ui/callback", get(callback))
        .route("/ui/logout", post(logout))
        .route(a, get(pages::account))
        .route(&format!("{a}/bots/{{bot}}"), get(pages::bot))
        .route(&format!("{a}/commissions"), get(pages::commissions))
        .route(&format!("{a}/statement.csv"), get(pages::statement_csv))
        .route(&format!("{a}/referrals"), get(pages::referrals))
        .route("/ui/{*rest}", get(not_found))
        .with_state(ui)
}
