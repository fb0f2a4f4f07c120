//! Demo tokens die with the demo: every token the demo makes (the city-bureau token `serve --demo` logs among them)
//! is marked as a demo token; a server on the same data directory without `--demo` refuses and revokes them. (That
//! the demo's operator token is such a token is tested with the demo, `demo/tests/demo/tokens.rs`.)

use sha2::{Digest, Sha256};
use siteledger_api::auth::Role;
use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;

use crate::helpers::city_key;

fn config(dir: &std::path::Path, demo: bool) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        log_origin: "test.siteledger.example/log".into(),
        trust_roots: vec![city_key().public().to_base64()],
        checkpoint_interval_ms: 50,
        demo,
        ..Config::default()
    }
}

async fn status(server: &RunningServer, path: &str, token: &str) -> u16 {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    client.get(format!("{}{path}", server.url())).bearer_auth(token).send().await.expect("request").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_token_made_behind_a_running_server_is_refused_outside_demo_mode() {
    // Not revoked (made after the start's revocation): the mark alone makes a non-demo server refuse it.
    let dir = tempfile::tempdir().expect("tempdir");
    let real = siteledger_api::server::spawn(config(dir.path(), false)).await.expect("server");
    let demo_token = real.state.tokens.create_demo("demo operator", Role::City, None, 1).await.expect("token");
    let plain = real.state.tokens.create("operator", Role::City, None, 1).await.expect("token");
    assert_eq!(status(&real, "/v1/whoami", &demo_token.secret).await, 401);
    assert_eq!(status(&real, "/v1/whoami", &plain.secret).await, 200, "an ordinary token is not affected");
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let login = client
        .post(format!("{}/login", real.url()))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        // A token is `slt_` + base64url: nothing in it needs escaping in a form body.
        .body(format!("token={}&next=%2F", demo_token.secret))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 401, "the dashboard login refuses it too");
    real.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_token_from_before_the_demo_mark_is_refused_after_the_upgrade() {
    // A token table as earlier versions wrote it (no `demo` column), holding the operator token of a demo run.
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "slt_an-operator-token-of-an-old-demo-run-0000000000000";
    let url = format!("sqlite:{}", dir.path().join("auth.db").display());
    {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        let opts = SqliteConnectOptions::new().filename(dir.path().join("auth.db")).create_if_missing(true);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.expect("sqlite");
        sqlx::query(
            "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, hash BYTEA NOT NULL UNIQUE, name TEXT NOT NULL, \
             role TEXT NOT NULL, scope TEXT, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT)",
        )
        .execute(&pool)
        .await
        .expect("old schema");
        let far = 4_102_444_800_000_000_i64; // 2100-01-01 in µs
        for (id, name, s) in
            [("0000000000aa", "demo operator", secret), ("0000000000bb", "ops", "slt_ops-0000000000000")]
        {
            sqlx::query("INSERT INTO api_tokens VALUES (?, ?, ?, 'city', NULL, 0, ?, NULL)")
                .bind(id)
                .bind(Sha256::digest(s.as_bytes()).to_vec())
                .bind(name)
                .bind(far)
                .execute(&pool)
                .await
                .expect("row");
        }
        pool.close().await;
    }
    let mut c = config(dir.path(), false);
    c.auth_url = Some(url);
    let real = siteledger_api::server::spawn(c).await.expect("server");
    assert_eq!(status(&real, "/v1/whoami", secret).await, 401);
    assert_eq!(status(&real, "/v1/whoami", "slt_ops-0000000000000").await, 200);
    let tokens = real.state.tokens.list().await.expect("list");
    let old = tokens.iter().find(|t| t.id == "0000000000aa").expect("listed");
    assert!(old.demo && old.revoked_at.is_some(), "{old:?}");
    real.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_token_from_before_the_demo_mark_is_refused_after_the_upgrade_on_postgres() {
    let pg = siteledger_testkit::shared_postgres();
    let url = pg.create_unique_database("auth").expect("database");
    let secret = "slt_an-operator-token-of-an-old-demo-run-0000000000000";
    {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&url).await.expect("postgres");
        sqlx::query(
            "CREATE TABLE api_tokens (id TEXT PRIMARY KEY, hash BYTEA NOT NULL UNIQUE, name TEXT NOT NULL, \
             role TEXT NOT NULL, scope TEXT, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT)",
        )
        .execute(&pool)
        .await
        .expect("old schema");
        sqlx::query("INSERT INTO api_tokens VALUES ('0000000000aa', $1, 'demo operator', 'city', NULL, 0, $2, NULL)")
            .bind(Sha256::digest(secret.as_bytes()).to_vec())
            .bind(4_102_444_800_000_000_i64)
            .execute(&pool)
            .await
            .expect("row");
        pool.close().await;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path(), false);
    c.auth_url = Some(url.clone());
    let real = siteledger_api::server::spawn(c).await.expect("server");
    assert_eq!(status(&real, "/v1/whoami", secret).await, 401);
    let fresh = real.state.tokens.create_demo("demo operator", Role::City, None, 1).await.expect("token");
    assert_eq!(status(&real, "/v1/whoami", &fresh.secret).await, 401, "refused outside demo mode");
    let plain = real.state.tokens.create("ops", Role::City, None, 1).await.expect("token");
    assert_eq!(status(&real, "/v1/whoami", &plain.secret).await, 200);
    let tokens = real.state.tokens.list().await.expect("list");
    let old = tokens.iter().find(|t| t.id == "0000000000aa").expect("listed");
    assert!(old.demo && old.revoked_at.is_some(), "{old:?}");
    real.shutdown().await;
    // Opening the migrated table again changes nothing.
    let mut c = config(dir.path(), true);
    c.auth_url = Some(url);
    let demo = siteledger_api::server::spawn(c).await.expect("demo server");
    assert_eq!(status(&demo, "/v1/whoami", &fresh.secret).await, 200, "a demo token works in demo mode");
    demo.shutdown().await;
}
