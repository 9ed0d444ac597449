//! Arbitrary bytes as one HTTP request (head and body) through the server's reading path.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    weblock::fuzzing::request(data);
});
