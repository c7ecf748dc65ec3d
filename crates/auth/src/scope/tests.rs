//! Unit tests for SMART scope parsing and granting, data-driven.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{Interaction, Scope, ScopeContext, ScopeError, Scopes};

/// Valid scope strings and their canonical form (v1 words become v2 letters).
#[test]
fn parses_valid_scopes() {
    let cases = [
        ("patient/*.rs", "patient/*.rs"),
        ("user/Observation.cruds", "user/Observation.cruds"),
        ("system/*.rs", "system/*.rs"),
        ("patient/Observation.read", "patient/Observation.rs"),
        ("patient/Observation.write", "patient/Observation.cud"),
        ("patient/Observation.*", "patient/Observation.cruds"),
        ("user/*.*", "user/*.cruds"),
        ("user/Patient.s", "user/Patient.s"),
        ("user/Patient.cd", "user/Patient.cd"),
        (
            "openid fhirUser launch/patient offline_access",
            "openid fhirUser launch/patient offline_access",
        ),
        (
            "launch launch/encounter profile online_access",
            "launch launch/encounter profile online_access",
        ),
        (
            "  user/Patient.r   user/Patient.r\tuser/Patient.s ",
            "user/Patient.r user/Patient.s",
        ),
        ("", ""),
        (
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
            "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
        ),
    ];
    for (text, canonical) in cases {
        let scopes = Scopes::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(scopes.to_string(), canonical, "{text}");
        // The canonical form parses to the same set.
        assert_eq!(Scopes::parse(canonical).unwrap(), scopes, "{text}");
    }
}

/// Checks that an error is of the expected kind.
type Expect = fn(&ScopeError) -> bool;

#[test]
fn rejects_malformed_scopes() {
    let cases: [(&str, Expect); 16] = [
        ("patient", |e| matches!(e, ScopeError::Unknown { .. })),
        ("admin", |e| matches!(e, ScopeError::Unknown { .. })),
        ("foo/Observation.rs", |e| {
            matches!(e, ScopeError::Unknown { .. })
        }),
        ("Patient/Observation.rs", |e| {
            matches!(e, ScopeError::Unknown { .. })
        }),
        ("patient/Observation", |e| {
            matches!(e, ScopeError::Malformed { .. })
        }),
        ("patient/.rs", |e| matches!(e, ScopeError::Malformed { .. })),
        ("patient/Observation.", |e| {
            matches!(e, ScopeError::Malformed { .. })
        }),
        ("patient/Obsrvation.rs", |e| {
            matches!(e, ScopeError::UnknownResourceType { .. })
        }),
        ("patient/observation.rs", |e| {
            matches!(e, ScopeError::UnknownResourceType { .. })
        }),
        ("patient/Observation.sr", |e| {
            matches!(e, ScopeError::Permissions { .. })
        }),
        ("patient/Observation.rr", |e| {
            matches!(e, ScopeError::Permissions { .. })
        }),
        ("patient/Observation.xyz", |e| {
            matches!(e, ScopeError::Permissions { .. })
        }),
        ("patient/Observation.READ", |e| {
            matches!(e, ScopeError::Permissions { .. })
        }),
        ("patient/Observation.rs?", |e| {
            matches!(e, ScopeError::Query { .. })
        }),
        ("patient/Observation.rs?category", |e| {
            matches!(e, ScopeError::Query { .. })
        }),
        ("openid OpenID", |e| matches!(e, ScopeError::Unknown { .. })),
    ];
    for (text, check) in cases {
        let error = Scopes::parse(text).expect_err(text);
        assert!(check(&error), "{text}: {error:?}");
        assert!(!error.message_es().is_empty());
        assert_ne!(error.message_es(), error.message_en());
    }
}

/// `allows` for each context, type and interaction.
#[test]
fn grants_by_context_type_and_letters() {
    let scopes = Scopes::parse("patient/Observation.rs user/Patient.cu system/*.s").unwrap();
    let table = [
        (ScopeContext::Patient, "Observation", "rs"),
        (ScopeContext::Patient, "Condition", ""),
        (ScopeContext::User, "Observation", ""),
        (ScopeContext::User, "Patient", "cu"),
        (ScopeContext::System, "Observation", "s"),
        (ScopeContext::System, "AuditEvent", "s"),
    ];
    for (context, resource_type, letters) in table {
        let granted: String = Interaction::ALL
            .into_iter()
            .filter(|i| scopes.allows(context, resource_type, *i))
            .map(Interaction::letter)
            .collect();
        assert_eq!(granted, letters, "{context:?} {resource_type}");
    }
    assert!(scopes.has_context(ScopeContext::System));
    assert!(
        !Scopes::parse("openid")
            .unwrap()
            .has_context(ScopeContext::User)
    );
    assert!(
        Scopes::parse("openid fhirUser")
            .unwrap()
            .contains(&Scope::FhirUser)
    );
}

/// Restricted v2 scopes grant reads and searches bounded by their query, never writes; an
/// unrestricted scope for the same type lifts the bound.
#[test]
fn restricted_scopes_bound_reads_and_grant_no_writes() {
    use super::Grant;
    let scopes = Scopes::parse(
        "patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs&status=final patient/Observation.cud?category=laboratory",
    )
    .unwrap();
    for interaction in Interaction::ALL {
        let grant = scopes.grant(ScopeContext::Patient, "Observation", interaction);
        if interaction.is_write() {
            assert_eq!(grant, Grant::Nothing, "{interaction:?}");
            assert!(!scopes.allows(ScopeContext::Patient, "Observation", interaction));
        } else {
            let Grant::Restricted(queries) = grant else {
                panic!("{interaction:?}: {grant:?}")
            };
            assert_eq!(queries.len(), 2);
            assert_eq!(queries[1].len(), 2);
            assert!(scopes.allows(ScopeContext::Patient, "Observation", interaction));
        }
    }
    assert_eq!(
        scopes.grant(ScopeContext::User, "Observation", Interaction::Read),
        Grant::Nothing
    );
    let wider =
        Scopes::parse("patient/Observation.rs?category=laboratory patient/Observation.r").unwrap();
    assert_eq!(
        wider.grant(ScopeContext::Patient, "Observation", Interaction::Read),
        Grant::Whole
    );
    assert!(Scopes::empty().is_empty());
}

proptest::proptest! {
    /// Parsing never panics, and whatever parses round-trips through the canonical form.
    #[test]
    fn parse_is_total(text in "[a-zA-Z/*.?=&| _]{0,40}") {
        if let Ok(scopes) = Scopes::parse(&text) {
            proptest::prop_assert_eq!(Scopes::parse(&scopes.to_string()).unwrap(), scopes);
        }
    }
}
