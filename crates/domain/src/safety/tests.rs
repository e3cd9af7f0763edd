use proptest::prelude::*;
use time::macros::date;

use super::*;
use crate::agency::AgencyCode;
use crate::gtin::Gtin;
use crate::recall::{Recall, RecallId};

fn recall(title: &str, edit: impl FnOnce(&mut Recall)) -> Recall {
    let mut recall = Recall::new(
        RecallId::parse("CPSC-24123").unwrap(),
        AgencyCode::parse("CPSC").unwrap(),
        title,
        date!(2024 - 05 - 22),
    );
    edit(&mut recall);
    recall
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

// ---------------------------------------------------------------- allergens

#[test]
fn parents_allergy_text_parses_to_an_allergen() {
    use Allergen::*;
    let cases = [
        ("milk", Milk),
        ("Dairy", Milk),
        ("Lactose", Milk),
        ("lactose intolerance", Milk),
        ("cow's milk", Milk),
        ("Cows Milk", Milk),
        ("CMPA", Milk),
        ("milk allergy", Milk),
        ("Casein", Milk),
        ("egg", Egg),
        ("Eggs", Egg),
        ("peanuts", Peanut),
        ("Groundnut", Peanut),
        ("Severe peanut allergy", Peanut),
        ("nuts", TreeNut),
        ("nut", TreeNut),
        ("Tree Nuts", TreeNut),
        ("tree_nut", TreeNut),
        ("walnuts", TreeNut),
        ("Brazil nuts", TreeNut),
        ("soya", Soy),
        ("Soybeans", Soy),
        ("gluten", Wheat),
        ("Wheat", Wheat),
        ("Cœliac", Wheat),
        ("celiac disease", Wheat),
        ("fish", Fish),
        ("salmon", Fish),
        ("shellfish", CrustaceanShellfish),
        ("Shrimp", CrustaceanShellfish),
        ("crustacean_shellfish", CrustaceanShellfish),
        ("mussels", Mollusc),
        ("mollusk", Mollusc),
        ("sesame seeds", Sesame),
        ("SÉSAME", Sesame),
        ("mustard", Mustard),
        ("celery", Celery),
        ("lupin", Lupin),
        ("sulfites", Sulphites),
        ("Sulphur dioxide", Sulphites),
    ];
    for (text, expected) in cases {
        assert_eq!(Allergen::parse(text), Some(expected), "{text:?}");
    }
}

#[test]
fn unknown_or_ambiguous_allergy_text_parses_to_nothing() {
    for text in
        ["", "  ", "allergy", "seafood", "milk and egg", "strawberry", "coconut milk", "corn", "pollen"]
    {
        assert_eq!(Allergen::parse(text), None, "{text:?}");
    }
}

#[test]
fn every_allergen_name_and_label_parses_back_and_serializes_snake_case() {
    assert_eq!(Allergen::all().len(), 14);
    for &allergen in Allergen::all() {
        assert_eq!(Allergen::parse(allergen.as_str()), Some(allergen));
        assert_eq!(Allergen::parse(allergen.label()), Some(allergen), "{}", allergen.label());
        let json = serde_json::to_string(&allergen).unwrap();
        assert_eq!(json, format!("\"{}\"", allergen.as_str()));
        assert_eq!(serde_json::from_str::<Allergen>(&json).unwrap(), allergen);
    }
    assert_eq!(Allergen::TreeNut.label(), "tree nuts");
    assert_eq!(serde_json::to_string(&Allergen::CrustaceanShellfish).unwrap(), "\"crustacean_shellfish\"");
}

fn hazard_allergens(hazard: &str) -> Vec<Allergen> {
    let recall = recall("Recall", |r| r.hazard = some(hazard));
    allergen_findings(&recall).into_iter().map(|f| f.allergen).collect()
}

#[test]
fn hazard_text_yields_the_allergens_it_warns_about() {
    use Allergen::*;
    let cases: &[(&str, &[Allergen])] = &[
        // Negatives: allergen words without an allergen cue.
        ("Milk bottle nipple may detach, choking hazard", &[]),
        ("Baby formula recalled: may contain Cronobacter", &[]),
        ("Soft cheese may contain Listeria monocytogenes", &[]),
        ("May contain Listeria in the cheese", &[]),
        ("Egg-shaped toy contains small parts", &[]),
        ("Peanut-shaped rattle may break", &[]),
        ("Contains no milk", &[]),
        ("Milk powder. May contain pieces of glass", &[]),
        ("Fish oil capsules may contain excess vitamin A", &[]),
        // Positives.
        ("undeclared milk and soy", &[Milk, Soy]),
        ("product contains undeclared walnuts", &[TreeNut]),
        ("may contain peanuts", &[Peanut]),
        ("Undeclared Wheat (gluten)", &[Wheat]),
        ("Contains gluten", &[Wheat]),
        ("Sulfites not declared on label", &[Sulphites]),
        ("Contains undeclared Brazil nuts and tree nuts", &[TreeNut]),
        ("Cheese crackers recalled due to undeclared egg", &[Egg]),
        ("Product labeled dairy-free contains milk", &[Milk]),
        ("Does not contain peanuts; contains undeclared sesame", &[Sesame]),
        ("Milk, egg and soy protein not declared on the label", &[Milk, Egg, Soy]),
        ("Peanut butter cups contain undeclared almonds", &[TreeNut]),
        ("Undeclared peanut butter", &[Peanut]),
        ("Contains cocoa butter and undeclared hazelnut", &[TreeNut]),
        ("Undeclared soy milk", &[Soy]),
        ("People with an allergy to shrimp or crab should not eat it", &[CrustaceanShellfish]),
        ("Allergen: sesame seeds (tahini)", &[Sesame]),
        ("Traces of mustard and celery", &[Mustard, Celery]),
        ("Contains sodium metabisulphite (sulphur dioxide)", &[Sulphites]),
        ("Undeclared anchovies in the sauce", &[Fish]),
        ("Net wt 2.5 oz. Undeclared milk", &[Milk]),
        ("Non-dairy creamer contains undeclared casein", &[Milk]),
        ("Undeclared milk, soy, wheat and egg", &[Milk, Soy, Wheat, Egg]),
        ("May contain undeclared milk; milk allergy risk", &[Milk]),
        ("Clams and mussels not declared", &[Mollusc]),
        ("Lupin flour unlabelled", &[Lupin]),
    ];
    for (hazard, expected) in cases {
        assert_eq!(hazard_allergens(hazard), *expected, "{hazard:?}");
    }
}

#[test]
fn findings_carry_the_matched_phrase_and_field() {
    let cases = [
        ("product contains undeclared walnuts", Allergen::TreeNut, "undeclared walnuts"),
        ("may contain peanuts", Allergen::Peanut, "may contain peanuts"),
        ("Sulfites not declared on label", Allergen::Sulphites, "sulfites not declared"),
        ("undeclared milk and soy", Allergen::Soy, "undeclared milk and soy"),
        (
            "Undeclared in the ingredient statement printed on the back: egg",
            Allergen::Egg,
            "undeclared … egg",
        ),
    ];
    for (hazard, allergen, evidence) in cases {
        let findings = allergen_findings(&recall("Recall", |r| r.hazard = some(hazard)));
        let finding = findings.iter().find(|f| f.allergen == allergen).expect(hazard);
        assert_eq!(finding.evidence, evidence, "{hazard:?}");
        assert_eq!(finding.field, "hazard");
    }
}

#[test]
fn only_hazard_reason_and_category_are_read_in_that_order_one_finding_per_allergen() {
    let r = recall("Peanut Butter Crackers with undeclared milk", |r| {
        r.product_name = some("Milk bottle");
        r.description = some("Contains undeclared peanuts");
        r.hazard = some("Choking hazard");
    });
    assert!(allergen_findings(&r).is_empty(), "title, product name and description are not read");

    let r = recall("Recall", |r| {
        r.hazard = some("undeclared milk");
        r.recall_reason = some("Recalled because it contains undeclared milk and egg");
        r.hazard_category = some("Allergens - Sesame");
    });
    let expected = [
        AllergenFinding { allergen: Allergen::Milk, evidence: "undeclared milk".into(), field: "hazard" },
        AllergenFinding {
            allergen: Allergen::Egg,
            evidence: "undeclared milk and egg".into(),
            field: "recall_reason",
        },
        AllergenFinding { allergen: Allergen::Sesame, evidence: "sesame".into(), field: "hazard_category" },
    ];
    assert_eq!(allergen_findings(&r), expected);
}

#[test]
fn an_allergen_hazard_category_makes_uncued_mentions_count() {
    let with = |category: &str, hazard: &str| {
        let r = recall("Recall", |r| {
            r.hazard_category = some(category);
            r.hazard = some(hazard);
        });
        allergen_findings(&r).into_iter().map(|f| f.allergen).collect::<Vec<_>>()
    };
    assert_eq!(with("Allergens", "Milk and soy"), [Allergen::Milk, Allergen::Soy]);
    assert_eq!(with("Undeclared allergen", "Pistachio"), [Allergen::TreeNut]);
    // A cued mention wins over the other words of the field.
    assert_eq!(with("Allergens", "Cheese crackers with undeclared egg"), [Allergen::Egg]);
    assert!(with("Choking", "Milk and soy").is_empty());
    assert!(with("Microbiological", "Cheese may contain Listeria").is_empty());
}

// ---------------------------------------------------------------- age rules

#[test]
fn age_rules_warn_children_below_the_limit_only() {
    let cases: &[(&str, &str, Option<u32>, &[&str])] = &[
        ("Toy blocks", "Small parts can detach, posing a choking hazard", Some(24), &["small_parts"]),
        ("Toy blocks", "Small parts can detach, posing a choking hazard", Some(35), &["small_parts"]),
        ("Toy blocks", "Small parts can detach, posing a choking hazard", Some(36), &[]),
        ("Toy blocks", "Small parts can detach, posing a choking hazard", Some(48), &[]),
        ("Toy blocks", "Small parts can detach, posing a choking hazard", None, &[]),
        ("Rock 'n Play Inclined Sleeper", "Infants can roll over and suffocate", Some(4), &["infant_sleep"]),
        ("Rock 'n Play Inclined Sleeper", "Infants can roll over and suffocate", Some(14), &[]),
        ("Infant pillow", "Suffocation hazard during sleep", Some(3), &["infant_sleep"]),
        ("Plastic packaging", "Suffocation hazard from the bag", Some(3), &[]),
        ("Magnetic building set", "High-powered magnets can be swallowed", Some(120), &["magnets"]),
        ("Magnetic building set", "High-powered magnets can be swallowed", Some(170), &[]),
        ("Remote control", "Button battery can be accessed and swallowed", Some(60), &["button_battery"]),
        ("Remote control", "Button battery can be accessed and swallowed", Some(72), &[]),
        (
            "Water Beads Activity Kit",
            "Ingestion can cause intestinal obstruction",
            Some(36),
            &["water_beads"],
        ),
        ("Water Beads Activity Kit", "Ingestion can cause intestinal obstruction", Some(60), &[]),
        ("Children's hoodies", "Neck drawstrings pose a strangulation hazard", Some(100), &["drawstrings"]),
        ("Children's hoodies", "Neck drawstrings pose a strangulation hazard", Some(150), &[]),
        (
            "Six-drawer dresser",
            "Can tip over, posing tip-over and entrapment hazards",
            Some(30),
            &["furniture_tip_over"],
        ),
        ("Roman shades", "Strangulation hazard from looped cords", Some(60), &["window_cords"]),
        ("Roman shades", "Strangulation hazard from looped cords", Some(100), &[]),
        ("Infant bath seat", "Drowning hazard", Some(8), &["bath_seat"]),
        ("Infant bath seat", "Drowning hazard", Some(13), &[]),
        (
            "Silicone teether",
            "The teether can break, posing a choking hazard",
            Some(10),
            &["small_parts", "teethers_pacifiers"],
        ),
        ("Baby walker", "Fall hazard down stairs", Some(9), &["baby_walker"]),
        ("Baby walker", "Fall hazard down stairs", Some(16), &[]),
        ("Infant sling carrier", "Suffocation", Some(2), &["baby_sling"]),
        ("Infant sling carrier", "Suffocation", Some(6), &[]),
        ("Stroller", "Brakes can fail", Some(10), &[]),
    ];
    for (title, hazard, age, expected) in cases {
        let r = recall(title, |r| r.hazard = some(hazard));
        let ids: Vec<&str> = age_warnings(&r, *age).iter().map(|w| w.rule).collect();
        assert_eq!(ids, *expected, "{title:?} / {hazard:?} at {age:?} months");
    }
}

#[test]
fn age_rules_read_every_descriptive_field_and_report_the_rule() {
    let r = recall("Nursery set", |r| r.description = some("Includes crib bumper pads"));
    assert_eq!(age_rules_for(&r).iter().map(|rule| rule.id).collect::<Vec<_>>(), ["infant_sleep"]);
    let r = recall("Hoodie", |r| r.recall_reason = some("Drawstring at the hood"));
    let warnings = age_warnings(&r, Some(50));
    let rule = AGE_RULES.iter().find(|rule| rule.id == "drawstrings").unwrap();
    assert_eq!(
        warnings,
        [AgeWarning { rule: "drawstrings", message: rule.message.to_owned(), under_months: 144 }]
    );
    // Whatever the age, the rules themselves are listed.
    let r = recall("Magnet set", |_| {});
    assert_eq!(age_rules_for(&r).len(), 1);
    assert!(age_warnings(&r, Some(200)).is_empty());
}

#[test]
fn age_rule_table_is_consistent_and_each_rule_fires_on_its_own_first_keyword() {
    let mut ids: Vec<&str> = AGE_RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), AGE_RULES.len(), "rule ids are unique");
    for rule in AGE_RULES {
        assert!(
            rule.under_months > 0 && !rule.keywords.is_empty() && !rule.message.is_empty(),
            "{}",
            rule.id
        );
        // The first alternative of every part of the first keyword.
        let title: Vec<&str> =
            rule.keywords[0].split('+').map(|part| part.split('|').next().unwrap().trim()).collect();
        let r = recall(&title.join(" "), |_| {});
        assert!(age_rules_for(&r).iter().any(|r| r.id == rule.id), "{} from {title:?}", rule.id);
    }
}

// ---------------------------------------------------------------- matching

fn rock_n_play() -> Recall {
    recall("Fisher-Price Recalls Rock 'n Play Sleepers Due to Reports of Deaths", |r| {
        r.brand = some("Fisher-Price");
        r.manufacturer = some("Mattel, Inc.");
        r.model = some("A1");
        r.model_number = some("AB-100, AB-200");
        r.model_numbers = vec!["CHP55".into(), "FHW12-A".into()];
        r.upcs = vec!["012345678905".into()];
    })
}

fn query(gtin: Option<&str>, name: Option<&str>, brand: Option<&str>, model: Option<&str>) -> ProductQuery {
    ProductQuery {
        gtin: gtin.map(|g| Gtin::parse(g).unwrap()),
        name: name.map(str::to_owned),
        brand: brand.map(str::to_owned),
        model: model.map(str::to_owned),
    }
}

#[test]
fn model_keys_ignore_case_separators_and_labels() {
    let cases = [
        ("AB-123 x", "ab123x"),
        ("ab123x", "ab123x"),
        ("Model # AB.123/X", "ab123x"),
        ("Model No. 5", "5"),
        ("model", "model"),
        (" - ", ""),
    ];
    for (model, key) in cases {
        assert_eq!(model_key(model), key, "{model:?}");
    }
}

#[test]
fn barcode_and_model_matches_follow_the_confidence_table() {
    use MatchType::*;
    let cases: &[(ProductQuery, Option<(MatchType, f32)>)] = &[
        (query(Some("0012345678905"), None, None, None), Some((ExactGtin, 1.0))),
        (query(Some("036000291452"), None, None, None), None),
        (query(None, None, None, Some("fhw12a")), Some((ModelNumber, 0.8))),
        (query(None, None, Some("Fisher Price"), Some("FHW 12-A")), Some((ModelNumber, 0.95))),
        (query(None, None, Some("FisherPrice"), Some("FHW 12-A")), Some((ModelNumber, 0.95))),
        (query(None, None, Some("Mattel Inc"), Some("fhw-12a")), Some((ModelNumber, 0.95))),
        (query(None, None, Some("Fischer-Price"), Some("chp55")), Some((ModelNumber, 0.95))),
        (query(None, None, Some("Graco"), Some("FHW12A")), Some((ModelNumber, 0.6))),
        (query(None, None, None, Some("Model # CHP55")), Some((ModelNumber, 0.8))),
        (query(None, None, None, Some("ab 200")), Some((ModelNumber, 0.8))),
        (query(None, None, None, Some("A1")), None),
        (query(None, None, None, Some("a-1")), None),
        (query(None, None, None, Some("CHP56")), None),
        (ProductQuery::default(), None),
        // A barcode beats everything.
        (
            query(Some("012345678905"), Some("Rock n Play"), Some("Graco"), Some("CHP55")),
            Some((ExactGtin, 1.0)),
        ),
    ];
    let r = rock_n_play();
    for (q, expected) in cases {
        let got = score_match(q, &r).map(|m| (m.match_type, m.confidence));
        assert_eq!(got, *expected, "{q:?}");
    }
}

#[test]
fn fuzzy_names_tolerate_typos_and_weigh_the_brand() {
    let r = rock_n_play();
    let score = |name: &str, brand: Option<&str>| score_match(&query(None, Some(name), brand, None), &r);

    let typo = score("Fisher Prce Rock n Play", None).expect("one typo per long word is tolerated");
    assert_eq!(typo.match_type, MatchType::FuzzyName);
    assert_eq!(typo.confidence, 0.77);

    let exact = score("Rock n Play Sleeper", Some("Fisher-Price")).unwrap();
    assert_eq!(
        exact,
        Match { match_type: MatchType::FuzzyName, confidence: 0.85 },
        "capped below a model match"
    );
    let no_brand = score("Rock n Play Sleeper", None).unwrap();
    assert!(exact.confidence > no_brand.confidence, "{exact:?} vs {no_brand:?}");
    let typo_other_brand = score("Fisher Prce Rock n Play", Some("Graco"));
    assert_eq!(typo_other_brand, None, "a disagreeing brand drops a fuzzy match below the threshold");

    let cases: &[(&str, Option<&str>)] = &[
        ("Graco Pack n Play Playard", Some("Graco")),
        ("Stroller", Some("Fisher-Price")),
        ("Fisher-Price stroller", Some("Fisher-Price")),
        ("Rock", None),
        ("baby recall for the sleepers due", None),
        ("Rick n Plan", None),
    ];
    for (name, brand) in cases {
        assert_eq!(score(name, *brand), None, "{name:?} / {brand:?}");
    }
}

#[test]
fn a_recall_grade_model_match_beats_a_more_confident_fuzzy_match() {
    let q = query(None, Some("Rock n Play Sleeper"), Some("Fisher-Price"), Some("CHP55"));
    let best = score_match(&q, &rock_n_play()).unwrap();
    assert_eq!(best, Match { match_type: MatchType::ModelNumber, confidence: 0.95 });
    let q = query(None, Some("Fisher-Price Rock n Play Sleeper"), None, Some("CHP55"));
    assert_eq!(score_match(&q, &rock_n_play()).unwrap().match_type, MatchType::ModelNumber);
    // With a disagreeing brand the model match stays, as a caution-grade one.
    let q = query(None, Some("Rock n Play Sleeper"), Some("Graco"), Some("CHP55"));
    assert_eq!(
        score_match(&q, &rock_n_play()),
        Some(Match { match_type: MatchType::ModelNumber, confidence: 0.6 })
    );
}

proptest! {
    #[test]
    fn fuzzy_confidence_is_bounded_and_rounded(
        words in proptest::collection::vec(
            prop::sample::select(vec!["fisher", "prce", "rock", "n", "play", "sleeper", "graco", "baby", "crib", "mattel"]),
            0..6,
        ),
        brand in prop::option::of(prop::sample::select(vec!["Fisher-Price", "Graco", "Mattel", "the"])),
    ) {
        let q = ProductQuery { name: Some(words.join(" ")), brand: brand.map(str::to_owned), ..ProductQuery::default() };
        if let Some(m) = score_match(&q, &rock_n_play()) {
            prop_assert_eq!(m.match_type, MatchType::FuzzyName);
            prop_assert!((FUZZY_MIN_CONFIDENCE..=FUZZY_MAX_CONFIDENCE).contains(&m.confidence));
            prop_assert_eq!((m.confidence * 100.0).round() / 100.0, m.confidence);
        }
    }
}

// ---------------------------------------------------------------- verdict

#[test]
fn verdict_follows_the_table() {
    let m = |match_type, confidence| Match { match_type, confidence };
    use MatchType::*;
    let cases: &[(&[Match], bool, Verdict)] = &[
        (&[], false, Verdict::NoKnownRecall),
        (&[], true, Verdict::Caution),
        (&[m(ExactGtin, 1.0)], false, Verdict::Recalled),
        (&[m(ModelNumber, 0.95)], false, Verdict::Recalled),
        (&[m(ModelNumber, 0.8)], false, Verdict::Recalled),
        (&[m(ModelNumber, 0.6)], false, Verdict::Caution),
        (&[m(ModelNumber, 0.6)], true, Verdict::Caution),
        (&[m(FuzzyName, 0.85)], false, Verdict::Caution),
        (&[m(FuzzyName, 0.5)], true, Verdict::Caution),
        (&[m(FuzzyName, 0.85), m(ModelNumber, 0.8)], false, Verdict::Recalled),
    ];
    for (matches, warnings, expected) in cases {
        assert_eq!(verdict(matches, *warnings), *expected, "{matches:?} warnings={warnings}");
    }
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap()
}

#[test]
fn safety_types_serialize_in_the_api_spelling() {
    assert_eq!(json(&Verdict::NoKnownRecall), "\"no_known_recall\"");
    assert_eq!(json(&MatchType::ExactGtin), "\"exact_gtin\"");
    assert_eq!(
        json(&Match { match_type: MatchType::FuzzyName, confidence: 0.77 }),
        r#"{"matchType":"fuzzy_name","confidence":0.77}"#
    );
    assert_eq!(
        json(&AgeWarning { rule: "small_parts", message: "m".into(), under_months: 36 }),
        r#"{"rule":"small_parts","message":"m","underMonths":36}"#
    );
    let q: ProductQuery = serde_json::from_str(r#"{"gtin":"0 12345 67890 5","name":"Sleeper"}"#).unwrap();
    assert_eq!(q.gtin.unwrap().as_str(), "00012345678905");
    assert_eq!(q.name.as_deref(), Some("Sleeper"));
    assert!(serde_json::from_str::<ProductQuery>(r#"{"gtin":"012345678906"}"#).is_err(), "bad check digit");
    assert_eq!(serde_json::from_str::<Verdict>("\"recalled\"").unwrap(), Verdict::Recalled);
    for v in [Verdict::Recalled, Verdict::Caution, Verdict::NoKnownRecall] {
        assert_eq!(json(&v), format!("\"{}\"", v.as_str()));
    }
    for t in [MatchType::ExactGtin, MatchType::ModelNumber, MatchType::FuzzyName] {
        assert_eq!(json(&t), format!("\"{}\"", t.as_str()));
    }
}
