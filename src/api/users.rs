//! `/scim/v2/Users` (RFC 7644 §3 for the User resource type).

use actix_web::{delete, get, patch, post, put};

use crate::api::resources::resource_handlers;
use crate::api::schemas::{User, UserListResponse};
use crate::scim::schema::ResourceKind;

resource_handlers! {
    kind: ResourceKind::User, tag: "Users", name: "User",
    collection: "/Users", item: "/Users/{id}",
    body: User, list_body: UserListResponse,
    create: create_user, get: get_user, replace: replace_user, patch: patch_user,
    delete: delete_user, list: list_users,
}
