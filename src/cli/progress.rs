//! The line a waiting client shows on a terminal: whom it waits for, how long they have held it, its
//! place in line, the time it has left. One line on stderr, rewritten in place (`\r` and
//! clear-to-end-of-line) every second and whenever a poll brings news, cut to the terminal's width so it
//! never wraps, and cleared when the wait ends. Nothing at all when stderr is not a terminal.
//!
//! It shows only what the long-poll answers carry (holder, `held_for`, `position`, gate states), aged
//! by the local clock between answers.
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use unicode_width::UnicodeWidthChar;

use super::text;
use crate::duration;

/// Whether this process's stderr is a terminal, i.e. whether to show the line.
pub fn wanted() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(libc::STDERR_FILENO) == 1 }
}

/// Whether the line is on the screen now. Every write of the line holds this lock, so a message
/// printed after `clear_for_good` is never overwritten.
static SHOWN: Mutex<bool> = Mutex::new(false);
/// Set once the process is about to end with a message: nothing is drawn again.
static SILENCED: AtomicBool = AtomicBool::new(false);

fn shown() -> MutexGuard<'static, bool> {
    SHOWN.lock().unwrap_or_else(|p| p.into_inner())
}

/// Clears the line for a last message (a signal ended the wait) and draws it no more.
pub fn clear_for_good() {
    SILENCED.store(true, Ordering::SeqCst);
    erase();
}

/// What the last answer said.
#[derive(Debug, Default, Clone)]
pub struct News {
    /// Who holds what is waited for.
    pub holder: Option<String>,
    /// How long they had held it when the answer was made, in seconds.
    pub held_for: Option<f64>,
    /// Our place in line: 1 is next.
    pub position: Option<u64>,
    /// How many wait (when our own place is unknown).
    pub waiting: Option<u64>,
    /// Anything else worth a word (a closed gate's message).
    pub note: Option<String>,
}

impl News {
    /// From a WebMutex answer (`/grab`'s 409, `/status`).
    pub fn from_lock(body: &Value) -> News {
        // With several holders the top-level fields describe the oldest.
        let others = body
            .get("holders")
            .and_then(Value::as_array)
            .map_or(0, |h| h.len().saturating_sub(1));
        let holder = body
            .get("holder")
            .and_then(Value::as_str)
            .map(|h| match others {
                0 => h.to_string(),
                n => format!("{h} and {n} more"),
            });
        News {
            holder,
            held_for: body.get("held_for").and_then(Value::as_f64),
            position: body.get("position").and_then(Value::as_u64),
            waiting: body.get("waiting").and_then(Value::as_u64),
            note: None,
        }
    }
}

struct State {
    what: String,
    started: Instant,
    deadline: Option<Instant>,
    news: Option<(News, Instant)>,
    finished: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The line, for one wait; cleared on drop. Inert when stderr is not a terminal.
pub struct Progress {
    shared: Option<Arc<Shared>>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

/// How often the line is redrawn (the clocks on it move).
const REDRAW: Duration = Duration::from_secs(1);

impl Progress {
    /// Starts showing a wait for `what` (e.g. `db`, `shop:live to open`), if `show`.
    pub fn start(show: bool, what: &str, deadline: Option<Instant>) -> Progress {
        if !show {
            return Progress {
                shared: None,
                ticker: None,
            };
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                what: what.to_string(),
                started: Instant::now(),
                deadline,
                news: None,
                finished: false,
            }),
            wake: Condvar::new(),
        });
        let ticker = {
            let shared = shared.clone();
            std::thread::spawn(move || tick(&shared))
        };
        Progress {
            shared: Some(shared),
            ticker: Some(ticker),
        }
    }

    /// Whether the line is shown (stderr is a terminal).
    pub fn active(&self) -> bool {
        self.shared.is_some()
    }

    /// What a poll's answer said; redrawn at once.
    pub fn news(&self, news: News) {
        if let Some(shared) = &self.shared {
            shared.state().news = Some((news, Instant::now()));
            shared.wake.notify_all();
        }
    }

    /// The wait is over: the line goes, before anything else is printed. (Dropping does it too.)
    pub fn finish(&self) {
        if let Some(shared) = &self.shared {
            // The ticker draws only under the state lock, after checking `finished`.
            shared.state().finished = true;
            shared.wake.notify_all();
            erase();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

/// Prints a whole line on stderr (a server that does not answer, say) without mixing it into the
/// waiting line: the line is cleared first and drawn again, below it, at the next redraw.
pub fn say(line: &str) {
    let mut shown = shown();
    let mut err = std::io::stderr().lock();
    if *shown {
        let _ = err.write_all(b"\r\x1b[K");
        *shown = false;
    }
    let _ = writeln!(err, "{line}");
}

fn erase() {
    let mut shown = shown();
    if *shown {
        let _ = std::io::stderr().write_all(b"\r\x1b[K");
        *shown = false;
    }
}

/// Draws the line every second and on news, until finished (`finish` clears it).
fn tick(shared: &Shared) {
    let mut state = shared.state();
    while !state.finished {
        draw(&render(&state, Instant::now()));
        state = shared
            .wake
            .wait_timeout(state, REDRAW)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

fn draw(line: &str) {
    let mut shown = shown();
    if SILENCED.load(Ordering::SeqCst) {
        return;
    }
    let line = fit(line, terminal_width());
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r{line}\x1b[K");
    let _ = err.flush();
    *shown = true;
}

/// Columns of the terminal on stderr (80 if it will not say).
fn terminal_width() -> usize {
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills the winsize passed; the result is checked.
    let rc = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) };
    if rc == 0 && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// Cut to fit in `width` columns with one to spare (a full last column wraps on some terminals), by
/// terminal columns: a wrapped line could not be cleared in place (`\r` goes back one row only).
fn fit(line: &str, width: usize) -> String {
    let room = width.saturating_sub(1).max(1);
    if text::columns(line) <= room {
        return line.to_string();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room - 1 {
            break;
        }
        used += w;
        cut.push(c);
    }
    cut.push('…');
    cut
}

/// `waiting for db: held by alice@build3 pid 42 for 3m12s, next in line, 4m58s left`.
fn render(state: &State, now: Instant) -> String {
    let mut parts = Vec::new();
    if let Some((news, at)) = &state.news {
        if let Some(holder) = &news.holder {
            let mut held = format!("held by {holder}");
            if let Some(since) = news
                .held_for
                .and_then(|secs| Duration::try_from_secs_f64(secs.max(0.0)).ok())
            {
                let age = since.saturating_add(now.saturating_duration_since(*at));
                held.push_str(&format!(" for {}", duration::format(whole_seconds(age))));
            }
            parts.push(held);
        }
        if let Some(note) = &news.note {
            parts.push(note.clone());
        }
        match (news.position, news.waiting) {
            (Some(1), _) => parts.push("next in line".to_string()),
            (Some(n), _) => parts.push(format!("{} in line", ordinal(n))),
            (None, Some(n)) if n > 0 => parts.push(format!("{n} waiting")),
            _ => {}
        }
    }
    match state.deadline {
        // Rounded up: a wait of 3s starts at "3s left" and ends at "0s left".
        Some(d) => parts.push(format!(
            "{} left",
            duration::format(whole_seconds(
                d.saturating_duration_since(now) + Duration::from_nanos(999_999_999)
            ))
        )),
        None => parts.push(format!(
            "waited {}",
            duration::format(whole_seconds(now.saturating_duration_since(state.started)))
        )),
    }
    format!("waiting for {}: {}", state.what, parts.join(", "))
}

/// A clock on the line moves in whole seconds.
fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(deadline: Option<Duration>, news: Option<News>, now: Instant) -> State {
        State {
            what: "db".into(),
            started: now - Duration::from_secs(12),
            deadline: deadline.map(|d| now + d),
            news: news.map(|n| (n, now - Duration::from_secs(2))),
            finished: false,
        }
    }

    #[test]
    fn the_line_names_the_holder_its_age_our_place_and_the_time_left() {
        let now = Instant::now();
        let answer = json!({"status": "fail", "holder": "alice@build3 pid 42", "held_for": 190.4,
                            "queued": true, "position": 2, "waiting": 3});
        let s = state(
            Some(Duration::from_secs(298)),
            Some(News::from_lock(&answer)),
            now,
        );
        assert_eq!(
            render(&s, now),
            "waiting for db: held by alice@build3 pid 42 for 3m12s, 2nd in line, 4m58s left"
        );
        let shared = json!({"holder": "alice", "held_for": 10.0, "position": 1,
                            "holders": [{"holder": "alice"}, {"holder": "bob"}, {"holder": "carol"}]});
        let s = state(None, Some(News::from_lock(&shared)), now);
        assert_eq!(
            render(&s, now),
            "waiting for db: held by alice and 2 more for 12s, next in line, waited 12s"
        );
    }

    #[test]
    fn before_any_answer_it_says_how_long_it_has_waited() {
        let now = Instant::now();
        assert_eq!(
            render(&state(None, None, now), now),
            "waiting for db: waited 12s"
        );
        let status = json!({"in_use": true, "holder": "bob", "waiting": 1});
        assert_eq!(
            render(&state(None, Some(News::from_lock(&status)), now), now),
            "waiting for db: held by bob, 1 waiting, waited 12s"
        );
        let gate = News {
            note: Some("shop:live is closed (\"testing\")".into()),
            position: Some(1),
            ..News::default()
        };
        assert_eq!(
            render(&state(None, Some(gate), now), now),
            "waiting for db: shop:live is closed (\"testing\"), next in line, waited 12s"
        );
    }

    #[test]
    fn a_number_beyond_any_duration_is_left_out_not_a_panic() {
        let now = Instant::now();
        let odd = json!({"holder": "bob", "held_for": 1e300});
        assert_eq!(
            render(&state(None, Some(News::from_lock(&odd)), now), now),
            "waiting for db: held by bob, waited 12s"
        );
    }

    #[test]
    fn a_long_line_is_cut_to_the_terminal() {
        assert_eq!(fit("abcdef", 80), "abcdef");
        assert_eq!(fit("abcdef", 5), "abc…");
        assert_eq!(fit("abcdef", 0), "…");
        // A Chinese character takes two columns: cut by columns, or the line wraps on the screen.
        let line = "waiting for db: held by 张三的构建机张三的构建机";
        for width in [20, 30, 31, 40] {
            let cut = fit(line, width);
            assert!(text::columns(&cut) < width, "{cut:?} in {width} columns");
            assert!(
                text::columns(&cut) >= width - 3,
                "{cut:?} in {width} columns"
            );
        }
    }

    #[test]
    fn ordinals() {
        let all: Vec<String> = [2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(ordinal).into();
        assert_eq!(
            all,
            [
                "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"
            ]
        );
    }
}
