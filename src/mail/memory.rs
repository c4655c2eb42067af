//! An in-memory transport for unit tests: it keeps what it was given, and can be told to fail.

use std::sync::Mutex;

use futures_util::future::BoxFuture;

use super::{MailError, Mailer, OutgoingMessage};

/// Records sent messages; while `failure` is set, every send fails with it instead.
#[derive(Debug, Default)]
pub struct MemoryMailer {
    pub sent: Mutex<Vec<OutgoingMessage>>,
    pub failure: Mutex<Option<MailError>>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().expect("mailer lock").clone()
    }

    pub fn fail_with(&self, failure: Option<MailError>) {
        *self.failure.lock().expect("mailer lock") = failure;
    }
}

impl Mailer for MemoryMailer {
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            if let Some(failure) = self.failure.lock().expect("mailer lock").clone() {
                return Err(failure);
            }
            self.sent.lock().expect("mailer lock").push(message.clone());
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "keeping messages in memory".to_string()
    }
}
