//! The four API dialects as thin translations onto the engine host, with what they share: one route
//! table, the request's context, parameters, access checks, the dashboard and the pages.
pub mod auth;
mod auth_file;
pub mod base_url;
mod capabilities;
pub mod cidr;
mod ctx;
mod dashboard;
pub(crate) mod deliver;
mod gatekeeper;
mod gatekeeper_docs;
mod glob;
mod hal;
mod handler;
pub(crate) mod identity;
mod needs;
mod origin;
mod pages;
pub mod params;
mod random;
mod replies;
mod request_queue;
mod routes;
mod scopes;
pub(crate) mod shared;
mod slots;
mod webmutex;
mod webmutex_answers;
