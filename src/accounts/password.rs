//! Passwords: argon2id hashes with OWASP's recommended parameters, computed off the async
//! runtime, and the rules a new password must meet.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};
use crate::schema::{FieldError, field_code};

/// OWASP's first recommended argon2id configuration: 19 MiB of memory, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 10;
/// Longest password accepted (hashing cost does not depend on it, but bodies should stay small).
pub const MAX_LENGTH: usize = 256;

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's bounds.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` on a blocking thread.
pub async fn hash(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| Error::internal(format!("hashing task: {e}")))?
}

/// What checking a password found.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    Wrong,
    Right,
    /// Right, but hashed with other parameters than today's: the caller stores a new hash.
    RightButOutdated,
}

/// Checks `password` against `stored` on a blocking thread. A `stored` of `None` (an unknown
/// account) is checked against a fixed hash of the same cost, so both take as long.
pub async fn verify(password: String, stored: Option<String>) -> Result<Checked> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            // An unreadable hash still costs a full verification.
            let _ = hasher().verify_password(password.as_bytes(), &dummy());
            return Ok(Checked::Wrong);
        };
        // argon2 compares the digests in constant time.
        let right = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(match (right && known, outdated(&parsed)) {
            (false, _) => Checked::Wrong,
            (true, false) => Checked::Right,
            (true, true) => Checked::RightButOutdated,
        })
    })
    .await
    .map_err(|e| Error::internal(format!("verification task: {e}")))?
}

/// A hash of a random password with today's parameters, for unknown accounts.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Wl6f0lLrJtbJ0eH7a3Xb3m5Y7O9tXk0vUo2pGZt1l0Q";

fn dummy() -> PasswordHash<'static> {
    // A constant in the PHC format; parsing cannot fail.
    PasswordHash::new(DUMMY_HASH).unwrap_or_else(|_| unreachable!("the dummy hash parses"))
}

fn outdated(hash: &PasswordHash<'_>) -> bool {
    let param = |name: &str| hash.params.get_decimal(name);
    hash.algorithm.as_str() != "argon2id"
        || hash.version != Some(Version::V0x13.into())
        || param("m") != Some(MEMORY_KIB)
        || param("t") != Some(PASSES)
        || param("p") != Some(LANES)
}

/// Checks a new password against the rules; `email` is the account's, which the password must
/// not contain.
pub fn check_new(password: &str, email: &str) -> Result<()> {
    let fail = |code: &'static str, message: String| {
        Err(Error::Validation(vec![FieldError {
            path: "password".into(),
            code,
            message,
        }]))
    };
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return fail(
            field_code::TOO_SHORT,
            format!("a password needs at least {MIN_LENGTH} characters"),
        );
    }
    if chars > MAX_LENGTH {
        return fail(
            field_code::TOO_LONG,
            format!("a password may have at most {MAX_LENGTH} characters"),
        );
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if is_common(&lower) || (local.len() >= 4 && lower.contains(&local)) {
        return fail(
            field_code::TOO_COMMON,
            "this password is too easy to guess: avoid common passwords, simple sequences and \
             your email address"
                .into(),
        );
    }
    Ok(())
}

/// Common passwords (of at least the minimum length) and the patterns they are made of.
fn is_common(lower: &str) -> bool {
    if COMMON.lines().any(|c| c.trim() == lower) {
        return true;
    }
    // One character repeated, or a run up or down the alphabet or the digits.
    let steps: Vec<i64> = lower
        .chars()
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0])))
        .collect();
    let same_step = |d: i64| !steps.is_empty() && steps.iter().all(|s| *s == d);
    let repeated = same_step(0);
    let run = same_step(1) || same_step(-1);
    // A common word or keyboard row followed by digits or punctuation only.
    let stem: String = lower
        .trim_end_matches(|c: char| !c.is_alphabetic())
        .to_owned();
    let stem_common = !stem.is_empty() && COMMON_STEMS.iter().any(|s| stem == *s);
    repeated || run || stem_common
}

/// Words that, followed by digits or symbols, make most of the common long passwords.
const COMMON_STEMS: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssword",
    "p@ssw0rd",
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdfghjkl",
    "zxcvbnm",
    "letmein",
    "welcome",
    "admin",
    "administrator",
    "iloveyou",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "master",
    "shadow",
    "superman",
    "batman",
    "trustno",
    "whatever",
    "starwars",
    "changeme",
    "secret",
    "login",
    "abc",
    "qazwsx",
    "1q2w3e4r",
    "1qaz2wsx",
    "zaq12wsx",
    "folio",
    "cms",
    "summer",
    "winter",
    "spring",
    "autumn",
    "hello",
    "freedom",
    "computer",
    "internet",
    "michael",
    "jennifer",
];

/// Common passwords of ten characters or more, one per line.
const COMMON: &str = "1234567890
0123456789
0987654321
12345678910
123456789a
1234567890a
a123456789
1q2w3e4r5t
1q2w3e4r5t6y
qwertyuiop
qwerty1234
qwerty12345
qwerty123456
1qaz2wsx3edc
zaq1zaq1zaq1
password1!
password12
password123
password1234
passw0rd123
iloveyou12
iloveyou123
football123
baseball123
princess123
sunshine123
welcome123
welcome1234
letmein123
admin12345
administrator
changeme123
superman123
starwars123
michael123
1111111111
0000000000
1212121212
1231231231
1234512345
1234554321
1122334455
9876543210
aaaaaaaaaa
abcdefghij
abcd123456
abc1234567
asdfghjkl1
asdfghjkl;
zxcvbnm123
qazwsxedc123
trustno1trustno1
whatever123
computer123
internet123
123qweasdzxc
1q2w3e4r5t6y7u
q1w2e3r4t5y6
qwe123qwe123
passwordpassword
";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_the_chosen_parameters() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify("correct horse battery".into(), Some(h.clone()))
                .await
                .unwrap(),
            Checked::Right
        );
        assert_eq!(
            verify("wrong horse battery".into(), Some(h)).await.unwrap(),
            Checked::Wrong
        );
    }

    #[tokio::test]
    async fn unknown_accounts_and_weaker_hashes() {
        assert_eq!(
            verify("anything at all".into(), None).await.unwrap(),
            Checked::Wrong
        );
        // A hash made with cheaper parameters is accepted once and flagged for an upgrade.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let old = weak
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            verify("correct horse battery".into(), Some(old))
                .await
                .unwrap(),
            Checked::RightButOutdated
        );
        assert_eq!(
            verify("x".into(), Some("not a hash".into())).await.unwrap(),
            Checked::Wrong
        );
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        let code = |p: &str| match check_new(p, "ada.lovelace@example.com") {
            Ok(()) => "ok",
            Err(Error::Validation(e)) => e[0].code,
            Err(_) => "other",
        };
        assert_eq!(code("short"), "too_short");
        assert_eq!(code(&"x".repeat(300)), "too_long");
        assert_eq!(code("1234567890"), "too_common");
        assert_eq!(code("Password123"), "too_common");
        assert_eq!(code("qwerty2024!"), "too_common");
        assert_eq!(code("abcdefghijk"), "too_common");
        assert_eq!(code("zzzzzzzzzzzz"), "too_common");
        assert_eq!(code("ada.lovelace-1815"), "too_common");
        assert_eq!(code("correct horse battery"), "ok");
        assert_eq!(code("Tr1cky-but-fine"), "ok");
    }
}
