//! Sign-in attempts per username: each attempt is counted before its password is checked
//! (so parallel guesses cannot slip in while Argon2 runs); after `max` attempts within
//! `window` without a success, the username's sign-ins are refused (without checking the
//! password) until the window has passed since the first of them. A success clears the
//! count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Usernames tracked at most; past that, new names are not counted (memory stays bounded
/// when someone sprays made-up names, while the names already counted stay locked).
const MAX_TRACKED: usize = 10_000;

pub(crate) struct Throttle {
    max: u32,
    window: Duration,
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    pub(crate) fn new(max: u32, window: Duration) -> Throttle {
        Throttle {
            max: max.max(1),
            window,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a sign-in attempt, or refuses it with how long the username stays locked.
    pub(crate) fn attempt(&self, username: &str) -> Result<(), Duration> {
        let Ok(mut m) = self.attempts.lock() else {
            return Ok(());
        };
        let window = self.window;
        m.retain(|_, (_, first)| first.elapsed() < window);
        match m.get_mut(username) {
            Some((n, first)) if *n >= self.max => Err(window.saturating_sub(first.elapsed())),
            Some((n, _)) => {
                *n += 1;
                Ok(())
            }
            None => {
                if m.len() < MAX_TRACKED {
                    m.insert(username.to_owned(), (1, Instant::now()));
                }
                Ok(())
            }
        }
    }

    /// Clears the username's attempts after a successful sign-in.
    pub(crate) fn succeeded(&self, username: &str) {
        if let Ok(mut m) = self.attempts.lock() {
            m.remove(username);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_attempts_until_the_window_passes() {
        let t = Throttle::new(3, Duration::from_millis(300));
        for _ in 0..3 {
            assert_eq!(t.attempt("ada"), Ok(()));
        }
        let left = t.attempt("ada").expect_err("the fourth is refused");
        assert!(left <= Duration::from_millis(300));
        assert_eq!(t.attempt("bob"), Ok(()), "per username");
        std::thread::sleep(Duration::from_millis(350));
        assert_eq!(t.attempt("ada"), Ok(()), "the window passed");
    }

    #[test]
    fn attempts_in_flight_count_before_their_outcome() {
        // Parallel guesses: none has finished (neither failed nor succeeded) yet.
        let t = std::sync::Arc::new(Throttle::new(5, Duration::from_secs(60)));
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || t.attempt("ada").is_ok())
            })
            .collect();
        let let_through = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(let_through, 5);
    }

    #[test]
    fn a_success_clears_the_count() {
        let t = Throttle::new(2, Duration::from_secs(60));
        t.attempt("ada").unwrap();
        t.succeeded("ada");
        t.attempt("ada").unwrap();
        t.attempt("ada").unwrap();
        assert!(t.attempt("ada").is_err());
    }

    #[test]
    fn tracking_is_bounded() {
        let t = Throttle::new(1, Duration::from_secs(60));
        for i in 0..MAX_TRACKED + 10 {
            t.attempt(&format!("user{i}")).unwrap();
        }
        assert_eq!(t.attempts.lock().unwrap().len(), MAX_TRACKED);
        assert!(
            t.attempt("user0").is_err(),
            "names counted early stay locked"
        );
    }
}
