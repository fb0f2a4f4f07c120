//! Source keys for batch imports. A producer that imports records from somewhere else (a month's payroll exported
//! as JSON Lines, a gate system's attendance file) gives each record a key naming where it came from; the
//! [`crate::outbox::Outbox`] stores the key in the same transaction as the signed record, and a second submission
//! with the same key signs nothing and answers the earlier record's `seq` ([`crate::outbox::Submitted::earlier`]).
//! So re-running an import after a failure or a kill sends nothing twice.
//!
//! For a file the key is `<sha256 of the file's bytes, hex>:<line number, from 1>` ([`file_line`]): the same file
//! gives the same keys wherever it lies. A file edited between runs is another file: its lines get new keys and are
//! signed again as new records, even the unchanged ones (see docs/PRODUCERS.md, `siteledger submit`).
//!
//! The outbox keeps one row per key (key text and `seq`), so what it keeps grows linearly with the records it
//! imported, and nothing else.

use sha2::{Digest, Sha256};

/// The SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The source key of line `line` (from 1) of a file whose SHA-256 is `file_sha256` (hex).
pub fn file_line(file_sha256: &str, line: usize) -> String {
    format!("{file_sha256}:{line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_names_the_file_by_content_and_the_line() {
        let k = file_line(&sha256_hex(b"abc"), 7);
        assert_eq!(k, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad:7");
    }
}
