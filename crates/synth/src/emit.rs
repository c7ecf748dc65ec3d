//! The run: build and write the network, then stream the patients, then summarize.

use std::path::Path;

use crate::data::geo;
use crate::fhir::{
    self, Address, AvailableTime, CC, ContactPoint, ElementExt, Extension, HumanName, Identifier,
    Location, Organization, Practitioner, PractitionerRole, Qualification, Ref, sys,
};
use crate::identity::{CurpRegistry, NameTables};
use crate::network::{Builder, FacilityKind, Network, Role};
use crate::output::{KINDS, Kind, Sink};
use crate::patient::{Context, PatientStats};
use crate::rng::Rng;
use crate::{Config, Error, Summary};

/// Patients between two progress callbacks: often enough for a smooth bar, rare enough to cost nothing.
const PROGRESS_EVERY: u64 = 256;

pub(crate) fn run(config: &Config, dir: &Path, progress: &dyn Fn(u64)) -> Result<Summary, Error> {
    let names = NameTables::new();
    let mut registry = CurpRegistry::with_capacity(config.patients.saturating_add(100_000));
    let mut network_rng = Rng::new(config.seed, 0);
    let network = Builder {
        rng: &mut network_rng,
        names: &names,
        registry: &mut registry,
        end: config.end,
    }
    .build(config.network_size);

    let mut sink = Sink::create(dir, config.bundles)?;
    write_network(&network, &mut sink)?;
    sink.flush(None)?;

    let ctx = Context::new(config, &network, &names);
    let mut stats = PatientStats::default();
    for index in 0..config.patients {
        crate::patient::generate(&ctx, index, &mut registry, &mut sink, &mut stats)?;
        if (index + 1) % PROGRESS_EVERY == 0 {
            progress(index + 1);
        }
    }
    progress(config.patients);
    let written = sink.finish()?;

    let mut summary = Summary {
        patients: config.patients,
        bundles: written.bundles,
        facilities: network.facilities.len() as u64,
        practitioners: network.staff.len() as u64,
        patients_without_curp: stats.without_curp,
        redundant_lab_repeats: stats.redundant_lab_repeats,
        ..Summary::default()
    };
    for kind in KINDS {
        summary
            .resources
            .insert(kind.name().to_owned(), written.resources[kind as usize]);
    }
    for (name, bytes, _) in written.files {
        summary.bytes += bytes;
        summary.file_bytes.insert(name, bytes);
    }
    Ok(summary)
}

fn write_network(network: &Network, sink: &mut Sink) -> Result<(), Error> {
    const ORG_TYPE: CC<'static> = CC::of(sys::ORG_TYPE, "prov", "Healthcare Provider");
    for f in &network.facilities {
        let m = &geo::MUNICIPALITIES[f.municipality];
        let state_name = mexico::states::STATES[f.state_idx].name;
        let text = format!(
            "{}, Col. {}, C.P. {}, {}, {}",
            f.street, f.colonia, f.postal_code, m.name, state_name
        );
        let colonia = format!("Col. {}", f.colonia);
        let address = Address {
            use_: "work",
            type_: "physical",
            text: &text,
            line: [&f.street, &colonia],
            city: m.name,
            state: state_name,
            postal_code: &f.postal_code,
            country: "MX",
        };
        let clues = Identifier {
            use_: Some("official"),
            type_: None,
            system: mexico::systems::CLUES,
            value: (&*f.clues).into(),
        };
        let telecom = [ContactPoint {
            system: "phone",
            value: &f.phone,
            use_: "work",
        }];
        sink.emit(
            Kind::Organization,
            f.org_id,
            &Organization {
                resource_type: "Organization",
                id: f.org_id,
                identifier: [clues.clone()],
                active: true,
                type_: [ORG_TYPE],
                name: &f.name,
                telecom,
                address: [address.clone()],
            },
        )?;
        let loc_type = if f.is_hospital() {
            CC::coded_text(
                fhir::Coding::new(sys::ROLE_CODE, "HOSP", "Hospital"),
                "Hospital",
            )
        } else {
            CC::coded_text(
                fhir::Coding::new(sys::ROLE_CODE, "OF", "Outpatient facility"),
                "Centro de salud",
            )
        };
        sink.emit(
            Kind::Location,
            f.loc_id,
            &Location {
                resource_type: "Location",
                id: f.loc_id,
                identifier: [clues],
                status: "active",
                name: &f.name,
                mode: "instance",
                type_: [loc_type],
                telecom,
                address,
                physical_type: CC::of(
                    "http://terminology.hl7.org/CodeSystem/location-physical-type",
                    "bu",
                    "Building",
                ),
                managing_organization: Ref::new("Organization", f.org_id),
            },
        )?;
    }

    for s in &network.staff {
        let family = s.name.family();
        let text = s.name.text();
        let mut ext = vec![Extension::String(sys::FATHERS_FAMILY, s.name.first_surname)];
        if let Some(second) = s.name.second_surname {
            ext.push(Extension::String(sys::MOTHERS_FAMILY, second));
        }
        let mut identifier = Vec::with_capacity(2);
        if let Some(curp) = &s.curp {
            identifier.push(Identifier {
                use_: Some("official"),
                type_: None,
                system: mexico::systems::CURP,
                value: curp.as_str().into(),
            });
        }
        identifier.push(Identifier {
            use_: Some("official"),
            type_: None,
            system: mexico::systems::CEDULA,
            value: s.cedula.as_str().into(),
        });
        let mut qualification = vec![Qualification {
            identifier: [Identifier {
                use_: None,
                type_: None,
                system: mexico::systems::CEDULA,
                value: s.cedula.as_str().into(),
            }],
            code: CC::text(s.role.degree()),
        }];
        let specialty_text;
        if let (Role::Specialist(sp), Some(ced)) = (s.role, &s.specialty_cedula) {
            specialty_text = format!("Especialidad en {}", sp.codes().2);
            qualification.push(Qualification {
                identifier: [Identifier {
                    use_: None,
                    type_: None,
                    system: mexico::systems::CEDULA,
                    value: ced.as_str().into(),
                }],
                code: CC::text(&specialty_text),
            });
        }
        sink.emit(
            Kind::Practitioner,
            s.id,
            &Practitioner {
                resource_type: "Practitioner",
                id: s.id,
                identifier,
                active: true,
                name: [HumanName {
                    use_: "official",
                    text: &text,
                    family: &family,
                    family_ext: ElementExt { extension: ext },
                    given: s.name.given_parts(),
                    prefix: Some([s.role.prefix(s.sex)]),
                }],
                gender: s.sex.fhir_gender(),
                birth_date: crate::date::Date(s.birth),
                qualification,
            },
        )?;
    }

    const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri"];
    const ALL_DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    for s in &network.staff {
        let f = &network.facilities[s.facility];
        let (code, display) = s.role.tipo_personal();
        let specialty = match s.role {
            Role::Specialist(sp) => {
                let (c, d, t) = sp.codes();
                Some([CC::coded_text(fhir::Coding::new(sys::SNOMED, c, d), t)])
            }
            Role::GeneralPractitioner => Some([CC::coded_text(
                fhir::Coding::new(sys::SNOMED, "394814009", "General practice"),
                "Medicina general",
            )]),
            _ => None,
        };
        let hospital = f.kind != FacilityKind::Centre;
        let (start, end) = if s.afternoon {
            ("14:00:00", "20:00:00")
        } else {
            ("08:00:00", "14:00:00")
        };
        sink.emit(
            Kind::PractitionerRole,
            s.role_id,
            &PractitionerRole {
                resource_type: "PractitionerRole",
                id: s.role_id,
                active: true,
                practitioner: Ref::new("Practitioner", s.id),
                organization: Ref::new("Organization", f.org_id),
                code: [CC::coded_text(
                    fhir::Coding::new(sys::TIPO_PERSONAL, code, display),
                    display,
                )],
                specialty,
                location: [Ref::new("Location", f.loc_id)],
                available_time: [AvailableTime {
                    days_of_week: if hospital && s.role == Role::Nurse {
                        ALL_DAYS
                    } else {
                        WEEKDAYS
                    },
                    available_start_time: start,
                    available_end_time: end,
                }],
            },
        )?;
    }
    Ok(())
}
