//! `/scim/v2/Groups` (RFC 7644 §3 for the Group resource type).

use actix_web::{delete, get, patch, post, put};

use crate::api::resources::resource_handlers;
use crate::api::schemas::{Group, GroupListResponse};
use crate::scim::schema::ResourceKind;

resource_handlers! {
    kind: ResourceKind::Group, tag: "Groups", name: "Group",
    collection: "/Groups", item: "/Groups/{id}",
    body: Group, list_body: GroupListResponse,
    create: create_group, get: get_group, replace: replace_group, patch: patch_group,
    delete: delete_group, list: list_groups,
}
