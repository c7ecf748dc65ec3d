//! Online backup and checked restore of a node's database file.
//!
//! Key decision: the backup is SQLite's own online backup, copied in one step inside one read
//! transaction, so it is a consistent snapshot of a node that keeps serving (in WAL mode the
//! writer is not blocked) and never a torn copy of a file being written. A restore never
//! writes over an existing node: it copies into an empty place, checks the copy page by page
//! (`PRAGMA integrity_check`) and only then gives it the database's name.

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use store::Error;

use crate::{DB_FILE_NAME, SqliteStore, files, sql_error};

impl SqliteStore {
    /// Writes a consistent copy of the database to `dest` (which must not exist), while the
    /// node keeps serving. Returns the copy's size in bytes.
    pub fn backup_to(&self, dest: &Path) -> Result<u64, Error> {
        if dest.exists() {
            return Err(Error::Invalid(format!(
                "{} already exists; a backup never overwrites a file",
                dest.display()
            )));
        }
        let mut target = Connection::open(dest).map_err(sql_error)?;
        self.with_reader(|source| {
            let backup = Backup::new(source, &mut target).map_err(sql_error)?;
            // One step of every page (-1): one read transaction, so one snapshot. Busy or
            // locked only delays it (the writer is checkpointing); a few tries, then give up.
            for _ in 0..50 {
                match backup.step(-1).map_err(sql_error)? {
                    StepResult::Done => return Ok(()),
                    StepResult::More | StepResult::Busy | StepResult::Locked => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => return Err(Error::Other("unexpected backup step result".into())),
                }
            }
            Err(Error::Busy)
        })?;
        drop(target);
        files::make_db_files_private(dest)
            .map_err(|err| Error::Other(format!("cannot restrict {}: {err}", dest.display())))?;
        std::fs::metadata(dest)
            .map(|meta| meta.len())
            .map_err(|err| Error::Other(format!("{}: {err}", dest.display())))
    }
}

/// Checks every page of a database file (`PRAGMA integrity_check`).
pub fn check_file(path: &Path) -> Result<(), Error> {
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql_error)?;
    let verdict: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(sql_error)?;
    if verdict == "ok" {
        Ok(())
    } else {
        Err(Error::Other(format!("integrity check failed: {verdict}")))
    }
}

/// Places the backup `from` as the database of the node in `data_dir`, which must hold no
/// node yet; the copy is checked before it takes the database's name.
pub fn restore_into(from: &Path, data_dir: &Path) -> Result<(), Error> {
    let db = data_dir.join(DB_FILE_NAME);
    if db.exists() {
        return Err(Error::Invalid(format!(
            "{} already holds a node; a restore never overwrites one",
            data_dir.display()
        )));
    }
    check_file(from)?;
    files::create_private_dir(data_dir)
        .map_err(|err| Error::Other(format!("{}: {err}", data_dir.display())))?;
    let partial = data_dir.join(format!("{DB_FILE_NAME}.restaurando"));
    std::fs::copy(from, &partial)
        .map_err(|err| Error::Other(format!("cannot copy {}: {err}", from.display())))?;
    files::make_db_files_private(&partial)
        .map_err(|err| Error::Other(format!("{}: {err}", partial.display())))?;
    check_file(&partial)?;
    // The copy is flushed before it is named, so a crash leaves either no node or a whole one.
    std::fs::File::open(&partial)
        .and_then(|file| file.sync_all())
        .and_then(|()| std::fs::rename(&partial, &db))
        .map_err(|err| Error::Other(format!("cannot place the restored database: {err}")))
}
