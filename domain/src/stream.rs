//! Stream-name conventions.
//!
//! | stream | holds |
//! |---|---|
//! | `project/<ProjectId>` or `project/<ProjectId>/<…>` | everything scoped to one project (readings, alarms, …) |
//! | `registry/<…>` | the organisation registry (`registry/zones`, `registry/enterprises`, `registry/projects`) |
//! | `district/<DistrictCode>/<…>` | a 区县(市) or 开发园区 bureau's own records |
//! | `enterprise/<CreditCode>/<…>` | an enterprise's own records |
//!
//! The `<…>` part is chosen by each subsystem; it must keep to the envelope's stream charset
//! (`A–Z a–z 0–9 . _ : / -`, FORMAT.md §4), which every id type here already does.

use crate::district::DistrictCode;
use crate::ids::{CreditCode, ProjectId};

/// Prefix of project-scoped streams.
pub const PROJECT_PREFIX: &str = "project/";
/// Prefix of registry streams.
pub const REGISTRY_PREFIX: &str = "registry/";
/// Prefix of district streams.
pub const DISTRICT_PREFIX: &str = "district/";
/// Prefix of enterprise streams.
pub const ENTERPRISE_PREFIX: &str = "enterprise/";

fn join(prefix: &str, id: &str, rest: &str) -> String {
    if rest.is_empty() { format!("{prefix}{id}") } else { format!("{prefix}{id}/{rest}") }
}

/// `project/<ProjectId>/<rest>` (or `project/<ProjectId>` when `rest` is empty).
pub fn project_stream(project_id: &ProjectId, rest: &str) -> String {
    join(PROJECT_PREFIX, project_id.as_str(), rest)
}

/// `registry/<rest>`.
pub fn registry_stream(rest: &str) -> String {
    format!("{REGISTRY_PREFIX}{rest}")
}

/// `district/<DistrictCode>/<rest>` (or `district/<DistrictCode>` when `rest` is empty).
pub fn district_stream(district: &DistrictCode, rest: &str) -> String {
    join(DISTRICT_PREFIX, district.as_str(), rest)
}

/// `enterprise/<CreditCode>/<rest>` (or `enterprise/<CreditCode>` when `rest` is empty).
pub fn enterprise_stream(credit_code: &CreditCode, rest: &str) -> String {
    join(ENTERPRISE_PREFIX, credit_code.as_str(), rest)
}

/// The id segment after `prefix`: `prefix<id>` or `prefix<id>/<non-empty rest>`.
fn id_segment<'a>(stream: &'a str, prefix: &str) -> Option<&'a str> {
    let after = stream.strip_prefix(prefix)?;
    match after.split_once('/') {
        None => Some(after),
        Some((id, rest)) if !rest.is_empty() => Some(id),
        Some(_) => None,
    }
}

/// The project of a project-scoped stream (`project/<ProjectId>` or `project/<ProjectId>/<…>`), if the id is a
/// valid [`ProjectId`].
pub fn project_of_stream(stream: &str) -> Option<ProjectId> {
    id_segment(stream, PROJECT_PREFIX).and_then(|id| ProjectId::parse(id).ok())
}

/// The district of a district stream.
pub fn district_of_stream(stream: &str) -> Option<DistrictCode> {
    id_segment(stream, DISTRICT_PREFIX).and_then(|id| DistrictCode::parse(id).ok())
}

/// The enterprise of an enterprise stream.
pub fn enterprise_of_stream(stream: &str) -> Option<CreditCode> {
    id_segment(stream, ENTERPRISE_PREFIX).and_then(|id| CreditCode::parse(id).ok())
}

/// Whether the stream is a registry stream (`registry/<non-empty>`).
pub fn is_registry_stream(stream: &str) -> bool {
    stream.strip_prefix(REGISTRY_PREFIX).is_some_and(|rest| !rest.is_empty())
}

/// What a stream is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamScope {
    /// A project.
    Project(ProjectId),
    /// The registry.
    Registry,
    /// A district bureau.
    District(DistrictCode),
    /// An enterprise.
    Enterprise(CreditCode),
    /// None of the conventions (e.g. the ledger's own streams).
    Other,
}

/// Classifies a stream name by the conventions above.
pub fn scope_of_stream(stream: &str) -> StreamScope {
    if let Some(p) = project_of_stream(stream) {
        StreamScope::Project(p)
    } else if is_registry_stream(stream) {
        StreamScope::Registry
    } else if let Some(d) = district_of_stream(stream) {
        StreamScope::District(d)
    } else if let Some(e) = enterprise_of_stream(stream) {
        StreamScope::Enterprise(e)
    } else {
        StreamScope::Other
    }
}
