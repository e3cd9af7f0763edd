//! About two thousand invented brand names, each with its own GS1 company
//! number, chosen per recall with a Zipf law: a few brands recall often, most
//! appear once or twice, as in real recall databases.

use super::rng::Rng;
use super::zipf::Zipf;
use std::collections::HashSet;

const FIRST: [&str; 48] = [
    "Little", "Tiny", "Happy", "Sunny", "Maple", "Cedar", "Bright", "Cozy", "Gentle", "Willow", "Acorn",
    "Bluebird", "Pebble", "Moonbeam", "Starling", "Honey", "Meadow", "Harbor", "River", "Golden", "Silver",
    "Clover", "Juniper", "Hazel", "Aspen", "Coral", "Misty", "Lucky", "Jolly", "Snug", "Peachy", "Minty",
    "Sprout", "Nimble", "Cloud", "Velvet", "Kiwi", "Lemon", "Poppy", "Orchard", "Prairie", "Summit",
    "Lakeside", "Northern", "Pacific", "Coastal", "Hearth", "Wren",
];
const SECOND: [&str; 48] = [
    "Sprout", "Nest", "Bee", "Cub", "Bear", "Lane", "Path", "Cradle", "Bloom", "Button", "Bunny", "Owl",
    "Fox", "Lamb", "Duck", "Wave", "Leaf", "Sky", "Star", "Moon", "Sun", "Hill", "Brook", "Grove", "Garden",
    "Kitchen", "Pantry", "Farm", "Mill", "Bakery", "Table", "Spoon", "Cup", "Basket", "Blocks", "Tots",
    "Steps", "Giggles", "Dreams", "Hugs", "Paws", "Wings", "Pine", "Oak", "Stone", "Bridge", "Harvest",
    "Valley",
];
const SUFFIX: [&str; 12] =
    ["", "", "", "", "Baby", "Kids", "Co.", "& Co.", "Labs", "Brands", "Home", "Goods"];

/// Number of brands (the Zipf support).
const BRANDS: usize = 2_000;
/// Zipf exponent for brand choice.
const EXPONENT: f64 = 1.1;

#[derive(Debug, Clone)]
pub(crate) struct Brand {
    pub(crate) name: String,
    /// Five digits identifying the brand owner in its barcodes.
    pub(crate) company: u32,
}

pub(crate) struct Brands {
    brands: Vec<Brand>,
    zipf: Zipf,
}

impl Brands {
    /// The catalogue is the same for every seed (it is built from a fixed
    /// stream) so brand names stay stable across generated data sets; only
    /// which brand a recall names depends on the seed.
    pub(crate) fn new() -> Brands {
        let mut rng = Rng::new(0x6272_616e_6473);
        let mut names = HashSet::new();
        let mut companies = HashSet::new();
        let mut brands = Vec::with_capacity(BRANDS);
        while brands.len() < BRANDS {
            let suffix = rng.pick(&SUFFIX);
            let name = if suffix.is_empty() {
                format!("{} {}", rng.pick(&FIRST), rng.pick(&SECOND))
            } else {
                format!("{} {} {suffix}", rng.pick(&FIRST), rng.pick(&SECOND))
            };
            let company = 10_000 + rng.below(90_000) as u32;
            if names.contains(&name) || !companies.insert(company) {
                continue;
            }
            names.insert(name.clone());
            brands.push(Brand { name, company });
        }
        Brands { brands, zipf: Zipf::new(BRANDS as u64, EXPONENT) }
    }

    /// The index of a Zipf-chosen brand (index 0 is the most frequent).
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        (self.zipf.sample(rng) - 1) as usize
    }

    pub(crate) fn get(&self, index: usize) -> &Brand {
        &self.brands[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_two_thousand_distinct_brands() {
        let brands = Brands::new();
        let names: HashSet<_> = brands.brands.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names.len(), BRANDS);
    }

    #[test]
    fn the_most_popular_brand_is_much_more_common_than_a_rare_one() {
        let brands = Brands::new();
        let mut rng = Rng::new(9);
        let top = brands.brands[0].name.clone();
        let rare = brands.brands[1_500].name.clone();
        let (mut top_count, mut rare_count) = (0, 0);
        for _ in 0..50_000 {
            let name = &brands.get(brands.sample(&mut rng)).name;
            top_count += usize::from(*name == top);
            rare_count += usize::from(*name == rare);
        }
        assert!(top_count > 50 * rare_count.max(1), "{top_count} vs {rare_count}");
    }
}
