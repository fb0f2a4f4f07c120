//! Integration tests of the signer crate (one test binary): known-answer vectors, committed format vectors,
//! property tests, the offline verifier end to end, and interoperability with Go's sumdb packages.

mod kat;
mod vectors;
mod cli;
mod props;
mod independent;
mod go_interop;
