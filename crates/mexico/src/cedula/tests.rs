//! Unit tests for the cédula profesional rule (mexico.md §A8: 7 or 8 digits).

use super::*;

#[test]
fn seven_or_eight_digits() {
    assert_eq!(
        validate_cedula("1234567").map(String::from),
        Ok("1234567".to_owned())
    );
    assert_eq!(validate_cedula("12345678").unwrap().as_str(), "12345678");
    assert_eq!(
        validate_cedula("0123456").unwrap().to_string(),
        "0123456",
        "leading zero kept"
    );
    assert_eq!(
        validate_cedula("123456"),
        Err(CedulaError::Length { len: 6 })
    );
    assert_eq!(
        validate_cedula("123456789"),
        Err(CedulaError::Length { len: 9 })
    );
    assert_eq!(validate_cedula(""), Err(CedulaError::Length { len: 0 }));
}

#[test]
fn non_digits_are_reported_by_position() {
    assert_eq!(
        validate_cedula("12 34567"),
        Err(CedulaError::NotDigit {
            position: 3,
            found: ' '
        })
    );
    assert_eq!(
        validate_cedula(" 1234567"),
        Err(CedulaError::NotDigit {
            position: 1,
            found: ' '
        })
    );
    assert_eq!(
        validate_cedula("123456A"),
        Err(CedulaError::NotDigit {
            position: 7,
            found: 'A'
        })
    );
    // Non-ASCII digits (Arabic-Indic ٣) are not accepted.
    assert_eq!(
        validate_cedula("123456٣"),
        Err(CedulaError::NotDigit {
            position: 7,
            found: '٣'
        })
    );
    assert_eq!(
        "1234567x".parse::<Cedula>(),
        Err(CedulaError::NotDigit {
            position: 8,
            found: 'x'
        })
    );
}

#[test]
fn messages() {
    let e = CedulaError::Length { len: 6 };
    assert_eq!(
        e.message_es(),
        "La cédula profesional tiene 7 u 8 dígitos; esta tiene 6."
    );
    assert_eq!(
        e.message_en(),
        "a professional licence (cédula) has 7 or 8 digits; this one has 6"
    );
    let e = CedulaError::NotDigit {
        position: 2,
        found: '-',
    };
    assert_eq!(
        e.message_es(),
        "Cédula profesional, posición 2: «-» no es un dígito."
    );
}
