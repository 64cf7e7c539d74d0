//! `twctl`'s environment engine: the environment spec, the resource graph it becomes, plans
//! and the apply/destroy engine, on the Azure client in `tradewind-azure`.

pub mod env;
