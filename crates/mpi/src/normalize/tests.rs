//! Table tests of folding, name normalisation, surname splitting, state and phone normalisation.

use super::*;

#[test]
fn fold_removes_accents_case_and_punctuation() {
    let cases = [
        ("María José", "MARIA JOSE"),
        ("  Núñez-Peña  ", "NUNEZ PENA"),
        ("Mª. Guadalupe", "MA GUADALUPE"),
        ("O'Farrill", "O FARRILL"),
        ("ÁÉÍÓÚÜÑ áéíóúüñ", "AEIOUUN AEIOUUN"),
        ("...", ""),
    ];
    for (input, folded) in cases {
        assert_eq!(fold(input), folded, "{input}");
    }
}

fn tokens(raw: &str, kind: NameKind) -> Option<Vec<String>> {
    NormName::new(raw, kind).map(|n| n.tokens)
}

#[test]
fn names_drop_particles_and_expand_abbreviations() {
    let given = [
        ("Ma. Guadalupe", Some(vec!["MARIA", "GUADALUPE"])),
        ("MA GPE", Some(vec!["MARIA", "GUADALUPE"])),
        ("J. Luis", Some(vec!["JOSE", "LUIS"])),
        ("Fco. Javier", Some(vec!["FRANCISCO", "JAVIER"])),
        ("María de los Ángeles", Some(vec!["MARIA", "ANGELES"])),
        ("Ma. del Carmen", Some(vec!["MARIA", "CARMEN"])),
        ("N/N", None),
        ("  ", None),
        ("Desconocido", None),
    ];
    for (raw, expected) in given {
        let expected = expected.map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(tokens(raw, NameKind::Given), expected, "{raw}");
    }
    let surnames = [
        ("De la Cruz", Some(vec!["CRUZ"])),
        ("del Ángel", Some(vec!["ANGEL"])),
        ("Hdz.", Some(vec!["HERNANDEZ"])),
        ("GLZ", Some(vec!["GONZALEZ"])),
        ("Ponce de León", Some(vec!["PONCE", "LEON"])),
        ("XX", None),
        // A name that is only particles is kept rather than lost.
        ("De La", Some(vec!["DE", "LA"])),
    ];
    for (raw, expected) in surnames {
        let expected = expected.map(|v| v.into_iter().map(str::to_owned).collect::<Vec<_>>());
        assert_eq!(tokens(raw, NameKind::Surname), expected, "{raw}");
    }
    // Abbreviations are field-specific: "MA" is not expanded in a surname, "HDZ" not in a given name.
    assert_eq!(tokens("Ma", NameKind::Surname), Some(vec!["MA".to_owned()]));
    assert_eq!(tokens("Hdz", NameKind::Given), Some(vec!["HDZ".to_owned()]));
}

#[test]
fn main_given_name_skips_maria_and_jose() {
    let cases = [
        ("María Guadalupe", "GUADALUPE"),
        ("Ma. Guadalupe", "GUADALUPE"),
        ("José Luis", "LUIS"),
        ("María", "MARIA"),
        ("Juan Carlos", "JUAN"),
    ];
    for (raw, main) in cases {
        let name = NormName::new(raw, NameKind::Given).unwrap();
        assert_eq!(name.tokens[name.main_token_index()], main, "{raw}");
    }
}

#[test]
fn nicknames_are_recorded() {
    let name = NormName::new("Lupita", NameKind::Given).unwrap();
    assert_eq!(name.nickname_of, vec!["GUADALUPE"]);
    assert!(
        NormName::new("Lupita", NameKind::Surname)
            .unwrap()
            .nickname_of
            .is_empty()
    );
}

#[test]
fn family_strings_split_into_two_surnames() {
    let cases = [
        ("Pérez López", ("Pérez", Some("López"))),
        ("de la Cruz Ruiz", ("de la Cruz", Some("Ruiz"))),
        ("Ruiz de la Cruz", ("Ruiz", Some("de la Cruz"))),
        ("San Martín Gómez", ("San Martín", Some("Gómez"))),
        ("Hernández", ("Hernández", None)),
        ("de la Cruz", ("de la Cruz", None)),
        ("García Pérez López", ("García Pérez", Some("López"))),
        ("López de", ("López de", None)),
        ("", ("", None)),
    ];
    for (family, (first, second)) in cases {
        assert_eq!(
            split_surnames(family),
            (first.to_owned(), second.map(str::to_owned)),
            "{family}"
        );
    }
}

#[test]
fn states_map_to_curp_codes() {
    let cases = [
        ("JC", "JC"),
        ("Jalisco", "JC"),
        ("14", "JC"),
        ("MX-JAL", "JC"),
        ("Ciudad de México", "DF"),
        ("CDMX", "DF"),
        ("9", "DF"),
        ("Estado de México", "MC"),
        ("Edo. Méx.", "MC"),
        ("México", "MC"),
        ("Michoacán de Ocampo", "MN"),
        ("Veracruz de Ignacio de la Llave", "VZ"),
        ("nuevo leon", "NL"),
        ("Texas", "TEXAS"),
    ];
    for (raw, code) in cases {
        assert_eq!(state_code(raw), code, "{raw}");
    }
    assert_eq!(state_codes().count(), 33);
}

#[test]
fn phones_normalise_to_ten_digits() {
    let cases = [
        ("33 1234 5678", Some("3312345678")),
        ("+52 1 33 1234 5678", Some("3312345678")),
        ("(55) 5555-1234", Some("5555551234")),
        ("044 33 1234 5678", Some("3312345678")),
        ("1234567", Some("1234567")),
        ("12345", None),
        ("0000000000", None),
        ("55 5555 5555", None),
        ("sin teléfono", None),
    ];
    for (raw, expected) in cases {
        assert_eq!(phone_digits(raw).as_deref(), expected, "{raw}");
    }
}
