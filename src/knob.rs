//! Test knobs: bounds made for production that a test may lower.

/// A positive number from the environment variable `name`, or `default`: test knobs, so that a test
/// reaches a bound made for production (10,000 revisions, 100,000 tickets) with a handful of steps.
pub fn test_knob<T: std::str::FromStr + PartialOrd + Default>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &T| *n > T::default())
        .unwrap_or(default)
}
