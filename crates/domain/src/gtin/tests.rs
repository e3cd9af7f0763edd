use super::*;
use proptest::prelude::*;

#[test]
fn upc_a_ean_13_and_gtin_14_forms_are_one_product() {
    let upc = Gtin::parse("012345678905").unwrap();
    assert_eq!(Gtin::parse("0012345678905").unwrap(), upc);
    assert_eq!(Gtin::parse("00012345678905").unwrap(), upc);
    assert_eq!(upc.as_str(), "00012345678905");
    assert_eq!(upc.to_string(), "00012345678905");
}

#[test]
fn spaces_and_dashes_are_ignored() {
    let gtin = Gtin::parse(" 0 12345-67890 5 ").unwrap();
    assert_eq!(gtin.as_str(), "00012345678905");
}

#[test]
fn ean_8_is_padded_to_fourteen_digits() {
    // 9638507 -> check digit 4 (GS1 example).
    let gtin = Gtin::parse("96385074").unwrap();
    assert_eq!(gtin.as_str(), "00000096385074");
    assert_eq!(gtin.forms(), ["00000096385074", "0000096385074", "000096385074", "96385074"]);
}

#[test]
fn forms_lists_only_the_spellings_the_leading_zeros_allow() {
    let upc = Gtin::parse("012345678905").unwrap();
    assert_eq!(upc.forms(), ["00012345678905", "0012345678905", "012345678905"]);
    let ean = Gtin::parse("4006381333931").unwrap();
    assert_eq!(ean.forms(), ["04006381333931", "4006381333931"]);
}

#[test]
fn wrong_check_digit_names_expected_and_found_digits() {
    let err = Gtin::parse("012345678903").unwrap_err();
    assert_eq!(err, GtinError::BadCheckDigit { expected: 5, found: 3 });
    assert_eq!(err.to_string(), "barcode check digit is wrong: expected 5, found 3");
}

#[test]
fn lengths_other_than_8_12_13_14_are_rejected_with_the_count() {
    let err = Gtin::parse("01234567890").unwrap_err();
    assert_eq!(err, GtinError::WrongLength(11));
    assert_eq!(err.to_string(), "barcode must have 8, 12, 13 or 14 digits, got 11");
    assert_eq!(Gtin::parse(&"1".repeat(40)), Err(GtinError::WrongLength(40)));
}

#[test]
fn empty_and_non_digit_inputs_are_rejected() {
    assert_eq!(Gtin::parse(" - "), Err(GtinError::Empty));
    assert_eq!(Gtin::parse("01234567890X"), Err(GtinError::InvalidCharacter('X')));
}

#[test]
fn check_digit_uses_digit_values() {
    assert_eq!(check_digit(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]), 5);
    assert_eq!(check_digit(&[9, 6, 3, 8, 5, 0, 7]), 4);
    assert_eq!(check_digit(&[]), 0);
}

#[test]
fn extract_gtins_joins_printed_groups() {
    let found = extract_gtins("UPC 0 12345 67890 5 on the label");
    assert_eq!(found, [Gtin::parse("012345678905").unwrap()]);
}

#[test]
fn extract_gtins_finds_comma_separated_codes_in_order_without_duplicates() {
    let text = "UPC: 4006381333931, 012345678905; again 0012345678905";
    let found = extract_gtins(text);
    assert_eq!(found, [Gtin::parse("4006381333931").unwrap(), Gtin::parse("012345678905").unwrap()]);
}

#[test]
fn extract_gtins_splits_space_separated_codes() {
    let found = extract_gtins("codes 012345678905 4006381333931");
    assert_eq!(found.len(), 2);
}

#[test]
fn extract_gtins_ignores_invalid_and_glued_numbers() {
    assert!(extract_gtins("call 1-800-638-2772 or lot 012345678903").is_empty());
    assert!(extract_gtins("model A96385074").is_empty());
    assert!(extract_gtins("").is_empty());
}

fn valid_upc_a() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 11).prop_map(|body| {
        let check = check_digit(&body);
        body.iter().chain([check].iter()).map(|d| char::from(b'0' + d)).collect()
    })
}

proptest! {
    #[test]
    fn every_valid_upc_a_equals_its_padded_forms(code in valid_upc_a()) {
        let gtin = Gtin::parse(&code).unwrap();
        prop_assert_eq!(Gtin::parse(&format!("0{code}")).unwrap(), gtin);
        prop_assert_eq!(Gtin::parse(&format!("00{code}")).unwrap(), gtin);
        prop_assert!(gtin.forms().contains(&code));
        prop_assert_eq!(extract_gtins(&format!("UPC {code}.")), vec![gtin]);
    }

    #[test]
    fn changing_any_single_digit_breaks_the_check(
        code in valid_upc_a(), pos in 0usize..12, delta in 1u8..10
    ) {
        let mut bytes = code.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let altered = String::from_utf8(bytes).unwrap();
        let is_bad_check = matches!(
            Gtin::parse(&altered),
            Err(GtinError::BadCheckDigit { .. })
        );
        prop_assert!(is_bad_check);
    }

    #[test]
    fn garbage_never_panics(input in ".{0,64}") {
        let _ = Gtin::parse(&input);
        let _ = extract_gtins(&input);
    }

    #[test]
    fn digit_garbage_parses_only_with_a_valid_check(input in "[0-9 -]{0,30}") {
        if let Ok(gtin) = Gtin::parse(&input) {
            let values: Vec<u8> = gtin.as_str().bytes().map(|b| b - b'0').collect();
            prop_assert_eq!(check_digit(&values[..13]), values[13]);
        }
    }
}
