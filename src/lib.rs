//! Roster: a SCIM 2.0 identity provisioning server.
//!
//! Layers, from the wire inwards: `api` (actix handlers) → `provision` (use cases shared by
//! SCIM, Bulk and CSV import) → `store` (SQLite/PostgreSQL) and `scim` (the pure protocol core).

pub mod allocator;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod import;
pub mod mail;
pub mod provision;
pub mod scim;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tenant;
