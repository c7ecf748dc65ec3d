//! The message table: sorted, complete, and covering every key in use.

use super::*;

#[test]
fn the_table_is_sorted_unique_and_complete_in_both_languages() {
    for pair in MESSAGES.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "unsorted or duplicate: {} / {}",
            pair[0].0,
            pair[1].0
        );
    }
    for (key, es, en) in MESSAGES {
        assert!(!es.is_empty() && !en.is_empty(), "{key}");
    }
}

/// Every `s("…")` key used by a template or by the code is in the table (a missing key would
/// show the key itself to a clinician).
#[test]
fn every_key_used_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    for dir in ["templates", "src"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                sources.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut checked = 0;
    for source in &sources {
        for (idx, _) in source.match_indices("s(\"") {
            let rest = &source[idx + 3..];
            let key = &rest[..rest.find('"').unwrap()];
            let looks_like_key = key.contains('.')
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            if !looks_like_key && !MESSAGES.iter().any(|(k, _, _)| *k == key) {
                // Text such as `contains("Dra. Ana")` in tests is not a message key.
                continue;
            }
            assert!(
                MESSAGES.binary_search_by(|(k, _, _)| (*k).cmp(key)).is_ok(),
                "missing message key {key}"
            );
            checked += 1;
        }
    }
    assert!(
        checked > 100,
        "only {checked} keys found: the scan is broken"
    );
}

#[test]
fn lookups_follow_the_language() {
    let es = Tr { lang: Lang::Es };
    let en = Tr { lang: Lang::En };
    assert_eq!(es.s("login.submit"), "Entrar");
    assert_eq!(en.s("login.submit"), "Sign in");
    assert_eq!(en.gender("female"), "Female");
    assert_eq!(es.s("no.such.key"), "no.such.key");
    assert_eq!(Lang::parse("es-MX"), Some(Lang::Es));
    assert_eq!(Lang::parse("fr"), None);
}
