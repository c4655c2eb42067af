//! The provisioning use cases shared by the SCIM API, `/Bulk` and the CSV importer:
//! load → check ETag → apply → validate → save, each write in one transaction.

use std::sync::Arc;

use serde_json::Value;

use crate::scim::error::ScimError;
use crate::scim::etag::{ETag, Precondition};
use crate::scim::filter::matches;
use crate::scim::patch::{apply_patch, parse_patch_request, MemberChange, PatchOperation};
use crate::scim::resource::{normalize_resource, MemberRef, WriteMode};
use crate::scim::schema::{ResourceKind, ResourceSchema, SchemaRegistry};
use crate::store::{
    GroupEntry, ListQuery, MemberEntry, MembershipSource, NewMember, Repository, ResourceWrite, Store, StoreError,
    StoredResource,
};
use crate::tenant::TenantId;

mod bulk;
pub mod import;
pub mod invitations;
mod password;
mod search;

pub use bulk::{BulkOutcome, BulkSuccess};
pub use password::{hash_password, verify_password};
pub use search::{Paging, SearchPage, SearchQuery, SearchScope};

/// Why a use case failed: a protocol error to show the caller, or a storage failure.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ProvisionError {
    fn from(error: StoreError) -> ProvisionError {
        match error {
            StoreError::Query(e) => ProvisionError::Scim(e),
            other => ProvisionError::Store(other),
        }
    }
}

pub type ProvisionResult<T> = Result<T, ProvisionError>;

/// A resource with what its response needs beyond its own row.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceView {
    pub kind: ResourceKind,
    pub stored: StoredResource,
    /// A user's groups or a group's members; `None` when the caller did not ask for them.
    pub relations: Option<Relations>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Relations {
    Groups(Vec<GroupEntry>),
    Members(Vec<MemberEntry>),
}

/// A listing page with its total.
#[derive(Debug, Clone, PartialEq)]
pub struct ListView {
    pub total_results: u64,
    pub start_index: u64,
    pub resources: Vec<ResourceView>,
}

/// How many times a write is retried after a concurrent change to the same resource (or to a
/// user or group whose change gives it a new version, see store/dependent_versions.rs).
const CONCURRENT_RETRIES: u32 = 10;

/// The use cases, over one store and one schema registry.
#[derive(Clone)]
pub struct Provisioner {
    store: Store,
    schemas: Arc<SchemaRegistry>,
}

impl Provisioner {
    pub fn new(store: Store, schemas: Arc<SchemaRegistry>) -> Provisioner {
        Provisioner { store, schemas }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// These use cases, each refusing with [`StoreError::TokenRevoked`] once token `jti` is
    /// revoked, checked on the use case's own connection ([`Store::checking_token`]).
    pub fn checking_token(&self, jti: &str) -> Provisioner {
        Provisioner { store: self.store.checking_token(jti), schemas: self.schemas.clone() }
    }

    pub fn schemas(&self) -> &SchemaRegistry {
        &self.schemas
    }

    /// POST: validates, stores, and for groups adds the listed members (RFC 7644 §3.3).
    pub fn create(&self, tenant: &TenantId, kind: ResourceKind, body: &Value) -> ProvisionResult<ResourceView> {
        let schema = self.schemas.resource(kind);
        let body = crate::scim::quirks::wrap_bare_references_in_body(schema, body);
        let normalized = normalize_resource(schema, &body, WriteMode::Create)?;
        let password_hash = normalized.password.as_deref().map(hash_password).transpose()?;
        let id = new_resource_id();
        let write = ResourceWrite { data: normalized.data, password_hash };
        self.store.write(|repo| {
            let stored = insert_resource(repo, tenant, kind, &id, &write, normalized.members.as_deref())?;
            match kind {
                // A user created a moment ago under a fresh id belongs to no group yet.
                ResourceKind::User => Ok(ResourceView { kind, stored, relations: Some(Relations::Groups(Vec::new())) }),
                ResourceKind::Group => with_relations(repo, tenant, kind, stored, true),
            }
        })
    }

    /// GET by id; `relations` says whether groups/members are needed for the response.
    pub fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        relations: bool,
    ) -> ProvisionResult<ResourceView> {
        self.store.read(|repo| {
            let stored = repo.get(tenant, kind, id)?.ok_or_else(|| not_found(kind, id))?;
            with_relations(repo, tenant, kind, stored, relations)
        })
    }

    /// PUT (RFC 7644 §3.5.1): replaces the resource, keeping what the identity-provider quirks
    /// say to keep; for groups a present `members` list replaces the memberships.
    pub fn replace(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        precondition: &Precondition,
    ) -> ProvisionResult<ResourceView> {
        let schema = self.schemas.resource(kind);
        let body = crate::scim::quirks::wrap_bare_references_in_body(schema, body);
        let mut password_hash: Option<Option<String>> = None;
        self.retrying(|repo| {
            let current = repo.get(tenant, kind, id)?.ok_or_else(|| not_found(kind, id))?;
            precondition.check(&ETag::of(current.version))?;
            let body = crate::scim::quirks::keep_omitted_on_replace(kind, &body, &current.data);
            let normalized = normalize_resource(schema, &body, WriteMode::Replace { existing: &current.data })?;
            if password_hash.is_none() {
                password_hash = Some(normalized.password.as_deref().map(hash_password).transpose()?);
            }
            let write = ResourceWrite { data: normalized.data, password_hash: password_hash.clone().flatten() };
            let mut stored = repo
                .update(tenant, kind, id, current.version, &write)
                .map_err(|e| conflict_detail(e, kind, &write.data))?;
            if let Some(members) = &normalized.members {
                let members = resolve_members(repo, tenant, members)?;
                repo.remove_all_members(tenant, id)?;
                repo.add_members(tenant, id, &members, MembershipSource::Scim)?;
                stored = repo.touch(tenant, kind, id)?;
            }
            with_relations(repo, tenant, kind, stored, true)
        })
    }

    /// PATCH (RFC 7644 §3.5.2): all operations apply atomically or not at all. Group member
    /// changes become set operations on the membership table, so concurrent PATCHes of one
    /// group never lose each other's members.
    pub fn patch(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        precondition: &Precondition,
        relations: bool,
    ) -> ProvisionResult<ResourceView> {
        let operations = parse_patch_request(body)?;
        let schema = self.schemas.resource(kind);
        self.retrying(|repo| {
            let current = repo.get(tenant, kind, id)?.ok_or_else(|| not_found(kind, id))?;
            precondition.check(&ETag::of(current.version))?;
            let stored = patch_resource(repo, schema, tenant, &current, &operations)?;
            with_relations(repo, tenant, kind, stored, relations)
        })
    }

    /// DELETE (RFC 7644 §3.6): removes the resource and every membership naming it.
    pub fn delete(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        precondition: &Precondition,
    ) -> ProvisionResult<()> {
        self.store.write(|repo| {
            let current = repo.get(tenant, kind, id)?.ok_or_else(|| not_found(kind, id))?;
            precondition.check(&ETag::of(current.version))?;
            repo.delete(tenant, kind, id).map_err(|e| match e {
                StoreError::NotFound => ProvisionError::Scim(not_found(kind, id)),
                other => other.into(),
            })
        })
    }

    /// A filtered, sorted page (RFC 7644 §3.4.2), computed in SQL.
    pub fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        query: &ListQuery,
        relations: bool,
    ) -> ProvisionResult<ListView> {
        self.store.read(|repo| {
            let page = repo.list(tenant, kind, query)?;
            let resources = attach_relations(repo, tenant, kind, page.resources, relations)?;
            Ok(ListView { total_results: page.total_results, start_index: query.start_index, resources })
        })
    }

    /// Runs a write, retrying when another writer changed the same resource in between.
    fn retrying<T>(&self, mut work: impl FnMut(&mut dyn Repository) -> ProvisionResult<T>) -> ProvisionResult<T> {
        let mut attempt = 0;
        loop {
            match self.store.write(&mut work) {
                Err(ProvisionError::Store(StoreError::VersionMismatch)) if attempt < CONCURRENT_RETRIES => {
                    attempt += 1;
                    // A short random pause, growing with each attempt, so that writers colliding
                    // on one row stop colliding in step.
                    let pause = rand::random_range(0..=attempt * 2_000);
                    std::thread::sleep(std::time::Duration::from_micros(u64::from(pause)));
                }
                other => return other,
            }
        }
    }
}

/// Stores a validated new resource inside the caller's transaction and, for a group, adds the
/// listed members: the one insert path of POST, `/Bulk` and the CSV importer (RFC 7644 §3.3).
pub(crate) fn insert_resource(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    kind: ResourceKind,
    id: &str,
    write: &ResourceWrite,
    members: Option<&[MemberRef]>,
) -> ProvisionResult<StoredResource> {
    let stored = repo.insert(tenant, kind, id, write).map_err(|e| conflict_detail(e, kind, &write.data))?;
    if let Some(members) = members {
        let members = resolve_members(repo, tenant, members)?;
        repo.add_members(tenant, id, &members, MembershipSource::Scim)?;
    }
    Ok(stored)
}

/// Inserts new resources in one go (an import batch's users) inside the caller's transaction;
/// those a unique index refuses (a userName taken meanwhile) are left out of the result.
pub(crate) fn insert_resources(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    kind: ResourceKind,
    resources: &[(&str, &ResourceWrite)],
) -> ProvisionResult<Vec<StoredResource>> {
    Ok(repo.insert_many(tenant, kind, resources)?)
}

/// Applies PATCH operations to `current` and stores the outcome inside the caller's transaction:
/// the one update path of PATCH, `/Bulk` and the CSV importer (RFC 7644 §3.5.2). Nothing is
/// written, and the version stays, when the operations change nothing.
pub(crate) fn patch_resource(
    repo: &mut dyn Repository,
    schema: &ResourceSchema,
    tenant: &TenantId,
    current: &StoredResource,
    operations: &[PatchOperation],
) -> ProvisionResult<StoredResource> {
    let (kind, id) = (schema.kind, current.id.as_str());
    let outcome = apply_patch(schema, &current.data, operations)?;
    let password_hash = outcome.password.as_deref().map(hash_password).transpose()?;
    let mut stored = current.clone();
    if outcome.data != current.data || password_hash.is_some() {
        let write = ResourceWrite { data: outcome.data, password_hash };
        stored = repo
            .update(tenant, kind, id, current.version, &write)
            .map_err(|e| conflict_detail(e, kind, &write.data))?;
    }
    if !outcome.member_changes.is_empty() {
        let mut changed = 0;
        for change in &outcome.member_changes {
            changed += apply_member_change(repo, tenant, id, change)?;
        }
        if changed > 0 && stored.version == current.version {
            stored = repo.touch(tenant, kind, id)?;
        }
    }
    Ok(stored)
}

pub(crate) fn not_found(kind: ResourceKind, id: &str) -> ScimError {
    let name = match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    };
    ScimError::not_found(format!("{name} {id} not found"))
}

/// Turns a unique-index violation into the SCIM 409 naming the clashing value.
fn conflict_detail(error: StoreError, kind: ResourceKind, data: &Value) -> ProvisionError {
    match error {
        StoreError::UniqueViolation(_) => {
            let detail = match kind {
                ResourceKind::User => format!(
                    "userName \"{}\" is already taken in this tenant",
                    data.get("userName").and_then(Value::as_str).unwrap_or_default()
                ),
                ResourceKind::Group => "a group with these unique values already exists".to_string(),
            };
            ProvisionError::Scim(ScimError::uniqueness(detail))
        }
        other => other.into(),
    }
}

/// Checks that every member exists in the tenant and learns whether it is a User or a Group;
/// keeps the `display` each reference came with.
fn resolve_members(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    members: &[MemberRef],
) -> ProvisionResult<Vec<NewMember>> {
    let mut ids: Vec<String> = members.iter().map(|m| m.value.clone()).collect();
    ids.sort();
    ids.dedup();
    let found = repo.resolve_members(tenant, &ids)?;
    if found.len() < ids.len() {
        let missing: Vec<&str> =
            ids.iter().filter(|id| !found.iter().any(|m| &m.id == *id)).map(String::as_str).take(10).collect();
        return Err(
            ScimError::invalid_value(format!("members not found in this tenant: {}", missing.join(", "))).into()
        );
    }
    let displays: std::collections::HashMap<&str, &str> = members
        .iter()
        .filter_map(|m| m.display.as_deref().filter(|d| !d.is_empty()).map(|d| (m.value.as_str(), d)))
        .collect();
    Ok(found
        .into_iter()
        .map(|member| NewMember { display: displays.get(member.id.as_str()).map(|d| d.to_string()), ..member })
        .collect())
}

/// Applies one membership change as SQL set operations; returns how many rows changed.
fn apply_member_change(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    group_id: &str,
    change: &MemberChange,
) -> ProvisionResult<usize> {
    Ok(match change {
        MemberChange::Add(members) => {
            let members = resolve_members(repo, tenant, members)?;
            repo.add_members(tenant, group_id, &members, MembershipSource::Scim)?
        }
        MemberChange::Remove(ids) => repo.remove_members(tenant, group_id, ids)?,
        MemberChange::RemoveAll => repo.remove_all_members(tenant, group_id)?,
        MemberChange::Replace(members) => {
            let members = resolve_members(repo, tenant, members)?;
            repo.remove_all_members(tenant, group_id)?
                + repo.add_members(tenant, group_id, &members, MembershipSource::Scim)?
        }
        MemberChange::RemoveMatching(filter) => {
            // Rare (a filter on member type or display): evaluated over this group's members only.
            let members = repo.members_of(tenant, &[group_id])?;
            let doomed: Vec<String> = members
                .into_iter()
                .filter(|m| {
                    let element = serde_json::json!({
                        "value": m.member_id,
                        "type": crate::scim::render::resource_type_name(m.kind),
                        "display": m.display,
                    });
                    matches(filter, &element, &|_| false)
                })
                .map(|m| m.member_id)
                .collect();
            repo.remove_members(tenant, group_id, &doomed)?
        }
    })
}

fn with_relations(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    kind: ResourceKind,
    stored: StoredResource,
    relations: bool,
) -> ProvisionResult<ResourceView> {
    Ok(attach_relations(repo, tenant, kind, vec![stored], relations)?.remove(0))
}

/// Loads groups or members for a whole page in one query.
fn attach_relations(
    repo: &mut dyn Repository,
    tenant: &TenantId,
    kind: ResourceKind,
    resources: Vec<StoredResource>,
    relations: bool,
) -> ProvisionResult<Vec<ResourceView>> {
    if !relations {
        return Ok(resources.into_iter().map(|stored| ResourceView { kind, stored, relations: None }).collect());
    }
    let ids: Vec<&str> = resources.iter().map(|r| r.id.as_str()).collect();
    let views = match kind {
        ResourceKind::User => {
            let mut groups = repo.groups_of(tenant, &ids)?;
            resources
                .into_iter()
                .map(|stored| {
                    let mine = drain_matching(&mut groups, |g| g.user_id == stored.id);
                    ResourceView { kind, stored, relations: Some(Relations::Groups(mine)) }
                })
                .collect()
        }
        ResourceKind::Group => {
            let mut members = repo.members_of(tenant, &ids)?;
            resources
                .into_iter()
                .map(|stored| {
                    let mine = drain_matching(&mut members, |m| m.group_id == stored.id);
                    ResourceView { kind, stored, relations: Some(Relations::Members(mine)) }
                })
                .collect()
        }
    };
    Ok(views)
}

fn drain_matching<T>(items: &mut Vec<T>, keep: impl Fn(&T) -> bool) -> Vec<T> {
    let (mine, rest): (Vec<T>, Vec<T>) = std::mem::take(items).into_iter().partition(|item| keep(item));
    *items = rest;
    mine
}

/// A new resource's id: a UUID v7 (RFC 9562 §5.7), random but ordered by creation time, so
/// users created together are appended to the indexes keyed by their id (the table's, the
/// memberships', the e-mail index's) instead of touching a random page of each. The time it
/// reveals is the resource's `meta.created`, which SCIM shows anyway.
pub fn new_resource_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
