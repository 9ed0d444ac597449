//! The tokens this user holds, remembered so `weblock release NAME` needs no token argument.
//!
//! One JSON file in the user's state directory (`$XDG_STATE_HOME/weblock/tokens.json`, by
//! `directories`). Every change happens under an exclusive `File::lock` on a separate lock file and is
//! written to a temporary file that is then renamed over the old one, so concurrent weblock processes
//! never lose each other's entries and a crash mid-write never leaves a torn file.
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub server: String,
    pub name: String,
    pub token: String,
    pub fence: u64,
    /// Released already: kept so that a second `weblock release NAME` sends the same token again and
    /// succeeds, as the server's release is idempotent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
}

/// Released tokens kept at most (the newest), for a repeated release.
const RELEASED_KEPT: usize = 64;

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    held: Vec<Held>,
}

pub struct Tokens {
    dir: PathBuf,
}

impl Tokens {
    /// The user's token memory. Errors only when no state directory can be found at all.
    pub fn open() -> Result<Tokens, String> {
        let dirs = directories::ProjectDirs::from("", "", "weblock")
            .ok_or("cannot find your home directory to keep tokens in; pass --token")?;
        let dir = dirs
            .state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_path_buf();
        Ok(Tokens { dir })
    }

    #[cfg(test)]
    fn at(dir: &Path) -> Tokens {
        Tokens {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("tokens.json")
    }

    pub fn remember(&self, held: Held) -> Result<(), String> {
        self.change(|file| {
            file.held
                .retain(|h| !(h.server == held.server && h.name == held.name));
            file.held.push(held);
        })
    }

    /// The token remembered for `name` on `server`.
    pub fn find(&self, server: &str, name: &str) -> Result<Option<Held>, String> {
        let mut found = None;
        self.change(|file| {
            found = file
                .held
                .iter()
                .find(|h| h.server == server && h.name == name)
                .cloned();
        })?;
        Ok(found)
    }

    /// Marks the token released (see `Held::released`); the oldest released ones beyond
    /// `RELEASED_KEPT` are forgotten.
    pub fn mark_released(&self, server: &str, name: &str, token: &str) -> Result<(), String> {
        self.change(|file| {
            let Some(i) = file
                .held
                .iter()
                .position(|h| h.server == server && h.name == name && h.token == token)
            else {
                return;
            };
            let mut held = file.held.remove(i);
            held.released = true;
            file.held.push(held);
            let released = file.held.iter().filter(|h| h.released).count();
            let mut extra = released.saturating_sub(RELEASED_KEPT);
            file.held.retain(|h| {
                let drop = h.released && extra > 0;
                extra -= usize::from(drop);
                !drop
            });
        })
    }

    pub fn forget(&self, server: &str, name: &str, token: &str) -> Result<(), String> {
        self.change(|file| {
            file.held
                .retain(|h| !(h.server == server && h.name == name && h.token == token));
        })
    }

    /// Reads, changes and writes the file under the lock (a change that changes nothing writes nothing).
    fn change(&self, f: impl FnOnce(&mut TokenFile)) -> Result<(), String> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let lock_path = self.dir.join("tokens.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        lock.lock()
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        let path = self.path();
        let mut file = read(&path);
        let before = file.held.clone();
        f(&mut file);
        let result = if file.held == before {
            Ok(())
        } else {
            write(&path, &file)
        };
        drop(lock);
        result
    }
}

/// The file as it stands: empty when absent; a damaged file is set aside (not silently lost) and
/// counts as empty.
fn read(path: &Path) -> TokenFile {
    let Ok(text) = fs::read_to_string(path) else {
        return TokenFile::default();
    };
    match serde_json::from_str(&text) {
        Ok(file) => file,
        Err(e) => {
            let aside = path.with_extension("json.damaged");
            let _ = fs::rename(path, &aside);
            warn!(
                "weblock: {} was damaged ({e}); moved it to {} and started afresh",
                path.display(),
                aside.display()
            );
            TokenFile::default()
        }
    }
}

fn write(path: &Path, file: &TokenFile) -> Result<(), String> {
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
    let result = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(name: &str, token: &str) -> Held {
        Held {
            server: "http://s".into(),
            name: name.into(),
            token: token.into(),
            fence: 1,
            released: false,
        }
    }

    fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weblock-tokens-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_released_token_is_kept_for_a_repeated_release_and_only_the_newest_are() {
        let dir = tempdir("released");
        let t = Tokens::at(&dir);
        t.remember(held("a", "1")).unwrap();
        t.mark_released("http://s", "a", "1").unwrap();
        let found = t.find("http://s", "a").unwrap().unwrap();
        assert!(found.released && found.token == "1");
        for i in 0..RELEASED_KEPT + 5 {
            let name = format!("n{i}");
            t.remember(held(&name, "2")).unwrap();
            t.mark_released("http://s", &name, "2").unwrap();
        }
        assert_eq!(t.find("http://s", "a").unwrap(), None, "the oldest went");
        assert!(t.find("http://s", "n68").unwrap().is_some());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn remembers_finds_and_forgets() {
        let dir = tempdir("basic");
        let t = Tokens::at(&dir);
        t.remember(held("a", "1")).unwrap();
        t.remember(held("b", "2")).unwrap();
        assert_eq!(t.find("http://s", "a").unwrap(), Some(held("a", "1")));
        t.forget("http://s", "a", "wrong").unwrap();
        assert!(t.find("http://s", "a").unwrap().is_some());
        t.forget("http://s", "a", "1").unwrap();
        assert_eq!(t.find("http://s", "a").unwrap(), None);
        assert_eq!(t.find("http://s", "b").unwrap(), Some(held("b", "2")));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempdir("concurrent");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let t = Tokens::at(&dir);
                    for j in 0..10 {
                        t.remember(held(&format!("{i}-{j}"), "x")).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let file = read(&Tokens::at(&dir).path());
        assert_eq!(file.held.len(), 80);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_is_set_aside() {
        let dir = tempdir("damaged");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("tokens.json"), "{not json").unwrap();
        let t = Tokens::at(&dir);
        assert_eq!(t.find("http://s", "a").unwrap(), None);
        assert!(dir.join("tokens.json.damaged").exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
