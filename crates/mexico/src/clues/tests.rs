//! Unit tests for CLUES validation, using the DGIS sample keys quoted in mexico.md §A2.

use super::*;

const DGIS_SAMPLES: [&str; 6] = [
    "MCIMB005225",
    "GRIMB005192",
    "NTIMB001765",
    "QTSSA003451",
    "JCSSA005386",
    "SLSME000016",
];

#[test]
fn dgis_samples_are_valid_and_decode() {
    for s in DGIS_SAMPLES {
        let clues = validate_clues(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(clues.as_str(), s);
        assert_eq!(
            format!("{}{}{}", clues.state(), clues.institution(), clues.number()),
            s
        );
    }
    let clues = validate_clues("JCSSA005386").unwrap();
    assert_eq!(
        (clues.state(), clues.institution(), clues.number()),
        ("JC", "SSA", "005386")
    );
    assert_eq!(
        "MCIMB005225".parse::<Clues>().map(String::from),
        Ok("MCIMB005225".to_owned())
    );
}

#[test]
fn every_sample_institution_is_marked_as_evidenced() {
    for s in DGIS_SAMPLES {
        let institution = institution_by_code(&s[2..5]).unwrap();
        assert_eq!(institution.evidence, Evidence::DgisSample, "{s}");
    }
    let evidenced: Vec<&str> = INSTITUTIONS
        .iter()
        .filter(|i| i.evidence == Evidence::DgisSample)
        .map(|i| i.code)
        .collect();
    assert_eq!(evidenced, ["SSA", "IMB", "SME"]);
}

#[test]
fn institution_codes_are_unique_three_letters() {
    for (idx, a) in INSTITUTIONS.iter().enumerate() {
        assert!(
            a.code.len() == 3 && a.code.chars().all(|c| c.is_ascii_uppercase()),
            "{}",
            a.code
        );
        assert!(
            INSTITUTIONS[idx + 1..].iter().all(|b| b.code != a.code),
            "{}",
            a.code
        );
    }
}

#[test]
fn rejections() {
    let cases = [
        ("JCSSA00538", CluesError::Length { len: 10 }),
        ("JCSSA0053861", CluesError::Length { len: 12 }),
        ("", CluesError::Length { len: 0 }),
        (
            " JCSSA00538",
            CluesError::InvalidChar {
                position: 1,
                found: ' ',
                expected: CluesCharClass::Letter,
            },
        ),
        (
            "jcSSA005386",
            CluesError::InvalidChar {
                position: 1,
                found: 'j',
                expected: CluesCharClass::Letter,
            },
        ),
        (
            "JCSS1005386",
            CluesError::InvalidChar {
                position: 5,
                found: '1',
                expected: CluesCharClass::Letter,
            },
        ),
        (
            "JCSSA00538O",
            CluesError::InvalidChar {
                position: 11,
                found: 'O',
                expected: CluesCharClass::Digit,
            },
        ),
        (
            "JCSSAÑ05386",
            CluesError::InvalidChar {
                position: 6,
                found: 'Ñ',
                expected: CluesCharClass::Digit,
            },
        ),
        (
            "ZZSSA005386",
            CluesError::UnknownState { code: "ZZ".into() },
        ),
        (
            "CXSSA005386",
            CluesError::UnknownState { code: "CX".into() },
        ),
        ("NESSA005386", CluesError::AbroadState),
        (
            "JCXYZ005386",
            CluesError::UnknownInstitution { code: "XYZ".into() },
        ),
    ];
    for (s, error) in cases {
        assert_eq!(validate_clues(s), Err(error), "{s:?}");
    }
}

#[test]
fn normalize_then_validate() {
    assert_eq!(normalize_clues("  jcssa005386\n"), "JCSSA005386");
    assert!(validate_clues(&normalize_clues(" dfimb000123 ")).is_ok());
}

#[test]
fn messages() {
    let e = CluesError::UnknownInstitution { code: "XYZ".into() };
    assert_eq!(
        e.message_es(),
        "CLUES, posiciones 3-5: «XYZ» no es una clave de institución conocida (por ejemplo SSA, IMB, IMS, IST)."
    );
    assert_eq!(
        e.message_en(),
        "CLUES positions 3-5: \"XYZ\" is not a known institution code (e.g. SSA, IMB, IMS, IST)"
    );
    let e = CluesError::InvalidChar {
        position: 7,
        found: 'A',
        expected: CluesCharClass::Digit,
    };
    assert_eq!(
        e.message_es(),
        "CLUES, posición 7: «A» no es válido; se espera un dígito del 0 al 9."
    );
    assert_eq!(
        e.to_string(),
        "CLUES position 7: 'A' is not allowed; expected a digit 0-9"
    );
    for e in [
        CluesError::Length { len: 3 },
        CluesError::AbroadState,
        CluesError::UnknownState { code: "ZZ".into() },
    ] {
        assert!(!e.message_es().is_empty() && e.message_es() != e.message_en());
    }
}
