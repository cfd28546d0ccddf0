//! What the engine's test files share: a fresh database on the server `DBOS_TEST_DATABASE_URL` names
//! (`npm test` sets it), and an engine connected to it.

use dbos_native::engine::{Engine, EngineOptions, Identity, SchemaMode};
use tokio_postgres::NoTls;

/// How the test's engine connects: its application, its pool, and whether it listens from the start.
pub struct TestEngine {
    pub app_name: &'static str,
    pub pool_size: usize,
    pub listen: bool,
}

/// Drops `engine_test_<name>` if a previous run left it, then connects an engine that creates and
/// migrates it (executor `local`, version `v1`). Returns the database's URL with the engine.
pub async fn fresh_engine(name: &str, how: TestEngine) -> (String, Engine) {
    let base = std::env::var("DBOS_TEST_DATABASE_URL")
        .expect("DBOS_TEST_DATABASE_URL must name a Postgres server (npm test sets it)");
    let (head, _) = base.rsplit_once('/').expect("URL with a database path");
    let (admin, conn) = tokio_postgres::connect(&format!("{head}/postgres"), NoTls)
        .await
        .expect("connect to test server");
    tokio::spawn(conn);
    let db = format!("engine_test_{name}");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .expect("drop test database");
    let url = format!("{head}/{db}");
    let engine = Engine::connect(EngineOptions {
        url: url.clone(),
        schema: "dbos".to_string(),
        pool_size: how.pool_size,
        schema_mode: SchemaMode::Migrate,
        listen: how.listen,
        listen_notify: true,
        listen_url: None,
        transaction_pooling: false,
        identity: Identity {
            app_name: how.app_name.to_string(),
            executor_id: "local".to_string(),
            app_version: "v1".to_string(),
        },
    })
    .await
    .expect("engine");
    (url, engine)
}
