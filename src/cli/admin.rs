//! `weblock break NAME`: an administrator ends a stuck lock — its holders and its waiters — with the
//! server's `POST /break` (the WebMutex side of the HAL API's administrative `DELETE /resources/NAME`,
//! for every lock name), `WEBLOCK_ADMIN_CREDENTIALS` sent as HTTP Basic, and says whom it ended.
use std::time::{Duration, Instant};

use super::lock::{Ctx, ONE_SHOT_RETRY, holder_phrase, unexpected};
use super::{Failure, exit};
use crate::api::auth::{CREDENTIALS_ENV, Credentials};

pub fn break_lock(ctx: &Ctx, name: &str) -> Result<(), Failure> {
    let Some(user_password) = std::env::var(CREDENTIALS_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Err(Failure::new(
            exit::REFUSED,
            format!(
                "breaking a lock takes the administrator's credentials: set {CREDENTIALS_ENV}=user:password (the server's --admin-credentials); nothing was sent"
            ),
        ));
    };
    let user_password = user_password.trim();
    Credentials::parse(user_password).map_err(|e| {
        Failure::new(
            exit::USAGE,
            format!("{CREDENTIALS_ENV}: {e}; nothing was sent"),
        )
    })?;
    let admin = Ctx {
        client: ctx.client.as_admin(user_password),
        json: ctx.json,
        progress: false,
    };
    let form = [("id", name.to_string())];
    let deadline = Instant::now() + ONE_SHOT_RETRY;
    let answer = admin.call("POST", "/break", &form, Duration::ZERO, deadline)?;
    match answer.status {
        200 => {
            // The server's answer says what the lock was just before it ended it.
            let line = format!("broke {name}: it was {}", holder_phrase(&answer));
            if ctx.json {
                super::json_out::keep(&answer.body);
            } else {
                println!("{line}");
            }
            Ok(())
        }
        409 => {
            ctx.print_json(&answer);
            Err(Failure::new(
                exit::NO,
                format!("{name} is free: nothing to break"),
            ))
        }
        400 => Err(Failure::new(exit::USAGE, answer.reason())),
        // A server with no administrator configured refuses every administrative request.
        403 => Err(Failure::new(exit::REFUSED, answer.reason())),
        _ => Err(unexpected(&answer)),
    }
}
