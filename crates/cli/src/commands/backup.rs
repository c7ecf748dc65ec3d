//! `expediente backup` and `expediente restore`: a clinic with no database administrator
//! nearby keeps copies of its record and can bring one back, checked.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::database::DatabaseArg;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Directorio de datos del nodo / Node data directory
    #[arg(long, default_value = "./expediente-data", env = "EXPEDIENTE_DATA")]
    pub data: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Archivo de respaldo (no debe existir) / Backup file (must not exist)
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Archivo de respaldo / Backup file
    #[arg(long)]
    pub from: PathBuf,
    /// Directorio del nodo nuevo (sin nodo todavía) / The new node's directory (no node yet)
    #[arg(long)]
    pub data: PathBuf,
}

/// Online backup: the node may keep serving.
pub fn run_backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    super::require_node(&args.data, &args.database)?;
    let (db, ehr) = super::open_node(&args.data, &args.database, false)?;
    let written = db.backup_to(&args.to);
    ehr.close_audit();
    db.close();
    let bytes = written?;
    println!(
        "Respaldo escrito / backup written: {} ({bytes} bytes). Las llaves del nodo ({}/keys) no van en él: resguárdelas aparte / The node's keys are not in it: keep them apart.",
        args.to.display(),
        args.data.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Restores into a new node directory, then verifies: page integrity (before the file takes
/// the database's name), the audit chain, and the counts of what it holds.
pub fn run_restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    super::database::restore_sqlite(&args.from, &args.data)?;
    let (db, ehr) = super::open_node(&args.data, &DatabaseArg::default(), false)?;
    let chain = super::security::verify_chain(&ehr, "Respaldo restaurado / restored backup");
    let counts = ehr.resource_counts();
    ehr.close_audit();
    db.close();
    let counts = counts.map_err(|err| anyhow::anyhow!("{err}"))?;
    for (resource_type, count) in &counts {
        println!("{resource_type}\t{count}");
    }
    if let Some(problem) = chain {
        println!("BITÁCORA ALTERADA: {problem} / AUDIT TRAIL ALTERED");
        return Ok(ExitCode::from(2));
    }
    println!(
        "Restaurado y verificado / restored and verified: {} ({} recursos / resources)",
        args.data.display(),
        counts.iter().map(|(_, n)| n).sum::<u64>()
    );
    Ok(ExitCode::SUCCESS)
}
