//! One patient: demographics, latent health, a planned history of visits, and the resources it produces.
//!
//! The generation runs in two phases. *Planning* decides, from the person's latent traits, everything
//! that happens (chronic diseases with onset dates, well-child visits, acute episodes month by month,
//! pregnancies, controls, laboratory orders, referrals, repeated tests elsewhere, vaccine doses).
//! *Emission* walks the plan in date order and writes the resources, so that a Condition exists before
//! the prescription that cites it and every value follows the person's state on that day.
//! All rates are documented (with sources) in the crate README.

use crate::Config;
use crate::Error;
use crate::REDUNDANT_WINDOW_DAYS;
use crate::data::clinical::{self, Allergen, Dx, Loinc, Med, Vaccine, cie, cnis, lo, vx};
use crate::data::geo;
use crate::date::{
    Date, DateTime, Day, Zone, add_months, age_months, age_years, civil_from_days, days_from_civil,
    weekday,
};
use crate::fhir::{
    self, Address, AllergyIntolerance, Annotation, CC, Coding, Communication, Component,
    ContactPoint, DiagnosticReport, DispenseRequest, Dosage, DoseAndRate, ElementExt, Encounter,
    EncounterLocation, Extension, HumanName, Id, Identifier, ImmPerformer, Immunization,
    MedicationRequest, Num, Observation, Participant, Patient, Period, ProtocolApplied, Quantity,
    Reaction, Ref, ReferenceRange, Repeat, ServiceRequest, Timing, When, sys,
};
use crate::identity::{CurpRegistry, NameTables, PersonName, Sex, issue_curp};
use crate::network::{Network, Specialty, phone};
use crate::output::{Kind, Sink};
use crate::rng::{Rng, Weighted};

/// Mexico's population by five-year age group (INEGI, Censo de Población y Vivienda 2020, millions) and
/// the share of men in each group. The last group is 85–99.
const AGE_GROUPS: [(i64, i64, f64, f64); 18] = [
    (0, 4, 10.0, 0.508),
    (5, 9, 10.9, 0.507),
    (10, 14, 11.0, 0.506),
    (15, 19, 10.8, 0.503),
    (20, 24, 10.4, 0.495),
    (25, 29, 9.9, 0.485),
    (30, 34, 9.4, 0.480),
    (35, 39, 9.0, 0.478),
    (40, 44, 8.6, 0.476),
    (45, 49, 8.0, 0.475),
    (50, 54, 7.2, 0.474),
    (55, 59, 5.9, 0.472),
    (60, 64, 4.8, 0.470),
    (65, 69, 3.7, 0.465),
    (70, 74, 2.6, 0.460),
    (75, 79, 1.7, 0.450),
    (80, 84, 1.1, 0.430),
    (85, 99, 1.0, 0.400),
];

/// Share of adults whose CURP carries sex `X` (first issued 2023; RENAPO has issued a few thousand).
const NON_BINARY_SHARE: f64 = 0.0005;
/// Share of people living in the state where they were born (Censo 2020: 80.4 % of residents).
const NATIVE_SHARE: f64 = 0.80;
/// Share of visits of an acute or preventive kind made at another clinic than the usual one.
const ELSEWHERE_SHARE: f64 = 0.10;
/// Share of chronic-disease controls made at another clinic.
const ELSEWHERE_CONTROL_SHARE: f64 = 0.03;
/// Share of laboratory orders repeated within days at another facility (the redundant tests).
const REPEAT_ELSEWHERE_SHARE: f64 = 0.05;
/// Share of patients with a recorded allergy.
const ALLERGY_SHARE: f64 = 0.04;
/// Share of patients with a registered phone number.
const PHONE_SHARE: f64 = 0.88;

const LAB_HBA1C: u8 = 1;
const LAB_LIPIDS: u8 = 2;
const LAB_CREATININE: u8 = 4;
const LAB_CBC: u8 = 8;

/// Shared, read-only state for all patients.
pub(crate) struct Context<'a> {
    config: &'a Config,
    net: &'a Network,
    names: &'a NameTables,
    age_groups: Weighted,
    residence: Weighted,
    /// Per state index: weights over `net.municipalities_by_state[state]`.
    municipality_weights: Vec<Weighted>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(config: &'a Config, net: &'a Network, names: &'a NameTables) -> Context<'a> {
        let municipality_weights = net
            .municipalities_by_state
            .iter()
            .map(|munis| {
                Weighted::new(
                    munis
                        .iter()
                        .map(|&m| f64::from(geo::MUNICIPALITIES[m].population_k)),
                )
            })
            .collect();
        Context {
            config,
            net,
            names,
            age_groups: Weighted::new(AGE_GROUPS.iter().map(|g| g.2)),
            residence: Weighted::new(
                net.home_states
                    .iter()
                    .map(|&s| f64::from(mexico::states::STATES[s].population_2020)),
            ),
            municipality_weights,
        }
    }
}

/// Counters the run reports in its Summary.
#[derive(Default)]
pub(crate) struct PatientStats {
    pub(crate) without_curp: u64,
    pub(crate) redundant_lab_repeats: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChronicKind {
    Diabetes,
    Hypertension,
    Dyslipidaemia,
    Ckd,
    Asthma,
    Depression,
    Anxiety,
    Hypothyroidism,
}

impl ChronicKind {
    fn dx(self) -> Dx {
        match self {
            ChronicKind::Diabetes => cie::DIABETES_T2,
            ChronicKind::Hypertension => cie::HYPERTENSION,
            ChronicKind::Dyslipidaemia => cie::DYSLIPIDAEMIA,
            ChronicKind::Ckd => cie::CKD,
            ChronicKind::Asthma => cie::ASTHMA,
            ChronicKind::Depression => cie::DEPRESSION,
            ChronicKind::Anxiety => cie::ANXIETY,
            ChronicKind::Hypothyroidism => cie::HYPOTHYROIDISM,
        }
    }

    /// Control visits per year while active (Mexican primary care: monthly to bimonthly for diabetes and
    /// hypertension per NOM-015/NOM-030; the person-specific rate is drawn separately for those two).
    fn controls_per_year(self) -> f64 {
        match self {
            ChronicKind::Diabetes | ChronicKind::Hypertension => 6.0,
            ChronicKind::Ckd => 4.0,
            ChronicKind::Dyslipidaemia | ChronicKind::Hypothyroidism => 2.0,
            ChronicKind::Asthma => 1.5,
            ChronicKind::Depression | ChronicKind::Anxiety => 4.0,
        }
    }
}

struct Chronic {
    kind: ChronicKind,
    onset: Day,
    resolved: Option<Day>,
    /// Medicines taken for it, with how many units per dose and doses per day.
    regimen: Vec<(Med, f64, u32)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum VaccineAdherence {
    High,
    Medium,
    Low,
}

/// Who the patient is and the latent traits their values follow.
struct Person {
    id: Id,
    sex: Sex,
    birth: Day,
    age_end: i64,
    name: PersonName,
    birth_state: &'static str,
    residence_state: usize,
    municipality: usize,
    curp: Option<String>,
    home: usize,
    gp: usize,
    /// Latent adiposity (standard normal): drives BMI in childhood and adulthood.
    z_fat: f64,
    /// Latent stature (standard normal).
    z_height: f64,
    adult_bmi: f64,
    obese: bool,
    chronic: Vec<Chronic>,
    hba1c_mean: f64,
    htn_controlled: bool,
    control_rate: f64,
    ckd_creatinine: f64,
    adherence: VaccineAdherence,
    allergy: Option<&'static Allergen>,
    pregnancies: Vec<Pregnancy>,
}

struct Pregnancy {
    conception: Day,
    first: bool,
    gestational_diabetes: bool,
    /// Condition id once recorded.
    condition: Option<Id>,
    gdm_condition: Option<Id>,
}

impl Pregnancy {
    fn delivery(&self) -> Day {
        self.conception + 266
    }
}

impl Person {
    fn chronic(&self, kind: ChronicKind) -> Option<&Chronic> {
        self.chronic.iter().find(|c| c.kind == kind)
    }
    fn has_at(&self, kind: ChronicKind, day: Day) -> bool {
        self.chronic(kind)
            .is_some_and(|c| c.onset <= day && c.resolved.is_none_or(|r| r > day))
    }
    fn age_at(&self, day: Day) -> i64 {
        age_years(self.birth, day)
    }
    fn age_f(&self, day: Day) -> f64 {
        (day - self.birth) as f64 / 365.25
    }
    fn is_female(&self) -> bool {
        self.sex == Sex::Female
    }
    fn pregnancy_at(&self, day: Day) -> Option<usize> {
        self.pregnancies
            .iter()
            .position(|p| p.conception <= day && day < p.delivery())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum VisitKind {
    WellChild,
    Checkup,
    Acute(Dx),
    Anaemia,
    /// Control of chronic diseases; `diagnosis` marks the visit where one was first diagnosed.
    Control {
        diagnosis: Option<ChronicKind>,
    },
    Prenatal {
        pregnancy: usize,
        gdm_diagnosis: bool,
    },
    Hospital {
        specialty: Specialty,
        reason: Dx,
        referral: usize,
    },
    RepeatLabs,
}

impl VisitKind {
    fn order(self) -> u8 {
        match self {
            VisitKind::Control { .. } => 0,
            VisitKind::Prenatal { .. } => 1,
            VisitKind::Checkup => 2,
            VisitKind::WellChild => 3,
            VisitKind::Acute(_) => 4,
            VisitKind::Anaemia => 5,
            VisitKind::Hospital { .. } => 6,
            VisitKind::RepeatLabs => 7,
        }
    }
}

#[derive(Clone, Copy)]
struct Visit {
    day: Day,
    kind: VisitKind,
    facility: usize,
    practitioner: usize,
    labs: u8,
    glucose: bool,
}

struct ReferralPlan {
    from_visit_day: Day,
    specialty: Specialty,
    reason: Dx,
    hospital: usize,
    urgent: bool,
    attended: bool,
    /// Filled when emitted.
    id: Option<Id>,
}

struct Dose {
    day: Day,
    vaccine: Vaccine,
    number: u32,
    series: &'static str,
}

/// Generates patient `index` and writes its resources to `sink`.
pub(crate) fn generate(
    ctx: &Context<'_>,
    index: u64,
    registry: &mut CurpRegistry,
    sink: &mut Sink,
    stats: &mut PatientStats,
) -> Result<(), Error> {
    let mut rng = Rng::new(ctx.config.seed, index + 1);
    let mut person = draw_person(ctx, &mut rng, registry, index);
    if person.curp.is_none() {
        stats.without_curp += 1;
    }
    let (mut visits, mut referrals) = plan_visits(ctx, &mut rng, &person);
    let doses = plan_doses(ctx, &mut rng, &person);
    let mut writer = Writer {
        ctx,
        sink,
        rng: &mut rng,
        patient: Ref::new("Patient", person.id),
        stats,
    };
    writer.patient(&person, index)?;
    writer.history(&mut person, &mut visits, &mut referrals)?;
    writer.immunizations(&person, &doses)?;
    let bundle_id = Id::random(writer.rng);
    sink.flush(Some(bundle_id))
}

// ---------------------------------------------------------------------------------------------------
// Demographics and latent health.

fn state_index(code: &str) -> Option<usize> {
    mexico::states::STATES
        .iter()
        .position(|s| s.curp_code == code)
}

fn draw_person(
    ctx: &Context<'_>,
    rng: &mut Rng,
    registry: &mut CurpRegistry,
    _index: u64,
) -> Person {
    let end = ctx.config.end;
    let group = AGE_GROUPS[ctx.age_groups.sample(rng)];
    let age = rng.range(group.0, group.1);
    let upper = add_months(end, -12 * age) - i64::from(age == 0);
    let lower = add_months(end, -12 * (age + 1)) + 1;
    let birth = rng.range(lower, upper);
    let sex = if age >= 18 && rng.chance(NON_BINARY_SHARE) {
        Sex::NonBinary
    } else if rng.chance(group.3) {
        Sex::Male
    } else {
        Sex::Female
    };
    let residence_state =
        ctx.net.home_states[ctx.residence.sample(rng).min(ctx.net.home_states.len() - 1)];
    let native = if age < 5 { 0.95 } else { NATIVE_SHARE };
    let birth_state_idx = if rng.chance(native) {
        residence_state
    } else {
        state_index(mexico::states::pick_by_population(rng.next_u64()).curp_code)
            .unwrap_or(residence_state)
    };
    let birth_state = mexico::states::STATES[birth_state_idx].curp_code;
    let (by, bm, bd) = civil_from_days(birth);
    // Surnames follow the region of birth; someone born abroad carries those of where they live.
    let surname_state = if mexico::states::STATES[birth_state_idx].is_federal_entity() {
        birth_state_idx
    } else {
        residence_state
    };
    let name = PersonName::draw(ctx.names, rng, sex, by, surname_state);
    let curp = if rng.chance(ctx.config.no_curp_share) {
        None
    } else {
        issue_curp(registry, rng, &name, (by, bm, bd), sex, birth_state)
    };

    let munis = &ctx.net.municipalities_by_state[residence_state];
    let municipality = munis[ctx.municipality_weights[residence_state]
        .sample(rng)
        .min(munis.len() - 1)];
    let local = &ctx.net.centres_by_municipality[municipality];
    let home = if local.is_empty() {
        rng.pick(&ctx.net.centres_by_state[residence_state])
            .copied()
            .unwrap_or(0)
    } else {
        rng.pick(local).copied().unwrap_or(0)
    };
    let gp = rng
        .pick(&ctx.net.facilities[home].gps)
        .copied()
        .unwrap_or(0);

    let age_end = age_years(birth, end);
    let z_fat = rng.std_normal();
    let z_height = rng.std_normal();
    let adult_bmi =
        (adult_bmi_base(age_end) + if sex == Sex::Female { 0.9 } else { -0.9 } + 5.0 * z_fat)
            .clamp(16.5, 58.0);
    let obese = if age_end >= 20 {
        adult_bmi >= 30.0
    } else if age_end >= 5 {
        child_z(z_fat, 10.0) > 2.0
    } else {
        false
    };

    let mut person = Person {
        id: Id::random(rng),
        sex,
        birth,
        age_end,
        name,
        birth_state,
        residence_state,
        municipality,
        curp,
        home,
        gp,
        z_fat,
        z_height,
        adult_bmi,
        obese,
        chronic: Vec::new(),
        hba1c_mean: rng.normal(5.3, 0.25, 4.4, 5.9),
        htn_controlled: rng.chance(0.5),
        control_rate: rng.uniform(4.0, 10.0),
        ckd_creatinine: rng.uniform(1.5, 3.6),
        adherence: {
            let u = rng.unit();
            if u < 0.6 {
                VaccineAdherence::High
            } else if u < 0.9 {
                VaccineAdherence::Medium
            } else {
                VaccineAdherence::Low
            }
        },
        allergy: None,
        pregnancies: Vec::new(),
    };
    draw_chronic(ctx, rng, &mut person);
    draw_pregnancies(ctx, rng, &mut person);
    if rng.chance(ALLERGY_SHARE) {
        let weights = Weighted::new(clinical::ALLERGENS.iter().map(|a| {
            if a.category == "food" && age_end < 15 {
                a.weight * 2.5
            } else {
                a.weight
            }
        }));
        person.allergy = clinical::ALLERGENS.get(weights.sample(rng));
    }
    person
}

/// Mean adult BMI by age (ENSANUT 2022: obesity 36.9 %, overweight 38.3 % of adults ≥ 20; obesity peaks
/// at 40–59). With SD 5 these means put 35–37 % of adults at BMI ≥ 30.
fn adult_bmi_base(age: i64) -> f64 {
    match age {
        ..20 => 24.5,
        20..=29 => 26.3,
        30..=39 => 28.4,
        40..=59 => 29.2,
        60..=69 => 28.6,
        _ => 27.2,
    }
}

/// BMI-for-age z of a child (Mexican children sit above the WHO median: ENSANUT 2022 puts obesity,
/// z > +2, at about 18 % of 5–11-year-olds).
fn child_z(z_fat: f64, age: f64) -> f64 {
    if age < 5.0 {
        0.3 + z_fat
    } else {
        0.9 + 1.2 * z_fat
    }
}

/// Diagnosed type 2 diabetes by age (ENSANUT 2022: 12.6 % of adults ≥ 20 report a diagnosis; rises
/// from ~1.5 % at 20–29 to ~30 % at 60–79).
fn diabetes_prevalence(age: i64) -> f64 {
    match age {
        ..20 => 0.0,
        20..=29 => 0.015,
        30..=39 => 0.045,
        40..=49 => 0.11,
        50..=59 => 0.22,
        60..=79 => 0.30,
        _ => 0.26,
    }
}

/// Diagnosed hypertension by age (ENSANUT 2022: 29.9 % prevalence, about two thirds of it diagnosed;
/// target ~20 % of adults ≥ 20 with a diagnosis).
fn hypertension_prevalence(age: i64) -> f64 {
    match age {
        ..20 => 0.0,
        20..=29 => 0.032,
        30..=39 => 0.073,
        40..=49 => 0.165,
        50..=59 => 0.295,
        60..=69 => 0.41,
        70..=79 => 0.48,
        _ => 0.52,
    }
}

fn years_ago(end: Day, years: f64) -> Day {
    end - (years * 365.25) as Day
}

fn draw_chronic(ctx: &Context<'_>, rng: &mut Rng, p: &mut Person) {
    let end = ctx.config.end;
    let start = ctx.config.start;
    let age = p.age_end;
    let female = p.is_female();
    let adult_years = (age - 20) as f64;

    let dm_p = diabetes_prevalence(age)
        * if female { 1.08 } else { 0.92 }
        * if p.obese { 1.35 } else { 0.8 };
    if rng.chance(dm_p) {
        let onset = years_ago(end, rng.uniform(0.0, adult_years.clamp(1.0, 25.0)));
        p.hba1c_mean = rng.normal(8.2, 1.5, 5.9, 13.5);
        let mut regimen = Vec::new();
        if rng.chance(0.9) {
            regimen.push((cnis::METFORMIN, 1.0, 2));
        }
        if rng.chance(0.35) || regimen.is_empty() {
            regimen.push((
                cnis::GLIBENCLAMIDE,
                1.0,
                if rng.chance(0.5) { 1 } else { 2 },
            ));
        }
        let insulin_p = if p.hba1c_mean >= 9.5 { 0.45 } else { 0.08 };
        if rng.chance(insulin_p) {
            let units = rng.range(10, 40) as f64;
            let med = if rng.chance(0.2) {
                cnis::INSULIN_GLARGINE
            } else {
                cnis::INSULIN_NPH
            };
            regimen.push((med, units, 1));
        }
        p.chronic.push(Chronic {
            kind: ChronicKind::Diabetes,
            onset,
            resolved: None,
            regimen,
        });
    }
    let diabetic = p.chronic(ChronicKind::Diabetes).is_some();
    let htn_p = hypertension_prevalence(age)
        * if diabetic { 1.6 } else { 0.92 }
        * if p.obese { 1.3 } else { 0.82 };
    if rng.chance(htn_p.min(0.85)) {
        let onset = years_ago(end, rng.uniform(0.0, adult_years.clamp(1.0, 30.0)));
        let mut regimen = Vec::new();
        let u = rng.unit();
        let first = if u < 0.45 {
            (cnis::LOSARTAN, 1.0, if rng.chance(0.3) { 2 } else { 1 })
        } else if u < 0.82 {
            (cnis::ENALAPRIL, 1.0, if rng.chance(0.5) { 2 } else { 1 })
        } else {
            (cnis::CAPTOPRIL, 1.0, 2)
        };
        regimen.push(first);
        if rng.chance(0.25) {
            regimen.push((cnis::AMLODIPINE, 1.0, 1));
        }
        if rng.chance(0.15) {
            regimen.push((cnis::HCTZ, 1.0, 1));
        }
        p.chronic.push(Chronic {
            kind: ChronicKind::Hypertension,
            onset,
            resolved: None,
            regimen,
        });
    }

    // Dyslipidaemia with a diagnosis (ENSANUT: hypercholesterolaemia diagnosed in ~11 % of adults).
    let dl_base = match age {
        ..20 => 0.0,
        20..=39 => 0.05,
        40..=59 => 0.14,
        _ => 0.19,
    };
    if rng.chance(dl_base * if diabetic { 1.8 } else { 0.9 }) {
        let onset = years_ago(end, rng.uniform(0.0, (age - 25).clamp(1, 15) as f64));
        let u = rng.unit();
        let med = if u < 0.6 {
            cnis::ATORVASTATIN
        } else if u < 0.85 {
            cnis::PRAVASTATIN
        } else {
            cnis::BEZAFIBRATE
        };
        p.chronic.push(Chronic {
            kind: ChronicKind::Dyslipidaemia,
            onset,
            resolved: None,
            regimen: vec![(med, 1.0, 1)],
        });
    }

    // Chronic kidney disease: a complication of long-standing diabetes or hypertension.
    let dm_onset = p.chronic(ChronicKind::Diabetes).map(|c| c.onset);
    let htn_onset = p.chronic(ChronicKind::Hypertension).map(|c| c.onset);
    let ckd_from = match (dm_onset, htn_onset) {
        (Some(d), _) if end - d >= 5 * 365 && rng.chance(0.22) => Some(d),
        (_, Some(h)) if end - h >= 5 * 365 && rng.chance(0.06) => Some(h),
        _ => None,
    };
    if let Some(from) = ckd_from {
        let earliest = from + 5 * 365;
        let onset = rng.range(earliest, end - 1);
        p.chronic.push(Chronic {
            kind: ChronicKind::Ckd,
            onset,
            resolved: None,
            regimen: Vec::new(),
        });
    }

    // Asthma (ISAAC Mexico: ~5 % of schoolchildren with a diagnosis; ~3 % of adults).
    let asthma_p = match age {
        ..3 => 0.0,
        3..=17 => 0.05,
        _ => 0.03,
    };
    if rng.chance(asthma_p) {
        let onset_age = rng.uniform(2.0, (age as f64).clamp(2.5, 12.0));
        let onset = p.birth + (onset_age * 365.25) as Day;
        let mut regimen = vec![(cnis::SALBUTAMOL, 2.0, 4)];
        if rng.chance(0.5) {
            regimen.push((cnis::BECLOMETHASONE, 2.0, 2));
        }
        p.chronic.push(Chronic {
            kind: ChronicKind::Asthma,
            onset: onset.min(end - 1),
            resolved: None,
            regimen,
        });
    }

    // Depression and anxiety diagnosed in primary care during the window (ENSANUT 2022: depressive
    // symptoms in ~16 % of adults, roughly a third diagnosed; women twice as often).
    for (kind, p_female, p_male) in [
        (ChronicKind::Depression, 0.06, 0.03),
        (ChronicKind::Anxiety, 0.04, 0.02),
    ] {
        if age >= 15 && rng.chance(if female { p_female } else { p_male }) {
            let earliest = start.max(p.birth + 15 * 365) - 365;
            let onset = rng.range(earliest, end - 30);
            let resolved = if rng.chance(0.55) {
                Some(onset + rng.range(180, 540))
            } else {
                None
            };
            let med = if rng.chance(0.6) {
                cnis::SERTRALINE
            } else {
                cnis::FLUOXETINE
            };
            let regimen = if rng.chance(0.75) {
                vec![(med, 1.0, 1)]
            } else {
                Vec::new()
            };
            p.chronic.push(Chronic {
                kind,
                onset,
                resolved: resolved.filter(|&r| r < end),
                regimen,
            });
        }
    }

    // Hypothyroidism (~5 % of women ≥ 30, ~1 % of men).
    if age >= 30 && rng.chance(if female { 0.05 } else { 0.01 }) {
        let onset = years_ago(end, rng.uniform(0.0, (age - 30).clamp(1, 20) as f64));
        p.chronic.push(Chronic {
            kind: ChronicKind::Hypothyroidism,
            onset,
            resolved: None,
            regimen: vec![(cnis::LEVOTHYROXINE, 1.0, 1)],
        });
    }
}

/// Age-specific fertility (CONAPO 2020, births per woman per year).
fn fertility(age: i64) -> f64 {
    match age {
        15..=19 => 0.070,
        20..=24 => 0.125,
        25..=29 => 0.115,
        30..=34 => 0.080,
        35..=39 => 0.040,
        40..=44 => 0.010,
        _ => 0.0,
    }
}

fn draw_pregnancies(ctx: &Context<'_>, rng: &mut Rng, p: &mut Person) {
    if p.sex != Sex::Female {
        return;
    }
    let (start, end) = (ctx.config.start, ctx.config.end);
    // Conceptions up to 9 months before the window still have prenatal visits inside it.
    let mut day = start - 240;
    let mut last_delivery: Option<Day> = None;
    while day < end {
        let age = p.age_at(day);
        let eligible = last_delivery.is_none_or(|d| day > d + 300);
        if eligible && rng.chance(fertility(age) / 12.0) {
            let conception = day + rng.range(0, 29);
            // Share of pregnancies that are a first pregnancy, by age (INEGI birth statistics: most
            // births to teenagers are first births, few after 30 are).
            let first_share = match age {
                ..20 => 0.85,
                20..=24 => 0.50,
                25..=29 => 0.32,
                _ => 0.15,
            };
            let first = last_delivery.is_none() && rng.chance(first_share);
            p.pregnancies.push(Pregnancy {
                conception,
                first,
                gestational_diabetes: rng.chance(0.08),
                condition: None,
                gdm_condition: None,
            });
            last_delivery = Some(conception + 266);
        }
        day += 30;
    }
}

// ---------------------------------------------------------------------------------------------------
// Planning.

/// Moves a day off the weekend (clinics open Monday to Friday).
fn weekday_of(day: Day, start: Day, end: Day) -> Day {
    let d = match weekday(day) {
        5 => day + 2,
        6 => day + 1,
        _ => day,
    };
    if d >= end {
        // Back to the previous Friday.
        let back = match weekday(day) {
            5 => day - 1,
            6 => day - 2,
            _ => day,
        };
        back.max(start)
    } else {
        d
    }
}

struct Planner<'c, 'a> {
    ctx: &'c Context<'a>,
    start: Day,
    end: Day,
    visits: Vec<Visit>,
}

impl Planner<'_, '_> {
    fn add(
        &mut self,
        rng: &mut Rng,
        person: &Person,
        day: Day,
        kind: VisitKind,
        elsewhere_share: f64,
    ) {
        let lo = self.start.max(person.birth + 1);
        if day < lo || day >= self.end {
            return;
        }
        let day = weekday_of(day, lo, self.end);
        let net = self.ctx.net;
        let mut facility = person.home;
        if rng.chance(elsewhere_share) {
            let local = &net.centres_by_municipality[person.municipality];
            let pool = if local.len() > 1 {
                local
            } else {
                &net.centres_by_state[person.residence_state]
            };
            let others: Vec<usize> = pool.iter().copied().filter(|&f| f != person.home).collect();
            if let Some(&f) = rng.pick(&others) {
                facility = f;
            }
        }
        let f = &net.facilities[facility];
        let practitioner = if facility == person.home && rng.chance(0.8) {
            person.gp
        } else {
            rng.pick(&f.gps).copied().unwrap_or(person.gp)
        };
        self.visits.push(Visit {
            day,
            kind,
            facility,
            practitioner,
            labs: 0,
            glucose: false,
        });
    }
}

/// Per-year consultation rate of each acute problem for a person of this age and sex on this day.
/// Calibrated to SINAVE/SUIVE morbidity (acute respiratory infections are by far the first cause of
/// consultation, then diarrhoeal disease and urinary tract infections) and to roughly 3 consultations
/// a year for children under 5 and 0.7 for adults.
fn acute_rates(p: &Person, day: Day, out: &mut Vec<(Dx, f64)>) {
    out.clear();
    let age = p.age_at(day);
    let (_, month, _) = civil_from_days(day);
    let winter = matches!(month, 11 | 12 | 1 | 2);
    let summer = matches!(month, 5..=8);
    let resp = if winter {
        1.5
    } else if summer {
        0.6
    } else {
        1.0
    };
    let gi = if (4..=8).contains(&month) { 1.4 } else { 0.8 };
    let band = |kid: f64, school: f64, adult: f64, old: f64| match age {
        0..=4 => kid,
        5..=14 => school,
        15..=59 => adult,
        _ => old,
    };
    out.push((cie::COMMON_COLD, resp * band(0.9, 0.35, 0.12, 0.15)));
    out.push((cie::URTI, resp * band(0.8, 0.30, 0.10, 0.15)));
    out.push((cie::PHARYNGITIS, resp * band(0.30, 0.25, 0.08, 0.06)));
    out.push((cie::TONSILLITIS, resp * band(0.20, 0.20, 0.04, 0.02)));
    out.push((cie::OTITIS, resp * band(0.25, 0.08, 0.01, 0.01)));
    out.push((cie::BRONCHITIS, resp * band(0.10, 0.05, 0.04, 0.08)));
    out.push((cie::PNEUMONIA, resp * band(0.03, 0.005, 0.005, 0.03)));
    out.push((cie::DIARRHOEA, gi * band(0.60, 0.15, 0.07, 0.07)));
    if age >= 2 {
        out.push((cie::PARASITOSIS, band(0.10, 0.10, 0.02, 0.02)));
    }
    let uti = match (p.is_female(), age) {
        (true, 2..=14) => 0.03,
        (true, 15..=64) => 0.12,
        (true, _) if age >= 65 => 0.15,
        (false, _) if age >= 15 => 0.015,
        _ => 0.0,
    };
    out.push((cie::UTI, uti));
    if age >= 3 {
        out.push((cie::CARIES, band(0.0, 0.20, 0.08, 0.06)));
    }
    if age >= 15 {
        out.push((cie::GASTRITIS, 0.06));
        out.push((cie::LOW_BACK_PAIN, if age >= 20 { 0.06 } else { 0.01 }));
    }
    out.push((cie::DERMATITIS, band(0.06, 0.03, 0.03, 0.03)));
    // COVID-19 waves in Mexico after November 2021: Omicron (Dec 2021 – Feb 2022) and summer 2022.
    let (y, m, _) = civil_from_days(day);
    let covid = match (y, m) {
        (2021, 12) | (2022, 1 | 2) => 0.35,
        (2022, 6..=8) => 0.20,
        (2022, _) => 0.03,
        (y, _) if y >= 2023 => 0.015,
        _ => 0.02,
    };
    out.push((cie::COVID19, covid * if age < 15 { 0.3 } else { 1.0 }));
}

fn plan_visits(ctx: &Context<'_>, rng: &mut Rng, p: &Person) -> (Vec<Visit>, Vec<ReferralPlan>) {
    let (start, end) = (ctx.config.start, ctx.config.end);
    let mut plan = Planner {
        ctx,
        start,
        end,
        visits: Vec::new(),
    };

    // Well-child controls (NOM-031-SSA2: monthly in the first months, then every 6–12 months to age 5).
    for months in [1, 2, 4, 6, 9, 12, 18, 24, 36, 48] {
        let attend = match p.adherence {
            VaccineAdherence::High => 0.75,
            VaccineAdherence::Medium => 0.55,
            VaccineAdherence::Low => 0.3,
        };
        if rng.chance(attend) {
            let day = add_months(p.birth, months) + rng.range(0, 14);
            plan.add(rng, p, day, VisitKind::WellChild, 0.0);
        }
    }

    // Acute problems, month by month.
    let mut rates = Vec::new();
    let mut month_start = start.max(p.birth + 7);
    while month_start < end {
        acute_rates(p, month_start, &mut rates);
        let total: f64 = rates.iter().map(|r| r.1).sum();
        if total > 0.0 && rng.chance((total / 12.0).min(0.8)) {
            let table = Weighted::new(rates.iter().map(|r| r.1));
            let dx = rates[table.sample(rng)].0;
            let day = month_start + rng.range(0, 29);
            plan.add(rng, p, day, VisitKind::Acute(dx), ELSEWHERE_SHARE);
        }
        month_start += 30;
    }

    // Iron-deficiency anaemia (ENSANUT 2018–2022: ~20 % of children 1–4 and ~15 % of women 15–49 anaemic).
    let mut day = start.max(p.birth + 365);
    while day < end {
        let age = p.age_at(day);
        let rate = if (1..=4).contains(&age) {
            0.06
        } else if p.is_female() && (15..=49).contains(&age) {
            0.03
        } else {
            0.0
        };
        if rate > 0.0 && rng.chance(rate) {
            let when = day + rng.range(0, 364);
            plan.add(rng, p, when, VisitKind::Anaemia, ELSEWHERE_SHARE);
        }
        day += 365;
    }

    // Adult check-ups ("detección integrada": glucose, blood pressure, weight) at ~25 % a year.
    let mut day = start;
    while day < end {
        if p.age_at(day) >= 20 && rng.chance(0.25) {
            let when = day + rng.range(0, 364);
            plan.add(rng, p, when, VisitKind::Checkup, ELSEWHERE_SHARE);
        }
        day += 365;
    }

    // Chronic diseases: a diagnosis visit when the onset falls in the window, then regular controls
    // at the highest rate any active condition needs.
    for c in &p.chronic {
        if c.onset >= start {
            plan.add(
                rng,
                p,
                c.onset,
                VisitKind::Control {
                    diagnosis: Some(c.kind),
                },
                0.0,
            );
        }
    }
    if !p.chronic.is_empty() {
        let mut day = start + rng.range(0, 40);
        while day < end {
            let active: Vec<&Chronic> = p
                .chronic
                .iter()
                .filter(|c| c.onset < day && c.resolved.is_none_or(|r| r > day))
                .collect();
            if active.is_empty() {
                let next = p
                    .chronic
                    .iter()
                    .map(|c| c.onset)
                    .filter(|&o| o >= day)
                    .min();
                match next {
                    Some(o) => {
                        day = o + rng.range(20, 40);
                        continue;
                    }
                    None => break,
                }
            }
            let rate = active
                .iter()
                .map(|c| match c.kind {
                    ChronicKind::Diabetes | ChronicKind::Hypertension => p.control_rate,
                    k => k.controls_per_year(),
                })
                .fold(0.0, f64::max);
            plan.add(
                rng,
                p,
                day,
                VisitKind::Control { diagnosis: None },
                ELSEWHERE_CONTROL_SHARE,
            );
            let step = 365.0 / rate;
            day += (step * rng.uniform(0.8, 1.2)).max(14.0) as Day;
        }
    }

    // Prenatal care (NOM-007-SSA2-2016: at least five visits, the first before week 12).
    for (i, preg) in p.pregnancies.iter().enumerate() {
        let mut weeks: Vec<i64> = vec![rng.range(6, 13)];
        for w in [16, 20, 24, 28, 32, 36, 38] {
            if rng.chance(0.8) {
                weeks.push(w + rng.range(-1, 1));
            }
        }
        let gdm_week = if preg.gestational_diabetes {
            weeks.iter().copied().find(|&w| (24..=30).contains(&w))
        } else {
            None
        };
        for w in weeks {
            let kind = VisitKind::Prenatal {
                pregnancy: i,
                gdm_diagnosis: Some(w) == gdm_week,
            };
            plan.add(rng, p, preg.conception + 7 * w, kind, 0.02);
        }
    }

    plan.visits.sort_by_key(|v| (v.day, v.kind.order()));

    // Laboratory orders and capillary glucose.
    let (mut last_a1c, mut last_lipids, mut last_creat) =
        (Day::MIN / 2, Day::MIN / 2, Day::MIN / 2);
    for v in &mut plan.visits {
        let age = p.age_at(v.day);
        match v.kind {
            VisitKind::Control { .. } => {
                if p.has_at(ChronicKind::Diabetes, v.day) {
                    v.glucose = true;
                    if v.day - last_a1c >= 150 && rng.chance(0.8) {
                        v.labs |= LAB_HBA1C;
                        last_a1c = v.day;
                    }
                }
                let cardio = p.has_at(ChronicKind::Diabetes, v.day)
                    || p.has_at(ChronicKind::Hypertension, v.day)
                    || p.has_at(ChronicKind::Dyslipidaemia, v.day);
                if cardio && v.day - last_lipids >= 330 && rng.chance(0.7) {
                    v.labs |= LAB_LIPIDS;
                    last_lipids = v.day;
                }
                let kidney = p.has_at(ChronicKind::Diabetes, v.day)
                    || p.has_at(ChronicKind::Hypertension, v.day)
                    || p.has_at(ChronicKind::Ckd, v.day);
                let creat_gap = if p.has_at(ChronicKind::Ckd, v.day) {
                    100
                } else {
                    330
                };
                if kidney && v.day - last_creat >= creat_gap && rng.chance(0.7) {
                    v.labs |= LAB_CREATININE;
                    last_creat = v.day;
                }
            }
            VisitKind::Checkup => {
                v.glucose = true;
                if rng.chance(0.25) && v.day - last_lipids >= 330 {
                    v.labs |= LAB_LIPIDS;
                    last_lipids = v.day;
                }
                if rng.chance(0.10) {
                    v.labs |= LAB_CBC;
                }
            }
            VisitKind::Prenatal {
                pregnancy,
                gdm_diagnosis,
            } => {
                let first = p.pregnancies[pregnancy].condition.is_none()
                    && !plan_seen_pregnancy(pregnancy, v.day, p);
                if first {
                    v.labs |= LAB_CBC;
                    v.glucose = true;
                }
                if gdm_diagnosis {
                    v.glucose = true;
                }
            }
            VisitKind::Anaemia => v.labs |= LAB_CBC,
            VisitKind::Acute(dx) => {
                if dx == cie::PNEUMONIA && rng.chance(0.5) {
                    v.labs |= LAB_CBC;
                }
                if age >= 40 && rng.chance(0.10) {
                    v.glucose = true;
                }
            }
            _ => {}
        }
    }

    // Referrals to a hospital (NOM-004 §6.4 referencia) and the specialist visit that follows.
    let mut referrals: Vec<ReferralPlan> = Vec::new();
    let mut referred: Vec<Specialty> = Vec::new();
    let mut hospital_visits: Vec<Visit> = Vec::new();
    for v in &plan.visits {
        let age = p.age_at(v.day);
        let want: Option<(Specialty, Dx, bool)> = match v.kind {
            VisitKind::Control { .. } => {
                if p.has_at(ChronicKind::Ckd, v.day) && rng.chance(0.15) {
                    Some((Specialty::Nephrology, cie::CKD, false))
                } else if p.has_at(ChronicKind::Diabetes, v.day)
                    && p.hba1c_mean >= 9.5
                    && rng.chance(0.08)
                {
                    Some((Specialty::InternalMedicine, cie::DIABETES_T2, false))
                } else if p.has_at(ChronicKind::Hypertension, v.day)
                    && !p.htn_controlled
                    && rng.chance(0.02)
                {
                    Some((Specialty::Cardiology, cie::HYPERTENSION, false))
                } else if p.has_at(ChronicKind::Depression, v.day) && rng.chance(0.05) {
                    Some((Specialty::Psychiatry, cie::DEPRESSION, false))
                } else {
                    None
                }
            }
            VisitKind::Prenatal {
                gdm_diagnosis: true,
                ..
            } => Some((
                Specialty::ObstetricsGynaecology,
                cie::GESTATIONAL_DIABETES,
                false,
            )),
            VisitKind::Acute(dx) if dx == cie::PNEUMONIA => {
                if age < 15 && rng.chance(0.6) {
                    Some((Specialty::Paediatrics, dx, true))
                } else if age >= 60 && rng.chance(0.5) {
                    Some((Specialty::InternalMedicine, dx, true))
                } else {
                    None
                }
            }
            _ => None,
        };
        let Some((specialty, reason, urgent)) = want else {
            continue;
        };
        if !urgent && referred.contains(&specialty) {
            continue;
        }
        let Some(hospital) = pick_hospital(ctx, p, specialty, rng) else {
            continue;
        };
        let Some(specialist) = ctx.net.facilities[hospital].specialist(specialty, rng) else {
            continue;
        };
        referred.push(specialty);
        let delay = if urgent {
            rng.range(0, 1)
        } else {
            rng.range(14, 60)
        };
        let attended = rng.chance(if urgent { 0.95 } else { 0.85 });
        let day = weekday_of(v.day + delay, v.day, end.max(v.day + 1));
        let attended = attended && day < end;
        let idx = referrals.len();
        referrals.push(ReferralPlan {
            from_visit_day: v.day,
            specialty,
            reason,
            hospital,
            urgent,
            attended,
            id: None,
        });
        if attended {
            hospital_visits.push(Visit {
                day,
                kind: VisitKind::Hospital {
                    specialty,
                    reason,
                    referral: idx,
                },
                facility: hospital,
                practitioner: specialist,
                labs: 0,
                glucose: reason == cie::DIABETES_T2 || reason == cie::GESTATIONAL_DIABETES,
            });
        }
    }
    plan.visits.extend(hospital_visits);

    // Redundant tests: some laboratory orders are repeated a few days later at another facility
    // (the patient consults elsewhere and the results do not travel).
    let mut repeats = Vec::new();
    for v in &plan.visits {
        if v.labs == 0 || !rng.chance(REPEAT_ELSEWHERE_SHARE) {
            continue;
        }
        let pool = &ctx.net.centres_by_state[p.residence_state];
        let mut others: Vec<usize> = pool.iter().copied().filter(|&f| f != v.facility).collect();
        if others.is_empty() {
            // A one-clinic network: the repeat happens at the state's hospital.
            others = ctx.net.hospitals_by_state[p.residence_state]
                .iter()
                .copied()
                .filter(|&f| f != v.facility)
                .collect();
        }
        let Some(&facility) = rng.pick(&others) else {
            continue;
        };
        let day = weekday_of(v.day + rng.range(2, 10), v.day + 1, end);
        if day <= v.day || day >= end {
            continue;
        }
        let practitioner = rng
            .pick(&ctx.net.facilities[facility].gps)
            .copied()
            .unwrap_or(p.gp);
        repeats.push(Visit {
            day,
            kind: VisitKind::RepeatLabs,
            facility,
            practitioner,
            labs: v.labs,
            glucose: v.glucose,
        });
    }
    plan.visits.extend(repeats);
    plan.visits.sort_by_key(|v| (v.day, v.kind.order()));
    (plan.visits, referrals)
}

/// True if an earlier prenatal visit of the same pregnancy happens before `day` (used while planning,
/// before conditions exist).
fn plan_seen_pregnancy(pregnancy: usize, day: Day, p: &Person) -> bool {
    let preg = &p.pregnancies[pregnancy];
    // The first planned visit is at week 6–12; anything after week 14 is a follow-up.
    day - preg.conception > 7 * 14
}

fn pick_hospital(
    ctx: &Context<'_>,
    p: &Person,
    specialty: Specialty,
    rng: &mut Rng,
) -> Option<usize> {
    let hospitals = &ctx.net.hospitals_by_state[p.residence_state];
    let with: Vec<usize> = hospitals
        .iter()
        .copied()
        .filter(|&h| {
            ctx.net.facilities[h]
                .specialists
                .iter()
                .any(|(s, _)| *s == specialty)
        })
        .collect();
    let near: Vec<usize> = with
        .iter()
        .copied()
        .filter(|&h| ctx.net.facilities[h].municipality == p.municipality)
        .collect();
    if let Some(&h) = rng.pick(&near) {
        return Some(h);
    }
    with.first().copied()
}

/// The vaccination schedule (Programa de Vacunación Universal, Secretaría de Salud; 2023–2024 scheme
/// with hexavalent vaccine) with coverage per dose (ENSANUT 2021–2022 vaccination module, rounded).
fn plan_doses(ctx: &Context<'_>, rng: &mut Rng, p: &Person) -> Vec<Dose> {
    let (start, end) = (ctx.config.start, ctx.config.end);
    let mut doses = Vec::new();
    let shift = match p.adherence {
        VaccineAdherence::High => 0.08,
        VaccineAdherence::Medium => 0.0,
        VaccineAdherence::Low => -0.40,
    };
    let delay_max = match p.adherence {
        VaccineAdherence::High => 20,
        VaccineAdherence::Medium => 60,
        VaccineAdherence::Low => 150,
    };
    let childhood = p.birth >= add_months(end, -12 * 16);
    // Doses before the window are transcribed from the Cartilla Nacional de Salud; only the childhood
    // schedule is transcribed (adults rarely bring a record of their past campaigns).
    const TRANSCRIBED: [&str; 3] = ["Esquema básico", "Esquema escolar", "Refuerzo adolescente"];
    let mut push = |day: Day, vaccine: Vaccine, number: u32, series: &'static str| {
        if day >= p.birth && day < end && (day >= start || TRANSCRIBED.contains(&series)) {
            doses.push(Dose {
                day,
                vaccine,
                number,
                series,
            });
        }
    };
    if childhood {
        // (vaccine, age in months at each dose, marginal coverage of each dose).
        let series: [(Vaccine, &[(i64, f64)]); 7] = [
            (vx::BCG, &[(0, 0.94)]),
            (vx::HEPB_PED, &[(0, 0.85)]),
            (
                vx::HEXAVALENT,
                &[(2, 0.93), (4, 0.89), (6, 0.84), (18, 0.72)],
            ),
            (vx::ROTAVIRUS, &[(2, 0.90), (4, 0.86), (6, 0.80)]),
            (vx::PCV13, &[(2, 0.92), (4, 0.88), (12, 0.80)]),
            (vx::MMR, &[(12, 0.88), (18, 0.75)]),
            (vx::DTP, &[(48, 0.68)]),
        ];
        for (vaccine, schedule) in series {
            let mut previous = 1.0;
            for (n, &(months, coverage)) in schedule.iter().enumerate() {
                // Conditional on the previous dose: the series stops at the first missed dose.
                let p_dose = ((coverage + shift) / previous).clamp(0.0, 0.995);
                if !rng.chance(p_dose) {
                    break;
                }
                previous = (coverage + shift).clamp(0.005, 1.0);
                let base = if months == 0 {
                    p.birth + rng.range(0, 6)
                } else {
                    add_months(p.birth, months)
                };
                let day = base
                    + if months == 0 {
                        0
                    } else {
                        rng.range(0, delay_max)
                    };
                push(day, vaccine, n as u32 + 1, "Esquema básico");
            }
        }
        // HPV in 5th grade (girls since 2012, boys since the 2024 campaign), one dose.
        let eleven = add_months(p.birth, 132) + rng.range(0, 200);
        let hpv_since = days_from_civil(2024, 9, 1);
        let hpv_p = match p.sex {
            Sex::Female => 0.75,
            _ if eleven >= hpv_since => 0.45,
            _ => 0.0,
        };
        if rng.chance(hpv_p) {
            push(eleven, vx::HPV, 1, "Esquema escolar");
        }
        if rng.chance(0.5) {
            let when = add_months(p.birth, 180) + rng.range(0, 300);
            push(when, vx::TD, 1, "Refuerzo adolescente");
        }
    }

    // Seasonal influenza (October to February): children 6–59 months, adults ≥ 60, chronic disease, pregnancy.
    let (start_year, _, _) = civil_from_days(start);
    let (end_year, _, _) = civil_from_days(end);
    let mut first_season = true;
    for y in start_year..=end_year {
        let season_start = days_from_civil(y, 10, 15);
        let months = age_months(p.birth, season_start + 30);
        let age = p.age_at(season_start);
        let chronic = p.chronic.iter().any(|c| {
            c.onset < season_start
                && c.kind != ChronicKind::Depression
                && c.kind != ChronicKind::Anxiety
        });
        let pregnant = p.pregnancy_at(season_start + 45).is_some();
        let coverage = if (6..60).contains(&months) {
            0.55 + shift / 2.0
        } else if age >= 60 {
            0.55
        } else if pregnant {
            0.50
        } else if chronic {
            0.45
        } else {
            0.05
        };
        if rng.chance(coverage) {
            let day = if rng.chance(0.8) {
                season_start + rng.range(0, 77)
            } else {
                days_from_civil(y + 1, 1, 5) + rng.range(0, 50)
            };
            push(day, vx::INFLUENZA, 1, "Temporada invernal");
            if first_season && (6..36).contains(&months) {
                push(day + 28, vx::INFLUENZA, 2, "Temporada invernal");
            }
            first_season = false;
        }
    }

    // COVID-19: a booster in the first half of 2022 for adults, then seasonal doses for ≥ 60 and chronic.
    if p.age_at(days_from_civil(2022, 1, 1)) >= 18 && rng.chance(0.45) {
        let day = days_from_civil(2021, 11, 15) + rng.range(0, 225);
        push(day, vx::COVID19, 3, "Refuerzo");
    }
    let mut covid_n = 4;
    for y in 2023..=end_year {
        let day = days_from_civil(y, 10, 20) + rng.range(0, 60);
        let at_risk = p.age_at(day) >= 60
            || p.chronic
                .iter()
                .any(|c| c.onset < day && c.kind == ChronicKind::Diabetes);
        if at_risk && rng.chance(0.3) {
            push(day, vx::COVID19, covid_n, "Temporada invernal");
            covid_n += 1;
        }
    }

    // Adults: Td booster every 10 years; Tdpa in pregnancy (weeks 20–32); pneumococcal 23 at 65.
    if p.age_end >= 20 && rng.chance(0.35 * f64::from((end - start) as i32) / 3652.5) {
        let when = rng.range(start, end - 1);
        push(when, vx::TD, 1, "Refuerzo cada 10 años");
    }
    for preg in &p.pregnancies {
        if rng.chance(0.7) {
            let when = preg.conception + 7 * rng.range(20, 32);
            push(when, vx::TDAP, 1, "Embarazo");
        }
    }
    let sixty_five = add_months(p.birth, 65 * 12);
    if sixty_five < end && rng.chance(0.4) {
        let from = sixty_five.max(start);
        let when = rng.range(from, end - 1);
        push(when, vx::PPSV23, 1, "Adulto mayor");
    }
    doses.sort_by_key(|d| d.day);
    // Vaccination happens on working days too.
    for d in &mut doses {
        d.day = weekday_of(d.day, p.birth.max(d.day - 7), end);
    }
    doses
}

// ---------------------------------------------------------------------------------------------------
// Emission.

/// A prescription: what, how much, how often, for how long.
struct Rx {
    med: Med,
    dose: Num,
    every_hours: u32,
    days: u32,
    text: String,
    quantity: Num,
}

fn plural(unit: &str, n: f64) -> String {
    let one = (n - 1.0).abs() < 1e-9;
    match unit {
        "tableta" | "cápsula" | "disparo" | "sobre" if !one => format!("{unit}s"),
        _ => unit.to_owned(),
    }
}

fn rx(med: Med, dose: f64, dose_scale: u8, every_hours: u32, days: u32, note: &str) -> Rx {
    let dose_num = Num::fixed(dose, dose_scale);
    let per_day = 24 / every_hours.max(1);
    let verb = match med.dose_unit {
        "UI" => "Aplicar",
        "disparo" => "Inhalar",
        "sobre" => "Disolver",
        _ => "Tomar",
    };
    let unit = plural(med.dose_unit, dose);
    let text = match med.dose_unit {
        "sobre" => format!(
            "Disolver 1 sobre en 1 litro de agua hervida y tomar a libre demanda después de cada evacuación, por {days} días."
        ),
        "UI" => format!(
            "{verb} {dose_num} {unit} por vía subcutánea cada {every_hours} horas{note}, por {days} días."
        ),
        _ => format!("{verb} {dose_num} {unit} cada {every_hours} horas{note}, por {days} días."),
    };
    let quantity = match med.dose_unit {
        // Insulin is dispensed by vial (10 mL of 100 UI/mL = 1000 UI); inhalers by device (200 doses).
        "UI" => Num::int(
            ((dose * f64::from(per_day) * f64::from(days)) / 1000.0)
                .ceil()
                .max(1.0) as i64
                * 1000,
        ),
        "disparo" => Num::int(200),
        _ => Num::fixed(dose * f64::from(per_day) * f64::from(days), dose_scale),
    };
    Rx {
        med,
        dose: dose_num,
        every_hours,
        days,
        text,
        quantity,
    }
}

/// Rounds a syrup dose to half millilitres, as written on a prescription.
fn half_ml(ml: f64) -> f64 {
    (ml * 2.0).round().max(1.0) / 2.0
}

fn acute_prescriptions(dx: Dx, p: &Person, day: Day, weight: f64, rng: &mut Rng) -> Vec<Rx> {
    let age = p.age_at(day);
    let child = age < 12;
    let allergic_penicillin = p.allergy.is_some_and(|a| a.snomed == "764146007");
    let allergic_sulfa = p.allergy.is_some_and(|a| a.snomed == "387406002");
    let allergic_nsaid = p.allergy.is_some_and(|a| a.snomed == "372665008");
    let mut out = Vec::new();
    let antipyretic = |out: &mut Vec<Rx>, days: u32| {
        if child {
            // Paracetamol 15 mg/kg per dose, 100 mg/mL drops.
            out.push(rx(
                cnis::PARACETAMOL_DROPS,
                half_ml(weight * 15.0 / 100.0),
                1,
                6,
                days,
                " en caso de fiebre o dolor",
            ));
        } else {
            out.push(rx(
                cnis::PARACETAMOL_TAB,
                1.0,
                0,
                8,
                days,
                " en caso de fiebre o dolor",
            ));
        }
    };
    let antibiotic = |out: &mut Vec<Rx>, days: u32| {
        if allergic_penicillin {
            out.push(rx(cnis::ERYTHROMYCIN, 1.0, 0, 6, days, ""));
        } else if child {
            // Amoxicillin 50 mg/kg/day in three doses; suspension 500 mg/5 mL = 100 mg/mL.
            out.push(rx(
                cnis::AMOXICILLIN_SUSP,
                half_ml(weight * 50.0 / 3.0 / 100.0),
                1,
                8,
                days,
                "",
            ));
        } else {
            out.push(rx(cnis::AMOXICILLIN_CAP, 1.0, 0, 8, days, ""));
        }
    };
    let code = dx.code;
    match code {
        "J00" | "J06.9" => {
            antipyretic(&mut out, 3);
            if !child && rng.chance(0.3) {
                out.push(rx(cnis::CHLORPHENAMINE, 1.0, 0, 8, 5, ""));
            }
        }
        "J02.9" | "J03.9" | "H66.9" => {
            antipyretic(&mut out, 3);
            // Antibiotics are prescribed in most pharyngotonsillitis and otitis consultations in Mexican
            // primary care (well above guideline rates); we keep ~60 %.
            if rng.chance(0.6) {
                antibiotic(&mut out, if code == "H66.9" { 10 } else { 7 });
            }
        }
        "J20.9" | "U07.1" => antipyretic(&mut out, 5),
        "J18.9" => {
            antipyretic(&mut out, 5);
            antibiotic(&mut out, 7);
        }
        "A09" => {
            out.push(rx(cnis::ORS, 1.0, 0, 24, 3, ""));
            if child {
                antipyretic(&mut out, 2);
            }
        }
        "B82.9" => out.push(rx(cnis::ALBENDAZOLE, 2.0, 0, 24, 1, "")),
        "N39.0" => {
            if !allergic_sulfa && rng.chance(0.5) && !child {
                out.push(rx(cnis::TMP_SMX, 2.0, 0, 12, 5, ""));
            } else if !child {
                out.push(rx(cnis::NITROFURANTOIN, 1.0, 0, 6, 7, ""));
            } else {
                antibiotic(&mut out, 7);
            }
        }
        "K29.7" => out.push(rx(cnis::OMEPRAZOLE, 1.0, 0, 24, 14, " en ayunas")),
        "M54.5" | "K02.9" => {
            if allergic_nsaid || child {
                antipyretic(&mut out, 5);
            } else if rng.chance(0.5) {
                out.push(rx(cnis::NAPROXEN, 1.0, 0, 12, 5, " con alimentos"));
            } else {
                out.push(rx(cnis::IBUPROFEN, 1.0, 0, 8, 5, " con alimentos"));
            }
        }
        _ => {}
    }
    out
}

struct Writer<'w, 'c, 'a> {
    ctx: &'c Context<'a>,
    sink: &'w mut Sink,
    rng: &'w mut Rng,
    patient: Ref,
    stats: &'w mut PatientStats,
}

/// What the emission remembers about the patient's record.
struct RecordState {
    chronic_ids: Vec<(ChronicKind, Id)>,
    obesity_recorded: bool,
    allergy_recorded: bool,
    last_year_seen: i32,
    reports: Vec<(&'static str, Day, usize)>,
}

/// A reference range: optional low and high limits.
type Range = (Option<f64>, Option<f64>);

/// Values of one visit's vital signs.
struct Vitals {
    weight: f64,
    height: f64,
    bmi: Option<f64>,
    bp: Option<(i64, i64)>,
    heart_rate: i64,
    temperature: f64,
    glucose: Option<i64>,
}

const HEIGHT_MEDIAN_BOYS: [(f64, f64); 22] = [
    (0.0, 49.9),
    (0.25, 61.4),
    (0.5, 67.6),
    (1.0, 75.7),
    (1.5, 82.3),
    (2.0, 87.8),
    (3.0, 96.1),
    (4.0, 103.3),
    (5.0, 110.0),
    (6.0, 116.0),
    (7.0, 121.7),
    (8.0, 127.3),
    (9.0, 132.6),
    (10.0, 137.8),
    (11.0, 143.1),
    (12.0, 149.1),
    (13.0, 156.0),
    (14.0, 163.2),
    (15.0, 169.0),
    (16.0, 172.9),
    (17.0, 175.2),
    (18.0, 176.1),
];
const HEIGHT_MEDIAN_GIRLS: [(f64, f64); 22] = [
    (0.0, 49.1),
    (0.25, 59.8),
    (0.5, 65.7),
    (1.0, 74.0),
    (1.5, 80.7),
    (2.0, 86.4),
    (3.0, 95.1),
    (4.0, 102.7),
    (5.0, 109.4),
    (6.0, 115.1),
    (7.0, 120.8),
    (8.0, 126.6),
    (9.0, 132.5),
    (10.0, 138.6),
    (11.0, 144.9),
    (12.0, 151.2),
    (13.0, 156.4),
    (14.0, 159.8),
    (15.0, 161.7),
    (16.0, 162.5),
    (17.0, 162.9),
    (18.0, 163.1),
];
/// WHO BMI-for-age medians (both sexes averaged).
const BMI_MEDIAN: [(f64, f64); 20] = [
    (0.0, 13.4),
    (0.25, 16.6),
    (0.5, 17.1),
    (1.0, 16.6),
    (1.5, 16.0),
    (2.0, 15.9),
    (3.0, 15.5),
    (4.0, 15.3),
    (5.0, 15.2),
    (6.0, 15.3),
    (7.0, 15.5),
    (8.0, 15.7),
    (10.0, 16.5),
    (11.0, 17.1),
    (12.0, 17.8),
    (13.0, 18.5),
    (14.0, 19.3),
    (15.0, 20.0),
    (16.0, 20.6),
    (18.0, 21.5),
];

fn interpolate(table: &[(f64, f64)], x: f64) -> f64 {
    let Some(first) = table.first() else {
        return 0.0;
    };
    if x <= first.0 {
        return first.1;
    }
    for w in table.windows(2) {
        if x <= w[1].0 {
            let t = (x - w[0].0) / (w[1].0 - w[0].0);
            return w[0].1 + t * (w[1].1 - w[0].1);
        }
    }
    table.last().map_or(0.0, |l| l.1)
}

impl Writer<'_, '_, '_> {
    fn practitioner(&self, staff: usize) -> Ref {
        Ref::new("Practitioner", self.ctx.net.staff[staff].id)
    }

    fn patient(&mut self, p: &Person, index: u64) -> Result<(), Error> {
        let ctx = self.ctx;
        let rng = &mut *self.rng;
        let home = &ctx.net.facilities[p.home];
        let m = &geo::MUNICIPALITIES[p.municipality];
        let state_name = mexico::states::STATES[p.residence_state].name;
        let street = format!(
            "{} {}",
            rng.pick(geo::STREETS).copied().unwrap_or("Hidalgo"),
            rng.range(1, 2500)
        );
        let colonia_name = rng.pick(geo::COLONIAS).copied().unwrap_or("Centro");
        let colonia = format!("Col. {colonia_name}");
        let postal = format!(
            "{:05}",
            rng.range(i64::from(m.postal_lo), i64::from(m.postal_hi))
        );
        let address_text = format!(
            "{street}, {colonia}, C.P. {postal}, {}, {state_name}",
            m.name
        );
        let phone_number = rng.chance(PHONE_SHARE).then(|| phone(rng, m.lada));
        let folio = format!("{}-{:08}", home.clues, index + 1);
        let family = p.name.family();
        let text = p.name.text();

        let mut extension = vec![Extension::String(
            mexico::systems::EXT_BIRTH_STATE,
            p.birth_state,
        )];
        let mut identifier = Vec::with_capacity(2);
        match &p.curp {
            Some(curp) => identifier.push(Identifier {
                use_: Some("official"),
                type_: None,
                system: mexico::systems::CURP,
                value: curp.as_str().into(),
            }),
            None => extension.push(Extension::Boolean(mexico::systems::EXT_CURP_PENDING, true)),
        }
        identifier.push(Identifier {
            use_: Some("usual"),
            type_: None,
            system: mexico::systems::FOLIO,
            value: folio.into(),
        });

        let mut name_ext = vec![Extension::String(sys::FATHERS_FAMILY, p.name.first_surname)];
        if let Some(second) = p.name.second_surname {
            name_ext.push(Extension::String(sys::MOTHERS_FAMILY, second));
        }

        let marital = (p.age_end >= 18).then(|| {
            let weights: [f64; 5] = match p.age_end {
                18..=24 => [0.70, 0.18, 0.10, 0.02, 0.0],
                25..=39 => [0.28, 0.27, 0.40, 0.05, 0.0],
                40..=59 => [0.12, 0.18, 0.57, 0.09, 0.04],
                _ => [0.08, 0.08, 0.52, 0.07, 0.25],
            };
            const MARITAL: [(&str, &str, &str); 5] = [
                ("S", "Never Married", "Soltero(a)"),
                ("T", "Domestic partner", "Unión libre"),
                ("M", "Married", "Casado(a)"),
                ("D", "Divorced", "Divorciado(a)"),
                ("W", "Widowed", "Viudo(a)"),
            ];
            let (code, display, text) = MARITAL[Weighted::new(weights).sample(rng)];
            CC::coded_text(Coding::new(sys::MARITAL, code, display), text)
        });

        let state_code = mexico::states::STATES[p.residence_state].curp_code;
        let indigenous = if p.age_end >= 3 {
            geo::INDIGENOUS_LANGUAGES
                .iter()
                .find(|l| l.0 == state_code)
                .filter(|l| rng.chance(l.1))
        } else {
            None
        };
        let monolingual = indigenous.is_some() && rng.chance(0.12);
        let mut communication = vec![Communication {
            language: CC::coded_text(
                Coding::new(sys::BCP47, "es-MX", "Spanish (Mexico)"),
                "Español",
            ),
            preferred: !monolingual,
        }];
        if let Some(&(_, _, tag, language)) = indigenous {
            communication.push(Communication {
                language: CC::coded_text(
                    Coding {
                        system: sys::BCP47,
                        code: tag,
                        display: None,
                    },
                    language,
                ),
                preferred: monolingual,
            });
        }

        let resource = Patient {
            resource_type: "Patient",
            id: p.id,
            extension,
            identifier,
            active: true,
            name: [HumanName {
                use_: "official",
                text: &text,
                family: &family,
                family_ext: ElementExt {
                    extension: name_ext,
                },
                given: p.name.given_parts(),
                prefix: None,
            }],
            telecom: phone_number.as_deref().map(|value| {
                [ContactPoint {
                    system: "phone",
                    value,
                    use_: "mobile",
                }]
            }),
            gender: p.sex.fhir_gender(),
            birth_date: Date(p.birth),
            address: [Address {
                use_: "home",
                type_: "physical",
                text: &address_text,
                line: [&street, &colonia],
                city: m.name,
                state: state_name,
                postal_code: &postal,
                country: "MX",
            }],
            marital_status: marital,
            communication,
            general_practitioner: [self.practitioner(p.gp)],
            managing_organization: Ref::new("Organization", home.org_id),
        };
        self.sink.emit(Kind::Patient, p.id, &resource)
    }

    fn history(
        &mut self,
        p: &mut Person,
        visits: &mut [Visit],
        referrals: &mut [ReferralPlan],
    ) -> Result<(), Error> {
        let mut state = RecordState {
            chronic_ids: Vec::new(),
            obesity_recorded: false,
            allergy_recorded: false,
            last_year_seen: i32::MIN,
            reports: Vec::new(),
        };
        for v in visits.iter() {
            self.visit(p, v, &mut state, referrals)?;
        }
        Ok(())
    }

    fn time_for(&mut self, v: &Visit) -> DateTime {
        let net = self.ctx.net;
        let zone = net.facilities[v.facility].zone;
        let afternoon = net.staff[v.practitioner].afternoon;
        let base = if afternoon { 14 * 60 } else { 8 * 60 };
        let minute = base + 5 * self.rng.range(0, 66) as u32;
        DateTime::new(v.day, minute, zone)
    }

    fn vitals(&mut self, p: &Person, v: &Visit) -> Vitals {
        let rng = &mut *self.rng;
        let age = p.age_f(v.day);
        let male = p.sex == Sex::Male || (p.sex == Sex::NonBinary && p.z_height > 0.0);
        let height = if age < 18.0 {
            let table: &[(f64, f64)] = if male {
                &HEIGHT_MEDIAN_BOYS
            } else {
                &HEIGHT_MEDIAN_GIRLS
            };
            let median = interpolate(table, age);
            let shift = if age > 2.0 {
                -(age - 2.0) / 16.0 * if male { 9.0 } else { 7.0 }
            } else {
                0.0
            };
            median * (1.0 + 0.042 * p.z_height) + shift
        } else {
            let adult = if male {
                167.1 + 7.0 * p.z_height
            } else {
                156.1 + 6.0 * p.z_height
            };
            adult - if age > 50.0 { 0.12 * (age - 50.0) } else { 0.0 }
        };
        let child_bmi = |a: f64| interpolate(&BMI_MEDIAN, a) * (1.0 + 0.11 * child_z(p.z_fat, a));
        let mut bmi = if age < 18.0 {
            child_bmi(age)
        } else if age < 20.0 {
            let t = (age - 18.0) / 2.0;
            child_bmi(18.0) * (1.0 - t) + p.adult_bmi * t
        } else {
            p.adult_bmi
        };
        bmi += rng.normal(0.0, 0.3, -1.0, 1.0);
        let h_m = height / 100.0;
        let mut weight = bmi * h_m * h_m;
        if let Some(i) = p.pregnancy_at(v.day) {
            let weeks = (v.day - p.pregnancies[i].conception) as f64 / 7.0;
            weight += 12.0 * (weeks / 40.0).clamp(0.0, 1.0);
        }
        let weight_scale = if age < 2.0 { 2 } else { 1 };
        let weight = Num::fixed(weight, weight_scale).as_f64();
        let height = Num::fixed(height, 1).as_f64();
        let bmi = (age >= 2.0).then(|| weight / ((height / 100.0) * (height / 100.0)));

        let adult = age >= 18.0;
        let bp = if age >= 10.0 || p.pregnancy_at(v.day).is_some() {
            let htn = p.has_at(ChronicKind::Hypertension, v.day);
            let diagnosis = v.kind
                == VisitKind::Control {
                    diagnosis: Some(ChronicKind::Hypertension),
                };
            let (sbp, dbp) = if diagnosis {
                (
                    rng.normal(152.0, 8.0, 142.0, 185.0),
                    rng.normal(95.0, 6.0, 88.0, 115.0),
                )
            } else if htn && p.htn_controlled {
                (
                    rng.normal(128.0, 8.0, 105.0, 145.0),
                    rng.normal(80.0, 6.0, 62.0, 92.0),
                )
            } else if htn {
                (
                    rng.normal(150.0, 12.0, 125.0, 200.0),
                    rng.normal(94.0, 8.0, 75.0, 120.0),
                )
            } else if adult {
                let over = (age - 20.0).max(0.0);
                (
                    rng.normal(108.0 + 0.35 * over, 9.0, 88.0, 138.0),
                    rng.normal(70.0 + 0.2 * over, 7.0, 55.0, 88.0),
                )
            } else {
                (
                    rng.normal(105.0, 8.0, 85.0, 125.0),
                    rng.normal(65.0, 6.0, 50.0, 80.0),
                )
            };
            let sbp = sbp.round() as i64;
            let dbp = (dbp.round() as i64).min(sbp - 20);
            Some((sbp, dbp))
        } else {
            None
        };

        let febrile_p = match v.kind {
            VisitKind::Acute(dx) => match dx.code {
                "J18.9" => 0.8,
                "U07.1" => 0.6,
                "J02.9" | "J03.9" | "H66.9" => {
                    if age < 15.0 {
                        0.5
                    } else {
                        0.3
                    }
                }
                "J00" | "J06.9" | "J20.9" => {
                    if age < 15.0 {
                        0.4
                    } else {
                        0.2
                    }
                }
                "N39.0" | "A09" => 0.2,
                _ => 0.0,
            },
            _ => 0.0,
        };
        let febrile = rng.chance(febrile_p);
        let temperature = if febrile {
            rng.normal(38.3, 0.5, 37.6, 39.8)
        } else {
            rng.normal(36.5, 0.2, 36.0, 37.2)
        };
        let hr_base = if age < 1.0 {
            130.0
        } else if age < 3.0 {
            115.0
        } else if age < 6.0 {
            100.0
        } else if age < 12.0 {
            88.0
        } else if age < 18.0 {
            80.0
        } else {
            76.0
        };
        let heart_rate = rng
            .normal(hr_base + if febrile { 15.0 } else { 0.0 }, 8.0, 50.0, 190.0)
            .round() as i64;

        let glucose = v.glucose.then(|| {
            let pregnancy = p.pregnancy_at(v.day);
            let gdm = pregnancy.is_some_and(|i| {
                p.pregnancies[i].gestational_diabetes
                    && v.day - p.pregnancies[i].conception >= 7 * 24
            });
            let g = if v.kind
                == (VisitKind::Control {
                    diagnosis: Some(ChronicKind::Diabetes),
                }) {
                rng.normal(250.0, 40.0, 200.0, 420.0)
            } else if p.has_at(ChronicKind::Diabetes, v.day) {
                rng.normal(28.0 * p.hba1c_mean - 60.0, 35.0, 70.0, 450.0)
            } else if gdm {
                rng.normal(140.0, 15.0, 115.0, 190.0)
            } else {
                rng.normal(92.0, 9.0, 68.0, 125.0)
            };
            g.round() as i64
        });
        Vitals {
            weight,
            height,
            bmi,
            bp,
            heart_rate,
            temperature: Num::fixed(temperature, 1).as_f64(),
            glucose,
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "an Observation has this many independent parts"
    )]
    fn observation(
        &mut self,
        category: (&'static str, &'static str),
        code: Loinc,
        value: Option<Num>,
        components: Vec<Component<'static>>,
        encounter: Id,
        at: DateTime,
        issued: Option<DateTime>,
        performer: Ref,
        range: Option<Range>,
    ) -> Result<Id, Error> {
        let id = Id::random(self.rng);
        let value_quantity = value.map(|v| Quantity::ucum(v, code.unit, code.ucum));
        let (interpretation, reference_range) = match (value, range) {
            (Some(v), Some((low, high))) => {
                let x = v.as_f64();
                let flag = if low.is_some_and(|l| x < l) {
                    Some(("L", "Low", "Bajo"))
                } else if high.is_some_and(|h| x > h) {
                    Some(("H", "High", "Alto"))
                } else {
                    None
                };
                let q = |b: f64| Quantity::ucum(Num::fixed(b, code.scale), code.unit, code.ucum);
                (
                    flag.map(|(c, d, t)| {
                        [CC::coded_text(
                            Coding::new(sys::OBS_INTERPRETATION, c, d),
                            t,
                        )]
                    }),
                    Some([ReferenceRange {
                        low: low.map(q),
                        high: high.map(q),
                        text: None,
                    }]),
                )
            }
            _ => (None, None),
        };
        let obs = Observation {
            resource_type: "Observation",
            id,
            status: "final",
            category: [CC::code(Coding::new(
                sys::OBS_CATEGORY,
                category.0,
                category.1,
            ))],
            code: CC::coded_text(
                Coding::new(mexico::systems::LOINC, code.code, code.display),
                code.text,
            ),
            subject: self.patient,
            encounter: Ref::new("Encounter", encounter),
            effective_date_time: at,
            issued,
            performer: [performer],
            value_quantity,
            interpretation,
            reference_range,
            component: components,
        };
        self.sink.emit(Kind::Observation, id, &obs)?;
        Ok(id)
    }

    fn write_vitals(
        &mut self,
        p: &Person,
        v: &Visit,
        encounter: Id,
        at: DateTime,
    ) -> Result<Vitals, Error> {
        let vitals = self.vitals(p, v);
        let f = &self.ctx.net.facilities[v.facility];
        let nurse = self.rng.pick(&f.nurses).copied().unwrap_or(v.practitioner);
        let performer = self.practitioner(nurse);
        const VS: (&str, &str) = ("vital-signs", "Vital Signs");
        let weight_scale = if p.age_f(v.day) < 2.0 { 2 } else { 1 };
        self.observation(
            VS,
            lo::WEIGHT,
            Some(Num::fixed(vitals.weight, weight_scale)),
            Vec::new(),
            encounter,
            at,
            None,
            performer,
            None,
        )?;
        self.observation(
            VS,
            lo::HEIGHT,
            Some(Num::fixed(vitals.height, 1)),
            Vec::new(),
            encounter,
            at,
            None,
            performer,
            None,
        )?;
        if let Some(bmi) = vitals.bmi {
            self.observation(
                VS,
                lo::BMI,
                Some(Num::fixed(bmi, 1)),
                Vec::new(),
                encounter,
                at,
                None,
                performer,
                None,
            )?;
        }
        if let Some((sbp, dbp)) = vitals.bp {
            let components = vec![
                Component {
                    code: CC::coded_text(
                        Coding::new(
                            mexico::systems::LOINC,
                            lo::SYSTOLIC.code,
                            lo::SYSTOLIC.display,
                        ),
                        lo::SYSTOLIC.text,
                    ),
                    value_quantity: Quantity::ucum(
                        Num::int(sbp),
                        lo::SYSTOLIC.unit,
                        lo::SYSTOLIC.ucum,
                    ),
                },
                Component {
                    code: CC::coded_text(
                        Coding::new(
                            mexico::systems::LOINC,
                            lo::DIASTOLIC.code,
                            lo::DIASTOLIC.display,
                        ),
                        lo::DIASTOLIC.text,
                    ),
                    value_quantity: Quantity::ucum(
                        Num::int(dbp),
                        lo::DIASTOLIC.unit,
                        lo::DIASTOLIC.ucum,
                    ),
                },
            ];
            self.observation(
                VS,
                lo::BP_PANEL,
                None,
                components,
                encounter,
                at,
                None,
                performer,
                None,
            )?;
        }
        self.observation(
            VS,
            lo::HEART_RATE,
            Some(Num::int(vitals.heart_rate)),
            Vec::new(),
            encounter,
            at,
            None,
            performer,
            None,
        )?;
        self.observation(
            VS,
            lo::TEMPERATURE,
            Some(Num::fixed(vitals.temperature, 1)),
            Vec::new(),
            encounter,
            at,
            None,
            performer,
            None,
        )?;
        if let Some(g) = vitals.glucose {
            self.observation(
                ("laboratory", "Laboratory"),
                lo::GLUCOSE_CAPILLARY,
                Some(Num::int(g)),
                Vec::new(),
                encounter,
                at,
                None,
                performer,
                Some((Some(70.0), Some(140.0))),
            )?;
        }
        Ok(vitals)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a Condition has this many independent parts"
    )]
    fn condition(
        &mut self,
        dx: Dx,
        encounter: Id,
        at: DateTime,
        onset: When,
        abatement: Option<DateTime>,
        problem_list: bool,
        asserter: usize,
    ) -> Result<Id, Error> {
        let id = Id::random(self.rng);
        let (clinical, clinical_display) = if abatement.is_some() {
            ("resolved", "Resolved")
        } else {
            ("active", "Active")
        };
        let category = if problem_list {
            CC::of(
                sys::CONDITION_CATEGORY,
                "problem-list-item",
                "Problem List Item",
            )
        } else {
            CC::of(
                sys::CONDITION_CATEGORY,
                "encounter-diagnosis",
                "Encounter Diagnosis",
            )
        };
        let condition = fhir::Condition {
            resource_type: "Condition",
            id,
            clinical_status: CC::of(sys::CONDITION_CLINICAL, clinical, clinical_display),
            verification_status: CC::of(sys::CONDITION_VER, "confirmed", "Confirmed"),
            category: [category],
            code: CC::coded_text(
                Coding::new(mexico::systems::CIE10, dx.code, dx.display),
                dx.display,
            ),
            subject: self.patient,
            encounter: Ref::new("Encounter", encounter),
            onset_date_time: onset,
            abatement_date_time: abatement,
            recorded_date: at,
            asserter: self.practitioner(asserter),
        };
        self.sink.emit(Kind::Condition, id, &condition)?;
        Ok(id)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a prescription has this many independent parts"
    )]
    fn medication_request(
        &mut self,
        rx: &Rx,
        encounter: Id,
        at: DateTime,
        requester: usize,
        reason: Dx,
        reason_id: Id,
        active: bool,
    ) -> Result<(), Error> {
        let id = Id::random(self.rng);
        let route_cc = CC::coded_text(
            Coding::new(sys::SNOMED, rx.med.route.0, rx.med.route.1),
            rx.med.route.1,
        );
        let (period, unit) = if rx.every_hours.is_multiple_of(24) {
            (Num::int(i64::from(rx.every_hours / 24)), "d")
        } else {
            (Num::int(i64::from(rx.every_hours)), "h")
        };
        let days = Quantity::ucum(Num::int(i64::from(rx.days)), "días", "d");
        let mr = MedicationRequest {
            resource_type: "MedicationRequest",
            id,
            status: if active { "active" } else { "completed" },
            intent: "order",
            category: [CC::of(sys::MED_REQ_CATEGORY, "outpatient", "Outpatient")],
            medication_codeable_concept: CC::coded_text(
                Coding::new(mexico::systems::CNIS, rx.med.key, rx.med.display),
                rx.med.display,
            ),
            subject: self.patient,
            encounter: Ref::new("Encounter", encounter),
            authored_on: at,
            requester: self.practitioner(requester),
            reason_code: [CC::coded_text(
                Coding::new(mexico::systems::CIE10, reason.code, reason.display),
                reason.display,
            )],
            reason_reference: [Ref::new("Condition", reason_id)],
            dosage_instruction: [Dosage {
                sequence: 1,
                text: &rx.text,
                timing: Timing {
                    repeat: Repeat {
                        bounds_duration: days,
                        frequency: 1,
                        period,
                        period_unit: unit,
                    },
                },
                route: route_cc,
                dose_and_rate: [DoseAndRate {
                    dose_quantity: Quantity::ucum(rx.dose, rx.med.dose_unit, rx.med.dose_ucum),
                }],
            }],
            dispense_request: DispenseRequest {
                quantity: Quantity::ucum(rx.quantity, rx.med.dose_unit, rx.med.dose_ucum),
                expected_supply_duration: days,
            },
        };
        self.sink.emit(Kind::MedicationRequest, id, &mr)
    }

    /// Writes the laboratory panels ordered at a visit.
    fn labs(
        &mut self,
        p: &Person,
        v: &Visit,
        encounter: Id,
        at: DateTime,
        state: &mut RecordState,
    ) -> Result<(), Error> {
        let facility = &self.ctx.net.facilities[v.facility];
        let org = Ref::new("Organization", facility.org_id);
        let zone: Zone = facility.zone;
        let sample = at.plus_minutes(10);
        let issued_day = v.day + self.rng.range(1, 3);
        let issued = DateTime::new(issued_day, 10 * 60 + 5 * self.rng.range(0, 48) as u32, zone);
        let female = !matches!(p.sex, Sex::Male);
        let age = p.age_f(v.day);
        let pregnant = p.pregnancy_at(v.day).is_some();
        let diabetic = p.has_at(ChronicKind::Diabetes, v.day);
        let dyslipidaemic = p.has_at(ChronicKind::Dyslipidaemia, v.day);
        let panels: [(u8, Loinc); 4] = [
            (LAB_HBA1C, lo::HBA1C),
            (LAB_LIPIDS, lo::LIPID_PANEL),
            (LAB_CREATININE, lo::CREATININE),
            (LAB_CBC, lo::CBC_PANEL),
        ];
        const LAB: (&str, &str) = ("laboratory", "Laboratory");
        for (flag, report_code) in panels {
            if v.labs & flag == 0 {
                continue;
            }
            let mut results = Vec::new();
            let rng = &mut *self.rng;
            let mut values: Vec<(Loinc, Num, Range)> = Vec::new();
            match flag {
                LAB_HBA1C => {
                    let a1c = rng.normal(p.hba1c_mean, if diabetic { 0.6 } else { 0.2 }, 4.0, 15.0);
                    values.push((lo::HBA1C, Num::fixed(a1c, 1), (None, Some(5.6))));
                }
                LAB_LIPIDS => {
                    let on_statin = dyslipidaemic;
                    let tc = if on_statin {
                        rng.normal(205.0, 35.0, 130.0, 380.0)
                    } else {
                        rng.normal(
                            182.0 + if diabetic { 10.0 } else { 0.0 },
                            32.0,
                            110.0,
                            320.0,
                        )
                    };
                    let tg = if diabetic || dyslipidaemic {
                        rng.normal(220.0, 80.0, 80.0, 900.0)
                    } else {
                        rng.normal(140.0, 55.0, 50.0, 500.0)
                    };
                    let hdl = if female {
                        rng.normal(47.0, 10.0, 25.0, 85.0)
                    } else {
                        rng.normal(40.0, 8.0, 22.0, 80.0)
                    };
                    let (tc, tg, hdl) = (tc.round(), tg.round(), hdl.round());
                    values.push((lo::CHOLESTEROL, Num::int(tc as i64), (None, Some(200.0))));
                    values.push((lo::TRIGLYCERIDES, Num::int(tg as i64), (None, Some(150.0))));
                    values.push((
                        lo::HDL,
                        Num::int(hdl as i64),
                        (Some(if female { 50.0 } else { 40.0 }), None),
                    ));
                    // Friedewald's LDL is not valid with triglycerides ≥ 400 mg/dL; labs then omit it.
                    if tg < 400.0 {
                        let ldl = (tc - hdl - (tg / 5.0).round()).max(20.0);
                        values.push((lo::LDL, Num::int(ldl as i64), (None, Some(130.0))));
                    }
                }
                LAB_CREATININE => {
                    let ckd = p.chronic(ChronicKind::Ckd).filter(|c| c.onset <= v.day);
                    let value = if let Some(c) = ckd {
                        let years = (v.day - c.onset) as f64 / 365.25;
                        rng.normal(p.ckd_creatinine + 0.15 * years, 0.15, 1.3, 8.0)
                    } else if age < 15.0 {
                        rng.normal(0.45, 0.1, 0.2, 0.8)
                    } else if female {
                        rng.normal(0.72, 0.1, 0.45, 1.05)
                    } else {
                        rng.normal(0.95, 0.13, 0.6, 1.3)
                    };
                    let range = if age < 15.0 {
                        (Some(0.3), Some(0.7))
                    } else if female {
                        (Some(0.5), Some(1.1))
                    } else {
                        (Some(0.7), Some(1.3))
                    };
                    values.push((lo::CREATININE, Num::fixed(value, 2), range));
                }
                _ => {
                    let anaemia = v.kind == VisitKind::Anaemia;
                    let (hb, range) = if anaemia {
                        (
                            rng.normal(10.2, 0.6, 8.0, 11.4),
                            if age < 5.0 {
                                (11.0, 14.5)
                            } else {
                                (12.0, 15.5)
                            },
                        )
                    } else if pregnant {
                        (rng.normal(11.9, 0.8, 10.0, 14.0), (11.0, 14.0))
                    } else if age < 5.0 {
                        (rng.normal(12.2, 0.8, 10.5, 14.5), (11.0, 14.5))
                    } else if age < 12.0 {
                        (rng.normal(13.0, 0.8, 11.0, 15.0), (11.5, 15.5))
                    } else if female {
                        (rng.normal(13.4, 0.9, 11.0, 16.0), (12.0, 15.5))
                    } else {
                        (rng.normal(15.0, 1.0, 12.5, 18.0), (13.5, 17.5))
                    };
                    let infection = matches!(v.kind, VisitKind::Acute(_));
                    let wbc = rng.normal(
                        if infection { 12.5 } else { 7.0 },
                        if infection { 2.5 } else { 1.6 },
                        3.5,
                        22.0,
                    );
                    let plt = rng.normal(255.0, 50.0, 130.0, 450.0);
                    values.push((
                        lo::HEMOGLOBIN,
                        Num::fixed(hb, 1),
                        (Some(range.0), Some(range.1)),
                    ));
                    values.push((lo::LEUKOCYTES, Num::fixed(wbc, 1), (Some(4.5), Some(11.0))));
                    values.push((
                        lo::PLATELETS,
                        Num::int(plt.round() as i64),
                        (Some(150.0), Some(450.0)),
                    ));
                }
            }
            for (code, value, range) in values {
                let id = self.observation(
                    LAB,
                    code,
                    Some(value),
                    Vec::new(),
                    encounter,
                    sample,
                    Some(issued),
                    org,
                    Some(range),
                )?;
                results.push(Ref::new("Observation", id));
            }
            // Count repeats of the same report by another organization within the window.
            if state.reports.iter().any(|&(c, d, f)| {
                c == report_code.code && f != v.facility && v.day - d <= REDUNDANT_WINDOW_DAYS
            }) {
                self.stats.redundant_lab_repeats += 1;
            }
            state.reports.push((report_code.code, v.day, v.facility));
            let id = Id::random(self.rng);
            let report = DiagnosticReport {
                resource_type: "DiagnosticReport",
                id,
                status: "final",
                category: [CC::coded_text(
                    Coding::new(sys::V2_0074, "LAB", "Laboratory"),
                    "Laboratorio clínico",
                )],
                code: CC::coded_text(
                    Coding::new(
                        mexico::systems::LOINC,
                        report_code.code,
                        report_code.display,
                    ),
                    report_code.text,
                ),
                subject: self.patient,
                encounter: Ref::new("Encounter", encounter),
                effective_date_time: sample,
                issued,
                performer: [org],
                result: results,
            };
            self.sink.emit(Kind::DiagnosticReport, id, &report)?;
        }
        Ok(())
    }

    fn visit(
        &mut self,
        p: &mut Person,
        v: &Visit,
        state: &mut RecordState,
        referrals: &mut [ReferralPlan],
    ) -> Result<(), Error> {
        let ctx = self.ctx;
        let end = ctx.config.end;
        let facility = &ctx.net.facilities[v.facility];
        let start_at = self.time_for(v);
        let duration = if facility.is_hospital() {
            self.rng.range(20, 40)
        } else {
            self.rng.range(12, 30)
        } as u32;
        let end_at = start_at.plus_minutes(duration);
        let encounter_id = Id::random(self.rng);
        let (year, _, _) = civil_from_days(v.day);
        let first_of_year = state.last_year_seen != year;
        state.last_year_seen = year;

        // Which conditions become part of the record at this visit.
        let mut reasons: Vec<Dx> = Vec::new();
        let mut new_chronic: Vec<ChronicKind> = Vec::new();
        for c in &p.chronic {
            let active = c.onset <= v.day && c.resolved.is_none_or(|r| r > v.day);
            if active && !state.chronic_ids.iter().any(|(k, _)| *k == c.kind) {
                new_chronic.push(c.kind);
            }
        }
        let mut practitioner = v.practitioner;
        let (service_code, service_display): (&str, &str) = match v.kind {
            VisitKind::WellChild => {
                reasons.push(cie::WELL_CHILD);
                ("medicina-general", "Medicina general")
            }
            VisitKind::Checkup => {
                reasons.push(cie::CHECKUP);
                ("medicina-general", "Medicina general")
            }
            VisitKind::Acute(dx) => {
                reasons.push(dx);
                if dx == cie::CARIES
                    && let Some(&d) = self.rng.pick(&facility.dentists)
                {
                    practitioner = d;
                    ("odontologia", "Odontología")
                } else {
                    ("medicina-general", "Medicina general")
                }
            }
            VisitKind::Anaemia => {
                reasons.push(cie::ANAEMIA);
                ("medicina-general", "Medicina general")
            }
            VisitKind::Control { diagnosis } => {
                if let Some(k) = diagnosis {
                    reasons.push(k.dx());
                }
                for c in &p.chronic {
                    let active = c.onset <= v.day && c.resolved.is_none_or(|r| r > v.day);
                    if active && !reasons.contains(&c.kind.dx()) {
                        reasons.push(c.kind.dx());
                    }
                }
                let mental_only = reasons
                    .iter()
                    .all(|d| *d == cie::DEPRESSION || *d == cie::ANXIETY);
                if mental_only
                    && !reasons.is_empty()
                    && let Some(&psy) = facility.psychologists.first()
                    && self.rng.chance(0.5)
                {
                    practitioner = psy;
                    ("psicologia", "Psicología")
                } else {
                    ("medicina-general", "Medicina general")
                }
            }
            VisitKind::Prenatal {
                pregnancy,
                gdm_diagnosis,
            } => {
                let preg = &p.pregnancies[pregnancy];
                reasons.push(if preg.first {
                    cie::PREGNANCY_FIRST
                } else {
                    cie::PREGNANCY_OTHER
                });
                if gdm_diagnosis {
                    reasons.push(cie::GESTATIONAL_DIABETES);
                }
                ("medicina-general", "Medicina general")
            }
            VisitKind::Hospital {
                specialty, reason, ..
            } => {
                reasons.push(reason);
                let (_, _, es) = specialty.codes();
                (specialty_slug(specialty), es)
            }
            VisitKind::RepeatLabs => {
                let chronic_reasons: Vec<Dx> = p
                    .chronic
                    .iter()
                    .filter(|c| c.onset <= v.day && c.resolved.is_none_or(|r| r > v.day))
                    .map(|c| c.kind.dx())
                    .collect();
                if chronic_reasons.is_empty() {
                    reasons.push(cie::CHECKUP);
                } else {
                    reasons.extend(chronic_reasons);
                }
                ("medicina-general", "Medicina general")
            }
        };
        let (type_code, type_display) = if first_of_year {
            ("primera-vez", "Consulta de primera vez en el año")
        } else {
            ("subsecuente", "Consulta subsecuente")
        };

        let reason_ccs: Vec<CC<'static>> = reasons
            .iter()
            .map(|d| {
                CC::coded_text(
                    Coding::new(mexico::systems::CIE10, d.code, d.display),
                    d.display,
                )
            })
            .collect();
        let encounter = Encounter {
            resource_type: "Encounter",
            id: encounter_id,
            status: "finished",
            class: Coding::new(sys::ACT_CODE, "AMB", "ambulatory"),
            type_: [CC::coded_text(
                Coding::new(sys::TIPO_CONSULTA, type_code, type_display),
                type_display,
            )],
            service_type: CC::coded_text(
                Coding::new(sys::SERVICIO, service_code, service_display),
                service_display,
            ),
            subject: self.patient,
            participant: [Participant {
                type_: [CC::coded_text(
                    Coding::new(sys::PARTICIPATION_TYPE, "PPRF", "primary performer"),
                    "Médico tratante",
                )],
                individual: self.practitioner(practitioner),
            }],
            period: Period {
                start: start_at,
                end: Some(end_at),
            },
            reason_code: reason_ccs,
            location: [EncounterLocation {
                location: Ref::new("Location", facility.loc_id),
            }],
            service_provider: Ref::new("Organization", facility.org_id),
        };
        self.sink.emit(Kind::Encounter, encounter_id, &encounter)?;

        // Conditions entering the record.
        for kind in new_chronic {
            let Some(c) = p.chronic.iter().find(|c| c.kind == kind) else {
                continue;
            };
            let onset = if c.onset >= ctx.config.start {
                When::Day(Date(c.onset))
            } else {
                // An old diagnosis: the year is what the patient remembers.
                When::Day(Date(c.onset))
            };
            let abatement = c
                .resolved
                .filter(|&r| r < end)
                .map(|r| DateTime::new(r, 9 * 60, facility.zone));
            let id = self.condition(
                kind.dx(),
                encounter_id,
                start_at,
                onset,
                abatement,
                true,
                practitioner,
            )?;
            state.chronic_ids.push((kind, id));
        }
        if p.obese && !state.obesity_recorded && p.age_f(v.day) >= 5.0 {
            self.condition(
                cie::OBESITY,
                encounter_id,
                start_at,
                When::Day(Date(v.day)),
                None,
                true,
                practitioner,
            )?;
            state.obesity_recorded = true;
        }
        let mut acute_condition: Option<(Dx, Id)> = None;
        match v.kind {
            VisitKind::Acute(dx) => {
                let onset_day = v.day - self.rng.range(1, 4);
                let resolution = v.day + self.rng.range(5, 14);
                let abatement =
                    (resolution < end).then(|| DateTime::new(resolution, 9 * 60, facility.zone));
                let id = self.condition(
                    dx,
                    encounter_id,
                    start_at,
                    When::Day(Date(onset_day)),
                    abatement,
                    false,
                    practitioner,
                )?;
                acute_condition = Some((dx, id));
            }
            VisitKind::Anaemia => {
                let resolution = v.day + self.rng.range(90, 120);
                let abatement =
                    (resolution < end).then(|| DateTime::new(resolution, 9 * 60, facility.zone));
                let id = self.condition(
                    cie::ANAEMIA,
                    encounter_id,
                    start_at,
                    When::Day(Date(v.day)),
                    abatement,
                    false,
                    practitioner,
                )?;
                acute_condition = Some((cie::ANAEMIA, id));
            }
            VisitKind::Prenatal {
                pregnancy,
                gdm_diagnosis,
            } => {
                let delivery = p.pregnancies[pregnancy].delivery();
                if p.pregnancies[pregnancy].condition.is_none() {
                    let dx = if p.pregnancies[pregnancy].first {
                        cie::PREGNANCY_FIRST
                    } else {
                        cie::PREGNANCY_OTHER
                    };
                    let abatement =
                        (delivery < end).then(|| DateTime::new(delivery, 9 * 60, facility.zone));
                    let onset = When::Day(Date(p.pregnancies[pregnancy].conception));
                    let id = self.condition(
                        dx,
                        encounter_id,
                        start_at,
                        onset,
                        abatement,
                        true,
                        practitioner,
                    )?;
                    p.pregnancies[pregnancy].condition = Some(id);
                }
                if gdm_diagnosis && p.pregnancies[pregnancy].gdm_condition.is_none() {
                    let abatement =
                        (delivery < end).then(|| DateTime::new(delivery, 9 * 60, facility.zone));
                    let id = self.condition(
                        cie::GESTATIONAL_DIABETES,
                        encounter_id,
                        start_at,
                        When::Day(Date(v.day)),
                        abatement,
                        true,
                        practitioner,
                    )?;
                    p.pregnancies[pregnancy].gdm_condition = Some(id);
                }
            }
            _ => {}
        }
        if !state.allergy_recorded
            && let Some(a) = p.allergy
        {
            self.allergy(a, start_at, practitioner)?;
            state.allergy_recorded = true;
        }

        let vitals = self.write_vitals(p, v, encounter_id, start_at.plus_minutes(2))?;
        if v.labs != 0 {
            self.labs(p, v, encounter_id, start_at, state)?;
        }

        // Prescriptions.
        let active_window = 90;
        match v.kind {
            VisitKind::Control { .. } | VisitKind::Hospital { .. } => {
                let prescribe_chronic = matches!(v.kind, VisitKind::Control { .. });
                if prescribe_chronic {
                    let items: Vec<(ChronicKind, Med, f64, u32)> = p
                        .chronic
                        .iter()
                        .filter(|c| c.onset <= v.day && c.resolved.is_none_or(|r| r > v.day))
                        .flat_map(|c| c.regimen.iter().map(move |&(m, d, n)| (c.kind, m, d, n)))
                        .collect();
                    for (kind, med, dose, per_day) in items {
                        let Some(&(_, cond_id)) =
                            state.chronic_ids.iter().find(|(k, _)| *k == kind)
                        else {
                            continue;
                        };
                        let every = 24 / per_day.max(1);
                        let note = match (med.key, per_day) {
                            (k, _) if k == cnis::METFORMIN.key || k == cnis::GLIBENCLAMIDE.key => {
                                " con los alimentos"
                            }
                            (k, _) if k == cnis::LEVOTHYROXINE.key => " en ayunas",
                            (k, _) if k == cnis::SALBUTAMOL.key => {
                                " en caso de tos o dificultad para respirar"
                            }
                            (k, _)
                                if k == cnis::INSULIN_NPH.key
                                    || k == cnis::INSULIN_GLARGINE.key =>
                            {
                                " por la noche"
                            }
                            _ => "",
                        };
                        let r = rx(med, dose, 0, every, 30, note);
                        let active = end - v.day <= active_window;
                        self.medication_request(
                            &r,
                            encounter_id,
                            start_at,
                            practitioner,
                            kind.dx(),
                            cond_id,
                            active,
                        )?;
                    }
                }
            }
            VisitKind::Acute(_) | VisitKind::Anaemia => {
                if let Some((dx, cond_id)) = acute_condition {
                    let list = if dx == cie::ANAEMIA {
                        vec![rx(cnis::FERROUS_SULFATE, 1.0, 0, 24, 90, "")]
                    } else {
                        acute_prescriptions(dx, p, v.day, vitals.weight, self.rng)
                    };
                    for r in list {
                        let active = v.day + i64::from(r.days) >= end;
                        self.medication_request(
                            &r,
                            encounter_id,
                            start_at,
                            practitioner,
                            dx,
                            cond_id,
                            active,
                        )?;
                    }
                }
            }
            VisitKind::Prenatal { pregnancy, .. } => {
                let weeks = (v.day - p.pregnancies[pregnancy].conception) / 7;
                if let Some(cond_id) = p.pregnancies[pregnancy].condition {
                    let dx = if p.pregnancies[pregnancy].first {
                        cie::PREGNANCY_FIRST
                    } else {
                        cie::PREGNANCY_OTHER
                    };
                    let mut list = vec![rx(cnis::FOLIC_ACID, 1.0, 0, 24, 30, "")];
                    if weeks >= 14 {
                        list.push(rx(cnis::FERROUS_SULFATE, 1.0, 0, 24, 30, ""));
                    }
                    for r in list {
                        let active = v.day + 30 >= end;
                        self.medication_request(
                            &r,
                            encounter_id,
                            start_at,
                            practitioner,
                            dx,
                            cond_id,
                            active,
                        )?;
                    }
                }
            }
            _ => {}
        }

        // Referral to a hospital.
        for r in referrals.iter_mut() {
            if r.from_visit_day != v.day || r.id.is_some() {
                continue;
            }
            let originating = match v.kind {
                VisitKind::Control { .. } => {
                    !r.urgent && r.specialty != Specialty::ObstetricsGynaecology
                }
                VisitKind::Prenatal {
                    gdm_diagnosis: true,
                    ..
                } => r.specialty == Specialty::ObstetricsGynaecology,
                VisitKind::Acute(dx) => r.urgent && dx == r.reason,
                _ => false,
            };
            if !originating {
                continue;
            }
            let reason_id = if r.reason == cie::GESTATIONAL_DIABETES {
                p.pregnancies.iter().find_map(|pr| {
                    pr.gdm_condition
                        .filter(|_| pr.conception <= v.day && v.day < pr.delivery())
                })
            } else if let Some((_, id)) = acute_condition.filter(|(dx, _)| *dx == r.reason) {
                Some(id)
            } else {
                state
                    .chronic_ids
                    .iter()
                    .find(|(k, _)| k.dx() == r.reason)
                    .map(|&(_, id)| id)
            };
            let Some(reason_id) = reason_id else { continue };
            let id = Id::random(self.rng);
            r.id = Some(id);
            let hospital = &ctx.net.facilities[r.hospital];
            let (_, _, specialty_es) = r.specialty.codes();
            let code_text = format!("Referencia a {specialty_es}");
            let note = referral_note(p, v, r.reason, &vitals, hospital.name.as_str());
            let sr = ServiceRequest {
                resource_type: "ServiceRequest",
                id,
                status: if r.attended { "completed" } else { "active" },
                intent: "order",
                category: [CC::coded_text(
                    Coding::new(sys::SNOMED, "3457005", "Patient referral"),
                    "Referencia",
                )],
                priority: if r.urgent { "urgent" } else { "routine" },
                code: CC::coded_text(
                    Coding::new(sys::SNOMED, "103696004", "Patient referral to specialist"),
                    &code_text,
                ),
                subject: self.patient,
                encounter: Ref::new("Encounter", encounter_id),
                authored_on: start_at,
                requester: self.practitioner(practitioner),
                performer: [Ref::new("Organization", hospital.org_id)],
                reason_code: [CC::coded_text(
                    Coding::new(mexico::systems::CIE10, r.reason.code, r.reason.display),
                    r.reason.display,
                )],
                reason_reference: [Ref::new("Condition", reason_id)],
                note: [Annotation { text: &note }],
            };
            self.sink.emit(Kind::ServiceRequest, id, &sr)?;
        }
        Ok(())
    }

    fn allergy(&mut self, a: &Allergen, at: DateTime, recorder: usize) -> Result<(), Error> {
        let id = Id::random(self.rng);
        let recorder = self.practitioner(recorder);
        let rng = &mut *self.rng;
        let reaction = if a.category == "food" && rng.chance(0.1) {
            clinical::REACTIONS[4]
        } else {
            rng.pick(&clinical::REACTIONS[..4])
                .copied()
                .unwrap_or(clinical::REACTIONS[0])
        };
        let severe = reaction.0 == "39579001" || reaction.0 == "41291007";
        let resource = AllergyIntolerance {
            resource_type: "AllergyIntolerance",
            id,
            clinical_status: CC::of(sys::ALLERGY_CLINICAL, "active", "Active"),
            verification_status: CC::of(sys::ALLERGY_VER, "confirmed", "Confirmed"),
            type_: if a.category == "medication" && rng.chance(0.2) {
                "intolerance"
            } else {
                "allergy"
            },
            category: [a.category],
            criticality: if severe { "high" } else { "low" },
            code: CC::coded_text(Coding::new(sys::SNOMED, a.snomed, a.display), a.text),
            patient: self.patient,
            recorded_date: at,
            recorder,
            reaction: [Reaction {
                manifestation: [CC::coded_text(
                    Coding::new(sys::SNOMED, reaction.0, reaction.1),
                    reaction.2,
                )],
                severity: if severe {
                    "severe"
                } else if rng.chance(0.5) {
                    "moderate"
                } else {
                    "mild"
                },
            }],
        };
        self.sink.emit(Kind::AllergyIntolerance, id, &resource)
    }

    fn immunizations(&mut self, p: &Person, doses: &[Dose]) -> Result<(), Error> {
        let ctx = self.ctx;
        let home = &ctx.net.facilities[p.home];
        for d in doses {
            let id = Id::random(self.rng);
            let rng = &mut *self.rng;
            let historical = d.day < ctx.config.start;
            let (yy, _, _) = civil_from_days(d.day - rng.range(60, 300));
            let mut lot = format!("{}{:02}", d.vaccine.lot_prefix, yy.rem_euclid(100));
            rng.alnum(&mut lot, 4);
            let nurse = rng.pick(&home.nurses).copied().unwrap_or(p.gp);
            let minute = 8 * 60 + 5 * rng.range(0, 72) as u32;
            let occurrence = if historical {
                When::Day(Date(d.day))
            } else {
                When::At(DateTime::new(d.day, minute, home.zone))
            };
            let resource = Immunization {
                resource_type: "Immunization",
                id,
                status: "completed",
                vaccine_code: CC::coded_text(
                    Coding::new(mexico::systems::CVX, d.vaccine.cvx, d.vaccine.cvx_display),
                    d.vaccine.text,
                ),
                patient: self.patient,
                occurrence_date_time: occurrence,
                primary_source: !historical,
                report_origin: historical.then(|| {
                    CC::coded_text(
                        Coding::new(sys::IMM_ORIGIN, "record", "Written Record"),
                        "Cartilla Nacional de Salud",
                    )
                }),
                location: (!historical).then(|| Ref::new("Location", home.loc_id)),
                lot_number: &lot,
                route: CC::coded_text(
                    Coding::new(sys::ROUTE_V3, d.vaccine.route.0, d.vaccine.route.1),
                    d.vaccine.route.2,
                ),
                dose_quantity: Quantity::ucum(
                    Num {
                        scaled: d.vaccine.dose_ml_tenths,
                        scale: 1,
                    },
                    "mL",
                    "mL",
                ),
                performer: (!historical).then(|| {
                    [ImmPerformer {
                        function: CC::of(sys::V2_0443, "AP", "Administering Provider"),
                        actor: Ref::new("Practitioner", ctx.net.staff[nurse].id),
                    }]
                }),
                protocol_applied: [ProtocolApplied {
                    series: d.series,
                    dose_number_positive_int: d.number,
                }],
            };
            self.sink.emit(Kind::Immunization, id, &resource)?;
        }
        Ok(())
    }
}

fn specialty_slug(s: Specialty) -> &'static str {
    match s {
        Specialty::InternalMedicine => "medicina-interna",
        Specialty::Paediatrics => "pediatria",
        Specialty::ObstetricsGynaecology => "ginecologia-obstetricia",
        Specialty::GeneralSurgery => "cirugia-general",
        Specialty::Cardiology => "cardiologia",
        Specialty::Endocrinology => "endocrinologia",
        Specialty::Nephrology => "nefrologia",
        Specialty::Psychiatry => "psiquiatria",
    }
}

/// The clinical summary that travels with a referral (NOM-004 §6.4: reason, diagnostic impression,
/// treatment given).
fn referral_note(p: &Person, v: &Visit, reason: Dx, vitals: &Vitals, hospital: &str) -> String {
    let age = p.age_at(v.day);
    let sex = match p.sex {
        Sex::Male => "masculino",
        Sex::Female => "femenino",
        Sex::NonBinary => "no binario",
    };
    let treatment: Vec<&str> = p
        .chronic
        .iter()
        .filter(|c| c.onset <= v.day)
        .flat_map(|c| c.regimen.iter().map(|(m, _, _)| m.display))
        .collect();
    let bp = vitals
        .bp
        .map(|(s, d)| format!(" TA {s}/{d} mmHg,"))
        .unwrap_or_default();
    let glucose = vitals
        .glucose
        .map(|g| format!(" glucemia capilar {g} mg/dL,"))
        .unwrap_or_default();
    format!(
        "Resumen clínico: paciente de {age} años, sexo {sex}. Motivo de envío: {} ({}). Signos vitales:{bp}{glucose} FC {} lpm, temperatura {} °C, peso {} kg. Tratamiento actual: {}. Se envía a {hospital} para valoración y manejo.",
        reason.display,
        reason.code,
        vitals.heart_rate,
        Num::fixed(vitals.temperature, 1),
        Num::fixed(vitals.weight, 1),
        if treatment.is_empty() {
            "sintomático".to_owned()
        } else {
            treatment.join("; ")
        },
    )
}
