//! The API description: OpenAPI 3.1 generated from the handlers' annotations,
//! served at `/openapi.json`, and Swagger UI at `/docs`, bundled into the
//! binary (no CDN, works offline).

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};
use utoipa_swagger_ui::SwaggerUi;

use super::{account, admin, agencies, auth, barcode, flags, health, recalls, search};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "BabyShield API",
        description = "Product-safety recalls from 42 agencies. Every response carries `X-Request-ID` and \
                       `X-API-Version`; errors use the envelope `{ok: false, error: {code, message}, traceId}`."
    ),
    paths(
        health::live, health::ready, health::dependency_list, health::detailed,
        agencies::list, search::advanced, recalls::detail, recalls::list, recalls::stats,
        barcode::by_path, barcode::by_query,
        auth::register, auth::token, auth::login, auth::refresh, auth::logout, auth::me, auth::update_me,
        auth::change_password, auth::reset_request, auth::reset_confirm,
        account::delete_account, account::legacy_delete,
        admin::audit, admin::restore, admin::set_role, admin::ingest_runs, admin::ingest_quarantine, admin::cache,
        flags::list, flags::update,
    ),
    modifiers(&OperatorToken),
    tags((name = "recalls", description = "Recall catalogue"), (name = "auth", description = "Accounts and sign-in"),
         (name = "admin", description = "Admin only"), (name = "health", description = "Health and readiness"))
)]
pub struct ApiDoc;

struct OperatorToken;

impl Modify for OperatorToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("operator_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub fn router() -> Router {
    SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()).into()
}
