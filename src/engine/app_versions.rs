//! Application versions (`listApplicationVersions`, `getLatestApplicationVersion`,
//! `setLatestApplicationVersion`): the rows of `application_versions`, as the DBOS SDK 5.3.0 reads and
//! promotes them. Registration at launch is `recovery`'s `register_version`.

use super::error::{EngineError, Result};
use super::Engine;

/// One row of `application_versions`.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version_id: String,
    pub version_name: String,
    pub version_timestamp: i64,
    pub created_at: i64,
    pub application_name: Option<String>,
}

/// The rows of these applications plus unclaimed ones (no names: every row), latest first; $2 caps them.
fn listing(s: &str) -> String {
    format!(
        "SELECT version_id, version_name, version_timestamp, created_at, application_name \
         FROM {s}.application_versions \
         WHERE cardinality($1::text[]) = 0 OR application_name = ANY($1) OR application_name IS NULL \
         ORDER BY version_timestamp DESC LIMIT $2"
    )
}

impl Engine {
    /// The versions of `app_names` (none: all) plus unclaimed ones, latest first, at most `limit`.
    /// Transactions, locks: one autocommit SELECT, no locks.
    pub async fn list_application_versions(
        &self,
        app_names: &[String],
        limit: Option<i64>,
    ) -> Result<Vec<VersionRow>> {
        let sql = listing(self.schema());
        let rows = self
            .retrying(|| async { self.query(&sql, &[&app_names, &limit]).await })
            .await?;
        Ok(rows
            .iter()
            .map(|r| VersionRow {
                version_id: r.get(0),
                version_name: r.get(1),
                version_timestamp: r.get(2),
                created_at: r.get(3),
                application_name: r.get(4),
            })
            .collect())
    }

    /// Makes `version_name` the latest (timestamp `at`), as `owner` (None: as whoever holds it). An
    /// unclaimed version is claimed by `owner`; another application's is refused (the SDK's message);
    /// an unknown name changes nothing.
    /// Transactions, locks: one READ COMMITTED transaction; `SELECT ... FOR UPDATE` locks the
    /// version's row, so a concurrent claim cannot slip between the check and the UPDATE.
    pub async fn set_latest_application_version(
        &self,
        version_name: &str,
        owner: Option<&str>,
        at: i64,
    ) -> Result<()> {
        let s = self.schema();
        let select =
            format!("SELECT application_name FROM {s}.application_versions WHERE version_name = $1 FOR UPDATE");
        let update = format!(
            "UPDATE {s}.application_versions SET version_timestamp = $1, \
             application_name = COALESCE($3, application_name) WHERE version_name = $2"
        );
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let current: Option<String> = tx
            .query_opt(&select, &[&version_name])
            .await?
            .and_then(|r| r.get(0));
        let resolved = match (current, owner) {
            (None, owner) => owner.map(str::to_string),
            (Some(cur), Some(own)) if cur != own => {
                return Err(EngineError::invalid(format!(
                    "Application version '{version_name}' is already registered by application '{cur}' in this system database. \
                     Application version names must be unique across applications sharing a system database. \
                     Either set a distinct applicationVersion for '{own}', or, if '{cur}' was renamed to '{own}', \
                     re-own its rows first with dbos rename-application"
                )));
            }
            (Some(cur), _) => Some(cur),
        };
        tx.execute(&update, &[&at, &version_name, &resolved])
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
