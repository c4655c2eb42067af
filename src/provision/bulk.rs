//! `/Bulk` as a use case (RFC 7644 §3.7): the operations of a bulk request run one by one through the
//! same use cases as the single-resource endpoints, each in its own transaction, in `bulkId` order.

use crate::scim::bulk::{execution_order, BulkAction, BulkEntry, BulkRequest, CreatedIds, ResourceRef, Step};
use crate::scim::etag::Precondition;
use crate::scim::schema::ResourceKind;
use crate::tenant::TenantId;

use super::{ProvisionError, Provisioner, ResourceView};

/// What became of one operation of a bulk request.
#[derive(Debug)]
pub struct BulkOutcome {
    /// The operation's position in the request.
    pub index: usize,
    /// The resource the operation created or addressed, when known (its response `location`).
    pub resource: Option<(ResourceKind, String)>,
    pub result: Result<BulkSuccess, ProvisionError>,
}

/// A successful operation: the status it would have had alone and, unless it deleted the
/// resource, the resource's new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkSuccess {
    pub status: u16,
    pub version: Option<i64>,
}

impl Provisioner {
    /// Runs a bulk request (RFC 7644 §3.7.3) and returns the outcome of each operation that ran or
    /// failed, in request order.
    ///
    /// The operations are not atomic as a whole: each one commits or rolls back alone, and the
    /// others go on, until `failOnErrors` failures have happened; the operations after that are
    /// not run and have no outcome. A POST's `bulkId` names its new resource for the operations
    /// that refer to it, which run after it whatever their place in the request.
    pub fn bulk(&self, tenant: &TenantId, request: &BulkRequest) -> Vec<BulkOutcome> {
        let mut created = CreatedIds::default();
        let mut outcomes: Vec<BulkOutcome> = Vec::with_capacity(request.entries.len());
        let mut failures = 0;
        for step in execution_order(&request.entries) {
            if request.fail_on_errors.is_some_and(|limit| failures >= limit) {
                break;
            }
            let outcome = match step {
                Step::Run(index, _) => self.run_bulk_operation(tenant, index, &request.entries[index], &mut created),
                Step::Fail(index, error) => BulkOutcome {
                    index,
                    resource: addressed_resource(&request.entries[index], &created),
                    result: Err(error.into()),
                },
            };
            if outcome.result.is_err() {
                failures += 1;
            }
            outcomes.push(outcome);
        }
        outcomes.sort_by_key(|outcome| outcome.index);
        outcomes
    }

    fn run_bulk_operation(
        &self,
        tenant: &TenantId,
        index: usize,
        entry: &BulkEntry,
        created: &mut CreatedIds,
    ) -> BulkOutcome {
        let resource = addressed_resource(entry, created);
        let resolved = match entry.operation.as_ref().map_err(Clone::clone).and_then(|op| created.resolve(op)) {
            Ok(resolved) => resolved,
            Err(error) => return BulkOutcome { index, resource, result: Err(error.into()) },
        };
        let kind = resolved.kind;
        let precondition = Precondition::if_match(resolved.version);
        let written = |status: u16, view: ResourceView| BulkSuccess { status, version: Some(view.stored.version) };
        let result = match &resolved.action {
            BulkAction::Create(body) => match self.create(tenant, kind, body) {
                Ok(view) => {
                    if let Some(bulk_id) = &entry.bulk_id {
                        created.record(bulk_id, &view.stored.id);
                    }
                    let resource = Some((kind, view.stored.id.clone()));
                    return BulkOutcome { index, resource, result: Ok(written(201, view)) };
                }
                Err(error) => Err(error),
            },
            BulkAction::Replace(id, body) => {
                self.replace(tenant, kind, id, body, &precondition).map(|v| written(200, v))
            }
            BulkAction::Patch(id, body) => {
                self.patch(tenant, kind, id, body, &precondition, false).map(|v| written(200, v))
            }
            BulkAction::Delete(id) => {
                self.delete(tenant, kind, id, &precondition).map(|()| BulkSuccess { status: 204, version: None })
            }
        };
        BulkOutcome { index, resource, result }
    }
}

/// The resource a PUT, PATCH or DELETE entry names, once its id is known.
fn addressed_resource(entry: &BulkEntry, created: &CreatedIds) -> Option<(ResourceKind, String)> {
    let operation = entry.operation.as_ref().ok()?;
    let target: &ResourceRef = operation.action.target()?;
    created.id_of(target).map(|id| (operation.kind, id.to_string()))
}
