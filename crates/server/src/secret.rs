//! The JWT secret: from `JWT_SECRET`, or generated once and kept in the data
//! directory so a fresh checkout can mint and verify tokens at once.

use std::io::Write;
use std::path::PathBuf;

use rand::RngCore;

use crate::{Config, RunError};

const FILE_NAME: &str = "jwt_secret";

/// The secret to sign and verify HS256 tokens with.
pub fn jwt_secret(config: &Config) -> Result<String, RunError> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.clone());
    }
    let path = config.data_dir.join(FILE_NAME);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= 32 {
            crate::files::warn_if_exposed(&path, "the JWT secret file");
            return Ok(existing);
        }
    }
    let secret = generate();
    write_private(&path, &secret)?;
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is not set: generated a secret and stored it; set JWT_SECRET in production"
    );
    Ok(secret)
}

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &PathBuf, secret: &str) -> Result<(), RunError> {
    let fail =
        |err: std::io::Error| RunError::Io(format!("cannot write {}: {err}", path.display()));
    if let Some(dir) = path.parent() {
        crate::files::private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(secret.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)
}
