//! Integration tests of the signer crate (one test binary): known-answer vectors, committed format vectors,
//! property tests, the offline verifier end to end, and interoperability with Go's sumdb packages.

mod attachments;
mod cli;
mod cosignature;
mod court;
mod fuzz_corpus;
mod go_interop;
mod independent;
mod kat;
mod props;
mod sm2;
mod sm2_checkpoint;
mod sm2_format;
mod timestamp;
mod vectors;
