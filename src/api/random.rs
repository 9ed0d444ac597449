//! Secret random values (tokens, HAL uids, request-queue numbers), drawn from the operating system's
//! generator a block at a time: one `getrandom` call serves 256 draws instead of one each, which was a
//! system call per lock request. The bytes are the kernel's own CSPRNG output, unchanged; each draw is
//! wiped from the block as it is taken, so the block never holds a value already handed out.
use std::cell::RefCell;

use uuid::Uuid;

/// Bytes fetched per system call.
const BLOCK: usize = 4096;

struct Pool {
    bytes: Box<[u8; BLOCK]>,
    /// Bytes from here on are not yet handed out.
    next: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool { bytes: Box::new([0; BLOCK]), next: BLOCK });
}

/// 16 fresh random bytes.
fn draw16() -> [u8; 16] {
    POOL.with_borrow_mut(|pool| {
        if pool.next + 16 > BLOCK {
            if getrandom::fill(&mut pool.bytes[..]).is_err() {
                // The system's generator failed (it does not, once booted): uuid's own draw is the
                // fallback, and it fails loudly in the same case.
                return *Uuid::new_v4().as_bytes();
            }
            pool.next = 0;
        }
        let mut out = [0u8; 16];
        let taken = &mut pool.bytes[pool.next..pool.next + 16];
        out.copy_from_slice(taken);
        taken.fill(0);
        pool.next += 16;
        out
    })
}

/// A random UUID (version 4).
pub fn uuid() -> Uuid {
    uuid::Builder::from_random_bytes(draw16()).into_uuid()
}

/// A random number below 2^64.
pub fn u64() -> u64 {
    let bytes = draw16();
    let mut half = [0u8; 8];
    half.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_version_4_and_distinct_across_blocks() {
        let mut seen = std::collections::HashSet::new();
        // More than one block's worth, so a refill happens in between.
        for _ in 0..(BLOCK / 16) * 3 {
            let u = uuid();
            assert_eq!(u.get_version_num(), 4);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
            assert!(seen.insert(u), "a repeated draw");
        }
        assert_ne!(u64(), u64());
    }
}
