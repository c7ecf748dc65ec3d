//! The health-care network: health centres and hospitals with CLUES keys, and their staff.
//!
//! Sizes (documented in README): health centres per state in proportion to the state's population;
//! by default one centre per 1,000 generated patients, at least three per state and at most
//! [`CENTRES_MAX`] (the real IMSS-Bienestar count).
//! Hospitals: one Hospital General in each state's largest municipality plus roughly one more hospital
//! per 2.5 million residents (Hospital General in big municipalities, Hospital Integral in smaller ones).
//! Institution code of the CLUES: `IMB` (IMSS-Bienestar) in the 23 states that federalised their
//! services in 2023, `SSA` (state health services) in the nine that did not.
//! The network is O(facilities) in memory and is written before any patient.

use crate::data::geo::{self, Municipality};
use crate::date::{Day, Zone, days_from_civil};
use crate::fhir::Id;
use crate::identity::{CurpRegistry, NameTables, PersonName, Sex, issue_curp};
use crate::rng::{Rng, Weighted};

/// Upper bound on generated health centres: IMSS-Bienestar ran 13,966 state health centres in 2023.
pub(crate) const CENTRES_MAX: u64 = 14_000;
/// Generated patients per health centre when the size is not given: a sample of N people is given
/// the network of a region of about N × 4 inhabitants (a centro de salud serves ~4,000 people).
pub(crate) const PATIENTS_PER_CENTRE: u64 = 1_000;
/// Health centres per state at least, so that "another clinic" exists even in small samples.
pub(crate) const CENTRES_PER_STATE_MIN: u64 = 3;

/// States whose services stayed outside IMSS-Bienestar (2023); their CLUES use `SSA`.
const SSA_STATES: &[&str] = &["AS", "CH", "CL", "DG", "GT", "JC", "NL", "QT", "YN"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FacilityKind {
    Centre,
    HospitalGeneral,
    HospitalIntegral,
}

/// What a health worker does (local code system `tipo-personal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    GeneralPractitioner,
    Nurse,
    Dentist,
    Psychologist,
    Nutritionist,
    Specialist(Specialty),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Specialty {
    InternalMedicine,
    Paediatrics,
    ObstetricsGynaecology,
    GeneralSurgery,
    Cardiology,
    Endocrinology,
    Nephrology,
    Psychiatry,
}

impl Specialty {
    /// SNOMED CT specialty code, English display, Spanish name.
    pub(crate) fn codes(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Specialty::InternalMedicine => ("419192003", "Internal medicine", "Medicina interna"),
            Specialty::Paediatrics => ("394537008", "Pediatric specialty", "Pediatría"),
            Specialty::ObstetricsGynaecology => (
                "394585009",
                "Obstetrics and gynecology",
                "Ginecología y obstetricia",
            ),
            Specialty::GeneralSurgery => ("394609007", "General surgery", "Cirugía general"),
            Specialty::Cardiology => ("394579002", "Cardiology", "Cardiología"),
            Specialty::Endocrinology => ("394583002", "Endocrinology", "Endocrinología"),
            Specialty::Nephrology => ("394589003", "Nephrology", "Nefrología"),
            Specialty::Psychiatry => ("394587001", "Psychiatry", "Psiquiatría"),
        }
    }
}

impl Role {
    /// Code and Spanish display in the local `tipo-personal` code system.
    pub(crate) fn tipo_personal(self) -> (&'static str, &'static str) {
        match self {
            Role::GeneralPractitioner => ("MG", "Médico general"),
            Role::Nurse => ("ENF", "Enfermería"),
            Role::Dentist => ("ODO", "Odontología"),
            Role::Psychologist => ("PSI", "Psicología"),
            Role::Nutritionist => ("NUT", "Nutrición"),
            Role::Specialist(_) => ("ME", "Médico especialista"),
        }
    }

    /// The professional degree behind the cédula.
    pub(crate) fn degree(self) -> &'static str {
        match self {
            Role::GeneralPractitioner | Role::Specialist(_) => "Médico Cirujano",
            Role::Nurse => "Licenciatura en Enfermería",
            Role::Dentist => "Cirujano Dentista",
            Role::Psychologist => "Licenciatura en Psicología",
            Role::Nutritionist => "Licenciatura en Nutrición",
        }
    }

    /// Honorific written before the name.
    pub(crate) fn prefix(self, sex: Sex) -> &'static str {
        match (self, sex) {
            (Role::Nurse, _) => "Enf.",
            (Role::Psychologist | Role::Nutritionist, Sex::Female) => "Lic.",
            (Role::Psychologist | Role::Nutritionist, _) => "Lic.",
            (_, Sex::Female) => "Dra.",
            _ => "Dr.",
        }
    }
}

pub(crate) struct Staff {
    pub(crate) id: Id,
    pub(crate) role_id: Id,
    pub(crate) role: Role,
    pub(crate) facility: usize,
    pub(crate) name: PersonName,
    pub(crate) sex: Sex,
    pub(crate) birth: Day,
    pub(crate) curp: Option<String>,
    pub(crate) cedula: String,
    pub(crate) specialty_cedula: Option<String>,
    /// Turno vespertino (14:00–20:00) instead of matutino (08:00–14:00).
    pub(crate) afternoon: bool,
}

pub(crate) struct Facility {
    pub(crate) org_id: Id,
    pub(crate) loc_id: Id,
    pub(crate) kind: FacilityKind,
    pub(crate) clues: String,
    pub(crate) name: String,
    pub(crate) state_idx: usize,
    pub(crate) municipality: usize,
    pub(crate) street: String,
    pub(crate) colonia: &'static str,
    pub(crate) postal_code: String,
    pub(crate) phone: String,
    pub(crate) zone: Zone,
    pub(crate) gps: Vec<usize>,
    pub(crate) nurses: Vec<usize>,
    pub(crate) dentists: Vec<usize>,
    pub(crate) psychologists: Vec<usize>,
    pub(crate) nutritionists: Vec<usize>,
    pub(crate) specialists: Vec<(Specialty, usize)>,
}

impl Facility {
    pub(crate) fn is_hospital(&self) -> bool {
        self.kind != FacilityKind::Centre
    }

    pub(crate) fn specialist(&self, specialty: Specialty, rng: &mut Rng) -> Option<usize> {
        let matching: Vec<usize> = self
            .specialists
            .iter()
            .filter(|(s, _)| *s == specialty)
            .map(|&(_, i)| i)
            .collect();
        rng.pick(&matching).copied()
    }
}

/// The generated network plus the indexes the patient generator needs.
pub(crate) struct Network {
    pub(crate) facilities: Vec<Facility>,
    pub(crate) staff: Vec<Staff>,
    /// Per state (index into `mexico::states::STATES`): its health centres.
    pub(crate) centres_by_state: Vec<Vec<usize>>,
    /// Per state: its hospitals, the main Hospital General first.
    pub(crate) hospitals_by_state: Vec<Vec<usize>>,
    /// Per municipality (index into `geo::MUNICIPALITIES`): its health centres.
    pub(crate) centres_by_municipality: Vec<Vec<usize>>,
    /// Per state: municipality indexes of that state.
    pub(crate) municipalities_by_state: Vec<Vec<usize>>,
    /// States where patients may live: all 32 entities, or the one state of a `--clinics` network.
    pub(crate) home_states: Vec<usize>,
}

/// How big the network is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Size {
    /// This many centres in total, spread over all states by population.
    Centres(u64),
    /// This many centres, all in one state (the small demo).
    Clinics(u64),
}

fn state_population(idx: usize) -> f64 {
    mexico::states::STATES
        .get(idx)
        .map_or(0.0, |s| f64::from(s.population_2020))
}

/// Splits `total` over the federal entities in proportion to population (largest remainder), at least one each.
fn apportion(total: u64, states: &[usize]) -> Vec<u64> {
    let pop: f64 = states.iter().map(|&s| state_population(s)).sum();
    let total = total.max(states.len() as u64);
    let spare = (total - states.len() as u64) as f64;
    let quotas: Vec<f64> = states
        .iter()
        .map(|&s| spare * state_population(s) / pop)
        .collect();
    let mut counts: Vec<u64> = quotas.iter().map(|q| 1 + q.floor() as u64).collect();
    let mut left = total - counts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..states.len()).collect();
    // Largest fractional part first; ties broken by index so that the order is total and deterministic.
    order.sort_by(|&a, &b| {
        let fa = quotas[a] - quotas[a].floor();
        let fb = quotas[b] - quotas[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

/// Interpolated cédula number for a graduation year: about 1.0 M cédulas had been issued by 1985,
/// 3 M by 2000, 6 M by 2009, 10 M by 2016 and 13 M by 2024 (SEP, Registro Nacional de Profesionistas).
fn cedula_base(year: i32) -> f64 {
    const POINTS: [(i32, f64); 5] = [
        (1985, 1.0e6),
        (2000, 3.0e6),
        (2009, 6.0e6),
        (2016, 10.0e6),
        (2024, 13.0e6),
    ];
    if year <= POINTS[0].0 {
        return POINTS[0].1;
    }
    for w in POINTS.windows(2) {
        let ((y0, v0), (y1, v1)) = (w[0], w[1]);
        if year <= y1 {
            return v0 + (v1 - v0) * f64::from(year - y0) / f64::from(y1 - y0);
        }
    }
    POINTS[4].1
}

fn cedula_number(rng: &mut Rng, year: i32) -> String {
    let n = (cedula_base(year) + rng.uniform(-150_000.0, 150_000.0)).max(1_000_000.0) as u64;
    n.to_string()
}

/// A 10-digit telephone number with the municipality's area code.
pub(crate) fn phone(rng: &mut Rng, lada: &str) -> String {
    let mut s = String::with_capacity(10);
    s.push_str(lada);
    // Subscriber numbers do not start with 0 or 1.
    s.push(char::from(b'2' + rng.below(8) as u8));
    while s.len() < 10 {
        s.push(char::from(b'0' + rng.below(10) as u8));
    }
    s
}

pub(crate) struct Builder<'a> {
    pub(crate) rng: &'a mut Rng,
    pub(crate) names: &'a NameTables,
    pub(crate) registry: &'a mut CurpRegistry,
    pub(crate) end: Day,
}

impl Builder<'_> {
    pub(crate) fn build(mut self, size: Size) -> Network {
        let n_states = mexico::states::STATES.len();
        let entities: Vec<usize> = (0..n_states)
            .filter(|&i| mexico::states::STATES[i].is_federal_entity())
            .collect();
        let mut municipalities_by_state = vec![Vec::new(); n_states];
        for (i, m) in geo::MUNICIPALITIES.iter().enumerate() {
            if let Some(s) = mexico::states::STATES
                .iter()
                .position(|s| s.curp_code == m.state)
            {
                municipalities_by_state[s].push(i);
            }
        }
        let (home_states, centres_per_state): (Vec<usize>, Vec<u64>) = match size {
            Size::Centres(total) => {
                let total = total.clamp(CENTRES_PER_STATE_MIN * entities.len() as u64, CENTRES_MAX);
                (entities.clone(), apportion(total, &entities))
            }
            Size::Clinics(k) => {
                let weights = Weighted::new(entities.iter().map(|&s| state_population(s)));
                let state = entities[weights.sample(self.rng)];
                (vec![state], vec![k.clamp(1, CENTRES_MAX)])
            }
        };

        let mut network = Network {
            facilities: Vec::new(),
            staff: Vec::new(),
            centres_by_state: vec![Vec::new(); n_states],
            hospitals_by_state: vec![Vec::new(); n_states],
            centres_by_municipality: vec![Vec::new(); geo::MUNICIPALITIES.len()],
            municipalities_by_state,
            home_states: home_states.clone(),
        };

        for (&state, &n_centres) in home_states.iter().zip(&centres_per_state) {
            let munis = network.municipalities_by_state[state].clone();
            if munis.is_empty() {
                continue;
            }
            let state_code = mexico::states::STATES[state].curp_code;
            let institution = if SSA_STATES.contains(&state_code) {
                "SSA"
            } else {
                "IMB"
            };
            let mut clues_seq = 100 + self.rng.below(1900);
            let mut next_clues = |rng: &mut Rng| {
                clues_seq += 1 + rng.below(40);
                format!("{state_code}{institution}{clues_seq:06}")
            };
            let muni_weights = Weighted::new(
                munis
                    .iter()
                    .map(|&m| f64::from(geo::MUNICIPALITIES[m].population_k)),
            );
            let mut used_names: Vec<(usize, &'static str)> = Vec::new();

            // Hospitals: the largest municipality first, then by size.
            let mut by_size = munis.clone();
            by_size.sort_by(|&a, &b| {
                geo::MUNICIPALITIES[b]
                    .population_k
                    .cmp(&geo::MUNICIPALITIES[a].population_k)
                    .then(a.cmp(&b))
            });
            let n_hospitals = 1 + (state_population(state) / 2.5e6).round() as usize;
            for h in 0..n_hospitals {
                let muni = by_size[h % by_size.len()];
                let m = &geo::MUNICIPALITIES[muni];
                let kind = if h == 0 || m.population_k >= 400 {
                    FacilityKind::HospitalGeneral
                } else {
                    FacilityKind::HospitalIntegral
                };
                let base = match kind {
                    FacilityKind::HospitalGeneral => format!("Hospital General {}", m.name),
                    _ => format!("Hospital Integral {}", m.name),
                };
                let name = if h >= by_size.len() {
                    format!("{base} {}", h / by_size.len() + 1)
                } else {
                    base
                };
                let clues = next_clues(self.rng);
                let idx = self.facility(&mut network, kind, state, muni, clues, name);
                network.hospitals_by_state[state].push(idx);
            }

            for _ in 0..n_centres {
                let muni = munis[muni_weights.sample(self.rng)];
                let m = &geo::MUNICIPALITIES[muni];
                let first_here = network.centres_by_municipality[muni].is_empty();
                let name = if first_here {
                    if self.rng.chance(0.08) {
                        format!("Centro de Salud con Servicios Ampliados {}", m.name)
                    } else {
                        format!("Centro de Salud {}", m.name)
                    }
                } else {
                    let mut pick =
                        geo::COLONIAS[self.rng.below(geo::COLONIAS.len() as u64) as usize];
                    let mut tries = 0;
                    while used_names.contains(&(muni, pick)) && tries < geo::COLONIAS.len() {
                        pick = geo::COLONIAS[(self.rng.below(geo::COLONIAS.len() as u64)) as usize];
                        tries += 1;
                    }
                    let n_same = used_names
                        .iter()
                        .filter(|&&(u, p)| u == muni && p == pick)
                        .count();
                    used_names.push((muni, pick));
                    if n_same == 0 {
                        format!("Centro de Salud {pick}")
                    } else {
                        format!("Centro de Salud {pick} {}", n_same + 1)
                    }
                };
                let clues = next_clues(self.rng);
                let idx =
                    self.facility(&mut network, FacilityKind::Centre, state, muni, clues, name);
                network.centres_by_state[state].push(idx);
                network.centres_by_municipality[muni].push(idx);
            }
        }
        network
    }

    fn facility(
        &mut self,
        network: &mut Network,
        kind: FacilityKind,
        state: usize,
        muni: usize,
        clues: String,
        name: String,
    ) -> usize {
        let m: &Municipality = &geo::MUNICIPALITIES[muni];
        let rng = &mut *self.rng;
        let street = format!(
            "{} {}",
            rng.pick(geo::STREETS).copied().unwrap_or("Hidalgo"),
            rng.range(1, 1500)
        );
        let colonia = rng.pick(geo::COLONIAS).copied().unwrap_or("Centro");
        let postal_code = format!(
            "{:05}",
            rng.range(i64::from(m.postal_lo), i64::from(m.postal_hi))
        );
        let phone = phone(rng, m.lada);
        let idx = network.facilities.len();
        network.facilities.push(Facility {
            org_id: Id::random(rng),
            loc_id: Id::random(rng),
            kind,
            clues,
            name,
            state_idx: state,
            municipality: muni,
            street,
            colonia,
            postal_code,
            phone,
            zone: m.zone(),
            gps: Vec::new(),
            nurses: Vec::new(),
            dentists: Vec::new(),
            psychologists: Vec::new(),
            nutritionists: Vec::new(),
            specialists: Vec::new(),
        });

        let big_city = m.population_k >= 500;
        let mut roles: Vec<Role> = Vec::new();
        match kind {
            FacilityKind::Centre => {
                let n_gp = 1 + self.rng.below(3) + u64::from(big_city);
                let n_nurse = n_gp + self.rng.below(2);
                roles.extend(std::iter::repeat_n(
                    Role::GeneralPractitioner,
                    n_gp as usize,
                ));
                roles.extend(std::iter::repeat_n(Role::Nurse, n_nurse as usize));
                if self.rng.chance(0.45) {
                    roles.push(Role::Dentist);
                }
                if self.rng.chance(0.15) {
                    roles.push(Role::Psychologist);
                }
                if self.rng.chance(0.15) {
                    roles.push(Role::Nutritionist);
                }
            }
            FacilityKind::HospitalGeneral | FacilityKind::HospitalIntegral => {
                let general = kind == FacilityKind::HospitalGeneral;
                let scale = if general { 2 } else { 1 };
                roles.extend(std::iter::repeat_n(Role::GeneralPractitioner, 2 + scale));
                roles.extend(std::iter::repeat_n(Role::Nurse, 4 * scale + 2));
                for (specialty, n) in [
                    (Specialty::InternalMedicine, scale + 1),
                    (Specialty::Paediatrics, scale),
                    (Specialty::ObstetricsGynaecology, scale + 1),
                    (Specialty::GeneralSurgery, scale),
                ] {
                    roles.extend(std::iter::repeat_n(Role::Specialist(specialty), n));
                }
                if general {
                    for specialty in [
                        Specialty::Cardiology,
                        Specialty::Endocrinology,
                        Specialty::Nephrology,
                        Specialty::Psychiatry,
                    ] {
                        roles.push(Role::Specialist(specialty));
                    }
                    roles.push(Role::Psychologist);
                    roles.push(Role::Nutritionist);
                }
            }
        }
        for role in roles {
            let s = self.staff_member(network, idx, state, role);
            let f = &mut network.facilities[idx];
            match role {
                Role::GeneralPractitioner => f.gps.push(s),
                Role::Nurse => f.nurses.push(s),
                Role::Dentist => f.dentists.push(s),
                Role::Psychologist => f.psychologists.push(s),
                Role::Nutritionist => f.nutritionists.push(s),
                Role::Specialist(sp) => f.specialists.push((sp, s)),
            }
        }
        idx
    }

    fn staff_member(
        &mut self,
        network: &mut Network,
        facility: usize,
        state: usize,
        role: Role,
    ) -> usize {
        let rng = &mut *self.rng;
        let (end_year, _, _) = crate::date::civil_from_days(self.end);
        let age = rng.range(26, 64) as i32;
        let birth_year = end_year - age;
        let birth_month = rng.range(1, 12) as u32;
        let birth_day = rng.range(1, 28) as u32;
        let birth = days_from_civil(birth_year, birth_month, birth_day);
        let female_share = match role {
            Role::Nurse => 0.85,
            Role::Psychologist | Role::Nutritionist => 0.75,
            _ => {
                if age < 40 {
                    0.58
                } else {
                    0.40
                }
            }
        };
        let sex = if rng.chance(female_share) {
            Sex::Female
        } else {
            Sex::Male
        };
        let birth_state_idx = if rng.chance(0.75) {
            state
        } else {
            let code = mexico::states::pick_by_population(rng.next_u64()).curp_code;
            mexico::states::STATES
                .iter()
                .position(|s| s.curp_code == code)
                .unwrap_or(state)
        };
        let birth_state = mexico::states::STATES[birth_state_idx].curp_code;
        let name = PersonName::draw(self.names, rng, sex, birth_year, birth_state_idx);
        let curp = issue_curp(
            self.registry,
            rng,
            &name,
            (birth_year, birth_month, birth_day),
            sex,
            birth_state,
        );
        let graduation = birth_year + 24 + rng.range(0, 2) as i32;
        let cedula = cedula_number(rng, graduation);
        let specialty_cedula = matches!(role, Role::Specialist(_)).then(|| {
            let year = graduation + 4 + rng.range(0, 2) as i32;
            cedula_number(rng, year)
        });
        let afternoon = rng.chance(0.3);
        let id = Id::random(rng);
        let role_id = Id::random(rng);
        network.staff.push(Staff {
            id,
            role_id,
            role,
            facility,
            name,
            sex,
            birth,
            curp,
            cedula,
            specialty_cedula,
            afternoon,
        });
        network.staff.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::{apportion, cedula_base};

    #[test]
    fn apportion_is_proportional_with_one_each() {
        let states: Vec<usize> = (0..32).collect();
        let counts = apportion(320, &states);
        assert_eq!(counts.iter().sum::<u64>(), 320);
        assert!(counts.iter().all(|&c| c >= 1));
        // Estado de México (index 14) is the most populous state.
        assert_eq!(
            counts
                .iter()
                .enumerate()
                .max_by_key(|&(i, c)| (c, usize::MAX - i))
                .map(|(i, _)| i),
            Some(14)
        );
        assert_eq!(apportion(5, &states).iter().sum::<u64>(), 32);
    }

    #[test]
    fn cedulas_have_seven_or_eight_digits() {
        for year in 1980..2030 {
            let n = cedula_base(year);
            assert!((1.0e6..1.0e8).contains(&n));
        }
    }
}
