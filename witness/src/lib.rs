//! A transparency-log witness: another party than the log, which cosigns a checkpoint only after checking it is
//! consistent with every checkpoint of that log it cosigned before (C2SP <https://c2sp.org/tlog-witness>, cosignature
//! lines per <https://c2sp.org/tlog-cosignature>, docs/FORMAT.md §9).
//!
//! Layout:
//! * [`request`]: the `POST /add-checkpoint` body (`old <size>`, proof lines, blank line, signed checkpoint), parsed
//!   without I/O into a typed request or an error saying which rule the body breaks.
//! * [`state`]: the witness's durable record of the latest cosigned (size, root) per origin, one file per origin,
//!   replaced atomically (write a temporary file, fsync, rename, fsync the directory).
//! * [`witness`]: the checks (known origin, the log's signature, old size, consistency proof, same size same
//!   root) and the cosignature, atomically with the state update.
//! * [`config`]: the witness's TOML configuration (its name, key file, state directory, the logs it follows).
//! * [`server`]: the HTTP service (axum) with the spec's status codes.
//! * [`client`]: the log's side: submit a checkpoint to configured witnesses, retry once with the witness's size
//!   after a 409, verify the answered cosignature, never block on a witness that is down.
//!
//! The `siteledger witness` subcommand (cli) runs [`server::serve`] from a [`config::WitnessConfig`].

pub mod client;
pub mod config;
pub mod request;
pub mod server;
pub mod state;
pub mod witness;

pub use witness::{Witness, WitnessError};
