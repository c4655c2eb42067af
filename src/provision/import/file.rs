//! The uploaded file, kept in the database in chunks of base64 text (`import_files`), so that a
//! previewed import can be committed later and a background job can resume on any instance.
//! Writing holds one chunk in memory, reading one chunk: memory does not grow with the file.

use std::io::{self, Read};

use base64::Engine;

use crate::store::{Store, StoreError};
use crate::tenant::TenantId;

/// Bytes of the upload per stored chunk.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Why an upload was refused.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The file is larger than the tenant allows.
    #[error("the file is larger than this tenant's limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores an upload as it streams in.
pub struct FileWriter {
    store: Store,
    tenant: TenantId,
    import_id: String,
    max_bytes: u64,
    pending: Vec<u8>,
    seq: u64,
    bytes: u64,
    lines: u64,
}

impl FileWriter {
    pub fn new(store: Store, tenant: TenantId, import_id: String, max_bytes: u64) -> FileWriter {
        FileWriter {
            store,
            tenant,
            import_id,
            max_bytes,
            pending: Vec::with_capacity(CHUNK_BYTES),
            seq: 0,
            bytes: 0,
            lines: 0,
        }
    }

    /// Appends bytes; full chunks are written at once. Blocking.
    pub fn push(&mut self, data: &[u8]) -> Result<(), UploadError> {
        self.bytes += data.len() as u64;
        if self.bytes > self.max_bytes {
            return Err(UploadError::TooLarge { limit: self.max_bytes });
        }
        self.lines += data.iter().filter(|&&b| b == b'\n').count() as u64;
        self.pending.extend_from_slice(data);
        while self.pending.len() >= CHUNK_BYTES {
            let rest = self.pending.split_off(CHUNK_BYTES);
            self.flush()?;
            self.pending = rest;
        }
        Ok(())
    }

    /// Writes what is left; returns the file's size and its number of line breaks (an upper
    /// bound of its rows, used to decide whether it is imported in the request or in the
    /// background). Blocking.
    pub fn finish(mut self) -> Result<(u64, u64), UploadError> {
        if !self.pending.is_empty() || self.seq == 0 {
            self.flush()?;
        }
        Ok((self.bytes, self.lines))
    }

    fn flush(&mut self) -> Result<(), UploadError> {
        let text = base64::engine::general_purpose::STANDARD.encode(&self.pending);
        let seq = self.seq;
        self.store.write(|repo| repo.put_import_file_chunk(&self.tenant, &self.import_id, seq, &text))?;
        self.seq += 1;
        self.pending.clear();
        Ok(())
    }
}

/// Reads a stored upload back, one chunk at a time.
pub struct FileReader {
    store: Store,
    tenant: TenantId,
    import_id: String,
    seq: u64,
    chunk: Vec<u8>,
    position: usize,
    done: bool,
}

impl FileReader {
    pub fn new(store: Store, tenant: TenantId, import_id: String) -> FileReader {
        FileReader { store, tenant, import_id, seq: 0, chunk: Vec::new(), position: 0, done: false }
    }
}

impl Read for FileReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.chunk.len() {
            if self.done {
                return Ok(0);
            }
            let seq = self.seq;
            let text = self
                .store
                .read(|repo| repo.import_file_chunk(&self.tenant, &self.import_id, seq))
                .map_err(io::Error::other)?;
            match text {
                None => self.done = true,
                Some(text) => {
                    self.chunk = base64::engine::general_purpose::STANDARD.decode(text).map_err(io::Error::other)?;
                    self.position = 0;
                    self.seq += 1;
                }
            }
        }
        let n = out.len().min(self.chunk.len() - self.position);
        out[..n].copy_from_slice(&self.chunk[self.position..self.position + n]);
        self.position += n;
        Ok(n)
    }
}
