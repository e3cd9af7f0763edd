//! The word list behind generated descriptions.
//!
//! Real recall text follows Zipf's law and keeps growing its vocabulary with
//! corpus size (Heaps' law); a search index behaves very differently on a
//! fixed 500-word vocabulary. Ranks are therefore drawn from a Zipf law over
//! two million ranks: the first ranks are real English words about babies,
//! products, food and medicine, then derived English-ish forms, and every
//! rank beyond those is a pronounceable pseudo-word minted from the rank, so
//! larger data sets naturally contain more distinct words.

use super::rng::Rng;
use super::zipf::Zipf;
use std::collections::HashSet;

/// Ordered roughly from common to rare; the order is the Zipf rank.
const BASE_WORDS: &str = "\
the and of to in for with a on by was were product products recall recalled \
consumers children child baby infant infants units sold reported reports may \
can from or be has have not use used using contact company firm retailer \
refund replacement stop immediately safety hazard risk injury injuries \
incidents label labeled model models lot lots batch date dates package \
packaging bottle bottles box boxes bag bags pouch pouches jar jars can cans \
toddler toddlers newborn parents caregivers home stores online nationwide \
retail retailers distributed distribution store pharmacy pharmacies grocery \
crib cribs bassinet bassinets stroller strollers seat seats carrier carriers \
chair chairs gate gates mattress mattresses blanket blankets pillow pillows \
toy toys rattle rattles teether teethers pacifier pacifiers clip clips bead \
beads strap straps buckle buckles harness wheel wheels frame frames hinge \
fabric foam plastic metal wood wooden glass rubber silicone cotton polyester \
battery batteries button magnet magnets cord cords string strings screw screws \
small part parts piece pieces detach detached break broken crack cracked \
loose sharp edge edges point points gap gaps opening openings fall falls \
tip tipping unstable collapse collapsed fold folding lock locking latch \
choking suffocation strangulation entrapment laceration burn burns fire \
shock electrical overheat overheating drowning poisoning ingestion swallowed \
lead phthalates boron chemical chemicals methanol toxic exposure level levels \
food foods milk egg eggs peanut peanuts tree nut nuts almond almonds cashew \
cashews walnut walnuts hazelnut hazelnuts pecan pecans soy wheat gluten sesame \
fish shellfish shrimp crab mustard celery sulphites lupin allergen allergens \
allergy allergic reaction reactions undeclared ingredient ingredients contains \
containing cookies crackers bars cereal snacks puffs wafers biscuits bread \
cake cakes muffins chocolate candy yogurt cheese butter cream sauce soup \
pasta noodles rice oats granola cinnamon applesauce puree fruit fruits \
vegetable vegetables apple banana mango berries strawberry pear peach carrot \
pumpkin spinach chicken beef pork turkey sausage nuggets meatballs dumplings \
formula powder powdered liquid concentrate infant-formula feeding bottle-fed \
salmonella listeria cronobacter botulism coli bacteria bacterial contamination \
contaminated mold mould yeast virus norovirus hepatitis illness illnesses \
fever diarrhea vomiting nausea cramps symptoms hospitalized hospitalization \
death deaths died fatal serious severe minor bruises cuts abrasions \
medicine medicines medication drug drugs tablet tablets capsule capsules \
syrup suspension drops dose doses dosing dosage syringe cup oral acetaminophen \
ibuprofen paracetamol cough cold allergy-relief teething gel ointment cream \
eye eyes sterile sterility nonsterile vitamin vitamins supplement supplements \
gummies iron melatonin probiotic device devices monitor monitors sensor \
thermometer nebulizer pump pumps breast humidifier charger adapter adapters \
cable cables plug plugs outlet power light lights lamp nightlight sound \
machine speaker remote control controller app wireless camera video audio \
sleep sleeper sleepers sleeping nap lounger loungers rocker rockers swing \
swings bouncer bouncers incline inclined recline reclined flat firm soft \
padded bumper bumpers sheet sheets sack sacks swaddle swaddles wrap wraps \
playard playards playpen yard play playmat mat mats walker walkers jumper \
activity center centers table tables dresser dressers chest drawers furniture \
bed beds bunk shelf shelves bookcase cabinet wall anchor anchors anchoring \
kit kits tether tethers car booster convertible rear-facing forward-facing \
base bases installation install installed manual instructions warning \
warnings sticker stickers tag tags code codes number numbers serial upc \
barcode printed bottom side back front top inside outside left right \
color colors blue pink white black gray green red yellow purple orange \
size sizes inch inches pounds ounces grams months years age ages older \
younger weight height length width between through about approximately \
million thousand hundred dozens several multiple single each every all \
some any none only also including include includes included such other \
new older previous current federal standard standards regulation regulations \
requirement requirements comply compliance violate violation mandatory \
voluntary agency commission administration inspection tested testing test \
laboratory analysis sample samples found detected confirmed identified \
investigation investigating outbreak cases case linked associated potential \
possible possibly potentially likely unlikely known unknown additional \
customers customer service phone email website visit call free shipping \
return returned returning dispose discard destroy destroyed throw away \
remove removed removal repair repaired repairs fix fixed voucher credit \
notice notices notification notified announcement announced posted update \
updated expanded expansion original reannounced reannouncement extended \
manufactured manufacturer manufacturers imported importer importers made \
china mexico canada vietnam india turkey poland italy germany france spain \
market marketed marketing brand brands branded private-label exclusive \
amazon walmart target costco kroger walgreens cvs dollar discount department \
season summer winter spring autumn holiday holidays gift gifts set sets \
pack packs bundle bundles variety assorted flavor flavors flavored original \
organic natural plant-based dairy-free gluten-free nut-free sugar-free \
gentle sensitive hypoallergenic fragrance-free scented lotion shampoo wash \
soap wipes diaper diapers diapering changing pad pads liner liners cover \
covers case cases bin bins basket baskets container containers lid lids \
handle handles knob knobs tray trays cushion cushions insert inserts \
canopy mobile mobiles arch hanging attached attachment accessories \
accessory spare replacement-parts hardware bolt bolts nut-and-bolt washer \
spring springs rod rods tube tubes panel panels rail rails slat slats leg \
legs foot footrest armrest headrest canopy-frame basket-frame seat-belt";

/// Endings for derived English-ish forms (ranks after the base words).
const SUFFIXES: [&str; 8] = ["s", "ing", "ed", "er", "ness", "able", "less", "ly"];

/// Syllables for pseudo-words; the rank is written in this base.
const SYLLABLES: [&str; 32] = [
    "ba", "be", "bo", "da", "de", "di", "fa", "fi", "ga", "go", "ka", "ki", "ko", "la", "le", "li", "lo",
    "ma", "me", "mi", "mo", "na", "ne", "no", "pa", "pi", "ra", "ri", "sa", "so", "ta", "to",
];

/// Total Zipf ranks; beyond the real and derived words, ranks are pseudo-words.
const RANKS: u64 = 2_000_000;
/// Exponent of the word-frequency law (natural language sits near 1).
const EXPONENT: f64 = 1.2;

pub(crate) struct Vocabulary {
    words: Vec<String>,
    zipf: Zipf,
}

impl Vocabulary {
    pub(crate) fn new() -> Vocabulary {
        let base: Vec<&str> = BASE_WORDS.split_whitespace().collect();
        let mut seen = HashSet::new();
        let mut words = Vec::new();
        let derived = SUFFIXES.iter().flat_map(|suffix| {
            base.iter()
                .filter(move |w| w.len() > 3 && !w.contains('-') && !w.ends_with(suffix))
                .map(move |w| format!("{w}{suffix}"))
        });
        for word in base.iter().map(|w| (*w).to_owned()).chain(derived) {
            if seen.insert(word.clone()) {
                words.push(word);
            }
        }
        Vocabulary { words, zipf: Zipf::new(RANKS, EXPONENT) }
    }

    /// Appends one Zipf-distributed word.
    pub(crate) fn push_word(&self, rng: &mut Rng, out: &mut Vec<u8>) {
        let rank = self.zipf.sample(rng) - 1;
        match self.words.get(rank as usize) {
            Some(word) => out.extend_from_slice(word.as_bytes()),
            None => push_pseudo_word(rank - self.words.len() as u64, out),
        }
    }

    /// Appends `count` space-separated words.
    pub(crate) fn push_words(&self, rng: &mut Rng, count: usize, out: &mut Vec<u8>) {
        for i in 0..count {
            if i > 0 {
                out.push(b' ');
            }
            self.push_word(rng, out);
        }
    }

    #[cfg(test)]
    pub(crate) fn real_word_count(&self) -> usize {
        self.words.len()
    }
}

/// A distinct pronounceable word for every index: the index in base 32,
/// one syllable per digit, at least two syllables.
fn push_pseudo_word(index: u64, out: &mut Vec<u8>) {
    let mut syllables = [0usize; 13];
    let mut len = 0;
    let mut v = index;
    loop {
        syllables[len] = (v % 32) as usize;
        len += 1;
        v /= 32;
        if v == 0 {
            break;
        }
    }
    if len == 1 {
        // Keep one-syllable indices distinct from two-syllable ones.
        syllables[1] = 31;
        len = 2;
        out.extend_from_slice(b"z");
    }
    for &s in syllables[..len].iter().rev() {
        out.extend_from_slice(SYLLABLES[s].as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_a_few_thousand_real_and_derived_words() {
        let vocab = Vocabulary::new();
        assert!(vocab.real_word_count() > 3_000, "{}", vocab.real_word_count());
    }

    #[test]
    fn pseudo_words_are_distinct_per_index() {
        let mut seen = HashSet::new();
        for i in 0..50_000 {
            let mut out = Vec::new();
            push_pseudo_word(i, &mut out);
            assert!(seen.insert(out), "duplicate pseudo-word for {i}");
        }
    }

    #[test]
    fn vocabulary_grows_with_text_length() {
        let vocab = Vocabulary::new();
        let mut rng = Rng::new(3);
        let mut distinct = HashSet::new();
        let mut sizes = Vec::new();
        for round in 0..3 {
            for _ in 0..(10_000 * (round + 1)) {
                let mut w = Vec::new();
                vocab.push_word(&mut rng, &mut w);
                distinct.insert(w);
            }
            sizes.push(distinct.len());
        }
        assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    }
}
