//! The server's threads: named, with small stacks (there may be dozens, and none recurses deeply).
use std::io;

pub fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(256 * 1024)
        .spawn(f)
        .map(|_| ())
}
