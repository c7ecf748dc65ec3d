//! File modes of the store: health data readable by the node's OS user only.
//!
//! The data directory is created `0700` and the database file `0600` before SQLite opens it, so
//! there is no moment at which it is world-readable; SQLite creates the `-wal` and `-shm` files
//! with the database file's mode, and modes of files left by older versions (0644) are tightened
//! at every open. A data directory that already existed keeps its mode (an operator may have
//! chosen it), but one readable by others is reported in the log.

use std::io;
use std::path::Path;

/// Mode of directories the node creates.
#[cfg(unix)]
pub(crate) const DIR_MODE: u32 = 0o700;

/// Mode of files the node creates.
#[cfg(unix)]
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) accessible by the owner only.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if dir.is_dir() {
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    dir = %dir.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the data directory is accessible by other users; `chmod 700` it"
                );
            }
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

/// Creates the database file `0600` if it does not exist, and tightens it and its `-wal` and
/// `-shm` companions if they do.
pub(crate) fn make_db_files_private(db: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // An empty file is an empty SQLite database; `create` (not `create_new`) so that two
        // processes opening a new store at once both succeed.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .open(db)?;
        let name = db.as_os_str().to_owned();
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = name.clone();
            file.push(suffix);
            let path = Path::new(&file);
            match std::fs::metadata(path) {
                Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                    // Best effort on files that exist (a file system without Unix modes must
                    // not keep the node from starting); new files are created 0600 above.
                    if let Err(err) =
                        std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
                    {
                        tracing::warn!(file = %path.display(), %err, "cannot make the file owner-only");
                    }
                }
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        Ok(())
    }
}
