//! In-memory limits on how often one caller may try something: login attempts per account and
//! per client address ([`LoginThrottle`]), and requests per API token ([`RateLimiter`]).
//!
//! Both live in one server node's memory. With several nodes behind a balancer each node counts
//! on its own, so a client spread over `n` nodes gets up to `n` times the limits below. Nothing
//! here survives a restart, and nothing needs to: the worst a restart gives an attacker is one
//! fresh allowance.
//!
//! Every method takes the current time as `now` rather than reading a clock, so tests drive time
//! by hand and never sleep; callers pass `Instant::now()`.
//!
//! # Login attempts
//!
//! The caller asks [`LoginThrottle::check`] before it verifies a password, and refuses the
//! attempt (without verifying) while the verdict is [`Verdict::Wait`]. It then reports the outcome
//! with [`LoginThrottle::failed`] or [`LoginThrottle::succeeded`]. A failure is recorded against
//! both the account and the client address, with the same rules for each except that an address
//! gets `address_factor` times the allowance, since many people may share one (an office behind
//! NAT) and one address trying many accounts is credential stuffing.
//!
//! The first `free_failures` failures cost nothing. Each failure past them imposes a wait of
//! `base_delay`, doubling with every further failure up to `max_delay`; reaching `lockout_after`
//! failures imposes `lockout` instead. A wait is fixed when the failure that caused it happens, so
//! it is never cut short, and a failure counts for `forget_after` from when it happened. A success
//! clears the account's failures but not the address's, so an attacker who owns one account
//! cannot reset the address they are stuffing from by logging into it now and then.
//!
//! The throttle never learns whether an account exists: the caller records a failure for an
//! unknown email exactly as for a wrong password, so the verdicts (and the memory they take) are
//! the same either way and cannot be used to find out which emails are registered. Making the
//! password check itself take the same time for unknown accounts is the caller's job.
//!
//! IPv6 clients are counted per /64, the block one subscriber usually holds, so a client cannot
//! rotate through the addresses of its own /64. IPv4 addresses, including IPv4 addresses that a
//! dual-stack socket reports in IPv6 form (`::ffff:a.b.c.d`), are counted one by one.
//!
//! # Request rates
//!
//! [`RateLimiter`] uses fixed windows: a key's window opens with its first request and lasts the
//! configured length, and it may make `limit` requests in it. That makes the IETF `RateLimit-*`
//! header values exact and cheap (one count and one instant per key). The price is that a client
//! can make up to twice its limit across the end of one window and the start of the next; for
//! API tokens that is acceptable. Refused requests do not count against the next window. Windows
//! open per key, not on the clock, so keys do not all reset at the same moment.
//!
//! # Memory
//!
//! Each kind of key (accounts, addresses, rate-limited keys) is tracked for at most
//! [`MAX_KEYS`] keys. A new key arriving when that is full first prunes what has nothing left to
//! remember, and if that frees too little, forgets the keys that were least recently active,
//! down to nine tenths of the bound, so the scan is paid once per many new keys. Someone flooding
//! distinct keys can therefore make this node forget an idle key's history, but not the history of
//! a key under active attack. Callers should also call `prune` now and then (say once a minute)
//! so memory shrinks when load does.
//!
//! This module knows nothing of HTTP beyond header names and values, nor of passwords, accounts
//! or storage.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most keys of one kind tracked at a time.
pub const MAX_KEYS: usize = 100_000;

/// Longest wait or window honoured; longer settings are read as this, so adding one to an
/// `Instant` cannot overflow.
const MAX_SPAN: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// How failed logins are punished. The defaults suit an interactive login form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// Delay after the first failure past `free_failures`, doubling with each further failure.
    pub base_delay: Duration,
    /// Cap of the growing delay.
    pub max_delay: Duration,
    /// Failures that lock the key for `lockout`; 0 never locks.
    pub lockout_after: u32,
    /// How long a lockout lasts.
    pub lockout: Duration,
    /// Failures older than this no longer count.
    pub forget_after: Duration,
    /// An address may fail this many times more than an account before the same rules apply
    /// (both `free_failures` and `lockout_after` are multiplied by it); 0 is read as 1.
    pub address_factor: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            free_failures: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            lockout_after: 10,
            lockout: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
            address_factor: 5,
        }
    }
}

/// Whether a login attempt may go ahead now.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Try again after this long.
    Wait(Duration),
}

/// Login attempts limited per account and per client address. Shared between request handlers
/// behind an `Arc`.
pub struct LoginThrottle {
    state: Mutex<LoginState>,
}

struct LoginState {
    accounts: Failures<String>,
    addresses: Failures<IpAddr>,
}

/// The failures of one kind of key, and the thresholds that apply to that kind.
struct Failures<K> {
    records: HashMap<K, Record>,
    rules: Rules,
}

/// The policy as it applies to one kind of key.
struct Rules {
    free: u32,
    /// 0 never locks.
    lock_at: u32,
    base_delay: Duration,
    max_delay: Duration,
    lockout: Duration,
    forget_after: Duration,
}

struct Record {
    /// When the failures that still count happened, oldest first; never longer than
    /// [`Rules::kept`], since older failures past that cannot change a verdict.
    failures: VecDeque<Instant>,
    /// Attempts are refused until then.
    until: Instant,
    /// The latest failure: what "least recently active" means when memory runs short.
    last: Instant,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        let factor = policy.address_factor.max(1);
        let address_policy = ThrottlePolicy {
            free_failures: policy.free_failures.saturating_mul(factor),
            lockout_after: policy.lockout_after.saturating_mul(factor),
            ..policy.clone()
        };
        Self {
            state: Mutex::new(LoginState {
                accounts: Failures::new(Rules::from(&policy)),
                addresses: Failures::new(Rules::from(&address_policy)),
            }),
        }
    }

    /// Before checking a password: whether this account and address may try now. Both keys are
    /// checked; the longer wait wins. The verdict depends only on the failures recorded, never
    /// on whether the account exists. Records nothing.
    pub fn check(&self, account: &str, address: IpAddr, now: Instant) -> Verdict {
        let state = self.lock();
        let wait = state
            .accounts
            .wait(account, now)
            .max(state.addresses.wait(&address_key(address), now));
        if wait.is_zero() {
            Verdict::Allowed
        } else {
            Verdict::Wait(wait)
        }
    }

    /// After a failed attempt (wrong password or unknown account: the caller records both the
    /// same way).
    pub fn failed(&self, account: &str, address: IpAddr, now: Instant) {
        let mut state = self.lock();
        state.accounts.record(account, now);
        state.addresses.record(&address_key(address), now);
    }

    /// After a successful login: clears the account's failures (not the address's). `now` is
    /// unused; it keeps every method on the same injected clock.
    pub fn succeeded(&self, account: &str, _now: Instant) {
        self.lock().accounts.records.remove(account);
    }

    /// Drops entries with nothing left to remember; call now and then so memory shrinks.
    pub fn prune(&self, now: Instant) {
        let mut state = self.lock();
        state.accounts.prune(now);
        state.addresses.prune(now);
    }

    fn lock(&self) -> MutexGuard<'_, LoginState> {
        // The state is consistent after every statement, so a panic elsewhere cannot poison it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key an address is counted under: IPv6 by its /64, IPv4 (also IPv4-mapped IPv6) as is.
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
    }
}

impl From<&ThrottlePolicy> for Rules {
    fn from(policy: &ThrottlePolicy) -> Self {
        Self {
            free: policy.free_failures,
            lock_at: policy.lockout_after,
            base_delay: policy.base_delay.min(MAX_SPAN),
            max_delay: policy.max_delay.min(MAX_SPAN),
            lockout: policy.lockout.min(MAX_SPAN),
            forget_after: policy.forget_after,
        }
    }
}

impl Rules {
    /// How many failures a record needs to keep: enough to reach the lockout, or, without one,
    /// enough doublings to reach any `max_delay`.
    fn kept(&self) -> usize {
        let most = if self.lock_at > 0 {
            self.lock_at
        } else {
            self.free.saturating_add(128)
        };
        usize::try_from(most).unwrap_or(usize::MAX)
    }

    /// The wait imposed by the `count`th failure that still counts.
    fn wait_after(&self, count: u32) -> Duration {
        if self.lock_at > 0 && count >= self.lock_at {
            self.lockout
        } else if count > self.free {
            backoff(self.base_delay, self.max_delay, count - self.free - 1)
        } else {
            Duration::ZERO
        }
    }
}

/// `base` doubled `doublings` times, but no more than `max`.
fn backoff(base: Duration, max: Duration, doublings: u32) -> Duration {
    let mut delay = base;
    for _ in 0..doublings {
        if delay >= max {
            break;
        }
        delay = delay.checked_mul(2).unwrap_or(max);
    }
    delay.min(max)
}

impl<K: Eq + Hash> Failures<K> {
    fn new(rules: Rules) -> Self {
        Self {
            records: HashMap::new(),
            rules,
        }
    }

    fn wait<Q>(&self, key: &Q, now: Instant) -> Duration
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.records
            .get(key)
            .map_or(Duration::ZERO, |r| r.until.saturating_duration_since(now))
    }

    fn record<Q>(&mut self, key: &Q, now: Instant)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        if !self.records.contains_key(key) && self.records.len() >= MAX_KEYS {
            self.prune(now);
            forget_least_recent(&mut self.records, |r| r.last);
        }
        let record = match self.records.get_mut(key) {
            Some(record) => record,
            None => self
                .records
                .entry(key.to_owned())
                .or_insert_with(|| Record::new(now)),
        };
        record.forget(now, self.rules.forget_after);
        record.failures.push_back(now);
        if record.failures.len() > self.rules.kept() {
            record.failures.pop_front();
        }
        record.last = record.last.max(now);
        let count = u32::try_from(record.failures.len()).unwrap_or(u32::MAX);
        let until = later(now, self.rules.wait_after(count));
        record.until = record.until.max(until);
    }

    fn prune(&mut self, now: Instant) {
        let forget_after = self.rules.forget_after;
        self.records.retain(|_, record| {
            record.forget(now, forget_after);
            !record.failures.is_empty() || record.until > now
        });
    }
}

impl Record {
    fn new(now: Instant) -> Self {
        Self {
            failures: VecDeque::new(),
            until: now,
            last: now,
        }
    }

    /// Drops the failures that no longer count.
    fn forget(&mut self, now: Instant, forget_after: Duration) {
        while let Some(&first) = self.failures.front() {
            if now.saturating_duration_since(first) < forget_after {
                break;
            }
            self.failures.pop_front();
        }
    }
}

/// `now + span`, with `span` already at most [`MAX_SPAN`]; on a platform whose clock cannot
/// reach that far, as far as it can go in whole halvings.
fn later(now: Instant, span: Duration) -> Instant {
    let mut span = span;
    loop {
        if let Some(at) = now.checked_add(span) {
            return at;
        }
        span /= 2;
    }
}

/// Once a map is full even after pruning, forgets its least recently active entries until it
/// holds nine tenths of [`MAX_KEYS`]. Ties are broken arbitrarily.
fn forget_least_recent<K, V>(map: &mut HashMap<K, V>, active: impl Fn(&V) -> Instant) {
    if map.len() < MAX_KEYS {
        return;
    }
    let excess = map.len() - MAX_KEYS / 10 * 9;
    let mut times: Vec<Instant> = map.values().map(&active).collect();
    let (_, &mut cutoff, _) = times.select_nth_unstable(excess - 1);
    let older = times.iter().filter(|&&t| t < cutoff).count();
    let mut tied_to_drop = excess - older;
    map.retain(|_, value| {
        let t = active(value);
        if t < cutoff {
            false
        } else if t == cutoff && tied_to_drop > 0 {
            tied_to_drop -= 1;
            false
        } else {
            true
        }
    });
}

/// Requests per key in fixed windows; see the module docs for why fixed windows.
pub struct RateLimiter {
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    start: Instant,
    used: u32,
}

/// The outcome of one request, with what the `RateLimit-*` headers report.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Requests per window.
    pub limit: u32,
    /// Left in the current window after this request.
    pub remaining: u32,
    /// Until the window resets.
    pub reset: Duration,
}

impl RateLimiter {
    /// A limiter whose windows last `window` (at most a century).
    pub fn new(window: Duration) -> Self {
        Self {
            window: window.min(MAX_SPAN),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key` allowed up to `limit` per window. A refused request is not
    /// counted.
    pub fn hit(&self, key: &str, limit: u32, now: Instant) -> RateDecision {
        let mut windows = self.lock();
        if !windows.contains_key(key) && windows.len() >= MAX_KEYS {
            self.prune_locked(&mut windows, now);
            forget_least_recent(&mut windows, |w| w.start);
        }
        let window = match windows.get_mut(key) {
            Some(window) => window,
            None => windows.entry(key.to_owned()).or_insert(Window {
                start: now,
                used: 0,
            }),
        };
        let mut ends = later(window.start, self.window);
        if now >= ends {
            *window = Window {
                start: now,
                used: 0,
            };
            ends = later(now, self.window);
        }
        let allowed = window.used < limit;
        if allowed {
            window.used += 1;
        }
        RateDecision {
            allowed,
            limit,
            // The limit may have dropped since earlier requests in this window were counted.
            remaining: limit.saturating_sub(window.used),
            reset: ends.saturating_duration_since(now).min(self.window),
        }
    }

    /// Drops windows that have ended; call now and then so memory shrinks.
    pub fn prune(&self, now: Instant) {
        let mut windows = self.lock();
        self.prune_locked(&mut windows, now);
    }

    fn prune_locked(&self, windows: &mut HashMap<String, Window>, now: Instant) {
        windows.retain(|_, w| now < later(w.start, self.window));
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Window>> {
        // Every update is a single assignment, so a panic elsewhere cannot poison the map.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RateDecision {
    /// Header name/value pairs: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (in
    /// whole seconds, rounded up), and `Retry-After` (the same seconds) when not allowed.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let reset = whole_seconds_up(self.reset).to_string();
        let mut headers = vec![
            ("RateLimit-Limit", self.limit.to_string()),
            ("RateLimit-Remaining", self.remaining.to_string()),
            ("RateLimit-Reset", reset.clone()),
        ];
        if !self.allowed {
            headers.push(("Retry-After", reset));
        }
        headers
    }
}

/// Rounded up, so a client that waits this long finds the window reset.
fn whole_seconds_up(span: Duration) -> u64 {
    span.as_secs() + u64::from(span.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const SECOND: Duration = Duration::from_secs(1);
    const MINUTE: Duration = Duration::from_secs(60);

    /// A hand-driven clock: a fixed origin plus however far the test has moved it.
    struct Clock {
        origin: Instant,
        elapsed: Duration,
    }

    impl Clock {
        fn new() -> Self {
            Self {
                origin: Instant::now(),
                elapsed: Duration::ZERO,
            }
        }

        fn now(&self) -> Instant {
            self.origin + self.elapsed
        }

        fn advance(&mut self, by: Duration) {
            self.elapsed += by;
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid address")
    }

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottlePolicy::default())
    }

    /// Fails like a patient attacker: waits out each verdict, then fails again. Returns the
    /// verdict right after each failure.
    fn fail_patiently(
        throttle: &LoginThrottle,
        clock: &mut Clock,
        accounts: impl IntoIterator<Item = String>,
        address: IpAddr,
    ) -> Vec<Verdict> {
        accounts
            .into_iter()
            .map(|account| {
                if let Verdict::Wait(wait) = throttle.check(&account, address, clock.now()) {
                    clock.advance(wait);
                }
                assert_eq!(
                    throttle.check(&account, address, clock.now()),
                    Verdict::Allowed
                );
                throttle.failed(&account, address, clock.now());
                throttle.check(&account, address, clock.now())
            })
            .collect()
    }

    fn same_account(n: usize) -> impl Iterator<Item = String> {
        std::iter::repeat_n("ann@example.com".to_owned(), n)
    }

    fn distinct_accounts(n: usize) -> impl Iterator<Item = String> {
        (0..n).map(|i| format!("user{i}@example.com"))
    }

    #[test]
    fn delays_start_after_the_free_failures_then_double_up_to_the_cap() {
        let throttle = LoginThrottle::new(ThrottlePolicy {
            lockout_after: 20,
            ..ThrottlePolicy::default()
        });
        let mut clock = Clock::new();
        let verdicts = fail_patiently(&throttle, &mut clock, same_account(11), ip("192.0.2.1"));
        let expected: Vec<Verdict> = [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
            .into_iter()
            .map(|s| match s {
                0 => Verdict::Allowed,
                s => Verdict::Wait(Duration::from_secs(s)),
            })
            .collect();
        assert_eq!(verdicts, expected);
    }

    #[test]
    fn a_wait_counts_down_and_then_lifts() {
        let throttle = throttle();
        let mut clock = Clock::new();
        let address = ip("192.0.2.1");
        fail_patiently(&throttle, &mut clock, same_account(5), address);
        let account = "ann@example.com";
        clock.advance(Duration::from_millis(1500));
        assert_eq!(
            throttle.check(account, address, clock.now()),
            Verdict::Wait(Duration::from_millis(500))
        );
        clock.advance(Duration::from_millis(500));
        assert_eq!(
            throttle.check(account, address, clock.now()),
            Verdict::Allowed
        );
    }

    #[test]
    fn lockout_after_n_failures_lasts_its_length_then_lifts() {
        let throttle = throttle();
        let mut clock = Clock::new();
        let (account, address) = ("ann@example.com", ip("192.0.2.1"));
        let verdicts = fail_patiently(&throttle, &mut clock, same_account(10), address);
        assert_eq!(verdicts.last(), Some(&Verdict::Wait(15 * MINUTE)));

        clock.advance(15 * MINUTE - SECOND);
        assert_eq!(
            throttle.check(account, address, clock.now()),
            Verdict::Wait(SECOND)
        );
        // From any other address too: the account itself is locked.
        assert_eq!(
            throttle.check(account, ip("198.51.100.7"), clock.now()),
            Verdict::Wait(SECOND)
        );
        clock.advance(SECOND);
        assert_eq!(
            throttle.check(account, address, clock.now()),
            Verdict::Allowed
        );

        // The failures still count, so the next one locks again at once.
        throttle.failed(account, address, clock.now());
        assert_eq!(
            throttle.check(account, address, clock.now()),
            Verdict::Wait(15 * MINUTE)
        );
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let throttle = throttle();
        let mut clock = Clock::new();
        let address = ip("192.0.2.1");
        fail_patiently(&throttle, &mut clock, same_account(5), address);
        throttle.succeeded("ann@example.com", clock.now());
        assert_eq!(
            throttle.check("ann@example.com", address, clock.now()),
            Verdict::Allowed
        );
        // 3 more failures would delay the account again had its 5 been kept.
        let again = fail_patiently(&throttle, &mut clock, same_account(3), address);
        assert!(again.iter().all(|v| *v == Verdict::Allowed), "{again:?}");

        // The address has 8 failures; its free allowance is 15, so the 16th failure delays.
        let others = fail_patiently(&throttle, &mut clock, distinct_accounts(8), address);
        assert_eq!(&others[..7], &[Verdict::Allowed; 7]);
        assert_eq!(others[7], Verdict::Wait(SECOND));
    }

    #[test]
    fn unknown_and_known_accounts_get_identical_verdicts() {
        let verdicts = |account: &str| {
            let throttle = throttle();
            let mut clock = Clock::new();
            let address = ip("192.0.2.1");
            let mut seen = vec![throttle.check(account, address, clock.now())];
            for step in 0..12 {
                throttle.failed(account, address, clock.now());
                seen.push(throttle.check(account, address, clock.now()));
                clock.advance(Duration::from_secs(step * 7));
                seen.push(throttle.check(account, address, clock.now()));
            }
            throttle.succeeded(account, clock.now());
            seen.push(throttle.check(account, address, clock.now()));
            seen
        };
        let known = verdicts("ann@example.com");
        assert!(known.iter().any(|v| matches!(v, Verdict::Wait(_))));
        assert_eq!(known, verdicts("no-such-user@example.com"));
    }

    #[test]
    fn checking_records_nothing() {
        let throttle = throttle();
        let now = Instant::now();
        for i in 0..100 {
            assert_eq!(
                throttle.check(&format!("user{i}@example.com"), ip("192.0.2.1"), now),
                Verdict::Allowed
            );
        }
        let state = throttle.lock();
        assert!(state.accounts.records.is_empty());
        assert!(state.addresses.records.is_empty());
    }

    #[test]
    fn one_address_trying_many_accounts_is_delayed_then_locked() {
        let throttle = throttle();
        let mut clock = Clock::new();
        let stuffer = ip("203.0.113.9");
        let verdicts = fail_patiently(&throttle, &mut clock, distinct_accounts(50), stuffer);
        assert_eq!(&verdicts[..15], &[Verdict::Allowed; 15]);
        assert_eq!(verdicts[15], Verdict::Wait(SECOND));
        assert_eq!(verdicts[16], Verdict::Wait(2 * SECOND));
        assert_eq!(verdicts[48], Verdict::Wait(MINUTE));
        assert_eq!(verdicts[49], Verdict::Wait(15 * MINUTE));

        // A fresh account from that address waits; the same account elsewhere does not.
        let fresh = "fresh@example.com";
        assert_eq!(
            throttle.check(fresh, stuffer, clock.now()),
            Verdict::Wait(15 * MINUTE)
        );
        assert_eq!(
            throttle.check(fresh, ip("203.0.113.10"), clock.now()),
            Verdict::Allowed
        );
    }

    #[test]
    fn ipv6_addresses_in_one_64_share_a_count() {
        let throttle = throttle();
        let mut clock = Clock::new();
        for (i, account) in distinct_accounts(16).enumerate() {
            let address = ip(&format!("2001:db8:1:2:{i:x}::1"));
            throttle.failed(&account, address, clock.now());
            clock.advance(MINUTE);
        }
        let now = clock.now() - MINUTE;
        let fresh = "fresh@example.com";
        assert_eq!(
            throttle.check(fresh, ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), now),
            Verdict::Wait(SECOND)
        );
        assert_eq!(
            throttle.check(fresh, ip("2001:db8:1:3::1"), now),
            Verdict::Allowed
        );
    }

    #[test]
    fn address_keys() {
        let key = |text| address_key(ip(text));
        assert_eq!(key("2001:db8::1"), key("2001:db8::ffff:1"));
        assert_ne!(key("2001:db8::1"), key("2001:db8:0:1::1"));
        assert_ne!(key("192.0.2.1"), key("192.0.2.2"));
        // A dual-stack socket's IPv4 clients are separate, and the same as over IPv4.
        assert_ne!(key("::ffff:192.0.2.1"), key("::ffff:192.0.2.2"));
        assert_eq!(key("::ffff:192.0.2.1"), key("192.0.2.1"));
    }

    #[test]
    fn failures_older_than_forget_after_no_longer_count() {
        let throttle = throttle();
        let mut clock = Clock::new();
        let (kept, forgotten) = ("kept@example.com", "forgotten@example.com");
        let address = ip("192.0.2.1");
        for account in [kept, forgotten] {
            for _ in 0..3 {
                throttle.failed(account, address, clock.now());
            }
        }
        clock.advance(59 * MINUTE);
        throttle.failed(kept, address, clock.now());
        assert_eq!(
            throttle.check(kept, address, clock.now()),
            Verdict::Wait(SECOND)
        );
        clock.advance(MINUTE);
        throttle.failed(forgotten, address, clock.now());
        assert_eq!(
            throttle.check(forgotten, address, clock.now()),
            Verdict::Allowed
        );
    }

    #[test]
    fn prune_drops_only_what_has_nothing_left_to_remember() {
        let throttle = throttle();
        let mut clock = Clock::new();
        let address = ip("192.0.2.1");
        let verdicts = fail_patiently(&throttle, &mut clock, same_account(10), address);
        assert_eq!(verdicts.last(), Some(&Verdict::Wait(15 * MINUTE)));
        throttle.failed("once@example.com", ip("192.0.2.2"), clock.now());

        // An hour on, those failures are forgotten and the lockout is over; a fresh one stays.
        clock.advance(60 * MINUTE);
        throttle.failed("fresh@example.com", ip("192.0.2.3"), clock.now());
        throttle.prune(clock.now());
        let state = throttle.lock();
        let accounts: Vec<&String> = state.accounts.records.keys().collect();
        assert_eq!(accounts, ["fresh@example.com"]);
        let addresses: Vec<&IpAddr> = state.addresses.records.keys().collect();
        assert_eq!(addresses, [&ip("192.0.2.3")]);
    }

    #[test]
    fn prune_keeps_a_lockout_longer_than_forget_after() {
        let throttle = LoginThrottle::new(ThrottlePolicy {
            lockout_after: 1,
            lockout: 2 * 60 * MINUTE,
            ..ThrottlePolicy::default()
        });
        let mut clock = Clock::new();
        let (account, address) = ("ann@example.com", ip("192.0.2.1"));
        throttle.failed(account, address, clock.now());
        clock.advance(90 * MINUTE);
        throttle.prune(clock.now());
        assert_eq!(
            throttle.check(account, address, clock.now()),
            Verdict::Wait(30 * MINUTE)
        );
    }

    #[test]
    fn a_failure_during_a_wait_never_shortens_it() {
        let throttle = LoginThrottle::new(ThrottlePolicy {
            lockout_after: 3,
            lockout: 2 * 60 * MINUTE,
            ..ThrottlePolicy::default()
        });
        let mut clock = Clock::new();
        let (account, address) = ("ann@example.com", ip("192.0.2.1"));
        for _ in 0..3 {
            throttle.failed(account, address, clock.now());
        }
        // A racing request that was let through before the lockout fails after the first three
        // are forgotten: alone it would cost nothing, but the lockout stands.
        clock.advance(61 * MINUTE);
        throttle.failed(account, address, clock.now());
        assert_eq!(
            throttle.check(account, address, clock.now()),
            Verdict::Wait(59 * MINUTE)
        );
    }

    #[test]
    fn flooding_distinct_keys_keeps_memory_bounded_and_recent_keys_tracked() {
        let throttle = LoginThrottle::new(ThrottlePolicy {
            free_failures: 0,
            ..ThrottlePolicy::default()
        });
        let mut clock = Clock::new();
        let flood = u32::try_from(MAX_KEYS + MAX_KEYS / 2).expect("fits");
        for i in 0..flood {
            let address = IpAddr::V4(Ipv4Addr::from_bits(0x0a00_0000 + i));
            throttle.failed(&format!("user{i}@example.com"), address, clock.now());
            clock.advance(Duration::from_micros(1));
            let state = throttle.lock();
            assert!(state.accounts.records.len() <= MAX_KEYS);
            assert!(state.addresses.records.len() <= MAX_KEYS);
        }
        let last = flood - 1;
        let now = clock.now();
        let (newest, oldest) = (format!("user{last}@example.com"), "user0@example.com");
        assert!(matches!(
            throttle.check(&newest, ip("192.0.2.1"), now),
            Verdict::Wait(_)
        ));
        assert!(matches!(
            throttle.check(
                "x@example.com",
                IpAddr::V4(Ipv4Addr::from_bits(0x0a00_0000 + last)),
                now
            ),
            Verdict::Wait(_)
        ));
        assert_eq!(
            throttle.check(oldest, IpAddr::V4(Ipv4Addr::from_bits(0x0a00_0000)), now),
            Verdict::Allowed
        );
    }

    #[test]
    fn the_throttle_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<LoginThrottle>();
        shareable::<RateLimiter>();
    }

    #[test]
    fn rate_limiter_counts_and_refuses_past_the_limit() {
        let limiter = RateLimiter::new(MINUTE);
        let mut clock = Clock::new();
        let remaining: Vec<(bool, u32)> = (0..3)
            .map(|_| {
                let d = limiter.hit("token-a", 3, clock.now());
                (d.allowed, d.remaining)
            })
            .collect();
        assert_eq!(remaining, [(true, 2), (true, 1), (true, 0)]);

        clock.advance(Duration::from_millis(20_500));
        let refused = limiter.hit("token-a", 3, clock.now());
        assert_eq!(
            refused,
            RateDecision {
                allowed: false,
                limit: 3,
                remaining: 0,
                reset: Duration::from_millis(39_500),
            }
        );
        assert_eq!(
            refused.headers(),
            [
                ("RateLimit-Limit", "3".to_owned()),
                ("RateLimit-Remaining", "0".to_owned()),
                ("RateLimit-Reset", "40".to_owned()),
                ("Retry-After", "40".to_owned()),
            ]
        );
        // Other keys have their own windows.
        assert!(limiter.hit("token-b", 3, clock.now()).allowed);
    }

    #[test]
    fn rate_limiter_resets_at_the_window_boundary() {
        let limiter = RateLimiter::new(MINUTE);
        let mut clock = Clock::new();
        for _ in 0..2 {
            assert!(limiter.hit("token", 2, clock.now()).allowed);
        }
        clock.advance(MINUTE - Duration::from_millis(1));
        let last_moment = limiter.hit("token", 2, clock.now());
        assert!(!last_moment.allowed);
        assert_eq!(last_moment.reset, Duration::from_millis(1));

        clock.advance(Duration::from_millis(1));
        let fresh = limiter.hit("token", 2, clock.now());
        assert_eq!(
            fresh,
            RateDecision {
                allowed: true,
                limit: 2,
                remaining: 1,
                reset: MINUTE,
            }
        );
        assert_eq!(
            fresh.headers(),
            [
                ("RateLimit-Limit", "2".to_owned()),
                ("RateLimit-Remaining", "1".to_owned()),
                ("RateLimit-Reset", "60".to_owned()),
            ]
        );
    }

    #[test]
    fn rate_limiter_prune_drops_ended_windows() {
        let limiter = RateLimiter::new(MINUTE);
        let mut clock = Clock::new();
        let _ = limiter.hit("old", 5, clock.now());
        clock.advance(30 * SECOND);
        let _ = limiter.hit("new", 5, clock.now());
        clock.advance(30 * SECOND);
        limiter.prune(clock.now());
        let windows = limiter.lock();
        assert!(!windows.contains_key("old"));
        assert!(windows.contains_key("new"));
    }

    #[test]
    fn rate_limiter_memory_stays_bounded_under_a_flood_of_keys() {
        let limiter = RateLimiter::new(MINUTE);
        let mut clock = Clock::new();
        let flood = MAX_KEYS + MAX_KEYS / 2;
        for i in 0..flood {
            let _ = limiter.hit(&format!("token-{i}"), 1, clock.now());
            clock.advance(Duration::from_micros(1));
            assert!(limiter.lock().len() <= MAX_KEYS);
        }
        let newest = format!("token-{}", flood - 1);
        assert!(!limiter.hit(&newest, 1, clock.now()).allowed);
        assert!(limiter.hit("token-0", 1, clock.now()).allowed);
    }

    #[test]
    fn reset_seconds_round_up() {
        assert_eq!(whole_seconds_up(Duration::ZERO), 0);
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(SECOND), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(1001)), 2);
    }
}
