//! The threads that check signatures before the sequencer decides ([`crate::Ledger::ingest`]).
//!
//! One thread per core, fed in arrival order, at a lower scheduling priority than the rest of the process
//! ([`VERIFIER_NICE`]): when the machine is full, the sequencer deciding and the store committing records already
//! checked go first, and checking newer requests takes the cores they leave, so the store's writer is not kept
//! waiting for a core by checks of requests it cannot commit yet. Before, each request's check was a task of
//! Tokio's blocking pool, so 64 concurrent requests ran 64 checks at once, all finishing late and together, at the
//! priority of the commit they were starving. BENCHMARKS.md ("Durable ingest against the raw verifier") measures
//! these threads with and without pipelined commits, not the priority apart from the arrival order.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;

/// How much lower the verifier threads' priority is (a `nice` increment: about a tenth of the CPU share of a
/// thread at the process's own priority when both want a core).
pub(crate) const VERIFIER_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A handle to the verifier threads; they end when the last handle is dropped.
#[derive(Debug)]
pub(crate) struct Verifiers {
    jobs: mpsc::Sender<Job>,
}

impl Verifiers {
    /// Starts one verifier thread per core (as `std::thread::available_parallelism` reports).
    pub(crate) fn start() -> Verifiers {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new().name(format!("ledger-verify-{i}")).spawn(move || {
                // Only ever lowers this thread's priority, which needs no privilege; if refused, it runs as is.
                let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), VERIFIER_NICE);
                loop {
                    let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    match job {
                        // A panicking check answers nothing (its caller sees the ledger as unavailable) and the
                        // thread goes on with the next.
                        Ok(job) => drop(std::panic::catch_unwind(AssertUnwindSafe(job))),
                        Err(_) => break,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "starting a signature verifier thread failed");
            }
        }
        Verifiers { jobs }
    }

    /// Runs `f` on a verifier thread and returns its result; `None` if it panicked or no thread runs.
    pub(crate) async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .ok()?;
        rx.await.ok()
    }
}
