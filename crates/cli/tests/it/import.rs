//! `expediente import` of the third-party Synthea fixtures, and per-line error reports.

use std::io::Write;

use crate::support::*;

#[test]
fn synthea_ndjson_and_bundles_import() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("node");
    let data_arg = data.to_str().unwrap();
    let bulk = shared_dir().join("fixtures/synthea/ndjson/bulk-10-patients");
    let (code, stdout, stderr) = run_cli(&["import", "--data", data_arg, bulk.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("0 rechazados"),
        "every NDJSON resource imports:\n{stdout}"
    );
    assert!(stdout.contains("5945 cargados"), "{stdout}");

    let bundles = shared_dir().join("fixtures/synthea/bundles");
    let (code, stdout, stderr) =
        run_cli(&["import", "--data", data_arg, bundles.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("0 rechazados"),
        "every Bundle loads as a transaction:\n{stdout}"
    );
    assert!(stdout.contains("26 Bundles"), "{stdout}");

    // Re-importing the same NDJSON changes nothing.
    let (code, stdout, _) = run_cli(&["import", "--data", data_arg, bulk.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("total: 0 cargados"), "{stdout}");

    // Conditional references were resolved to plain ids.
    let node = Node::start_in(&data);
    let encounters = get(&node, "Encounter?_count=50");
    assert_eq!(encounters.status, 200);
    for entry in encounters.body["entry"].as_array().unwrap() {
        for participant in entry["resource"]["participant"]
            .as_array()
            .unwrap_or(&vec![])
        {
            let reference = participant["individual"]["reference"].as_str().unwrap();
            assert!(
                reference.starts_with("Practitioner/") && !reference.contains('?'),
                "{reference}"
            );
        }
    }
    // And they can be followed.
    let reference = encounters.body["entry"][0]["resource"]["serviceProvider"]["reference"]
        .as_str()
        .unwrap();
    assert_eq!(get(&node, reference).status, 200);
}

#[test]
fn bad_lines_are_reported_and_good_ones_load() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("Patient.ndjson");
    let mut out = std::fs::File::create(&file).unwrap();
    writeln!(out, "{}", patient("Ana", "Soto", "1999-09-09", "female")).unwrap();
    writeln!(
        out,
        "{{\"resourceType\": \"Patient\", \"gender\": \"mal\"}}"
    )
    .unwrap();
    writeln!(out, "esto no es JSON").unwrap();
    writeln!(out, "{}", patient("Beto", "Soto", "1998-08-08", "male")).unwrap();
    drop(out);
    let data = temp.path().join("node");
    let (code, stdout, _) = run_cli(&[
        "import",
        "--data",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    // What loaded stays loaded, but a script must see that not everything did.
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Patient.ndjson:2"), "{stdout}");
    assert!(stdout.contains("Patient.ndjson:3"), "{stdout}");
    assert!(
        stdout.contains("total: 2 cargados, 2 rechazados"),
        "{stdout}"
    );

    let strict_data = temp.path().join("strict");
    let (code, stdout, _) = run_cli(&[
        "import",
        "--strict",
        "--data",
        strict_data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stdout}");
    let node = Node::start_in(&strict_data);
    assert_eq!(get(&node, "Patient?_summary=count").body["total"], 0);
}

#[test]
fn zstd_ndjson_imports() {
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("Patient.ndjson.zst");
    let text = format!(
        "{}\n{}\n",
        patient("Zoila", "Zamora", "1955-05-05", "female"),
        patient("Zacarías", "Zamora", "1950-01-01", "male")
    );
    std::fs::write(&file, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    let data = temp.path().join("node");
    let (code, stdout, _) = run_cli(&[
        "import",
        "--data",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("total: 2 cargados, 0 rechazados"),
        "{stdout}"
    );
}
