//! Ingredients and the drug classes the checks reason about, with the words people use for them.
//!
//! An ingredient is a lowercase Spanish id (`"ibuprofeno"`); its row lists its classes, its ATC
//! code and the names an allergy or an old free-text prescription may use for it. Classes carry
//! the words an allergy may be recorded with ("AINE", "sulfas", "penicilinas"). Tests check that
//! every ingredient a formulary entry names has a row here, and that names do not collide.

use serde::Serialize;

use crate::text;

/// A pharmacological class used by the allergy, duplicate-therapy and interaction checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum DrugClass {
    /// Non-steroidal anti-inflammatory drugs, including aspirin and metamizole (strong COX-1
    /// inhibitors, cross-reactive in NSAID hypersensitivity).
    Nsaid,
    /// Penicillins (beta-lactams with the penam nucleus).
    Penicillin,
    /// Cephalosporins.
    Cephalosporin,
    /// Sulfonamide antibacterials (sulfamethoxazole); not the non-antibiotic sulfonamides.
    SulfonamideAntibacterial,
    /// Non-antibiotic sulfonamides (furosemide, thiazides, sulfonylureas).
    SulfonamideNonAntibacterial,
    /// Macrolides.
    Macrolide,
    /// Fluoroquinolones.
    Fluoroquinolone,
    /// Tetracyclines.
    Tetracycline,
    /// Nitroimidazoles.
    Nitroimidazole,
    /// Azole antifungals.
    AzoleAntifungal,
    /// Angiotensin-converting-enzyme inhibitors.
    AceInhibitor,
    /// Angiotensin II receptor blockers.
    Arb,
    /// Potassium-sparing diuretics (spironolactone).
    PotassiumSparingDiuretic,
    /// Thiazide and thiazide-like diuretics.
    ThiazideDiuretic,
    /// Loop diuretics.
    LoopDiuretic,
    /// Beta blockers.
    BetaBlocker,
    /// Dihydropyridine calcium-channel blockers.
    DihydropyridineCcb,
    /// Non-dihydropyridine calcium-channel blockers (verapamil).
    NonDihydropyridineCcb,
    /// HMG-CoA reductase inhibitors.
    Statin,
    /// Fibrates.
    Fibrate,
    /// Biguanides.
    Biguanide,
    /// Sulfonylureas.
    Sulfonylurea,
    /// Insulins.
    Insulin,
    /// Organic nitrates.
    Nitrate,
    /// Phosphodiesterase-5 inhibitors.
    Pde5Inhibitor,
    /// Vitamin K antagonists.
    VitaminKAntagonist,
    /// P2Y12 antiplatelets.
    P2y12Inhibitor,
    /// Selective serotonin reuptake inhibitors.
    Ssri,
    /// Tricyclic antidepressants.
    Tricyclic,
    /// Benzodiazepines.
    Benzodiazepine,
    /// Opioids.
    Opioid,
    /// Systemic corticosteroids.
    SystemicCorticosteroid,
    /// Inhaled corticosteroids.
    InhaledCorticosteroid,
    /// Short-acting beta-2 agonists.
    Saba,
    /// H1 antihistamines.
    Antihistamine,
    /// Proton-pump inhibitors.
    ProtonPumpInhibitor,
    /// H2 antagonists.
    H2Antagonist,
    /// Thyroid hormones.
    ThyroidHormone,
    /// Antithyroid drugs.
    Antithyroid,
    /// Oral iron.
    Iron,
    /// Calcium salts.
    Calcium,
    /// Potassium supplements.
    PotassiumSupplement,
    /// Benzimidazole anthelmintics.
    Benzimidazole,
    /// Enzyme-inducing antiepileptics (carbamazepine, phenytoin).
    EnzymeInducingAntiepileptic,
    /// Other antiepileptics.
    Antiepileptic,
    /// Combined hormonal contraceptives.
    CombinedHormonalContraceptive,
    /// Progestogen-only contraceptives.
    ProgestogenContraceptive,
    /// Antimetabolite immunosuppressants (methotrexate).
    Antimetabolite,
    /// Xanthine-oxidase inhibitors.
    XanthineOxidaseInhibitor,
    /// Colchicine.
    Colchicine,
    /// Cardiac glycosides.
    CardiacGlycoside,
    /// Prokinetic dopamine antagonists (metoclopramide).
    Prokinetic,
    /// Antispasmodics (butylhyoscine).
    Antispasmodic,
    /// Antipsychotics.
    Antipsychotic,
    /// Antivirals (aciclovir).
    Antiviral,
    /// Lincosamides.
    Lincosamide,
    /// Nitrofurans.
    Nitrofuran,
    /// Oral rehydration salts.
    OralRehydration,
    /// Vitamins and folic acid.
    Vitamin,
}

impl DrugClass {
    /// Every class, for tests and for the UI's allergy picker.
    pub const ALL: &'static [DrugClass] = &[
        DrugClass::Nsaid,
        DrugClass::Penicillin,
        DrugClass::Cephalosporin,
        DrugClass::SulfonamideAntibacterial,
        DrugClass::SulfonamideNonAntibacterial,
        DrugClass::Macrolide,
        DrugClass::Fluoroquinolone,
        DrugClass::Tetracycline,
        DrugClass::Nitroimidazole,
        DrugClass::AzoleAntifungal,
        DrugClass::AceInhibitor,
        DrugClass::Arb,
        DrugClass::PotassiumSparingDiuretic,
        DrugClass::ThiazideDiuretic,
        DrugClass::LoopDiuretic,
        DrugClass::BetaBlocker,
        DrugClass::DihydropyridineCcb,
        DrugClass::NonDihydropyridineCcb,
        DrugClass::Statin,
        DrugClass::Fibrate,
        DrugClass::Biguanide,
        DrugClass::Sulfonylurea,
        DrugClass::Insulin,
        DrugClass::Nitrate,
        DrugClass::Pde5Inhibitor,
        DrugClass::VitaminKAntagonist,
        DrugClass::P2y12Inhibitor,
        DrugClass::Ssri,
        DrugClass::Tricyclic,
        DrugClass::Benzodiazepine,
        DrugClass::Opioid,
        DrugClass::SystemicCorticosteroid,
        DrugClass::InhaledCorticosteroid,
        DrugClass::Saba,
        DrugClass::Antihistamine,
        DrugClass::ProtonPumpInhibitor,
        DrugClass::H2Antagonist,
        DrugClass::ThyroidHormone,
        DrugClass::Antithyroid,
        DrugClass::Iron,
        DrugClass::Calcium,
        DrugClass::PotassiumSupplement,
        DrugClass::Benzimidazole,
        DrugClass::EnzymeInducingAntiepileptic,
        DrugClass::Antiepileptic,
        DrugClass::CombinedHormonalContraceptive,
        DrugClass::ProgestogenContraceptive,
        DrugClass::Antimetabolite,
        DrugClass::XanthineOxidaseInhibitor,
        DrugClass::Colchicine,
        DrugClass::CardiacGlycoside,
        DrugClass::Prokinetic,
        DrugClass::Antispasmodic,
        DrugClass::Antipsychotic,
        DrugClass::Antiviral,
        DrugClass::Lincosamide,
        DrugClass::Nitrofuran,
        DrugClass::OralRehydration,
        DrugClass::Vitamin,
    ];

    /// Spanish name, as shown to clinicians.
    pub fn name_es(self) -> &'static str {
        self.info().0
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        self.info().1
    }

    /// Words an allergy may be recorded with for the whole class (folded when matched).
    pub fn allergy_terms(self) -> &'static [&'static str] {
        self.info().2
    }

    /// Whether two active drugs of this class are a duplicate therapy worth a warning. Classes
    /// routinely combined (insulins, diuretics of different classes, vitamins, rehydration salts)
    /// or too broad to mean "the same drug" are excluded.
    pub fn duplicate_is_warned(self) -> bool {
        !matches!(
            self,
            DrugClass::Insulin
                | DrugClass::Vitamin
                | DrugClass::OralRehydration
                | DrugClass::Calcium
                | DrugClass::Iron
                | DrugClass::SulfonamideNonAntibacterial
                | DrugClass::InhaledCorticosteroid
                | DrugClass::Saba
                | DrugClass::Antiepileptic
                | DrugClass::EnzymeInducingAntiepileptic
        )
    }

    fn info(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            DrugClass::Nsaid => (
                "Antiinflamatorios no esteroideos (AINE)",
                "Non-steroidal anti-inflammatory drugs (NSAIDs)",
                &[
                    "aine",
                    "aines",
                    "antiinflamatorios no esteroideos",
                    "antiinflamatorio no esteroideo",
                    "anti inflamatorios no esteroideos",
                    "antiinflamatorios",
                    "nsaid",
                    "nsaids",
                    "non steroidal anti inflammatory agent",
                    "salicilatos",
                ],
            ),
            DrugClass::Penicillin => (
                "Penicilinas",
                "Penicillins",
                &[
                    "penicilina",
                    "penicilinas",
                    "penicillin",
                    "penicillins",
                    "betalactamicos",
                ],
            ),
            DrugClass::Cephalosporin => (
                "Cefalosporinas",
                "Cephalosporins",
                &[
                    "cefalosporina",
                    "cefalosporinas",
                    "cephalosporin",
                    "cephalosporins",
                ],
            ),
            DrugClass::SulfonamideAntibacterial => (
                "Sulfonamidas antibacterianas",
                "Sulfonamide antibacterials",
                &[
                    "sulfa",
                    "sulfas",
                    "sulfonamida",
                    "sulfonamidas",
                    "sulfamidas",
                    "sulfonamide",
                    "sulfonamides",
                ],
            ),
            DrugClass::SulfonamideNonAntibacterial => (
                "Sulfonamidas no antibióticas",
                "Non-antibiotic sulfonamides",
                &[],
            ),
            DrugClass::Macrolide => (
                "Macrólidos",
                "Macrolides",
                &["macrolido", "macrolidos", "macrolide", "macrolides"],
            ),
            DrugClass::Fluoroquinolone => (
                "Fluoroquinolonas",
                "Fluoroquinolones",
                &[
                    "quinolona",
                    "quinolonas",
                    "fluoroquinolonas",
                    "fluoroquinolones",
                ],
            ),
            DrugClass::Tetracycline => (
                "Tetraciclinas",
                "Tetracyclines",
                &["tetraciclinas", "tetracyclines"],
            ),
            DrugClass::Nitroimidazole => {
                ("Nitroimidazoles", "Nitroimidazoles", &["nitroimidazoles"])
            }
            DrugClass::AzoleAntifungal => (
                "Antifúngicos azólicos",
                "Azole antifungals",
                &["azoles", "antifungicos azolicos"],
            ),
            DrugClass::AceInhibitor => (
                "Inhibidores de la ECA (IECA)",
                "ACE inhibitors",
                &["ieca", "iecas", "inhibidores de la eca", "ace inhibitors"],
            ),
            DrugClass::Arb => (
                "Antagonistas del receptor de angiotensina II (ARA II)",
                "Angiotensin II receptor blockers",
                &["ara ii", "ara 2", "ara2", "arb", "sartanes"],
            ),
            DrugClass::PotassiumSparingDiuretic => (
                "Diuréticos ahorradores de potasio",
                "Potassium-sparing diuretics",
                &[],
            ),
            DrugClass::ThiazideDiuretic => {
                ("Diuréticos tiazídicos", "Thiazide diuretics", &["tiazidas"])
            }
            DrugClass::LoopDiuretic => ("Diuréticos de asa", "Loop diuretics", &[]),
            DrugClass::BetaBlocker => (
                "Betabloqueadores",
                "Beta blockers",
                &["betabloqueadores", "beta bloqueadores", "beta blockers"],
            ),
            DrugClass::DihydropyridineCcb => (
                "Calcioantagonistas dihidropiridínicos",
                "Dihydropyridine calcium-channel blockers",
                &["calcioantagonistas"],
            ),
            DrugClass::NonDihydropyridineCcb => (
                "Calcioantagonistas no dihidropiridínicos",
                "Non-dihydropyridine calcium-channel blockers",
                &[],
            ),
            DrugClass::Statin => ("Estatinas", "Statins", &["estatinas", "statins"]),
            DrugClass::Fibrate => ("Fibratos", "Fibrates", &["fibratos", "fibrates"]),
            DrugClass::Biguanide => ("Biguanidas", "Biguanides", &["biguanidas"]),
            DrugClass::Sulfonylurea => (
                "Sulfonilureas",
                "Sulfonylureas",
                &["sulfonilureas", "sulfonylureas"],
            ),
            DrugClass::Insulin => (
                "Insulinas",
                "Insulins",
                &["insulina", "insulinas", "insulin"],
            ),
            DrugClass::Nitrate => ("Nitratos", "Nitrates", &["nitratos", "nitrates"]),
            DrugClass::Pde5Inhibitor => (
                "Inhibidores de la fosfodiesterasa 5",
                "PDE-5 inhibitors",
                &[],
            ),
            DrugClass::VitaminKAntagonist => (
                "Anticoagulantes antagonistas de la vitamina K",
                "Vitamin K antagonists",
                &["cumarinicos", "anticoagulantes orales"],
            ),
            DrugClass::P2y12Inhibitor => (
                "Antiagregantes inhibidores de P2Y12",
                "P2Y12 inhibitors",
                &[],
            ),
            DrugClass::Ssri => (
                "Inhibidores selectivos de la recaptura de serotonina (ISRS)",
                "Selective serotonin reuptake inhibitors (SSRIs)",
                &["isrs", "ssri", "ssris"],
            ),
            DrugClass::Tricyclic => (
                "Antidepresivos tricíclicos",
                "Tricyclic antidepressants",
                &["triciclicos"],
            ),
            DrugClass::Benzodiazepine => (
                "Benzodiacepinas",
                "Benzodiazepines",
                &["benzodiacepinas", "benzodiazepinas", "benzodiazepines"],
            ),
            DrugClass::Opioid => ("Opioides", "Opioids", &["opioides", "opiaceos", "opioids"]),
            DrugClass::SystemicCorticosteroid => (
                "Corticosteroides sistémicos",
                "Systemic corticosteroids",
                &["corticoides", "corticosteroides", "esteroides"],
            ),
            DrugClass::InhaledCorticosteroid => {
                ("Corticosteroides inhalados", "Inhaled corticosteroids", &[])
            }
            DrugClass::Saba => (
                "Agonistas beta-2 de acción corta",
                "Short-acting beta-2 agonists",
                &[],
            ),
            DrugClass::Antihistamine => (
                "Antihistamínicos H1",
                "H1 antihistamines",
                &["antihistaminicos"],
            ),
            DrugClass::ProtonPumpInhibitor => (
                "Inhibidores de la bomba de protones",
                "Proton-pump inhibitors",
                &["ibp", "inhibidores de la bomba de protones"],
            ),
            DrugClass::H2Antagonist => ("Antagonistas H2", "H2 antagonists", &[]),
            DrugClass::ThyroidHormone => ("Hormonas tiroideas", "Thyroid hormones", &[]),
            DrugClass::Antithyroid => ("Antitiroideos", "Antithyroid drugs", &[]),
            DrugClass::Iron => ("Hierro oral", "Oral iron", &[]),
            DrugClass::Calcium => ("Sales de calcio", "Calcium salts", &[]),
            DrugClass::PotassiumSupplement => {
                ("Suplementos de potasio", "Potassium supplements", &[])
            }
            DrugClass::Benzimidazole => ("Bencimidazoles", "Benzimidazoles", &[]),
            DrugClass::EnzymeInducingAntiepileptic => (
                "Antiepilépticos inductores enzimáticos",
                "Enzyme-inducing antiepileptics",
                &[],
            ),
            DrugClass::Antiepileptic => ("Antiepilépticos", "Antiepileptics", &["anticonvulsivos"]),
            DrugClass::CombinedHormonalContraceptive => (
                "Anticonceptivos hormonales combinados",
                "Combined hormonal contraceptives",
                &[],
            ),
            DrugClass::ProgestogenContraceptive => (
                "Anticonceptivos de progestágeno solo",
                "Progestogen-only contraceptives",
                &[],
            ),
            DrugClass::Antimetabolite => ("Antimetabolitos", "Antimetabolites", &[]),
            DrugClass::XanthineOxidaseInhibitor => (
                "Inhibidores de la xantina oxidasa",
                "Xanthine-oxidase inhibitors",
                &[],
            ),
            DrugClass::Colchicine => ("Colchicina", "Colchicine", &[]),
            DrugClass::CardiacGlycoside => (
                "Glucósidos cardiacos",
                "Cardiac glycosides",
                &["digitalicos"],
            ),
            DrugClass::Prokinetic => ("Procinéticos", "Prokinetics", &[]),
            DrugClass::Antispasmodic => ("Antiespasmódicos", "Antispasmodics", &[]),
            DrugClass::Antipsychotic => ("Antipsicóticos", "Antipsychotics", &[]),
            DrugClass::Antiviral => ("Antivirales", "Antivirals", &[]),
            DrugClass::Lincosamide => ("Lincosamidas", "Lincosamides", &["lincosamidas"]),
            DrugClass::Nitrofuran => ("Nitrofuranos", "Nitrofurans", &[]),
            DrugClass::OralRehydration => {
                ("Sales de rehidratación oral", "Oral rehydration salts", &[])
            }
            DrugClass::Vitamin => ("Vitaminas", "Vitamins", &[]),
        }
    }
}

/// One active ingredient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Ingredient {
    /// Lowercase Spanish id (`"ibuprofeno"`), also its main matching name.
    pub id: &'static str,
    /// Spanish name as written on a receta.
    pub name_es: &'static str,
    /// English (INN) name.
    pub name_en: &'static str,
    /// WHO ATC code of the substance (5th level), or the 4th level for mixtures.
    pub atc: &'static str,
    /// Classes it belongs to.
    pub classes: &'static [DrugClass],
    /// Other names an allergy or an old free-text prescription may use (brands in common use,
    /// abbreviations), lowercase.
    pub aliases: &'static [&'static str],
}

const fn ing(
    id: &'static str,
    name_es: &'static str,
    name_en: &'static str,
    atc: &'static str,
    classes: &'static [DrugClass],
    aliases: &'static [&'static str],
) -> Ingredient {
    Ingredient {
        id,
        name_es,
        name_en,
        atc,
        classes,
        aliases,
    }
}

use DrugClass as C;

/// Every ingredient the formulary and the interaction table use (ids are unique; a test checks it).
pub static INGREDIENTS: &[Ingredient] = &[
    ing(
        "aciclovir",
        "Aciclovir",
        "aciclovir",
        "J05AB01",
        &[C::Antiviral],
        &["acyclovir"],
    ),
    ing(
        "acido acetilsalicilico",
        "Ácido acetilsalicílico",
        "acetylsalicylic acid",
        "N02BA01",
        &[C::Nsaid],
        &["aspirina", "aspirin", "asa"],
    ),
    ing(
        "acido clavulanico",
        "Ácido clavulánico",
        "clavulanic acid",
        "J01CR02",
        &[C::Penicillin],
        &["clavulanato"],
    ),
    ing(
        "acido folico",
        "Ácido fólico",
        "folic acid",
        "B03BB01",
        &[C::Vitamin],
        &[],
    ),
    ing(
        "alopurinol",
        "Alopurinol",
        "allopurinol",
        "M04AA01",
        &[C::XanthineOxidaseInhibitor],
        &["allopurinol"],
    ),
    ing(
        "albendazol",
        "Albendazol",
        "albendazole",
        "P02CA03",
        &[C::Benzimidazole],
        &["albendazole"],
    ),
    ing(
        "amlodipino",
        "Amlodipino",
        "amlodipine",
        "C08CA01",
        &[C::DihydropyridineCcb],
        &["amlodipina", "amlodipine"],
    ),
    ing(
        "amitriptilina",
        "Amitriptilina",
        "amitriptyline",
        "N06AA09",
        &[C::Tricyclic],
        &["amitriptyline"],
    ),
    ing(
        "amoxicilina",
        "Amoxicilina",
        "amoxicillin",
        "J01CA04",
        &[C::Penicillin],
        &["amoxicillin"],
    ),
    ing(
        "ampicilina",
        "Ampicilina",
        "ampicillin",
        "J01CA01",
        &[C::Penicillin],
        &["ampicillin"],
    ),
    ing(
        "atorvastatina",
        "Atorvastatina",
        "atorvastatin",
        "C10AA05",
        &[C::Statin],
        &["atorvastatin"],
    ),
    ing(
        "azitromicina",
        "Azitromicina",
        "azithromycin",
        "J01FA10",
        &[C::Macrolide],
        &["azithromycin"],
    ),
    ing(
        "beclometasona",
        "Beclometasona",
        "beclometasone",
        "R03BA01",
        &[C::InhaledCorticosteroid],
        &["beclomethasone"],
    ),
    ing(
        "bencilpenicilina",
        "Bencilpenicilina",
        "benzylpenicillin",
        "J01CE01",
        &[C::Penicillin],
        &[
            "penicilina benzatinica",
            "penicilina procainica",
            "penicilina g",
        ],
    ),
    ing(
        "bezafibrato",
        "Bezafibrato",
        "bezafibrate",
        "C10AB02",
        &[C::Fibrate],
        &["bezafibrate"],
    ),
    ing(
        "butilhioscina",
        "Butilhioscina",
        "butylscopolamine",
        "A03BB01",
        &[C::Antispasmodic],
        &["hioscina", "buscapina"],
    ),
    ing(
        "captopril",
        "Captopril",
        "captopril",
        "C09AA01",
        &[C::AceInhibitor],
        &[],
    ),
    ing(
        "carbamazepina",
        "Carbamazepina",
        "carbamazepine",
        "N03AF01",
        &[C::EnzymeInducingAntiepileptic],
        &["carbamazepine"],
    ),
    ing(
        "carbonato de calcio",
        "Carbonato de calcio",
        "calcium carbonate",
        "A12AA04",
        &[C::Calcium],
        &["calcio"],
    ),
    ing(
        "cefalexina",
        "Cefalexina",
        "cefalexin",
        "J01DB01",
        &[C::Cephalosporin],
        &["cephalexin", "cefalexin"],
    ),
    ing(
        "ceftriaxona",
        "Ceftriaxona",
        "ceftriaxone",
        "J01DD04",
        &[C::Cephalosporin],
        &["ceftriaxone"],
    ),
    ing(
        "ciprofloxacino",
        "Ciprofloxacino",
        "ciprofloxacin",
        "J01MA02",
        &[C::Fluoroquinolone],
        &["ciprofloxacina", "ciprofloxacin"],
    ),
    ing(
        "claritromicina",
        "Claritromicina",
        "clarithromycin",
        "J01FA09",
        &[C::Macrolide],
        &["clarithromycin"],
    ),
    ing(
        "clindamicina",
        "Clindamicina",
        "clindamycin",
        "J01FF01",
        &[C::Lincosamide],
        &["clindamycin"],
    ),
    ing(
        "clonazepam",
        "Clonazepam",
        "clonazepam",
        "N03AE01",
        &[C::Benzodiazepine],
        &[],
    ),
    ing(
        "clopidogrel",
        "Clopidogrel",
        "clopidogrel",
        "B01AC04",
        &[C::P2y12Inhibitor],
        &[],
    ),
    ing(
        "clorfenamina",
        "Clorfenamina",
        "chlorphenamine",
        "R06AB04",
        &[C::Antihistamine],
        &["clorfeniramina", "chlorpheniramine"],
    ),
    ing(
        "cloruro de potasio",
        "Cloruro de potasio",
        "potassium chloride",
        "A12BA01",
        &[C::PotassiumSupplement],
        &["potasio"],
    ),
    ing(
        "clortalidona",
        "Clortalidona",
        "chlortalidone",
        "C03BA04",
        &[C::ThiazideDiuretic, C::SulfonamideNonAntibacterial],
        &["chlorthalidone"],
    ),
    ing(
        "colchicina",
        "Colchicina",
        "colchicine",
        "M04AC01",
        &[C::Colchicine],
        &["colchicine"],
    ),
    ing(
        "dexametasona",
        "Dexametasona",
        "dexamethasone",
        "H02AB02",
        &[C::SystemicCorticosteroid],
        &["dexamethasone"],
    ),
    ing(
        "diazepam",
        "Diazepam",
        "diazepam",
        "N05BA01",
        &[C::Benzodiazepine],
        &[],
    ),
    ing(
        "diclofenaco",
        "Diclofenaco",
        "diclofenac",
        "M01AB05",
        &[C::Nsaid],
        &["diclofenac"],
    ),
    ing(
        "dicloxacilina",
        "Dicloxacilina",
        "dicloxacillin",
        "J01CF01",
        &[C::Penicillin],
        &["dicloxacillin"],
    ),
    ing(
        "digoxina",
        "Digoxina",
        "digoxin",
        "C01AA05",
        &[C::CardiacGlycoside],
        &["digoxin"],
    ),
    ing(
        "doxiciclina",
        "Doxiciclina",
        "doxycycline",
        "J01AA02",
        &[C::Tetracycline],
        &["doxycycline"],
    ),
    ing(
        "enalapril",
        "Enalapril",
        "enalapril",
        "C09AA02",
        &[C::AceInhibitor],
        &[],
    ),
    ing(
        "eritromicina",
        "Eritromicina",
        "erythromycin",
        "J01FA01",
        &[C::Macrolide],
        &["erythromycin"],
    ),
    ing(
        "espironolactona",
        "Espironolactona",
        "spironolactone",
        "C03DA01",
        &[C::PotassiumSparingDiuretic],
        &["spironolactone"],
    ),
    ing(
        "etinilestradiol",
        "Etinilestradiol",
        "ethinylestradiol",
        "G03AA07",
        &[C::CombinedHormonalContraceptive],
        &[],
    ),
    ing(
        "fenitoina",
        "Fenitoína",
        "phenytoin",
        "N03AB02",
        &[C::EnzymeInducingAntiepileptic],
        &["phenytoin", "difenilhidantoina"],
    ),
    ing(
        "fluconazol",
        "Fluconazol",
        "fluconazole",
        "J02AC01",
        &[C::AzoleAntifungal],
        &["fluconazole"],
    ),
    ing(
        "fluoxetina",
        "Fluoxetina",
        "fluoxetine",
        "N06AB03",
        &[C::Ssri],
        &["fluoxetine", "prozac"],
    ),
    ing(
        "furosemida",
        "Furosemida",
        "furosemide",
        "C03CA01",
        &[C::LoopDiuretic, C::SulfonamideNonAntibacterial],
        &["furosemide"],
    ),
    ing(
        "glibenclamida",
        "Glibenclamida",
        "glibenclamide",
        "A10BB01",
        &[C::Sulfonylurea, C::SulfonamideNonAntibacterial],
        &["gliburida", "glyburide", "glibenclamide"],
    ),
    ing(
        "haloperidol",
        "Haloperidol",
        "haloperidol",
        "N05AD01",
        &[C::Antipsychotic],
        &[],
    ),
    ing(
        "hidroclorotiazida",
        "Hidroclorotiazida",
        "hydrochlorothiazide",
        "C03AA03",
        &[C::ThiazideDiuretic, C::SulfonamideNonAntibacterial],
        &["hctz", "hydrochlorothiazide"],
    ),
    ing(
        "ibuprofeno",
        "Ibuprofeno",
        "ibuprofen",
        "M01AE01",
        &[C::Nsaid],
        &["ibuprofen", "advil", "motrin"],
    ),
    ing(
        "insulina glargina",
        "Insulina glargina",
        "insulin glargine",
        "A10AE04",
        &[C::Insulin],
        &["glargina"],
    ),
    ing(
        "insulina humana",
        "Insulina humana",
        "human insulin",
        "A10AC01",
        &[C::Insulin],
        &["insulina nph", "insulina intermedia"],
    ),
    ing(
        "isosorbida",
        "Dinitrato de isosorbida",
        "isosorbide dinitrate",
        "C01DA08",
        &[C::Nitrate],
        &["dinitrato de isosorbida", "isosorbide"],
    ),
    ing(
        "ketorolaco",
        "Ketorolaco",
        "ketorolac",
        "M01AB15",
        &[C::Nsaid],
        &["ketorolac"],
    ),
    ing(
        "levonorgestrel",
        "Levonorgestrel",
        "levonorgestrel",
        "G03AC03",
        &[C::ProgestogenContraceptive],
        &[],
    ),
    ing(
        "levotiroxina",
        "Levotiroxina",
        "levothyroxine",
        "H03AA01",
        &[C::ThyroidHormone],
        &["levothyroxine", "tiroxina"],
    ),
    ing(
        "loratadina",
        "Loratadina",
        "loratadine",
        "R06AX13",
        &[C::Antihistamine],
        &["loratadine"],
    ),
    ing(
        "losartan",
        "Losartán",
        "losartan",
        "C09CA01",
        &[C::Arb],
        &[],
    ),
    ing(
        "metamizol",
        "Metamizol",
        "metamizole",
        "N02BB02",
        &[C::Nsaid],
        &["dipirona", "metamizole", "neomelubrina"],
    ),
    ing(
        "metformina",
        "Metformina",
        "metformin",
        "A10BA02",
        &[C::Biguanide],
        &["metformin"],
    ),
    ing(
        "metilprednisolona",
        "Metilprednisolona",
        "methylprednisolone",
        "H02AB04",
        &[C::SystemicCorticosteroid],
        &["methylprednisolone"],
    ),
    ing(
        "metoclopramida",
        "Metoclopramida",
        "metoclopramide",
        "A03FA01",
        &[C::Prokinetic],
        &["metoclopramide"],
    ),
    ing(
        "metoprolol",
        "Metoprolol",
        "metoprolol",
        "C07AB02",
        &[C::BetaBlocker],
        &[],
    ),
    ing(
        "metotrexato",
        "Metotrexato",
        "methotrexate",
        "L04AX03",
        &[C::Antimetabolite],
        &["methotrexate"],
    ),
    ing(
        "metronidazol",
        "Metronidazol",
        "metronidazole",
        "P01AB01",
        &[C::Nitroimidazole],
        &["metronidazole", "flagyl"],
    ),
    ing(
        "naproxeno",
        "Naproxeno",
        "naproxen",
        "M01AE02",
        &[C::Nsaid],
        &["naproxen"],
    ),
    ing(
        "nifedipino",
        "Nifedipino",
        "nifedipine",
        "C08CA05",
        &[C::DihydropyridineCcb],
        &["nifedipina", "nifedipine"],
    ),
    ing(
        "nitrofurantoina",
        "Nitrofurantoína",
        "nitrofurantoin",
        "J01XE01",
        &[C::Nitrofuran],
        &["nitrofurantoin"],
    ),
    ing(
        "nitroglicerina",
        "Nitroglicerina",
        "glyceryl trinitrate",
        "C01DA02",
        &[C::Nitrate],
        &["trinitrato de glicerilo", "nitroglycerin"],
    ),
    ing(
        "omeprazol",
        "Omeprazol",
        "omeprazole",
        "A02BC01",
        &[C::ProtonPumpInhibitor],
        &["omeprazole"],
    ),
    ing(
        "paracetamol",
        "Paracetamol",
        "paracetamol",
        "N02BE01",
        &[],
        &["acetaminofen", "acetaminophen", "tempra", "tylenol"],
    ),
    ing(
        "pravastatina",
        "Pravastatina",
        "pravastatin",
        "C10AA03",
        &[C::Statin],
        &["pravastatin"],
    ),
    ing(
        "prednisona",
        "Prednisona",
        "prednisone",
        "H02AB07",
        &[C::SystemicCorticosteroid],
        &["prednisone"],
    ),
    ing(
        "propranolol",
        "Propranolol",
        "propranolol",
        "C07AA05",
        &[C::BetaBlocker],
        &[],
    ),
    ing(
        "ranitidina",
        "Ranitidina",
        "ranitidine",
        "A02BA02",
        &[C::H2Antagonist],
        &["ranitidine"],
    ),
    ing(
        "sales de rehidratacion oral",
        "Electrolitos orales",
        "oral rehydration salts",
        "A07CA",
        &[C::OralRehydration],
        &["vida suero oral", "suero oral"],
    ),
    ing(
        "salbutamol",
        "Salbutamol",
        "salbutamol",
        "R03AC02",
        &[C::Saba],
        &["albuterol"],
    ),
    ing(
        "sertralina",
        "Sertralina",
        "sertraline",
        "N06AB06",
        &[C::Ssri],
        &["sertraline"],
    ),
    ing(
        "sildenafil",
        "Sildenafil",
        "sildenafil",
        "G04BE03",
        &[C::Pde5Inhibitor],
        &["viagra"],
    ),
    ing(
        "simvastatina",
        "Simvastatina",
        "simvastatin",
        "C10AA01",
        &[C::Statin],
        &["simvastatin"],
    ),
    ing(
        "sulfametoxazol",
        "Sulfametoxazol",
        "sulfamethoxazole",
        "J01EC01",
        &[C::SulfonamideAntibacterial],
        &[
            "sulfamethoxazole",
            "bactrim",
            "tmp smx",
            "cotrimoxazol",
            "co trimoxazol",
        ],
    ),
    ing(
        "sulfato ferroso",
        "Sulfato ferroso",
        "ferrous sulfate",
        "B03AA07",
        &[C::Iron],
        &["hierro"],
    ),
    ing(
        "tiamazol",
        "Tiamazol",
        "thiamazole",
        "H03BB02",
        &[C::Antithyroid],
        &["metimazol", "methimazole"],
    ),
    ing(
        "tramadol",
        "Tramadol",
        "tramadol",
        "N02AX02",
        &[C::Opioid],
        &[],
    ),
    ing(
        "trimetoprima",
        "Trimetoprima",
        "trimethoprim",
        "J01EA01",
        &[],
        &["trimethoprim"],
    ),
    ing(
        "valproato",
        "Ácido valproico",
        "valproic acid",
        "N03AG01",
        &[C::Antiepileptic],
        &["acido valproico", "valproato de magnesio", "valproic acid"],
    ),
    ing(
        "verapamilo",
        "Verapamilo",
        "verapamil",
        "C08DA01",
        &[C::NonDihydropyridineCcb],
        &["verapamil"],
    ),
    ing(
        "warfarina",
        "Warfarina",
        "warfarin",
        "B01AA03",
        &[C::VitaminKAntagonist],
        &["warfarin"],
    ),
    ing(
        "acenocumarol",
        "Acenocumarol",
        "acenocoumarol",
        "B01AA07",
        &[C::VitaminKAntagonist],
        &["sintrom"],
    ),
];

/// The ingredient with this id.
pub fn ingredient(id: &str) -> Option<&'static Ingredient> {
    INGREDIENTS.iter().find(|i| i.id == id)
}

/// Every ingredient whose id, Spanish or English name, or alias occurs as whole words in `text`
/// (accent- and case-insensitive): "Metformina 850 mg" → metformina; "TMP/SMX" → sulfametoxazol.
pub fn ingredients_in_text(text_raw: &str) -> Vec<&'static Ingredient> {
    let folded = text::fold(text_raw);
    INGREDIENTS
        .iter()
        .filter(|ingredient| {
            std::iter::once(ingredient.id)
                .chain([ingredient.name_es, ingredient.name_en])
                .chain(ingredient.aliases.iter().copied())
                .any(|name| text::contains_phrase(&folded, &text::fold(name)))
        })
        .collect()
}

/// Every class whose allergy terms occur as whole words in `text` ("Alergia a AINE", "sulfas").
pub fn classes_in_text(text_raw: &str) -> Vec<DrugClass> {
    let folded = text::fold(text_raw);
    DrugClass::ALL
        .iter()
        .copied()
        .filter(|class| {
            class
                .allergy_terms()
                .iter()
                .any(|term| text::contains_phrase(&folded, &text::fold(term)))
        })
        .collect()
}
