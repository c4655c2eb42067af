//! The background worker: a thread that leases imports waiting to run (or whose worker stopped
//! renewing its lease, after a crash or restart) and runs them, one at a time. Every instance runs
//! one; the lease in the database makes sure each import is run by one worker at a time.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};

use super::Importer;

/// Wakes the worker when an import is queued, so it need not wait for its next poll.
#[derive(Clone)]
pub struct WorkerHandle {
    wake: Arc<Mutex<Sender<()>>>,
}

impl WorkerHandle {
    pub fn wake(&self) {
        if let Ok(sender) = self.wake.lock() {
            let _ = sender.send(());
        }
    }
}

/// Starts this instance's worker thread; it runs as long as the process does.
pub fn start_worker(importer: Importer) -> WorkerHandle {
    let (sender, receiver) = mpsc::channel::<()>();
    let poll = importer.settings.import_poll_interval;
    let spawned = std::thread::Builder::new().name("import-worker".into()).spawn(move || loop {
        loop {
            match importer.claim_next() {
                Ok(Some(import)) => {
                    let id = import.id.clone();
                    tracing::info!(import = %id, tenant = %import.tenant, "import job started");
                    match importer.run(import, &mut |_, _| {}) {
                        Ok(done) => tracing::info!(import = %id, status = done.status.as_str(), "import job ended"),
                        Err(error) => tracing::warn!(import = %id, error = %error, "import job stopped"),
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "cannot look for import jobs");
                    break;
                }
            }
        }
        match receiver.recv_timeout(poll) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => std::thread::park_timeout(poll),
        }
    });
    if let Err(error) = spawned {
        tracing::error!(error = %error, "cannot start the import worker");
    }
    WorkerHandle { wake: Arc::new(Mutex::new(sender)) }
}
