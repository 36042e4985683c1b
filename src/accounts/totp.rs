//! Two-factor login: time-based one-time codes (RFC 6238 TOTP) and one-time recovery codes.
//!
//! Codes are the common authenticator-app flavour: HMAC-SHA-1, 6 digits, 30-second steps. A
//! secret travels to the user's app as base32 inside an `otpauth://` URI (usually shown as a QR
//! code), and `verify` accepts one step of clock drift either way. It returns the step it
//! matched so the caller can store it and refuse that step, or any earlier one, next time: that
//! is what stops a code being replayed, so the caller must keep `last_used_step` per user.
//!
//! Recovery codes are shown to the user once and stored only as `hash_recovery_code` digests;
//! they are random enough (about 59 bits) that a plain SHA-256 is fine, unlike passwords.
//!
//! This module is pure computation: it knows nothing of users, storage, HTTP or the clock (the
//! caller passes the time in), which keeps it deterministic under test.

use std::fmt;

use hmac::{Hmac, Mac};
use rand::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Length of one time step in seconds.
const STEP_SECONDS: u64 = 30;
/// Digits in a code.
const DIGITS: usize = 6;
/// `10^DIGITS`, the modulus that cuts the truncated HMAC down to `DIGITS` digits.
const MODULUS: u32 = 1_000_000;
/// The RFC 4648 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// Recovery-code characters: lowercase letters and digits without the look-alikes 0/o, 1/l/i.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// How many recovery codes a user gets at a time.
const RECOVERY_CODE_COUNT: usize = 10;
/// Groups of characters in a recovery code, and characters per group.
const RECOVERY_GROUPS: usize = 3;
const RECOVERY_GROUP_LEN: usize = 4;

/// A TOTP secret: 20 random bytes.
///
/// `Debug` does not print the bytes, so a secret cannot leak through a log line.
#[derive(Clone)]
pub struct TotpSecret(pub [u8; 20]);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh secret from the thread-local cryptographic random generator.
    pub fn generate() -> TotpSecret {
        let mut bytes = [0u8; 20];
        rand::rng().fill(&mut bytes);
        TotpSecret(bytes)
    }

    /// Reads a secret written in base32 (RFC 4648, no padding); case and spaces do not matter.
    /// Returns `None` for anything that is not exactly 20 bytes of valid base32.
    pub fn from_base32(s: &str) -> Option<TotpSecret> {
        let bytes = base32_decode(s)?;
        Some(TotpSecret(bytes.try_into().ok()?))
    }

    /// The secret as upper-case base32 without padding, as authenticator apps expect.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// The `otpauth://` URI that authenticator apps read from a QR code:
    /// `otpauth://totp/{issuer}:{account}?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            account = percent_encode(account),
            secret = self.to_base32(),
        )
    }

    /// The code for the 30-second step containing `unix_seconds`, zero-padded to 6 digits.
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.code_for_step(unix_seconds / STEP_SECONDS)
    }

    /// Checks `code` against the step containing `unix_seconds` and one step either side (for
    /// clock drift), and returns the step it matches, but only if that step is later than
    /// `last_used_step`, so a code cannot be used twice. Whitespace in `code` is ignored;
    /// anything other than 6 ASCII digits is never accepted.
    pub fn verify(
        &self,
        code: &str,
        unix_seconds: u64,
        last_used_step: Option<u64>,
    ) -> Option<u64> {
        let code = normalise_code(code)?;
        let current = unix_seconds / STEP_SECONDS;
        let candidates = [
            current.checked_sub(1),
            Some(current),
            current.checked_add(1),
        ];
        candidates
            .into_iter()
            .flatten()
            .filter(|&step| last_used_step.is_none_or(|last| step > last))
            .find(|&step| constant_time_eq(self.code_for_step(step).as_bytes(), code.as_bytes()))
    }

    /// The RFC 4226 HOTP value for `step`, as a zero-padded decimal string.
    fn code_for_step(&self, step: u64) -> String {
        format!("{:0width$}", hotp(&self.0, step), width = DIGITS)
    }
}

/// RFC 4226 HOTP: HMAC-SHA-1 over the big-endian counter, then dynamic truncation.
fn hotp(key: &[u8], counter: u64) -> u32 {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key)
        .expect("HMAC takes keys of any length, so this cannot fail");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // The low nibble of the last byte picks where to read 31 bits from (RFC 4226 §5.3).
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let word = [
        digest[offset],
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ];
    (u32::from_be_bytes(word) & 0x7fff_ffff) % MODULUS
}

/// `code` without whitespace, if what remains is exactly `DIGITS` ASCII digits.
fn normalise_code(code: &str) -> Option<String> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let valid = code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(code)
}

/// Compares two byte strings without stopping at the first difference, so the time taken does
/// not tell an attacker how many leading digits were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// RFC 4648 base32, upper-case, without padding.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(base32_char(buffer >> bits));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(base32_char(buffer << (5 - bits)));
    }
    out
}

/// The alphabet character for the low five bits of `index`.
fn base32_char(index: u32) -> char {
    char::from(BASE32_ALPHABET[(index & 0x1f) as usize])
}

/// Decodes RFC 4648 base32 without padding, ignoring case and spaces. Rejects characters
/// outside the alphabet, impossible lengths and non-zero leftover bits, so every accepted
/// string is the canonical encoding of its bytes (apart from case and spacing).
fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for c in s.chars().filter(|&c| c != ' ') {
        buffer = (buffer << 5) | base32_value(c)?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // Five or more leftover bits means a whole character encoded nothing (lengths 1, 3, 6 mod 8).
    let canonical = bits < 5 && buffer == 0;
    canonical.then_some(out)
}

/// The five-bit value of a base32 character, either case.
fn base32_value(c: char) -> Option<u32> {
    match c.to_ascii_uppercase() {
        c @ 'A'..='Z' => Some(c as u32 - 'A' as u32),
        c @ '2'..='7' => Some(c as u32 - '2' as u32 + 26),
        _ => None,
    }
}

/// Percent-encodes every byte of `s` except the RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// Ten distinct recovery codes like `k7qm-3xwp-9dtr`: three dash-separated groups of four
/// lowercase letters and digits, leaving out the look-alikes 0, o, 1, l and i.
pub fn generate_recovery_codes() -> Vec<String> {
    let mut rng = rand::rng();
    let mut codes = Vec::with_capacity(RECOVERY_CODE_COUNT);
    // A repeat is vanishingly unlikely (31^12 possibilities), but ten must mean ten usable codes.
    while codes.len() < RECOVERY_CODE_COUNT {
        let code = recovery_code(&mut rng);
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// One random recovery code.
fn recovery_code(rng: &mut impl Rng) -> String {
    let groups: Vec<String> = (0..RECOVERY_GROUPS)
        .map(|_| {
            (0..RECOVERY_GROUP_LEN)
                .map(|_| {
                    char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())])
                })
                .collect()
        })
        .collect();
    groups.join("-")
}

/// The stored form of a recovery code: lower-case hex SHA-256 of the code lowercased with
/// whitespace and dashes removed, so however the user types it, it hashes the same.
pub fn hash_recovery_code(code: &str) -> String {
    let normalised: String = code
        .chars()
        .filter(|&c| c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    let digest = Sha256::digest(normalised.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 6238 Appendix B SHA-1 secret.
    fn rfc_secret() -> TotpSecret {
        TotpSecret(*b"12345678901234567890")
    }

    #[test]
    fn codes_match_rfc_6238_sha1_vectors() {
        let secret = rfc_secret();
        // The RFC's codes are 8 digits; ours are their last 6.
        let vectors = [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ];
        for (time, expected) in vectors {
            assert_eq!(secret.code_at(time), expected, "at time {time}");
        }
    }

    #[test]
    fn code_is_constant_within_a_step() {
        let secret = rfc_secret();
        assert_eq!(secret.code_at(30), secret.code_at(59));
        assert_ne!(secret.code_at(59), secret.code_at(60));
    }

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
    }

    #[test]
    fn base32_decode_ignores_case_and_spaces() {
        assert_eq!(
            base32_decode("mzxw 6ytb oi").as_deref(),
            Some(&b"foobar"[..])
        );
    }

    #[test]
    fn base32_decode_rejects_bad_input() {
        assert_eq!(
            base32_decode("MZXW6YTBO1"),
            None,
            "1 is not in the alphabet"
        );
        assert_eq!(
            base32_decode("MZXW6YTBOI======"),
            None,
            "padding is not accepted"
        );
        assert_eq!(
            base32_decode("M"),
            None,
            "one character cannot encode a byte"
        );
        assert_eq!(base32_decode("MZ"), None, "leftover bits must be zero");
    }

    #[test]
    fn secret_round_trips_through_base32() {
        let secret = TotpSecret::generate();
        let encoded = secret.to_base32();
        assert_eq!(encoded.len(), 32);
        assert_eq!(encoded, encoded.to_uppercase());
        let decoded = TotpSecret::from_base32(&encoded.to_lowercase()).map(|s| s.0);
        assert_eq!(decoded, Some(secret.0));
    }

    #[test]
    fn from_base32_reads_grouped_secrets() {
        let encoded = rfc_secret().to_base32();
        let grouped: Vec<&str> = (0..encoded.len())
            .step_by(4)
            .map(|i| &encoded[i..i + 4])
            .collect();
        let decoded = TotpSecret::from_base32(&grouped.join(" ")).map(|s| s.0);
        assert_eq!(decoded, Some(rfc_secret().0));
    }

    #[test]
    fn from_base32_rejects_wrong_length() {
        assert!(TotpSecret::from_base32("MZXW6YTBOI").is_none());
        assert!(TotpSecret::from_base32("").is_none());
    }

    #[test]
    fn generated_secrets_differ() {
        assert_ne!(TotpSecret::generate().0, TotpSecret::generate().0);
    }

    #[test]
    fn debug_does_not_show_the_secret() {
        let secret = rfc_secret();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("49"), "{shown}");
        assert!(!shown.contains(&secret.to_base32()), "{shown}");
    }

    const NOW: u64 = 1_111_111_111;

    fn step(time: u64) -> u64 {
        time / STEP_SECONDS
    }

    #[test]
    fn verify_accepts_the_current_step() {
        let secret = rfc_secret();
        assert_eq!(secret.verify("050471", NOW, None), Some(step(NOW)));
    }

    #[test]
    fn verify_accepts_one_step_of_drift_either_way() {
        let secret = rfc_secret();
        let previous = secret.code_at(NOW - STEP_SECONDS);
        let next = secret.code_at(NOW + STEP_SECONDS);
        assert_eq!(secret.verify(&previous, NOW, None), Some(step(NOW) - 1));
        assert_eq!(secret.verify(&next, NOW, None), Some(step(NOW) + 1));
    }

    #[test]
    fn verify_rejects_codes_two_steps_away() {
        let secret = rfc_secret();
        let before = secret.code_at(NOW - 2 * STEP_SECONDS);
        let after = secret.code_at(NOW + 2 * STEP_SECONDS);
        assert_eq!(secret.verify(&before, NOW, None), None);
        assert_eq!(secret.verify(&after, NOW, None), None);
    }

    #[test]
    fn verify_rejects_a_replayed_step() {
        let secret = rfc_secret();
        let code = secret.code_at(NOW);
        let used = secret.verify(&code, NOW, None);
        assert_eq!(used, Some(step(NOW)));
        assert_eq!(secret.verify(&code, NOW, used), None);
    }

    #[test]
    fn verify_rejects_a_step_before_the_last_used() {
        let secret = rfc_secret();
        let previous = secret.code_at(NOW - STEP_SECONDS);
        assert_eq!(secret.verify(&previous, NOW, Some(step(NOW))), None);
    }

    #[test]
    fn verify_accepts_a_step_after_the_last_used() {
        let secret = rfc_secret();
        let next = secret.code_at(NOW + STEP_SECONDS);
        assert_eq!(
            secret.verify(&next, NOW, Some(step(NOW))),
            Some(step(NOW) + 1)
        );
    }

    #[test]
    fn verify_ignores_whitespace() {
        let secret = rfc_secret();
        assert_eq!(secret.verify(" 050 471\n", NOW, None), Some(step(NOW)));
    }

    #[test]
    fn verify_rejects_anything_but_six_digits() {
        let secret = rfc_secret();
        for code in [
            "",
            "05047",
            "0504710",
            "05047a",
            "O50471",
            "-50471",
            "05-471",
            "٠٥٠٤٧١",
        ] {
            assert_eq!(secret.verify(code, NOW, None), None, "{code:?}");
        }
        // The RFC's full 8-digit code for this time ends in the right 6, but is still refused.
        assert_eq!(secret.verify("14050471", NOW, None), None);
    }

    #[test]
    fn verify_handles_the_first_step() {
        let secret = rfc_secret();
        assert_eq!(secret.verify(&secret.code_at(0), 0, None), Some(0));
        assert_eq!(secret.verify(&secret.code_at(30), 0, None), Some(1));
    }

    #[test]
    fn otpauth_uri_has_the_expected_shape() {
        let secret = rfc_secret();
        let uri = secret.otpauth_uri("Folio CMS", "ana+2fa@example.com");
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/Folio%20CMS:ana%2B2fa%40example.com?secret={}\
                 &issuer=Folio%20CMS&algorithm=SHA1&digits=6&period=30",
                secret.to_base32()
            )
        );
    }

    #[test]
    fn percent_encode_keeps_unreserved_and_encodes_utf8() {
        assert_eq!(percent_encode("aZ09-._~"), "aZ09-._~");
        assert_eq!(percent_encode("a:b/c?&="), "a%3Ab%2Fc%3F%26%3D");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn recovery_codes_are_ten_distinct_codes_of_the_right_shape() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 3, "{code}");
            for group in groups {
                assert_eq!(group.len(), 4, "{code}");
                assert!(
                    group.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)),
                    "{code}"
                );
            }
            assert!(!code.contains(['0', 'o', '1', 'l', 'i']), "{code}");
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
    }

    #[test]
    fn recovery_alphabet_has_no_look_alikes() {
        assert_eq!(RECOVERY_ALPHABET.len(), 31);
        for look_alike in b"0o1li" {
            assert!(!RECOVERY_ALPHABET.contains(look_alike));
        }
    }

    #[test]
    fn recovery_hash_ignores_case_spaces_and_dashes() {
        let stored = hash_recovery_code("k7qm-3xwp-9dtr");
        assert_eq!(hash_recovery_code("K7QM 3XWP-9DTR"), stored);
        assert_eq!(hash_recovery_code("k7qm3xwp9dtr"), stored);
        assert_ne!(hash_recovery_code("k7qm-3xwp-9dts"), stored);
    }

    #[test]
    fn recovery_hash_is_hex_sha256_of_the_normalised_code() {
        // sha256("abc") from FIPS 180-2.
        assert_eq!(
            hash_recovery_code("A-B C"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
