//! What the server keeps on disk is private to its user: the data directory
//! is created 0700 and the SQLite database 0600 (SQLite gives its `-wal` and
//! `-shm` files the database's mode), and a secret or database that others
//! can read is reported at start-up.

use std::path::{Path, PathBuf};

use crate::{Config, RunError};

/// Creates the data directory and the SQLite file (when the database is a
/// SQLite file) with private modes before anything else opens them, and
/// warns about an existing database that others can read.
pub fn prepare(config: &Config) -> Result<(), RunError> {
    let Some(db) = sqlite_file(&config.database_url) else {
        return Ok(());
    };
    if let Some(dir) = db.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        if dir.exists() {
            warn_if_exposed(dir, "the database's directory");
        }
        private_dir(dir)?;
    }
    if db.exists() {
        warn_if_exposed(&db, "the database");
    } else {
        private_file(&db)?;
    }
    Ok(())
}

/// The file a `sqlite:` URL names, if it names one (not a memory database).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    if url.contains("mode=memory") {
        return None;
    }
    let path = rest.split('?').next().unwrap_or_default();
    let path = path.strip_prefix("file:").unwrap_or(path);
    if path.is_empty() || path == ":memory:" || path == "memory" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Creates a directory (and any missing parents) readable by its owner only.
pub fn private_dir(dir: &Path) -> Result<(), RunError> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|err| RunError::Io(format!("cannot create {}: {err}", dir.display())))
}

/// Creates an empty file readable by its owner only (SQLite takes an empty
/// file as a new database).
fn private_file(path: &Path) -> Result<(), RunError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(RunError::Io(format!(
            "cannot create {}: {err}",
            path.display()
        ))),
    }
}

/// Whether others than the owner may read or write the file.
pub fn exposed(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Logs a warning when others can read the file.
pub fn warn_if_exposed(path: &Path, what: &str) {
    if exposed(path) {
        tracing::warn!(
            path = %path.display(),
            "{what} is readable by other users of this machine; run chmod 600 on it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://./data/xl.db"),
            Some(PathBuf::from("./data/xl.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/var/lib/xl.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/xl.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://:memory:"), None);
        assert_eq!(sqlite_file("postgres://db/xl"), None);
    }

    #[cfg(unix)]
    #[test]
    fn the_data_directory_and_database_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let db = root.path().join("data/nested/xl.db");
        let mut config = crate::Config::load(&crate::config::Sources::default()).unwrap();
        config.database_url = format!("sqlite://{}", db.display());
        prepare(&config).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root.path().join("data")), 0o700);
        assert_eq!(mode(db.parent().unwrap()), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert!(!exposed(&db));

        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(exposed(&db), "a world-readable file is reported");
    }
}
