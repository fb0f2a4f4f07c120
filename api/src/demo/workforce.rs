//! The demo city's traffic of 实名制与工资 (workers, attendance, payroll, arrears). (Scaffold: the subsystem's issue fills it in.)

use super::DemoContext;

/// Starts this area's simulated traffic (returns once it is set up; long-running producers are spawned).
pub(super) async fn start(ctx: &DemoContext) -> anyhow::Result<()> {
    let _ = ctx;
    Ok(())
}
