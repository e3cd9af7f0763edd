//! The API description: OpenAPI 3.1 generated from the handlers' annotations,
//! served at `/openapi.json`, and Swagger UI at `/docs`, bundled into the
//! binary (no CDN, works offline).

use axum::Router;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        Deprecated,
        path::{Operation, PathItem},
        security::{Http, HttpAuthScheme, SecurityScheme},
    },
};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    account, admin, agencies, auth, barcode, family, flags, health, monitoring, recalls, safety, search,
    user_data, v2,
};
use crate::middleware::deprecation::{self, SUPERSEDED};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "BabyShield API",
        description = "Product-safety recalls from 42 agencies. Every response carries `X-Request-ID` and \
                       `X-API-Version` (`v1`, or `v2` under `/api/v2`).\n\n\
                       **v1** (`/api/v1`): success `{ok: true, data, traceId}`, errors \
                       `{ok: false, error: {code, message}, traceId}`.\n\n\
                       **v2** (`/api/v2`, the lists and the search): success \
                       `{data: [...], page: {nextCursor, hasMore, limit}}`, errors `{error: {code, message}}` \
                       with v1's codes and statuses; the request id is only in `X-Request-ID`. Paging is by \
                       cursor only: no `offset` and no `total`. The v1 routes v2 supersedes are marked \
                       deprecated and answer `Deprecation`, `Sunset` and `Link: <...>; rel=\"successor-version\"`."
    ),
    paths(
        health::live, health::ready, health::dependency_list, health::detailed,
        agencies::list, search::advanced, recalls::detail, recalls::list, recalls::stats,
        barcode::by_path, barcode::by_query,
        auth::register, auth::token, auth::login, auth::refresh, auth::logout, auth::me, auth::update_me,
        auth::change_password, auth::reset_request, auth::reset_confirm,
        account::delete_account, account::legacy_delete,
        admin::audit, admin::restore, admin::set_role, admin::cache,
        admin::ingest_runs, admin::ingest_quarantine, admin::ingest_trigger,
        flags::list, flags::update,
        family::list, family::create, family::detail, family::update, family::remove, family::restore,
        safety::safety_check, safety::scan_image, safety::bulk,
        monitoring::list_watches, monitoring::watch, monitoring::unwatch, monitoring::notifications,
        monitoring::read_one, monitoring::read_all, monitoring::list_webhooks, monitoring::create_webhook,
        monitoring::delete_webhook,
        user_data::export, user_data::preferences, user_data::set_preferences, user_data::history,
        user_data::clear_history,
        v2::search, v2::recalls, v2::members, v2::watches, v2::notifications, v2::scan_history,
    ),
    modifiers(&SecuritySchemes, &Deprecations, &UniqueOperationIds),
    tags((name = "recalls", description = "Recall catalogue"), (name = "auth", description = "Accounts and sign-in"),
         (name = "family", description = "Family members, safety checks, watched products, alerts and your data"),
         (name = "v2", description = "API v2: cursor-only lists and search in the `{data, page}` envelope"),
         (name = "admin", description = "Admin only"), (name = "health", description = "Health and readiness"))
)]
pub struct ApiDoc;

/// `bearer`: a user's access token; `operator_token`: the operator's.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components
            .add_security_scheme("operator_token", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Marks the v1 operations that v2 supersedes `deprecated`, from the same
/// table that adds their `Deprecation`/`Sunset` headers.
struct Deprecations;

impl Modify for Deprecations {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for entry in SUPERSEDED {
            let item = openapi.paths.paths.get_mut(entry.path);
            let operation = item.and_then(|item| match entry.method {
                "GET" => item.get.as_mut(),
                "POST" => item.post.as_mut(),
                _ => None,
            });
            let Some(operation) = operation else { continue };
            operation.deprecated = Some(Deprecated::True);
            let notice = deprecation::notice(entry);
            operation.description = Some(match operation.description.take() {
                Some(text) if !text.is_empty() => format!("{notice}\n\n{text}"),
                _ => notice,
            });
        }
    }
}

/// Operation ids must be unique in a document (code generators name
/// methods after them), but utoipa takes them from handler names, and
/// several modules have a `list` or a `detail`. An id used more than once
/// becomes `<method>_<path>` (`get_api_v1_recalls`); unique ones stay.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut uses = std::collections::HashMap::<String, usize>::new();
        for item in openapi.paths.paths.values() {
            for operation in operations(item) {
                *uses.entry(operation.operation_id.clone().unwrap_or_default()).or_default() += 1;
            }
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in operations_mut(item) {
                let id = operation.operation_id.clone().unwrap_or_default();
                if id.is_empty() || uses[&id] > 1 {
                    let words = path.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty());
                    operation.operation_id =
                        Some(std::iter::once(method).chain(words).collect::<Vec<_>>().join("_"));
                }
            }
        }
    }
}

fn operations(item: &PathItem) -> impl Iterator<Item = &Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.options, &item.head, &item.patch, &item.trace]
        .into_iter()
        .flatten()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

pub fn router() -> Router {
    SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_superseded_operation_is_documented_and_marked() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for entry in SUPERSEDED {
            let operation = &doc["paths"][entry.path][entry.method.to_lowercase()];
            assert_eq!(operation["deprecated"], true, "{} {}", entry.method, entry.path);
            assert!(doc["paths"][entry.successor].is_object(), "{} is documented", entry.successor);
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = ApiDoc::openapi();
        let mut seen = std::collections::HashSet::new();
        for (path, item) in &doc.paths.paths {
            for operation in operations(item) {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(!id.is_empty(), "{path}");
                assert!(seen.insert(id.clone()), "{id} is used twice");
            }
        }
        assert!(seen.contains("get_api_v1_recalls") && seen.contains("get_api_v1_family_members"));
        assert!(seen.contains("v2_search") && seen.contains("advanced"), "unique ids are kept");
    }
}
