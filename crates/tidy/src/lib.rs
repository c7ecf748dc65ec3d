//! The architecture's rules, checked over the source tree and the crate graph (the tests in
//! `tests/tidy.rs` run them on the workspace; `src/tests.rs` shows each rule catching a
//! violation).
//!
//! Why tests and not review: a rule that ARCHITECTURE.md states and nothing checks drifts the
//! first time someone is in a hurry. Each rule here is a pure function from a file's path and
//! text (or the crate graph) to the violations found, so it can be shown to fail on a
//! made-up violation, and the workspace test reports every violation at once with its place.
//!
//! The rules:
//! - SQL lives only in the `store-*` crates (the bench's storage-floor table is the one stated
//!   exception).
//! - Wall-clock reads and id draws happen only behind the injected clock and the one id
//!   function of `ehr` (`clock.rs`, `meta.rs`), so behaviour is reproducible; the edges (the
//!   binary, the bench, build tools) may read the clock.
//! - HTTP frameworks and clients are dependencies of the edge crates only; the concrete stores
//!   are named only by the binary (and the bench, which measures them), and inside the binary
//!   by one module (`commands/database.rs`, which opens whichever engine `--database` names).
//! - Nothing above `ehr` reaches the store: `rest` and `web` use the store's data types, never
//!   its access traits (every read and write goes through `ehr`'s guards and audit).
//! - The crate graph is the one drawn in ARCHITECTURE.md ([`ALLOWED_DEPENDENCIES`]).
//! - Inside `ehr`, the lower layers (write path, read path, guards, audit, lookup, matching)
//!   never call up into the use cases, and only the write path writes resource versions.
//! - Every source file starts with a `//!` line saying what it is for.

use std::path::Path;

#[cfg(test)]
mod tests;

/// One broken rule, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub place: String,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}: {}", self.rule, self.place, self.detail)
    }
}

/// The internal crates each crate may depend on (normal dependencies; dev-dependencies are
/// free). Mirrors the diagram in ARCHITECTURE.md.
pub const ALLOWED_DEPENDENCIES: &[(&str, &[&str])] = &[
    ("calendar", &[]),
    ("fhir", &["calendar"]),
    ("mexico", &["calendar"]),
    ("mpi", &["calendar"]),
    ("search", &["calendar", "fhir"]),
    ("auth", &["mexico"]),
    ("clinical", &["mexico"]),
    ("synth", &["calendar", "mexico"]),
    ("store", &["auth", "fhir", "search"]),
    ("store-sqlite", &["auth", "fhir", "search", "store"]),
    ("store-postgres", &["auth", "fhir", "search", "store"]),
    (
        "ehr",
        &[
            "auth", "calendar", "clinical", "fhir", "mexico", "mpi", "search", "store",
        ],
    ),
    ("rest", &["auth", "ehr", "fhir", "search", "store"]),
    (
        "web",
        &[
            "auth", "calendar", "clinical", "ehr", "fhir", "mexico", "search", "store",
        ],
    ),
    (
        "sync",
        &["auth", "ehr", "fhir", "mexico", "search", "store"],
    ),
    (
        "bench",
        &[
            "auth",
            "ehr",
            "fhir",
            "mexico",
            "rest",
            "search",
            "store",
            "store-sqlite",
            "store-postgres",
            "synth",
        ],
    ),
    (
        "cli",
        &[
            "auth",
            "bench",
            "clinical",
            "ehr",
            "fhir",
            "mexico",
            "mpi",
            "rest",
            "search",
            "store",
            "store-sqlite",
            "store-postgres",
            "sync",
            "synth",
            "web",
        ],
    ),
    ("xtask", &[]),
    ("tidy", &[]),
];

/// Crates at the edges: they may speak HTTP.
pub const HTTP_CRATES: &[&str] = &["rest", "web", "sync", "cli", "bench"];

/// Third-party crates that mean HTTP.
pub const HTTP_LIBRARIES: &[&str] = &["axum", "hyper", "tower-http", "reqwest", "tokio-rustls"];

/// Crates that may name a concrete store.
pub const STORE_NAMING_CRATES: &[&str] = &["cli", "bench"];

/// Crates at the edges, or tools, that may read the wall clock and draw ids themselves.
pub const CLOCK_CRATES: &[&str] = &["cli", "bench", "xtask", "tidy"];

/// The homes of the clock and of id draws inside the core.
pub const CLOCK_HOMES: &[&str] = &["crates/ehr/src/clock.rs", "crates/ehr/src/meta.rs"];

/// The one module of the binary that names the concrete stores.
pub const CLI_ENGINE_HOME: &str = "crates/cli/src/commands/database.rs";

/// Crates above `ehr` that must not reach the store themselves.
pub const ABOVE_EHR: &[&str] = &["rest", "web"];

/// What reaching the store looks like: its access traits and handles (its plain data types,
/// such as `StoredResource` or `Account`, are fine).
const STORE_ACCESS: &[&str] = &[
    "store::Store",
    "store::SharedStore",
    "store::WriteTx",
    "store::write_with",
    "store::sync::",
    "dyn Store",
    "SyncStore",
    ".store()",
];

/// Files outside `store-*` allowed to hold SQL, with why (ARCHITECTURE.md says so too).
pub const SQL_EXCEPTIONS: &[&str] = &[
    // The import benchmark's baseline: a bare SQLite table of blobs, the storage floor.
    "crates/bench/src/import.rs",
];

/// The use-case modules of `ehr`: the layers below must not call them.
pub const EHR_USE_CASES: &[&str] = &[
    "interactions",
    "bundle",
    "identity",
    "import",
    "care",
    "accounts",
    "aggregates",
    "audit_events",
    "capability",
    "reports",
    "export",
];

/// The lower layers of `ehr` (paths below `crates/ehr/src/`).
pub const EHR_LOWER_LAYERS: &[&str] = &[
    "write/",
    "read/",
    "guard/",
    "audit/",
    "lookup.rs",
    "matching.rs",
    "meta.rs",
];

/// The code part of a line: nothing of a `//` comment (doc comments included), so that text
/// about a rule is not taken for breaking it.
fn code_of(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with("//") {
        return "";
    }
    // A `//` inside a string literal (a URL) is kept; a trailing comment outside one is cut.
    let mut in_string = false;
    let mut previous = ' ';
    for (idx, c) in line.char_indices() {
        match c {
            '"' if previous != '\\' => in_string = !in_string,
            '/' if !in_string && previous == '/' => return &line[..idx - 1],
            _ => {}
        }
        previous = c;
    }
    line
}

/// The contents of the string literals on a line of code (roughly: between quotes).
fn literals(code: &str) -> Vec<&str> {
    code.split('"')
        .enumerate()
        .filter(|(idx, _)| idx % 2 == 1)
        .map(|(_, text)| text)
        .collect()
}

fn looks_like_sql(text: &str) -> bool {
    let upper = text.to_ascii_uppercase();
    let is_upper = text == upper;
    let has = |needle: &str| text.contains(needle);
    (has("SELECT ") && (has(" FROM ") || has(" FROM\n")))
        || has("INSERT INTO ")
        || has("DELETE FROM ")
        || has("CREATE TABLE")
        || has("CREATE INDEX")
        || (is_upper && has("UPDATE ") && has(" SET "))
        || (has("UPDATE ") && has(" SET ") && has(" WHERE "))
}

/// SQL lives in the store crates.
pub fn check_sql(path: &str, text: &str) -> Vec<Violation> {
    // The store crates, the stated exceptions, and this crate (whose patterns name SQL).
    if path.starts_with("crates/store-")
        || path.starts_with("crates/tidy/")
        || SQL_EXCEPTIONS.contains(&path)
    {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        for literal in literals(code_of(line)) {
            if looks_like_sql(literal) {
                found.push(Violation {
                    rule: "sql-in-store-crates",
                    place: format!("{path}:{}", idx + 1),
                    detail: format!("SQL outside the store crates: \"{literal}\""),
                });
            }
        }
    }
    found
}

/// What reads the wall clock or draws an id.
const CLOCK_READS: &[&str] = &[
    "SystemTime::now",
    "OffsetDateTime::now_utc",
    "OffsetDateTime::now_local",
    "Utc::now",
    "Local::now",
    "now_v7(",
    "new_v4(",
];

/// Wall-clock reads and id draws stay behind the injected clock.
pub fn check_clock(path: &str, text: &str) -> Vec<Violation> {
    let crate_name = crate_of(path);
    if CLOCK_CRATES.contains(&crate_name) || CLOCK_HOMES.contains(&path) || !is_library_source(path)
    {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut in_tests = false;
    for (idx, line) in text.lines().enumerate() {
        // Unit tests at the end of a file (`#[cfg(test)] mod tests {`) may use the clock.
        if line.trim_start().starts_with("#[cfg(test)]") {
            in_tests = true;
        }
        if in_tests {
            continue;
        }
        let code = code_of(line);
        for read in CLOCK_READS {
            if code.contains(read) {
                found.push(Violation {
                    rule: "clock-and-ids-injected",
                    place: format!("{path}:{}", idx + 1),
                    detail: format!(
                        "`{read}` outside the injected clock (`ehr::Clock`) and `ehr`'s id function"
                    ),
                });
            }
        }
    }
    found
}

/// `ehr`'s lower layers never call up into its use cases; only the write path writes versions.
pub fn check_ehr_layers(path: &str, text: &str) -> Vec<Violation> {
    let Some(inner) = path.strip_prefix("crates/ehr/src/") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let lower = EHR_LOWER_LAYERS
        .iter()
        .any(|layer| inner.starts_with(layer));
    let is_guard = inner.starts_with("guard/");
    for (idx, line) in text.lines().enumerate() {
        let code = code_of(line);
        let place = || format!("{path}:{}", idx + 1);
        if lower {
            for use_case in EHR_USE_CASES {
                let pattern = format!("crate::{use_case}");
                let at_boundary = code.match_indices(&pattern).any(|(at, _)| {
                    code[at + pattern.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
                });
                if at_boundary {
                    found.push(Violation {
                        rule: "ehr-layers-call-down",
                        place: place(),
                        detail: format!("a lower layer calls the use case `{use_case}`"),
                    });
                }
            }
        }
        if is_guard && (code.contains("crate::write") || code.contains("crate::read")) {
            found.push(Violation {
                rule: "ehr-layers-call-down",
                place: place(),
                detail: "the guards call the write or read path".into(),
            });
        }
        // The store calls that write a version (the `Writer`'s own methods are the way in).
        let writes_versions = code.contains("put(NewVersion")
            || code.contains("tx.put_prepared(")
            || code.contains("tx().put");
        if writes_versions && !inner.starts_with("write/") {
            found.push(Violation {
                rule: "one-write-path",
                place: place(),
                detail: "a resource version is written outside `ehr::write`".into(),
            });
        }
    }
    found
}

/// Inside the binary, only [`CLI_ENGINE_HOME`] names a concrete store; the rest of the binary
/// works on trait objects, whatever engine `--database` names.
pub fn check_engine_home(path: &str, text: &str) -> Vec<Violation> {
    if crate_of(path) != "cli" || path == CLI_ENGINE_HOME || !is_library_source(path) {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let code = code_of(line);
        for name in ["store_sqlite::", "store_postgres::"] {
            if code.contains(name) {
                found.push(Violation {
                    rule: "concrete-store-in-one-place",
                    place: format!("{path}:{}", idx + 1),
                    detail: format!("`{name}` outside {CLI_ENGINE_HOME}"),
                });
            }
        }
    }
    found
}

/// `rest` and `web` reach data through `ehr` only (its guards, its audit), never the store.
pub fn check_store_access(path: &str, text: &str) -> Vec<Violation> {
    if !ABOVE_EHR.contains(&crate_of(path)) || !is_library_source(path) {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = code_of(line);
        for access in STORE_ACCESS {
            // `store::Store` must not match `store::StoredResource`.
            let whole = code.match_indices(access).any(|(at, _)| {
                access.ends_with([':', '(', ')'])
                    || code[at + access.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            });
            if whole {
                found.push(Violation {
                    rule: "nothing-above-ehr-reaches-the-store",
                    place: format!("{path}:{}", idx + 1),
                    detail: format!("`{access}`: go through `ehr` (guards, audit)"),
                });
            }
        }
    }
    found
}

/// Every source file starts with a `//!` line.
pub fn check_module_doc(path: &str, text: &str) -> Vec<Violation> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.trim_start().starts_with("//!") {
        Vec::new()
    } else {
        vec![Violation {
            rule: "file-says-what-it-is-for",
            place: path.to_string(),
            detail: "the file does not start with a `//!` line".into(),
        }]
    }
}

/// One crate of the workspace as the graph rules see it.
#[derive(Clone, Debug)]
pub struct CrateDeps {
    pub name: String,
    /// Normal (non-dev, non-build) dependencies, every crate.
    pub dependencies: Vec<String>,
}

/// The crate graph follows [`ALLOWED_DEPENDENCIES`]; HTTP and concrete stores stay at the edges.
pub fn check_graph(crates: &[CrateDeps]) -> Vec<Violation> {
    let internal: Vec<&str> = crates.iter().map(|c| c.name.as_str()).collect();
    let mut found = Vec::new();
    for krate in crates {
        let allowed = ALLOWED_DEPENDENCIES
            .iter()
            .find(|(name, _)| *name == krate.name)
            .map(|(_, deps)| *deps);
        let Some(allowed) = allowed else {
            found.push(Violation {
                rule: "crate-graph",
                place: krate.name.clone(),
                detail: "a crate missing from the map (add it to ARCHITECTURE.md and ALLOWED_DEPENDENCIES)".into(),
            });
            continue;
        };
        for dependency in &krate.dependencies {
            let name = dependency.as_str();
            if internal.contains(&name) && !allowed.contains(&name) {
                found.push(Violation {
                    rule: "crate-graph",
                    place: krate.name.clone(),
                    detail: format!("depends on `{name}`, which the map does not allow"),
                });
            }
            if HTTP_LIBRARIES.contains(&name) && !HTTP_CRATES.contains(&krate.name.as_str()) {
                found.push(Violation {
                    rule: "http-at-the-edges",
                    place: krate.name.clone(),
                    detail: format!("depends on `{name}`: only {HTTP_CRATES:?} speak HTTP"),
                });
            }
            if name.starts_with("store-") && !STORE_NAMING_CRATES.contains(&krate.name.as_str()) {
                found.push(Violation {
                    rule: "concrete-store-in-cli",
                    place: krate.name.clone(),
                    detail: format!("names the concrete store `{name}`"),
                });
            }
        }
    }
    found
}

/// The crate a workspace path belongs to (`crates/ehr/src/x.rs` → `ehr`, `xtask/…` → `xtask`).
pub fn crate_of(path: &str) -> &str {
    match path.strip_prefix("crates/") {
        Some(rest) => rest.split('/').next().unwrap_or(""),
        None => path.split('/').next().unwrap_or(""),
    }
}

/// Library and binary code, not tests, benches or examples.
pub fn is_library_source(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.contains(&"src")
        && !parts.contains(&"tests")
        && !path.ends_with("/tests.rs")
        && !parts.iter().any(|p| *p == "benches" || *p == "examples")
}

/// Every rule that reads one file.
pub fn check_file(path: &str, text: &str) -> Vec<Violation> {
    let mut found = check_module_doc(path, text);
    if is_library_source(path) {
        found.extend(check_sql(path, text));
        found.extend(check_clock(path, text));
        found.extend(check_ehr_layers(path, text));
        found.extend(check_engine_home(path, text));
        found.extend(check_store_access(path, text));
    }
    found
}

/// The `.rs` files of the workspace under `root` (relative paths, `/`-separated), without
/// `target` directories.
pub fn source_files(root: &Path) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("xtask")];
    while let Some(dir) = stack.pop() {
        if !dir.exists() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            if entry.file_type()?.is_dir() {
                if name != "target" && name != "node_modules" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && let Ok(relative) = path.strip_prefix(root)
            {
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the crate graph from `cargo metadata` output.
pub fn parse_metadata(metadata: &serde_json::Value) -> Vec<CrateDeps> {
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    packages
        .iter()
        .map(|package| CrateDeps {
            name: package["name"].as_str().unwrap_or("").to_string(),
            dependencies: package["dependencies"]
                .as_array()
                .map(|deps| {
                    deps.iter()
                        .filter(|d| d["kind"].is_null())
                        .filter_map(|d| d["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}
