//! Pure rule functions over site readings (filled in below).
