//! Unit tests for the audit trail: canonical form and hash chain (against hashes computed
//! independently from the documented format), tamper detection, AuditEvent shape and the
//! patient's plain-language line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{
    AuditAction, AuditEntry, Chain, ChainError, ChainFault, ChainHash, ChainHead, ChainVerifier,
    MEXICO_CITY_UTC_OFFSET_MINUTES, Outcome, SealedEntry, canonical, patient_view_line,
    to_audit_event_json, verify_chain, verify_chain_to,
};
use crate::role::Role;

/// 2025-11-25T16:32:00Z.
const AT: i64 = 1_764_088_320_000;

fn entry(action: AuditAction) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at_ms: AT,
        node: "DFSSA001234-n1".into(),
        user: "dra.lopez".into(),
        user_display: "Dra. Ana López".into(),
        role: Some(Role::Physician),
        clues: Some("DFSSA001234".into()),
        facility_name: Some("Centro de Salud Tlalpan".into()),
        action,
        resource_type: Some("Observation".into()),
        resource_id: Some("o1".into()),
        patient_id: Some("p1".into()),
        outcome: Outcome::Success,
        break_glass: false,
        source_ip: Some("10.0.0.7".into()),
        details: String::new(),
    }
}

fn second() -> AuditEntry {
    AuditEntry {
        at_ms: AT + 60_000,
        action: AuditAction::Search,
        resource_type: Some("Condition".into()),
        resource_id: None,
        details: "patient=p1&code=E11.9\nsegunda línea".into(),
        source_ip: None,
        ..entry(AuditAction::Read)
    }
}

/// Hashes computed with Python's hashlib from the format in the module docs (not from this code).
#[test]
fn chain_matches_independent_computation() {
    let mut chain = Chain::resume(ChainHead::EMPTY);
    let first = chain.append(entry(AuditAction::Read));
    let next = chain.append(second());
    assert_eq!(first.entry.seq, 1);
    assert_eq!(next.entry.seq, 2);
    assert_eq!(
        first.hash.to_hex(),
        "25e5d0a6ee3c49ef951a7253fb180fb2641595e4c1a8864759b6828da701cf48"
    );
    assert_eq!(
        next.hash.to_hex(),
        "4e1f9f762574b449eeb1f29ddcb62e67846711a393ba763e03ec4ba76e95d2bd"
    );
    assert_eq!(
        chain.head(),
        ChainHead {
            seq: 2,
            hash: next.hash
        }
    );
    let text = String::from_utf8(canonical(&next.entry)).unwrap();
    assert!(text.starts_with("expediente-audit-v1\nseq 1:2\nat_ms 13:1764088380000\n"));
    assert!(text.contains("\nresource_id ~\n"));
    assert!(text.ends_with("details 36:patient=p1&code=E11.9\nsegunda línea\n"));
}

#[test]
fn absent_and_empty_values_differ() {
    let mut a = entry(AuditAction::Read);
    a.source_ip = None;
    let mut b = a.clone();
    b.source_ip = Some(String::new());
    assert_ne!(canonical(&a), canonical(&b));
    // A value containing what looks like the next field cannot shift the boundaries.
    let mut c = a.clone();
    c.user = "x\nuser_display 0:".into();
    c.user_display = String::new();
    let mut d = a.clone();
    d.user = "x".into();
    d.user_display = String::new();
    assert_ne!(canonical(&c), canonical(&d));
}

fn sample_chain(n: u64) -> Vec<SealedEntry> {
    let mut chain = Chain::resume(ChainHead::EMPTY);
    (0..n)
        .map(|idx| {
            let mut e = entry(if idx % 2 == 0 {
                AuditAction::Read
            } else {
                AuditAction::Search
            });
            e.at_ms = AT + i64::try_from(idx).unwrap() * 1000;
            e.resource_id = Some(format!("o{idx}"));
            chain.append(e)
        })
        .collect()
}

#[test]
fn intact_chain_verifies() {
    let entries = sample_chain(10);
    let head = verify_chain(&entries).unwrap();
    assert_eq!(head.seq, 10);
    assert_eq!(head.hash, entries[9].hash);
    assert_eq!(verify_chain(&[]), Ok(ChainHead::EMPTY));
    assert_eq!(verify_chain_to(&entries, head), Ok(()));
    assert_eq!(
        verify_chain_to(
            &entries,
            ChainHead {
                seq: 4,
                hash: entries[3].hash
            }
        ),
        Ok(())
    );
    // Verification can resume from a trusted head, page by page.
    let mut verifier = ChainVerifier::after(ChainHead {
        seq: 5,
        hash: entries[4].hash,
    });
    for sealed in &entries[5..] {
        verifier.push(sealed).unwrap();
    }
    assert_eq!(verifier.head(), head);
}

#[test]
fn detects_alteration_at_the_altered_entry() {
    let fields: [fn(&mut AuditEntry); 8] = [
        |e| e.user = "otro".into(),
        |e| e.patient_id = Some("p2".into()),
        |e| e.patient_id = None,
        |e| e.outcome = Outcome::Denied,
        |e| e.at_ms += 1,
        |e| e.break_glass = true,
        |e| e.details.push(' '),
        |e| e.role = Some(Role::Nurse),
    ];
    for alter in fields {
        let mut entries = sample_chain(10);
        alter(&mut entries[6].entry);
        assert_eq!(
            verify_chain(&entries),
            Err(ChainError {
                first_bad_seq: 7,
                reason: ChainFault::HashMismatch
            })
        );
    }
    // Altering an entry and rewriting its stored hash moves the break to the next entry.
    let mut entries = sample_chain(10);
    entries[6].entry.user = "otro".into();
    entries[6].hash = super::chain_hash(&entries[5].hash, &entries[6].entry);
    assert_eq!(
        verify_chain(&entries),
        Err(ChainError {
            first_bad_seq: 8,
            reason: ChainFault::HashMismatch
        })
    );
    // A corrupted stored hash on the last entry.
    let mut entries = sample_chain(3);
    entries[2].hash.0[0] ^= 1;
    assert_eq!(verify_chain(&entries).unwrap_err().first_bad_seq, 3);
}

#[test]
fn detects_deletion() {
    // In the middle: the entry after the gap is the first bad one.
    let mut entries = sample_chain(10);
    entries.remove(4);
    assert_eq!(
        verify_chain(&entries),
        Err(ChainError {
            first_bad_seq: 6,
            reason: ChainFault::SeqOutOfOrder { expected: 5 }
        })
    );
    // At the start.
    let mut entries = sample_chain(10);
    entries.remove(0);
    assert_eq!(verify_chain(&entries).unwrap_err().first_bad_seq, 2);
    // Deleted and renumbered to hide the gap: the hash of the renumbered entry fails.
    let mut entries = sample_chain(10);
    entries.remove(4);
    for sealed in &mut entries[4..] {
        sealed.entry.seq -= 1;
    }
    assert_eq!(
        verify_chain(&entries),
        Err(ChainError {
            first_bad_seq: 5,
            reason: ChainFault::HashMismatch
        })
    );
    // At the end: only visible against a recorded head.
    let full = sample_chain(10);
    let head = verify_chain(&full).unwrap();
    let truncated = &full[..7];
    assert!(verify_chain(truncated).is_ok());
    assert_eq!(
        verify_chain_to(truncated, head),
        Err(ChainError {
            first_bad_seq: 8,
            reason: ChainFault::Truncated { expected_last: 10 }
        })
    );
}

#[test]
fn detects_reordering() {
    // Rows returned in another order.
    let mut entries = sample_chain(10);
    entries.swap(3, 4);
    assert_eq!(
        verify_chain(&entries),
        Err(ChainError {
            first_bad_seq: 5,
            reason: ChainFault::SeqOutOfOrder { expected: 4 }
        })
    );
    // Seq numbers swapped so that the order looks right: hashes fail.
    let mut entries = sample_chain(10);
    entries.swap(3, 4);
    entries[3].entry.seq = 4;
    entries[4].entry.seq = 5;
    assert_eq!(
        verify_chain(&entries),
        Err(ChainError {
            first_bad_seq: 4,
            reason: ChainFault::HashMismatch
        })
    );
    // A rewritten chain (every hash recomputed after a change) does not reach the recorded head.
    let original = sample_chain(6);
    let head = verify_chain(&original).unwrap();
    let mut rewritten: Vec<AuditEntry> = original.iter().map(|s| s.entry.clone()).collect();
    rewritten[2].user = "otro".into();
    let mut chain = Chain::resume(ChainHead::EMPTY);
    let resealed: Vec<SealedEntry> = rewritten.into_iter().map(|e| chain.append(e)).collect();
    assert!(verify_chain(&resealed).is_ok());
    assert_eq!(
        verify_chain_to(&resealed, head),
        Err(ChainError {
            first_bad_seq: 6,
            reason: ChainFault::HashMismatch
        })
    );
    let error = verify_chain(&entries).unwrap_err();
    assert!(error.message_es().contains('4'));
}

#[test]
fn hashes_round_trip_as_hex() {
    let hash = sample_chain(1)[0].hash;
    assert_eq!(ChainHash::from_hex(&hash.to_hex()), Some(hash));
    assert_eq!(
        ChainHash::from_hex(&hash.to_hex().to_uppercase()),
        Some(hash)
    );
    for bad in [
        "",
        "00",
        &"g".repeat(64),
        &"0".repeat(63),
        &"0".repeat(65),
        &"é".repeat(32),
    ] {
        assert_eq!(ChainHash::from_hex(bad), None, "{bad}");
    }
    assert_eq!(ChainHash::GENESIS.to_hex(), "0".repeat(64));
}

#[test]
fn actions_and_outcomes_round_trip() {
    for action in AuditAction::ALL {
        assert_eq!(AuditAction::parse(action.as_str()), Some(action));
    }
    for outcome in [Outcome::Success, Outcome::Denied, Outcome::Error] {
        assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
    }
    assert_eq!(AuditAction::parse("READ"), None);
}

fn event(entry: &AuditEntry) -> serde_json::Value {
    serde_json::from_str(&to_audit_event_json(entry)).unwrap()
}

#[test]
fn audit_event_for_a_read() {
    let json = to_audit_event_json(&entry(AuditAction::Read));
    assert!(
        json.starts_with(r#"{"resourceType":"AuditEvent","#),
        "{json}"
    );
    let value = event(&entry(AuditAction::Read));
    assert_eq!(value["type"]["code"], "rest");
    assert_eq!(value["subtype"][0]["code"], "read");
    assert_eq!(
        value["subtype"][0]["system"],
        "http://hl7.org/fhir/restful-interaction"
    );
    assert_eq!(value["action"], "R");
    assert_eq!(value["recorded"], "2025-11-25T16:32:00.000Z");
    assert_eq!(value["outcome"], "0");
    assert!(value.get("purposeOfEvent").is_none());
    let agent = &value["agent"][0];
    assert_eq!(agent["who"]["identifier"]["value"], "dra.lopez");
    assert_eq!(agent["who"]["display"], "Dra. Ana López");
    assert_eq!(agent["role"][0]["coding"][0]["code"], "physician");
    assert_eq!(agent["type"]["coding"][0]["code"], "humanuser");
    assert_eq!(agent["requestor"], true);
    assert_eq!(agent["network"]["address"], "10.0.0.7");
    assert_eq!(agent["network"]["type"], "2");
    let facility = &value["agent"][1];
    assert_eq!(
        facility["who"]["identifier"]["system"],
        mexico::systems::CLUES
    );
    assert_eq!(facility["who"]["identifier"]["value"], "DFSSA001234");
    assert_eq!(facility["requestor"], false);
    assert_eq!(
        value["source"]["observer"]["identifier"]["value"],
        "DFSSA001234-n1"
    );
    assert_eq!(value["source"]["type"][0]["code"], "4");
    assert_eq!(value["entity"][0]["what"]["reference"], "Observation/o1");
    assert_eq!(value["entity"][0]["type"]["code"], "2");
    assert_eq!(value["entity"][1]["what"]["reference"], "Patient/p1");
    assert_eq!(value["entity"][1]["role"]["code"], "1");
    assert!(value.get("id").is_none());
}

#[test]
fn audit_event_codes_per_action() {
    let table = [
        (AuditAction::Create, "rest", "create", "C"),
        (AuditAction::Update, "rest", "update", "U"),
        (AuditAction::Delete, "rest", "delete", "D"),
        (AuditAction::Search, "rest", "search-type", "E"),
        (AuditAction::Vread, "rest", "vread", "R"),
        (AuditAction::Export, "110106", "operation", "E"),
        (AuditAction::Login, "110114", "110122", "E"),
        (AuditAction::LoginFailed, "110114", "110122", "E"),
        (AuditAction::Logout, "110114", "110123", "E"),
        (AuditAction::TokenIssue, "110114", "token-issue", "E"),
        (AuditAction::BreakGlass, "110113", "break-glass", "E"),
        (AuditAction::Merge, "rest", "merge", "U"),
        (AuditAction::UserChange, "110137", "user-change", "U"),
    ];
    for (action, kind, subtype, code) in table {
        let value = event(&entry(action));
        assert_eq!(value["type"]["code"], kind, "{action:?}");
        assert_eq!(value["subtype"][0]["code"], subtype, "{action:?}");
        assert_eq!(value["action"], code, "{action:?}");
    }
    let mut glass = entry(AuditAction::BreakGlass);
    glass.details = "paciente inconsciente traído por ambulancia".into();
    let value = event(&glass);
    assert_eq!(value["purposeOfEvent"][0]["coding"][0]["code"], "BTG");
    let mut under = entry(AuditAction::Read);
    under.break_glass = true;
    assert_eq!(
        event(&under)["purposeOfEvent"][0]["coding"][0]["code"],
        "BTG"
    );
    let mut denied = entry(AuditAction::Read);
    denied.outcome = Outcome::Denied;
    assert_eq!(event(&denied)["outcome"], "4");
    denied.outcome = Outcome::Error;
    assert_eq!(event(&denied)["outcome"], "8");
    // A failed login of an unknown user: no role, no facility, no entity but the detail.
    let failed = AuditEntry {
        user: "nadie".into(),
        user_display: String::new(),
        role: None,
        clues: None,
        facility_name: None,
        resource_type: None,
        resource_id: None,
        patient_id: None,
        outcome: Outcome::Denied,
        details: "usuario desconocido".into(),
        ..entry(AuditAction::LoginFailed)
    };
    let value = event(&failed);
    assert_eq!(value["agent"].as_array().unwrap().len(), 1);
    assert!(value["agent"][0].get("role").is_none());
    assert_eq!(
        value["entity"][0]["detail"][0]["valueString"],
        "usuario desconocido"
    );
    assert!(value["entity"][0].get("what").is_none());
    // Reading a Patient: one entity, the patient itself.
    let patient_read = AuditEntry {
        resource_type: Some("Patient".into()),
        resource_id: Some("p1".into()),
        ..entry(AuditAction::Read)
    };
    let value = event(&patient_read);
    assert_eq!(value["entity"].as_array().unwrap().len(), 1);
    assert_eq!(value["entity"][0]["role"]["code"], "1");
    // An integration is a data processor.
    let system = AuditEntry {
        role: Some(Role::System),
        ..entry(AuditAction::Create)
    };
    assert_eq!(
        event(&system)["agent"][0]["type"]["coding"][0]["code"],
        "dataprocessor"
    );
}

#[test]
fn patient_view_lines() {
    let offset = MEXICO_CITY_UTC_OFFSET_MINUTES;
    assert_eq!(
        patient_view_line(&entry(AuditAction::Read), offset),
        "25/11/2025 10:32 — Dra. Ana López, médico en Centro de Salud Tlalpan (CLUES DFSSA001234) consultó su expediente"
    );
    let nurse = AuditEntry {
        user_display: String::new(),
        user: "enf.perez".into(),
        role: Some(Role::Nurse),
        facility_name: None,
        ..entry(AuditAction::Create)
    };
    assert_eq!(
        patient_view_line(&nurse, offset),
        "25/11/2025 10:32 — enf.perez, enfermería en el establecimiento con CLUES DFSSA001234 agregó información a su expediente"
    );
    let glass = AuditEntry {
        details: "paciente inconsciente traído por ambulancia".into(),
        ..entry(AuditAction::BreakGlass)
    };
    assert_eq!(
        patient_view_line(&glass, offset),
        "25/11/2025 10:32 — Dra. Ana López, médico en Centro de Salud Tlalpan (CLUES DFSSA001234) abrió su expediente con acceso de emergencia; motivo: «paciente inconsciente traído por ambulancia»"
    );
    let under = AuditEntry {
        break_glass: true,
        ..entry(AuditAction::Read)
    };
    assert!(
        patient_view_line(&under, offset)
            .ends_with("consultó su expediente (acceso de emergencia)")
    );
    let denied = AuditEntry {
        outcome: Outcome::Denied,
        ..entry(AuditAction::Update)
    };
    assert!(
        patient_view_line(&denied, offset)
            .ends_with("intentó modificar su expediente (acceso denegado)")
    );
    let own = AuditEntry {
        role: Some(Role::Patient),
        clues: None,
        facility_name: None,
        ..entry(AuditAction::Read)
    };
    assert_eq!(
        patient_view_line(&own, offset),
        "25/11/2025 10:32 — Usted consultó su expediente"
    );
    assert!(patient_view_line(&entry(AuditAction::Read), 0).starts_with("25/11/2025 16:32 — "));
}

// ---- lanes ----

use super::{Lane, Lanes, verify_lanes};

/// A trail with a trunk of `trunk` entries, then `count` lanes appended round-robin-ish (lane
/// `n % count` for the n-th entry, with lane 0 taking every third entry twice, so the lanes
/// grow unevenly as they would under real writers). Returns the layout and every stored entry.
fn laned_trail(trunk: u64, count: u16, after: usize) -> (Lanes, Vec<SealedEntry>) {
    let mut chain = Chain::resume(ChainHead::EMPTY);
    let mut stored: Vec<SealedEntry> = (0..trunk)
        .map(|_| chain.append(entry(AuditAction::Read)))
        .collect();
    let lanes = Lanes {
        trunk: chain.head(),
        count,
    };
    let mut writers: Vec<Chain> = (0..count).map(|l| Chain::lane(&lanes, l, None)).collect();
    for n in 0..after {
        let lane = if n % 3 == 0 {
            0
        } else {
            usize::from(u16::try_from(n).unwrap() % count)
        };
        let sealed = writers[lane].append(second());
        assert_eq!(lanes.lane_of(sealed.entry.seq), Lane::Lane(lane as u16));
        stored.push(sealed);
    }
    stored.sort_by_key(|s| s.entry.seq);
    (lanes, stored)
}

/// A store's per-lane scan over `stored`, `page` entries at a time, with the lane taken from
/// the seq (as the PostgreSQL store's lane column holds it).
fn scan_of(
    lanes: Lanes,
    stored: &[SealedEntry],
    page: usize,
) -> impl FnMut(Lane, u64) -> Result<Vec<SealedEntry>, ()> + '_ {
    move |lane, after| {
        Ok(stored
            .iter()
            .filter(|s| s.entry.seq > after && lanes.lane_of(s.entry.seq) == lane)
            .take(page)
            .cloned()
            .collect())
    }
}

#[test]
fn a_laned_trail_verifies_lane_by_lane_and_counts_every_entry() {
    let (lanes, stored) = laned_trail(3, 4, 30);
    let seqs: std::collections::HashSet<u64> = stored.iter().map(|s| s.entry.seq).collect();
    assert_eq!(seqs.len(), 33, "every seq is unique");
    assert_eq!(verify_lanes(&lanes, scan_of(lanes, &stored, 2)), Ok(Ok(33)));
    // One lane is the clinic's single chain.
    let mut chain = Chain::resume(ChainHead::EMPTY);
    let single: Vec<SealedEntry> = (0..5).map(|_| chain.append(second())).collect();
    let lanes = Lanes::SINGLE;
    let scan = |lane: Lane, after: u64| -> Result<Vec<SealedEntry>, ()> {
        Ok(match lane {
            Lane::Trunk => Vec::new(),
            Lane::Lane(_) => single
                .iter()
                .filter(|s| s.entry.seq > after)
                .cloned()
                .collect(),
        })
    };
    assert_eq!(verify_lanes(&lanes, scan), Ok(Ok(5)));
}

#[test]
fn a_laned_trail_finds_deleted_altered_moved_and_added_entries() {
    let (lanes, stored) = laned_trail(3, 4, 30);
    // An entry deleted from the middle of lane 0.
    let lane0: Vec<u64> = stored
        .iter()
        .map(|s| s.entry.seq)
        .filter(|&seq| lanes.lane_of(seq) == Lane::Lane(0))
        .collect();
    let gone = lane0[2];
    let deleted: Vec<SealedEntry> = stored
        .iter()
        .filter(|s| s.entry.seq != gone)
        .cloned()
        .collect();
    let err = verify_lanes(&lanes, scan_of(lanes, &deleted, 100))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.first_bad_seq, lane0[3]);
    assert_eq!(err.reason, ChainFault::SeqOutOfOrder { expected: gone });

    // An entry's text altered.
    let mut altered = stored.clone();
    let victim = altered
        .iter_mut()
        .find(|s| s.entry.seq == lane0[1])
        .unwrap();
    victim.entry.details = "nada que ver".into();
    let err = verify_lanes(&lanes, scan_of(lanes, &altered, 100))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (err.first_bad_seq, err.reason),
        (lane0[1], ChainFault::HashMismatch)
    );

    // The trunk's last entry deleted.
    let truncated: Vec<SealedEntry> = stored
        .iter()
        .filter(|s| s.entry.seq != 3)
        .cloned()
        .collect();
    let err = verify_lanes(&lanes, scan_of(lanes, &truncated, 100))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (err.first_bad_seq, err.reason),
        (3, ChainFault::Truncated { expected_last: 3 })
    );

    // An entry added outside every lane, past the trunk (the store's trunk scan returns it).
    let mut forged = Chain::resume(lanes.trunk).append(entry(AuditAction::Read));
    forged.entry.seq = 1_000;
    let scan = |lane: Lane, after: u64| -> Result<Vec<SealedEntry>, ()> {
        let mut page: Vec<SealedEntry> = stored
            .iter()
            .filter(|s| s.entry.seq > after && lanes.lane_of(s.entry.seq) == lane)
            .cloned()
            .collect();
        if lane == Lane::Trunk && after < 1_000 {
            page.push(forged.clone());
        }
        Ok(page)
    };
    let err = verify_lanes(&lanes, scan).unwrap().unwrap_err();
    assert_eq!(
        (err.first_bad_seq, err.reason),
        (1_000, ChainFault::HashMismatch)
    );

    // A lane's entry given another lane's seq (renumbered to hide a deletion) breaks its hash.
    let mut moved = deleted.clone();
    let last0 = *lane0.last().unwrap();
    let shifted = moved.iter_mut().find(|s| s.entry.seq == lane0[3]).unwrap();
    shifted.entry.seq = gone;
    moved.retain(|s| s.entry.seq != last0);
    let err = verify_lanes(&lanes, scan_of(lanes, &moved, 100))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (err.first_bad_seq, err.reason),
        (gone, ChainFault::HashMismatch)
    );
}
