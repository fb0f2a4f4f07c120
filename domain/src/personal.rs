//! The guard that keeps people's numbers out of free-text and opaque-reference members of public payloads.
//!
//! Every leaf of the log is public and can never be erased, so a resident ID number (公民身份号码, GB 11643: 18
//! characters, or 15 digits for first-generation cards) or a bank card number (银行卡号, 16–19 digits) typed into
//! a note, a name or an operator reference would be published for good. [`looks_like_personal_number`] spots those
//! shapes; the text types ([`crate::Name`], [`crate::Text`]) and the opaque references
//! ([`crate::site::OperatorRef`], the workforce ids) refuse what it flags, with [`PERSONAL_NUMBER_MESSAGE`], never
//! echoing the value (it is the very thing that must not spread).
//!
//! It is a guard against mistakes, not a proof: a number spelt out in Chinese or split by other characters passes.
//! It must not be applied to members whose legitimate values are long digit strings (hashes and commitments, HJ 212
//! `QN` timestamps and MN codes, GB/T 28181 ids, bank transfer serials): `docs/PERSONAL-DATA.md` lists the members it
//! covers.

/// What a refused member says (after its name): the value is never repeated.
pub const PERSONAL_NUMBER_MESSAGE: &str = "looks like an ID or card number: send a reference, never the number";

/// Digits in a group at or above which the group is an ID (15 or 18 with a check character) or card (16–19)
/// number shape.
const MIN_DIGITS: usize = 15;

/// A hex token at least this long is a hash or a random reference (`P-` + 32 hex, SHA-256, HMAC), not a number a
/// person carries; an ID or card number is at most 19 digits.
const HASH_MIN_LEN: usize = 32;

/// Whether `s` contains something shaped like a personal ID or bank card number: a group of 15 or more digits
/// (ASCII or full-width), where the digits may be split by single spaces or dashes into blocks (`6222 0212 3456
/// 7890`, `330203-19800101-001X`; an inner block shorter than 4 digits ends a group, so dates like `2026-10-20` do
/// not join), ignoring hex tokens of 32 characters or more (hashes, commitments, person references) and UUIDs
/// (event ids).
///
/// ```
/// use siteledger_domain::personal::looks_like_personal_number;
///
/// assert!(looks_like_personal_number("330203199001011234"));
/// assert!(looks_like_personal_number("司机张三 33020319900101123X"));
/// assert!(looks_like_personal_number("6222 0212 3456 7890 123"));
/// assert!(!looks_like_personal_number("OP-0001"));
/// assert!(!looks_like_personal_number("2026-10-20 2026-10-21 检查"));
/// assert!(!looks_like_personal_number("P-7f3e0c1d2b4a59687766554433221100"));
/// ```
pub fn looks_like_personal_number(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let hashy = hash_mask(&chars);
    let digit = |k: usize| k < n && is_digit(chars[k]) && !hashy[k];
    let mut i = 0;
    while i < n {
        if !digit(i) {
            i += 1;
            continue;
        }
        // A group: digit blocks joined by single separators. An inner block shorter than 4 (a date's month, a
        // time's minutes) ends the group before it; the last block may be short (`001X`, the `34` of `… 0112 34`).
        let mut digits = 0;
        let mut j = i;
        let mut first = true;
        loop {
            let start = j;
            while digit(j) {
                j += 1;
            }
            let block = j - start;
            let continues = j < n && matches!(chars[j], ' ' | '-') && digit(j + 1);
            if !first && block < 4 && continues {
                break;
            }
            digits += block;
            if !continues || block < 4 {
                break;
            }
            j += 1;
            first = false;
        }
        if digits >= MIN_DIGITS {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

/// ASCII digits and their full-width forms (`０`–`９`, as typed with a Chinese input method).
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c)
}

/// Marks the characters of every maximal ASCII hex token of at least [`HASH_MIN_LEN`] characters, and of every
/// UUID (`8-4-4-4-12` hex: an event id cited in a note may happen to be all digits).
fn hash_mask(chars: &[char]) -> Vec<bool> {
    let mut mask = vec![false; chars.len()];
    for start in 0..chars.len() {
        if is_uuid_at(chars, start) {
            mask[start..start + 36].iter_mut().for_each(|m| *m = true);
        }
    }
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_hexdigit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_hexdigit() {
            i += 1;
        }
        // A hex run glued to other letters (`x330203…`) is part of a word, not a hash.
        let glued =
            chars.get(i).is_some_and(char::is_ascii_alphabetic) || start > 0 && chars[start - 1].is_ascii_alphabetic();
        if i - start >= HASH_MIN_LEN && !glued {
            mask[start..i].iter_mut().for_each(|m| *m = true);
        }
    }
    mask
}

fn is_uuid_at(chars: &[char], start: usize) -> bool {
    let Some(w) = chars.get(start..start + 36) else { return false };
    let boundary = |k: Option<&char>| k.is_none_or(|c| !c.is_ascii_alphanumeric());
    boundary(start.checked_sub(1).and_then(|k| chars.get(k)))
        && boundary(chars.get(start + 36))
        && w.iter()
            .enumerate()
            .all(|(k, c)| if matches!(k, 8 | 13 | 18 | 23) { *c == '-' } else { c.is_ascii_hexdigit() })
}

/// Refuses `s` if it [looks like a personal number](looks_like_personal_number); the error is
/// [`PERSONAL_NUMBER_MESSAGE`].
pub fn refuse_personal_number(s: &str) -> Result<(), PersonalNumber> {
    if looks_like_personal_number(s) { Err(PersonalNumber) } else { Ok(()) }
}

/// A member that looks like an ID or card number (the value is not kept: it must not spread).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", PERSONAL_NUMBER_MESSAGE)]
pub struct PersonalNumber;
