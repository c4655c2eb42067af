//! The outbox worker: a background task that claims due messages from the `outbox` table under
//! a lease, sends them through the [`Mailer`], and records the outcome. A failed send is retried
//! with exponential backoff and jitter until `max_attempts`, then marked `failed`.
//!
//! Delivery is at least once: a message is marked sent right after the server accepted it; if
//! the process dies in between, the lease expires and the message is sent again (with the same
//! `Message-ID`). Instances sharing a database never claim the same message while a lease holds.
//!
//! An invitation is stored without its text and rendered here, after the claim, from the user
//! and the invitation as they are then: a user renamed in between is greeted by the new name; a
//! user deleted in between takes the invitation and its message with it (`Repository::delete`), and an
//! invitation used, replaced or expired in between cancels the message.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use rand::Rng;
use tokio::sync::{watch, Notify};

use super::{invitation, MailError, Mailer, OutgoingMessage};
use crate::config::MailSettings;
use crate::scim::schema::ResourceKind;
use crate::store::{
    Invitation, OutboxMessage, QueuePosition, Repository, Store, StoreError, StoreResult, StoredResource,
};
use crate::tenant::TenantId;

/// How many messages one claim takes; they are sent concurrently.
const BATCH_SIZE: usize = 10;
/// Longest wait between two attempts, whatever the attempt number.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// Tries to record an outcome before leaving the message to its lease.
const SETTLE_TRIES: u32 = 5;
/// Full claims in a row that resume after the previous one ([`OutboxRepository::claim_messages`])
/// before one reads the queue from its start again, for messages whose lease ran out behind them.
///
/// [`OutboxRepository::claim_messages`]: crate::store::OutboxRepository::claim_messages
const RESUMED_CLAIMS: u32 = 50;

/// Timing of the worker.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxSettings {
    pub poll_interval: Duration,
    /// Delay before the first retry; doubled for each further attempt.
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// Attempts (the first one included) before a message is marked failed.
    pub max_attempts: u32,
    /// How long a claimed message stays reserved for the worker that claimed it.
    pub lease: Duration,
    pub batch_size: usize,
}

impl OutboxSettings {
    pub fn from_config(settings: &MailSettings) -> OutboxSettings {
        OutboxSettings {
            poll_interval: settings.outbox_poll_interval,
            retry_delay: settings.outbox_retry_delay,
            max_retry_delay: MAX_RETRY_DELAY.max(settings.outbox_retry_delay),
            max_attempts: settings.outbox_max_attempts,
            lease: settings.outbox_lease,
            batch_size: BATCH_SIZE,
        }
    }

    /// The wait after failed attempt number `attempts` (1-based): `retry_delay * 2^(attempts-1)`,
    /// capped, then "equal jitter" (half fixed, half random by `jitter` in 0..1) so that messages
    /// that failed together do not all retry at the same instant.
    pub fn retry_delay_after(&self, attempts: u32, jitter: f64) -> Duration {
        let doubling = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        let delay = self.retry_delay.saturating_mul(doubling).min(self.max_retry_delay);
        delay / 2 + delay.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// Wakes the worker of this instance at once (after queueing a message), instead of at its
/// next poll.
#[derive(Debug, Clone, Default)]
pub struct OutboxWaker(Arc<Notify>);

impl OutboxWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The worker of one instance.
pub struct OutboxWorker {
    store: Store,
    mailer: Arc<dyn Mailer>,
    settings: OutboxSettings,
    instance: String,
    waker: OutboxWaker,
    resume: parking_lot::Mutex<Resume>,
}

/// Where the next claim starts: after the last full claim, or at the queue's start.
#[derive(Default)]
struct Resume {
    after: Option<QueuePosition>,
    /// Claims since the last one that read the queue from its start.
    resumed: u32,
}

/// A started worker; stop it to let the messages in hand finish.
pub struct OutboxHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl OutboxHandle {
    /// Asks the worker to stop after the batch it is sending, waiting at most `grace`.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("outbox worker did not stop in time; its claimed messages are resent after the lease");
        }
    }
}

/// What became of one attempt.
enum Outcome {
    Sent,
    Retry {
        after: Duration,
        error: String,
    },
    Failed(String),
    /// Not sent, on purpose: what it announced no longer holds.
    Cancelled(String),
}

impl OutboxWorker {
    pub fn new(store: Store, mailer: Arc<dyn Mailer>, settings: OutboxSettings) -> OutboxWorker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "roster".to_string());
        let instance = format!("{host}-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        OutboxWorker { store, mailer, settings, instance, waker: OutboxWaker::default(), resume: Default::default() }
    }

    pub fn waker(&self) -> OutboxWaker {
        self.waker.clone()
    }

    /// Runs the worker on the current Tokio runtime until stopped.
    pub fn start(self) -> OutboxHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        OutboxHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        tracing::info!(instance = %self.instance, mailer = %self.mailer.describe(), "outbox worker started");
        while !*stopped.borrow() {
            let handled = match self.deliver_due().await {
                Ok(handled) => handled,
                Err(error) => {
                    tracing::warn!(%error, "outbox worker cannot reach the database; retrying");
                    0
                }
            };
            if handled >= self.settings.batch_size {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = self.waker.0.notified() => {}
                _ = stopped.changed() => break,
            }
        }
        tracing::info!(instance = %self.instance, "outbox worker stopped");
    }

    /// Claims the messages that are due and sends them; returns how many it handled.
    pub async fn deliver_due(&self) -> StoreResult<usize> {
        let now = Utc::now();
        let mut after = self.resume_point();
        loop {
            let position = after.clone();
            if self.blocking(move |store| store.read(|repo| repo.has_due_messages(now, position.as_ref()))).await? {
                break;
            }
            if after.take().is_none() {
                return Ok(0);
            }
        }
        let claim = format!("{}:{}", self.instance, uuid::Uuid::new_v4().simple());
        let lease_until = later(now, self.settings.lease);
        let (limit, owner, position) = (self.settings.batch_size, claim.clone(), after.clone());
        let messages = self
            .blocking(move |store| {
                store.write(|repo| repo.claim_messages(&owner, now, lease_until, limit, position.as_ref()))
            })
            .await?;
        self.note_claim(after.is_some(), &messages);
        let handled = messages.len();
        if handled == 0 {
            return Ok(0);
        }
        let prepared = self.blocking(move |store| store.read(|repo| prepare_all(repo, messages, Utc::now()))).await?;
        let mut sending: FuturesUnordered<_> =
            prepared.into_iter().map(|(outgoing, message)| self.deliver(message, outgoing)).collect();
        while let Some(first) = sending.next().await {
            // Every send finished by now is recorded in one transaction with this one: one commit
            // for many messages under load, while no message waits for a send still running.
            let mut finished = vec![first];
            while let Some(Some(more)) = sending.next().now_or_never() {
                finished.push(more);
            }
            self.settle(&claim, finished).await;
        }
        Ok(handled)
    }

    /// Where the next claim starts.
    fn resume_point(&self) -> Option<QueuePosition> {
        let resume = self.resume.lock();
        resume.after.clone().filter(|_| resume.resumed < RESUMED_CLAIMS)
    }

    /// Resumes the next claim after this one when it was full; otherwise (the queue after it is
    /// empty) the next one reads from the start.
    fn note_claim(&self, resumed: bool, messages: &[OutboxMessage]) {
        let mut resume = self.resume.lock();
        resume.resumed = if resumed { resume.resumed + 1 } else { 0 };
        resume.after = match messages.last() {
            Some(last) if messages.len() >= self.settings.batch_size => Some(last.position.clone()),
            _ => None,
        };
    }

    /// Sends a prepared message (unless it is not to be sent) and returns its id and outcome.
    async fn deliver(&self, message: OutboxMessage, outgoing: Result<OutgoingMessage, Outcome>) -> (String, Outcome) {
        let attempts = u32::try_from(message.attempts).unwrap_or(u32::MAX);
        let outcome = match outgoing {
            Err(unsent) => unsent,
            Ok(outgoing) => match self.mailer.send(&outgoing).await {
                Ok(()) => Outcome::Sent,
                Err(MailError::Permanent(error)) => Outcome::Failed(error),
                Err(MailError::Transient(error)) if attempts >= self.settings.max_attempts => Outcome::Failed(error),
                Err(MailError::Transient(error)) => {
                    let after = self.settings.retry_delay_after(attempts, rand::rng().random::<f64>());
                    Outcome::Retry { after, error }
                }
            },
        };
        let (id, kind) = (message.id.as_str(), message.kind.as_str());
        match &outcome {
            Outcome::Sent => tracing::info!(message_id = id, kind, attempts, "outbox message sent"),
            Outcome::Retry { after, error } => tracing::warn!(
                message_id = id, kind, attempts, retry_in_ms = after.as_millis() as u64, %error,
                "outbox message not sent; will retry"
            ),
            Outcome::Failed(error) => {
                tracing::error!(message_id = id, kind, attempts, %error, "outbox message failed; giving up")
            }
            Outcome::Cancelled(reason) => tracing::info!(message_id = id, kind, %reason, "outbox message cancelled"),
        }
        (message.id, outcome)
    }

    /// Records outcomes in one transaction, retrying briefly: after a successful send, every
    /// moment the message stays unmarked is a moment in which a crash would send it twice.
    async fn settle(&self, claim: &str, outcomes: Vec<(String, Outcome)>) {
        let outcomes = Arc::new(outcomes);
        for attempt in 1..=SETTLE_TRIES {
            let (claim, outcomes_now) = (claim.to_string(), outcomes.clone());
            let recorded = self
                .blocking(move |store| {
                    store.write(|repo| {
                        let now = Utc::now();
                        let mut recorded = Vec::with_capacity(outcomes_now.len());
                        for (id, outcome) in outcomes_now.iter() {
                            recorded.push(match outcome {
                                Outcome::Sent => repo.mark_message_sent(id, &claim, now)?,
                                Outcome::Retry { after, error } => {
                                    repo.reschedule_message(id, &claim, later(now, *after), error)?
                                }
                                Outcome::Failed(error) => repo.fail_message(id, &claim, error)?,
                                Outcome::Cancelled(reason) => repo.cancel_message(id, &claim, reason)?,
                            });
                        }
                        Ok(recorded)
                    })
                })
                .await;
            match recorded {
                Ok(recorded) => {
                    for ((id, _), _) in outcomes.iter().zip(recorded).filter(|(_, recorded)| !recorded) {
                        tracing::warn!(message_id = %id, "outbox lease expired before the outcome was recorded");
                    }
                    return;
                }
                Err(error) if attempt < SETTLE_TRIES => {
                    tracing::warn!(messages = outcomes.len(), %error, "cannot record outbox outcomes; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err(error) => tracing::error!(
                    messages = outcomes.len(), %error, "cannot record outbox outcomes; their leases will expire"
                ),
            }
        }
    }

    /// Runs blocking database work off the async executor.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| StoreError::Unavailable(format!("database task interrupted: {e}")))?
    }
}

/// The claimed messages to send, each as stored, or, for an invitation, rendered from the
/// invitation and the user as they are now; `Err` is the outcome of a message that is not to be
/// sent. The invitations and users of all the messages are read together: one query each per
/// claim (per tenant for the users), not two per message.
fn prepare_all(
    repo: &mut dyn Repository,
    messages: Vec<OutboxMessage>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<(Result<OutgoingMessage, Outcome>, OutboxMessage)>> {
    let invitation_ids: Vec<&str> = messages.iter().filter_map(|message| message.invitation_id.as_deref()).collect();
    let invitations: HashMap<String, Invitation> = repo
        .invitations_by_ids(&invitation_ids)?
        .into_iter()
        .map(|invitation| (invitation.id.clone(), invitation))
        .collect();
    let mut user_ids: HashMap<&TenantId, Vec<&str>> = HashMap::new();
    for invitation in invitations.values() {
        user_ids.entry(&invitation.tenant).or_default().push(&invitation.user_id);
    }
    // Keyed by id alone: user ids are unique across tenants, and each was read in its
    // invitation's tenant.
    let mut users: HashMap<String, StoredResource> = HashMap::new();
    for (tenant, ids) in user_ids {
        users.extend(repo.get_many(tenant, ResourceKind::User, &ids)?.into_iter().map(|user| (user.id.clone(), user)));
    }
    Ok(messages
        .into_iter()
        .map(|message| {
            let invitation = message.invitation_id.as_ref().and_then(|id| invitations.get(id));
            let user = invitation.and_then(|invitation| users.get(&invitation.user_id));
            (prepare(&message, invitation, user, now), message)
        })
        .collect())
}

/// One message to send (see [`prepare_all`]), given its invitation and that invitation's user
/// as they are now (`None`: gone).
fn prepare(
    message: &OutboxMessage,
    invitation: Option<&Invitation>,
    user: Option<&StoredResource>,
    now: DateTime<Utc>,
) -> Result<OutgoingMessage, Outcome> {
    let outgoing = |subject: String, text: String, html: Option<String>| OutgoingMessage {
        id: message.id.clone(),
        to: message.recipient.clone(),
        subject,
        text,
        html,
        created_at: message.created_at,
    };
    if let Some(content) = &message.content {
        return Ok(outgoing(content.subject.clone(), content.body_text.clone(), content.body_html.clone()));
    }
    let (Some(_), Some(link)) = (&message.invitation_id, &message.link) else {
        return Err(Outcome::Failed(format!("a {} message was stored without content", message.kind)));
    };
    let Some(invitation) = invitation else {
        return Err(Outcome::Cancelled("the invitation no longer exists".into()));
    };
    let gone = if invitation.used_at.is_some() {
        Some("the invitation was used")
    } else if invitation.revoked_at.is_some() {
        Some("replaced by a newer invitation")
    } else if invitation.expires_at <= now {
        Some("the invitation expired before it was sent")
    } else {
        None
    };
    if let Some(reason) = gone {
        return Err(Outcome::Cancelled(reason.into()));
    }
    let Some(user) = user else {
        return Err(Outcome::Cancelled("the user no longer exists".into()));
    };
    let mail = invitation::render(&user.data, link, invitation.expires_at);
    Ok(outgoing(mail.subject, mail.text, Some(mail.html)))
}

/// `at + delay`, saturating at the latest representable time.
fn later(at: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|delay| at.checked_add_signed(delay))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::MemoryMailer;
    use crate::scim::schema::SchemaRegistry;
    use crate::store::{DatabaseUrl, NewOutboxMessage, StoredContent};
    use crate::tenant::TenantId;

    fn settings() -> OutboxSettings {
        OutboxSettings {
            poll_interval: Duration::from_millis(20),
            retry_delay: Duration::from_millis(1),
            max_retry_delay: Duration::from_millis(4),
            max_attempts: 3,
            lease: Duration::from_millis(300),
            batch_size: 10,
        }
    }

    fn store(dir: &tempfile::TempDir) -> Store {
        let url = DatabaseUrl::parse(&dir.path().join("outbox.db").to_string_lossy());
        Store::open(&url, 2, Arc::new(SchemaRegistry::standard())).unwrap()
    }

    fn queue(store: &Store, key: &str) -> bool {
        let message = NewOutboxMessage {
            id: uuid::Uuid::new_v4().to_string(),
            tenant: TenantId::parse("acme").unwrap(),
            kind: "test".into(),
            recipient: format!("{key}@example.com"),
            content: Some(StoredContent { subject: "Hello".into(), body_text: "secret-token".into(), body_html: None }),
            dedupe_key: key.into(),
            invitation_id: None,
            redact: Some("secret-token".into()),
            link: None,
            created_at: Utc::now(),
        };
        store.write(|repo| repo.enqueue_messages(std::slice::from_ref(&message))).unwrap() == 1
    }

    #[test]
    fn backoff_doubles_per_attempt_with_bounded_jitter() {
        let settings = OutboxSettings {
            retry_delay: Duration::from_secs(30),
            max_retry_delay: Duration::from_secs(3600),
            ..settings()
        };
        assert_eq!(settings.retry_delay_after(1, 1.0), Duration::from_secs(30));
        assert_eq!(settings.retry_delay_after(1, 0.0), Duration::from_secs(15));
        assert_eq!(settings.retry_delay_after(3, 1.0), Duration::from_secs(120));
        assert_eq!(settings.retry_delay_after(40, 1.0), Duration::from_secs(3600));
        let jittered = settings.retry_delay_after(2, 0.5);
        assert!(jittered > Duration::from_secs(30) && jittered < Duration::from_secs(60), "{jittered:?}");
    }

    #[tokio::test]
    async fn due_messages_are_sent_once_and_a_dedupe_key_queues_one_message() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        assert!(queue(&store, "k1"));
        assert!(!queue(&store, "k1"), "the same dedupe key queues nothing");
        let mailer = Arc::new(MemoryMailer::default());
        let worker = OutboxWorker::new(store, mailer.clone(), settings());
        assert_eq!(worker.deliver_due().await.unwrap(), 1);
        assert_eq!(worker.deliver_due().await.unwrap(), 0);
        assert_eq!(mailer.sent().len(), 1);
        assert_eq!(mailer.sent()[0].to, "k1@example.com");
    }

    #[tokio::test]
    async fn transient_failures_are_retried_then_the_message_fails() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir);
        queue(&store, "k2");
        let mailer = Arc::new(MemoryMailer::default());
        mailer.fail_with(Some(MailError::Transient("421 try later".into())));
        let worker = OutboxWorker::new(store, mailer.clone(), settings());
        let mut attempts = 0;
        for _ in 0..100 {
            attempts += worker.deliver_due().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(attempts, 3, "max_attempts attempts, then failed");
        mailer.fail_with(None);
        assert_eq!(worker.deliver_due().await.unwrap(), 0, "a failed message is not sent any more");
        assert!(mailer.sent().is_empty());
    }

    #[tokio::test]
    async fn a_message_claimed_by_a_dead_worker_is_sent_after_its_lease() {
        let dir = tempfile::tempdir().unwrap();
        let store = queue_behind_a_dead_claim(&dir, 1, 1, 300);
        let mailer = Arc::new(MemoryMailer::default());
        let worker = OutboxWorker::new(store, mailer.clone(), settings());
        assert_eq!(worker.deliver_due().await.unwrap(), 0, "the lease holds");
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(worker.deliver_due().await.unwrap(), 1, "the lease expired");
        assert_eq!(mailer.sent().len(), 1);
    }

    fn recipients(mailer: &MemoryMailer) -> Vec<String> {
        mailer.sent().iter().map(|mail| mail.to.trim_end_matches("@example.com").to_string()).collect()
    }

    /// A store queueing `count` messages, `k00`, `k01`, ... in claim order, whose first `dead`
    /// a worker that died claimed under a lease of `lease_ms`.
    fn queue_behind_a_dead_claim(dir: &tempfile::TempDir, count: usize, dead: usize, lease_ms: i64) -> Store {
        let store = store(dir);
        for n in 0..count {
            assert!(queue(&store, &format!("k{n:02}")));
            // Distinct timestamps keep the claim order the queueing order.
            std::thread::sleep(Duration::from_millis(2));
        }
        let now = Utc::now();
        let lease = now + chrono::Duration::milliseconds(lease_ms);
        let claimed = store.write(|repo| repo.claim_messages("dead-worker", now, lease, dead, None)).unwrap();
        assert_eq!(claimed.len(), dead);
        store
    }

    #[tokio::test]
    async fn a_claim_resumes_after_the_last_full_one_and_the_queue_start_is_read_once_it_runs_dry() {
        let dir = tempfile::tempdir().unwrap();
        let store = queue_behind_a_dead_claim(&dir, 25, 3, 300);
        let mailer = Arc::new(MemoryMailer::default());
        let worker = OutboxWorker::new(store, mailer.clone(), settings());
        assert_eq!(worker.deliver_due().await.unwrap(), 10);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(worker.deliver_due().await.unwrap(), 10, "resumed after the first claim");
        let sent: Vec<String> = (3..23).map(|n| format!("k{n:02}")).collect();
        assert_eq!(recipients(&mailer), sent, "the expired messages at the start wait");
        assert_eq!(worker.deliver_due().await.unwrap(), 2, "the end of the queue");
        assert_eq!(worker.deliver_due().await.unwrap(), 3, "then its start, whose lease expired");
        assert_eq!(worker.deliver_due().await.unwrap(), 0);
        let mut sent = recipients(&mailer);
        sent.sort();
        assert_eq!(sent, (0..25).map(|n| format!("k{n:02}")).collect::<Vec<_>>(), "each message once");
    }

    #[tokio::test]
    async fn under_a_steady_queue_every_fiftieth_claim_reads_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = queue_behind_a_dead_claim(&dir, 60, 1, 100);
        let mailer = Arc::new(MemoryMailer::default());
        let worker = OutboxWorker::new(store, mailer.clone(), OutboxSettings { batch_size: 1, ..settings() });
        assert_eq!(worker.deliver_due().await.unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        for _ in 0..RESUMED_CLAIMS + 1 {
            assert_eq!(worker.deliver_due().await.unwrap(), 1);
        }
        let sent = recipients(&mailer);
        let expired = sent.iter().position(|to| to == "k00").expect("the expired message was sent");
        assert_eq!(expired, 1 + RESUMED_CLAIMS as usize, "after {RESUMED_CLAIMS} resumed claims: {sent:?}");
    }
}
