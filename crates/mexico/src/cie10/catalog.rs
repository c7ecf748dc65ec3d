//! The built-in CIE-10 catalog: codes that fill Mexican primary care, with Spanish descriptions.
//!
//! Descriptions follow the Spanish CIE-10 (OPS) wording as closely as we could reproduce it without the
//! DGIS file; the authoritative catalog is DGIS `DIAGNOSTICO_SIS`, which production should load and
//! version. Limits: sex limits where the code is anatomically specific; the age range 9–59 years for
//! pregnancy codes (mexico.md §A3). No other age limits are invented here.
//! Sorted by code (binary search relies on it; a test checks it).

use super::{Cie10Entry, SexLimit};

const fn any(code: &'static str, description: &'static str) -> Cie10Entry {
    Cie10Entry {
        code,
        description,
        sex: SexLimit::Any,
        age_years: None,
    }
}

const fn female(code: &'static str, description: &'static str) -> Cie10Entry {
    Cie10Entry {
        code,
        description,
        sex: SexLimit::Mujer,
        age_years: None,
    }
}

const fn male(code: &'static str, description: &'static str) -> Cie10Entry {
    Cie10Entry {
        code,
        description,
        sex: SexLimit::Hombre,
        age_years: None,
    }
}

/// Pregnancy, childbirth and puerperium: women aged 9 to 59 (the DGIS limit quoted in mexico.md §A3).
const fn pregnancy(code: &'static str, description: &'static str) -> Cie10Entry {
    Cie10Entry {
        code,
        description,
        sex: SexLimit::Mujer,
        age_years: Some((9, 59)),
    }
}

/// The built-in catalog (240 entries), sorted by code.
pub static CATALOG: [Cie10Entry; 240] = [
    any("A01.0", "Fiebre tifoidea"),
    any("A06.0", "Disentería amebiana aguda"),
    any("A07.1", "Giardiasis [lambliasis]"),
    any(
        "A09",
        "Diarrea y gastroenteritis de presunto origen infeccioso",
    ),
    any(
        "A15.0",
        "Tuberculosis del pulmón, confirmada por hallazgo microscópico del bacilo tuberculoso en esputo, con o sin cultivo",
    ),
    any(
        "A16.2",
        "Tuberculosis de pulmón, sin mención de confirmación bacteriológica o histológica",
    ),
    any("A37.9", "Tos ferina, no especificada"),
    any("A38", "Escarlatina"),
    any("A46", "Erisipela"),
    any("A53.9", "Sífilis, no especificada"),
    any("A54.9", "Infección gonocócica, no especificada"),
    any("A59.0", "Tricomoniasis urogenital"),
    any(
        "A60.0",
        "Infección de genitales y trayecto urogenital debida a virus del herpes [herpes simple]",
    ),
    any("A63.0", "Verrugas (venéreas) anogenitales"),
    any("A90", "Fiebre del dengue [dengue clásico]"),
    any("A91", "Fiebre del dengue hemorrágico"),
    any("A92.0", "Enfermedad por virus Chikungunya"),
    any("B01.9", "Varicela sin complicaciones"),
    any("B02.9", "Herpes zóster sin complicaciones"),
    any("B05.9", "Sarampión sin complicaciones"),
    any("B06.9", "Rubéola sin complicaciones"),
    any("B07", "Verrugas víricas"),
    any("B08.4", "Estomatitis vesicular enteroviral con exantema"),
    any("B15.9", "Hepatitis aguda tipo A, sin coma hepático"),
    any(
        "B16.9",
        "Hepatitis aguda tipo B, sin agente delta y sin coma hepático",
    ),
    any("B18.2", "Hepatitis viral tipo C crónica"),
    any(
        "B24",
        "Enfermedad por virus de la inmunodeficiencia humana [VIH], sin otra especificación",
    ),
    any("B26.9", "Parotiditis, sin complicaciones"),
    any("B35.0", "Tiña de la barba y del cuero cabelludo"),
    any("B35.1", "Tiña de las uñas"),
    any("B35.3", "Tiña del pie [tinea pedis]"),
    any("B35.4", "Tiña del cuerpo [tinea corporis]"),
    any("B36.0", "Pitiriasis versicolor"),
    any("B37.0", "Estomatitis candidiásica"),
    female("B37.3", "Candidiasis de la vulva y de la vagina"),
    any("B77.9", "Ascariasis, no especificada"),
    any("B80", "Enterobiasis"),
    any("B82.9", "Parasitosis intestinal, sin otra especificación"),
    any("B85.0", "Pediculosis debida a Pediculus humanus capitis"),
    any("B86", "Escabiosis"),
    any("C16.9", "Tumor maligno del estómago, parte no especificada"),
    any("C18.9", "Tumor maligno del colon, parte no especificada"),
    any("C50.9", "Tumor maligno de la mama, parte no especificada"),
    female(
        "C53.9",
        "Tumor maligno del cuello del útero, sin otra especificación",
    ),
    male("C61", "Tumor maligno de la próstata"),
    female("D25.9", "Leiomioma del útero, sin otra especificación"),
    any(
        "D50.9",
        "Anemia por deficiencia de hierro sin otra especificación",
    ),
    any("D64.9", "Anemia de tipo no especificado"),
    any("E03.9", "Hipotiroidismo, no especificado"),
    any("E05.9", "Tirotoxicosis, no especificada"),
    any(
        "E10.9",
        "Diabetes mellitus insulinodependiente, sin mención de complicación",
    ),
    any(
        "E11.0",
        "Diabetes mellitus no insulinodependiente, con coma",
    ),
    any(
        "E11.1",
        "Diabetes mellitus no insulinodependiente, con cetoacidosis",
    ),
    any(
        "E11.2",
        "Diabetes mellitus no insulinodependiente, con complicaciones renales",
    ),
    any(
        "E11.3",
        "Diabetes mellitus no insulinodependiente, con complicaciones oftálmicas",
    ),
    any(
        "E11.4",
        "Diabetes mellitus no insulinodependiente, con complicaciones neurológicas",
    ),
    any(
        "E11.5",
        "Diabetes mellitus no insulinodependiente, con complicaciones circulatorias periféricas",
    ),
    any(
        "E11.6",
        "Diabetes mellitus no insulinodependiente, con otras complicaciones especificadas",
    ),
    any(
        "E11.7",
        "Diabetes mellitus no insulinodependiente, con complicaciones múltiples",
    ),
    any(
        "E11.8",
        "Diabetes mellitus no insulinodependiente, con complicaciones no especificadas",
    ),
    any(
        "E11.9",
        "Diabetes mellitus no insulinodependiente, sin mención de complicación",
    ),
    any(
        "E14.9",
        "Diabetes mellitus, no especificada, sin mención de complicación",
    ),
    any("E16.2", "Hipoglicemia, no especificada"),
    female("E28.2", "Síndrome de ovario poliquístico"),
    any(
        "E43",
        "Desnutrición proteicocalórica severa, no especificada",
    ),
    any("E44.0", "Desnutrición proteicocalórica moderada"),
    any("E44.1", "Desnutrición proteicocalórica leve"),
    any("E46", "Desnutrición proteicocalórica, no especificada"),
    any("E55.9", "Deficiencia de vitamina D, no especificada"),
    any("E66.0", "Obesidad debida a exceso de calorías"),
    any("E66.9", "Obesidad, no especificada"),
    any("E78.0", "Hipercolesterolemia pura"),
    any("E78.1", "Hipergliceridemia pura"),
    any("E78.2", "Hiperlipidemia mixta"),
    any("E78.5", "Hiperlipidemia no especificada"),
    any(
        "E79.0",
        "Hiperuricemia sin signos de artritis inflamatoria y enfermedad tofácea",
    ),
    any("E86", "Depleción del volumen"),
    any(
        "F10.2",
        "Trastornos mentales y del comportamiento debidos al uso de alcohol: síndrome de dependencia",
    ),
    any(
        "F17.2",
        "Trastornos mentales y del comportamiento debidos al uso de tabaco: síndrome de dependencia",
    ),
    any("F32.0", "Episodio depresivo leve"),
    any("F32.1", "Episodio depresivo moderado"),
    any("F32.2", "Episodio depresivo grave sin síntomas psicóticos"),
    any("F32.9", "Episodio depresivo, no especificado"),
    any("F33.9", "Trastorno depresivo recurrente, no especificado"),
    any(
        "F41.0",
        "Trastorno de pánico [ansiedad paroxística episódica]",
    ),
    any("F41.1", "Trastorno de ansiedad generalizada"),
    any("F41.2", "Trastorno mixto de ansiedad y depresión"),
    any("F41.9", "Trastorno de ansiedad, no especificado"),
    any("F43.2", "Trastornos de adaptación"),
    any("F51.0", "Insomnio no orgánico"),
    any("F90.0", "Perturbación de la actividad y de la atención"),
    any("G40.9", "Epilepsia, tipo no especificado"),
    any("G43.9", "Migraña, no especificada"),
    any("G44.2", "Cefalea debida a tensión"),
    any("G56.0", "Síndrome del túnel carpiano"),
    any(
        "H00.0",
        "Orzuelo y otras inflamaciones profundas del párpado",
    ),
    any("H10.0", "Conjuntivitis mucopurulenta"),
    any("H10.9", "Conjuntivitis, no especificada"),
    any("H25.9", "Catarata senil, no especificada"),
    any("H40.9", "Glaucoma, no especificado"),
    any("H52.1", "Miopía"),
    any("H52.4", "Presbicia"),
    any("H60.9", "Otitis externa, sin otra especificación"),
    any("H61.2", "Cerumen impactado"),
    any("H66.9", "Otitis media, no especificada"),
    any("I10", "Hipertensión esencial (primaria)"),
    any(
        "I11.9",
        "Enfermedad cardíaca hipertensiva sin insuficiencia cardíaca (congestiva)",
    ),
    any("I20.9", "Angina de pecho, no especificada"),
    any(
        "I21.9",
        "Infarto agudo del miocardio, sin otra especificación",
    ),
    any(
        "I25.9",
        "Enfermedad isquémica crónica del corazón, no especificada",
    ),
    any("I50.0", "Insuficiencia cardíaca congestiva"),
    any("I50.9", "Insuficiencia cardíaca, no especificada"),
    any("I63.9", "Infarto cerebral, no especificado"),
    any(
        "I64",
        "Accidente vascular encefálico agudo, no especificado como hemorrágico o isquémico",
    ),
    any(
        "I83.9",
        "Venas varicosas de los miembros inferiores sin úlcera ni inflamación",
    ),
    any("I95.9", "Hipotensión, no especificada"),
    any("J00", "Rinofaringitis aguda [resfriado común]"),
    any("J01.9", "Sinusitis aguda, no especificada"),
    any("J02.0", "Faringitis estreptocócica"),
    any("J02.9", "Faringitis aguda, no especificada"),
    any("J03.0", "Amigdalitis estreptocócica"),
    any("J03.9", "Amigdalitis aguda, no especificada"),
    any("J04.0", "Laringitis aguda"),
    any("J05.0", "Laringitis obstructiva aguda [crup]"),
    any(
        "J06.9",
        "Infección aguda de las vías respiratorias superiores, no especificada",
    ),
    any(
        "J10.1",
        "Influenza con otras manifestaciones respiratorias, virus de la influenza identificado",
    ),
    any(
        "J11.1",
        "Influenza con otras manifestaciones respiratorias, virus no identificado",
    ),
    any("J15.9", "Neumonía bacteriana, no especificada"),
    any("J18.9", "Neumonía, no especificada"),
    any("J20.9", "Bronquitis aguda, no especificada"),
    any("J21.9", "Bronquiolitis aguda, no especificada"),
    any("J30.4", "Rinitis alérgica, no especificada"),
    any("J32.9", "Sinusitis crónica, no especificada"),
    any("J40", "Bronquitis, no especificada como aguda o crónica"),
    any(
        "J44.9",
        "Enfermedad pulmonar obstructiva crónica, no especificada",
    ),
    any("J45.0", "Asma predominantemente alérgica"),
    any("J45.9", "Asma, no especificada"),
    any("J46", "Estado asmático"),
    any("K02.1", "Caries de la dentina"),
    any("K02.9", "Caries dental, no especificada"),
    any("K04.0", "Pulpitis"),
    any("K05.0", "Gingivitis aguda"),
    any("K05.1", "Gingivitis crónica"),
    any("K12.0", "Estomatitis aftosa recurrente"),
    any(
        "K21.9",
        "Enfermedad del reflujo gastroesofágico sin esofagitis",
    ),
    any("K29.7", "Gastritis, no especificada"),
    any("K30", "Dispepsia"),
    any(
        "K40.9",
        "Hernia inguinal unilateral o no especificada, sin obstrucción ni gangrena",
    ),
    any("K42.9", "Hernia umbilical sin obstrucción ni gangrena"),
    any(
        "K52.9",
        "Colitis y gastroenteritis no infecciosas, no especificadas",
    ),
    any("K58.9", "Síndrome del colon irritable sin diarrea"),
    any("K59.0", "Constipación"),
    any("K74.6", "Otras cirrosis del hígado y las no especificadas"),
    any(
        "K76.0",
        "Degeneración grasa del hígado, no clasificada en otra parte",
    ),
    any("K80.2", "Cálculo de la vesícula biliar sin colecistitis"),
    any("K81.1", "Colecistitis crónica"),
    any(
        "L01.0",
        "Impétigo [cualquier sitio anatómico] [cualquier organismo]",
    ),
    any(
        "L02.9",
        "Absceso cutáneo, furúnculo y carbunco de sitio no especificado",
    ),
    any("L03.9", "Celulitis de sitio no especificado"),
    any("L20.9", "Dermatitis atópica, no especificada"),
    any("L21.9", "Dermatitis seborreica, no especificada"),
    any("L22", "Dermatitis del pañal"),
    any(
        "L23.9",
        "Dermatitis alérgica de contacto, de causa no especificada",
    ),
    any("L30.9", "Dermatitis, no especificada"),
    any("L50.9", "Urticaria, no especificada"),
    any("L60.0", "Uña encarnada"),
    any("L70.0", "Acné vulgar"),
    any("M06.9", "Artritis reumatoide, no especificada"),
    any("M10.9", "Gota, no especificada"),
    any("M17.9", "Gonartrosis, no especificada"),
    any("M19.9", "Artrosis, no especificada"),
    any("M25.5", "Dolor en articulación"),
    any("M54.2", "Cervicalgia"),
    any("M54.4", "Lumbago con ciática"),
    any("M54.5", "Lumbago no especificado"),
    any("M62.6", "Distensión muscular"),
    any("M79.1", "Mialgia"),
    any("M81.9", "Osteoporosis, no especificada"),
    any("N18.9", "Enfermedad renal crónica, no especificada"),
    any("N20.0", "Cálculo del riñón"),
    any("N30.0", "Cistitis aguda"),
    any(
        "N39.0",
        "Infección de vías urinarias, sitio no especificado",
    ),
    male("N40", "Hiperplasia de la próstata"),
    female("N60.1", "Mastopatía quística difusa"),
    female(
        "N73.9",
        "Enfermedad inflamatoria pélvica femenina, no especificada",
    ),
    female("N76.0", "Vaginitis aguda"),
    female("N91.2", "Amenorrea, sin otra especificación"),
    female(
        "N92.0",
        "Menstruación excesiva y frecuente con ciclo regular",
    ),
    female("N94.6", "Dismenorrea, no especificada"),
    female("N95.1", "Estados menopáusicos y climatéricos femeninos"),
    female("N97.9", "Infertilidad femenina, no especificada"),
    pregnancy(
        "O03.9",
        "Aborto espontáneo completo o no especificado, sin complicación",
    ),
    pregnancy(
        "O13",
        "Hipertensión gestacional [inducida por el embarazo] sin proteinuria significativa",
    ),
    pregnancy("O14.9", "Preeclampsia, no especificada"),
    pregnancy("O20.0", "Amenaza de aborto"),
    pregnancy("O21.0", "Hiperemesis gravídica leve"),
    pregnancy(
        "O23.4",
        "Infección no especificada de las vías urinarias en el embarazo",
    ),
    pregnancy("O24.4", "Diabetes mellitus que se origina con el embarazo"),
    pregnancy(
        "O99.0",
        "Anemia que complica el embarazo, el parto y el puerperio",
    ),
    any("R05", "Tos"),
    any("R06.0", "Disnea"),
    any("R10.4", "Otros dolores abdominales y los no especificados"),
    any("R11", "Náusea y vómito"),
    any("R42", "Mareo y desvanecimiento"),
    any("R50.9", "Fiebre, no especificada"),
    any("R51", "Cefalea"),
    any("R63.4", "Pérdida anormal de peso"),
    any(
        "R69",
        "Causas de morbilidad desconocidas y no especificadas",
    ),
    any(
        "R73.0",
        "Anormalidades en la prueba de tolerancia a la glucosa",
    ),
    any("R73.9", "Hiperglicemia, no especificada"),
    any("S93.4", "Esguince y torcedura del tobillo"),
    any(
        "T14.0",
        "Traumatismo superficial de región no especificada del cuerpo",
    ),
    any("T14.1", "Herida de región no especificada del cuerpo"),
    any(
        "T30.0",
        "Quemadura de región del cuerpo no especificada, grado no especificado",
    ),
    any("T63.2", "Efecto tóxico del veneno de escorpión"),
    any("U07.1", "COVID-19, virus identificado"),
    any("U07.2", "COVID-19, virus no identificado"),
    any("Z00.0", "Examen médico general"),
    any("Z00.1", "Control de salud de rutina del niño"),
    any("Z00.3", "Examen del estado de desarrollo del adolescente"),
    female("Z01.4", "Examen ginecológico (general) (de rutina)"),
    any("Z12.3", "Examen de pesquisa especial para tumor de la mama"),
    female(
        "Z12.4",
        "Examen de pesquisa especial para tumor del cuello uterino",
    ),
    any(
        "Z13.1",
        "Examen de pesquisa especial para diabetes mellitus",
    ),
    any(
        "Z23.5",
        "Necesidad de inmunización contra el tétanos solamente",
    ),
    any(
        "Z25.1",
        "Necesidad de inmunización contra la influenza [gripe]",
    ),
    any(
        "Z27.1",
        "Necesidad de inmunización contra la difteria-tos ferina-tétanos combinados [DPT]",
    ),
    any(
        "Z27.4",
        "Necesidad de inmunización contra el sarampión-parotiditis-rubéola [SPR]",
    ),
    any(
        "Z30.0",
        "Consejo y asesoramiento general sobre la anticoncepción",
    ),
    female(
        "Z30.1",
        "Inserción de dispositivo anticonceptivo (intrauterino)",
    ),
    any("Z30.4", "Supervisión del uso de drogas anticonceptivas"),
    pregnancy("Z32.1", "Embarazo confirmado"),
    pregnancy("Z34.0", "Supervisión de primer embarazo normal"),
    pregnancy("Z34.8", "Supervisión de otros embarazos normales"),
    pregnancy("Z34.9", "Supervisión de embarazo normal no especificado"),
    pregnancy(
        "Z35.9",
        "Supervisión de embarazo de alto riesgo, sin otra especificación",
    ),
    pregnancy("Z39.2", "Seguimiento postparto, de rutina"),
    any(
        "Z71.3",
        "Consulta para instrucción y vigilancia de la dieta",
    ),
    any("Z72.0", "Problemas relacionados con el uso del tabaco"),
    any("Z76.0", "Consulta para repetición de receta"),
];
