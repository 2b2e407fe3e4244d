//! Keys without a running API: the zero-setup admin key of `serve`, and
//! the operator's `agensium admin` commands.

use agensium_domain::{ApiKey, KeyRecord, Quota, Role, Team, TeamName, now_to_the_millisecond};
use agensium_ports::MetaStore;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the file `serve` writes its first key to, in the data dir.
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// Creates a team; false when it exists.
pub async fn create_team(meta: &dyn MetaStore, name: &TeamName) -> Result<bool> {
    let team = Team {
        name: name.clone(),
        disabled: false,
        quota: Quota::default(),
        created_at: now_to_the_millisecond(),
    };
    Ok(meta.create_team(&team).await?)
}

/// Makes a key of `role` for an existing team and stores its hash; the key
/// itself exists only in the return value.
pub async fn create_key(
    meta: &dyn MetaStore,
    team: &TeamName,
    role: Role,
    name: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<ApiKey> {
    if meta.get_team(team).await?.is_none() {
        bail!("there is no team {team}: create it first (agensium admin create-team {team})");
    }
    let key = ApiKey::generate().context("the operating system's random source failed")?;
    let rec = KeyRecord::new(&key, team.clone(), role, name.to_owned(), expires_at);
    meta.insert_key(&rec).await?;
    Ok(key)
}

/// On a metadata store without any key: creates the team `default` and an
/// operator key (which includes every team role), and writes the key to
/// `<data_dir>/admin.key` (mode 0600, in a 0700 directory). Returns the
/// file's path when it wrote one.
pub async fn first_key(meta: &dyn MetaStore, data_dir: &Path) -> Result<Option<PathBuf>> {
    if meta.has_keys().await? {
        return Ok(None);
    }
    let team = TeamName::default_team();
    create_team(meta, &team).await?;
    let key = create_key(meta, &team, Role::Operator, "bootstrap", None).await?;
    let path = data_dir.join(ADMIN_KEY_FILE);
    write_private(&path, key.expose())
        .with_context(|| format!("writing the admin key to {}", path.display()))?;
    Ok(Some(path))
}

/// Writes `content` to a new file only its owner can read, in a directory
/// only its owner can enter.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if let Some(dir) = path.parent() {
            crate::connect::private_dir(dir)?;
        }
        opts.mode(0o600);
        let mut f = opts.open(path)?;
        // An existing file keeps its mode on open: set it.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        writeln!(f, "{content}")
    }
    #[cfg(not(unix))]
    {
        writeln!(opts.open(path)?, "{content}")
    }
}
