//! The kinds of change the observers count and log.

/// The kinds of change, each with its counter (see `metrics`) and, but for denials, its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Grant,
    Release,
    Expiry,
    Timeout,
    Cancel,
    Delete,
    /// A lock held by someone else, and the caller would not wait (a 409). Counted, not logged.
    LockDenied,
    /// A gatekeeper test-and-set answered `denied`. Counted, not logged.
    GateDenied,
    GateOpened,
    GateClosed,
    GateMessage,
    TicketQueued,
    TicketGranted,
    TicketExpired,
    TicketDeleted,
    ServiceCreated,
    ServiceDeleted,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::Grant,
        Kind::Release,
        Kind::Expiry,
        Kind::Timeout,
        Kind::Cancel,
        Kind::Delete,
        Kind::LockDenied,
        Kind::GateDenied,
        Kind::GateOpened,
        Kind::GateClosed,
        Kind::GateMessage,
        Kind::TicketQueued,
        Kind::TicketGranted,
        Kind::TicketExpired,
        Kind::TicketDeleted,
        Kind::ServiceCreated,
        Kind::ServiceDeleted,
    ];

    /// The `event` word of a log line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Grant => "grant",
            Kind::Release => "release",
            Kind::Expiry => "expiry",
            Kind::Timeout => "timeout",
            Kind::Cancel => "cancel",
            Kind::Delete => "delete",
            Kind::LockDenied => "denied",
            Kind::GateDenied => "gate_denied",
            Kind::GateOpened => "gate_opened",
            Kind::GateClosed => "gate_closed",
            Kind::GateMessage => "gate_message",
            Kind::TicketQueued => "ticket_queued",
            Kind::TicketGranted => "ticket_granted",
            Kind::TicketExpired => "ticket_expired",
            Kind::TicketDeleted => "ticket_deleted",
            Kind::ServiceCreated => "service_created",
            Kind::ServiceDeleted => "service_deleted",
        }
    }
}
