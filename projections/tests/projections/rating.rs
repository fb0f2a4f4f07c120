//! The `rating` projection: days with data per project × application, issued decisions and their scoping, on
//! SQLite and PostgreSQL alike.

use serde_json::json;
use siteledger_client::MemoryChain;
use siteledger_projections::{ReadDb, Scope, catch_up};

use super::{E1, E3, KeyedChain, city_key, district, enterprise, postgres_db, scenario, sign, sqlite_db};

async fn check(db: &ReadDb) {
    let p1 = db.rating_app_days(&Scope::All, "PRJ1", "2026-02-01").await.expect("days");
    let dust = p1.iter().find(|r| r.application == "dust_noise").expect("PRJ1 has dust data");
    assert_eq!((dust.days, dust.last_day.as_deref()), (1, Some("2026-03-01")));
    assert!(dust.records >= 4);
    // Later than every record: no days, but the last day is still shown.
    let none = db.rating_app_days(&Scope::All, "PRJ1", "2026-03-02").await.expect("days");
    assert_eq!(none.iter().map(|r| r.days).sum::<u64>(), 0);
    // Scopes: 海曙 does not see PRJ1; E1 (PRJ1's contractor) does; E3 does not.
    assert!(db.rating_app_days(&district("330203"), "PRJ1", "2026-02-01").await.expect("days").is_empty());
    assert_eq!(db.rating_app_days(&enterprise(E1), "PRJ1", "2026-02-01").await.expect("days").len(), 1);
    assert!(db.rating_app_days(&enterprise(E3), "PRJ1", "2026-02-01").await.expect("days").is_empty());

    let latest = db.rating_latest(&Scope::All).await.expect("latest");
    assert_eq!(latest.len(), 1);
    assert_eq!((latest[0].project_id.as_str(), latest[0].achieved, latest[0].meets), ("PRJ1", 1, Some(false)));
    assert_eq!(db.rating_history(&district("330212"), "PRJ1").await.expect("history").len(), 2);
    assert!(db.rating_latest(&district("330203")).await.expect("latest").is_empty());
    let policies = db.rating_policies().await.expect("policies");
    assert_eq!(policies.len(), 1);
}

#[tokio::test]
async fn decisions_and_days_with_data_fold_and_scope_alike_on_sqlite_and_postgres() {
    let sc = scenario().await;
    let mut city = KeyedChain::new(city_key());
    // Continue the city's chain after its records in the scenario.
    let head = siteledger_ledger::EventStore::signer_head(sc.ledger.store(), &city.key().key_id().to_string())
        .await
        .expect("head")
        .expect("the city signed");
    city.set_chain(MemoryChain::after(head.signer_seq, head.leaf_hash));
    // The decisions are recorded in the evening.
    sc.clock.set(time::macros::datetime!(2026-03-01 19:30:00 +08:00));
    let decision = |achieved: u64| {
        json!({"project_id": "PRJ1", "policy_version": 1, "tree_size": 20, "as_of": "2026-03-01", "required": 2,
               "required_rule": "p2022_two_star", "achieved": achieved, "connected": true, "meets": false,
               "applications": [], "evidence_sha256": "00".repeat(32)})
    };
    let envs = vec![
        sign(
            &mut city,
            "city/policy/rating",
            "rating.policy.v1",
            "2026-03-01T09:00:00+08:00",
            serde_json::to_value(siteledger_domain::rating::policy::notice_2020_72()).expect("policy"),
        ),
        sign(&mut city, "project/PRJ1/rating", "rating.decision.v1", "2026-03-01T18:00:00+08:00", decision(0)),
        sign(&mut city, "project/PRJ1/rating", "rating.decision.v1", "2026-03-01T19:00:00+08:00", decision(1)),
    ];
    super::accepted(&sc.ledger.ingest(envs).await.expect("ingest"));
    let (db, _dir) = sqlite_db().await;
    catch_up(&sc.ledger, &db).await.expect("catch up");
    check(&db).await;
    let pg = postgres_db().await;
    catch_up(&sc.ledger, &pg).await.expect("catch up");
    check(&pg).await;
}
