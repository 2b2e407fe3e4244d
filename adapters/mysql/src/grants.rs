//! The least a worker's MySQL account needs: [`WORKER_GRANTS`]. Workers
//! start, lease, renew, hand back and finish jobs, read teams' quotas and
//! the artifact ledger, and record artifacts they compile; they read the
//! catalog of versions; they never create tables, delete jobs, change
//! versions, or read keys. The API's account migrates and
//! does the rest. `agensium admin worker-grants` prints the statements.

/// What an autoscaler reads to size the worker fleet (KEDA's `mysql`
/// trigger in `deploy/kubernetes/base/keda.yaml`): the number of jobs
/// queued or running across every team's lane, one row, one column. The
/// job rows are the truth, so a ticket pending on a dead worker counts
/// (its job is `running` until reclaimed), and so does a job whose ticket
/// the rail lost.
pub const BACKLOG_QUERY: &str = "SELECT jobs FROM backlog";

/// The one `GRANT` an autoscaler's account needs: `SELECT` on the view
/// `backlog` of `database`, nothing else (no job row, no key).
pub fn backlog_grant(database: &str, user: &str, host: &str) -> String {
    format!(
        "GRANT SELECT ON `{}`.`backlog` TO '{}'@'{}'",
        quote(database),
        text(user),
        text(host)
    )
}

fn quote(s: &str) -> String {
    s.replace('`', "``")
}

fn text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "''")
}

/// Each table a worker uses and what it does to it.
pub const WORKER_GRANTS: &[(&str, &str)] = &[
    ("jobs", "SELECT, UPDATE"),
    ("teams", "SELECT"),
    // `REPLACE INTO artifacts` is an insert that may delete the old row.
    ("artifacts", "SELECT, INSERT, DELETE"),
    ("schema_migrations", "SELECT"),
    // Read at start: whether versions stored before their precedence key
    // existed need one (the API, which migrates, fills them in).
    ("processor_versions", "SELECT"),
    ("processors", "SELECT"),
];

/// The `GRANT` statements that give `user`@`host` what a worker needs on
/// `database` (the user must exist: `CREATE USER … IDENTIFIED BY …`).
pub fn worker_grants(database: &str, user: &str, host: &str) -> Vec<String> {
    WORKER_GRANTS
        .iter()
        .map(|(table, privileges)| {
            format!(
                "GRANT {privileges} ON `{}`.`{table}` TO '{}'@'{}'",
                quote(database),
                text(user),
                text(host)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted() {
        let g = worker_grants("a`b", "o'k", "%");
        assert_eq!(g[0], "GRANT SELECT, UPDATE ON `a``b`.`jobs` TO 'o''k'@'%'");
        assert_eq!(g.len(), WORKER_GRANTS.len());
        assert_eq!(
            backlog_grant("a`b", "o'k", "%"),
            "GRANT SELECT ON `a``b`.`backlog` TO 'o''k'@'%'"
        );
    }
}
