//! One batch of an import's rows against the store: a few statements per batch, not per row.
//!
//! Before its rows are evaluated, a batch looks up every email, username and external id its
//! rows name (one query each), then the users those find, the rows of this import that already
//! wrote them and their memberships (one query each). Rows are then evaluated in file order
//! against these [`Lookups`], which learn each row's writes so later rows see them. Updates are
//! written as their row is evaluated ([`patch_resource`], one statement when something changed);
//! new users are held back and written together ([`insert_resources`]) with their memberships
//! and invitations when the batch ends, or earlier when a later row of the batch needs one of
//! them in the store (it updates the same person). The outcome is the one the rows would have
//! row by row: the same matching rules, the same operations, the same ids.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{json, Value};

use super::{issue, Folded, GroupRef, PassContext, PassState, RowOutcome};
use crate::import::profile::{GroupMode, UnknownGroups};
use crate::import::{creation_body, patch_request, update_operations, IssueCode, PlannedRow, RowIssue};
use crate::provision::{insert_resource, insert_resources, patch_resource, ProvisionError, ProvisionResult};
use crate::scim::error::{ScimError, ScimType};
use crate::scim::filter::parse_filter;
use crate::scim::patch::parse_patch_request;
use crate::scim::resource::{normalize_resource, WriteMode};
use crate::scim::schema::{ResourceKind, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA};
use crate::store::{
    operations_json, MembershipSource, NewMember, Repository, ResourceWrite, RowAction, StoredResource, UserRows,
};

/// A row's problem that stops it.
type RowResult<T> = Result<T, RowIssue>;

/// Evaluates one batch of rows and writes what they ask for; their outcomes in row order.
pub(super) fn evaluate_batch(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    batch: &[PlannedRow],
) -> ProvisionResult<Vec<RowOutcome>> {
    let mut steps = Vec::with_capacity(batch.len());
    for planned in batch {
        let selected = context.selection.is_none_or(|selection| selection.contains(&planned.row));
        steps.push(match selected.then(|| state.carried.fold(context.repeats, planned)) {
            None => Step::Skip(planned),
            Some(Folded::Apply(planned)) => {
                let later_manager = state.carried.carried_manager(context.repeats, &planned);
                Step::Apply(Box::new(planned), later_manager)
            }
            Some(Folded::Superseded(planned, last)) => Step::Done(superseded(&planned, last)),
        });
    }
    let applied: Vec<&PlannedRow> = steps
        .iter()
        .filter_map(|step| match step {
            Step::Apply(planned, _) if !planned.has_errors() => Some(planned.as_ref().as_ref()),
            _ => None,
        })
        .collect();
    let mut run = BatchRun {
        lookups: Lookups::load(repo, context, &applied)?,
        pending: Vec::new(),
        outcomes: Vec::with_capacity(batch.len()),
        touched_groups: BTreeSet::new(),
        invited: HashSet::new(),
    };
    for step in steps {
        let outcome = match step {
            Step::Done(outcome) => Some(outcome),
            Step::Skip(planned) if planned.has_errors() => Some(RowOutcome::failed(planned, planned.issues.clone())),
            Step::Skip(planned) => Some(skipped(planned)),
            Step::Apply(planned, later_manager) => {
                process_row(repo, context, state, &mut run, &planned, later_manager)?
            }
        };
        run.outcomes.push(outcome);
    }
    run.flush(repo, context)?;
    state.touched_groups.append(&mut run.touched_groups);
    state.batch_people.clear();
    Ok(run.outcomes.into_iter().map(|outcome| outcome.expect("every held-back row is written by the flush")).collect())
}

/// Bumps the version of every group whose members the transaction changed, once: a group's
/// version counts the changes others can see, and on PostgreSQL every bump leaves one more row
/// version that each later membership insert's foreign-key check walks until the transaction ends
/// (bumped per batch, a 100,000-row preview made those checks ten times slower).
pub(super) fn touch_groups(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
) -> ProvisionResult<()> {
    for group in std::mem::take(&mut state.touched_groups) {
        repo.touch(context.tenant, ResourceKind::Group, &group)?;
    }
    Ok(())
}

/// What a row of the batch is, before the batch's lookups.
enum Step<'a> {
    Done(RowOutcome),
    /// Not among the selected rows of a commit.
    Skip(&'a PlannedRow),
    /// With the later row its manager is written at, when a person repeated around it.
    Apply(Box<std::borrow::Cow<'a, PlannedRow>>, Option<u64>),
}

/// A batch while it runs: its lookups, the new users held back, and the rows' outcomes (`None`
/// for a new user's row until the flush writes it).
struct BatchRun {
    lookups: Lookups,
    pending: Vec<NewUser>,
    outcomes: Vec<Option<RowOutcome>>,
    touched_groups: BTreeSet<String>,
    /// Users a row of this batch invited (in a preview: counted as invited).
    invited: HashSet<String>,
}

/// A user a row creates, held back until the flush.
struct NewUser {
    /// Position of its row's outcome in the batch.
    slot: usize,
    row: u64,
    id: String,
    write: ResourceWrite,
    /// Operations so far: the POST of the user, then of any group its row creates.
    steps: Vec<Value>,
    /// The groups it joins.
    groups: Vec<String>,
    issues: Vec<RowIssue>,
    user_name: String,
    /// The row's cells, for errors.csv should the write be refused.
    cells: Vec<String>,
    /// Earlier rows named this person as their manager ([`crate::import::PersonFolder::carried_manager`]).
    named_as_manager: bool,
}

/// What the batch's keys found in the store, kept current as the batch writes.
#[derive(Default)]
struct Lookups {
    by_email: HashMap<String, Vec<String>>,
    by_user_name: HashMap<String, String>,
    by_external_id: HashMap<String, Vec<String>>,
    /// Users found by the keys, at their latest version.
    users: HashMap<String, StoredResource>,
    /// Users that earlier batches of this import wrote: their first row, what it did, and whether
    /// a row invited them.
    import_rows: HashMap<String, UserRows>,
    memberships: HashMap<String, Vec<(String, MembershipSource)>>,
}

impl Lookups {
    fn load(repo: &mut dyn Repository, context: &PassContext<'_>, rows: &[&PlannedRow]) -> ProvisionResult<Lookups> {
        let mut emails = BTreeSet::new();
        let mut user_names = BTreeSet::new();
        let mut external_ids = BTreeSet::new();
        for planned in rows {
            emails.extend(planned.keys.email.as_deref().map(str::to_lowercase));
            emails.extend(planned.manager_email.as_deref().map(str::to_lowercase));
            user_names.extend(planned.keys.user_name.as_deref().map(str::to_lowercase));
            let generated = planned.create_defaults.get("userName").or(planned.attributes.get("userName"));
            user_names.extend(generated.and_then(Value::as_str).map(str::to_lowercase));
            external_ids.extend(planned.keys.external_id.clone());
        }
        let (tenant, mut lookups) = (context.tenant, Lookups::default());
        let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
        for (email, id) in repo.users_with_emails(tenant, &emails)? {
            push_unique(lookups.by_email.entry(email.to_lowercase()).or_default(), id);
        }
        let user_names: Vec<&str> = user_names.iter().map(String::as_str).collect();
        for (user_name, id) in repo.users_with_user_names(tenant, &user_names)? {
            lookups.by_user_name.insert(user_name.to_lowercase(), id);
        }
        let external_ids: Vec<&str> = external_ids.iter().map(String::as_str).collect();
        for (external_id, id) in repo.users_with_external_ids(tenant, &external_ids)? {
            push_unique(lookups.by_external_id.entry(external_id).or_default(), id);
        }
        let mut ids: BTreeSet<&str> = lookups.by_user_name.values().map(String::as_str).collect();
        ids.extend(lookups.by_email.values().chain(lookups.by_external_id.values()).flatten().map(String::as_str));
        let ids: Vec<&str> = ids.into_iter().collect();
        if ids.is_empty() {
            return Ok(lookups);
        }
        let users = repo.get_many(tenant, ResourceKind::User, &ids)?;
        let found = repo.import_rows_of_users(tenant, context.import_id, &ids)?;
        let memberships = if rows.iter().any(|planned| planned.groups.is_some()) {
            repo.memberships_of_many(tenant, &ids)?
        } else {
            Vec::new()
        };
        lookups.users = users.into_iter().map(|user| (user.id.clone(), user)).collect();
        lookups.import_rows = found.into_iter().map(|rows| (rows.user_id.clone(), rows)).collect();
        for (member, group, source) in memberships {
            lookups.memberships.entry(member).or_default().push((group, source));
        }
        Ok(lookups)
    }

    /// Notes the keys of a user as stored (after a create or an update).
    fn learn(&mut self, id: &str, data: &Value) {
        for email in emails_of(data) {
            push_unique(self.by_email.entry(email).or_default(), id.to_string());
        }
        if let Some(user_name) = data.get("userName").and_then(Value::as_str) {
            self.by_user_name.insert(user_name.to_lowercase(), id.to_string());
        }
        if let Some(external_id) = data.get("externalId").and_then(Value::as_str) {
            push_unique(self.by_external_id.entry(external_id.to_string()).or_default(), id.to_string());
        }
    }

    /// Forgets the keys of a user as it was stored (before an update, or a create that failed).
    fn forget(&mut self, id: &str, data: &Value) {
        for email in emails_of(data) {
            if let Some(ids) = self.by_email.get_mut(&email) {
                ids.retain(|other| other != id);
            }
        }
        if let Some(user_name) = data.get("userName").and_then(Value::as_str) {
            let key = user_name.to_lowercase();
            if self.by_user_name.get(&key).is_some_and(|other| other == id) {
                self.by_user_name.remove(&key);
            }
        }
        if let Some(ids) = data.get("externalId").and_then(Value::as_str).and_then(|e| self.by_external_id.get_mut(e)) {
            ids.retain(|other| other != id);
        }
    }

    fn with_email(&self, email: &str) -> &[String] {
        self.by_email.get(&email.to_lowercase()).map_or(&[], Vec::as_slice)
    }
}

fn push_unique(ids: &mut Vec<String>, id: String) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

/// The lower-cased values of a user's emails.
fn emails_of(data: &Value) -> impl Iterator<Item = String> + '_ {
    data.get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|email| email.get("value").and_then(Value::as_str))
        .map(str::to_lowercase)
}

impl BatchRun {
    /// Writes the held-back users with their memberships and invitations, and completes their
    /// rows' outcomes. A user a unique index refused (a userName taken since the lookups) is
    /// a `conflict` row.
    fn flush(&mut self, repo: &mut dyn Repository, context: &PassContext<'_>) -> ProvisionResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let writes: Vec<(&str, &ResourceWrite)> = pending.iter().map(|user| (user.id.as_str(), &user.write)).collect();
        let stored = insert_resources(repo, context.tenant, ResourceKind::User, &writes)?;
        let mut stored: HashMap<String, StoredResource> = stored.into_iter().map(|s| (s.id.clone(), s)).collect();
        let memberships: Vec<(&str, NewMember)> = pending
            .iter()
            .filter(|user| stored.contains_key(&user.id))
            .flat_map(|user| user.groups.iter().map(|group| (group.as_str(), user_member(&user.id))))
            .collect();
        // The users were inserted a moment ago in this transaction: no one has seen their version 1.
        let added = repo.add_memberships(context.tenant, &memberships, MembershipSource::Import, true)?;
        let added: BTreeSet<(String, String)> = added.into_iter().collect();
        let created: Vec<&StoredResource> = pending.iter().filter_map(|user| stored.get(&user.id)).collect::<Vec<_>>();
        let invited = invite_many(repo, context, &created)?;
        let mut invited: HashMap<String, bool> =
            created.iter().map(|user| user.id.clone()).zip(invited).collect::<HashMap<_, _>>();
        self.invited.extend(invited.iter().filter(|(_, invited)| **invited).map(|(id, _)| id.clone()));
        for user in pending {
            if stored.remove(&user.id).is_none() {
                self.lookups.forget(&user.id, &user.write.data);
                let name = &user.user_name;
                let mut issues = user.issues;
                issues.insert(
                    0,
                    issue(
                        user.row,
                        IssueCode::Conflict,
                        context.headers.user_name.as_deref(),
                        Some(name),
                        format!(
                            "the username \"{name}\" is already taken by another user; give this person a different \
                             username"
                        ),
                    ),
                );
                let mut outcome = RowOutcome { cells: Some(user.cells), ..failed_row(user.row, issues) };
                if user.named_as_manager {
                    repoint_named_manager(repo, context, &mut self.lookups, &mut outcome)?;
                }
                self.outcomes[user.slot] = Some(outcome);
                continue;
            }
            let mut steps = user.steps;
            for group in &user.groups {
                if added.contains(&(group.clone(), user.id.clone())) {
                    self.touched_groups.insert(group.clone());
                    steps.push(group_add_step(group, &user.id));
                }
            }
            self.outcomes[user.slot] = Some(RowOutcome {
                row: user.row,
                action: RowAction::Create.as_str().to_string(),
                user_id: Some(user.id.clone()),
                matched_version: None,
                operation: Some(operations_json(steps)),
                cells: None,
                issues: user.issues,
                invited: invited.remove(&user.id).unwrap_or(false),
            });
        }
        Ok(())
    }
}

fn user_member(id: &str) -> NewMember {
    NewMember { id: id.to_string(), kind: ResourceKind::User, display: None }
}

fn group_add_step(group: &str, user_id: &str) -> Value {
    let request = patch_request(vec![json!({"op": "add", "path": "members", "value": [{"value": user_id}]})]);
    bulk_step("PATCH", format!("/Groups/{group}"), request)
}

/// One operation of the `/Bulk` request (RFC 7644 §3.7) a row became. Built by hand: `json!`
/// would copy `data` through the serializer, and a created user's body is most of a row's work.
fn bulk_step(method: &str, path: String, data: Value) -> Value {
    let mut step = serde_json::Map::new();
    step.insert("method".to_owned(), Value::String(method.to_owned()));
    step.insert("path".to_owned(), Value::String(path));
    step.insert("data".to_owned(), data);
    Value::Object(step)
}

/// A row whose person appears again later: not written on its own; its values are merged into
/// the person's last row.
fn superseded(planned: &PlannedRow, last: u64) -> RowOutcome {
    let mut issues = planned.issues.clone();
    let key = planned.keys.email.clone().or(planned.keys.user_name.clone()).or(planned.keys.external_id.clone());
    issues.push(
        RowIssue::warning(
            planned.row,
            IssueCode::DuplicateInFile,
            format!(
                "the same person appears again in row {last}; their rows make one user, written once at row {last} \
                 with the later rows' non-empty cells winning"
            ),
        )
        .with_value(key.unwrap_or_default()),
    );
    RowOutcome { issues, ..skipped(planned) }
}

/// A row not written: not selected for a commit, or carried into a later row.
fn skipped(planned: &PlannedRow) -> RowOutcome {
    RowOutcome {
        row: planned.row,
        action: RowAction::Skipped.as_str().to_string(),
        user_id: None,
        matched_version: None,
        operation: None,
        cells: None,
        issues: Vec::new(),
        invited: false,
    }
}

fn failed_row(row: u64, issues: Vec<RowIssue>) -> RowOutcome {
    RowOutcome {
        row,
        action: RowAction::Failed.as_str().to_string(),
        user_id: None,
        matched_version: None,
        operation: None,
        cells: None,
        issues,
        invited: false,
    }
}

/// A row's outcome, or `None` when it creates a user held back until the flush.
fn process_row(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    run: &mut BatchRun,
    planned: &PlannedRow,
    later_manager: Option<u64>,
) -> ProvisionResult<Option<RowOutcome>> {
    let named_as_manager = state.carried.take_named_as_manager(planned.row);
    let mut outcome = if planned.has_errors() {
        RowOutcome::failed(planned, planned.issues.clone())
    } else {
        let mut issues = planned.issues.clone();
        match evaluate(repo, context, state, run, planned, later_manager, &mut issues)? {
            Ok(Evaluated::Done(outcome)) => RowOutcome { issues, ..outcome },
            Ok(Evaluated::HeldBack(mut user)) => {
                user.issues = issues;
                user.named_as_manager = named_as_manager;
                run.pending.push(user);
                return Ok(None);
            }
            Err(problem) => {
                issues.insert(0, problem);
                RowOutcome::failed(planned, issues)
            }
        }
    };
    if named_as_manager {
        // The rows naming this person may be held back in this batch still.
        run.flush(repo, context)?;
        repoint_named_manager(repo, context, &mut run.lookups, &mut outcome)?;
    }
    Ok(Some(outcome))
}

/// Most users named in a row's note about the users whose manager it changed.
const LISTED_MANAGED: usize = 10;

/// Earlier rows named the person of this row as their manager, by the id the user this row
/// creates gets ([`crate::import::PersonFolder::carried_manager`]); when the row wrote another
/// user (it updated an existing one) those rows' users are pointed at it, and when it failed
/// their manager is removed, so no manager points at a user that was never created. The row's
/// outcome warns of the removal, or lists the PATCH operations (the first [`LISTED_MANAGED`]).
fn repoint_named_manager(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    lookups: &mut Lookups,
    outcome: &mut RowOutcome,
) -> ProvisionResult<()> {
    let row = outcome.row;
    let expected = generated_id(context.import_id, "user", &row.to_string(), row);
    let written = outcome.user_id.clone().filter(|_| outcome.action() != RowAction::Failed);
    if written.as_deref() == Some(expected.as_str()) {
        return Ok(());
    }
    let path = format!("{ENTERPRISE_USER_SCHEMA}:manager");
    let operation = match &written {
        Some(id) => json!({"op": "replace", "path": path, "value": {"value": id}}),
        None => json!({"op": "remove", "path": path}),
    };
    let request = patch_request(vec![operation]);
    let parsed = parse_patch_request(&request)?;
    let schema = context.schemas.resource(ResourceKind::User);
    let query = crate::store::ListQuery {
        filter: Some(parse_filter(&format!("{path}.value eq \"{expected}\""))?),
        sort: None,
        start_index: 1,
        count: 100,
    };
    let (mut names, mut count, mut steps) = (Vec::new(), 0, Vec::new());
    // Each write takes its user out of the filter's matches: the first page until none is left.
    loop {
        let page = repo.list(context.tenant, ResourceKind::User, &query)?;
        if page.resources.is_empty() {
            break;
        }
        for user in page.resources {
            let stored = patch_resource(repo, schema, context.tenant, &user, &parsed)?;
            count += 1;
            if names.len() < LISTED_MANAGED {
                names.push(stored.data.get("userName").and_then(Value::as_str).unwrap_or(&stored.id).to_string());
                steps.push(bulk_step("PATCH", format!("/Users/{}", stored.id), request.clone()));
            }
            if let Some(found) = lookups.users.get_mut(&stored.id) {
                *found = stored;
            }
        }
    }
    if count == 0 {
        return Ok(());
    }
    let more = if count > names.len() { format!(" and {} more", count - names.len()) } else { String::new() };
    if written.is_some() {
        let mut all: Vec<Value> = match &outcome.operation {
            Some(written) => serde_json::from_str(written.get()).expect("a row's operations are written as an array"),
            None => Vec::new(),
        };
        all.extend(steps);
        outcome.operation = Some(operations_json(all));
        return Ok(());
    }
    let mut warning = RowIssue::warning(
        row,
        IssueCode::InvalidValue,
        format!(
            "earlier rows name this person as their manager ({}{more}); since this row is not imported, those \
             users have no manager: correct this row and import the file again",
            names.join(", ")
        ),
    );
    warning.column = context.headers.manager.clone();
    outcome.issues.push(warning);
    Ok(())
}

enum Evaluated {
    Done(RowOutcome),
    HeldBack(NewUser),
}

fn evaluate(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    run: &mut BatchRun,
    planned: &PlannedRow,
    later_manager: Option<u64>,
    issues: &mut Vec<RowIssue>,
) -> ProvisionResult<RowResult<Evaluated>> {
    let row = planned.row;
    let matched = match find_user(&run.lookups, context, planned) {
        Ok(matched) => matched,
        Err(problem) => return Ok(Err(problem)),
    };
    let matched = match matched {
        // A user an earlier row of this batch wrote: read it back once that is in the store.
        Some(id) if state.batch_people.contains_key(&id) => {
            run.flush(repo, context)?;
            repo.get(context.tenant, ResourceKind::User, &id)?.map(|user| (user, true))
        }
        // A later row of the batch naming this user again finds it in `batch_people` and reads
        // it back from the store, so `users` only ever serves the user's first row.
        Some(id) => run.lookups.users.get(&id).cloned().map(|user| (user, false)),
        None => None,
    };
    let matched_user = matched.as_ref().map(|(user, _)| user);
    let manager = match resolve_manager(&run.lookups, context, planned, matched_user, later_manager) {
        Ok(manager) => manager,
        Err(problem) => return Ok(Err(problem)),
    };
    let groups = match &planned.groups {
        None => None,
        Some(names) => match resolve_groups(repo, context, state, row, names)? {
            Ok(groups) => Some(groups),
            Err(problem) => return Ok(Err(problem)),
        },
    };
    match matched {
        Some((user, fresh)) => {
            update_user(repo, context, state, run, planned, issues, user, fresh, manager, groups.as_deref())
        }
        None => create_user(repo, context, state, run, planned, manager, groups.as_deref()),
    }
}

#[expect(clippy::too_many_arguments, reason = "a row's evaluation so far")]
fn update_user(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    run: &mut BatchRun,
    planned: &PlannedRow,
    issues: &mut Vec<RowIssue>,
    user: StoredResource,
    fresh: bool,
    manager: Option<String>,
    groups: Option<&[GroupRef]>,
) -> ProvisionResult<RowResult<Evaluated>> {
    let row = planned.row;
    let earlier = match state.batch_people.get(&user.id) {
        Some(&(first, created)) => Some((first, created)),
        None => run.lookups.import_rows.get(&user.id).map(|rows| (rows.first_row, rows.action == RowAction::Create)),
    };
    let created_here = earlier.is_some_and(|(_, created)| created);
    match earlier {
        Some((first, _)) => issues.push(
            RowIssue::warning(
                row,
                IssueCode::DuplicateInFile,
                format!(
                    "same person as row {first}; one user is imported with the values of the last row, so this \
                     row's non-empty cells replace row {first}'s"
                ),
            )
            .with_value(planned.keys.email.clone().or(planned.keys.user_name.clone()).unwrap_or_default()),
        ),
        None if !context.options.update_existing => {
            let name = user.data.get("userName").and_then(Value::as_str).unwrap_or_default();
            return Ok(Err(issue(
                row,
                IssueCode::DuplicateEmail,
                context.headers.email.as_deref(),
                planned.keys.email.as_deref(),
                format!(
                    "user \"{name}\" already exists; it is not updated because updates of existing users are off \
                     (update_existing=false)"
                ),
            )));
        }
        None => {}
    }
    let no_data = serde_json::Map::new();
    let current_data = user.data.as_object().unwrap_or(&no_data);
    let operations = update_operations(context.layout, context.rules, planned, current_data, manager.as_deref());
    let current_groups = match (groups, fresh) {
        (None, _) => Vec::new(),
        (Some(_), true) => repo.memberships_of(context.tenant, &user.id)?,
        (Some(_), false) => run.lookups.memberships.get(&user.id).cloned().unwrap_or_default(),
    };
    let plan = membership_plan(context, &current_groups, groups);
    let mut steps = Vec::new();
    let mut stored = user.clone();
    if !operations.is_empty() {
        let request = patch_request(operations);
        let parsed = parse_patch_request(&request)?;
        let schema = context.schemas.resource(ResourceKind::User);
        stored = match patch_resource(repo, schema, context.tenant, &user, &parsed) {
            Ok(stored) => stored,
            Err(ProvisionError::Scim(error)) => return Ok(Err(scim_issue(row, context, planned, &error))),
            Err(other) => return Err(other),
        };
        run.lookups.forget(&user.id, &user.data);
        run.lookups.learn(&user.id, &stored.data);
        steps.push(bulk_step("PATCH", format!("/Users/{}", user.id), request));
    }
    let joined = create_groups(repo, context, state, plan.join, &mut steps)?;
    let memberships: Vec<(&str, NewMember)> =
        joined.iter().map(|group| (group.as_str(), user_member(&user.id))).collect();
    for (group, _) in repo.add_memberships(context.tenant, &memberships, MembershipSource::Import, false)? {
        steps.push(group_add_step(&group, &user.id));
        run.touched_groups.insert(group);
    }
    for group in &plan.remove {
        if repo.remove_members(context.tenant, group, std::slice::from_ref(&user.id))? > 0 {
            run.touched_groups.insert(group.clone());
            let path = format!("members[value eq \"{}\"]", user.id);
            let request = patch_request(vec![json!({"op": "remove", "path": path})]);
            steps.push(bulk_step("PATCH", format!("/Groups/{group}"), request));
        }
    }
    let changed = !steps.is_empty();
    state.batch_people.entry(user.id.clone()).or_insert((earlier.map_or(row, |(first, _)| first), created_here));
    // A real pass finds the invitation an earlier row queued and queues none; a preview queued
    // none, so it asks this pass's rows whether one counted the person as invited already.
    let counted = context.rolled_back
        && (run.invited.contains(&user.id) || run.lookups.import_rows.get(&user.id).is_some_and(|rows| rows.invited));
    let invited = created_here && !counted && invite_many(repo, context, &[&stored])?.first().copied().unwrap_or(false);
    if invited {
        run.invited.insert(user.id.clone());
    }
    Ok(Ok(Evaluated::Done(RowOutcome {
        row,
        action: if changed { RowAction::Update } else { RowAction::Unchanged }.as_str().to_string(),
        user_id: Some(user.id.clone()),
        matched_version: Some(user.version),
        operation: changed.then(|| operations_json(steps)),
        cells: None,
        issues: Vec::new(),
        invited,
    })))
}

fn create_user(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    run: &mut BatchRun,
    planned: &PlannedRow,
    manager: Option<String>,
    groups: Option<&[GroupRef]>,
) -> ProvisionResult<RowResult<Evaluated>> {
    let row = planned.row;
    let body = creation_body(planned, manager.as_deref());
    let Some(user_name) = body.get("userName").and_then(Value::as_str).map(str::to_string) else {
        let column = context.headers.user_name.as_deref().or(context.headers.email.as_deref());
        return Ok(Err(issue(
            row,
            IssueCode::MissingRequiredField,
            column,
            None,
            "a new user needs a username and none can be made from this row (no username, and no email to \
             generate one from); fill in the username"
                .to_string(),
        )));
    };
    if run.lookups.by_user_name.contains_key(&user_name.to_lowercase()) {
        return Ok(Err(issue(
            row,
            IssueCode::Conflict,
            context.headers.user_name.as_deref(),
            Some(&user_name),
            format!(
                "the username \"{user_name}\" is already taken by another user; give this person a different username"
            ),
        )));
    }
    let schema = context.schemas.resource(ResourceKind::User);
    let normalized = match normalize_resource(schema, &body, WriteMode::Create) {
        Ok(normalized) => normalized,
        Err(error) => return Ok(Err(scim_issue(row, context, planned, &error))),
    };
    let id = generated_id(context.import_id, "user", &row.to_string(), row);
    let write = ResourceWrite { data: normalized.data, password_hash: None };
    let mut steps = vec![bulk_step("POST", "/Users".to_owned(), body)];
    let plan = membership_plan(context, &[], groups);
    let groups = create_groups(repo, context, state, plan.join, &mut steps)?;
    run.lookups.learn(&id, &write.data);
    state.batch_people.insert(id.clone(), (row, true));
    Ok(Ok(Evaluated::HeldBack(NewUser {
        slot: run.outcomes.len(),
        row,
        id,
        write,
        steps,
        groups,
        issues: Vec::new(),
        user_name,
        cells: planned.cells.clone(),
        named_as_manager: false,
    })))
}

/// The id of a resource an import creates: derived from the import, the kind and the row (or
/// group name), so a preview and its commit create the same ids and a manager created by an
/// earlier row is referenced alike in both; the commit's comparison with the preview then sees
/// the same request bodies. Laid out as a UUID v7 like the ids SCIM POST gives
/// ([`crate::provision::new_resource_id`]): the import's own id gives the timestamp and
/// `sequence` (the row) the order, so a file's users are appended to the indexes keyed by user
/// id instead of landing on random pages; the digest fills the rest.
fn generated_id(import_id: &str, kind: &str, key: &str, sequence: u64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(import_id)
        .chain_update([0])
        .chain_update(kind)
        .chain_update([0])
        .chain_update(key)
        .finalize();
    let mut stamp = [0u8; 8];
    match uuid::Uuid::parse_str(import_id) {
        Ok(import) => stamp[2..].copy_from_slice(&import.as_bytes()[..6]),
        Err(_) => stamp[2..].copy_from_slice(&digest[16..22]),
    }
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest[..8]);
    let (millis, tail) = (u64::from_be_bytes(stamp) as u128, u64::from_be_bytes(tail) as u128);
    let sequence = u128::from(sequence & 0xffff_ffff);
    // 48 bits of time, 4 of version, 12 + 20 bits of sequence around the variant, 42 of digest.
    let value = (millis << 80) | ((sequence >> 20) << 64) | ((sequence & 0xf_ffff) << 42) | (tail & ((1 << 42) - 1));
    uuid::Builder::from_u128(value)
        .with_variant(uuid::Variant::RFC4122)
        .with_version(uuid::Version::SortRand)
        .into_uuid()
        .to_string()
}

/// Invites users the import created, as the import's option or the tenant's policy says; in a
/// rolled-back pass (a preview) only decides whom it would invite.
fn invite_many(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    users: &[&StoredResource],
) -> ProvisionResult<Vec<bool>> {
    match context.inviter {
        Some(inviter) if context.options.send_invitations != Some(false) && !users.is_empty() => {
            inviter.invite_many(repo, context.tenant, users, context.options.send_invitations, context.rolled_back)
        }
        _ => Ok(vec![false; users.len()]),
    }
}

/// A protocol error of the core (a value outside a schema's rules, say) as the row's issue.
fn scim_issue(row: u64, context: &PassContext<'_>, planned: &PlannedRow, error: &ScimError) -> RowIssue {
    let code = match error.scim_type {
        Some(ScimType::Uniqueness) => IssueCode::Conflict,
        _ if error.status == 409 => IssueCode::Conflict,
        _ => IssueCode::InvalidValue,
    };
    let column = context
        .layout
        .bound
        .iter()
        .find(|b| {
            b.spec
                .target
                .path()
                .is_some_and(|p| error.detail.contains(&format!("'{p}")) || error.detail.contains(&p.attribute))
        })
        .map(|b| (b.header.clone(), planned.cells.get(b.index).cloned()));
    let mut issue = RowIssue::error(row, code, error.detail.clone());
    if let Some((header, value)) = column {
        issue.column = Some(header);
        issue.value = value;
    }
    issue
}

/// Users sharing a key that should name one person: a `conflict`, since Roster cannot tell which
/// one the row means.
fn ambiguous(row: u64, column: Option<&str>, kind: &str, key: &str, count: usize, advice: &str) -> RowIssue {
    issue(
        row,
        IssueCode::Conflict,
        column,
        Some(key),
        format!("{count} users have the {kind} \"{key}\", so Roster cannot tell which one this row means{advice}"),
    )
}

/// The id of the user the row means, if any: by email, then username, then external id.
fn find_user(lookups: &Lookups, context: &PassContext<'_>, planned: &PlannedRow) -> RowResult<Option<String>> {
    let (row, keys, headers) = (planned.row, &planned.keys, &context.headers);
    let mut found: Vec<(&str, &str, Option<&str>, String)> = Vec::new();
    let unique = |ids: &[String], kind: &str, key: &str, column: Option<&str>, advice: &str| match ids {
        [] => Ok(None),
        [id] => Ok(Some(id.clone())),
        several => Err(ambiguous(row, column, kind, key, several.len(), advice)),
    };
    if let Some(email) = &keys.email {
        let column = headers.email.as_deref();
        if let Some(id) =
            unique(lookups.with_email(email), "email", email, column, "; give them different emails first")?
        {
            found.push(("email", email, column, id));
        }
    }
    if let Some(user_name) = &keys.user_name {
        if let Some(id) = lookups.by_user_name.get(&user_name.to_lowercase()) {
            found.push(("username", user_name, headers.user_name.as_deref(), id.clone()));
        }
    }
    if let Some(external_id) = &keys.external_id {
        let column = headers.external_id.as_deref();
        let ids = lookups.by_external_id.get(external_id).map_or(&[][..], Vec::as_slice);
        if let Some(id) = unique(ids, "external id", external_id, column, "")? {
            found.push(("external id", external_id, column, id));
        }
    }
    let Some((kind, key, _, id)) = found.first() else {
        return Ok(None);
    };
    if let Some((other_kind, other_key, column, _)) = found.iter().find(|(_, _, _, other)| other != id) {
        let message = if *other_kind == "username" {
            format!(
                "the username \"{other_key}\" is already taken by another user than the one with {kind} \"{key}\"; \
                 keep the current username or choose a free one"
            )
        } else {
            format!(
                "{kind} \"{key}\" is one user but {other_kind} \"{other_key}\" is another user's; correct one of them"
            )
        };
        return Err(issue(row, IssueCode::Conflict, *column, Some(other_key), message));
    }
    Ok(Some(id.clone()))
}

/// The row's manager email as the manager's user id (RFC 7643 §4.3 `manager.value`). A manager
/// no user has yet whom the file lists before this row and again after it (`later_manager`, the
/// row the person is written at) is the user that row creates: its id is known already.
fn resolve_manager(
    lookups: &Lookups,
    context: &PassContext<'_>,
    planned: &PlannedRow,
    matched: Option<&StoredResource>,
    later_manager: Option<u64>,
) -> RowResult<Option<String>> {
    let Some(email) = &planned.manager_email else {
        return Ok(None);
    };
    let column = context.headers.manager.as_deref();
    if let (Some(row), []) = (later_manager, lookups.with_email(email)) {
        return Ok(Some(generated_id(context.import_id, "user", &row.to_string(), row)));
    }
    match lookups.with_email(email) {
        [id] if matched.is_some_and(|user| &user.id == id) => Err(issue(
            planned.row,
            IssueCode::InvalidValue,
            column,
            Some(email),
            format!("\"{email}\" is this person's own email; a person cannot be their own manager"),
        )),
        [id] => Ok(Some(id.clone())),
        [] => Err(issue(
            planned.row,
            IssueCode::InvalidValue,
            column,
            Some(email),
            format!(
                "no user has the email \"{email}\", so the manager cannot be set; import the manager first (an \
                 earlier row of the file will do)"
            ),
        )),
        several => Err(issue(
            planned.row,
            IssueCode::Conflict,
            column,
            Some(email),
            format!("{} users have the email \"{email}\"; Roster cannot tell which one is the manager", several.len()),
        )),
    }
}

/// The groups a row names: exact names first, then case-insensitive ones; unknown names are
/// created or are `unknown_group` errors, as the profile says.
fn resolve_groups(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    row: u64,
    names: &[String],
) -> ProvisionResult<RowResult<Vec<GroupRef>>> {
    let mut groups = Vec::with_capacity(names.len());
    for name in names {
        let key = name.to_lowercase();
        if !state.groups.contains_key(&key) {
            let found = repo.groups_named(context.tenant, name)?;
            state.groups.insert(key.clone(), found);
        }
        let candidates = &state.groups[&key];
        let column = context.headers.groups.as_deref();
        let group = match candidates.iter().find(|(_, display)| display == name) {
            Some((id, _)) => GroupRef::Existing(id.clone()),
            None => match candidates.as_slice() {
                [(id, _)] => GroupRef::Existing(id.clone()),
                [] if context.rules.unknown_groups == UnknownGroups::Create => GroupRef::New(name.clone()),
                [] => {
                    return Ok(Err(issue(
                        row,
                        IssueCode::UnknownGroup,
                        column,
                        Some(name),
                        format!("there is no group named \"{name}\"; create it first or correct the name"),
                    )))
                }
                several => {
                    let spellings: Vec<&str> = several.iter().map(|(_, d)| d.as_str()).collect();
                    return Ok(Err(issue(
                        row,
                        IssueCode::Conflict,
                        column,
                        Some(name),
                        format!(
                            "\"{name}\" matches several groups that differ only in case ({}); write the name exactly",
                            spellings.join(", ")
                        ),
                    )));
                }
            },
        };
        if !groups.iter().any(|g: &GroupRef| same_group(g, &group)) {
            groups.push(group);
        }
    }
    Ok(Ok(groups))
}

fn same_group(a: &GroupRef, b: &GroupRef) -> bool {
    match (a, b) {
        (GroupRef::Existing(a), GroupRef::Existing(b)) => a == b,
        (GroupRef::New(a), GroupRef::New(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => false,
    }
}

/// What a row does to a user's memberships.
#[derive(Default)]
struct MembershipPlan {
    /// Groups to join, in the row's order (new ones are created first).
    join: Vec<GroupRef>,
    /// Memberships an earlier import made that the row no longer lists.
    remove: Vec<String>,
}

/// What a row does to memberships `current` (none for a user the row creates).
fn membership_plan(
    context: &PassContext<'_>,
    current: &[(String, MembershipSource)],
    groups: Option<&[GroupRef]>,
) -> MembershipPlan {
    let Some(groups) = groups else {
        return MembershipPlan::default();
    };
    let mut plan = MembershipPlan::default();
    let mut listed = Vec::new();
    for group in groups {
        match group {
            GroupRef::New(name) => plan.join.push(GroupRef::New(name.clone())),
            GroupRef::Existing(id) => {
                listed.push(id.as_str());
                if !current.iter().any(|(group, _)| group == id) {
                    plan.join.push(GroupRef::Existing(id.clone()));
                }
            }
        }
    }
    if context.rules.group_mode == GroupMode::ReplaceImported {
        plan.remove = current
            .iter()
            .filter(|(group, source)| *source == MembershipSource::Import && !listed.contains(&group.as_str()))
            .map(|(group, _)| group.clone())
            .collect();
    }
    plan
}

/// The ids of the groups to join, creating those that are new (once per import: a later row
/// naming the same new group joins the one created).
fn create_groups(
    repo: &mut dyn Repository,
    context: &PassContext<'_>,
    state: &mut PassState,
    join: Vec<GroupRef>,
    steps: &mut Vec<Value>,
) -> ProvisionResult<Vec<String>> {
    let group_schema = context.schemas.resource(ResourceKind::Group);
    let mut ids = Vec::with_capacity(join.len());
    for group in join {
        let name = match group {
            GroupRef::Existing(id) => {
                ids.push(id);
                continue;
            }
            GroupRef::New(name) => name,
        };
        let key = name.to_lowercase();
        if let Some((id, _)) = state.groups.get(&key).and_then(|found| found.first()) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
            continue;
        }
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name});
        let normalized = normalize_resource(group_schema, &body, WriteMode::Create)?;
        let id = generated_id(context.import_id, "group", &key, 0);
        let write = ResourceWrite { data: normalized.data, password_hash: None };
        insert_resource(repo, context.tenant, ResourceKind::Group, &id, &write, None)?;
        state.groups.insert(key, vec![(id.clone(), name.clone())]);
        steps.push(bulk_step("POST", "/Groups".to_owned(), body));
        ids.push(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::generated_id;

    #[test]
    fn generated_ids_are_v7_uuids_in_row_order_and_the_same_for_preview_and_commit() {
        let import = crate::provision::new_resource_id();
        let ids: Vec<String> = [2u64, 3, 9, 10, 1_048_577, 70_000_000]
            .iter()
            .map(|row| generated_id(&import, "user", &row.to_string(), *row))
            .collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version(), Some(uuid::Version::SortRand), "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert_eq!(&id[..8], &import[..8], "the import's timestamp");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids, "ids sort like their rows");
        assert_eq!(ids[0], generated_id(&import, "user", "2", 2), "the same row gives the same id");
        assert_ne!(generated_id(&import, "user", "2", 2), generated_id(&import, "group", "2", 2));
        let other = crate::provision::new_resource_id();
        assert_ne!(generated_id(&other, "user", "2", 2), ids[0], "another import gives other ids");
    }
}
