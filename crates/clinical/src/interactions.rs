//! The drug–drug interactions that matter most in primary care: a reviewed table, each row with
//! its published source (a regulator's product information or safety communication, or a
//! named study). Not a complete interaction database: pairs outside the table are not checked,
//! and the UI must not present silence as safety.
//!
//! Each row has a stable `code` (`DDI-…`) so that an override reason can be recorded against it.
//! Either side names ingredients or whole classes; the pair matches in both directions.

use serde::Serialize;

use crate::classes::DrugClass;

/// One side of a pair: a class or one ingredient id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Selector {
    /// Every ingredient of the class.
    Class(DrugClass),
    /// One ingredient id.
    Ingredient(&'static str),
}

impl Selector {
    /// Whether an ingredient (its id and classes) is selected.
    pub fn selects(self, ingredient_id: &str, classes: &[DrugClass]) -> bool {
        match self {
            Selector::Class(class) => classes.contains(&class),
            Selector::Ingredient(id) => id == ingredient_id,
        }
    }
}

/// How bad the interaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum InteractionSeverity {
    /// Monitor or adjust.
    Moderate,
    /// Avoid unless the benefit is clear; needs monitoring.
    Major,
    /// Do not combine.
    Contraindicated,
}

/// One reviewed pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Interaction {
    /// Stable code for findings and overrides.
    pub code: &'static str,
    /// One side.
    pub a: &'static [Selector],
    /// The other side.
    pub b: &'static [Selector],
    /// Severity.
    pub severity: InteractionSeverity,
    /// Effect and advice, Spanish.
    pub message_es: &'static str,
    /// Effect and advice, English.
    pub message_en: &'static str,
    /// Published source of the rule.
    pub source: &'static str,
}

use DrugClass as C;
use InteractionSeverity::{Contraindicated, Major, Moderate};
use Selector::{Class, Ingredient};

const VKA: &[Selector] = &[Class(C::VitaminKAntagonist)];
const RAAS: &[Selector] = &[Class(C::AceInhibitor), Class(C::Arb)];
const MACROLIDE_3A4: &[Selector] = &[Ingredient("claritromicina"), Ingredient("eritromicina")];

/// Source shorthand: the warfarin product information (Coumadin, FDA label, section 7).
const WARFARIN_LABEL: &str =
    "FDA, ficha técnica de warfarina (Coumadin), sección 7 Interacciones farmacológicas";
/// Juurlink DN et al., JAMA 2003;289:1652–1658.
const JUURLINK_2003: &str = "Juurlink DN, Mamdani M, Kopp A, Laupacis A, Redelmeier DA. Drug-drug interactions among elderly patients hospitalized for drug toxicity. JAMA 2003;289(13):1652-1658";
/// FDA Drug Safety Communication on simvastatin, June 2011.
const SIMVASTATIN_FDA_2011: &str = "FDA Drug Safety Communication (8-jun-2011): nuevas restricciones, contraindicaciones y límites de dosis de simvastatina";

/// The table.
pub static INTERACTIONS: &[Interaction] = &[
    Interaction {
        code: "DDI-VKA-NSAID",
        a: VKA,
        b: &[Class(C::Nsaid)],
        severity: Major,
        message_es: "Anticoagulante cumarínico con AINE: aumenta el riesgo de sangrado (gastrointestinal). Evitar; si es indispensable, usar la dosis menor por el menor tiempo y vigilar.",
        message_en: "Coumarin anticoagulant with an NSAID: higher risk of (gastrointestinal) bleeding. Avoid; if needed, lowest dose for the shortest time, with monitoring.",
        source: WARFARIN_LABEL,
    },
    Interaction {
        code: "DDI-VKA-TMPSMX",
        a: VKA,
        b: &[Ingredient("sulfametoxazol")],
        severity: Major,
        message_es: "Anticoagulante cumarínico con trimetoprima-sulfametoxazol: eleva el INR y el riesgo de hemorragia. Preferir otro antibiótico o vigilar el INR en 3 a 5 días.",
        message_en: "Coumarin anticoagulant with trimethoprim-sulfamethoxazole: raises INR and bleeding risk. Prefer another antibiotic or check INR within 3-5 days.",
        source: "Fischer HD et al. Hemorrhage during warfarin therapy associated with cotrimoxazole and other urinary tract anti-infective agents. Arch Intern Med 2010;170(7):617-621",
    },
    Interaction {
        code: "DDI-VKA-METRONIDAZOLE",
        a: VKA,
        b: &[Ingredient("metronidazol")],
        severity: Major,
        message_es: "Anticoagulante cumarínico con metronidazol: eleva el INR. Vigilar el INR o ajustar la dosis.",
        message_en: "Coumarin anticoagulant with metronidazole: raises INR. Monitor INR or adjust the dose.",
        source: WARFARIN_LABEL,
    },
    Interaction {
        code: "DDI-VKA-FLUCONAZOLE",
        a: VKA,
        b: &[Ingredient("fluconazol")],
        severity: Major,
        message_es: "Anticoagulante cumarínico con fluconazol: eleva el INR. Vigilar el INR.",
        message_en: "Coumarin anticoagulant with fluconazole: raises INR. Monitor INR.",
        source: WARFARIN_LABEL,
    },
    Interaction {
        code: "DDI-VKA-MACROLIDE",
        a: VKA,
        b: MACROLIDE_3A4,
        severity: Major,
        message_es: "Anticoagulante cumarínico con claritromicina o eritromicina: eleva el INR. Vigilar el INR.",
        message_en: "Coumarin anticoagulant with clarithromycin or erythromycin: raises INR. Monitor INR.",
        source: WARFARIN_LABEL,
    },
    Interaction {
        code: "DDI-VKA-CIPROFLOXACIN",
        a: VKA,
        b: &[Ingredient("ciprofloxacino")],
        severity: Major,
        message_es: "Anticoagulante cumarínico con ciprofloxacino: eleva el INR. Vigilar el INR.",
        message_en: "Coumarin anticoagulant with ciprofloxacin: raises INR. Monitor INR.",
        source: WARFARIN_LABEL,
    },
    Interaction {
        code: "DDI-VKA-PARACETAMOL",
        a: VKA,
        b: &[Ingredient("paracetamol")],
        severity: Moderate,
        message_es: "Anticoagulante cumarínico con paracetamol en dosis regulares (más de 2 g/día por varios días): puede elevar el INR. Preferir dosis bajas o esporádicas; vigilar el INR.",
        message_en: "Coumarin anticoagulant with regular paracetamol (over 2 g/day for several days): may raise INR. Prefer low or occasional doses; monitor INR.",
        source: "Hylek EM et al. Acetaminophen and other risk factors for excessive warfarin anticoagulation. JAMA 1998;279(9):657-662",
    },
    Interaction {
        code: "DDI-RAAS-KSPARING",
        a: RAAS,
        b: &[Class(C::PotassiumSparingDiuretic)],
        severity: Major,
        message_es: "IECA o ARA II con espironolactona: riesgo de hiperpotasemia. Medir potasio y creatinina antes y a la semana; evitar en insuficiencia renal.",
        message_en: "ACE inhibitor or ARB with spironolactone: risk of hyperkalaemia. Check potassium and creatinine before and after one week; avoid in renal impairment.",
        source: "Juurlink DN et al. Rates of hyperkalemia after publication of the Randomized Aldactone Evaluation Study. N Engl J Med 2004;351:543-551",
    },
    Interaction {
        code: "DDI-RAAS-POTASSIUM",
        a: RAAS,
        b: &[Class(C::PotassiumSupplement)],
        severity: Major,
        message_es: "IECA o ARA II con suplemento de potasio: riesgo de hiperpotasemia. Medir potasio.",
        message_en: "ACE inhibitor or ARB with a potassium supplement: risk of hyperkalaemia. Check potassium.",
        source: JUURLINK_2003,
    },
    Interaction {
        code: "DDI-ACEI-ARB",
        a: &[Class(C::AceInhibitor)],
        b: &[Class(C::Arb)],
        severity: Major,
        message_es: "IECA con ARA II (doble bloqueo del sistema renina-angiotensina): más hiperpotasemia, hipotensión e insuficiencia renal aguda sin beneficio cardiovascular. No combinar.",
        message_en: "ACE inhibitor with an ARB (dual renin-angiotensin blockade): more hyperkalaemia, hypotension and acute kidney injury without cardiovascular benefit. Do not combine.",
        source: "ONTARGET Investigators. Telmisartan, ramipril, or both in patients at high risk for vascular events. N Engl J Med 2008;358:1547-1559",
    },
    Interaction {
        code: "DDI-RAAS-NSAID",
        a: RAAS,
        b: &[Class(C::Nsaid)],
        severity: Moderate,
        message_es: "IECA o ARA II con AINE: riesgo de lesión renal aguda (mayor si además toma diurético) y menor control de la presión. Usar el menor tiempo; vigilar creatinina.",
        message_en: "ACE inhibitor or ARB with an NSAID: risk of acute kidney injury (higher with a diuretic too) and weaker blood-pressure control. Shortest course; monitor creatinine.",
        source: "Lapi F et al. Concurrent use of diuretics, angiotensin converting enzyme inhibitors, and angiotensin receptor blockers with non-steroidal anti-inflammatory drugs and risk of acute kidney injury. BMJ 2013;346:e8525",
    },
    Interaction {
        code: "DDI-MTX-TMPSMX",
        a: &[Ingredient("metotrexato")],
        b: &[Ingredient("sulfametoxazol"), Ingredient("trimetoprima")],
        severity: Contraindicated,
        message_es: "Metotrexato con trimetoprima-sulfametoxazol: mielosupresión grave (pancitopenia). No combinar; elegir otro antibiótico.",
        message_en: "Methotrexate with trimethoprim-sulfamethoxazole: severe bone-marrow suppression (pancytopenia). Do not combine; choose another antibiotic.",
        source: "FDA, ficha técnica de metotrexato, Interacciones farmacológicas (trimetoprima-sulfametoxazol)",
    },
    Interaction {
        code: "DDI-MTX-NSAID",
        a: &[Ingredient("metotrexato")],
        b: &[Class(C::Nsaid)],
        severity: Major,
        message_es: "Metotrexato con AINE: reduce la eliminación del metotrexato (toxicidad). Evitar con dosis altas; en dosis semanales bajas, vigilar biometría y función renal.",
        message_en: "Methotrexate with an NSAID: reduced methotrexate clearance (toxicity). Avoid with high doses; with low weekly doses, monitor blood count and renal function.",
        source: "FDA, ficha técnica de metotrexato, Advertencias e Interacciones (AINE)",
    },
    Interaction {
        code: "DDI-PDE5-NITRATE",
        a: &[Class(C::Pde5Inhibitor)],
        b: &[Class(C::Nitrate)],
        severity: Contraindicated,
        message_es: "Sildenafil (inhibidor de la PDE-5) con nitratos: hipotensión grave. Contraindicado; no dar nitrato en las 24 h siguientes al sildenafil.",
        message_en: "Sildenafil (PDE-5 inhibitor) with nitrates: severe hypotension. Contraindicated; no nitrate within 24 h of sildenafil.",
        source: "FDA, ficha técnica de sildenafil (Viagra), Contraindicaciones: nitratos",
    },
    Interaction {
        code: "DDI-SIMVA-MACROLIDE",
        a: &[Ingredient("simvastatina")],
        b: MACROLIDE_3A4,
        severity: Contraindicated,
        message_es: "Simvastatina con claritromicina o eritromicina: riesgo de miopatía y rabdomiólisis. Contraindicado; suspender la simvastatina durante el antibiótico o usar azitromicina.",
        message_en: "Simvastatin with clarithromycin or erythromycin: risk of myopathy and rhabdomyolysis. Contraindicated; pause simvastatin during the antibiotic or use azithromycin.",
        source: SIMVASTATIN_FDA_2011,
    },
    Interaction {
        code: "DDI-SIMVA-AMLODIPINE",
        a: &[Ingredient("simvastatina")],
        b: &[Ingredient("amlodipino")],
        severity: Moderate,
        message_es: "Simvastatina con amlodipino: no exceder 20 mg/día de simvastatina (miopatía).",
        message_en: "Simvastatin with amlodipine: do not exceed simvastatin 20 mg/day (myopathy).",
        source: SIMVASTATIN_FDA_2011,
    },
    Interaction {
        code: "DDI-SIMVA-VERAPAMIL",
        a: &[Ingredient("simvastatina")],
        b: &[Ingredient("verapamilo")],
        severity: Major,
        message_es: "Simvastatina con verapamilo: no exceder 10 mg/día de simvastatina (miopatía).",
        message_en: "Simvastatin with verapamil: do not exceed simvastatin 10 mg/day (myopathy).",
        source: SIMVASTATIN_FDA_2011,
    },
    Interaction {
        code: "DDI-ATORVA-CLARITHRO",
        a: &[Ingredient("atorvastatina")],
        b: &[Ingredient("claritromicina")],
        severity: Moderate,
        message_es: "Atorvastatina con claritromicina: no exceder 20 mg/día de atorvastatina; vigilar dolor muscular.",
        message_en: "Atorvastatin with clarithromycin: do not exceed atorvastatin 20 mg/day; watch for muscle pain.",
        source: "FDA, ficha técnica de atorvastatina (Lipitor), Dosificación e Interacciones (claritromicina)",
    },
    Interaction {
        code: "DDI-STATIN-FIBRATE",
        a: &[Class(C::Statin)],
        b: &[Class(C::Fibrate)],
        severity: Moderate,
        message_es: "Estatina con fibrato: mayor riesgo de miopatía. Vigilar síntomas musculares; evitar con gemfibrozilo.",
        message_en: "Statin with a fibrate: higher risk of myopathy. Watch for muscle symptoms; avoid with gemfibrozil.",
        source: "FDA, ficha técnica de atorvastatina (Lipitor), Advertencias: miopatía con fibratos",
    },
    Interaction {
        code: "DDI-SU-TMPSMX",
        a: &[Class(C::Sulfonylurea)],
        b: &[Ingredient("sulfametoxazol")],
        severity: Major,
        message_es: "Sulfonilurea (glibenclamida) con trimetoprima-sulfametoxazol: hipoglucemia grave. Preferir otro antibiótico o vigilar la glucosa.",
        message_en: "Sulfonylurea (glibenclamide) with trimethoprim-sulfamethoxazole: severe hypoglycaemia. Prefer another antibiotic or monitor glucose.",
        source: JUURLINK_2003,
    },
    Interaction {
        code: "DDI-SU-FLUCONAZOLE",
        a: &[Class(C::Sulfonylurea)],
        b: &[Ingredient("fluconazol"), Ingredient("claritromicina")],
        severity: Moderate,
        message_es: "Sulfonilurea con fluconazol o claritromicina: riesgo de hipoglucemia. Vigilar la glucosa.",
        message_en: "Sulfonylurea with fluconazole or clarithromycin: risk of hypoglycaemia. Monitor glucose.",
        source: "Schelleman H et al. Anti-infectives and the risk of severe hypoglycemia in users of glipizide or glyburide. Clin Pharmacol Ther 2010;88(2):214-222",
    },
    Interaction {
        code: "DDI-DIGOXIN-CLARITHRO",
        a: &[Ingredient("digoxina")],
        b: MACROLIDE_3A4,
        severity: Major,
        message_es: "Digoxina con claritromicina o eritromicina: intoxicación digitálica. Evitar o medir digoxina sérica.",
        message_en: "Digoxin with clarithromycin or erythromycin: digoxin toxicity. Avoid or measure serum digoxin.",
        source: JUURLINK_2003,
    },
    Interaction {
        code: "DDI-DIGOXIN-VERAPAMIL",
        a: &[Ingredient("digoxina")],
        b: &[Ingredient("verapamilo")],
        severity: Major,
        message_es: "Digoxina con verapamilo: eleva la digoxina y causa bradicardia o bloqueo AV. Reducir digoxina y vigilar.",
        message_en: "Digoxin with verapamil: raises digoxin and causes bradycardia or AV block. Reduce digoxin and monitor.",
        source: "FDA, ficha técnica de verapamilo (Calan), Interacciones: digitálicos",
    },
    Interaction {
        code: "DDI-BB-VERAPAMIL",
        a: &[Class(C::BetaBlocker)],
        b: &[Class(C::NonDihydropyridineCcb)],
        severity: Major,
        message_es: "Betabloqueador con verapamilo: bradicardia, bloqueo AV e insuficiencia cardiaca. Evitar en atención primaria.",
        message_en: "Beta blocker with verapamil: bradycardia, AV block and heart failure. Avoid in primary care.",
        source: "FDA, ficha técnica de verapamilo (Calan), Interacciones: betabloqueadores",
    },
    Interaction {
        code: "DDI-CLOPIDOGREL-OMEPRAZOLE",
        a: &[Ingredient("clopidogrel")],
        b: &[Ingredient("omeprazol")],
        severity: Major,
        message_es: "Clopidogrel con omeprazol: reduce el efecto antiagregante. Evitar; si se necesita un IBP, preferir pantoprazol.",
        message_en: "Clopidogrel with omeprazole: weaker antiplatelet effect. Avoid; if a PPI is needed, prefer pantoprazole.",
        source: "FDA Drug Safety Communication (17-nov-2009 y 27-oct-2010): clopidogrel (Plavix) y omeprazol",
    },
    Interaction {
        code: "DDI-SSRI-TRAMADOL",
        a: &[Class(C::Ssri)],
        b: &[Ingredient("tramadol")],
        severity: Major,
        message_es: "ISRS con tramadol: síndrome serotoninérgico y convulsiones. Evitar o vigilar de cerca.",
        message_en: "SSRI with tramadol: serotonin syndrome and seizures. Avoid or monitor closely.",
        source: "FDA, ficha técnica de tramadol (Ultram), Advertencias: síndrome serotoninérgico y convulsiones",
    },
    Interaction {
        code: "DDI-SSRI-NSAID",
        a: &[Class(C::Ssri)],
        b: &[Class(C::Nsaid)],
        severity: Moderate,
        message_es: "ISRS con AINE o ácido acetilsalicílico: más sangrado gastrointestinal alto. Considerar un protector gástrico.",
        message_en: "SSRI with an NSAID or aspirin: more upper gastrointestinal bleeding. Consider gastroprotection.",
        source: "de Abajo FJ, García Rodríguez LA, Montero D. Association between selective serotonin reuptake inhibitors and upper gastrointestinal bleeding. BMJ 1999;319:1106-1109",
    },
    Interaction {
        code: "DDI-NSAID-CORTICOSTEROID",
        a: &[Class(C::Nsaid)],
        b: &[Class(C::SystemicCorticosteroid)],
        severity: Moderate,
        message_es: "AINE con corticosteroide sistémico: más úlcera y sangrado gastrointestinal. Considerar un protector gástrico.",
        message_en: "NSAID with a systemic corticosteroid: more ulcer and gastrointestinal bleeding. Consider gastroprotection.",
        source: "Narum S, Westergren T, Klemp M. Corticosteroids and risk of gastrointestinal bleeding: a systematic review and meta-analysis. BMJ Open 2014;4:e004587",
    },
    Interaction {
        code: "DDI-COLCHICINE-CLARITHRO",
        a: &[Ingredient("colchicina")],
        b: &[Ingredient("claritromicina")],
        severity: Contraindicated,
        message_es: "Colchicina con claritromicina: intoxicación por colchicina (potencialmente mortal). Contraindicado en insuficiencia renal o hepática; en los demás, reducir la dosis de colchicina.",
        message_en: "Colchicine with clarithromycin: colchicine toxicity (potentially fatal). Contraindicated with renal or hepatic impairment; otherwise reduce the colchicine dose.",
        source: "FDA, ficha técnica de colchicina (Colcrys), Interacciones: inhibidores potentes de CYP3A4 y glicoproteína P",
    },
    Interaction {
        code: "DDI-INDUCER-CONTRACEPTIVE",
        a: &[Class(C::EnzymeInducingAntiepileptic)],
        b: &[
            Class(C::CombinedHormonalContraceptive),
            Class(C::ProgestogenContraceptive),
        ],
        severity: Major,
        message_es: "Carbamazepina o fenitoína con anticonceptivo hormonal oral: falla anticonceptiva. Ofrecer DIU o acetato de medroxiprogesterona.",
        message_en: "Carbamazepine or phenytoin with an oral hormonal contraceptive: contraceptive failure. Offer an IUD or medroxyprogesterone acetate injection.",
        source: "FSRH Clinical Effectiveness Unit. Drug interactions with hormonal contraception (guía, 2017, actualizada 2022)",
    },
    Interaction {
        code: "DDI-LEVOTHYROXINE-IRON-CALCIUM",
        a: &[Class(C::ThyroidHormone)],
        b: &[Class(C::Iron), Class(C::Calcium)],
        severity: Moderate,
        message_es: "Levotiroxina con hierro o calcio: menor absorción de levotiroxina. Separar las tomas al menos 4 horas.",
        message_en: "Levothyroxine with iron or calcium: lower levothyroxine absorption. Separate doses by at least 4 hours.",
        source: "FDA, ficha técnica de levotiroxina (Synthroid), Interacciones: sulfato ferroso y carbonato de calcio",
    },
    Interaction {
        code: "DDI-METOCLOPRAMIDE-ANTIPSYCHOTIC",
        a: &[Class(C::Prokinetic)],
        b: &[Class(C::Antipsychotic)],
        severity: Major,
        message_es: "Metoclopramida con antipsicótico: más síntomas extrapiramidales y síndrome neuroléptico maligno. Evitar.",
        message_en: "Metoclopramide with an antipsychotic: more extrapyramidal symptoms and neuroleptic malignant syndrome. Avoid.",
        source: "FDA, ficha técnica de metoclopramida (Reglan), Contraindicaciones e Interacciones",
    },
    Interaction {
        code: "DDI-BENZO-OPIOID",
        a: &[Class(C::Benzodiazepine)],
        b: &[Class(C::Opioid)],
        severity: Major,
        message_es: "Benzodiacepina con opioide: sedación profunda, depresión respiratoria y muerte. Evitar; si es indispensable, dosis mínimas y vigilancia.",
        message_en: "Benzodiazepine with an opioid: profound sedation, respiratory depression and death. Avoid; if unavoidable, lowest doses and monitoring.",
        source: "FDA Drug Safety Communication (31-ago-2016): advertencia en recuadro sobre opioides con benzodiacepinas",
    },
];

/// The row with this code.
pub fn interaction(code: &str) -> Option<&'static Interaction> {
    INTERACTIONS.iter().find(|i| i.code == code)
}
