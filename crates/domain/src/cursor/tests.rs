use proptest::prelude::*;

use super::*;

const NOW: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

fn key() -> CursorKey {
    CursorKey::new([7; 32])
}

fn position() -> SearchPosition {
    SearchPosition {
        score: -123_456,
        recall_date: "2024-05-22".to_owned(),
        id: "EU_SAFETY_GATE-A12/00345/24".to_owned(),
    }
}

fn token() -> String {
    encode_cursor(&key(), &[1; 32], &position(), NOW)
}

#[test]
fn cursor_round_trips_its_position() {
    let token = token();
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(decode_cursor(&key(), &token, &[1; 32], NOW + 60, DAY), Ok(position()));
}

#[test]
fn cursor_signed_with_another_key_is_rejected() {
    let other = CursorKey::derive(b"another secret");
    assert_eq!(decode_cursor(&other, &token(), &[1; 32], NOW, DAY), Err(CursorError::BadSignature));
}

#[test]
fn cursor_from_another_query_is_rejected() {
    let err = decode_cursor(&key(), &token(), &[2; 32], NOW, DAY).unwrap_err();
    assert_eq!(err, CursorError::WrongQuery);
    assert_eq!(err.to_string(), "cursor was not issued for this query");
}

#[test]
fn old_cursor_expires() {
    assert_eq!(decode_cursor(&key(), &token(), &[1; 32], NOW + DAY + 1, DAY), Err(CursorError::Expired));
    assert!(decode_cursor(&key(), &token(), &[1; 32], NOW + DAY, DAY).is_ok());
    assert_eq!(decode_cursor(&key(), &token(), &[1; 32], NOW - DAY, DAY), Err(CursorError::Expired));
}

#[test]
fn junk_tokens_are_malformed() {
    for junk in ["", "!!!", "abc", &"A".repeat(3000)] {
        assert_eq!(decode_cursor(&key(), junk, &[1; 32], NOW, DAY), Err(CursorError::Malformed), "{junk}");
    }
}

#[test]
fn every_single_character_change_is_detected() {
    let token = token();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..token.len() {
        for &replacement in alphabet.iter().step_by(7) {
            let mut bytes = token.clone().into_bytes();
            if bytes[i] == replacement {
                continue;
            }
            bytes[i] = replacement;
            let altered = String::from_utf8(bytes).unwrap();
            let result = decode_cursor(&key(), &altered, &[1; 32], NOW, DAY);
            assert!(
                matches!(result, Err(CursorError::BadSignature | CursorError::Malformed)),
                "position {i}: {result:?}"
            );
        }
    }
}

#[test]
fn debug_output_hides_the_key() {
    assert_eq!(format!("{:?}", key()), "CursorKey(..)");
}

proptest! {
    #[test]
    fn random_tokens_never_decode_or_panic(token in "[A-Za-z0-9_\\-]{0,300}|\\PC{0,100}") {
        prop_assert!(decode_cursor(&key(), &token, &[1; 32], NOW, DAY).is_err());
    }

    #[test]
    fn any_position_round_trips(score in any::<i64>(), id in "[A-Za-z0-9/_.-]{1,128}", issued in 0i64..2_000_000_000) {
        let pos = SearchPosition { score, recall_date: "2020-01-31".to_owned(), id };
        let token = encode_cursor(&key(), &[9; 32], &pos, issued);
        prop_assert_eq!(decode_cursor(&key(), &token, &[9; 32], issued, 0), Ok(pos));
    }

    #[test]
    fn flipping_any_decoded_bit_is_detected(byte in 0usize..200, bit in 0u8..8) {
        let mut raw = URL_SAFE_NO_PAD.decode(token()).unwrap();
        let byte = byte % raw.len();
        raw[byte] ^= 1 << bit;
        let altered = URL_SAFE_NO_PAD.encode(raw);
        prop_assert_eq!(decode_cursor(&key(), &altered, &[1; 32], NOW, DAY), Err(CursorError::BadSignature));
    }
}
