use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

fn spec(keys: &[(&str, u8)]) -> String {
    keys.iter()
        .map(|(kid, byte)| format!("{kid}:{}", URL_SAFE_NO_PAD.encode([*byte; 32])))
        .collect::<Vec<_>>()
        .join(",")
}

fn ring(keys: &[(&str, u8)]) -> DataKeyRing {
    DataKeyRing::parse(&spec(keys)).unwrap()
}

#[test]
fn sealed_value_round_trips_with_the_same_aad() {
    let ring = ring(&[("d1", 1)]);
    let sealed = ring.seal("+44 7700 900123", b"users.phone:42");
    assert_eq!(ring.open(&sealed, b"users.phone:42").unwrap(), "+44 7700 900123");
    assert_eq!(ring.open(&ring.seal("", b""), b"").unwrap(), "");
}

#[test]
fn sealed_format_is_version_kid_and_base64url() {
    let ring = ring(&[("d1", 1)]);
    let sealed = ring.seal("Ada", b"row:1");
    let parts: Vec<&str> = sealed.splitn(3, ':').collect();
    assert_eq!(&parts[..2], ["v1", "d1"]);
    let blob = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(blob.len(), 12 + 3 + 16);
    assert_eq!(sealed_kid(&sealed), Some("d1"));
    assert_eq!(DataKeyRing::sealed_kid(&sealed), Some("d1"));
}

#[test]
fn sealing_twice_gives_different_ciphertexts() {
    let ring = ring(&[("d1", 1)]);
    assert_ne!(ring.seal("Ada", b"row:1"), ring.seal("Ada", b"row:1"));
}

#[test]
fn another_rows_aad_fails_authentication() {
    let ring = ring(&[("d1", 1)]);
    let sealed = ring.seal("Ada Lovelace", b"users.name:42");
    assert_eq!(ring.open(&sealed, b"users.name:43"), Err(FieldError::AuthenticationFailed));
    assert_eq!(ring.open(&sealed, b""), Err(FieldError::AuthenticationFailed));
}

#[test]
fn any_flipped_bit_fails_authentication() {
    let ring = ring(&[("d1", 1)]);
    let sealed = ring.seal("Ada Lovelace", b"row:1");
    let (prefix, body) = sealed.rsplit_once(':').unwrap();
    let blob = URL_SAFE_NO_PAD.decode(body).unwrap();
    for i in 0..blob.len() {
        let mut tampered = blob.clone();
        tampered[i] ^= 0x01;
        let tampered = format!("{prefix}:{}", URL_SAFE_NO_PAD.encode(tampered));
        assert_eq!(ring.open(&tampered, b"row:1"), Err(FieldError::AuthenticationFailed), "byte {i}");
    }
}

#[test]
fn malformed_and_unknown_key_values_are_distinct_errors() {
    let ring = ring(&[("d1", 1)]);
    for bad in ["", "v1", "v1:d1", "v1:d1:", "v2:d1:AAAA", "v1:d1:***", "v1:d1:AAAA"] {
        assert_eq!(ring.open(bad, b""), Err(FieldError::Malformed), "{bad}");
    }
    let other = ring_with_other_key();
    let sealed = other.seal("Ada", b"");
    assert_eq!(ring.open(&sealed, b""), Err(FieldError::UnknownKey("d9".to_owned())));
}

fn ring_with_other_key() -> DataKeyRing {
    ring(&[("d9", 9)])
}

#[test]
fn old_key_still_opens_after_rotation_while_new_values_use_the_new_kid() {
    let before = ring(&[("d1", 1)]);
    let old_sealed = before.seal("Ada", b"row:1");
    let after = ring(&[("d2", 2), ("d1", 1)]);
    assert_eq!(after.current_kid(), "d2");
    assert_eq!(after.open(&old_sealed, b"row:1").unwrap(), "Ada");
    assert!(after.needs_reseal(&old_sealed));
    let new_sealed = after.seal("Ada", b"row:1");
    assert_eq!(sealed_kid(&new_sealed), Some("d2"));
    assert!(!after.needs_reseal(&new_sealed));
    assert_eq!(ring(&[("d2", 2)]).open(&old_sealed, b"row:1"), Err(FieldError::UnknownKey("d1".to_owned())));
}

#[test]
fn ciphertext_never_contains_the_plaintext() {
    let ring = ring(&[("d1", 1)]);
    let plaintext = "jane.parent@example.com";
    let sealed = ring.seal(plaintext, b"row:1");
    assert!(!sealed.contains(plaintext));
    assert!(!sealed.contains("jane"));
    let blob = URL_SAFE_NO_PAD.decode(sealed.rsplit_once(':').unwrap().1).unwrap();
    assert!(!blob.windows(4).any(|w| w == b"jane"));
}

#[test]
fn keys_must_be_exactly_32_bytes() {
    let short = format!("d1:{}", URL_SAFE_NO_PAD.encode([1u8; 16]));
    let Err(FieldError::InvalidKey(msg)) = DataKeyRing::parse(&short) else {
        panic!("16-byte key accepted");
    };
    assert!(msg.contains("d1") && msg.contains("32"), "{msg}");
    let long = format!("{},d0:{}", spec(&[("d1", 1)]), URL_SAFE_NO_PAD.encode([1u8; 33]));
    let Err(FieldError::InvalidKey(msg)) = DataKeyRing::parse(&long) else {
        panic!("33-byte key accepted");
    };
    assert!(msg.contains("entry 2"), "{msg}");
}

#[test]
fn debug_output_lists_kids_only() {
    let shown = format!("{:?}", ring(&[("d1", 1)]));
    assert_eq!(shown, r#"DataKeyRing { kids: ["d1"] }"#);
}
