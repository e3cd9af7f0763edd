use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::*;

const NOW: i64 = 1_700_000_000;

fn key(kid: &str, byte: u8) -> SigningKey {
    SigningKey { kid: kid.to_owned(), secret: vec![byte; 32] }
}

fn ring(keys: &[(&str, u8)]) -> KeyRing {
    KeyRing::new(keys.iter().map(|(kid, b)| key(kid, *b)).collect()).unwrap()
}

fn b64json(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn hs256(secret: &[u8], signing_input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Builds a token by hand with an arbitrary header, signed HS256 with `secret`.
fn forge(header: serde_json::Value, claims: &AccessClaims, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64json(&header), b64json(&json!(claims)));
    let signature = hs256(secret, &input);
    format!("{input}.{signature}")
}

fn issue(ring: &KeyRing) -> (String, AccessClaims) {
    ring.issue(&TokenSettings::default(), "user-1", "sess-1", "parent", NOW).unwrap()
}

#[test]
fn issued_token_round_trips_with_all_claims() {
    let ring = ring(&[("k1", 1)]);
    let settings = TokenSettings::default();
    let (token, claims) = issue(&ring);
    assert_eq!(claims.sub, "user-1");
    assert_eq!(claims.sid, "sess-1");
    assert_eq!(claims.role, "parent");
    assert_eq!((claims.iat, claims.nbf, claims.exp), (NOW, NOW, NOW + 900));
    assert_eq!(claims.iss, "babyshield");
    assert_eq!(claims.aud, "babyshield-app");
    assert_eq!(ring.verify(&settings, &token, NOW + 1), Ok(claims));
}

#[test]
fn header_names_the_current_kid_and_hs256() {
    let ring = ring(&[("k2", 2), ("k1", 1)]);
    let (token, _) = issue(&ring);
    let header = read_header(&token).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["kid"], "k2");
    assert_eq!(ring.current_kid(), "k2");
}

#[test]
fn each_token_gets_a_distinct_jti() {
    let ring = ring(&[("k1", 1)]);
    let (_, a) = issue(&ring);
    let (_, b) = issue(&ring);
    assert_ne!(a.jti, b.jti);
    assert_eq!(a.jti.len(), 22);
}

#[test]
fn token_from_an_old_key_verifies_while_the_key_stays_in_the_ring() {
    let settings = TokenSettings::default();
    let (old_token, _) = issue(&ring(&[("k1", 1)]));
    let rotated = ring(&[("k2", 2), ("k1", 1)]);
    assert!(rotated.verify(&settings, &old_token, NOW).is_ok());
    let retired = ring(&[("k2", 2)]);
    assert_eq!(retired.verify(&settings, &old_token, NOW), Err(TokenError::UnknownKey));
}

#[test]
fn same_kid_with_a_different_secret_is_a_bad_signature() {
    let (token, _) = issue(&ring(&[("k1", 1)]));
    let impostor = ring(&[("k1", 9)]);
    assert_eq!(impostor.verify(&TokenSettings::default(), &token, NOW), Err(TokenError::BadSignature));
}

#[test]
fn tampered_payload_is_a_bad_signature() {
    let ring = ring(&[("k1", 1)]);
    let (token, mut claims) = issue(&ring);
    claims.role = "admin".to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64json(&json!(claims)), parts[2]);
    assert_eq!(ring.verify(&TokenSettings::default(), &tampered, NOW), Err(TokenError::BadSignature));
}

#[test]
fn tampered_signature_is_a_bad_signature() {
    let ring = ring(&[("k1", 1)]);
    let (token, _) = issue(&ring);
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(signature).unwrap();
    sig[0] ^= 1;
    let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert_eq!(ring.verify(&TokenSettings::default(), &tampered, NOW), Err(TokenError::BadSignature));
}

#[test]
fn alg_none_token_is_rejected() {
    let ring = ring(&[("k1", 1)]);
    let (_, claims) = issue(&ring);
    let header = b64json(&json!({"alg": "none", "typ": "JWT", "kid": "k1"}));
    let token = format!("{header}.{}.", b64json(&json!(claims)));
    assert_eq!(ring.verify(&TokenSettings::default(), &token, NOW), Err(TokenError::DisallowedAlgorithm));
}

#[test]
fn other_algorithms_are_rejected_even_with_a_valid_mac() {
    let ring = ring(&[("k1", 1)]);
    let (_, claims) = issue(&ring);
    let secret = [1u8; 32];
    for alg in ["HS512", "HS384", "RS256", "ES256", "EdDSA", "hs256"] {
        let token = forge(json!({"alg": alg, "typ": "JWT", "kid": "k1"}), &claims, &secret);
        assert_eq!(
            ring.verify(&TokenSettings::default(), &token, NOW),
            Err(TokenError::DisallowedAlgorithm),
            "{alg}"
        );
    }
    // A genuine HS512 token made by the library is refused too.
    let mut header = Header::new(Algorithm::HS512);
    header.kid = Some("k1".to_owned());
    let hs512 = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
    assert_eq!(ring.verify(&TokenSettings::default(), &hs512, NOW), Err(TokenError::DisallowedAlgorithm));
}

#[test]
fn hand_built_hs256_token_verifies_so_the_forgery_tests_are_meaningful() {
    let ring = ring(&[("k1", 1)]);
    let (_, claims) = issue(&ring);
    let token = forge(json!({"alg": "HS256", "kid": "k1"}), &claims, &[1u8; 32]);
    assert_eq!(ring.verify(&TokenSettings::default(), &token, NOW), Ok(claims));
}

#[test]
fn expiry_is_enforced_against_now_with_leeway() {
    let ring = ring(&[("k1", 1)]);
    let settings = TokenSettings::default();
    let (token, _) = issue(&ring);
    assert!(ring.verify(&settings, &token, NOW + 900 + 29).is_ok());
    assert_eq!(ring.verify(&settings, &token, NOW + 900 + 30), Err(TokenError::Expired));
    assert_eq!(ring.verify(&settings, &token, NOW + 100_000), Err(TokenError::Expired));
    let strict = TokenSettings { leeway_secs: 0, ..TokenSettings::default() };
    assert_eq!(ring.verify(&strict, &token, NOW + 900), Err(TokenError::Expired));
}

#[test]
fn token_used_before_nbf_is_not_yet_valid() {
    let ring = ring(&[("k1", 1)]);
    let settings = TokenSettings::default();
    let (token, _) = issue(&ring);
    assert!(ring.verify(&settings, &token, NOW - 30).is_ok());
    assert_eq!(ring.verify(&settings, &token, NOW - 31), Err(TokenError::NotYetValid));
}

#[test]
fn wrong_audience_and_wrong_issuer_are_rejected() {
    let ring = ring(&[("k1", 1)]);
    let (token, _) = issue(&ring);
    let other_aud = TokenSettings { audience: "admin-console".to_owned(), ..TokenSettings::default() };
    assert_eq!(ring.verify(&other_aud, &token, NOW), Err(TokenError::WrongAudience));
    let other_iss = TokenSettings { issuer: "evil".to_owned(), ..TokenSettings::default() };
    assert_eq!(ring.verify(&other_iss, &token, NOW), Err(TokenError::WrongIssuer));
}

#[test]
fn missing_or_unknown_kid_is_rejected() {
    let ring = ring(&[("k1", 1)]);
    let (_, claims) = issue(&ring);
    let unknown = forge(json!({"alg": "HS256", "kid": "k9"}), &claims, &[1u8; 32]);
    assert_eq!(ring.verify(&TokenSettings::default(), &unknown, NOW), Err(TokenError::UnknownKey));
    let missing = forge(json!({"alg": "HS256"}), &claims, &[1u8; 32]);
    assert_eq!(ring.verify(&TokenSettings::default(), &missing, NOW), Err(TokenError::UnknownKey));
}

#[test]
fn missing_claims_are_rejected() {
    let ring = ring(&[("k1", 1)]);
    let header = b64json(&json!({"alg": "HS256", "kid": "k1"}));
    let payload = b64json(&json!({"sub": "u", "iss": "babyshield", "aud": "babyshield-app"}));
    let input = format!("{header}.{payload}");
    let token = format!("{input}.{}", hs256(&[1u8; 32], &input));
    assert_eq!(ring.verify(&TokenSettings::default(), &token, NOW), Err(TokenError::Malformed));
}

#[test]
fn garbage_is_malformed() {
    let ring = ring(&[("k1", 1)]);
    let settings = TokenSettings::default();
    for token in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.sig", "a".repeat(9000).as_str()] {
        assert_eq!(ring.verify(&settings, token, NOW), Err(TokenError::Malformed), "{token:.20}");
    }
}

#[test]
fn key_ring_rules_are_enforced() {
    assert!(matches!(KeyRing::new(vec![]), Err(TokenError::InvalidKeyRing(_))));
    let short = SigningKey { kid: "k1".to_owned(), secret: vec![0; 31] };
    let Err(TokenError::InvalidKeyRing(msg)) = KeyRing::new(vec![short]) else {
        panic!("short secret accepted");
    };
    assert!(msg.contains("k1") && msg.contains("32"), "{msg}");
    assert!(matches!(KeyRing::new(vec![key("k1", 1), key("k1", 2)]), Err(TokenError::InvalidKeyRing(_))));
}

#[test]
fn key_ring_parses_a_spec_with_the_first_key_current() {
    let spec = format!("k2:{},k1:{}", URL_SAFE_NO_PAD.encode([2u8; 32]), URL_SAFE_NO_PAD.encode([1u8; 32]));
    let parsed = KeyRing::parse(&spec).unwrap();
    assert_eq!(parsed.current_kid(), "k2");
    let (token, _) = issue(&ring(&[("k1", 1)]));
    assert!(parsed.verify(&TokenSettings::default(), &token, NOW).is_ok());

    let bad = format!("k2:{},k1:{}", URL_SAFE_NO_PAD.encode([2u8; 32]), URL_SAFE_NO_PAD.encode([1u8; 8]));
    let Err(TokenError::InvalidKeyRing(msg)) = KeyRing::parse(&bad) else {
        panic!("short key accepted");
    };
    assert!(msg.contains("entry 2") && msg.contains("k1"), "{msg}");
}

#[test]
fn debug_output_never_shows_secrets() {
    let ring = ring(&[("k1", 0x41)]);
    let shown = format!("{ring:?}");
    assert!(shown.contains("k1") && shown.contains("redacted"));
    assert!(!shown.contains("65"), "{shown}");
}
