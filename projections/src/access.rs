//! The in-memory access table: which district a project is in and who participates, for per-record scope checks
//! (the live feed) without a database round-trip.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::{Scope, stream_project};

/// Who may see a project besides the city: its district bureau and its participants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectAccess {
    /// District code.
    pub district: String,
    /// Credit codes of the current participants.
    pub participants: Vec<String>,
}

/// Project access entries kept current by the projector (after each commit that touched a project's district or
/// participants) and loaded from the read database on open.
#[derive(Debug, Default)]
pub struct AccessCache {
    projects: RwLock<HashMap<String, ProjectAccess>>,
    /// Set when a refresh after a commit failed: the next batch reloads everything first.
    dirty: AtomicBool,
}

impl AccessCache {
    /// The entry of a registered project.
    pub fn get(&self, project_id: &str) -> Option<ProjectAccess> {
        self.read(|m| m.get(project_id).cloned())
    }

    /// Number of registered projects known.
    pub fn len(&self) -> usize {
        self.read(HashMap::len)
    }

    /// Whether no project is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// May `scope` see the project? (`All`: any project, even one not registered yet.)
    pub fn allows_project(&self, scope: &Scope, project_id: &str) -> bool {
        match scope {
            Scope::All => true,
            Scope::Nothing => false,
            Scope::District(code) => self.read(|m| m.get(project_id).is_some_and(|a| a.district == *code)),
            Scope::Enterprise(credit) => {
                self.read(|m| m.get(project_id).is_some_and(|a| a.participants.iter().any(|c| c == credit)))
            }
        }
    }

    /// May `scope` see records of `stream`? `project/<id>/…` streams follow [`AccessCache::allows_project`];
    /// `ledger/…` streams (key enrollments, gap and equivocation notices) are public to every scope;
    /// `registry/…` streams to every scope but [`Scope::Nothing`]; any other stream only to [`Scope::All`].
    pub fn allows(&self, scope: &Scope, stream: &str) -> bool {
        if let Some(project) = stream_project(stream) {
            return self.allows_project(scope, project);
        }
        if stream.starts_with("ledger/") {
            return true;
        }
        if stream.starts_with("registry/") {
            return *scope != Scope::Nothing;
        }
        *scope == Scope::All
    }

    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    pub(crate) fn set_dirty(&self, dirty: bool) {
        self.dirty.store(dirty, Ordering::Release);
    }

    pub(crate) fn replace_all(&self, entries: Vec<(String, ProjectAccess)>) {
        let mut m = match self.projects.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        *m = entries.into_iter().collect();
    }

    /// Sets the entries of `ids` to `found` (ids not found are removed).
    pub(crate) fn update(&self, ids: &[String], found: Vec<(String, ProjectAccess)>) {
        let mut m = match self.projects.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        for id in ids {
            m.remove(id);
        }
        m.extend(found);
    }

    fn read<T>(&self, f: impl FnOnce(&HashMap<String, ProjectAccess>) -> T) -> T {
        match self.projects.read() {
            Ok(m) => f(&m),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}
