//! How many may hold one resource at once, and in which mode: the rule every grant is checked against.
//!
//! A resource's `slots` (N) is set by the first request of a resource nobody holds or waits for;
//! `None` (no request named one) is the default. Holders of the two modes never hold together;
//! exclusive holders coexist up to N (1 by default: the mutex), shared holders up to N (without
//! limit by default).

use serde::{Deserialize, Serialize};

/// The most `slots` a resource may have: beyond it a "limit" is no limit, and a typo (`slots=1e9`)
/// is better refused than obeyed.
pub const MAX_SLOTS: u32 = 10_000;

/// How a request holds a resource.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// With holders of its own mode only, up to the resource's slots (1 by default).
    #[default]
    Exclusive,
    /// With holders of its own mode only, up to the resource's slots (without limit by default).
    Shared,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Exclusive => "exclusive",
            Mode::Shared => "shared",
        }
    }

    /// For `#[serde(skip_serializing_if)]`: the default is left out of journal lines.
    pub(super) fn is_exclusive(&self) -> bool {
        *self == Mode::Exclusive
    }
}

/// How many holders of `mode` a resource with `slots` admits at once; `None` = no limit.
pub fn limit(slots: Option<u32>, mode: Mode) -> Option<u32> {
    match (slots, mode) {
        (Some(n), _) => Some(n),
        (None, Mode::Exclusive) => Some(1),
        (None, Mode::Shared) => None,
    }
}

/// Whether `slots` is a number of slots a resource may have.
pub fn valid(slots: u32) -> bool {
    (1..=MAX_SLOTS).contains(&slots)
}

/// Whether a request for `mode` that names `asked` may join a resource whose slots are `in_force`.
/// Naming none joins whatever is in force; naming 1 exclusive joins the default too, which gives an
/// exclusive request exactly that (so `--slots 1` meets a plain mutex, rather than a refusal).
pub(super) fn joins(in_force: Option<u32>, asked: Option<u32>, mode: Mode) -> bool {
    match asked {
        None => true,
        Some(n) => in_force == Some(n) || (in_force.is_none() && n == 1 && mode == Mode::Exclusive),
    }
}

/// Whether a request for `mode` may hold now beside `holders` holders of `current` mode (`None` if
/// there is none), on a resource with `slots`.
pub(super) fn admits(
    slots: Option<u32>,
    current: Option<Mode>,
    holders: usize,
    mode: Mode,
) -> bool {
    match current {
        None => true,
        Some(current) if current != mode => false,
        Some(_) => limit(slots, mode).is_none_or(|n| holders < n as usize),
    }
}
