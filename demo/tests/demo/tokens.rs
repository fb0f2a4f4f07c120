//! The token the demo logs for its operator dies with the demo: a server on the same data directory without demo
//! mode refuses it, revokes it at start, and serving the demo again does not bring it back.

use siteledger_api::config::Config;
use siteledger_api::server::RunningServer;

use crate::helpers::demo_config;

fn config(dir: &std::path::Path, demo: bool) -> Config {
    Config { demo, ..demo_config(dir) }
}

async fn status(server: &RunningServer, path: &str, token: &str) -> u16 {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    client.get(format!("{}{path}", server.url())).bearer_auth(token).send().await.expect("request").status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_operator_token_is_refused_once_the_data_dir_is_served_without_demo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = siteledger_api::server::spawn(config(dir.path(), true)).await.expect("demo server");
    let operator = siteledger_demo::operator_token(&demo.state).await.expect("operator token");
    assert_eq!(status(&demo, "/v1/whoami", &operator.secret).await, 200, "the token works during the demo");
    assert_eq!(status(&demo, "/v1/projects", &operator.secret).await, 200);
    demo.shutdown().await;

    let real = siteledger_api::server::spawn(config(dir.path(), false)).await.expect("server");
    assert_eq!(status(&real, "/v1/whoami", &operator.secret).await, 401);
    assert_eq!(status(&real, "/v1/projects", &operator.secret).await, 401);
    assert_eq!(status(&real, "/", &operator.secret).await, 303, "the dashboard sends it to the login page");
    let tokens = real.state.tokens.list().await.expect("list");
    let t = tokens.iter().find(|t| t.id == operator.id).expect("the operator token is listed");
    assert!(t.demo, "marked as a demo token");
    assert!(t.revoked_at.is_some(), "revoked when the data directory was served without --demo");
    real.shutdown().await;

    // Serving the demo again does not bring it back.
    let again = siteledger_api::server::spawn(config(dir.path(), true)).await.expect("demo server");
    assert_eq!(status(&again, "/v1/whoami", &operator.secret).await, 401);
    again.shutdown().await;
}
