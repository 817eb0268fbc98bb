//! Failed sign-ins per username: after `max` failures within `window`, the username's
//! sign-ins are refused (without checking the password) until the window has passed since
//! the first of them. A success clears the count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Usernames tracked at most; past that, new names are not counted (memory stays bounded
/// when someone sprays made-up names, while the names already counted stay locked).
const MAX_TRACKED: usize = 10_000;

pub(crate) struct Throttle {
    max: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    pub(crate) fn new(max: u32, window: Duration) -> Throttle {
        Throttle {
            max: max.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long the username's sign-ins stay refused, if they are.
    pub(crate) fn locked(&self, username: &str) -> Option<Duration> {
        let m = self.failures.lock().ok()?;
        let (n, first) = m.get(username)?;
        let left = self.window.checked_sub(first.elapsed())?;
        (*n >= self.max).then_some(left)
    }

    /// Counts a failed sign-in.
    pub(crate) fn failed(&self, username: &str) {
        let Ok(mut m) = self.failures.lock() else {
            return;
        };
        let window = self.window;
        m.retain(|_, (_, first)| first.elapsed() < window);
        if let Some((n, _)) = m.get_mut(username) {
            *n += 1;
        } else if m.len() < MAX_TRACKED {
            m.insert(username.to_owned(), (1, Instant::now()));
        }
    }

    /// Clears the username's failures after a successful sign-in.
    pub(crate) fn succeeded(&self, username: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(username);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_until_the_window_passes() {
        let t = Throttle::new(3, Duration::from_millis(300));
        for _ in 0..2 {
            t.failed("ada");
        }
        assert_eq!(t.locked("ada"), None, "two of three");
        t.failed("ada");
        let left = t.locked("ada").expect("locked after three");
        assert!(left <= Duration::from_millis(300));
        assert_eq!(t.locked("bob"), None, "per username");
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(t.locked("ada"), None, "the window passed");
        t.failed("ada");
        assert_eq!(t.locked("ada"), None, "counting starts again");
    }

    #[test]
    fn a_success_clears_the_count() {
        let t = Throttle::new(2, Duration::from_secs(60));
        t.failed("ada");
        t.succeeded("ada");
        t.failed("ada");
        assert_eq!(t.locked("ada"), None);
        t.failed("ada");
        assert!(t.locked("ada").is_some());
    }

    #[test]
    fn tracking_is_bounded() {
        let t = Throttle::new(1, Duration::from_secs(60));
        for i in 0..MAX_TRACKED + 10 {
            t.failed(&format!("user{i}"));
        }
        assert_eq!(t.failures.lock().unwrap().len(), MAX_TRACKED);
        assert!(
            t.locked("user0").is_some(),
            "names counted early stay locked"
        );
    }
}
