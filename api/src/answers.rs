//! Shared computations of the heaviest unpaged answer: `GET /v1/projects` without paging parameters, every
//! project the caller may see (about 1.2 MB and 100 ms of work for 3,000 projects). Callers with the same scope and
//! filter share one computation (single flight): the first computes, the callers arriving while it runs wait for
//! it and get the same bytes, instead of each repeating the work. An answer is reused only when it is as fresh as
//! computing it anew would be:
//!
//! * its computation finished after the caller arrived (it started at most one computation earlier), or
//! * the read models have folded nothing since it was computed (the same read position).
//!
//! So a caller that saw its record folded and then lists projects sees it (no time-based staleness), and fifty
//! clients polling a busy city share one computation at a time instead of queueing fifty. The paged form
//! (`?limit=`) is never shared. Bounded: at most [`MAX_KEYS`] keys; when full, keys no request is using are
//! dropped before a new one is added.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;

use crate::error::ApiError;

/// Most keys (scope × filter) kept.
pub const MAX_KEYS: usize = 64;

/// An answer: the read position it was computed at, when its computation finished, the bytes.
type Slot = Arc<tokio::sync::Mutex<Option<(u64, Instant, Bytes)>>>;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct AnswerCache {
    slots: Mutex<HashMap<String, Slot>>,
    computed: std::sync::atomic::AtomicU64,
}

impl AnswerCache {
    /// The answer under `key` for a caller arriving now while the read models stand at `position` (read again by
    /// `position` after waiting): a shared one if fresh as defined above, else `compute`'s, which the callers
    /// arriving meanwhile share. An error goes to this caller only and is not kept.
    pub async fn get_or_compute<P, F, Fut>(&self, key: String, position: P, compute: F) -> Result<Bytes, ApiError>
    where
        P: Fn() -> u64,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
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
        let now_at = position();
        if let Some((at, finished, bytes)) = held.as_ref()
            && (*finished >= arrived || *at == now_at)
        {
            return Ok(bytes.clone());
        }
        let bytes = compute().await?;
        self.computed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *held = Some((now_at, Instant::now(), bytes.clone()));
        Ok(bytes)
    }

    /// How many answers were computed (not served from the cache) since start: tests count work with it.
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
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
                let position = move || head.fetch_add(1, Ordering::Relaxed);
                cache
                    .get_or_compute(key.to_owned(), position, || async move {
                        // Long enough that the other callers arrive while it runs.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(Bytes::from(key))
                    })
                    .await
                    .expect("answer")
            });
        }
        let mut answers = Vec::new();
        while let Some(a) = tasks.join_next().await {
            answers.push(a.expect("task"));
        }
        assert_eq!(answers.iter().filter(|a| a.as_ref() == b"city").count(), 45);
        assert_eq!(cache.computed(), 2, "one computation per key for callers that arrived during it");
    }

    #[tokio::test]
    async fn a_caller_after_a_fold_gets_a_new_answer_and_one_before_any_fold_the_kept_one() {
        let cache = AnswerCache::default();
        let answer = |position: u64, body: &'static str| {
            cache.get_or_compute("city".into(), move || position, move || async move { Ok(Bytes::from(body)) })
        };
        assert_eq!(answer(7, "first").await.expect("a").as_ref(), b"first");
        assert_eq!(answer(7, "second").await.expect("a").as_ref(), b"first", "nothing folded since: reused");
        assert_eq!(answer(8, "third").await.expect("a").as_ref(), b"third", "a record folded since: computed anew");
        assert_eq!(cache.computed(), 2);
    }

    #[tokio::test]
    async fn an_error_is_not_kept_and_the_key_count_stays_bounded() {
        let cache = AnswerCache::default();
        let failed =
            cache.get_or_compute("k".into(), || 1, || async { Err(ApiError::Unavailable("down".into())) }).await;
        assert!(failed.is_err());
        let ok = cache.get_or_compute("k".into(), || 1, || async { Ok(Bytes::from_static(b"up")) }).await;
        assert_eq!(ok.expect("computed again").as_ref(), b"up");
        for i in 0..(MAX_KEYS * 3) {
            cache.get_or_compute(format!("enterprise:{i}"), || 1, || async { Ok(Bytes::new()) }).await.expect("answer");
        }
        assert!(cache.keys() <= MAX_KEYS, "{} keys", cache.keys());
    }
}
