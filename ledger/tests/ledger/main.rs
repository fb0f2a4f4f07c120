//! Ledger integration tests (one binary): the store contract on every adapter, the ledger contract on every
//! adapter (with the hostile-client cases of issue 12), and the SIGKILL crash test.

mod common;
mod contract;
mod crash;
mod hostile;
#[cfg(feature = "kurrentdb")]
mod kurrent;
mod policy;
mod snapshot;

mod sqlite {
    crate::contract_suite!(crate::common::Sqlite::new());
    mod hostile {
        crate::hostile_suite!(crate::common::Sqlite::new());
    }
}

mod postgres {
    crate::contract_suite!(crate::common::Postgres::new());
    mod hostile {
        crate::hostile_suite!(crate::common::Postgres::new());
    }
}
mod stores;
mod system_enrolments;
