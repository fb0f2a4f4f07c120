//! Shared computations of the heaviest answers: the ones that total or list the whole city for a scope
//! (`GET /v1/projects` without paging, about 1.2 MB and 100 ms of work for 3,000 projects; the overview pages of
//! `/site`, `/workforce`, `/ratings` and `/keys` and their JSON forms, which read a row per project or per key).
//! Callers with the same key (answer, scope, filter) share one computation (single flight): the first computes,
//! the callers arriving while it runs wait for it and get the same value, instead of each repeating the work. An
//! answer is reused only when it is as fresh as computing it anew would be:
//!
//! * its computation finished after the caller arrived (it started at most one computation earlier), or
//! * nothing it depends on has moved since it was computed: the same [`Version`], which counts the records the read
//!   models have folded, the passes that rewrote stored summaries and findings, and for answers that depend on the
//!   clock the second (or day) they were computed in.
//!
//! So an answer is at most one computation older than the caller's question (one that started before the caller
//! arrived may miss a record folded in between; the next computation has it), never older by time, and fifty clients
//! polling a busy city share one computation at a time per key instead of queueing fifty. Paged answers
//! (`?limit=`) are never shared. The value kept is what the answer is made of, not the page: a page renders its
//! viewer's own layout around it. Bounded: at most [`MAX_KEYS`] keys; when full, keys no request is using are
//! dropped before a new one is added, so memory is at most [`MAX_KEYS`] answers (the largest, a city's project
//! list, about 1.2 MB at 3,000 projects).

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::error::ApiError;

/// Most keys (answer × scope × filter) kept.
pub const MAX_KEYS: usize = 128;

/// What an answer depends on besides its key, compared for equality: the read models' position
/// ([`siteledger_projections::ReadDb::applied`]), their stored-pass count
/// ([`siteledger_projections::ReadDb::derived_passes`]) and a clock reading (0 for answers that do not read the
/// clock). Each part only grows, so an equal version means nothing moved.
pub type Version = [u64; 3];

/// A kept answer of any type (each key holds one type: keys name their answer).
type Value = Arc<dyn Any + Send + Sync>;

/// An answer: the version it was computed at, when its computation finished, the value.
type Slot = Arc<tokio::sync::Mutex<Option<(Version, Instant, Value)>>>;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct AnswerCache {
    slots: Mutex<HashMap<String, Slot>>,
    computed: std::sync::atomic::AtomicU64,
}

impl AnswerCache {
    /// The answer under `key` for a caller arriving now while its inputs stand at `version` (read again after
    /// waiting): a shared one if fresh as defined above, else `compute`'s, which the callers arriving meanwhile
    /// share. An error goes to this caller only and is not kept.
    pub async fn get_or_compute<T, P, F, Fut>(&self, key: String, version: P, compute: F) -> Result<Arc<T>, ApiError>
    where
        T: Send + Sync + 'static,
        P: Fn() -> Version,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let arrived = Instant::now();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots.len() >= MAX_KEYS && !slots.contains_key(&key) {
                slots.retain(|_, s| Arc::strong_count(s) > 1);
            }
            Arc::clone(slots.entry(key).or_default())
        };
        let mut held = slot.lock().await;
        let now_at = version();
        if let Some((at, finished, value)) = held.as_ref()
            && (*finished >= arrived || *at == now_at)
            && let Ok(kept) = Arc::clone(value).downcast::<T>()
        {
            return Ok(kept);
        }
        let value = Arc::new(compute().await?);
        self.computed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *held = Some((now_at, Instant::now(), Arc::clone(&value) as Value));
        Ok(value)
    }

    /// How many answers were computed (not served from the cache) since start: tests count work with it.
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Drops every kept answer (the next caller of each key computes it): tests measure a computation with it.
    pub fn clear(&self) {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Keys held.
    pub fn keys(&self) -> usize {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn callers_arriving_during_a_computation_share_it_and_other_keys_are_apart() {
        let cache = Arc::new(AnswerCache::default());
        // The read models move on all the time (a busy city): position never repeats.
        let head = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (cache, head) = (Arc::clone(&cache), Arc::clone(&head));
            let key = if i % 10 == 0 { "district:330212" } else { "city" };
            tasks.spawn(async move {
                let position = move || [head.fetch_add(1, Ordering::Relaxed), 0, 0];
                cache
                    .get_or_compute(key.to_owned(), position, || async move {
                        // Long enough that the other callers arrive while it runs.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(key)
                    })
                    .await
                    .expect("answer")
            });
        }
        let mut answers = Vec::new();
        while let Some(a) = tasks.join_next().await {
            answers.push(a.expect("task"));
        }
        assert_eq!(answers.iter().filter(|a| ***a == "city").count(), 45);
        assert_eq!(cache.computed(), 2, "one computation per key for callers that arrived during it");
    }

    #[tokio::test]
    async fn a_caller_after_a_fold_gets_a_new_answer_and_one_before_any_fold_the_kept_one() {
        let cache = AnswerCache::default();
        let answer = |position: u64, body: &'static str| {
            cache.get_or_compute("city".into(), move || [position, 0, 0], move || async move { Ok(body) })
        };
        assert_eq!(answer(7, "first").await.expect("a").as_ref(), &"first");
        assert_eq!(answer(7, "second").await.expect("a").as_ref(), &"first", "nothing folded since: reused");
        assert_eq!(answer(8, "third").await.expect("a").as_ref(), &"third", "a record folded since: computed anew");
        let after_pass = cache.get_or_compute("city".into(), || [8, 1, 0], || async { Ok("fourth") }).await;
        assert_eq!(after_pass.expect("a").as_ref(), &"fourth", "a stored-summary pass since: computed anew");
        let next_second = cache.get_or_compute("city".into(), || [8, 1, 1], || async { Ok("fifth") }).await;
        assert_eq!(next_second.expect("a").as_ref(), &"fifth", "the clock moved on: computed anew");
        assert_eq!(cache.computed(), 4);
    }

    #[tokio::test]
    async fn an_error_is_not_kept_and_the_key_count_stays_bounded() {
        let cache = AnswerCache::default();
        let failed = cache
            .get_or_compute::<&str, _, _, _>(
                "k".into(),
                || [1, 0, 0],
                || async { Err(ApiError::Unavailable("down".into())) },
            )
            .await;
        assert!(failed.is_err());
        let ok = cache.get_or_compute("k".into(), || [1, 0, 0], || async { Ok("up") }).await;
        assert_eq!(ok.expect("computed again").as_ref(), &"up");
        for i in 0..(MAX_KEYS * 3) {
            cache.get_or_compute(format!("enterprise:{i}"), || [1, 0, 0], || async { Ok(()) }).await.expect("answer");
        }
        assert!(cache.keys() <= MAX_KEYS, "{} keys", cache.keys());
    }
}
