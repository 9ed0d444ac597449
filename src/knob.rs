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

/// `WEBLOCK_TEST_STALL_WRITE=HOLDER:MS` (debug builds only): how long a grant to HOLDER is held
/// back between its confirmation and its write, as a pause of the whole server there would. The
/// tests of late writes use it; release builds do not read it.
#[cfg(debug_assertions)]
pub fn stall_write() -> Option<&'static (String, u64)> {
    static STALL: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    STALL
        .get_or_init(|| {
            let text = std::env::var("WEBLOCK_TEST_STALL_WRITE").ok()?;
            let (holder, ms) = text.rsplit_once(':')?;
            Some((holder.to_string(), ms.parse().ok()?))
        })
        .as_ref()
}
