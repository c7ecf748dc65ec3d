//! Clinical vocabularies: CIE-10 diagnoses with their Spanish titles, LOINC observations with UCUM units,
//! medicines of the Cuadro Básico with their CNIS keys, vaccines of the national schedule with CVX codes.
//!
//! Sources: CIE-10 titles from the OPS/OMS Spanish edition ("Clasificación estadística internacional de
//! enfermedades y problemas relacionados con la salud, 10ª revisión", as distributed by CEMECE/DGIS);
//! LOINC long common names (loinc.org, 2.7x); CNIS keys from the Compendio Nacional de Insumos para la
//! Salud (Consejo de Salubridad General; group 010 = medicamentos), checked against recent IMSS/ISSSTE
//! purchase lists where we could, otherwise marked "plausible" in the README; CVX from CDC's code set.

/// A CIE-10 diagnosis: dotted code and the Spanish title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dx {
    pub(crate) code: &'static str,
    pub(crate) display: &'static str,
}

const fn dx(code: &'static str, display: &'static str) -> Dx {
    Dx { code, display }
}

pub(crate) mod cie {
    use super::{Dx, dx};
    pub(crate) const DIABETES_T2: Dx = dx(
        "E11.9",
        "Diabetes mellitus no insulinodependiente, sin mención de complicación",
    );
    pub(crate) const HYPERTENSION: Dx = dx("I10", "Hipertensión esencial (primaria)");
    pub(crate) const OBESITY: Dx = dx("E66.9", "Obesidad, no especificada");
    pub(crate) const DYSLIPIDAEMIA: Dx = dx("E78.5", "Hiperlipidemia no especificada");
    pub(crate) const CKD: Dx = dx("N18.9", "Enfermedad renal crónica, no especificada");
    pub(crate) const ASTHMA: Dx = dx("J45.9", "Asma, no especificada");
    pub(crate) const DEPRESSION: Dx = dx("F32.9", "Episodio depresivo, no especificado");
    pub(crate) const ANXIETY: Dx = dx("F41.9", "Trastorno de ansiedad, no especificado");
    pub(crate) const HYPOTHYROIDISM: Dx = dx("E03.9", "Hipotiroidismo, no especificado");
    pub(crate) const ANAEMIA: Dx = dx(
        "D50.9",
        "Anemia por deficiencia de hierro sin otra especificación",
    );
    pub(crate) const CARIES: Dx = dx("K02.9", "Caries dental, no especificada");
    pub(crate) const COMMON_COLD: Dx = dx("J00", "Rinofaringitis aguda [resfriado común]");
    pub(crate) const URTI: Dx = dx(
        "J06.9",
        "Infección aguda de las vías respiratorias superiores, no especificada",
    );
    pub(crate) const PHARYNGITIS: Dx = dx("J02.9", "Faringitis aguda, no especificada");
    pub(crate) const TONSILLITIS: Dx = dx("J03.9", "Amigdalitis aguda, no especificada");
    pub(crate) const BRONCHITIS: Dx = dx("J20.9", "Bronquitis aguda, no especificada");
    pub(crate) const PNEUMONIA: Dx = dx("J18.9", "Neumonía, no especificada");
    pub(crate) const OTITIS: Dx = dx("H66.9", "Otitis media, no especificada");
    pub(crate) const DIARRHOEA: Dx = dx(
        "A09",
        "Diarrea y gastroenteritis de presunto origen infeccioso",
    );
    pub(crate) const PARASITOSIS: Dx =
        dx("B82.9", "Parasitosis intestinal, sin otra especificación");
    pub(crate) const UTI: Dx = dx(
        "N39.0",
        "Infección de vías urinarias, sitio no especificado",
    );
    pub(crate) const GASTRITIS: Dx = dx("K29.7", "Gastritis, no especificada");
    pub(crate) const LOW_BACK_PAIN: Dx = dx("M54.5", "Lumbago no especificado");
    pub(crate) const DERMATITIS: Dx = dx("L30.9", "Dermatitis, no especificada");
    pub(crate) const COVID19: Dx = dx("U07.1", "COVID-19, virus identificado");
    pub(crate) const PREGNANCY_FIRST: Dx = dx("Z34.0", "Supervisión de primer embarazo normal");
    pub(crate) const PREGNANCY_OTHER: Dx = dx("Z34.8", "Supervisión de otros embarazos normales");
    pub(crate) const GESTATIONAL_DIABETES: Dx =
        dx("O24.4", "Diabetes mellitus que se origina con el embarazo");
    pub(crate) const WELL_CHILD: Dx = dx("Z00.1", "Control de salud de rutina del niño");
    pub(crate) const CHECKUP: Dx = dx("Z00.0", "Examen médico general");
}

/// A LOINC observation code with its UCUM unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loinc {
    pub(crate) code: &'static str,
    pub(crate) display: &'static str,
    /// Spanish text shown to clinicians.
    pub(crate) text: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) ucum: &'static str,
    /// Decimals written for the value.
    pub(crate) scale: u8,
}

const fn loinc(
    code: &'static str,
    display: &'static str,
    text: &'static str,
    unit: &'static str,
    ucum: &'static str,
    scale: u8,
) -> Loinc {
    Loinc {
        code,
        display,
        text,
        unit,
        ucum,
        scale,
    }
}

pub(crate) mod lo {
    use super::{Loinc, loinc};
    pub(crate) const WEIGHT: Loinc = loinc("29463-7", "Body weight", "Peso", "kg", "kg", 1);
    pub(crate) const HEIGHT: Loinc = loinc("8302-2", "Body height", "Talla", "cm", "cm", 1);
    pub(crate) const BMI: Loinc = loinc(
        "39156-5",
        "Body mass index (BMI) [Ratio]",
        "Índice de masa corporal",
        "kg/m2",
        "kg/m2",
        1,
    );
    pub(crate) const BP_PANEL: Loinc = loinc(
        "85354-9",
        "Blood pressure panel with all children optional",
        "Tensión arterial",
        "mm[Hg]",
        "mm[Hg]",
        0,
    );
    pub(crate) const SYSTOLIC: Loinc = loinc(
        "8480-6",
        "Systolic blood pressure",
        "Tensión arterial sistólica",
        "mmHg",
        "mm[Hg]",
        0,
    );
    pub(crate) const DIASTOLIC: Loinc = loinc(
        "8462-4",
        "Diastolic blood pressure",
        "Tensión arterial diastólica",
        "mmHg",
        "mm[Hg]",
        0,
    );
    pub(crate) const HEART_RATE: Loinc = loinc(
        "8867-4",
        "Heart rate",
        "Frecuencia cardiaca",
        "lpm",
        "/min",
        0,
    );
    pub(crate) const TEMPERATURE: Loinc =
        loinc("8310-5", "Body temperature", "Temperatura", "°C", "Cel", 1);
    pub(crate) const GLUCOSE_CAPILLARY: Loinc = loinc(
        "2339-0",
        "Glucose [Mass/volume] in Blood",
        "Glucemia capilar",
        "mg/dL",
        "mg/dL",
        0,
    );
    pub(crate) const HBA1C: Loinc = loinc(
        "4548-4",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "Hemoglobina glucosilada (HbA1c)",
        "%",
        "%",
        1,
    );
    pub(crate) const CHOLESTEROL: Loinc = loinc(
        "2093-3",
        "Cholesterol [Mass/volume] in Serum or Plasma",
        "Colesterol total",
        "mg/dL",
        "mg/dL",
        0,
    );
    pub(crate) const TRIGLYCERIDES: Loinc = loinc(
        "2571-8",
        "Triglyceride [Mass/volume] in Serum or Plasma",
        "Triglicéridos",
        "mg/dL",
        "mg/dL",
        0,
    );
    pub(crate) const HDL: Loinc = loinc(
        "2085-9",
        "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
        "Colesterol HDL",
        "mg/dL",
        "mg/dL",
        0,
    );
    pub(crate) const LDL: Loinc = loinc(
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "Colesterol LDL (calculado)",
        "mg/dL",
        "mg/dL",
        0,
    );
    pub(crate) const CREATININE: Loinc = loinc(
        "2160-0",
        "Creatinine [Mass/volume] in Serum or Plasma",
        "Creatinina sérica",
        "mg/dL",
        "mg/dL",
        2,
    );
    pub(crate) const HEMOGLOBIN: Loinc = loinc(
        "718-7",
        "Hemoglobin [Mass/volume] in Blood",
        "Hemoglobina",
        "g/dL",
        "g/dL",
        1,
    );
    pub(crate) const LEUKOCYTES: Loinc = loinc(
        "6690-2",
        "Leukocytes [#/volume] in Blood by Automated count",
        "Leucocitos",
        "10³/µL",
        "10*3/uL",
        1,
    );
    pub(crate) const PLATELETS: Loinc = loinc(
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "Plaquetas",
        "10³/µL",
        "10*3/uL",
        0,
    );
    /// Report (panel) codes.
    pub(crate) const LIPID_PANEL: Loinc = loinc(
        "24331-1",
        "Lipid 1996 panel - Serum or Plasma",
        "Perfil de lípidos",
        "",
        "",
        0,
    );
    pub(crate) const CBC_PANEL: Loinc = loinc(
        "58410-2",
        "CBC panel - Blood by Automated count",
        "Biometría hemática",
        "",
        "",
        0,
    );
}

/// A medicine of the Cuadro Básico y Catálogo de Medicamentos, with how it is usually prescribed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Med {
    /// CNIS key `GGG.EEE.CCCC.VV`.
    pub(crate) key: &'static str,
    /// Generic name, form and strength as the catalog writes it.
    pub(crate) display: &'static str,
    /// Unit of one dose as UCUM (annotations for countable forms).
    pub(crate) dose_unit: &'static str,
    pub(crate) dose_ucum: &'static str,
    /// Route: SNOMED code and Spanish text.
    pub(crate) route: (&'static str, &'static str),
}

const ORAL: (&str, &str) = ("26643006", "Vía oral");
const SUBCUTANEOUS: (&str, &str) = ("34206005", "Vía subcutánea");
const INHALED: (&str, &str) = ("447694001", "Vía respiratoria (inhalada)");

const fn med(
    key: &'static str,
    display: &'static str,
    dose_unit: &'static str,
    dose_ucum: &'static str,
    route: (&'static str, &'static str),
) -> Med {
    Med {
        key,
        display,
        dose_unit,
        dose_ucum,
        route,
    }
}

const TAB: (&str, &str) = ("tableta", "{tbl}");
const CAP: (&str, &str) = ("cápsula", "{cap}");
const ML: (&str, &str) = ("mL", "mL");

pub(crate) mod cnis {
    use super::{CAP, INHALED, ML, Med, ORAL, SUBCUTANEOUS, TAB, med};
    pub(crate) const METFORMIN: Med = med(
        "010.000.5165.00",
        "Metformina. Tableta 850 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const GLIBENCLAMIDE: Med = med(
        "010.000.1042.00",
        "Glibenclamida. Tableta 5 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const INSULIN_NPH: Med = med(
        "010.000.1050.00",
        "Insulina humana de acción intermedia NPH. Suspensión inyectable 100 UI/mL",
        "UI",
        "[IU]",
        SUBCUTANEOUS,
    );
    pub(crate) const INSULIN_GLARGINE: Med = med(
        "010.000.4158.00",
        "Insulina glargina. Solución inyectable 100 UI/mL",
        "UI",
        "[IU]",
        SUBCUTANEOUS,
    );
    pub(crate) const LOSARTAN: Med = med(
        "010.000.2520.00",
        "Losartán. Tableta 50 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const ENALAPRIL: Med = med(
        "010.000.2501.00",
        "Enalapril. Tableta 10 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const CAPTOPRIL: Med = med(
        "010.000.0574.00",
        "Captopril. Tableta 25 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const AMLODIPINE: Med = med(
        "010.000.2111.00",
        "Amlodipino. Tableta 5 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const HCTZ: Med = med(
        "010.000.2301.00",
        "Hidroclorotiazida. Tableta 25 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const ATORVASTATIN: Med = med(
        "010.000.5106.00",
        "Atorvastatina. Tableta 20 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const PRAVASTATIN: Med = med(
        "010.000.0657.00",
        "Pravastatina. Tableta 10 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const BEZAFIBRATE: Med = med(
        "010.000.0655.00",
        "Bezafibrato. Tableta 200 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const SERTRALINE: Med = med(
        "010.000.4484.00",
        "Sertralina. Tableta 50 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const FLUOXETINE: Med = med(
        "010.000.4483.00",
        "Fluoxetina. Tableta 20 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const SALBUTAMOL: Med = med(
        "010.000.0429.00",
        "Salbutamol. Suspensión en aerosol 100 µg por dosis",
        "disparo",
        "{puff}",
        INHALED,
    );
    pub(crate) const BECLOMETHASONE: Med = med(
        "010.000.0477.00",
        "Beclometasona. Suspensión en aerosol 50 µg por dosis",
        "disparo",
        "{puff}",
        INHALED,
    );
    pub(crate) const LEVOTHYROXINE: Med = med(
        "010.000.1007.00",
        "Levotiroxina sódica. Tableta 100 µg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const FERROUS_SULFATE: Med = med(
        "010.000.1703.00",
        "Sulfato ferroso. Tableta 200 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const FOLIC_ACID: Med = med(
        "010.000.1711.00",
        "Ácido fólico. Tableta 0.4 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const PARACETAMOL_TAB: Med = med(
        "010.000.0104.00",
        "Paracetamol. Tableta 500 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const PARACETAMOL_DROPS: Med = med(
        "010.000.0106.00",
        "Paracetamol. Solución oral 100 mg/mL",
        ML.0,
        ML.1,
        ORAL,
    );
    pub(crate) const AMOXICILLIN_CAP: Med = med(
        "010.000.2128.00",
        "Amoxicilina. Cápsula 500 mg",
        CAP.0,
        CAP.1,
        ORAL,
    );
    pub(crate) const AMOXICILLIN_SUSP: Med = med(
        "010.000.2127.00",
        "Amoxicilina. Suspensión oral 500 mg/5 mL",
        ML.0,
        ML.1,
        ORAL,
    );
    pub(crate) const IBUPROFEN: Med = med(
        "010.000.5941.00",
        "Ibuprofeno. Tableta 400 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const NAPROXEN: Med = med(
        "010.000.3407.00",
        "Naproxeno. Tableta 250 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const OMEPRAZOLE: Med = med(
        "010.000.5186.00",
        "Omeprazol. Cápsula 20 mg",
        CAP.0,
        CAP.1,
        ORAL,
    );
    pub(crate) const TMP_SMX: Med = med(
        "010.000.1903.00",
        "Trimetoprima-sulfametoxazol. Tableta 80 mg/400 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const NITROFURANTOIN: Med = med(
        "010.000.5302.00",
        "Nitrofurantoína. Cápsula 100 mg",
        CAP.0,
        CAP.1,
        ORAL,
    );
    pub(crate) const ERYTHROMYCIN: Med = med(
        "010.000.1972.00",
        "Eritromicina. Cápsula 500 mg",
        CAP.0,
        CAP.1,
        ORAL,
    );
    pub(crate) const ALBENDAZOLE: Med = med(
        "010.000.1344.00",
        "Albendazol. Tableta 200 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
    pub(crate) const ORS: Med = med(
        "010.000.3623.00",
        "Electrolitos orales (Vida Suero Oral). Polvo para solución",
        "sobre",
        "{sobre}",
        ORAL,
    );
    pub(crate) const CHLORPHENAMINE: Med = med(
        "010.000.0402.00",
        "Clorfenamina. Tableta 4 mg",
        TAB.0,
        TAB.1,
        ORAL,
    );
}

/// A vaccine of the Programa de Vacunación Universal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Vaccine {
    pub(crate) cvx: &'static str,
    pub(crate) cvx_display: &'static str,
    /// Name used in the Cartilla Nacional de Salud.
    pub(crate) text: &'static str,
    /// v3 RouteOfAdministration code, its display, and the Spanish text.
    pub(crate) route: (&'static str, &'static str, &'static str),
    /// Dose volume in tenths of a millilitre (BCG is 0.1 mL, most others 0.5 mL).
    pub(crate) dose_ml_tenths: i64,
    /// Lot-number prefix, as printed by the usual supplier (for realism only).
    pub(crate) lot_prefix: &'static str,
}

const IM: (&str, &str, &str) = ("IM", "Injection, intramuscular", "Intramuscular");
const SC: (&str, &str, &str) = ("SQ", "Injection, subcutaneous", "Subcutánea");
const ID: (&str, &str, &str) = ("IDINJ", "Injection, intradermal", "Intradérmica");
const PO: (&str, &str, &str) = ("PO", "Swallow, oral", "Oral");

const fn vac(
    cvx: &'static str,
    cvx_display: &'static str,
    text: &'static str,
    route: (&'static str, &'static str, &'static str),
    dose_ml_tenths: i64,
    lot_prefix: &'static str,
) -> Vaccine {
    Vaccine {
        cvx,
        cvx_display,
        text,
        route,
        dose_ml_tenths,
        lot_prefix,
    }
}

pub(crate) mod vx {
    use super::{ID, IM, PO, SC, Vaccine, vac};
    pub(crate) const BCG: Vaccine = vac("19", "BCG", "BCG", ID, 1, "BCG");
    pub(crate) const HEPB_PED: Vaccine = vac(
        "08",
        "Hep B, adolescent or pediatric",
        "Hepatitis B",
        IM,
        5,
        "HB",
    );
    pub(crate) const HEXAVALENT: Vaccine = vac(
        "146",
        "DTaP,IPV,Hib,HepB",
        "Hexavalente (DPaT+VPI+Hib+HepB)",
        IM,
        5,
        "HX",
    );
    pub(crate) const ROTAVIRUS: Vaccine =
        vac("116", "rotavirus, pentavalent", "Rotavirus", PO, 20, "RV");
    pub(crate) const PCV13: Vaccine = vac(
        "133",
        "Pneumococcal conjugate PCV 13",
        "Neumocócica conjugada",
        IM,
        5,
        "PC",
    );
    pub(crate) const MMR: Vaccine = vac(
        "03",
        "MMR",
        "SRP (sarampión, rubéola y parotiditis)",
        SC,
        5,
        "SRP",
    );
    pub(crate) const DTP: Vaccine = vac("01", "DTP", "DPT", IM, 5, "DPT");
    pub(crate) const INFLUENZA: Vaccine = vac(
        "141",
        "Influenza, seasonal, injectable",
        "Influenza estacional",
        IM,
        5,
        "FLU",
    );
    pub(crate) const HPV: Vaccine = vac(
        "62",
        "HPV, quadrivalent",
        "VPH (virus del papiloma humano)",
        IM,
        5,
        "VPH",
    );
    pub(crate) const TD: Vaccine = vac(
        "09",
        "Td (adult), adsorbed",
        "Td (tétanos y difteria)",
        IM,
        5,
        "TD",
    );
    pub(crate) const TDAP: Vaccine = vac("115", "Tdap", "Tdpa (embarazo)", IM, 5, "TDP");
    pub(crate) const COVID19: Vaccine = vac(
        "213",
        "SARS-COV-2 (COVID-19) vaccine, UNSPECIFIED FORMULATION",
        "COVID-19",
        IM,
        5,
        "CV",
    );
    pub(crate) const PPSV23: Vaccine = vac(
        "33",
        "pneumococcal polysaccharide PPV23",
        "Neumocócica 23-valente",
        IM,
        5,
        "P23",
    );
}

/// An allergy: SNOMED substance, Spanish text, category and type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Allergen {
    pub(crate) snomed: &'static str,
    pub(crate) display: &'static str,
    pub(crate) text: &'static str,
    pub(crate) category: &'static str,
    /// Relative frequency among recorded allergies.
    pub(crate) weight: f64,
}

pub(crate) static ALLERGENS: &[Allergen] = &[
    Allergen {
        snomed: "764146007",
        display: "Penicillin (substance)",
        text: "Penicilina",
        category: "medication",
        weight: 45.0,
    },
    Allergen {
        snomed: "387406002",
        display: "Sulfonamide (substance)",
        text: "Sulfonamidas",
        category: "medication",
        weight: 12.0,
    },
    Allergen {
        snomed: "372665008",
        display: "Non-steroidal anti-inflammatory agent (substance)",
        text: "Antiinflamatorios no esteroideos (AINE)",
        category: "medication",
        weight: 15.0,
    },
    Allergen {
        snomed: "762952008",
        display: "Peanut (substance)",
        text: "Cacahuate",
        category: "food",
        weight: 6.0,
    },
    Allergen {
        snomed: "735029006",
        display: "Shellfish (substance)",
        text: "Mariscos",
        category: "food",
        weight: 12.0,
    },
    Allergen {
        snomed: "102263004",
        display: "Eggs (edible) (substance)",
        text: "Huevo",
        category: "food",
        weight: 5.0,
    },
    Allergen {
        snomed: "3718001",
        display: "Cow's milk (substance)",
        text: "Leche de vaca",
        category: "food",
        weight: 5.0,
    },
];

/// Reactions (SNOMED clinical findings) with Spanish text.
pub(crate) static REACTIONS: &[(&str, &str, &str)] = &[
    ("126485001", "Urticaria", "Urticaria"),
    ("271807003", "Eruption of skin", "Exantema"),
    ("41291007", "Angioedema", "Angioedema"),
    ("267036007", "Dyspnea", "Disnea"),
    ("39579001", "Anaphylaxis", "Anafilaxia"),
];
