//! `Decoded::product_code` and the serialized shape of `Symbology`, on literal payloads.

use babyshield_scan::{Decoded, Symbology};

fn code(format: Symbology, text: &str) -> Option<String> {
    Decoded { format, text: text.to_owned() }.product_code()
}

#[test]
fn ean_and_upc_digits_pass_through_with_the_right_length() {
    assert_eq!(code(Symbology::Ean13, "5012345678900").as_deref(), Some("5012345678900"));
    assert_eq!(code(Symbology::Ean8, "96385074").as_deref(), Some("96385074"));
    assert_eq!(code(Symbology::UpcA, "642105759904").as_deref(), Some("642105759904"));
    assert_eq!(code(Symbology::Ean13, "501234567890"), None);
    assert_eq!(code(Symbology::Ean13, "50123456789OO"), None);
    assert_eq!(code(Symbology::UpcA, ""), None);
}

#[test]
fn upce_expands_by_its_last_data_digit() {
    // Last data digit 0-2, 3, 4, 5-9: the four expansion rules.
    assert_eq!(code(Symbology::UpcE, "01234505").as_deref(), Some("012000003455"));
    assert_eq!(code(Symbology::UpcE, "01234531").as_deref(), Some("012300000451"));
    assert_eq!(code(Symbology::UpcE, "01234546").as_deref(), Some("012340000056"));
    assert_eq!(code(Symbology::UpcE, "01234565").as_deref(), Some("012345000065"));
    // Already expanded by the reader: unchanged.
    assert_eq!(code(Symbology::UpcE, "012345000065").as_deref(), Some("012345000065"));
    // Number system 2-9 does not exist for UPC-E; wrong length.
    assert_eq!(code(Symbology::UpcE, "21234565"), None);
    assert_eq!(code(Symbology::UpcE, "1234565"), None);
}

#[test]
fn gs1_element_strings() {
    for text in [
        "(01)09506000134352(17)271231(10)AB1",
        "0109506000134352172712311OAB1",
        "0109506000134352",
        "]C10109506000134352\u{1d}10ABC",
        "]d20109506000134352",
        "]Q3(01)09506000134352",
        "\u{1d}0109506000134352",
    ] {
        assert_eq!(code(Symbology::Code128, text).as_deref(), Some("09506000134352"), "{text:?}");
    }
    assert_eq!(code(Symbology::DataMatrix, "0109506000134352").as_deref(), Some("09506000134352"));
    assert_eq!(
        code(Symbology::Other("gs1_databar".into()), "0100012345678905").as_deref(),
        Some("00012345678905")
    );
    // Other AIs first, too few digits, letters in the GTIN, plain text.
    assert_eq!(code(Symbology::Code128, "(10)ABC(01)09506000134352"), None);
    assert_eq!(code(Symbology::Code128, "01095060001343"), None);
    assert_eq!(code(Symbology::Code128, "(01)0950600013435X"), None);
    assert_eq!(code(Symbology::Code128, "HELLO"), None);
}

#[test]
fn gs1_digital_link_uris() {
    for text in [
        "https://id.gs1.org/01/09506000134352",
        "https://id.gs1.org/01/09506000134352/10/ABC?17=271231",
        "HTTPS://ID.GS1.ORG/01/09506000134352",
        "http://example.com/01/09506000134352",
        "https://brand.example.com/products/01/09506000134352/21/12345#x",
        "https://example.com:8443/01/09506000134352?linkType=gs1:pip",
    ] {
        assert_eq!(code(Symbology::Qr, text).as_deref(), Some("09506000134352"), "{text}");
    }
    // Short GTINs only on the GS1 resolver.
    assert_eq!(code(Symbology::Qr, "https://id.gs1.org/01/5012345678900").as_deref(), Some("5012345678900"));
    assert_eq!(code(Symbology::Qr, "https://blog.example.com/01/20230115/post"), None);
    // Not a Digital Link.
    assert_eq!(code(Symbology::Qr, "https://example.com/p/09506000134352"), None);
    assert_eq!(code(Symbology::Qr, "https://example.com/01/0950600013435a"), None);
    assert_eq!(code(Symbology::Qr, "ftp://id.gs1.org/01/09506000134352"), None);
    assert_eq!(code(Symbology::Qr, "WIFI:S:home;T:WPA;P:secret;;"), None);
    assert_eq!(code(Symbology::Qr, "https://example.com"), None);
}

#[test]
fn symbology_serializes_as_a_flat_snake_case_string() {
    let cases = [
        (Symbology::Ean13, "\"ean13\""),
        (Symbology::Ean8, "\"ean8\""),
        (Symbology::UpcA, "\"upc_a\""),
        (Symbology::UpcE, "\"upc_e\""),
        (Symbology::Qr, "\"qr\""),
        (Symbology::Code128, "\"code128\""),
        (Symbology::DataMatrix, "\"data_matrix\""),
        (Symbology::Other("gs1_databar".into()), "\"gs1_databar\""),
    ];
    for (symbology, json) in cases {
        assert_eq!(serde_json::to_string(&symbology).unwrap(), json);
        assert_eq!(serde_json::from_str::<Symbology>(json).unwrap(), symbology);
        assert_eq!(format!("\"{symbology}\""), json);
    }
    let decoded = Decoded { format: Symbology::UpcA, text: "642105759904".into() };
    assert_eq!(serde_json::to_string(&decoded).unwrap(), r#"{"format":"upc_a","text":"642105759904"}"#);
}
