//! The record `spawnfd exec --status-fd N` writes to fd N when it fails:
//! one fixed-size binary record, and nothing at all on success (fd N is
//! close-on-exec, so the reader sees end-of-file once PROGRAM runs).
//!
//! # Layout
//!
//! 24 bytes, every number little-endian:
//!
//! | offset | size | field                                                   |
//! |--------|------|---------------------------------------------------------|
//! | 0      | 4    | magic, the bytes `SPFX`                                 |
//! | 4      | 2    | version, 1                                              |
//! | 6      | 2    | the exit status spawnfd exits with: 125, 126 or 127     |
//! | 8      | 4    | step: the library's `Step::code()` (1 = pipe, ..., 14 = chdir, ..., 25 = exec, 26 = unshare), or 0 when spawnfd failed before any step (an option it refused or could not work out) |
//! | 12     | 4    | errno (signed): `EINVAL` for input refused before any step, 0 when there is none |
//! | 16     | 8    | detail (signed): the fd, signal, user/group/process group id or niceness, or `RLIMIT_*` number the step was working on, or -1 |
//!
//! A reader takes exactly 24 bytes, or end-of-file: with 0 bytes, PROGRAM
//! was executed. The record is written with one `write`, which is atomic
//! on a pipe (it is below `PIPE_BUF`).

use std::io::{self, Write};

use spawnfd::SpawnError;

use crate::report::Error;

/// The first four bytes.
pub const MAGIC: [u8; 4] = *b"SPFX";
/// The layout's version.
pub const VERSION: u16 = 1;
/// The size of a record.
pub const LEN: usize = 24;

/// A failure, as written to the status fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The exit status.
    pub status: u16,
    /// `Step::code()`, 0 for none.
    pub step: u32,
    /// 0 for none.
    pub errno: i32,
    /// -1 for none.
    pub detail: i64,
}

impl Record {
    /// The record for `err`, which makes spawnfd exit with `status`.
    pub fn of(err: &Error, status: u8) -> Record {
        let spawn = match err {
            Error::Spawn(e) => SpawnError::from_io(e),
            _ => None,
        };
        // Input refused before anything changed (InvalidInput) has no
        // errno of its own: EINVAL, as a system call would say.
        let errno = std::error::Error::source(err)
            .and_then(|source| source.downcast_ref::<io::Error>())
            .and_then(|e| match e.raw_os_error() {
                None if e.kind() == io::ErrorKind::InvalidInput => Some(libc::EINVAL),
                errno => errno,
            });
        let detail = spawn.and_then(|s| {
            s.fd()
                .map(i64::from)
                .or(s.signal().map(i64::from))
                .or(s.id())
                .or(s.resource().map(|r| i64::from(r.as_raw())))
        });
        Record {
            status: u16::from(status),
            step: spawn.map_or(0, |s| s.step().code()),
            errno: spawn
                .and_then(SpawnError::raw_os_error)
                .or(errno)
                .unwrap_or(0),
            detail: detail.unwrap_or(-1),
        }
    }

    /// The bytes of the record.
    pub fn to_bytes(self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&self.status.to_le_bytes());
        out[8..12].copy_from_slice(&self.step.to_le_bytes());
        out[12..16].copy_from_slice(&self.errno.to_le_bytes());
        out[16..24].copy_from_slice(&self.detail.to_le_bytes());
        out
    }

    /// Reads a record back; `None` if the bytes are not one.
    #[cfg(test)]
    pub fn from_bytes(bytes: &[u8]) -> Option<Record> {
        let bytes: &[u8; LEN] = bytes.try_into().ok()?;
        let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
        let four = |i: usize| [bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]];
        if bytes[0..4] != MAGIC || u16_at(4) != VERSION {
            return None;
        }
        let mut detail = [0u8; 8];
        detail.copy_from_slice(&bytes[16..24]);
        Some(Record {
            status: u16_at(6),
            step: u32::from_le_bytes(four(8)),
            errno: i32::from_le_bytes(four(12)),
            detail: i64::from_le_bytes(detail),
        })
    }

    /// Writes the record in one `write`.
    pub fn write_to(self, out: &mut impl Write) -> io::Result<()> {
        let bytes = self.to_bytes();
        let n = out.write(&bytes)?;
        if n != LEN {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("wrote {n} of {LEN} bytes"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_as_documented() {
        let record = Record {
            status: 125,
            step: 14,
            errno: 2,
            detail: -1,
        };
        let bytes = record.to_bytes();
        assert_eq!(&bytes[..4], b"SPFX");
        assert_eq!(bytes[4..6], [1, 0]);
        assert_eq!(bytes[6..8], [125, 0]);
        assert_eq!(bytes[8..12], [14, 0, 0, 0]);
        assert_eq!(bytes[12..16], [2, 0, 0, 0]);
        assert_eq!(bytes[16..24], [0xff; 8]);
        assert_eq!(Record::from_bytes(&bytes), Some(record));
        assert_eq!(Record::from_bytes(&bytes[..23]), None);
        assert_eq!(spawnfd::Step::Chdir.code(), 14);
        assert_eq!(spawnfd::Step::Exec.code(), 25);
        assert_eq!(spawnfd::Step::Unshare.code(), 26);
    }
}
