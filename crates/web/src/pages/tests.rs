//! Small page helpers: safe redirects, narratives as text, CURP mismatches, CIE-10 search.

use super::register::curp_mismatch;
use super::*;

/// Every way browsers are known to read a "local" path as another host is refused; pages of
/// the UI pass with their queries.
#[test]
fn redirects_stay_on_the_node() {
    for local in [
        "/",
        "/ui",
        "/ui/buscar",
        "/ui/pacientes/0192f5e2-7c1a-7000-8000-000000000001",
        "/ui/pacientes/1?ok=consult.saved",
        "/ui/buscar?curp=HEGG560427MVZRRL04&given=Mar%C3%ADa",
    ] {
        assert_eq!(safe_next(local), local);
    }
    for hostile in [
        "",
        "//evil.example/x",
        "///evil.example",
        "https://evil.example/",
        "http:evil.example",
        "HTTPS://evil.example",
        "javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/ /evil.example",
        "/%09/evil.example",
        "/%2F/evil.example",
        "/%2f%2fevil.example",
        "/%5Cevil.example",
        "/%5cevil.example",
        "/ui/%2F%2Fevil.example",
        "/ui/..%2F..%2F/evil.example",
        "/ui/../..//evil.example",
        "/ui/..",
        "/fhir/Patient",
        "/evil.example",
        "evil.example",
        "/ui/buscar#@evil.example",
        "/ui/buscar@evil.example\\",
        "/\u{3000}/evil.example",
        "/ｕｉ/buscar",
        "/ui/\u{0}x",
        &format!("/ui/{}", "a".repeat(600)),
    ] {
        assert_eq!(safe_next(hostile), "/ui/buscar", "{hostile:?}");
    }
}

#[test]
fn the_language_switch_keeps_the_rest_of_the_query() {
    assert_eq!(
        strip_lang_param("/ui/buscar?lang=en&curp=X"),
        "/ui/buscar?curp=X"
    );
    assert_eq!(strip_lang_param("/ui/buscar?lang=en"), "/ui/buscar");
    assert_eq!(
        notice_of("/ui/pacientes/1?ok=consult.saved"),
        Some("consult.saved")
    );
    assert_eq!(notice_of("/ui/pacientes/1?ok=<script>"), None);
}

#[test]
fn narratives_become_plain_text_paragraphs() {
    let div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Dolor &lt;3 días&gt; &amp; fiebre</p><p>Otra<br/>línea</p><script>x</script></div>";
    assert_eq!(
        narrative_text(div),
        ["Dolor <3 días> & fiebre", "Otra", "línea", "x"]
    );
}

#[test]
fn curp_mismatches_are_reported_by_position() {
    assert_eq!(
        curp_mismatch("HEGG560427MVZRRL04", "HEGG560427MVZRRL"),
        Vec::<usize>::new()
    );
    assert_eq!(
        curp_mismatch("HEGX560427HVZRRL04", "HEGG560427MVZRRL"),
        [4, 11]
    );
}

#[test]
fn a_cie10_search_falls_back_to_its_longest_word() {
    let choices = |q: &str| -> Vec<(String, String)> {
        crate::diagnoses::choices(q)
            .into_iter()
            .map(|c| (c.code.to_string(), c.description.to_string()))
            .collect()
    };
    let exact = choices("hipertension esencial");
    assert!(exact.iter().any(|(code, _)| code == "I10"), "{exact:?}");
    let loose = choices("diabetes zzqx");
    assert!(!loose.is_empty());
    assert!(
        loose
            .iter()
            .any(|(_, d)| d.to_lowercase().contains("diabetes")),
        "{loose:?}"
    );
    assert!(choices("zzz").is_empty());
}
