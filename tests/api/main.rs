//! Black-box tests: a real `roster serve` per test, spoken to over HTTP, on SQLite or (with
//! `ROSTER_TEST_DATABASE_URL`) PostgreSQL. Modules mirror the URL tree and the concerns.

mod helpers;

mod auth;
mod bulk;
mod concurrency;
mod discovery;
mod errors;
mod etags;
mod extensions;
mod filters;
mod groups;
mod import_jobs;
mod import_managers;
mod imports;
mod interop_entra;
mod interop_google;
mod interop_jumpcloud;
mod interop_okta;
mod interop_onelogin;
mod invitations;
mod mutability;
mod operations;
mod paging;
mod patch;
mod projection;
mod search;
mod sqlite_wal;
mod tenants;
mod users;
