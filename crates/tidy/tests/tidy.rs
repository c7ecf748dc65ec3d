//! The architecture's rules over the real workspace (see the crate docs for the rules).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn every_source_file_keeps_the_rules() {
    let root = workspace_root();
    let files = tidy::source_files(&root).unwrap();
    assert!(files.len() > 100, "the walk found the sources");
    let mut found = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(root.join(path)).unwrap();
        found.extend(tidy::check_file(path, &text));
    }
    assert!(
        found.is_empty(),
        "{} violation(s):\n{}",
        found.len(),
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_crate_graph_is_the_one_on_the_map() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let crates = tidy::parse_metadata(&metadata);
    assert!(crates.iter().any(|c| c.name == "ehr"));
    let found = tidy::check_graph(&crates);
    assert!(
        found.is_empty(),
        "{}",
        found
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every crate of the workspace appears in ARCHITECTURE.md's diagram and code map.
#[test]
fn every_crate_is_on_the_architecture_map() {
    let root = workspace_root();
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let (diagram, rest) = map.split_once("## Code map").unwrap();
    assert!(rest.contains("`xtask`"), "xtask in the code map");
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(
            tidy::ALLOWED_DEPENDENCIES.iter().any(|(n, _)| *n == name),
            "crates/{name} is not in tidy::ALLOWED_DEPENDENCIES"
        );
        assert!(
            diagram.contains(&name),
            "crate `{name}` is missing from the diagram"
        );
        assert!(
            rest.contains(&format!("`crates/{name}`")),
            "crate `{name}` is missing from the code map"
        );
    }
}
