//! Arbitrary bytes as a journal file: replay answers Ok or Err, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    weblock::fuzzing::journal(data);
});
