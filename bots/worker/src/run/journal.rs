//! The embedded store: an append-only journal of records on the pod's volume.
//!
//! One frame per batch, so a batch is recovered whole or not at all:
//!
//! ```text
//! [len: u32 LE][crc32(len bytes): u32 LE][crc32(payload): u32 LE][payload: JSON array]
//! ```
//!
//! The header carries its own checksum so a flipped bit in a length is reported as
//! corruption rather than mistaken for a torn tail (which would silently drop every batch
//! after it). On open, a frame cut short at the end of the file — or a last frame whose
//! payload checksum fails, which is what a crash mid-write leaves — is truncated with a
//! warning; any other damage is an error naming the file and offset. A live worker opens
//! with [`TailPolicy::Refuse`]: a complete last frame whose checksum fails may be the
//! record of an order just sent, so it stops with a message saying what to reconcile
//! instead of dropping it. Every append is
//! followed by `sync_data`, and an exclusive `flock` on the file keeps a second process
//! (or a second open in this one) from writing the same journal.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bytes of a frame header: length, header checksum, payload checksum.
const HEADER: usize = 12;
/// Largest payload accepted (a sanity bound, far above any real batch).
const MAX_FRAME: u32 = 256 * 1024 * 1024;

/// What went wrong with a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be opened, read, written or synced.
    #[error("journal {path}: {op}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another handle in this one) holds the journal.
    #[error("journal {path} is already open by another process (lock held)")]
    Locked {
        /// The journal file.
        path: PathBuf,
    },
    /// A frame before the tail is damaged: the journal cannot be trusted past it.
    #[error("journal {path} is corrupt at byte offset {offset}: {reason}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Offset of the damaged frame.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The last frame is complete but its checksum fails, and the journal was opened
    /// with [`TailPolicy::Refuse`].
    #[error(
        "journal {path}: the last batch ({bytes} bytes at byte offset {offset}) is complete but its checksum fails; \
         it may record an order just sent. Reconcile the account's open orders and recent trades on the venue \
         with the bot's events, then move the journal aside (a new session starts) or truncate it to {offset} bytes"
    )]
    DamagedTail {
        /// The journal file.
        path: PathBuf,
        /// Offset of the damaged frame.
        offset: u64,
        /// Bytes of the damaged frame.
        bytes: u64,
    },
    /// A record could not be serialized.
    #[error("journal {path}: cannot encode a batch: {source}")]
    Encode {
        /// The journal file.
        path: PathBuf,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// A batch is too large for one frame.
    #[error("journal {path}: a batch of {bytes} bytes exceeds the frame limit")]
    TooLarge {
        /// The journal file.
        path: PathBuf,
        /// Encoded size of the batch.
        bytes: usize,
    },
}

/// What [`Journal::open_with`] does with a complete last frame whose checksum fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailPolicy {
    /// Drop it with a warning, as a torn write (paper trading, tests).
    Truncate,
    /// Refuse to open ([`JournalError::DamagedTail`]): live trading, where the frame may
    /// be an order already on the venue.
    Refuse,
}

/// What [`decode`] found in a journal's bytes.
#[derive(Debug)]
pub struct Decoded<R> {
    /// Every record of every intact frame, in order.
    pub records: Vec<R>,
    /// Length of the intact prefix.
    pub valid: usize,
    /// Whether the bytes after the prefix are a complete frame whose payload checksum
    /// fails (rather than a frame cut short).
    pub damaged_tail: bool,
}

/// An open, locked, append-only journal of `R` records.
#[derive(Debug)]
pub struct Journal<R> {
    file: File,
    path: PathBuf,
    /// Length of the valid content (where the next frame goes).
    len: u64,
    records: u64,
    _records: PhantomData<fn(R) -> R>,
}

impl<R: Serialize + DeserializeOwned> Journal<R> {
    /// Opens (creating it if needed) and locks the journal at `path`, recovering every
    /// complete batch in order; a torn tail is truncated with a warning.
    pub fn open(path: impl AsRef<Path>) -> Result<(Journal<R>, Vec<R>), JournalError> {
        Self::open_with(path, TailPolicy::Truncate)
    }

    /// [`open`](Self::open), with `tail` deciding what a complete but damaged last frame
    /// means.
    pub fn open_with(
        path: impl AsRef<Path>,
        tail: TailPolicy,
    ) -> Result<(Journal<R>, Vec<R>), JournalError> {
        let path = path.as_ref().to_path_buf();
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| JournalError::Io { path, op, source }
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io("open"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(JournalError::Locked { path }),
            Err(TryLockError::Error(e)) => return Err(io("lock")(e)),
        }
        if !existed {
            // Make the new directory entry durable too.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io("sync directory"))?;
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("read"))?;
        let Decoded {
            records,
            valid,
            damaged_tail,
        } = decode::<R>(&path, &bytes)?;
        if damaged_tail && tail == TailPolicy::Refuse {
            return Err(JournalError::DamagedTail {
                path,
                offset: valid as u64,
                bytes: (bytes.len() - valid) as u64,
            });
        }
        if valid < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                offset = valid,
                dropped_bytes = bytes.len() - valid,
                "journal ends in a torn write (crash mid-append); truncating the partial batch"
            );
            file.set_len(valid as u64).map_err(io("truncate"))?;
            file.sync_all().map_err(io("sync"))?;
        }
        let journal = Journal {
            file,
            path,
            len: valid as u64,
            records: records.len() as u64,
            _records: PhantomData,
        };
        Ok((journal, records))
    }

    /// Appends `batch` as one frame and syncs it: after a crash the whole batch is
    /// recovered or none of it. An empty batch writes nothing.
    pub fn append(&mut self, batch: &[R]) -> Result<(), JournalError> {
        if batch.is_empty() {
            return Ok(());
        }
        let payload = serde_json::to_vec(batch).map_err(|source| JournalError::Encode {
            path: self.path.clone(),
            source,
        })?;
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_FRAME)
            .ok_or_else(|| JournalError::TooLarge {
                path: self.path.clone(),
                bytes: payload.len(),
            })?;
        let mut frame = Vec::with_capacity(HEADER + payload.len());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&crc32(&len.to_le_bytes()).to_le_bytes());
        frame.extend_from_slice(&crc32(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        let written = self
            .file
            .write_all(&frame)
            .and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            // Cut a partial frame off again so later appends do not land behind garbage.
            let _ = self.file.set_len(self.len);
            return Err(JournalError::Io {
                path: self.path.clone(),
                op: "append",
                source,
            });
        }
        self.len += frame.len() as u64;
        self.records += batch.len() as u64;
        Ok(())
    }

    /// Number of records in the journal (recovered plus appended).
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Decodes every frame of a journal's bytes (`path` only names it in errors). Never
/// panics, whatever the bytes (a fuzz target feeds it random input).
pub fn decode<R: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<Decoded<R>, JournalError> {
    let corrupt = |offset: usize, reason: String| JournalError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let mut records = Vec::new();
    let mut at = 0;
    let mut damaged_tail = false;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            break; // torn header
        }
        let len_bytes: [u8; 4] = rest[0..4].try_into().unwrap_or_default();
        let len = u32::from_le_bytes(len_bytes);
        let head_crc = u32::from_le_bytes(rest[4..8].try_into().unwrap_or_default());
        if crc32(&len_bytes) != head_crc || len > MAX_FRAME {
            return Err(corrupt(at, "frame header checksum mismatch".into()));
        }
        let end = HEADER + len as usize;
        if rest.len() < end {
            break; // torn payload
        }
        let payload = &rest[HEADER..end];
        let crc = u32::from_le_bytes(rest[8..12].try_into().unwrap_or_default());
        if crc32(payload) != crc {
            if rest.len() == end {
                // The last frame, not fully on disk when the process died — or damaged.
                damaged_tail = true;
                break;
            }
            return Err(corrupt(at, "batch checksum mismatch".into()));
        }
        let batch: Vec<R> = serde_json::from_slice(payload)
            .map_err(|e| corrupt(at, format!("batch does not decode: {e}")))?;
        records.extend(batch);
        at += end;
    }
    Ok(Decoded {
        records,
        valid: at,
        damaged_tail,
    })
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and crc32fast compute it).
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for b in bytes {
        crc = TABLE[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Rec {
        batch: u32,
        n: u32,
        price: String,
    }

    fn batch(b: u32, size: u32) -> Vec<Rec> {
        (0..size)
            .map(|n| Rec {
                batch: b,
                n,
                price: format!("{b}.{n:02}"),
            })
            .collect()
    }

    /// A fresh directory under the target dir (removed on drop).
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "tradewind-journal-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }
        fn file(&self) -> PathBuf {
            self.0.join("journal.log")
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn crc32_matches_the_reference_value() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip_across_reopen() {
        let dir = TempDir::new("roundtrip");
        let (mut j, recovered) = Journal::<Rec>::open(dir.file()).expect("open");
        assert!(recovered.is_empty());
        j.append(&batch(0, 3)).expect("append");
        j.append(&[]).expect("empty");
        j.append(&batch(1, 1)).expect("append");
        assert_eq!(j.records(), 4);
        assert_eq!(j.path, dir.file());
        drop(j);
        let (mut j, recovered) = Journal::<Rec>::open(dir.file()).expect("reopen");
        let mut want = batch(0, 3);
        want.extend(batch(1, 1));
        assert_eq!(recovered, want);
        assert_eq!(j.records(), 4);
        j.append(&batch(2, 2)).expect("append after reopen");
        drop(j);
        let (_, recovered) = Journal::<Rec>::open(dir.file()).expect("reopen");
        want.extend(batch(2, 2));
        assert_eq!(recovered, want);
    }

    #[test]
    fn torn_tail_at_every_offset_drops_only_the_partial_batch() {
        let dir = TempDir::new("torn");
        let (mut j, _) = Journal::<Rec>::open(dir.file()).expect("open");
        j.append(&batch(0, 2)).expect("append");
        j.append(&batch(1, 3)).expect("append");
        let good = std::fs::metadata(dir.file()).expect("meta").len();
        j.append(&batch(2, 4)).expect("append");
        drop(j);
        let full = std::fs::read(dir.file()).expect("read");
        let mut want = batch(0, 2);
        want.extend(batch(1, 3));
        for cut in good..full.len() as u64 {
            std::fs::write(dir.file(), &full[..cut as usize]).expect("write");
            let (mut j, recovered) = Journal::<Rec>::open(dir.file()).expect("open torn");
            assert_eq!(recovered, want, "cut at {cut}");
            assert_eq!(j.records(), 5);
            assert_eq!(
                std::fs::metadata(dir.file()).expect("meta").len(),
                good,
                "truncated at {cut}"
            );
            j.append(&batch(9, 1)).expect("append after recovery");
            drop(j);
            let (_, again) = Journal::<Rec>::open(dir.file()).expect("reopen");
            assert_eq!(&again[..5], &want[..], "cut at {cut}");
            assert_eq!(again[5..], batch(9, 1), "cut at {cut}");
        }
    }

    #[test]
    fn a_damaged_last_payload_is_a_torn_tail() {
        let dir = TempDir::new("lastcrc");
        let (mut j, _) = Journal::<Rec>::open(dir.file()).expect("open");
        j.append(&batch(0, 1)).expect("append");
        j.append(&batch(1, 1)).expect("append");
        drop(j);
        let mut bytes = std::fs::read(dir.file()).expect("read");
        let last = bytes.len() - 2;
        bytes[last] ^= 0x55;
        std::fs::write(dir.file(), &bytes).expect("write");
        let (_, recovered) = Journal::<Rec>::open(dir.file()).expect("open");
        assert_eq!(recovered, batch(0, 1));
    }

    /// Live trading: a complete last frame with a bad checksum was dropped with a
    /// warning; now the open is refused, saying where and what to reconcile, and the
    /// file is left as it was.
    #[test]
    fn a_damaged_last_payload_is_refused_when_live() {
        let dir = TempDir::new("lastcrc-live");
        let (mut j, _) = Journal::<Rec>::open(dir.file()).expect("open");
        j.append(&batch(0, 1)).expect("append");
        let first = std::fs::metadata(dir.file()).expect("meta").len();
        j.append(&batch(1, 1)).expect("append");
        drop(j);
        let mut bytes = std::fs::read(dir.file()).expect("read");
        let last = bytes.len() - 2;
        bytes[last] ^= 0x55;
        std::fs::write(dir.file(), &bytes).expect("write");
        let err = Journal::<Rec>::open_with(dir.file(), TailPolicy::Refuse).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, JournalError::DamagedTail { offset, .. } if offset == first),
            "{text}"
        );
        assert!(
            text.contains("Reconcile") && text.contains(&format!("offset {first}")),
            "{text}"
        );
        assert_eq!(std::fs::read(dir.file()).expect("read"), bytes);
        // A frame cut short is still a torn write, truncated even when live.
        let short = &bytes[..bytes.len() - 1];
        std::fs::write(dir.file(), short).expect("write");
        let (_, recovered) =
            Journal::<Rec>::open_with(dir.file(), TailPolicy::Refuse).expect("open");
        assert_eq!(recovered, batch(0, 1));
    }

    #[test]
    fn a_flipped_byte_before_the_tail_is_an_error_naming_file_and_offset() {
        let dir = TempDir::new("corrupt");
        let (mut j, _) = Journal::<Rec>::open(dir.file()).expect("open");
        j.append(&batch(0, 2)).expect("append");
        let second = std::fs::metadata(dir.file()).expect("meta").len();
        j.append(&batch(1, 2)).expect("append");
        j.append(&batch(2, 2)).expect("append");
        drop(j);
        let clean = std::fs::read(dir.file()).expect("read");
        // In the payload of the second frame, then in its length field.
        for at in [second as usize + HEADER + 5, second as usize + 1] {
            let mut bytes = clean.clone();
            bytes[at] ^= 0x01;
            std::fs::write(dir.file(), &bytes).expect("write");
            let err = Journal::<Rec>::open(dir.file()).expect_err("corrupt");
            assert!(
                matches!(&err, JournalError::Corrupt { offset, .. } if *offset == second),
                "{err}"
            );
            let msg = err.to_string();
            assert!(msg.contains("journal.log"), "{msg}");
            assert!(msg.contains(&format!("offset {second}")), "{msg}");
            // Nothing was truncated.
            assert_eq!(std::fs::read(dir.file()).expect("read"), bytes);
        }
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_the_lock() {
        let dir = TempDir::new("lock");
        let (j, _) = Journal::<Rec>::open(dir.file()).expect("open");
        let err = Journal::<Rec>::open(dir.file()).expect_err("locked");
        assert!(matches!(err, JournalError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("already open"), "{err}");
        drop(j);
        Journal::<Rec>::open(dir.file()).expect("open after release");
    }

    /// Child side of the kill test: appends batches until killed.
    #[test]
    #[ignore = "run as a child process by killed_mid_append_recovers"]
    fn child_appends_until_killed() {
        let Some(path) = std::env::var_os("TRADEWIND_JOURNAL_CHILD") else {
            return;
        };
        let (mut j, recovered) = Journal::<Rec>::open(path).expect("child open");
        let mut b = recovered.last().map_or(0, |r| r.batch + 1);
        loop {
            j.append(&batch(b, 1 + b % 7)).expect("child append");
            b += 1;
        }
    }

    #[test]
    fn killed_mid_append_recovers_whole_batches() {
        let dir = TempDir::new("kill");
        for round in 0..3 {
            let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
                .args([
                    "--exact",
                    "run::journal::tests::child_appends_until_killed",
                    "--ignored",
                    "--nocapture",
                ])
                .env("TRADEWIND_JOURNAL_CHILD", dir.file())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn child");
            // Let it write a while (by size, not time), then SIGKILL it mid-stream.
            let target = 20_000 * (round + 1);
            while std::fs::metadata(dir.file()).map_or(0, |m| m.len()) < target {
                if let Some(status) = child.try_wait().expect("wait") {
                    panic!("child exited early: {status}");
                }
                std::thread::yield_now();
            }
            child.kill().expect("kill");
            child.wait().expect("reap");
            let (j, recovered) = Journal::<Rec>::open(dir.file()).expect("recover");
            // Every batch is whole and in order.
            let mut expect_batch = 0;
            let mut i = 0;
            while i < recovered.len() {
                let size = 1 + expect_batch % 7;
                assert_eq!(
                    &recovered[i..i + size as usize],
                    &batch(expect_batch, size)[..],
                    "round {round}"
                );
                i += size as usize;
                expect_batch += 1;
            }
            assert!(expect_batch > 0);
            assert_eq!(j.records(), recovered.len() as u64);
        }
    }
}
