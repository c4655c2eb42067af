//! The SCIM 2.0 protocol core (RFC 7643, RFC 7644): schemas, filters, PATCH, projection,
//! rendering and errors. Pure: no web, database or async types in here.

pub mod bulk;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod etag;
pub mod extension;
pub mod filter;
pub mod list;
pub mod patch;
pub mod projection;
pub mod quirks;
pub mod render;
pub mod resource;
pub mod schema;
