//! `--json`: one JSON object on stdout for success and failure alike, its `status` true to the exit
//! code (`"ok"` for 0, `"fail"` otherwise, with `exit_code` and `error`, the line on stderr). The
//! commands hand their object here (the server's answer, or their own), and it is printed once at the
//! end. A command run by `wait-grab`/`gate enter` owns stdout: then weblock prints nothing of its own.
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Map, Value};

use super::Failure;

static OBJECT: Mutex<Option<Value>> = Mutex::new(None);
static COMMAND_RAN: AtomicBool = AtomicBool::new(false);

/// The object to print at the end (the last one handed over wins).
pub fn keep(value: &Value) {
    *OBJECT.lock().unwrap_or_else(|p| p.into_inner()) = Some(value.clone());
}

/// A command was started: stdout is its own.
pub fn command_ran() {
    COMMAND_RAN.store(true, Ordering::SeqCst);
}

/// Prints the object for how the command ended (`code` is the exit code).
pub fn finish(result: &Result<u8, Failure>, code: u8) {
    if COMMAND_RAN.load(Ordering::SeqCst) {
        return;
    }
    let kept = OBJECT.lock().unwrap_or_else(|p| p.into_inner()).take();
    println!("{}", shape(kept, result, code));
}

fn shape(kept: Option<Value>, result: &Result<u8, Failure>, code: u8) -> Value {
    let mut object = match kept {
        Some(Value::Object(o)) => o,
        Some(other) => Map::from_iter([("answer".to_string(), other)]),
        None => Map::new(),
    };
    match result {
        Ok(_) if code == 0 => {
            object.insert("status".into(), "ok".into());
        }
        Ok(_) => {
            object.insert("status".into(), "fail".into());
            object.insert("exit_code".into(), code.into());
        }
        Err(failure) => {
            object.insert("status".into(), "fail".into());
            object.insert("exit_code".into(), code.into());
            object.insert("error".into(), failure.message.clone().into());
            object
                .entry("reason")
                .or_insert_with(|| failure.message.clone().into());
        }
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::exit;
    use serde_json::json;

    #[test]
    fn status_follows_the_exit_code() {
        let ok = shape(Some(json!({"status": "ok", "id": "db"})), &Ok(0), 0);
        assert_eq!(ok, json!({"status": "ok", "id": "db"}));
        let timed_out = Failure::new(exit::TIMED_OUT, "timed out after 1s waiting for db");
        let v = shape(
            Some(json!({"status": "ok", "in_use": true})),
            &Err(timed_out),
            3,
        );
        assert_eq!(v["status"], "fail");
        assert_eq!(v["exit_code"], 3);
        assert_eq!(v["error"], "timed out after 1s waiting for db");
        let v = shape(
            None,
            &Err(Failure::new(exit::USAGE, "invalid lock name \"\"")),
            2,
        );
        assert_eq!(v["reason"], "invalid lock name \"\"");
    }
}
