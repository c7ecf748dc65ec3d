//! Every string the UI shows, in Spanish (es-MX, the source) and English, in one table.
//!
//! Why a table and not Fluent: the UI has a few hundred fixed strings and no plurals that need
//! CLDR rules; a sorted static table is checked by a test (every key used by a template or by
//! the code exists, keys are unique) and costs nothing at start-up. Dynamic text (names,
//! diagnoses, error details) comes from the record or from `ehr`'s own es/en messages.

/// The two languages of the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Es,
    En,
}

impl Lang {
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "es" | "es-MX" => Some(Lang::Es),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Es => "es-MX",
            Lang::En => "en",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        }
    }
}

/// The translator handed to templates: `tr.s("key")`.
#[derive(Clone, Copy, Debug)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    /// The message for `key`; an unknown key shows itself (the table test catches it first).
    pub fn s(&self, key: &'static str) -> &'static str {
        match MESSAGES.binary_search_by(|(k, _, _)| (*k).cmp(key)) {
            Ok(idx) => match self.lang {
                Lang::Es => MESSAGES[idx].1,
                Lang::En => MESSAGES[idx].2,
            },
            Err(_) => key,
        }
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    /// Picks between a Spanish and an English text that came with the data.
    pub fn pick<'a>(&self, es: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Es => es,
            Lang::En => en,
        }
    }

    /// Label of a FHIR `gender` code.
    pub fn gender(&self, gender: &str) -> &'static str {
        match gender {
            "male" => self.s("sex.male"),
            "female" => self.s("sex.female"),
            "other" => self.s("sex.other"),
            _ => self.s("sex.unknown"),
        }
    }
}

/// (key, Spanish, English), sorted by key (a test checks it).
pub static MESSAGES: &[(&str, &str, &str)] = &[
    (
        "access.denied",
        "No tiene permiso para ver este expediente.",
        "You are not allowed to see this record.",
    ),
    ("access.log", "Bitácora de accesos", "Access log"),
    ("access.log.action", "Acción", "Action"),
    (
        "access.log.empty",
        "Sin accesos registrados en esta sesión del nodo.",
        "No accesses recorded on this node yet.",
    ),
    (
        "access.log.reason",
        "Motivo de emergencia",
        "Emergency reason",
    ),
    ("access.log.when", "Fecha y hora", "Date and time"),
    ("access.log.who", "Usuario", "User"),
    (
        "action.back_to_chart",
        "Volver al expediente",
        "Back to the chart",
    ),
    ("action.review", "Revisar", "Review"),
    ("action.search", "Buscar", "Search"),
    ("allergies", "Alergias", "Allergies"),
    ("allergies.banner", "ALERGIAS", "ALLERGIES"),
    (
        "allergies.none",
        "Sin alergias registradas",
        "No known allergies recorded",
    ),
    ("app.name", "Expediente", "Expediente"),
    (
        "app.tagline",
        "Expediente clínico nacional",
        "National health record",
    ),
    (
        "bg.explain",
        "No hay una relación de atención entre este paciente y su unidad. Puede abrir el expediente en una emergencia: el acceso y el motivo quedan registrados y el paciente podrá verlos.",
        "There is no care relationship between this patient and your facility. You may open the record in an emergency: the access and the reason are recorded and the patient will be able to see them.",
    ),
    (
        "bg.open",
        "Abrir expediente (acceso de emergencia)",
        "Open the record (emergency access)",
    ),
    (
        "bg.reason",
        "Motivo del acceso de emergencia",
        "Reason for the emergency access",
    ),
    (
        "bg.reason.required",
        "Escriba el motivo del acceso de emergencia.",
        "Write the reason for the emergency access.",
    ),
    ("bg.title", "Acceso de emergencia", "Emergency access"),
    ("chart.age", "Edad", "Age"),
    ("chart.alerts", "Alertas", "Alerts"),
    ("chart.birth", "Nacimiento", "Born"),
    ("chart.consult", "Nueva consulta", "New consultation"),
    ("chart.curp_pending", "CURP pendiente", "CURP pending"),
    ("chart.folio", "Folio", "Record no."),
    ("chart.months", "meses", "months"),
    ("chart.print", "Resumen para imprimir", "Printable summary"),
    ("chart.refer", "Referir", "Refer"),
    ("chart.registered_at", "Registrado en", "Registered at"),
    ("chart.sex", "Sexo", "Sex"),
    (
        "chart.too_many",
        "El expediente es muy extenso; se muestran los registros más recientes.",
        "The record is very large; only the most recent entries are shown.",
    ),
    ("chart.years", "años", "years"),
    (
        "cie.none",
        "No se encontraron diagnósticos CIE-10 con ese texto.",
        "No ICD-10 diagnosis matches that text.",
    ),
    (
        "cie.pick",
        "Elija el diagnóstico CIE-10",
        "Pick the ICD-10 diagnosis",
    ),
    ("cie.search", "Buscar en CIE-10", "Search ICD-10"),
    (
        "cie.unknown",
        "El código CIE-10 no está en el catálogo.",
        "The ICD-10 code is not in the catalog.",
    ),
    ("consult.addenda", "Addenda", "Addenda"),
    ("consult.addendum", "Agregar addendum", "Add an addendum"),
    (
        "consult.addendum.text",
        "Texto del addendum (corrección o ampliación)",
        "Addendum text (correction or addition)",
    ),
    ("consult.analysis", "Análisis clínico", "Clinical reasoning"),
    (
        "consult.assessment",
        "Análisis y diagnóstico (A)",
        "Assessment and diagnosis (A)",
    ),
    (
        "consult.diagnosis",
        "Diagnóstico (CIE-10: código o texto)",
        "Diagnosis (ICD-10: code or text)",
    ),
    (
        "consult.dx_required",
        "Elija un diagnóstico del catálogo CIE-10.",
        "Pick a diagnosis from the ICD-10 catalog.",
    ),
    (
        "consult.immutable",
        "Nota firmada: no se puede modificar. Las correcciones se agregan como addendum.",
        "Signed note: it cannot be changed. Corrections are added as addenda.",
    ),
    (
        "consult.labs",
        "Estudios de laboratorio",
        "Laboratory orders",
    ),
    (
        "consult.labs.repeat",
        "Este estudio ya tiene resultado en los últimos 30 días:",
        "This test already has a result in the last 30 days:",
    ),
    (
        "consult.labs.repeat_confirm",
        "Entiendo; solicitar de todos modos los estudios repetidos",
        "I understand; order the repeated tests anyway",
    ),
    ("consult.note", "Nota de evolución", "Progress note"),
    (
        "consult.objective",
        "Exploración física (O)",
        "Physical examination (O)",
    ),
    ("consult.plan", "Plan", "Plan"),
    ("consult.prescriptions", "Receta", "Prescriptions"),
    (
        "consult.rx.dose",
        "Indicación (dosis, vía, frecuencia, duración)",
        "Instructions (dose, route, frequency, duration)",
    ),
    ("consult.rx.drug", "Medicamento", "Medicine"),
    (
        "consult.saved",
        "Nota firmada y guardada.",
        "Note signed and saved.",
    ),
    ("consult.sign", "Firmar y guardar", "Sign and save"),
    ("consult.signed_by", "Firmada por", "Signed by"),
    (
        "consult.subjective",
        "Padecimiento actual / interrogatorio (S)",
        "Presenting complaint / history (S)",
    ),
    ("consult.title", "Nota de evolución", "Progress note"),
    ("consult.vitals", "Signos vitales", "Vital signs"),
    (
        "error.generic",
        "No se pudo completar la operación.",
        "The operation could not be completed.",
    ),
    (
        "error.not_found",
        "No se encontró lo que buscaba.",
        "What you were looking for was not found.",
    ),
    ("error.title", "Error", "Error"),
    ("find.by_curp", "Por CURP", "By CURP"),
    (
        "find.by_name",
        "Por nombre y fecha de nacimiento",
        "By name and birth date",
    ),
    (
        "find.curp_invalid",
        "La CURP no es válida:",
        "The CURP is not valid:",
    ),
    (
        "find.duplicate",
        "Posible duplicado en revisión",
        "Possible duplicate under review",
    ),
    ("find.grade", "Coincidencia", "Match"),
    ("find.grade.certain", "segura", "certain"),
    ("find.grade.possible", "posible", "possible"),
    ("find.grade.probable", "probable", "probable"),
    (
        "find.need_name",
        "Escriba al menos el primer apellido y la fecha de nacimiento.",
        "Type at least the first surname and the birth date.",
    ),
    (
        "find.none",
        "No se encontró ningún paciente.",
        "No patient found.",
    ),
    (
        "find.register",
        "Registrar paciente nuevo",
        "Register a new patient",
    ),
    ("find.results", "Resultados", "Results"),
    ("find.title", "Buscar paciente", "Find a patient"),
    ("form.birth_date", "Fecha de nacimiento", "Birth date"),
    (
        "form.birth_state",
        "Entidad de nacimiento",
        "State of birth",
    ),
    ("form.curp", "CURP", "CURP"),
    (
        "form.curp.help",
        "18 caracteres; se valida al escribir.",
        "18 characters; checked as you type.",
    ),
    ("form.first_surname", "Primer apellido", "First surname"),
    ("form.given", "Nombre(s)", "Given name(s)"),
    ("form.optional", "opcional", "optional"),
    ("form.phone", "Teléfono", "Phone"),
    ("form.second_surname", "Segundo apellido", "Second surname"),
    ("form.sex", "Sexo", "Sex"),
    ("form.surnames", "Apellidos", "Surnames"),
    (
        "immunizations",
        "Vacunación (esquema nacional)",
        "Immunizations (national schedule)",
    ),
    ("immunizations.dose", "Dosis", "Dose"),
    (
        "immunizations.none",
        "Sin dosis pendientes del esquema para su edad ni vacunas registradas.",
        "No scheduled doses for this age and no vaccines recorded.",
    ),
    (
        "immunizations.other",
        "Otras vacunas aplicadas",
        "Other vaccines given",
    ),
    ("immunizations.vaccine", "Vacuna", "Vaccine"),
    ("lab.clinic", "Unidad", "Facility"),
    ("lab.date", "Fecha", "Date"),
    ("lab.result", "Resultado", "Result"),
    ("labs.latest", "Último", "Latest"),
    (
        "labs.latest_results",
        "Últimos resultados de laboratorio",
        "Latest laboratory results",
    ),
    (
        "labs.none",
        "Sin resultados registrados.",
        "No results recorded.",
    ),
    (
        "labs.trends",
        "Resultados y tendencias",
        "Results and trends",
    ),
    ("lang.switch", "English", "Español"),
    ("login.password", "Contraseña", "Password"),
    ("login.submit", "Entrar", "Sign in"),
    ("login.title", "Iniciar sesión", "Sign in"),
    ("login.user", "Usuario", "User name"),
    ("logout", "Salir", "Sign out"),
    (
        "medications",
        "Medicamentos actuales",
        "Current medications",
    ),
    (
        "medications.none",
        "Sin medicamentos actuales.",
        "No current medications.",
    ),
    ("nav.find", "Buscar paciente", "Find a patient"),
    ("nav.main", "Navegación principal", "Main navigation"),
    ("nav.register", "Registrar paciente", "Register a patient"),
    ("nav.skip", "Saltar al contenido", "Skip to content"),
    (
        "problems",
        "Problemas activos (CIE-10)",
        "Active problems (ICD-10)",
    ),
    (
        "problems.none",
        "Sin problemas activos registrados.",
        "No active problems recorded.",
    ),
    (
        "refer.clinical_summary",
        "Resumen clínico",
        "Clinical summary",
    ),
    (
        "refer.counter",
        "Registrar contrarreferencia",
        "Record the counter-referral",
    ),
    (
        "refer.counter.text",
        "Contrarreferencia: resultado de la atención e indicaciones",
        "Counter-referral: outcome of care and instructions",
    ),
    ("refer.from", "Unidad que envía", "Sending facility"),
    (
        "refer.impression",
        "Impresión diagnóstica (CIE-10)",
        "Diagnostic impression (ICD-10)",
    ),
    ("refer.list", "Referencias", "Referrals"),
    ("refer.none", "Sin referencias.", "No referrals."),
    ("refer.reason", "Motivo de envío", "Reason for referral"),
    ("refer.saved", "Referencia enviada.", "Referral sent."),
    ("refer.send", "Enviar referencia", "Send referral"),
    ("refer.status", "Estado", "Status"),
    ("refer.status.active", "Enviada, en espera", "Sent, waiting"),
    (
        "refer.status.completed",
        "Atendida (contrarreferencia recibida)",
        "Seen (counter-referral received)",
    ),
    ("refer.status.other", "Otro", "Other"),
    ("refer.status.revoked", "Cancelada", "Cancelled"),
    ("refer.title", "Nota de referencia", "Referral note"),
    ("refer.to", "Unidad receptora", "Receiving facility"),
    ("refer.treatment", "Terapéutica empleada", "Treatment given"),
    (
        "register.curp_hint",
        "Con los datos capturados, la CURP debería comenzar con",
        "From the data typed, the CURP should start with",
    ),
    (
        "register.curp_mismatch",
        "La CURP capturada no coincide con los datos en:",
        "The CURP typed disagrees with the data at:",
    ),
    (
        "register.duplicates",
        "Posibles registros duplicados. Revise antes de guardar:",
        "Possible duplicate records. Check before saving:",
    ),
    (
        "register.duplicates.confirm",
        "Revisé los posibles duplicados y se trata de otra persona",
        "I checked the possible duplicates and this is a different person",
    ),
    (
        "register.no_curp",
        "Sin CURP (quedará como «CURP pendiente»)",
        "No CURP (recorded as 'CURP pending')",
    ),
    ("register.save", "Guardar paciente", "Save patient"),
    (
        "register.saved",
        "Paciente registrado.",
        "Patient registered.",
    ),
    ("register.title", "Registrar paciente", "Register a patient"),
    ("sex.female", "Mujer", "Female"),
    ("sex.male", "Hombre", "Male"),
    ("sex.other", "No binario", "Non-binary"),
    ("sex.unknown", "No especificado", "Unspecified"),
    ("summary.generated", "Generado el", "Generated on"),
    (
        "summary.title",
        "Resumen clínico del paciente",
        "Patient clinical summary",
    ),
    ("sync.label", "Sincronización", "Sync"),
    ("sync.offline", "Sin conexión", "Offline"),
    ("sync.online", "En línea", "Online"),
    ("sync.pending", "cambios pendientes", "pending changes"),
    ("sync.unknown", "No configurada", "Not configured"),
    (
        "timeline",
        "Consultas en todas las unidades",
        "Visits at every facility",
    ),
    (
        "timeline.none",
        "Sin consultas registradas.",
        "No visits recorded.",
    ),
    ("trend.bmi", "Índice de masa corporal", "Body mass index"),
    (
        "trend.diastolic",
        "Tensión arterial diastólica",
        "Diastolic blood pressure",
    ),
    ("trend.glucose", "Glucosa", "Glucose"),
    (
        "trend.hba1c",
        "Hemoglobina glucosilada (HbA1c)",
        "Glycated haemoglobin (HbA1c)",
    ),
    ("trend.height", "Talla (crecimiento)", "Height (growth)"),
    (
        "trend.systolic",
        "Tensión arterial sistólica",
        "Systolic blood pressure",
    ),
    ("trend.weight", "Peso", "Weight"),
    ("user.facility", "Unidad", "Facility"),
    ("user.role", "Rol", "Role"),
    ("vac.applied", "Aplicada", "Given"),
    ("vac.due", "Toca aplicar", "Due"),
    ("vac.overdue", "Atrasada", "Overdue"),
    ("vac.upcoming", "Próxima", "Upcoming"),
    (
        "vitals.bp",
        "Tensión arterial (mmHg)",
        "Blood pressure (mmHg)",
    ),
    (
        "vitals.bp_order",
        "La tensión sistólica no puede ser menor que la diastólica.",
        "Systolic pressure cannot be lower than diastolic.",
    ),
    ("vitals.diastolic", "Diastólica", "Diastolic"),
    ("vitals.height", "Talla (cm)", "Height (cm)"),
    ("vitals.hr", "Frecuencia cardiaca (lpm)", "Heart rate (bpm)"),
    ("vitals.systolic", "Sistólica", "Systolic"),
    ("vitals.temp", "Temperatura (°C)", "Temperature (°C)"),
    ("vitals.weight", "Peso (kg)", "Weight (kg)"),
];

#[cfg(test)]
mod tests;
