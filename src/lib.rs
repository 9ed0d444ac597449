//! weblock: an HTTP lock service and its blocking command-line client.
#[macro_use]
mod warn;
pub mod api;
pub mod base64;
pub mod bench;
pub mod cli;
pub mod duration;
pub mod engine;
pub mod fuzzing;
pub mod host;
pub mod http;
pub mod journal;
mod knob;
pub mod observe;
pub mod serve;
pub mod signals;
pub mod store;
pub mod thread;
pub mod timefmt;
