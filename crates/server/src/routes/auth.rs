//! `/api/v1/auth/*`: the contract's register, token, refresh and me, plus
//! JSON login, logout, password change and the password-reset flow.
//! Request bodies hold passwords, so none of these types derive `Debug`.

use std::collections::HashMap;

use axum::{
    Form, Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    accounts::{AuthUser, Profile, RequestMeta, TokenPair},
    envelope::Envelope,
    error::{ApiError, ApiResult},
    extract::ApiJson,
    request_id,
    state::AppState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/token", post(token))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me).put(update_me))
        .route("/api/v1/auth/password/change", post(change_password))
        .route("/api/v1/auth/password-reset/request", post(reset_request))
        .route("/api/v1/auth/password-reset/confirm", post(reset_confirm))
}

/// Longest field we read before validating (a 128-char password, an email).
const MAX_FIELD: usize = 1024;

fn bounded(field: &str, value: &str) -> ApiResult<()> {
    if value.len() > MAX_FIELD { Err(ApiError::invalid(field, "is too long")) } else { Ok(()) }
}

/// The OAuth2-style answer of `/auth/token` and `/auth/refresh`.
fn token_response(pair: TokenPair) -> Response {
    let mut body = serde_json::to_value(&pair).unwrap_or_default();
    body["ok"] = json!(true);
    body["traceId"] = json!(request_id::current());
    let mut response = Json(body).into_response();
    no_store(&mut response);
    response
}

/// The `data` of register and JSON login: the account and its first tokens.
fn signed_in(user_id: &str, pair: TokenPair) -> serde_json::Value {
    json!({
        "user_id": user_id,
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    })
}

/// Tokens must never be cached by a proxy or the client.
fn no_store(response: &mut Response) {
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, "no-store".parse().expect("static"));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    email: String,
    password: String,
    confirm_password: String,
}

/// Creates an account and signs it in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    params(("Idempotency-Key" = Option<String>, Header, description = "1..255 visible ASCII characters; a retry with the same key and body replays the first answer (`Idempotent-Replayed: true`) for 24 h")),
    request_body(content = serde_json::Value, description = "`{email, password, confirm_password}`; password 8..128 characters, not a common one"),
    responses((status = 201, description = "`data: {user_id, access_token, refresh_token}`"),
              (status = 400, description = "Invalid email or password (the message says which rule)"),
              (status = 403, description = "Registration is closed (feature flag `auth.registration_open`)"),
              (status = 409, description = "An account with this email exists, or a request with this Idempotency-Key is still running"),
              (status = 422, description = "This Idempotency-Key was used for a different request")))]
pub async fn register(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<Response> {
    let subject = meta.ip.map(|ip| ip.to_string()).unwrap_or_default();
    if !state.flags().is_enabled(crate::flags::REGISTRATION_OPEN, &subject) {
        return Err(ApiError::Forbidden("registration is closed".into()));
    }
    bounded("email", &body.email)?;
    bounded("password", &body.password)?;
    let (user_id, pair) =
        state.accounts().register(&meta, &body.email, body.password, &body.confirm_password).await?;
    let mut response = (StatusCode::CREATED, Envelope(signed_in(&user_id, pair))).into_response();
    no_store(&mut response);
    Ok(response)
}

const TOKEN_FIELDS: &[&str] = &["grant_type", "username", "password", "scope", "client_id", "client_secret"];

/// OAuth2 password grant, form-urlencoded (`username` is the email).
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth",
    request_body(content_type = "application/x-www-form-urlencoded", content = String, description = "`username=<email>&password=...` (`grant_type=password` optional)"),
    responses((status = 200, description = "`{access_token, refresh_token, token_type: \"bearer\", expires_in}`"),
              (status = 401, description = "Incorrect email or password (same answer for an unknown email)"),
              (status = 429, description = "Too many failed attempts; `Retry-After` says when to try again")))]
pub async fn token(
    State(state): State<AppState>,
    meta: RequestMeta,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> ApiResult<Response> {
    let Form(fields) = form.map_err(|e| match e {
        axum::extract::rejection::FormRejection::InvalidFormContentType(_) => {
            ApiError::UnsupportedMediaType("expected Content-Type: application/x-www-form-urlencoded".into())
        }
        other => ApiError::BadRequest(format!("cannot read form: {}", other.body_text())),
    })?;
    let mut unknown: Vec<String> =
        fields.keys().filter(|k| !TOKEN_FIELDS.contains(&k.as_str())).cloned().collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ApiError::UnknownFields(unknown));
    }
    if let Some(grant) = fields.get("grant_type").filter(|g| g.as_str() != "password") {
        return Err(ApiError::invalid(
            "grant_type",
            format!("unsupported grant type '{}'; use password", grant.chars().take(32).collect::<String>()),
        ));
    }
    let username = fields.get("username").ok_or_else(|| ApiError::invalid("username", "is required"))?;
    let password = fields.get("password").ok_or_else(|| ApiError::invalid("password", "is required"))?;
    bounded("username", username)?;
    bounded("password", password)?;
    let (_, pair) = state.accounts().login(&meta, username, password.clone()).await?;
    Ok(token_response(pair))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
}

/// JSON sign-in.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body(content = serde_json::Value, description = "`{email, password}`"),
    responses((status = 200, description = "`data: {user_id, access_token, refresh_token, token_type, expires_in}`"),
              (status = 401, description = "Incorrect email or password"), (status = 429, description = "Throttled")))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    bounded("email", &body.email)?;
    bounded("password", &body.password)?;
    let (user_id, pair) = state.accounts().login(&meta, &body.email, body.password).await?;
    let mut response = Envelope(signed_in(&user_id, pair)).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

/// New token pair for a refresh token (which is spent).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body(content = serde_json::Value, description = "`{refresh_token}`"),
    responses((status = 200, description = "A new `{access_token, refresh_token, token_type, expires_in}`"),
              (status = 401, description = "Unknown, expired or reused token (reuse ends the session)")))]
pub async fn refresh(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<RefreshBody>,
) -> ApiResult<Response> {
    bounded("refresh_token", &body.refresh_token)?;
    Ok(token_response(state.accounts().refresh(&meta, &body.refresh_token).await?))
}

/// Ends this session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "`data: {signedOut: true}`"), (status = 401, description = "Not signed in")))]
pub async fn logout(
    State(state): State<AppState>,
    meta: RequestMeta,
    user: AuthUser,
) -> ApiResult<Envelope<serde_json::Value>> {
    state.accounts().logout(&meta, &user).await?;
    Ok(Envelope(json!({ "signedOut": true })))
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "`data: {id, email, display_name, role, created_at, last_login_at}`"),
              (status = 401, description = "Not signed in, or the session was revoked")))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Response> {
    let mut response = Envelope(state.accounts().profile(&user).await?).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    display_name: Option<String>,
}

/// Updates the profile (display name).
#[utoipa::path(put, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    request_body(content = serde_json::Value, description = "`{display_name}` (null clears it)"),
    responses((status = 200, description = "The updated profile")))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<Response> {
    let profile: Profile = state.accounts().update_profile(&user, body.display_name).await?;
    let mut response = Envelope(profile).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// Changes the password; every session ends, this device gets new tokens.
#[utoipa::path(post, path = "/api/v1/auth/password/change", tag = "auth", security(("bearer" = [])),
    request_body(content = serde_json::Value, description = "`{current_password, new_password, confirm_password}`"),
    responses((status = 200, description = "A new token pair"), (status = 400, description = "Wrong current password or weak new one")))]
pub async fn change_password(
    State(state): State<AppState>,
    meta: RequestMeta,
    user: AuthUser,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> ApiResult<Response> {
    bounded("current_password", &body.current_password)?;
    bounded("new_password", &body.new_password)?;
    let pair = state
        .accounts()
        .change_password(&meta, &user, body.current_password, body.new_password, &body.confirm_password)
        .await?;
    Ok(token_response(pair))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    email: String,
}

/// Always the same answer; a mail goes out only if the account exists.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/request", tag = "auth",
    request_body(content = serde_json::Value, description = "`{email}`"),
    responses((status = 202, description = "The same answer whether or not the account exists")))]
pub async fn reset_request(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<ResetRequestBody>,
) -> ApiResult<Response> {
    bounded("email", &body.email)?;
    let email = state.accounts().validate_reset_request(&body.email)?;
    let accounts = state.accounts().clone();
    state.lifecycle().spawn(async move {
        if let Err(e) = accounts.send_reset(&meta, &email).await {
            tracing::warn!(request_id = %meta.request_id, error = ?e, "password reset mail not sent");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Envelope(
            json!({ "message": "If an account exists for this email, a reset code has been sent to it." }),
        ),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmBody {
    token: String,
    new_password: String,
    confirm_password: String,
}

/// Sets a new password with a reset token (single use, 30 minutes).
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body(content = serde_json::Value, description = "`{token, new_password, confirm_password}`"),
    responses((status = 200, description = "Password changed; every session ended"), (status = 400, description = "Invalid or expired token, or weak password")))]
pub async fn reset_confirm(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(body): ApiJson<ResetConfirmBody>,
) -> ApiResult<Envelope<serde_json::Value>> {
    bounded("new_password", &body.new_password)?;
    state.accounts().confirm_reset(&meta, &body.token, body.new_password, &body.confirm_password).await?;
    Ok(Envelope(json!({ "passwordChanged": true })))
}
