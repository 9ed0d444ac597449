//! Every black-box test, in one crate: one link instead of one per file, and one `common`. Each file
//! here is a module; run one with `cargo test --test main -- NAME::` (e.g. `webmutex::`).

#[path = "common/cli.rs"]
mod cli_helpers;
mod common;
#[path = "common/hal_helpers.rs"]
mod hal_helpers;
#[path = "common/webdriver.rs"]
mod webdriver;

mod auth;
mod bench;
mod capabilities;
mod cli;
mod cli_careful;
mod cli_deadlines;
mod cli_lease_margin;
mod cli_lost_lock;
mod cli_output;
mod cli_progress;
mod cli_servers;
mod cli_signals;
mod cli_slots;
mod completion;
mod control_room;
mod cross_api;
mod dashboard;
mod dashboard_controls;
mod descriptors;
mod durable;
mod etcd;
mod event_loop;
mod events_log;
mod gatekeeper;
mod gatekeeper_original;
mod generated_docs;
mod hal;
mod hardening;
mod hostile_gates;
mod http_edges;
mod http_limits;
mod late_write;
mod metrics;
mod pause;
mod proxy;
mod real_clients;
mod regressions;
mod request_queue;
mod scopes;
mod slots;
mod tls;
mod webmutex;
