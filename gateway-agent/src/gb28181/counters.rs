//! Named counts of refusals and tolerated deviations, so a malformed message is never silent: each error type's
//! `name()` is a key here (`sip_bad_content_length`, `xml_doctype_refused`, `auth_wrong_password`, …).

use std::collections::BTreeMap;

/// Counts by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<&'static str, u64>);

impl Counters {
    /// Adds one to `name`.
    pub fn bump(&mut self, name: &'static str) {
        *self.0.entry(name).or_default() += 1;
    }

    /// Adds `n` to `name` (nothing when `n` is 0).
    pub fn bump_by(&mut self, name: &'static str, n: u64) {
        if n > 0 {
            *self.0.entry(name).or_default() += n;
        }
    }

    /// The count of `name` (0 when never bumped).
    #[must_use]
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Every non-zero count, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().map(|(k, v)| (*k, *v))
    }

    /// The sum of all counts.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}
