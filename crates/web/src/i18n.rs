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
    ("action.remove", "Quitar", "Remove"),
    ("action.review", "Revisar", "Review"),
    ("action.search", "Buscar", "Search"),
    ("allergies", "Alergias", "Allergies"),
    ("allergies.add", "Registrar alergia", "Record an allergy"),
    ("allergies.banner", "ALERGIAS", "ALLERGIES"),
    ("allergies.cat.biologic", "Biológico", "Biologic"),
    ("allergies.cat.environment", "Ambiental", "Environmental"),
    ("allergies.cat.food", "Alimento", "Food"),
    ("allergies.cat.medication", "Medicamento", "Medication"),
    ("allergies.cat.unknown", "Sin categoría", "No category"),
    ("allergies.category", "Tipo", "Kind"),
    (
        "allergies.crit.high",
        "Alta (reacción grave)",
        "High (severe reaction)",
    ),
    ("allergies.crit.low", "Baja", "Low"),
    (
        "allergies.crit.unknown",
        "No se puede evaluar",
        "Unable to assess",
    ),
    ("allergies.criticality", "Gravedad", "Criticality"),
    ("allergies.denied", "Niega alergias", "Denies allergies"),
    (
        "allergies.deny",
        "Registrar «niega alergias»",
        "Record \"denies allergies\"",
    ),
    (
        "allergies.deny.explain",
        "Si el paciente niega alergias, regístrelo: no es lo mismo que no haber preguntado.",
        "If the patient denies any allergy, record it: it is not the same as not having asked.",
    ),
    (
        "allergies.deny_conflict",
        "El paciente tiene alergias registradas: refútelas antes de registrar que niega alergias.",
        "The patient has recorded allergies: refute them before recording that they deny allergies.",
    ),
    ("allergies.high_risk", "riesgo alto", "high risk"),
    (
        "allergies.history",
        "Alergias refutadas o inactivas",
        "Refuted or inactive allergies",
    ),
    (
        "allergies.none",
        "Sin alergias registradas",
        "No known allergies recorded",
    ),
    (
        "allergies.not_offered",
        "Su rol no registra alergias; pida al médico que las registre.",
        "Your role does not record allergies; ask the physician to record them.",
    ),
    (
        "allergies.not_recorded",
        "No registradas — pregunte al paciente y regístrelas",
        "Not recorded — ask the patient and record them",
    ),
    ("allergies.reaction", "Reacción", "Reaction"),
    (
        "allergies.read_only",
        "Las alergias las registra el personal médico.",
        "Allergies are recorded by physicians.",
    ),
    (
        "allergies.reason_required",
        "Escriba por qué se refuta la alergia.",
        "Write why the allergy is refuted.",
    ),
    ("allergies.refute", "Refutar", "Refute"),
    (
        "allergies.refute_reason",
        "Motivo para refutar",
        "Reason to refute",
    ),
    (
        "allergies.saved",
        "Alergias actualizadas.",
        "Allergies updated.",
    ),
    (
        "allergies.substance",
        "Sustancia, medicamento o alimento",
        "Substance, medicine or food",
    ),
    (
        "allergies.substance_required",
        "Escriba a qué es alérgico el paciente.",
        "Write what the patient is allergic to.",
    ),
    ("allergies.unconfirmed", "sin confirmar", "unconfirmed"),
    ("allergies.ver.confirmed", "Confirmada", "Confirmed"),
    (
        "allergies.ver.error",
        "Registrada por error",
        "Entered in error",
    ),
    ("allergies.ver.refuted", "Refutada", "Refuted"),
    ("allergies.ver.unconfirmed", "Sin confirmar", "Unconfirmed"),
    ("allergies.verification", "Verificación", "Verification"),
    ("app.name", "Expediente", "Expediente"),
    (
        "app.tagline",
        "Expediente clínico nacional",
        "National health record",
    ),
    (
        "bg.active",
        "Acceso de emergencia activo",
        "Emergency access active",
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
        "bg.opened",
        "Expediente abierto por acceso de emergencia; quedó registrado.",
        "Record opened by emergency access; it has been recorded.",
    ),
    (
        "bg.reason",
        "Motivo del acceso de emergencia",
        "Reason for the emergency access",
    ),
    (
        "bg.reason.help",
        "Al menos 20 caracteres y tres palabras: quien revise el acceso debe entenderlo.",
        "At least 20 characters and three words: the reviewer must understand it.",
    ),
    (
        "bg.reason.required",
        "Escriba el motivo del acceso de emergencia.",
        "Write the reason for the emergency access.",
    ),
    ("bg.title", "Acceso de emergencia", "Emergency access"),
    ("bg.until", "hasta", "until"),
    (
        "card.no_clinical",
        "Su rol no consulta el expediente clínico.",
        "Your role does not open the clinical record.",
    ),
    (
        "card.open_chart",
        "Abrir expediente clínico",
        "Open the clinical record",
    ),
    ("card.title", "Ficha del paciente", "Patient card"),
    ("care.move", "Cambio de unidad", "Change of facility"),
    (
        "care.move.explain",
        "Registra al paciente en su unidad (queda registrado y se revisa).",
        "Registers the patient at your facility (recorded and reviewed).",
    ),
    (
        "care.moved",
        "Cambio de unidad registrado.",
        "Change of facility recorded.",
    ),
    ("care.reason", "Motivo", "Reason"),
    (
        "care.start",
        "Inicio de atención en esta unidad",
        "Start of care at this facility",
    ),
    (
        "care.start.explain",
        "El paciente está registrado en otra unidad. Registre el inicio de atención para atenderlo aquí (queda registrado con su motivo).",
        "The patient is registered at another facility. Record the start of care to treat them here (recorded with its reason).",
    ),
    (
        "care.started",
        "Inicio de atención registrado.",
        "Start of care recorded.",
    ),
    ("census.birth", "Nacimiento", "Born"),
    (
        "census.children",
        "niñas y niños de 0 a 9 años registrados en la unidad tienen alguna dosis atrasada.",
        "children aged 0 to 9 registered at the facility have a dose overdue.",
    ),
    (
        "census.empty",
        "Ninguna niña o niño registrado en la unidad tiene dosis atrasadas.",
        "No child registered at the facility has a dose overdue.",
    ),
    (
        "census.intro",
        "Niñas y niños de 0 a 9 años registrados en esta unidad con alguna dosis del esquema nacional atrasada (más de 30 días después de su edad), para buscarlos y vacunarlos. Unidad:",
        "Children aged 0 to 9 registered at this facility with a dose of the national schedule overdue (more than 30 days past its age), for outreach. Facility:",
    ),
    ("census.name", "Nombre", "Name"),
    ("census.of", "de", "of"),
    ("census.overdue", "Dosis atrasadas", "Overdue doses"),
    (
        "census.staff_only",
        "El censo nominal es para el personal de una unidad, sobre sus propios pacientes.",
        "The censo nominal is for a facility's staff, about its own patients.",
    ),
    (
        "census.title",
        "Censo nominal de vacunación",
        "Vaccination censo nominal",
    ),
    (
        "census.truncated",
        "Se revisaron los primeros 1000 registros.",
        "The first 1,000 registrations were checked.",
    ),
    ("chart.actions", "Acciones", "Actions"),
    ("chart.age", "Edad", "Age"),
    ("chart.alerts", "Alertas", "Alerts"),
    ("chart.birth", "Nacimiento", "Born"),
    ("chart.consult", "Nueva consulta", "New consultation"),
    ("chart.curp_pending", "CURP pendiente", "CURP pending"),
    ("chart.folio", "Folio", "Record no."),
    ("chart.months", "meses", "months"),
    ("chart.patient", "Paciente", "Patient"),
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
    ("chronic.as_of", "Fecha de corte", "As of"),
    ("chronic.controlled", "En control", "At target"),
    (
        "chronic.diabetes",
        "Diabetes mellitus (E10–E14)",
        "Diabetes mellitus (E10–E14)",
    ),
    (
        "chronic.diabetes_rule",
        "Pacientes registrados en la unidad con diabetes activa; con HbA1c (LOINC 4548-4) en los 12 meses hasta la fecha de corte; en control si la más reciente es menor de 7 %.",
        "Patients registered at the facility with active diabetes; with an HbA1c (LOINC 4548-4) in the 12 months up to the date; at target when the latest is below 7 %.",
    ),
    (
        "chronic.empty",
        "Sin pacientes con este padecimiento.",
        "No patients with this condition.",
    ),
    (
        "chronic.hypertension",
        "Hipertensión arterial (I10–I15)",
        "Hypertension (I10–I15)",
    ),
    (
        "chronic.hypertension_rule",
        "Pacientes registrados en la unidad con hipertensión activa; con tensión arterial medida en los 12 meses hasta la fecha de corte; en control si la más reciente es menor de 140/90 mmHg (NOM-030-SSA2-2017).",
        "Patients registered at the facility with active hypertension; with blood pressure measured in the 12 months up to the date; at target when the latest is below 140/90 mmHg (NOM-030-SSA2-2017).",
    ),
    (
        "chronic.intro",
        "Control de enfermedades crónicas por unidad, calculado del expediente. Solo cifras, sin nombres.",
        "Chronic-disease control per facility, computed from the record. Figures only, no names.",
    ),
    (
        "chronic.legend",
        "Barra: parte clara, con medición en 12 meses; parte oscura, en control (porcentaje escrito).",
        "Bar: light part, measured in 12 months; dark part, at target (percentage written).",
    ),
    (
        "chronic.measured",
        "Con medición en 12 meses",
        "Measured in 12 months",
    ),
    ("chronic.patients", "Pacientes", "Patients"),
    ("chronic.share", "Proporción", "Share"),
    (
        "chronic.title",
        "Control de enfermedades crónicas",
        "Chronic-disease control",
    ),
    (
        "cie.help",
        "Código o palabras de uso diario, por ejemplo «presión alta» o «lumbalgia».",
        "A code or everyday words, e.g. «presión alta» or «lumbalgia».",
    ),
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
    ("consult.add_dx", "Agregar diagnóstico", "Add diagnosis"),
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
        "consult.diagnoses",
        "Diagnósticos (CIE-10)",
        "Diagnoses (ICD-10)",
    ),
    (
        "consult.diagnoses.none",
        "Ningún diagnóstico agregado.",
        "No diagnosis added.",
    ),
    (
        "consult.diagnosis",
        "Diagnóstico (CIE-10: código o texto)",
        "Diagnosis (ICD-10: code or text)",
    ),
    ("consult.diagnosis_n", "Diagnóstico", "Diagnosis"),
    ("consult.dx_kind", "Tipo", "Kind"),
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
    (
        "consult.not_offered",
        "La nota de evolución la escribe el personal médico. Desde el expediente puede registrar signos vitales y vacunas.",
        "Progress notes are written by physicians. From the chart you can record vital signs and vaccines.",
    ),
    ("consult.note", "Nota de evolución", "Progress note"),
    (
        "consult.objective",
        "Exploración física (O)",
        "Physical examination (O)",
    ),
    ("consult.plan", "Plan", "Plan"),
    ("consult.prescriptions", "Receta", "Prescriptions"),
    ("consult.prognosis", "Pronóstico", "Prognosis"),
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
    ("cov.as_of", "Fecha de corte", "As of"),
    ("cov.cohort", "Año de nacimiento", "Birth year"),
    ("cov.coverage", "Cobertura", "Coverage"),
    ("cov.dose", "Dosis", "Dose"),
    (
        "cov.eligible",
        "Niñas y niños que ya debían tenerla",
        "Children who should have it",
    ),
    (
        "cov.empty",
        "Sin niñas ni niños registrados en edad de esta cartilla.",
        "No registered children of the schedule's ages.",
    ),
    (
        "cov.intro",
        "Cobertura del esquema nacional de vacunación por unidad (registro) y año de nacimiento, de 0 a 9 años, calculada del expediente. Una dosis cuenta en el denominador cuando pasaron su edad y 30 días de gracia. Solo cifras, sin nombres.",
        "National vaccination schedule coverage per facility (registration) and birth year, 0 to 9 years, computed from the record. A dose counts in the denominator once its age and 30 days of grace have passed. Figures only, no names.",
    ),
    (
        "cov.title",
        "Cobertura de vacunación",
        "Vaccination coverage",
    ),
    ("cov.vaccinated", "Vacunados", "Vaccinated"),
    ("cov.vaccine", "Vacuna", "Vaccine"),
    (
        "dx.confirm",
        "Confirmo que corresponde a este paciente",
        "I confirm it applies to this patient",
    ),
    ("dx.first", "Primera vez", "First time"),
    ("dx.follow_up", "Subsecuente", "Follow-up"),
    (
        "error.conflict",
        "Alguien más modificó este registro mientras lo editaba. Revise los datos y guarde de nuevo.",
        "Someone else changed this record while you were editing it. Check the data and save again.",
    ),
    (
        "error.field_format",
        "Revise este dato: no tiene el formato esperado.",
        "Check this: it is not in the expected format.",
    ),
    (
        "error.forbidden",
        "Su rol no puede hacer esto con este expediente.",
        "Your role may not do this with this record.",
    ),
    (
        "error.generic",
        "No se pudo completar la operación.",
        "The operation could not be completed.",
    ),
    (
        "error.no_care_relationship",
        "Su unidad no tiene relación de atención con este paciente: registre el inicio de atención desde su ficha (o, en una urgencia, use el acceso de emergencia).",
        "Your facility has no care relationship with this patient: record the start of care from their card (or, in an emergency, use emergency access).",
    ),
    (
        "error.not_found",
        "No se encontró lo que buscaba.",
        "What you were looking for was not found.",
    ),
    (
        "error.not_saved",
        "No se pudo guardar: el expediente rechazó los datos. Revíselos o pida ayuda.",
        "Not saved: the record refused the data. Check them or ask for help.",
    ),
    ("error.title", "Error", "Error"),
    (
        "error.unavailable",
        "El servicio no respondió. Intente de nuevo en unos momentos.",
        "The service did not answer. Try again shortly.",
    ),
    ("find.by_curp", "Por CURP", "By CURP"),
    (
        "find.by_name",
        "Por nombre y fecha de nacimiento",
        "By name and birth date",
    ),
    (
        "find.by_name.help",
        "La fecha es opcional: sin ella se buscan todos los pacientes con esos apellidos, por páginas.",
        "The date is optional: without it every patient with those surnames is listed, a page at a time.",
    ),
    (
        "find.curp_invalid",
        "La CURP no es válida:",
        "The CURP is not valid:",
    ),
    (
        "find.date.one_day_off",
        "fecha con un día de diferencia",
        "date one day off",
    ),
    (
        "find.date.swapped",
        "día y mes invertidos",
        "day and month swapped",
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
        "find.need_surname",
        "Escriba al menos el primer apellido.",
        "Type at least the first surname.",
    ),
    (
        "find.none",
        "No se encontró ningún paciente.",
        "No patient found.",
    ),
    (
        "find.paged",
        "Búsqueda por nombre sin fecha: se muestran 20 pacientes por página.",
        "Search by name without a date: 20 patients per page.",
    ),
    (
        "find.register",
        "Registrar paciente nuevo",
        "Register a new patient",
    ),
    ("find.results", "Resultados", "Results"),
    ("find.title", "Buscar paciente", "Find a patient"),
    (
        "find.too_long",
        "El nombre buscado es demasiado largo (máximo 100 caracteres).",
        "The name searched is too long (100 characters at most).",
    ),
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
    (
        "form.fix_fields",
        "Revise los campos marcados.",
        "Check the marked fields.",
    ),
    ("form.given", "Nombre(s)", "Given name(s)"),
    ("form.optional", "opcional", "optional"),
    ("form.phone", "Teléfono", "Phone"),
    ("form.second_surname", "Segundo apellido", "Second surname"),
    ("form.sex", "Sexo", "Sex"),
    ("form.surnames", "Apellidos", "Surnames"),
    (
        "form.too_long",
        "El texto es demasiado largo; máximo de caracteres",
        "The text is too long; maximum characters",
    ),
    (
        "growth.title",
        "Crecimiento (patrones de la OMS)",
        "Growth (WHO standards)",
    ),
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
    ("lab.range", "Referencia", "Reference range"),
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
    ("meds.action", "Acción", "Action"),
    ("meds.apply", "Aplicar", "Apply"),
    (
        "meds.change",
        "Para cambiar un fármaco o su dosis, prescriba el nuevo en una consulta: la receta activa queda sustituida.",
        "To change a drug or its dose, prescribe the new one in a consultation: the active prescription is replaced.",
    ),
    ("meds.dosage", "Indicación", "Dosage"),
    ("meds.drug", "Medicamento", "Medicine"),
    ("meds.ended.cancelled", "Cancelado", "Cancelled"),
    ("meds.ended.completed", "Terminado", "Completed"),
    (
        "meds.ended.stopped",
        "Suspendido definitivamente",
        "Stopped",
    ),
    (
        "meds.explain",
        "Una línea por fármaco, con todas sus recetas de cualquier unidad.",
        "One line per drug, with all its prescriptions from any facility.",
    ),
    (
        "meds.history",
        "Medicamentos terminados o suspendidos definitivamente",
        "Ended medications",
    ),
    ("meds.latest", "última receta", "latest prescription"),
    (
        "meds.not_offered",
        "Su rol no modifica tratamientos; pida al médico que lo haga.",
        "Your role does not change treatments; ask the physician.",
    ),
    (
        "meds.pick_action",
        "Elija qué hacer con el medicamento.",
        "Choose what to do with the medicine.",
    ),
    ("meds.prescriptions", "recetas", "prescriptions"),
    ("meds.reason", "Motivo", "Reason"),
    (
        "meds.reason_required",
        "Escriba el motivo (al menos 4 caracteres).",
        "Write the reason (at least 4 characters).",
    ),
    ("meds.recent", "Terminados recientemente", "Recently ended"),
    ("meds.resume", "Reanudar", "Resume"),
    ("meds.review", "Por conciliar:", "To reconcile:"),
    (
        "meds.review.explain",
        "siguen activos pero la receta más reciente para el mismo diagnóstico no los incluye. Confirme o suspenda.",
        "still active, but the latest prescription for the same diagnosis does not include them. Confirm or stop them.",
    ),
    (
        "meds.saved",
        "Medicamentos actualizados.",
        "Medications updated.",
    ),
    ("meds.since", "desde", "since"),
    ("meds.status.active", "Activo", "Active"),
    ("meds.status.ended", "Terminado", "Ended"),
    ("meds.status.on_hold", "Suspendido", "Suspended"),
    ("meds.status.review", "Por conciliar", "To reconcile"),
    ("meds.stop", "Suspender definitivamente", "Stop"),
    (
        "meds.superseded_by",
        "después se prescribió",
        "later prescribed",
    ),
    ("meds.suspend", "Suspender temporalmente", "Suspend"),
    ("nav.census", "Censo nominal", "Censo nominal"),
    ("nav.chronic", "Control crónico", "Chronic control"),
    (
        "nav.coverage",
        "Cobertura de vacunación",
        "Vaccination coverage",
    ),
    ("nav.find", "Buscar paciente", "Find a patient"),
    ("nav.main", "Navegación principal", "Main navigation"),
    ("nav.register", "Registrar paciente", "Register a patient"),
    ("nav.skip", "Saltar al contenido", "Skip to content"),
    (
        "nav.surveillance",
        "Vigilancia epidemiológica",
        "Epidemiological surveillance",
    ),
    ("pager.label", "Páginas", "Pages"),
    ("pager.next", "Siguiente página", "Next page"),
    ("pager.page", "Página", "Page"),
    ("pager.prev", "Página anterior", "Previous page"),
    (
        "print.cedula",
        "Cédula profesional",
        "Professional licence (cédula)",
    ),
    (
        "print.cedula_missing",
        "no registrada en el expediente",
        "not recorded",
    ),
    ("print.date", "Fecha", "Date"),
    ("print.duration", "Duración", "Duration"),
    ("print.folio", "Folio", "Number"),
    ("print.kind", "Tipo", "Kind"),
    (
        "print.no_orders",
        "Esta nota no tiene estudios solicitados.",
        "This note has no orders.",
    ),
    (
        "print.no_prescriptions",
        "Esta nota no tiene prescripciones.",
        "This note has no prescriptions.",
    ),
    (
        "print.orders",
        "Solicitud de estudios de laboratorio y gabinete",
        "Laboratory and imaging order",
    ),
    ("print.patient", "Paciente", "Patient"),
    ("print.physician", "Médico", "Physician"),
    ("print.print", "Imprimir", "Print"),
    ("print.priority", "Prioridad", "Priority"),
    ("print.receta", "Receta médica", "Prescription"),
    ("print.referral", "Hoja de referencia", "Referral form"),
    ("print.routine", "Ordinaria", "Routine"),
    ("print.signature", "Firma", "Signature"),
    ("print.study", "Estudio", "Study"),
    ("print.urgent", "Urgente", "Urgent"),
    (
        "problems",
        "Problemas activos (CIE-10)",
        "Active problems (ICD-10)",
    ),
    ("problems.acute", "Agudo", "Acute"),
    ("problems.chronic", "Crónico", "Chronic"),
    ("problems.mark_acute", "Marcar agudo", "Mark acute"),
    ("problems.mark_chronic", "Marcar crónico", "Mark chronic"),
    (
        "problems.none",
        "Sin problemas activos registrados.",
        "No active problems recorded.",
    ),
    (
        "problems.not_offered",
        "Su rol no modifica la lista de problemas.",
        "Your role does not change the problem list.",
    ),
    (
        "problems.read_only",
        "La lista de problemas la actualiza el personal médico.",
        "The problem list is kept by physicians.",
    ),
    ("problems.resolve", "Resuelto", "Resolved"),
    (
        "problems.resolved",
        "Problemas resueltos",
        "Resolved problems",
    ),
    (
        "problems.saved",
        "Problemas actualizados.",
        "Problems updated.",
    ),
    ("problems.since", "desde", "since"),
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
    (
        "refer.counter_saved",
        "Contrarreferencia registrada.",
        "Counter-referral recorded.",
    ),
    ("refer.from", "Unidad que envía", "Sending facility"),
    (
        "refer.impression",
        "Impresión diagnóstica (CIE-10)",
        "Diagnostic impression (ICD-10)",
    ),
    ("refer.list", "Referencias", "Referrals"),
    ("refer.none", "Sin referencias.", "No referrals."),
    (
        "refer.not_offered",
        "Su rol no envía referencias; pida al médico que la envíe.",
        "Your role does not send referrals; ask the physician.",
    ),
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
        "register.duplicates.explain",
        "Si es otra persona, márquelo y guarde: se registra y se abre una revisión de posible duplicado.",
        "If this is someone else, tick it and save: the person is registered and a duplicate review is opened.",
    ),
    (
        "register.no_curp",
        "Sin CURP (quedará como «CURP pendiente»)",
        "No CURP (recorded as 'CURP pending')",
    ),
    (
        "register.not_offered",
        "Su rol no registra pacientes; pida a recepción que lo haga.",
        "Your role does not register patients; ask reception.",
    ),
    ("register.save", "Guardar paciente", "Save patient"),
    (
        "register.saved",
        "Paciente registrado.",
        "Patient registered.",
    ),
    (
        "register.saved_review",
        "Paciente registrado. Se abrió una revisión de posible duplicado.",
        "Patient registered. A possible-duplicate review was opened.",
    ),
    ("register.title", "Registrar paciente", "Register a patient"),
    ("rx.ack", "Leí las advertencias.", "I read the warnings."),
    (
        "rx.ack_renews",
        "La receta activa del mismo fármaco queda sustituida por esta.",
        "The active prescription of the same drug is replaced by this one.",
    ),
    ("rx.block", "Alerta:", "Alert:"),
    (
        "rx.choose",
        "Varias presentaciones coinciden; elija una:",
        "Several presentations match; pick one:",
    ),
    ("rx.days", "Duración (días)", "Duration (days)"),
    ("rx.dose", "Dosis por toma", "Dose per administration"),
    ("rx.every", "Frecuencia", "Frequency"),
    (
        "rx.help",
        "Del cuadro básico: escriba el nombre genérico o la clave CNIS. Se revisan alergias, duplicidades, interacciones y dosis; la ausencia de alertas no garantiza seguridad.",
        "From the formulary: type the generic name or CNIS key. Allergies, duplicates, interactions and doses are checked; no alert is no guarantee of safety.",
    ),
    ("rx.info", "Nota:", "Note:"),
    ("rx.key", "Clave", "Key"),
    ("rx.key_unverified", "clave no verificada", "unverified key"),
    ("rx.medicine", "Medicamento", "Medicine"),
    ("rx.more", "Otra receta", "Another prescription"),
    (
        "rx.notes",
        "Indicaciones para el paciente",
        "Instructions for the patient",
    ),
    (
        "rx.override",
        "Motivo para prescribir a pesar de la alerta (queda registrado)",
        "Reason to prescribe despite the alert (it is recorded)",
    ),
    ("rx.quantity", "Surtir", "Dispense"),
    ("rx.source", "fuente", "source"),
    ("rx.warning", "Advertencia:", "Warning:"),
    ("sex.female", "Mujer", "Female"),
    ("sex.male", "Hombre", "Male"),
    ("sex.other", "No binario", "Non-binary"),
    ("sex.unknown", "No especificado", "Unspecified"),
    ("studies.imaging", "Gabinete", "Imaging"),
    ("studies.lab", "Laboratorio", "Laboratory"),
    ("summary.generated", "Generado el", "Generated on"),
    (
        "summary.latest_note",
        "Última nota de evolución",
        "Latest progress note",
    ),
    (
        "summary.pending_orders",
        "Estudios solicitados pendientes",
        "Pending orders",
    ),
    (
        "summary.title",
        "Resumen clínico del paciente",
        "Patient clinical summary",
    ),
    ("surv.alert", "Alerta", "Alert"),
    ("surv.alerts", "alertas", "alerts"),
    ("surv.channel", "Canal (P75)", "Channel (P75)"),
    (
        "surv.chart",
        "Casos nuevos por semana",
        "New cases per week",
    ),
    (
        "surv.chart_legend",
        "Barras: casos nuevos por semana epidemiológica. Línea punteada: canal endémico (percentil 75) de esa semana.",
        "Bars: new cases per epidemiological week. Dashed line: the endemic channel (75th percentile) of that week.",
    ),
    ("surv.code", "CIE-10", "ICD-10"),
    (
        "surv.empty",
        "Sin casos nuevos en las semanas mostradas.",
        "No new cases in the weeks shown.",
    ),
    (
        "surv.epi_week",
        "Semana epidemiológica",
        "Epidemiological week",
    ),
    (
        "surv.immediate",
        "Notificación inmediata",
        "Immediate notification",
    ),
    (
        "surv.immediate_source",
        "«Notificación inmediata»: padecimientos que deben notificarse dentro de las 24 horas según la NOM-017-SSA2-2012 para la vigilancia epidemiológica (lista transcrita por Expediente; verifíquela con la lista vigente de la DGE).",
        "'Immediate notification': conditions to be notified within 24 hours under NOM-017-SSA2-2012 on epidemiological surveillance (list transcribed by Expediente; check it against the DGE's current list).",
    ),
    (
        "surv.intro",
        "Casos nuevos por código CIE-10 y entidad federativa, calculados del expediente: un caso nuevo es la primera condición con ese código registrada para el paciente. Solo cifras, sin nombres.",
        "New cases per ICD-10 code and state, computed from the record: a new case is the first condition with that code recorded for the patient. Figures only, no names.",
    ),
    (
        "surv.no_years",
        "Aún no hay años anteriores en el expediente: no se calcula el canal.",
        "The record holds no previous years yet: no channel is computed.",
    ),
    ("surv.ok", "Dentro del canal", "Within the channel"),
    (
        "surv.rule",
        "Regla de alerta (canal endémico): los casos de la semana superan el percentil 75 de los casos de la misma semana epidemiológica, en la misma entidad y con el mismo código, en los años anteriores que tiene el expediente (un año sin casos en esa semana cuenta 0).",
        "Alert rule (endemic channel): the week's cases exceed the 75th percentile of the cases of the same epidemiological week, same state and same code, in the previous years the record holds (a year without cases that week counts 0).",
    ),
    ("surv.show", "Ver", "Show"),
    ("surv.state", "Entidad", "State"),
    ("surv.status", "Estado", "Status"),
    (
        "surv.table",
        "Casos nuevos por semana epidemiológica",
        "New cases per epidemiological week",
    ),
    (
        "surv.title",
        "Vigilancia epidemiológica semanal",
        "Weekly epidemiological surveillance",
    ),
    (
        "surv.truncated",
        "Se muestran las primeras 200 filas.",
        "The first 200 rows are shown.",
    ),
    (
        "surv.week_of",
        "Semana que incluye el día",
        "Week including the day",
    ),
    (
        "surv.week_rule",
        "Semanas de domingo a sábado; la semana 1 es la primera con al menos cuatro días de enero. Fechas en hora de la Ciudad de México.",
        "Weeks run Sunday to Saturday; week 1 is the first with at least four days in January. Dates in Mexico City time.",
    ),
    ("surv.weeks", "Semanas", "Weeks"),
    ("surv.wk", "Sem.", "Wk"),
    (
        "surv.years_held",
        "Años anteriores considerados",
        "Previous years considered",
    ),
    (
        "surv.years_min",
        "Años anteriores mínimos para calcular el canal",
        "Fewest previous years to compute a channel",
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
    ("timeline.count", "Consultas", "Visits"),
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
        "vaccine.date",
        "La fecha de aplicación debe ser de hoy o anterior, y no antes del nacimiento.",
        "The date given must be today or earlier, and not before birth.",
    ),
    (
        "vaccine.dose",
        "Escriba el número de dosis (1 a 10).",
        "Type the dose number (1 to 10).",
    ),
    ("vaccine.given_on", "Fecha de aplicación", "Date given"),
    (
        "vaccine.lot",
        "Escriba el lote de la vacuna (hasta 40 caracteres).",
        "Type the vaccine's lot (up to 40 characters).",
    ),
    ("vaccine.lot_label", "Lote", "Lot"),
    (
        "vaccine.not_offered",
        "Su rol no registra vacunas.",
        "Your role does not record vaccines.",
    ),
    ("vaccine.pick", "Elija la vacuna.", "Choose the vaccine."),
    ("vaccine.route", "Vía", "Route"),
    ("vaccine.save", "Registrar vacuna", "Record vaccine"),
    ("vaccine.saved", "Vacuna registrada.", "Vaccine recorded."),
    ("vaccine.site", "Sitio de aplicación", "Site"),
    ("vaccine.title", "Aplicar vacuna", "Give a vaccine"),
    ("visit.diagnoses", "Diagnósticos", "Diagnoses"),
    ("visit.open", "Ver consulta", "Open visit"),
    ("visit.title", "Consulta", "Visit"),
    ("vitals.bmi", "Índice de masa corporal", "Body mass index"),
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
    (
        "vitals.confirm",
        "El valor es correcto",
        "The value is correct",
    ),
    ("vitals.diastolic", "Diastólica", "Diastolic"),
    (
        "vitals.empty",
        "Escriba al menos un signo vital.",
        "Type at least one vital sign.",
    ),
    (
        "vitals.fix",
        "Revise los signos vitales marcados.",
        "Check the marked vital signs.",
    ),
    (
        "vitals.glucose",
        "Glucemia capilar (mg/dL)",
        "Capillary glucose (mg/dL)",
    ),
    (
        "vitals.head",
        "Perímetro cefálico (cm)",
        "Head circumference (cm)",
    ),
    ("vitals.height", "Talla (cm)", "Height (cm)"),
    ("vitals.hr", "Frecuencia cardiaca (lpm)", "Heart rate (bpm)"),
    (
        "vitals.latest",
        "Últimos signos vitales",
        "Latest vital signs",
    ),
    (
        "vitals.none",
        "Sin signos vitales registrados.",
        "No vital signs recorded.",
    ),
    (
        "vitals.not_offered",
        "Su rol no registra signos vitales.",
        "Your role does not record vital signs.",
    ),
    (
        "vitals.rr",
        "Frecuencia respiratoria (rpm)",
        "Respiratory rate (/min)",
    ),
    ("vitals.save", "Guardar signos vitales", "Save vital signs"),
    (
        "vitals.saved",
        "Signos vitales registrados.",
        "Vital signs recorded.",
    ),
    (
        "vitals.spo2",
        "Saturación de oxígeno (%)",
        "Oxygen saturation (%)",
    ),
    ("vitals.systolic", "Sistólica", "Systolic"),
    ("vitals.temp", "Temperatura (°C)", "Temperature (°C)"),
    ("vitals.title", "Signos vitales", "Vital signs"),
    ("vitals.use_value", "Usar", "Use"),
    ("vitals.waist", "Cintura (cm)", "Waist (cm)"),
    ("vitals.weight", "Peso (kg)", "Weight (kg)"),
];

#[cfg(test)]
mod tests;
