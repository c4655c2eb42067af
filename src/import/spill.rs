//! Sorting more records than memory should hold: an external merge sort of `(key, row, value)`
//! records, used by the scan of an import to find what a whole file repeats with memory bounded by
//! a constant instead of by the file.
//!
//! Records are kept encoded in one buffer; while it fits the bound they are sorted in memory (the
//! ordinary file never touches the disk). Past the bound the buffer is sorted and written to an
//! anonymous temporary file (a run) and reused; at the end the runs are merged. Only `std` is used:
//! the pure CSV core stays free of the database.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

/// One sorted record: records are ordered by key, then row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortRecord {
    pub key: Vec<u8>,
    pub row: u64,
    pub value: Vec<u8>,
}

impl Ord for SortRecord {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.key, self.row).cmp(&(&other.key, other.row))
    }
}

impl PartialOrd for SortRecord {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Bytes a record's index entry costs next to its encoding in the buffer.
const INDEX_BYTES: usize = std::mem::size_of::<usize>();

/// Sorts records by `(key, row)` within `memory` bytes, spilling sorted runs to temporary files.
#[derive(Debug)]
pub struct ExternalSort {
    memory: usize,
    /// Encoded records: key length (u32), key, row (u64), value length (u32), value.
    buffer: Vec<u8>,
    /// Where each buffered record starts.
    starts: Vec<usize>,
    /// Sorted runs already written, each read from its start.
    runs: Vec<File>,
}

impl ExternalSort {
    /// A sort that holds at most about `memory` bytes of records before it spills a run.
    pub fn new(memory: usize) -> Self {
        Self { memory: memory.max(1), buffer: Vec::new(), starts: Vec::new(), runs: Vec::new() }
    }

    /// Adds a record; spills the buffer to a run when it reaches the bound.
    pub fn push(&mut self, key: &[u8], row: u64, value: &[u8]) -> io::Result<()> {
        self.starts.push(self.buffer.len());
        self.buffer.extend_from_slice(&len_u32(key.len())?.to_le_bytes());
        self.buffer.extend_from_slice(key);
        self.buffer.extend_from_slice(&row.to_le_bytes());
        self.buffer.extend_from_slice(&len_u32(value.len())?.to_le_bytes());
        self.buffer.extend_from_slice(value);
        if self.buffer.len() + self.starts.len() * INDEX_BYTES >= self.memory {
            self.spill()?;
        }
        Ok(())
    }

    /// Runs written so far (0 while everything fits in memory).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn sort_buffer(&mut self) {
        let buffer = &self.buffer;
        self.starts.sort_unstable_by(|&a, &b| {
            let (a, b) = (decode(buffer, a), decode(buffer, b));
            (a.0, a.1).cmp(&(b.0, b.1))
        });
    }

    fn spill(&mut self) -> io::Result<()> {
        self.sort_buffer();
        let file = anonymous_file()?;
        let mut writer = BufWriter::with_capacity(64 * 1024, &file);
        for &start in &self.starts {
            let end = start + encoded_len(&self.buffer, start);
            writer.write_all(&self.buffer[start..end])?;
        }
        writer.flush()?;
        drop(writer);
        self.runs.push(file);
        // Kept allocated: the next run fills the same memory.
        self.buffer.clear();
        self.starts.clear();
        Ok(())
    }

    /// Every record pushed, sorted by key, then row.
    pub fn finish(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            self.sort_buffer();
            return Ok(Sorted::Memory { buffer: self.buffer, starts: self.starts.into_iter() });
        }
        if !self.starts.is_empty() {
            self.spill()?;
        }
        let mut readers = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::with_capacity(self.runs.len());
        for (index, mut file) in self.runs.into_iter().enumerate() {
            file.rewind()?;
            let mut reader = BufReader::with_capacity(32 * 1024, file);
            if let Some(record) = read_record(&mut reader)? {
                heap.push(Reverse((record, index)));
            }
            readers.push(reader);
        }
        Ok(Sorted::Runs { readers, heap })
    }
}

/// The records of an [`ExternalSort`], in order.
pub enum Sorted {
    Memory { buffer: Vec<u8>, starts: std::vec::IntoIter<usize> },
    Runs { readers: Vec<BufReader<File>>, heap: BinaryHeap<Reverse<(SortRecord, usize)>> },
}

impl Iterator for Sorted {
    type Item = io::Result<SortRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Sorted::Memory { buffer, starts } => {
                let (key, row, value) = decode(buffer, starts.next()?);
                Some(Ok(SortRecord { key: key.to_vec(), row, value: value.to_vec() }))
            }
            Sorted::Runs { readers, heap } => {
                let Reverse((record, index)) = heap.pop()?;
                match read_record(&mut readers[index]) {
                    Ok(Some(next)) => heap.push(Reverse((next, index))),
                    Ok(None) => {}
                    Err(error) => return Some(Err(error)),
                }
                Some(Ok(record))
            }
        }
    }
}

fn len_u32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a sort record over 4 GiB"))
}

fn u32_at(buffer: &[u8], at: usize) -> usize {
    u32::from_le_bytes(buffer[at..at + 4].try_into().expect("4 bytes")) as usize
}

/// The key, row and value of the record encoded at `start`.
fn decode(buffer: &[u8], start: usize) -> (&[u8], u64, &[u8]) {
    let key_len = u32_at(buffer, start);
    let key = &buffer[start + 4..start + 4 + key_len];
    let at = start + 4 + key_len;
    let row = u64::from_le_bytes(buffer[at..at + 8].try_into().expect("8 bytes"));
    let value_len = u32_at(buffer, at + 8);
    (key, row, &buffer[at + 12..at + 12 + value_len])
}

fn encoded_len(buffer: &[u8], start: usize) -> usize {
    let key_len = u32_at(buffer, start);
    4 + key_len + 8 + 4 + u32_at(buffer, start + 4 + key_len + 8)
}

fn read_record(reader: &mut impl Read) -> io::Result<Option<SortRecord>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let mut key = vec![0u8; u32::from_le_bytes(len) as usize];
    reader.read_exact(&mut key)?;
    let mut row = [0u8; 8];
    reader.read_exact(&mut row)?;
    reader.read_exact(&mut len)?;
    let mut value = vec![0u8; u32::from_le_bytes(len) as usize];
    reader.read_exact(&mut value)?;
    Ok(Some(SortRecord { key, row: u64::from_le_bytes(row), value }))
}

/// A new file in the temporary directory, removed from it at once: it disappears with its handle,
/// even when the process dies.
fn anonymous_file() -> io::Result<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "roster-sort-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, AtomicOrdering::Relaxed)
    ));
    let file = File::options().read(true).write(true).create_new(true).open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(memory: usize, records: &[(&str, u64, &str)]) -> (Vec<(String, u64, String)>, usize) {
        let mut sort = ExternalSort::new(memory);
        for (key, row, value) in records {
            sort.push(key.as_bytes(), *row, value.as_bytes()).unwrap();
        }
        let runs = sort.runs();
        let out = sort
            .finish()
            .unwrap()
            .map(|r| {
                let r = r.unwrap();
                (String::from_utf8(r.key).unwrap(), r.row, String::from_utf8(r.value).unwrap())
            })
            .collect();
        (out, runs)
    }

    #[test]
    fn records_come_out_by_key_then_row_whether_they_fit_in_memory_or_spill() {
        let records: Vec<(String, u64, String)> =
            (0..500u64).map(|i| (format!("k{}", (i * 7919) % 37), 1000 - i, format!("v{i}"))).collect();
        let borrowed: Vec<(&str, u64, &str)> = records.iter().map(|(k, r, v)| (k.as_str(), *r, v.as_str())).collect();
        let mut expected = records.clone();
        expected.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let (in_memory, runs) = sorted(1 << 20, &borrowed);
        assert_eq!((in_memory, runs), (expected.clone(), 0));
        let (spilled, runs) = sorted(200, &borrowed);
        assert!(runs > 10, "{runs} runs");
        assert_eq!(spilled, expected);
    }

    #[test]
    fn an_empty_sort_yields_nothing() {
        assert_eq!(sorted(10, &[]).0, vec![]);
    }
}
