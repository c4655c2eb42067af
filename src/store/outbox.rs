//! The outbox (messages written in the same transaction as what caused them, sent later by the
//! outbox worker) and the invitations whose one-time links those messages carry.
//!
//! A worker claims due messages under a lease (`locked_by`, `locked_until`): on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so instances sharing a database never claim the same message; on
//! SQLite inside the single-writer (`BEGIN IMMEDIATE`) transaction of [`super::Store::write`].

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::connection::{Backend, DbConn};
use super::repository::{format_timestamp, parse_timestamp, SqlRepository};
use super::sql::{Cell, ColumnType};
use super::{StoreError, StoreResult};
use crate::tenant::TenantId;

/// A one-time link to set a password. Only the SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub id: String,
    pub tenant: TenantId,
    pub user_id: String,
    /// Lowercase hex SHA-256 of the token.
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// Set when a newer invitation replaced this one before it was used.
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A message to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxMessage {
    pub id: String,
    pub tenant: TenantId,
    /// What the message is, e.g. `invitation`.
    pub kind: String,
    pub recipient: String,
    /// The content as sent; `None` for a message rendered when it is sent (an invitation).
    pub content: Option<StoredContent>,
    /// Unique across the outbox: queueing the same key twice stores one message.
    pub dedupe_key: String,
    /// The invitation the message delivers; revoking it cancels the message if still unsent.
    pub invitation_id: Option<String>,
    /// A secret in the bodies or the link (the one-time token), scrubbed once the message is
    /// settled.
    pub redact: Option<String>,
    /// The invitation link (it holds the token) of a message rendered when it is sent; cleared
    /// once the message is settled.
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Subject and bodies stored with a message that is sent as it was queued.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredContent {
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
}

/// A claimed message, as the worker sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub recipient: String,
    /// The stored content; `None` when the worker renders the message (an invitation).
    pub content: Option<StoredContent>,
    pub dedupe_key: String,
    pub invitation_id: Option<String>,
    /// The invitation link, for a message rendered when it is sent.
    pub link: Option<String>,
    /// Delivery attempts so far, this one included.
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
    /// Where the message stands in the queue of due messages.
    pub position: QueuePosition,
}

/// A place in the queue of due messages (their claim order), for a claim that resumes after the
/// last one instead of reading the queue from its start; see [`OutboxRepository::claim_messages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    next_attempt_at: String,
    id: String,
}

/// Storage of invitations and of the outbox. Writes belong in the caller's transaction
/// ([`super::Store::write`]), so a message is queued if and only if what caused it is committed.
pub trait OutboxRepository {
    /// Stores invitations, skipping those whose user already has an open (unused, unrevoked)
    /// one; returns the ids of those stored. One statement per chunk of [`INSERT_CHUNK`].
    fn insert_invitations(&mut self, invitations: &[Invitation]) -> StoreResult<Vec<String>>;
    /// The open invitations, expired or not, of the users among `user_ids` that have one.
    fn open_invitations(&mut self, tenant: &TenantId, user_ids: &[&str]) -> StoreResult<Vec<Invitation>>;
    fn invitation_by_token_hash(&mut self, token_hash: &str) -> StoreResult<Option<Invitation>>;
    /// The invitations with these ids (those that still exist), in one query per chunk of ids.
    fn invitations_by_ids(&mut self, invitation_ids: &[&str]) -> StoreResult<Vec<Invitation>>;
    /// Revokes the users' open invitations and cancels their undelivered messages; returns how
    /// many invitations were revoked.
    fn revoke_open_invitations(
        &mut self,
        tenant: &TenantId,
        user_ids: &[&str],
        at: DateTime<Utc>,
    ) -> StoreResult<usize>;
    /// Marks an open invitation used; false when it was no longer open.
    fn mark_invitation_used(&mut self, invitation_id: &str, at: DateTime<Utc>) -> StoreResult<bool>;

    /// Queues messages, due now, skipping those whose dedupe key is already queued; returns how
    /// many were queued. One statement per chunk of [`INSERT_CHUNK`].
    fn enqueue_messages(&mut self, messages: &[NewOutboxMessage]) -> StoreResult<usize>;
    /// Whether any message is due and unclaimed (a cheap read before claiming), after `after`
    /// when given.
    fn has_due_messages(&mut self, now: DateTime<Utc>, after: Option<&QueuePosition>) -> StoreResult<bool>;
    /// Claims up to `limit` due messages for `claim` until `lease_until`, counting an attempt;
    /// in claim order, and only those after `after` when given.
    ///
    /// A claim reads the queue in order from its start, over every message sent since the
    /// oldest transaction still open began: on PostgreSQL their old row versions stay in the
    /// index until no transaction can see them, and an import's transaction can stay open for
    /// minutes while the worker sends what it queued. A worker that resumes after its last claim
    /// skips them; it must read from the start now and then, for the messages whose lease ran
    /// out behind it.
    fn claim_messages(
        &mut self,
        claim: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<Vec<OutboxMessage>>;
    /// Records a delivery; false when the claim was lost (the lease expired and another worker
    /// took the message).
    fn mark_message_sent(&mut self, id: &str, claim: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Releases a message after a failed attempt, due again at `next_attempt_at`.
    fn reschedule_message(
        &mut self,
        id: &str,
        claim: &str,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool>;
    /// Gives up on a message.
    fn fail_message(&mut self, id: &str, claim: &str, error: &str) -> StoreResult<bool>;
    /// Drops a message that must no longer be sent (its invitation was used or replaced).
    fn cancel_message(&mut self, id: &str, claim: &str, reason: &str) -> StoreResult<bool>;
}

/// Rows per multi-row `INSERT` (at most 12 parameters each: far below SQLite's and PostgreSQL's
/// limits) and ids per `IN` list.
pub const INSERT_CHUNK: usize = 500;
const INVITATION_COLUMNS: &str = "id, tenant_id, user_id, token_hash, expires_at, used_at, revoked_at, created_at";
const OPEN: &str = "used_at IS NULL AND revoked_at IS NULL";
/// Removes the secret from the stored bodies (REPLACE gives NULL when `redact` is NULL) and
/// drops the link that holds it.
const SCRUB: &str = "body_text = COALESCE(REPLACE(body_text, redact, '[redacted]'), body_text), \
     body_html = COALESCE(REPLACE(body_html, redact, '[redacted]'), body_html), redact = NULL, link = NULL";

#[derive(QueryableByName)]
struct InvitationRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    token_hash: String,
    #[diesel(sql_type = Text)]
    expires_at: String,
    #[diesel(sql_type = Nullable<Text>)]
    used_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    revoked_at: Option<String>,
    #[diesel(sql_type = Text)]
    created_at: String,
}

impl InvitationRow {
    fn into_invitation(self) -> StoreResult<Invitation> {
        let optional = |text: Option<String>| text.as_deref().map(parse_timestamp).transpose();
        Ok(Invitation {
            tenant: TenantId::parse(&self.tenant_id).map_err(StoreError::Database)?,
            expires_at: parse_timestamp(&self.expires_at)?,
            used_at: optional(self.used_at)?,
            revoked_at: optional(self.revoked_at)?,
            created_at: parse_timestamp(&self.created_at)?,
            id: self.id,
            user_id: self.user_id,
            token_hash: self.token_hash,
        })
    }
}

#[derive(QueryableByName)]
struct MessageRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    recipient: String,
    #[diesel(sql_type = Nullable<Text>)]
    subject: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    body_text: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    body_html: Option<String>,
    #[diesel(sql_type = Text)]
    dedupe_key: String,
    #[diesel(sql_type = Nullable<Text>)]
    invitation_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    link: Option<String>,
    #[diesel(sql_type = BigInt)]
    attempts: i64,
    #[diesel(sql_type = Text)]
    created_at: String,
    #[diesel(sql_type = Text)]
    next_attempt_at: String,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Text)]
    id: String,
}

impl SqlRepository<'_> {
    /// The invitations whose `column` is one of `values`, of `tenant` when given, open ones only
    /// with `open_only`: one query per chunk of distinct values, probing the index once per value
    /// ([`super::sql::Sql::push_matching`]).
    fn load_invitations(
        &mut self,
        tenant: Option<&TenantId>,
        column: &str,
        values: &[&str],
        open_only: bool,
    ) -> StoreResult<Vec<Invitation>> {
        let mut found = Vec::with_capacity(values.len());
        for chunk in super::batches::distinct_chunks(values.iter().copied()) {
            let mut sql = self.sql();
            sql.push_matching(column, &chunk, |sql| {
                sql.push("SELECT ").push(INVITATION_COLUMNS).push(" FROM invitations WHERE TRUE");
                if let Some(tenant) = tenant {
                    sql.push(" AND tenant_id = ").bind_text(tenant.as_str());
                }
                if open_only {
                    sql.push(" AND ").push(OPEN);
                }
            });
            for row in sql.load::<InvitationRow>(&mut self.conn)? {
                found.push(row.into_invitation()?);
            }
        }
        Ok(found)
    }
}

impl SqlRepository<'_> {
    /// Settles a claimed, unsent message with `status` (a constant), scrubbing its secret.
    fn settle_unsent(&mut self, id: &str, claim: &str, status: &'static str, reason: &str) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE outbox SET status = '").push(status).push("', last_error = ").bind_text(reason);
        sql.push(", locked_until = NULL, ").push(SCRUB);
        sql.push(" WHERE id = ").bind_text(id).push(" AND locked_by = ").bind_text(claim);
        sql.push(" AND status = 'pending'");
        Ok(sql.execute(&mut self.conn)? == 1)
    }
}

impl OutboxRepository for SqlRepository<'_> {
    fn insert_invitations(&mut self, invitations: &[Invitation]) -> StoreResult<Vec<String>> {
        const COLUMNS: [(&str, ColumnType); 8] = [
            ("id", ColumnType::Text),
            ("tenant_id", ColumnType::Text),
            ("user_id", ColumnType::Text),
            ("token_hash", ColumnType::Text),
            ("expires_at", ColumnType::Text),
            ("used_at", ColumnType::Text),
            ("revoked_at", ColumnType::Text),
            ("created_at", ColumnType::Text),
        ];
        let mut stored = Vec::with_capacity(invitations.len());
        for chunk in invitations.chunks(INSERT_CHUNK) {
            let times: Vec<[Option<String>; 4]> = chunk
                .iter()
                .map(|i| {
                    [Some(i.expires_at), i.used_at, i.revoked_at, Some(i.created_at)].map(|at| at.map(format_timestamp))
                })
                .collect();
            let mut sql = self.sql();
            let rows = chunk.iter().zip(&times).map(|(invitation, [expires, used, revoked, created])| {
                [
                    Cell::Text(&invitation.id),
                    Cell::Text(invitation.tenant.as_str()),
                    Cell::Text(&invitation.user_id),
                    Cell::Text(&invitation.token_hash),
                    Cell::OptText(expires.as_deref()),
                    Cell::OptText(used.as_deref()),
                    Cell::OptText(revoked.as_deref()),
                    Cell::OptText(created.as_deref()),
                ]
            });
            sql.insert_rows("invitations", &COLUMNS, rows);
            sql.push(" ON CONFLICT (tenant_id, user_id) WHERE ").push(OPEN).push(" DO NOTHING RETURNING id");
            stored.extend(sql.load::<IdRow>(&mut self.conn)?.into_iter().map(|row| row.id));
        }
        Ok(stored)
    }

    fn open_invitations(&mut self, tenant: &TenantId, user_ids: &[&str]) -> StoreResult<Vec<Invitation>> {
        self.load_invitations(Some(tenant), "user_id", user_ids, true)
    }

    fn invitation_by_token_hash(&mut self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        // The token hash is unique (`invitations_token_hash`): one invitation at most.
        Ok(self.load_invitations(None, "token_hash", &[token_hash], false)?.pop())
    }

    fn invitations_by_ids(&mut self, invitation_ids: &[&str]) -> StoreResult<Vec<Invitation>> {
        self.load_invitations(None, "id", invitation_ids, false)
    }

    fn revoke_open_invitations(
        &mut self,
        tenant: &TenantId,
        user_ids: &[&str],
        at: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let mut revoked = 0;
        for chunk in user_ids.chunks(INSERT_CHUNK) {
            let mut cancel = self.sql();
            cancel.push("UPDATE outbox SET status = 'cancelled', last_error = 'replaced by a newer invitation', ");
            cancel
                .push(SCRUB)
                .push(" WHERE status = 'pending' AND invitation_id IN (SELECT id FROM invitations WHERE ");
            cancel.push("tenant_id = ").bind_text(tenant.as_str());
            cancel.push(" AND user_id IN (").bind_list(chunk.iter().copied()).push(") AND ").push(OPEN).push(")");
            cancel.execute(&mut self.conn)?;
            let mut revoke = self.sql();
            revoke.push("UPDATE invitations SET revoked_at = ").bind_text(format_timestamp(at));
            revoke.push(" WHERE tenant_id = ").bind_text(tenant.as_str());
            revoke.push(" AND user_id IN (").bind_list(chunk.iter().copied()).push(") AND ").push(OPEN);
            revoked += revoke.execute(&mut self.conn)?;
        }
        Ok(revoked)
    }

    fn mark_invitation_used(&mut self, invitation_id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE invitations SET used_at = ").bind_text(format_timestamp(at));
        sql.push(" WHERE id = ").bind_text(invitation_id).push(" AND ").push(OPEN);
        Ok(sql.execute(&mut self.conn)? == 1)
    }

    fn enqueue_messages(&mut self, messages: &[NewOutboxMessage]) -> StoreResult<usize> {
        const COLUMNS: [(&str, ColumnType); 15] = [
            ("id", ColumnType::Text),
            ("tenant_id", ColumnType::Text),
            ("kind", ColumnType::Text),
            ("recipient", ColumnType::Text),
            ("subject", ColumnType::Text),
            ("body_text", ColumnType::Text),
            ("body_html", ColumnType::Text),
            ("dedupe_key", ColumnType::Text),
            ("invitation_id", ColumnType::Text),
            ("redact", ColumnType::Text),
            ("link", ColumnType::Text),
            ("status", ColumnType::Text),
            ("attempts", ColumnType::BigInt),
            ("next_attempt_at", ColumnType::Text),
            ("created_at", ColumnType::Text),
        ];
        let mut queued = 0;
        for chunk in messages.chunks(INSERT_CHUNK) {
            let created: Vec<String> = chunk.iter().map(|message| format_timestamp(message.created_at)).collect();
            let mut sql = self.sql();
            let rows = chunk.iter().zip(&created).map(|(message, created)| {
                let content = message.content.as_ref();
                [
                    Cell::Text(&message.id),
                    Cell::Text(message.tenant.as_str()),
                    Cell::Text(&message.kind),
                    Cell::Text(&message.recipient),
                    Cell::OptText(content.map(|c| c.subject.as_str())),
                    Cell::OptText(content.map(|c| c.body_text.as_str())),
                    Cell::OptText(content.and_then(|c| c.body_html.as_deref())),
                    Cell::Text(&message.dedupe_key),
                    Cell::OptText(message.invitation_id.as_deref()),
                    Cell::OptText(message.redact.as_deref()),
                    Cell::OptText(message.link.as_deref()),
                    Cell::Text("pending"),
                    Cell::Int(0),
                    Cell::Text(created),
                    Cell::Text(created),
                ]
            });
            sql.insert_rows("outbox", &COLUMNS, rows);
            sql.push(" ON CONFLICT (dedupe_key) DO NOTHING");
            queued += sql.execute(&mut self.conn)?;
        }
        Ok(queued)
    }

    fn has_due_messages(&mut self, now: DateTime<Utc>, after: Option<&QueuePosition>) -> StoreResult<bool> {
        let mut sql = self.sql();
        push_due_ids(&mut sql, &format_timestamp(now), 1, after);
        Ok(!load_due_ids(&mut self.conn, &sql)?.is_empty())
    }

    fn claim_messages(
        &mut self,
        claim: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
        after: Option<&QueuePosition>,
    ) -> StoreResult<Vec<OutboxMessage>> {
        let mut due = self.sql();
        push_due_ids(&mut due, &format_timestamp(now), limit, after);
        if due.backend() == Backend::Postgres {
            due.push(" FOR UPDATE SKIP LOCKED");
        }
        let ids = load_due_ids(&mut self.conn, &due)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut lock = self.sql();
        lock.push("UPDATE outbox SET locked_by = ").bind_text(claim);
        lock.push(", locked_until = ").bind_text(format_timestamp(lease_until));
        lock.push(", attempts = attempts + 1 WHERE id IN (").bind_list(ids.iter().map(String::as_str)).push(")");
        lock.execute(&mut self.conn)?;
        let mut load = self.sql();
        load.push(
            "SELECT id, tenant_id, kind, recipient, subject, body_text, body_html, dedupe_key, invitation_id, link, \
             attempts, created_at, next_attempt_at FROM outbox WHERE id IN (",
        );
        load.bind_list(ids.iter().map(String::as_str)).push(") ORDER BY next_attempt_at, id");
        load.load::<MessageRow>(&mut self.conn)?
            .into_iter()
            .map(|row| {
                Ok(OutboxMessage {
                    created_at: parse_timestamp(&row.created_at)?,
                    position: QueuePosition { next_attempt_at: row.next_attempt_at, id: row.id.clone() },
                    id: row.id,
                    tenant_id: row.tenant_id,
                    kind: row.kind,
                    recipient: row.recipient,
                    content: match (row.subject, row.body_text) {
                        (Some(subject), Some(body_text)) => {
                            Some(StoredContent { subject, body_text, body_html: row.body_html })
                        }
                        _ => None,
                    },
                    dedupe_key: row.dedupe_key,
                    invitation_id: row.invitation_id,
                    link: row.link,
                    attempts: row.attempts,
                })
            })
            .collect()
    }

    fn mark_message_sent(&mut self, id: &str, claim: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE outbox SET status = 'sent', sent_at = ").bind_text(format_timestamp(at));
        sql.push(", locked_until = NULL, last_error = NULL, ").push(SCRUB);
        sql.push(" WHERE id = ").bind_text(id).push(" AND locked_by = ").bind_text(claim);
        Ok(sql.reuse_prepared().execute(&mut self.conn)? == 1)
    }

    fn reschedule_message(
        &mut self,
        id: &str,
        claim: &str,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("UPDATE outbox SET next_attempt_at = ").bind_text(format_timestamp(next_attempt_at));
        sql.push(", last_error = ").bind_text(error).push(", locked_until = NULL");
        sql.push(" WHERE id = ").bind_text(id).push(" AND locked_by = ").bind_text(claim);
        sql.push(" AND status = 'pending'");
        Ok(sql.execute(&mut self.conn)? == 1)
    }

    fn fail_message(&mut self, id: &str, claim: &str, error: &str) -> StoreResult<bool> {
        self.settle_unsent(id, claim, "failed", error)
    }

    fn cancel_message(&mut self, id: &str, claim: &str, reason: &str) -> StoreResult<bool> {
        self.settle_unsent(id, claim, "cancelled", reason)
    }
}

/// The ids a [`push_due_ids`] query selects, read in the order of the `outbox_due` index.
///
/// PostgreSQL plans the query from the table's statistics, which an import outdates within
/// seconds: taken while the outbox was empty, they made it collect every pending message in a
/// bitmap and sort them all for the first ten (19 ms per claim at 17,000 pending, against 0.2 ms
/// for the index read in order; a 100,000-row import queues 100,000). Forbidding sorts for this
/// one query (in a transaction, or a savepoint of the caller's) leaves the in-order index read.
fn load_due_ids(conn: &mut DbConn<'_>, due: &super::sql::Sql) -> StoreResult<Vec<String>> {
    let rows = match conn {
        DbConn::Sqlite(_) => due.load::<IdRow>(conn)?,
        DbConn::Postgres(pg) => pg.transaction(|pg| {
            diesel::sql_query("SET LOCAL enable_sort = off").execute(pg)?;
            let rows = due.load::<IdRow>(&mut DbConn::Postgres(pg))?;
            // The caller's transaction may go on to queries that do need a sort.
            diesel::sql_query("SET LOCAL enable_sort = on").execute(pg)?;
            Ok::<_, diesel::result::Error>(rows)
        })?,
    };
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// `SELECT id ... ` of pending messages that are due and not under a live lease, oldest first
/// (after `after`, when given: a range of the `outbox_due` index, not a filter).
fn push_due_ids(sql: &mut super::sql::Sql, now: &str, limit: usize, after: Option<&QueuePosition>) {
    sql.push("SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ").bind_text(now);
    sql.push(" AND (locked_until IS NULL OR locked_until <= ").bind_text(now).push(")");
    if let Some(after) = after {
        sql.push(" AND (next_attempt_at, id) > (").bind_text(after.next_attempt_at.as_str());
        sql.push(", ").bind_text(after.id.as_str()).push(")");
    }
    sql.push(" ORDER BY next_attempt_at, id LIMIT ").bind_int(i64::try_from(limit).unwrap_or(i64::MAX));
}
