//! Stream-name conventions.

use siteledger_domain::iot::alarm_stream;
use siteledger_domain::stream::{
    StreamScope, district_of_stream, district_stream, enterprise_of_stream, enterprise_stream, is_registry_stream,
    project_of_stream, project_stream, registry_stream, scope_of_stream,
};

use crate::fixtures::*;

#[test]
fn builders() {
    let p = pid("NB-2026-0001");
    assert_eq!(project_stream(&p, "env/dev-1"), "project/NB-2026-0001/env/dev-1");
    assert_eq!(project_stream(&p, ""), "project/NB-2026-0001");
    assert_eq!(alarm_stream(&p), "project/NB-2026-0001/alarms");
    assert_eq!(registry_stream("projects"), "registry/projects");
    assert_eq!(district_stream(&district("330212"), "inspections"), "district/330212/inspections");
    assert_eq!(district_stream(&district("ZONE-NBHTZ"), "orders"), "district/ZONE-NBHTZ/orders");
    assert_eq!(enterprise_stream(&gc(), "credit"), format!("enterprise/{}/credit", gc()));
}

#[test]
fn project_of_streams() {
    let p = Some(pid("NB-2026-0001"));
    assert_eq!(project_of_stream("project/NB-2026-0001/env/dev-1"), p);
    assert_eq!(project_of_stream("project/NB-2026-0001/alarms"), p);
    assert_eq!(project_of_stream("project/NB-2026-0001"), p);
    for none in [
        "project/NB-2026-0001/",
        "project/nb-2026-0001/env",
        "project//env",
        "project/",
        "projects/NB-2026-0001/env",
        "registry/projects",
        "NB-2026-0001/env",
        "",
    ] {
        assert_eq!(project_of_stream(none), None, "{none:?}");
    }
}

#[test]
fn scopes() {
    assert_eq!(scope_of_stream("project/NB-2026-0001/x"), StreamScope::Project(pid("NB-2026-0001")));
    assert_eq!(scope_of_stream("registry/zones"), StreamScope::Registry);
    assert_eq!(scope_of_stream("district/330212/x"), StreamScope::District(district("330212")));
    assert_eq!(scope_of_stream("district/ZONE-NBHTZ"), StreamScope::District(district("ZONE-NBHTZ")));
    assert_eq!(scope_of_stream(&format!("enterprise/{}/x", gc())), StreamScope::Enterprise(gc()));
    for other in ["registry/", "registry", "district/330204/x", "enterprise/123/x", "ledger/keys", "project/x/y"] {
        assert_eq!(scope_of_stream(other), StreamScope::Other, "{other:?}");
    }
    assert!(is_registry_stream("registry/projects"));
    assert_eq!(district_of_stream("district/330212/x"), Some(district("330212")));
    assert_eq!(enterprise_of_stream(&format!("enterprise/{}", gc())), Some(gc()));
}
