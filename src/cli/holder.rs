//! Who holds a lock, as status pages show it when neither `--holder` nor `WEBLOCK_HOLDER` says.

/// The holder text a client sends: the one it was given (`--holder` or `WEBLOCK_HOLDER`) unless
/// empty, else `default_holder()`. Locks and tickets alike.
pub fn chosen(given: Option<String>) -> String {
    given
        .filter(|h| !h.is_empty())
        .unwrap_or_else(default_holder)
}

/// `user@host pid N`: who holds a lock, for status pages. The user is `$USER`, `$LOGNAME`, or the
/// name of the process's uid (cron and systemd units often set neither).
pub fn default_holder() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .or_else(user_of_uid)
        // SAFETY: getuid cannot fail.
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }));
    format!("{user}@{} pid {}", hostname(), std::process::id())
}

/// The name of this process's real uid in the user database, if it has one: `/etc/passwd` read
/// directly first (a local account, as in most containers and CI runners, costs a file read), then
/// the system's user database (NSS: LDAP, sssd), whose setup costs a command that runs in a loop a
/// tenth of its time.
fn user_of_uid() -> Option<String> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| name_in_passwd(&text, uid).map(str::to_string))
        .or_else(user_of_uid_by_nss)
}

/// The name of `uid`'s first entry in the text of a passwd file (`name:password:uid:...`), skipping
/// comments and NIS's `+`/`-` lines.
fn name_in_passwd(text: &str, uid: libc::uid_t) -> Option<&str> {
    text.lines()
        .filter(|line| !line.starts_with(['#', '+', '-']))
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse::<libc::uid_t>().ok()?;
            (id == uid && !name.is_empty()).then_some(name)
        })
}

/// `user_of_uid` through the system's user database.
fn user_of_uid_by_nss() -> Option<String> {
    let mut buf = vec![0u8; 4096];
    loop {
        // SAFETY: passwd is plain data that getpwuid_r fills; the buffer and its length go together;
        // `result` is null or points at `pw`, whose strings live in `buf`.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                libc::getuid(),
                &mut pw,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pw.pw_name.is_null() {
            return None;
        }
        // SAFETY: pw_name is a NUL-terminated string in `buf`, alive here.
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        return Some(name.to_string_lossy().into_owned()).filter(|n| !n.is_empty());
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length are passed together; the result is checked.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::name_in_passwd;

    #[test]
    fn a_uid_is_named_by_its_first_passwd_entry() {
        let text = "# local accounts\nroot:x:0:0:root:/root:/bin/bash\n+nis:::::\n\
                    builder:x:1000:1000::/home/builder:/bin/sh\nalias:x:1000:1000::/:/bin/sh\n\
                    broken line\n:x:1001:1001::/:/bin/sh\n";
        assert_eq!(name_in_passwd(text, 0), Some("root"));
        assert_eq!(
            name_in_passwd(text, 1000),
            Some("builder"),
            "the first wins"
        );
        assert_eq!(name_in_passwd(text, 1001), None, "an empty name is none");
        assert_eq!(name_in_passwd(text, 4242), None);
        assert_eq!(name_in_passwd("", 0), None);
    }
}
