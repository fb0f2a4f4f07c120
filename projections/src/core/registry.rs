//! The `registry` fold: zones (districts), enterprises, projects and participants from the typed `registry.*`
//! events, and the fixed districts seeded without any event.

use siteledger_domain::DomainEvent;
use siteledger_domain::registry::{
    EnterpriseRegistered, ParticipantAdded, ParticipantRemoved, ProjectRegistered, RegistryEvent, ZoneAdded,
};

use super::FIXED_DISTRICTS;
use crate::db::{Sql, Tx};
use crate::prepare::Prepared;
use crate::projection::Effects;

/// Writes the fixed districts (present without any event).
pub(super) async fn seed_districts(tx: &mut Tx) -> Result<(), sqlx::Error> {
    for (code, name) in FIXED_DISTRICTS {
        tx.execute(
            &Sql::new(
                "INSERT INTO districts (code, name, fixed, position) VALUES (?, ?, 1, NULL) \
                 ON CONFLICT (code) DO NOTHING",
            )
            .arg(*code)
            .arg(*name),
        )
        .await?;
    }
    Ok(())
}

/// Folds the batch's `registry.*` events; projects whose district or participants change are reported in `fx`.
pub(super) async fn fold(tx: &mut Tx, events: &[Prepared<'_>], fx: &mut Effects) -> Result<(), sqlx::Error> {
    for x in events {
        let Some(DomainEvent::Registry(event)) = x.domain() else { continue };
        let pos = x.e.position;
        match event {
            RegistryEvent::ZoneAdded(z) => zone(tx, z, pos).await?,
            RegistryEvent::EnterpriseRegistered(e) => enterprise(tx, e, pos).await?,
            RegistryEvent::ProjectRegistered(p) => {
                project(tx, x, p).await?;
                fx.access_changed.insert(p.project_id.as_str().to_owned());
            }
            RegistryEvent::ParticipantAdded(ParticipantAdded { project_id, role, credit_code }) => {
                insert_participant(tx, project_id.as_str(), role.as_str(), credit_code.as_str(), pos).await?;
                fx.access_changed.insert(project_id.as_str().to_owned());
            }
            RegistryEvent::ParticipantRemoved(ParticipantRemoved { project_id, role, credit_code, .. }) => {
                tx.execute(
                    &Sql::new("DELETE FROM participants WHERE project_id = ? AND role = ? AND credit_code = ?")
                        .arg(project_id.as_str())
                        .arg(role.as_str())
                        .arg(credit_code.as_str()),
                )
                .await?;
                fx.access_changed.insert(project_id.as_str().to_owned());
            }
        }
    }
    Ok(())
}

async fn zone(tx: &mut Tx, z: &ZoneAdded, pos: u64) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO districts (code, name, fixed, position) VALUES (?, ?, 0, ?) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, position = excluded.position",
        )
        .arg(z.code.as_str())
        .arg(z.name.as_str())
        .arg(pos),
    )
    .await?;
    Ok(())
}

async fn enterprise(tx: &mut Tx, e: &EnterpriseRegistered, pos: u64) -> Result<(), sqlx::Error> {
    let types: Vec<&str> = e.types.iter().map(|t| t.as_str()).collect();
    let types = serde_json::to_string(&types).unwrap_or_else(|_| "[]".into());
    tx.execute(
        &Sql::new(
            "INSERT INTO enterprises (credit_code, name, types, position) VALUES (?, ?, ?, ?) \
             ON CONFLICT (credit_code) DO UPDATE SET name = excluded.name, types = excluded.types, \
             position = excluded.position",
        )
        .arg(e.credit_code.as_str())
        .arg(e.name.as_str())
        .arg(types)
        .arg(pos),
    )
    .await?;
    Ok(())
}

async fn project(tx: &mut Tx, x: &Prepared<'_>, p: &ProjectRegistered) -> Result<(), sqlx::Error> {
    let pos = x.e.position;
    tx.execute(
        &Sql::new(
            "INSERT INTO projects (project_id, name, district, central_urban, floor_area_m2, \
             contract_cost_fen, start_date, registered_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (project_id) DO UPDATE SET name = excluded.name, district = excluded.district, \
             central_urban = excluded.central_urban, floor_area_m2 = excluded.floor_area_m2, \
             contract_cost_fen = excluded.contract_cost_fen, start_date = excluded.start_date, \
             registered_at = excluded.registered_at, position = excluded.position",
        )
        .arg(p.project_id.as_str())
        .arg(p.name.as_str())
        .arg(p.district.as_str())
        .arg(p.central_urban)
        // Hundredths with two decimals, as registers write areas (the type keeps the quantity, not the text).
        .arg(p.floor_area_m2.to_fixed_2())
        .arg(p.contract_cost_fen.fen())
        .arg(p.start_date.to_string())
        .arg(x.e.occurred_at.as_str())
        .arg(pos),
    )
    .await?;
    for part in &p.participants {
        insert_participant(tx, p.project_id.as_str(), part.role.as_str(), part.credit_code.as_str(), pos).await?;
    }
    Ok(())
}

async fn insert_participant(tx: &mut Tx, id: &str, role: &str, credit: &str, pos: u64) -> Result<(), sqlx::Error> {
    tx.execute(
        &Sql::new(
            "INSERT INTO participants (project_id, role, credit_code, position) VALUES (?, ?, ?, ?) \
             ON CONFLICT (project_id, role, credit_code) DO NOTHING",
        )
        .arg(id)
        .arg(role)
        .arg(credit)
        .arg(pos),
    )
    .await?;
    Ok(())
}
