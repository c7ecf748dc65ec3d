//! Settings beyond flags: an environment variable for every flag, and a config file
//! (`expediente.toml`, named by `--config FILE` or `EXPEDIENTE_CONFIG`).
//!
//! Precedence, highest first: the flag, its environment variable, the config file, the
//! built-in default. A clinic PC's service unit keeps its settings in one file; a container
//! sets variables; a person at the terminal types flags, and each overrides the one before.
//!
//! - Every flag `--some-name` reads `EXPEDIENTE_SOME_NAME` unless it names its own variable
//!   (e.g. `--database` reads `EXPEDIENTE_DATABASE_URL`). The rule is applied here to the whole
//!   command tree, so a new flag cannot be forgotten.
//! - The file holds `name = value` pairs with the flags' long names. Top-level pairs apply to
//!   every command that has such a flag (`data = "/var/lib/expediente"` serves `serve`,
//!   `backup`, `user`…); a `[serve]` or `[node.enroll]` table applies to that command only. A
//!   name no command has is an error, not silence: a typo must not leave a default in force.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, Command};

/// The variable naming the config file when `--config` is not given.
pub(crate) const CONFIG_ENV: &str = "EXPEDIENTE_CONFIG";

/// A config file that cannot be used (a usage error: exit 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error(
        "no se pudo leer el archivo de configuración {path} / cannot read the config file: {source}"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("archivo de configuración {path} inválido / invalid config file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path}: «{key}» no es una opción de ninguna orden / '{key}' is not an option of any command"
    )]
    UnknownKey { path: PathBuf, key: String },
    #[error(
        "{path}: el valor de «{key}» debe ser texto, número o booleano / '{key}' must be a string, number or boolean"
    )]
    BadValue { path: PathBuf, key: String },
}

/// The environment variable a flag reads when it names none itself.
pub(crate) fn env_name(long: &str) -> String {
    format!("EXPEDIENTE_{}", long.replace('-', "_").to_ascii_uppercase())
}

/// `command` with an environment variable on every flag, and the defaults of the config file
/// that `args` (or `EXPEDIENTE_CONFIG`) name, if any.
pub(crate) fn configure(command: Command, args: &[OsString]) -> Result<Command, ConfigError> {
    let command = with_env_vars(command);
    let Some(path) = config_path(args) else {
        return Ok(command);
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| ConfigError::Parse {
            path: path.clone(),
            message: err.message().to_string(),
        })?;
    let mut settings = Vec::new();
    flatten(&path, &table, &[], &mut settings)?;
    let mut used = BTreeSet::new();
    let command = apply(command, &[], &settings, &mut used);
    if let Some((scope, key, _)) = settings
        .iter()
        .find(|(scope, key, _)| !used.contains(&(scope.clone(), key.clone())))
    {
        let mut named = scope.clone();
        named.push(key.clone());
        return Err(ConfigError::UnknownKey {
            path,
            key: named.join("."),
        });
    }
    Ok(command)
}

/// A setting: the command path it applies to (empty: every command), the flag, its value.
type Setting = (Vec<String>, String, String);

fn flatten(
    path: &Path,
    table: &toml::Table,
    scope: &[String],
    out: &mut Vec<Setting>,
) -> Result<(), ConfigError> {
    for (key, value) in table {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Table(inner) => {
                let mut scope = scope.to_vec();
                scope.push(key.clone());
                flatten(path, inner, &scope, out)?;
                continue;
            }
            _ => {
                return Err(ConfigError::BadValue {
                    path: path.to_path_buf(),
                    key: key.clone(),
                });
            }
        };
        out.push((scope.to_vec(), key.replace('_', "-"), text));
    }
    Ok(())
}

/// `--config FILE` / `--config=FILE` among the arguments, else `EXPEDIENTE_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(value) = text.strip_prefix("--config=") {
            return Some(PathBuf::from(value));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn is_builtin(arg: &Arg) -> bool {
    matches!(arg.get_id().as_str(), "help" | "version")
}

fn with_env_vars(command: Command) -> Command {
    command
        .mut_args(|arg| {
            if is_builtin(&arg) || arg.get_env().is_some() {
                return arg;
            }
            match arg.get_long().map(env_name) {
                Some(name) => arg.env(name),
                None => arg,
            }
        })
        .mut_subcommands(with_env_vars)
}

/// Applies the settings whose scope is a prefix of `path` (the command's own path) as
/// defaults of `command`'s flags, recording each one used.
fn apply(
    command: Command,
    path: &[String],
    settings: &[Setting],
    used: &mut BTreeSet<(Vec<String>, String)>,
) -> Command {
    let command = command.mut_args(|arg| {
        let Some(long) = arg.get_long().map(str::to_string) else {
            return arg;
        };
        if is_builtin(&arg) {
            return arg;
        }
        // The most specific scope wins: `[serve] listen` over a top-level `listen`.
        let chosen = settings
            .iter()
            .filter(|(scope, key, _)| *key == long && path.starts_with(scope))
            .max_by_key(|(scope, _, _)| scope.len());
        for (scope, key, _) in settings {
            if *key == long && path.starts_with(scope) {
                used.insert((scope.clone(), key.clone()));
            }
        }
        match chosen {
            // A required flag the file supplies is no longer missing.
            Some((_, _, value)) => arg.default_value(value.clone()).required(false),
            None => arg,
        }
    });
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut command = command;
    for name in names {
        let mut sub_path = path.to_vec();
        sub_path.push(name.clone());
        command = command.mut_subcommand(&name, |sub| apply(sub, &sub_path, settings, used));
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variables the program reads for other purposes: no flag may claim them.
    const RESERVED: [&str; 2] = ["EXPEDIENTE_NODE", crate::commands::TIME_ZONE_ENV];

    fn tree() -> Command {
        <crate::Cli as clap::CommandFactory>::command()
    }

    /// (command path, long flag, environment variable) of every flag.
    fn all_flags(command: &Command, path: &str, out: &mut Vec<(String, String, Option<String>)>) {
        for arg in command.get_arguments().filter(|a| !is_builtin(a)) {
            if let Some(long) = arg.get_long() {
                out.push((
                    path.to_string(),
                    long.to_string(),
                    arg.get_env().map(|e| e.to_string_lossy().into_owned()),
                ));
            }
        }
        for sub in command.get_subcommands() {
            all_flags(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_flag_reads_an_environment_variable_of_its_own_name() {
        let mut flags = Vec::new();
        all_flags(&with_env_vars(tree()), "expediente", &mut flags);
        assert!(
            flags.len() > 50,
            "the whole tree was walked: {}",
            flags.len()
        );
        for (path, long, env) in &flags {
            let env = env
                .as_deref()
                .unwrap_or_else(|| panic!("{path} --{long} reads no environment variable"));
            assert!(env.starts_with("EXPEDIENTE_"), "{path} --{long}: {env}");
            assert!(!RESERVED.contains(&env), "{path} --{long} claims {env}");
        }
        // The rule, where a flag names no variable itself.
        let data = flags
            .iter()
            .find(|(path, long, _)| path == "expediente audit verify" && long == "data");
        assert_eq!(
            data.and_then(|f| f.2.as_deref()),
            Some("EXPEDIENTE_DATA"),
            "{flags:?}"
        );
    }

    fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("expediente.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn parse(path: &Path, args: &[&str]) -> Result<crate::Cli, String> {
        let mut argv: Vec<OsString> = vec!["expediente".into(), "--config".into(), path.into()];
        argv.extend(args.iter().map(OsString::from));
        let command = configure(tree(), &argv).map_err(|e| e.to_string())?;
        let matches = command
            .try_get_matches_from(argv)
            .map_err(|e| e.to_string())?;
        <crate::Cli as clap::FromArgMatches>::from_arg_matches(&matches).map_err(|e| e.to_string())
    }

    fn serve_args(cli: crate::Cli) -> crate::commands::serve::ServeArgs {
        match cli.command {
            crate::Command::Serve(args) => args,
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn the_file_gives_defaults_the_command_table_wins_and_flags_override() {
        let (_dir, path) = write_config(
            "data = \"/srv/expediente\"\nlisten = \"127.0.0.1:9000\"\nrate_limit_per_minute = 60\n\n[serve]\nlisten = \"0.0.0.0:8443\"\n",
        );
        let serve = serve_args(parse(&path, &["serve"]).unwrap());
        assert_eq!(serve.data, PathBuf::from("/srv/expediente"));
        assert_eq!(serve.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(serve.rate_limit_per_minute, 60);
        let flagged = serve_args(parse(&path, &["serve", "--listen", "127.0.0.1:7000"]).unwrap());
        assert_eq!(flagged.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(flagged.data, PathBuf::from("/srv/expediente"));
    }

    #[test]
    fn a_name_no_command_has_is_an_error_not_silence() {
        let (_dir, path) = write_config("lissten = \"0.0.0.0:80\"\n");
        let error = parse(&path, &["serve"]).err().unwrap();
        assert!(error.contains("lissten"), "{error}");
        let (_dir, path) = write_config("[serv]\nlisten = \"0.0.0.0:80\"\n");
        let error = parse(&path, &["serve"]).err().unwrap();
        assert!(error.contains("serv.listen"), "{error}");
        let (_dir, path) = write_config("listen = [1, 2]\n");
        assert!(parse(&path, &["serve"]).err().unwrap().contains("listen"));
        let (_dir, path) = write_config("listen = \"\n");
        assert!(parse(&path, &["serve"]).err().unwrap().contains("inválido"));
    }
}
