//! Maximum daily doses per ingredient, each with its source, for the dose sanity check.
//!
//! Limits apply to enteral use (oral, sublingual, rectal) unless a row says otherwise. For a
//! child (under 18 years, under [`CHILD_WEIGHT_KG_MAX`] kg, weight known) the per-kilogram limit
//! applies too; the adult limit always caps. Ingredients without a row are not dose-checked, and
//! insulin, mixtures and powders (no `mg_per_dose_unit`) are never.

use serde::Serialize;

/// Weight up to which children are dosed per kilogram (kg); heavier adolescents get adult doses.
pub const CHILD_WEIGHT_KG_MAX: f64 = 50.0;
/// Age from which adult limits alone apply (years).
pub const ADULT_AGE_YEARS_MIN: u32 = 18;

/// One ingredient's limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DoseLimit {
    /// Ingredient id.
    pub ingredient: &'static str,
    /// Adult maximum, mg per day.
    pub adult_mg_per_day_max: Option<f64>,
    /// Child maximum, mg per kg per day.
    pub child_mg_per_kg_day_max: Option<f64>,
    /// Whether parenteral routes are covered too (the limit is route-independent).
    pub any_route: bool,
    /// Published source.
    pub source: &'static str,
}

const fn limit(
    ingredient: &'static str,
    adult_mg_per_day_max: Option<f64>,
    child_mg_per_kg_day_max: Option<f64>,
    source: &'static str,
) -> DoseLimit {
    DoseLimit {
        ingredient,
        adult_mg_per_day_max,
        child_mg_per_kg_day_max,
        any_route: false,
        source,
    }
}

/// The table.
pub static DOSE_LIMITS: &[DoseLimit] = &[
    limit(
        "paracetamol",
        Some(4000.0),
        Some(60.0),
        "FDA, ficha técnica de acetaminofén (máx. 4 g/24 h en adultos); OMS, Formulario Modelo para Niños 2010 (15 mg/kg cada 6 h, máx. 4 dosis/24 h)",
    ),
    limit(
        "ibuprofeno",
        Some(3200.0),
        Some(40.0),
        "FDA, ficha técnica de ibuprofeno (Motrin, máx. 3200 mg/día); OMS, Formulario Modelo para Niños 2010 (5-10 mg/kg 3-4 veces al día)",
    ),
    limit(
        "naproxeno",
        Some(1500.0),
        None,
        "FDA, ficha técnica de naproxeno (Naprosyn), hasta 1500 mg/día por periodos limitados",
    ),
    limit(
        "diclofenaco",
        Some(200.0),
        None,
        "FDA, ficha técnica de diclofenaco (Voltaren), artritis reumatoide 150-200 mg/día",
    ),
    limit(
        "ketorolaco",
        Some(40.0),
        None,
        "FDA, ficha técnica de ketorolaco (Toradol), vía oral máx. 40 mg/día y 5 días en total",
    ),
    DoseLimit {
        ingredient: "metamizol",
        adult_mg_per_day_max: Some(4000.0),
        child_mg_per_kg_day_max: None,
        any_route: true,
        source: "EMA, arbitraje del artículo 31 sobre metamizol (2018): dosis máxima diaria en adultos 4000 mg",
    },
    limit(
        "acido acetilsalicilico",
        Some(4000.0),
        None,
        "FDA, monografía OTC de analgésicos internos (21 CFR 343): máx. 4 g en 24 h",
    ),
    limit(
        "metformina",
        Some(2550.0),
        None,
        "FDA, ficha técnica de metformina (Glucophage), máx. 2550 mg/día",
    ),
    limit(
        "glibenclamida",
        Some(20.0),
        None,
        "FDA, ficha técnica de gliburida (DiaBeta), dosis mayores de 20 mg/día no recomendadas",
    ),
    limit(
        "enalapril",
        Some(40.0),
        None,
        "FDA, ficha técnica de enalapril (Vasotec), hasta 40 mg/día",
    ),
    limit(
        "captopril",
        Some(450.0),
        None,
        "FDA, ficha técnica de captopril (Capoten), no exceder 450 mg/día",
    ),
    limit(
        "losartan",
        Some(100.0),
        None,
        "FDA, ficha técnica de losartán (Cozaar), máx. 100 mg/día",
    ),
    limit(
        "amlodipino",
        Some(10.0),
        None,
        "FDA, ficha técnica de amlodipino (Norvasc), máx. 10 mg/día",
    ),
    limit(
        "hidroclorotiazida",
        Some(100.0),
        None,
        "FDA, ficha técnica de hidroclorotiazida, edema 25-100 mg/día",
    ),
    limit(
        "atorvastatina",
        Some(80.0),
        None,
        "FDA, ficha técnica de atorvastatina (Lipitor), 10-80 mg/día",
    ),
    limit(
        "pravastatina",
        Some(80.0),
        None,
        "FDA, ficha técnica de pravastatina (Pravachol), 10-80 mg/día",
    ),
    limit(
        "sertralina",
        Some(200.0),
        None,
        "FDA, ficha técnica de sertralina (Zoloft), máx. 200 mg/día",
    ),
    limit(
        "fluoxetina",
        Some(80.0),
        None,
        "FDA, ficha técnica de fluoxetina (Prozac), máx. 80 mg/día",
    ),
    limit(
        "clorfenamina",
        Some(24.0),
        None,
        "FDA, monografía OTC de antihistamínicos (21 CFR 341): adultos no exceder 24 mg en 24 h",
    ),
    limit(
        "loratadina",
        Some(10.0),
        None,
        "FDA, ficha técnica de loratadina (Claritin), 10 mg una vez al día",
    ),
    limit(
        "metoclopramida",
        Some(30.0),
        Some(0.5),
        "EMA (2013), restricciones de metoclopramida: máx. 30 mg/día en adultos y 0.5 mg/kg/día, hasta 5 días",
    ),
    limit(
        "tramadol",
        Some(400.0),
        None,
        "FDA, ficha técnica de tramadol (Ultram), no exceder 400 mg/día",
    ),
    limit(
        "alopurinol",
        Some(800.0),
        None,
        "FDA, ficha técnica de alopurinol (Zyloprim), máx. 800 mg/día",
    ),
    limit(
        "ciprofloxacino",
        Some(1500.0),
        None,
        "FDA, ficha técnica de ciprofloxacino (Cipro), hasta 750 mg cada 12 h",
    ),
    limit(
        "claritromicina",
        Some(1000.0),
        None,
        "FDA, ficha técnica de claritromicina (Biaxin), hasta 500 mg cada 12 h",
    ),
    limit(
        "metronidazol",
        Some(4000.0),
        None,
        "FDA, ficha técnica de metronidazol (Flagyl), no exceder 4 g en 24 h",
    ),
    limit(
        "nitrofurantoina",
        Some(400.0),
        None,
        "FDA, ficha técnica de nitrofurantoína (Macrodantin), 50-100 mg cuatro veces al día",
    ),
    limit(
        "cefalexina",
        Some(4000.0),
        None,
        "FDA, ficha técnica de cefalexina (Keflex), adultos 1-4 g/día",
    ),
    limit(
        "albendazol",
        Some(800.0),
        None,
        "FDA, ficha técnica de albendazol (Albenza), 400 mg dos veces al día",
    ),
    limit(
        "amoxicilina",
        None,
        Some(90.0),
        "AAP, guía de otitis media aguda (Lieberthal AS et al., Pediatrics 2013;131:e964): dosis alta 80-90 mg/kg/día",
    ),
    limit(
        "carbamazepina",
        Some(1600.0),
        None,
        "FDA, ficha técnica de carbamazepina (Tegretol), hasta 1200 mg/día y en casos raros 1600 mg/día",
    ),
];

/// The limits of an ingredient, if any.
pub fn dose_limit(ingredient: &str) -> Option<&'static DoseLimit> {
    DOSE_LIMITS.iter().find(|l| l.ingredient == ingredient)
}
