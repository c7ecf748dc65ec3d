//! The 32 federal entities of Mexico plus `NE` (born abroad), as used in CURP positions 12–13 and CLUES.
//!
//! Each entry joins the three keys the system meets: the RENAPO two-letter code (CURP, CLUES), the INEGI
//! two-digit code (NOM-024 residence and birth-place fields) and the official Spanish name.
//! Populations come from INEGI, *Censo de Población y Vivienda 2020* (total 126,014,024 residents), and
//! exist so the synthetic population generator can sample states with realistic weights.

#[cfg(test)]
mod tests;

/// One CURP state code and what it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct State {
    /// RENAPO code used in CURP positions 12–13 and the first two characters of a CLUES (`JC`, `DF`, `NE`).
    pub curp_code: &'static str,
    /// INEGI entity code, two digits (`"01"`..`"32"`).
    /// `None` for `NE`: INEGI has no entity for "born abroad"; DGIS files write the literal `NE` instead.
    pub inegi_code: Option<&'static str>,
    /// Official name in Spanish (INEGI catalog of federal entities).
    pub name: &'static str,
    /// Resident population in the 2020 census.
    /// For `NE` it is the census count of residents born in another country (approximate), which is the
    /// useful weight for sampling a place of birth.
    pub population_2020: u32,
}

impl State {
    /// True for the 32 federal entities, false for `NE`.
    pub fn is_federal_entity(&self) -> bool {
        self.inegi_code.is_some()
    }
}

const fn state(
    curp_code: &'static str,
    inegi_code: &'static str,
    name: &'static str,
    population_2020: u32,
) -> State {
    State {
        curp_code,
        inegi_code: Some(inegi_code),
        name,
        population_2020,
    }
}

/// All CURP state codes in INEGI order, `NE` last.
/// Note that Mexico City keeps the code `DF` in CURP and CLUES even after the 2016 reform.
pub static STATES: [State; 33] = [
    state("AS", "01", "Aguascalientes", 1_425_607),
    state("BC", "02", "Baja California", 3_769_020),
    state("BS", "03", "Baja California Sur", 798_447),
    state("CC", "04", "Campeche", 928_363),
    state("CL", "05", "Coahuila de Zaragoza", 3_146_771),
    state("CM", "06", "Colima", 731_391),
    state("CS", "07", "Chiapas", 5_543_828),
    state("CH", "08", "Chihuahua", 3_741_869),
    state("DF", "09", "Ciudad de México", 9_209_944),
    state("DG", "10", "Durango", 1_832_650),
    state("GT", "11", "Guanajuato", 6_166_934),
    state("GR", "12", "Guerrero", 3_540_685),
    state("HG", "13", "Hidalgo", 3_082_841),
    state("JC", "14", "Jalisco", 8_348_151),
    state("MC", "15", "México", 16_992_418),
    state("MN", "16", "Michoacán de Ocampo", 4_748_846),
    state("MS", "17", "Morelos", 1_971_520),
    state("NT", "18", "Nayarit", 1_235_456),
    state("NL", "19", "Nuevo León", 5_784_442),
    state("OC", "20", "Oaxaca", 4_132_148),
    state("PL", "21", "Puebla", 6_583_278),
    state("QT", "22", "Querétaro", 2_368_467),
    state("QR", "23", "Quintana Roo", 1_857_985),
    state("SP", "24", "San Luis Potosí", 2_822_255),
    state("SL", "25", "Sinaloa", 3_026_943),
    state("SR", "26", "Sonora", 2_944_840),
    state("TC", "27", "Tabasco", 2_402_598),
    state("TS", "28", "Tamaulipas", 3_527_735),
    state("TL", "29", "Tlaxcala", 1_342_977),
    state("VZ", "30", "Veracruz de Ignacio de la Llave", 8_062_579),
    state("YN", "31", "Yucatán", 2_320_898),
    state("ZS", "32", "Zacatecas", 1_622_138),
    State {
        curp_code: "NE",
        inegi_code: None,
        name: "Nacido en el extranjero",
        population_2020: 1_212_252,
    },
];

/// The CURP code for "born abroad".
pub const BORN_ABROAD: &str = "NE";

/// Sum of `population_2020` over all 33 entries (the 32 entities sum to INEGI's 126,014,024).
pub const POPULATION_2020_TOTAL: u64 = {
    let mut total = 0u64;
    let mut i = 0;
    while i < STATES.len() {
        total += STATES[i].population_2020 as u64;
        i += 1;
    }
    total
};

/// Looks a state up by its CURP code (`"JC"`). Exact, uppercase match.
pub fn by_curp_code(code: &str) -> Option<&'static State> {
    STATES.iter().find(|s| s.curp_code == code)
}

/// Looks a state up by its two-digit INEGI code (`"14"`). `NE` has none.
pub fn by_inegi_code(code: &str) -> Option<&'static State> {
    STATES.iter().find(|s| s.inegi_code == Some(code))
}

/// The 32 federal entities, without `NE`.
pub fn federal_entities() -> impl Iterator<Item = &'static State> {
    STATES.iter().filter(|s| s.is_federal_entity())
}

/// Picks a state with probability proportional to `population_2020`, given a uniformly random `point`.
///
/// The caller owns the randomness (this crate never draws any): pass e.g. `rng.random::<u64>()`.
/// `point` is reduced modulo [`POPULATION_2020_TOTAL`]; the bias this adds is below 1e-10 for a
/// uniform `u64`.
pub fn pick_by_population(point: u64) -> &'static State {
    let mut rest = point % POPULATION_2020_TOTAL;
    for state in &STATES {
        let weight = u64::from(state.population_2020);
        if rest < weight {
            return state;
        }
        rest -= weight;
    }
    // Unreachable because `rest < POPULATION_2020_TOTAL`, the sum of all weights; the last entry is
    // a safe answer that keeps this function total without a panic.
    &STATES[STATES.len() - 1]
}
