//! Embedded reference tables (names, places, clinical vocabularies); sources are cited in each module.

pub(crate) mod clinical;
pub(crate) mod geo;
pub(crate) mod names;
