//! The HTTP layer: thin actix handlers that extract, call `provision`, and respond.
//! Routes are registered through utoipa so the OpenAPI document cannot drift from the code.

mod bulk;
mod discovery;
pub mod error;
pub mod extract;
mod groups;
mod health;
mod imports;
mod invitations;
mod logging;
mod onboarding;
pub(crate) mod resources;
mod routes;
mod schemas;
mod search;
mod users;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::{Modify, OpenApi as _};
use utoipa_actix_web::{scope, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::TokenVerifier;
use crate::provision::Provisioner;
use crate::scim::discovery::Capabilities;
use crate::scim::error::ScimError;
use error::ApiError;
pub use routes::RouteTable;

/// Everything a handler needs, shared by all workers. Holds no state another instance would
/// need: all of that is in the database.
pub struct AppState {
    pub provisioner: Provisioner,
    pub verifier: TokenVerifier,
    /// Public base URL (scheme://host[:port]) for absolute `meta.location`s; when `None`, the
    /// request's Host is used.
    pub public_url: Option<String>,
    /// Maximum request body size in bytes.
    pub body_limit: usize,
    pub capabilities: Capabilities,
    /// Answer group PATCH with 204 instead of 200 + body (Microsoft Entra's guidance).
    pub group_patch_no_content: bool,
    /// Where invitation links point and how long they live.
    pub invitations: crate::provision::invitations::InvitationSettings,
    /// Wakes this instance's outbox worker after messages were queued.
    pub outbox: crate::mail::outbox::OutboxWaker,
    /// CSV imports (docs/import.md).
    pub importer: crate::provision::import::Importer,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Roster",
        description = "SCIM 2.0 identity provisioning server (RFC 7643, RFC 7644). \
            Every SCIM route needs `Authorization: Bearer <JWT>`; the tenant comes from the token.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "Users", description = "SCIM Users"),
        (name = "Groups", description = "SCIM Groups"),
        (name = "Search", description = "Queries with a SearchRequest body (RFC 7644 §3.4.3)"),
        (name = "Bulk", description = "Many operations in one request (RFC 7644 §3.7)"),
        (name = "Discovery", description = "Service provider configuration, resource types and schemas"),
        (name = "Operations", description = "Health probes"),
        (name = "Invitations", description = "Invitation emails with a one-time link to set a password, and the tenant's invitation policy"),
        (name = "Onboarding", description = "The HTML page an invitation links to"),
        (name = "Imports", description = "CSV imports: upload, preview, commit, error report, operations, template and export (docs/import.md)"),
        (name = "Import profiles", description = "Saved column mappings for CSV imports"),
    ),
    components(schemas(error::ErrorResponse)),
    modifiers(&BearerSecurity)
)]
struct ApiDoc;

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A JWT from `roster token create` (claims: sub, tenant, scope, exp, jti)"))
                    .build(),
            ),
        );
    }
}

/// Builds the application and its OpenAPI document from one route registration.
pub fn build_app() -> (
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
    OpenApi,
) {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    App::new()
        .into_utoipa_app()
        .openapi(doc)
        .service(health::get_health)
        .service(health::get_readiness)
        .service(imports::get_import_template)
        .service(imports::create_import)
        .service(imports::list_imports)
        .service(imports::get_import)
        .service(imports::commit_import)
        .service(imports::get_import_errors)
        .service(imports::list_import_operations)
        .service(imports::export_users)
        .service(imports::list_import_profiles)
        .service(imports::replace_import_profile)
        .service(imports::get_import_profile)
        .service(imports::delete_import_profile)
        .service(imports::get_import_limits)
        .service(imports::replace_import_limits)
        .service(invitations::create_invitations)
        .service(invitations::get_invitation_policy)
        .service(invitations::replace_invitation_policy)
        .service(onboarding::get_set_password_page)
        .service(onboarding::set_password)
        .service(
            scope("/scim/v2")
                .service(users::list_users)
                .service(users::create_user)
                .service(users::get_user)
                .service(users::replace_user)
                .service(users::patch_user)
                .service(users::delete_user)
                .service(groups::list_groups)
                .service(groups::create_group)
                .service(groups::get_group)
                .service(groups::replace_group)
                .service(groups::patch_group)
                .service(groups::delete_group)
                .service(search::search_resources)
                .service(search::search_users)
                .service(search::search_groups)
                .service(bulk::run_bulk)
                .service(discovery::get_service_provider_config)
                .service(discovery::list_resource_types)
                .service(discovery::get_resource_type)
                .service(discovery::list_schemas)
                .service(discovery::get_schema),
        )
        .split_for_parts()
}

/// The OpenAPI document alone (for `roster openapi` and the pinned-document test).
pub fn openapi_document() -> OpenApi {
    build_app().1
}

/// The complete app: routes, docs UI, SCIM-shaped 404/405 and query errors, access log.
pub fn application(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, doc) = build_app();
    let routes = web::Data::new(RouteTable::from_openapi(&doc));
    app.app_data(state)
        .app_data(routes)
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::Scim(ScimError::invalid_value(format!("bad query parameter: {err}"))).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::Scim(ScimError::invalid_value(format!("bad path parameter: {err}"))).into()
        }))
        .service(web::redirect("/docs", "/docs/"))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", doc))
        .default_service(web::to(routes::unmatched))
        .wrap(actix_web::middleware::from_fn(logging::access_log))
}
