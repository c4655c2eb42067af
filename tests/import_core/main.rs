//! The pure CSV import core (`roster::import`): decoding, reading, profiles, row planning,
//! in-file de-duplication and the CSV reports, without database or HTTP.

mod common;

mod reports;
mod rules;
mod seeds;
mod streaming;
