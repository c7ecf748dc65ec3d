//! The conflict rule (pure): what a node does with a version received from another node.
//!
//! Every node applies the same rule to the same set of versions, so every node ends with the
//! same current version: the greatest stamp (hybrid logical clock, then node id) among every
//! version it holds of the resource. A received version whose parent is the current version is
//! an ordinary successor; any other is concurrent with the current one, and the pair is a
//! conflict to review. Nothing is dropped: a losing version is written into history.

use fhir::Json;
use store::sync::Stamp;

/// What to do with a received version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Already held (a batch delivered twice): nothing changes.
    Duplicate,
    /// A successor of the current version, or the first version held: it becomes current.
    Apply,
    /// Concurrent with the current version and greater: it becomes current; conflict.
    WinsConflict,
    /// Concurrent with the current version and smaller: into history, the current version
    /// stays current; conflict.
    LosesConflict,
}

/// Decides for a version `incoming` made over `parent`, given whether it is already held and
/// the stamp of the current version (if any).
pub fn decide(
    incoming: &Stamp,
    parent: Option<&Stamp>,
    known: bool,
    current: Option<&Stamp>,
) -> Decision {
    if known {
        return Decision::Duplicate;
    }
    let Some(current) = current else {
        return Decision::Apply;
    };
    // A successor must also be greater: the clock guarantees it, and requiring it keeps
    // "current = greatest stamp" true even if a peer's clock logic were broken.
    if parent == Some(current) && incoming > current {
        return Decision::Apply;
    }
    if incoming > current {
        Decision::WinsConflict
    } else {
        Decision::LosesConflict
    }
}

/// Top-level elements whose values differ between two versions (bodies as JSON text; an
/// empty body is a delete). `meta`, `id` and `text` are bookkeeping, not content.
pub fn changed_fields(a: &str, b: &str) -> Vec<String> {
    let (a, b) = match (parse(a), parse(b)) {
        (Some(a), Some(b)) => (a, b),
        (None, None) => return Vec::new(),
        _ => return vec!["(eliminado / deleted)".to_string()],
    };
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    let mut fields: Vec<String> = Vec::new();
    for key in a.keys().chain(b.keys()) {
        if matches!(key, "meta" | "id" | "text") || fields.iter().any(|f| f == key) {
            continue;
        }
        let same = match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) => x.same_value(y),
            (None, None) => true,
            _ => false,
        };
        if !same {
            fields.push(key.to_string());
        }
    }
    fields
}

fn parse(body: &str) -> Option<Json> {
    if body.is_empty() {
        return None;
    }
    fhir::json::parse_str(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(hlc: i64, origin: &str) -> Stamp {
        Stamp {
            hlc,
            origin: origin.to_string(),
        }
    }

    #[test]
    fn successors_apply_and_duplicates_do_nothing() {
        let v1 = stamp(10, "A");
        let v2 = stamp(20, "A");
        assert_eq!(decide(&v1, None, false, None), Decision::Apply);
        assert_eq!(decide(&v2, Some(&v1), false, Some(&v1)), Decision::Apply);
        assert_eq!(decide(&v2, Some(&v1), true, Some(&v2)), Decision::Duplicate);
    }

    #[test]
    fn concurrent_versions_resolve_the_same_way_in_either_order() {
        let base = stamp(10, "hub");
        let a = stamp(20, "CLINIC-A");
        let b = stamp(20, "CLINIC-B");
        // Node that holds `a` receives `b`, and node that holds `b` receives `a`.
        assert_eq!(
            decide(&b, Some(&base), false, Some(&a)),
            Decision::WinsConflict
        );
        assert_eq!(
            decide(&a, Some(&base), false, Some(&b)),
            Decision::LosesConflict
        );
        // A later clock beats the node id.
        let late = stamp(30, "AAA");
        assert_eq!(
            decide(&late, Some(&base), false, Some(&b)),
            Decision::WinsConflict
        );
    }

    #[test]
    fn a_successor_with_a_smaller_stamp_is_not_trusted() {
        let current = stamp(50, "A");
        let odd = stamp(40, "B");
        assert_eq!(
            decide(&odd, Some(&current), false, Some(&current)),
            Decision::LosesConflict
        );
    }

    #[test]
    fn changed_fields_lists_differing_elements() {
        let a = r#"{"resourceType":"Patient","id":"x","meta":{"versionId":"2"},"gender":"male","birthDate":"1990-01-01"}"#;
        let b = r#"{"resourceType":"Patient","id":"x","meta":{"versionId":"3"},"gender":"female","birthDate":"1990-01-01","active":true}"#;
        assert_eq!(changed_fields(a, b), vec!["gender", "active"]);
        assert_eq!(changed_fields(a, ""), vec!["(eliminado / deleted)"]);
    }
}
