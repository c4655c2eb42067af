//! Black-box tests: a real `roster serve` per test, spoken to over HTTP, on SQLite or (with
//! `ROSTER_TEST_DATABASE_URL`) PostgreSQL. Modules mirror the URL tree and the concerns.

mod helpers;

mod auth;
mod discovery;
mod errors;
mod groups;
mod operations;
mod patch;
mod tenants;
mod users;
