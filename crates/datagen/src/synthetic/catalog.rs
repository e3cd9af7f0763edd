//! What synthetic recalls are about: product kinds per risk category and the
//! hazards each kind is realistically recalled for.

/// The contract's `riskCategory`, plus car seats, which only transport
/// agencies recall (they serialize as `baby_product`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    BabyProduct,
    CarSeat,
    Toy,
    Food,
    Drug,
    Device,
    Cosmetic,
    Supplement,
    Other,
}

impl Category {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Category::BabyProduct | Category::CarSeat => "baby_product",
            Category::Toy => "toy",
            Category::Food => "food",
            Category::Drug => "drug",
            Category::Device => "device",
            Category::Cosmetic => "cosmetic",
            Category::Supplement => "supplement",
            Category::Other => "other",
        }
    }

    pub(crate) fn kinds(self) -> &'static [ProductKind] {
        match self {
            Category::BabyProduct => BABY,
            Category::CarSeat => CAR_SEAT,
            Category::Toy => TOY,
            Category::Food => FOOD,
            Category::Drug => DRUG,
            Category::Device => DEVICE,
            Category::Cosmetic => COSMETIC,
            Category::Supplement => SUPPLEMENT,
            Category::Other => OTHER,
        }
    }

    /// Lot numbers matter for consumables, model numbers for durable goods.
    pub(crate) fn has_lots(self) -> bool {
        matches!(self, Category::Food | Category::Drug | Category::Cosmetic | Category::Supplement)
    }

    pub(crate) fn remedies(self) -> &'static [&'static str] {
        match self {
            Category::Food => &[
                "Do not eat the product; return it to the place of purchase for a full refund or throw it away.",
                "Consumers with an allergy should not eat the product and may return it for a refund.",
            ],
            Category::Drug | Category::Supplement | Category::Cosmetic => &[
                "Stop using the product and return it to the pharmacy or store for a refund; contact a healthcare provider with any concerns.",
                "Stop using the product and dispose of it; contact the company for a refund.",
            ],
            Category::Device => &[
                "Stop using the device and contact the manufacturer for a free replacement.",
                "Follow the firm's correction instructions; contact the manufacturer for a software update or repair.",
            ],
            Category::CarSeat => &[
                "The manufacturer will mail owners a free remedy kit; keep using the seat as instructed until it arrives.",
                "Contact the manufacturer for a free replacement part.",
            ],
            _ => &[
                "Stop using the product immediately and contact the firm for a full refund.",
                "Stop using the product and contact the firm for a free repair kit.",
                "Take the product away from children and return it for a refund or replacement.",
            ],
        }
    }
}

/// Why a product is recalled.
#[derive(Debug)]
pub(crate) struct Hazard {
    /// Title-case for titles, e.g. "Suffocation Hazard".
    pub(crate) title: &'static str,
    /// The `hazardCategory` value.
    pub(crate) category: &'static str,
    /// Typical severity: 0 low, 1 medium, 2 high, 3 critical.
    pub(crate) severity: u8,
    pub(crate) sentence: &'static str,
}

#[derive(Debug)]
pub(crate) struct ProductKind {
    pub(crate) plural: &'static str,
    pub(crate) singular: &'static str,
    pub(crate) hazards: &'static [Hazard],
}

macro_rules! hazard {
    ($title:literal, $cat:literal, $sev:literal, $sentence:literal) => {
        Hazard { title: $title, category: $cat, severity: $sev, sentence: $sentence }
    };
}

macro_rules! kind {
    ($plural:literal, $singular:literal, $hazards:expr) => {
        ProductKind { plural: $plural, singular: $singular, hazards: $hazards }
    };
}

const SLEEP: &[Hazard] = &[
    hazard!(
        "Suffocation Hazard",
        "suffocation",
        3,
        "Infants can roll into a position that obstructs breathing or become trapped against soft padding, posing a suffocation risk."
    ),
    hazard!(
        "Entrapment and Suffocation Hazards",
        "suffocation",
        3,
        "A gap can form between the mattress and the side of the product in which an infant can become trapped."
    ),
    hazard!(
        "Fall Hazard",
        "other",
        2,
        "The support can collapse or tilt during use, and the infant can fall."
    ),
];
const CRIB: &[Hazard] = &[
    hazard!(
        "Entrapment and Strangulation Hazards",
        "suffocation",
        3,
        "A crib slat or side rail can detach, creating a gap in which an infant can become entrapped."
    ),
    hazard!(
        "Suffocation Hazard",
        "suffocation",
        3,
        "The mattress support can detach, creating a gap between the mattress and the crib side."
    ),
    hazard!(
        "Lead Poisoning Hazard",
        "chemical",
        2,
        "The crib's paint contains levels of lead that exceed the federal lead paint limit."
    ),
];
const FALL: &[Hazard] = &[
    hazard!(
        "Fall Hazard",
        "other",
        2,
        "A structural part can break or detach during use, causing the child to fall."
    ),
    hazard!(
        "Fingertip Amputation Hazard",
        "laceration",
        2,
        "The folding mechanism can pinch or amputate a child's fingertip."
    ),
    hazard!("Tip-Over Hazard", "other", 2, "The product can tip over while a child is in it."),
];
const WALKER: &[Hazard] = &[hazard!(
    "Fall Hazard",
    "other",
    2,
    "The walker can fit through a doorway and does not stop at the edge of a step, so a child can fall down stairs."
)];
const BATH: &[Hazard] = &[hazard!(
    "Drowning Hazard",
    "other",
    3,
    "The seat can tip over in the bath or an infant can slip through the leg openings and drown."
)];
const SMALL: &[Hazard] = &[
    hazard!(
        "Choking Hazard",
        "choking",
        2,
        "Small parts can detach from the product, posing a choking hazard to young children."
    ),
    hazard!(
        "Choking Hazard",
        "choking",
        2,
        "The product can break into small pieces when chewed, posing a choking hazard to infants."
    ),
];
const CORD: &[Hazard] = &[
    hazard!(
        "Strangulation Hazard",
        "suffocation",
        3,
        "The cord can be pulled within reach of a child and wrap around the child's neck."
    ),
    hazard!(
        "Burn and Fire Hazards",
        "fire",
        2,
        "The power adapter can overheat during use, posing burn and fire hazards."
    ),
];
const ELECTRIC: &[Hazard] = &[
    hazard!(
        "Burn and Fire Hazards",
        "fire",
        2,
        "The product can overheat during use, posing burn and fire hazards."
    ),
    hazard!(
        "Electric Shock Hazard",
        "other",
        2,
        "The housing can separate and expose energized parts, posing an electric shock hazard."
    ),
];
const TOY_HAZARDS: &[Hazard] = &[
    hazard!(
        "Choking Hazard",
        "choking",
        2,
        "Small parts can detach from the toy, posing a choking hazard to children under three."
    ),
    hazard!(
        "Magnet Ingestion Hazard",
        "other",
        3,
        "Swallowed high-powered magnets can attract each other inside the intestines, causing perforations, blockages and death."
    ),
    hazard!(
        "Button Battery Ingestion Hazard",
        "other",
        3,
        "The battery compartment can be opened easily; swallowed button batteries can cause serious internal burns and death."
    ),
    hazard!(
        "Lead Poisoning Hazard",
        "chemical",
        2,
        "The surface paint contains lead above the legal limit; lead is toxic if ingested by young children."
    ),
    hazard!(
        "Chemical Hazard",
        "chemical",
        1,
        "The plastic contains phthalates above the legal limit, which may harm children's health."
    ),
    hazard!("Laceration Hazard", "laceration", 1, "Sharp edges on the toy can cut a child."),
];
const TIPOVER: &[Hazard] = &[hazard!(
    "Tip-Over and Entrapment Hazards",
    "other",
    3,
    "The unit is unstable if not anchored to the wall and can tip over onto a child."
)];
const DRAWSTRING: &[Hazard] = &[
    hazard!(
        "Strangulation Hazard",
        "suffocation",
        2,
        "The drawstring at the hood or neck can become entangled, posing a strangulation hazard."
    ),
    hazard!(
        "Burn Hazard",
        "fire",
        1,
        "The garment fails the flammability standard for children's sleepwear."
    ),
];
const CAR_SEAT_HAZARDS: &[Hazard] = &[
    hazard!(
        "Increased Risk of Injury in a Crash",
        "other",
        2,
        "The harness or buckle may not hold in a crash, increasing the risk of injury."
    ),
    hazard!(
        "Increased Risk of Injury in a Crash",
        "other",
        2,
        "The seat may not meet the federal crash-test requirements."
    ),
    hazard!("Flammability Hazard", "fire", 1, "The seat fabric may not meet the flammability standard."),
];
const MICROBIAL: &[Hazard] = &[
    hazard!(
        "Salmonella Contamination",
        "microbial",
        2,
        "The product may be contaminated with Salmonella, which can cause serious infections in young children."
    ),
    hazard!(
        "Listeria Contamination",
        "microbial",
        2,
        "The product may be contaminated with Listeria monocytogenes, which can cause serious and sometimes fatal infections."
    ),
    hazard!("E. coli Contamination", "microbial", 2, "The product may be contaminated with E. coli O157:H7."),
    hazard!(
        "Cronobacter Contamination",
        "microbial",
        3,
        "The product may be contaminated with Cronobacter sakazakii, which can be deadly in newborn infants."
    ),
    hazard!(
        "Foreign Matter Contamination",
        "other",
        1,
        "The product may contain pieces of hard plastic or metal."
    ),
    hazard!("Elevated Lead Levels", "chemical", 2, "Testing found elevated levels of lead in the product."),
];
const DRUG_HAZARDS: &[Hazard] = &[
    hazard!(
        "Dosing Error Hazard",
        "other",
        2,
        "The dosing device is marked incorrectly, which could lead to an accidental overdose."
    ),
    hazard!(
        "Microbial Contamination",
        "microbial",
        2,
        "The product may be contaminated with bacteria, yeast or mold."
    ),
    hazard!(
        "Lack of Sterility Assurance",
        "microbial",
        2,
        "The product may not be sterile, which can lead to infection."
    ),
    hazard!(
        "Superpotent Product",
        "other",
        2,
        "The product may contain more active ingredient than labeled."
    ),
    hazard!(
        "Failure to Meet Child-Resistant Packaging Requirements",
        "chemical",
        2,
        "The packaging is not child-resistant; swallowing the contents can poison a young child."
    ),
    hazard!(
        "Methanol Contamination",
        "chemical",
        3,
        "The product contains methanol, which is toxic when absorbed through the skin or swallowed."
    ),
];
const DEVICE_HAZARDS: &[Hazard] = &[
    hazard!("Burn Hazard", "fire", 2, "The battery can overheat while charging."),
    hazard!(
        "Inaccurate Readings",
        "other",
        1,
        "The device may display incorrect readings, which could delay treatment."
    ),
    hazard!(
        "Choking Hazard",
        "choking",
        2,
        "A small part of the device can detach and be swallowed by a child."
    ),
];
const COSMETIC_HAZARDS: &[Hazard] = &[
    hazard!(
        "Microbial Contamination",
        "microbial",
        1,
        "The product may be contaminated with bacteria that can cause infections in infants."
    ),
    hazard!("Chemical Hazard", "chemical", 1, "The product contains a substance prohibited in cosmetics."),
];

const BABY: &[ProductKind] = &[
    kind!("Convertible Cribs", "convertible crib", CRIB),
    kind!("Full-Size Cribs", "full-size crib", CRIB),
    kind!("Crib Mattresses", "crib mattress", SLEEP),
    kind!("Bedside Bassinets", "bedside bassinet", SLEEP),
    kind!("Infant Loungers", "infant lounger", SLEEP),
    kind!("Inclined Sleepers", "inclined sleeper", SLEEP),
    kind!("Play Yards", "play yard", SLEEP),
    kind!("Sleep Sacks", "sleep sack", SLEEP),
    kind!("Infant Swings", "infant swing", SLEEP),
    kind!("Baby Bouncers", "baby bouncer", FALL),
    kind!("Strollers", "stroller", FALL),
    kind!("Jogging Strollers", "jogging stroller", FALL),
    kind!("High Chairs", "high chair", FALL),
    kind!("Baby Carriers", "baby carrier", FALL),
    kind!("Baby Gates", "baby gate", FALL),
    kind!("Changing Tables", "changing table", FALL),
    kind!("Baby Walkers", "baby walker", WALKER),
    kind!("Infant Bath Seats", "infant bath seat", BATH),
    kind!("Pacifiers", "pacifier", SMALL),
    kind!("Pacifier Clips", "pacifier clip", SMALL),
    kind!("Teething Rings", "teething ring", SMALL),
    kind!("Baby Monitors", "baby monitor", CORD),
    kind!("Bottle Warmers", "bottle warmer", ELECTRIC),
    kind!("Sound Machines", "sound machine", ELECTRIC),
];
const CAR_SEAT: &[ProductKind] = &[
    kind!("Infant Car Seats", "infant car seat", CAR_SEAT_HAZARDS),
    kind!("Convertible Car Seats", "convertible car seat", CAR_SEAT_HAZARDS),
    kind!("Booster Seats", "booster seat", CAR_SEAT_HAZARDS),
    kind!("Car Seat Bases", "car seat base", CAR_SEAT_HAZARDS),
];
const TOY: &[ProductKind] = &[
    kind!("Rattles", "rattle", TOY_HAZARDS),
    kind!("Stacking Toys", "stacking toy", TOY_HAZARDS),
    kind!("Plush Toys", "plush toy", TOY_HAZARDS),
    kind!("Magnetic Building Sets", "magnetic building set", TOY_HAZARDS),
    kind!("Light-Up Toys", "light-up toy", TOY_HAZARDS),
    kind!("Bath Toys", "bath toy", TOY_HAZARDS),
    kind!("Wooden Puzzles", "wooden puzzle", TOY_HAZARDS),
    kind!("Activity Cubes", "activity cube", TOY_HAZARDS),
    kind!("Water Bead Kits", "water bead kit", SMALL),
    kind!("Slime Kits", "slime kit", TOY_HAZARDS),
    kind!("Ride-On Toys", "ride-on toy", FALL),
    kind!("Play Tents", "play tent", FALL),
];
const FOOD: &[ProductKind] = &[
    kind!("Granola Bars", "granola bar", MICROBIAL),
    kind!("Chocolate Chip Cookies", "chocolate chip cookie", MICROBIAL),
    kind!("Toddler Puffs", "toddler puff", MICROBIAL),
    kind!("Teething Wafers", "teething wafer", MICROBIAL),
    kind!("Infant Formula", "infant formula", MICROBIAL),
    kind!("Fruit Puree Pouches", "fruit puree pouch", MICROBIAL),
    kind!("Baby Cereal", "baby cereal", MICROBIAL),
    kind!("Yogurt Melts", "yogurt melt", MICROBIAL),
    kind!("Cheese Crackers", "cheese cracker", MICROBIAL),
    kind!("Chicken Nuggets", "chicken nugget", MICROBIAL),
    kind!("Frozen Meals", "frozen meal", MICROBIAL),
    kind!("Ice Cream Bars", "ice cream bar", MICROBIAL),
    kind!("Trail Mix", "trail mix", MICROBIAL),
    kind!("Pesto Sauce", "pesto sauce", MICROBIAL),
    kind!("Bread Rolls", "bread roll", MICROBIAL),
    kind!("Dumplings", "dumpling", MICROBIAL),
    kind!("Smoked Salmon", "smoked salmon", MICROBIAL),
    kind!("Deli Meats", "deli meat", MICROBIAL),
    kind!("Applesauce Cups", "applesauce cup", MICROBIAL),
    kind!("Protein Bars", "protein bar", MICROBIAL),
];
const DRUG: &[ProductKind] = &[
    kind!("Infants' Acetaminophen Oral Suspension", "infants' acetaminophen oral suspension", DRUG_HAZARDS),
    kind!("Children's Ibuprofen Oral Suspension", "children's ibuprofen oral suspension", DRUG_HAZARDS),
    kind!("Children's Cough Syrup", "children's cough syrup", DRUG_HAZARDS),
    kind!("Lubricant Eye Drops", "lubricant eye drop", DRUG_HAZARDS),
    kind!("Saline Nasal Drops", "saline nasal drop", DRUG_HAZARDS),
    kind!("Hand Sanitizer", "hand sanitizer", DRUG_HAZARDS),
    kind!("Teething Gel", "teething gel", DRUG_HAZARDS),
    kind!("Allergy Relief Syrup", "allergy relief syrup", DRUG_HAZARDS),
];
const DEVICE: &[ProductKind] = &[
    kind!("Digital Thermometers", "digital thermometer", DEVICE_HAZARDS),
    kind!("Breast Pumps", "breast pump", DEVICE_HAZARDS),
    kind!("Pediatric Nebulizers", "pediatric nebulizer", DEVICE_HAZARDS),
    kind!("Nasal Aspirators", "nasal aspirator", DEVICE_HAZARDS),
    kind!("Pulse Oximeters", "pulse oximeter", DEVICE_HAZARDS),
];
const COSMETIC: &[ProductKind] = &[
    kind!("Baby Shampoo", "baby shampoo", COSMETIC_HAZARDS),
    kind!("Diaper Rash Cream", "diaper rash cream", COSMETIC_HAZARDS),
    kind!("Baby Wipes", "baby wipe", COSMETIC_HAZARDS),
    kind!("Kids' Sunscreen", "kids' sunscreen", COSMETIC_HAZARDS),
    kind!("Baby Lotion", "baby lotion", COSMETIC_HAZARDS),
];
const SUPPLEMENT: &[ProductKind] = &[
    kind!("Children's Gummy Vitamins", "children's gummy vitamin", DRUG_HAZARDS),
    kind!("Infant Probiotic Drops", "infant probiotic drop", COSMETIC_HAZARDS),
    kind!("Kids' Melatonin Gummies", "kids' melatonin gummy", DRUG_HAZARDS),
    kind!("Iron Drops", "iron drop", DRUG_HAZARDS),
];
const OTHER: &[ProductKind] = &[
    kind!("Dressers", "dresser", TIPOVER),
    kind!("Bookcases", "bookcase", TIPOVER),
    kind!("Children's Hooded Sweatshirts", "children's hooded sweatshirt", DRAWSTRING),
    kind!("Children's Pajamas", "children's pajama set", DRAWSTRING),
    kind!("Window Blinds", "window blind", CORD),
    kind!("Space Heaters", "space heater", ELECTRIC),
    kind!("Night Lights", "night light", ELECTRIC),
];

/// Allergens as food recalls name them ("undeclared milk").
pub(crate) const ALLERGENS: &[&str] = &[
    "milk",
    "milk",
    "milk",
    "egg",
    "egg",
    "peanuts",
    "peanuts",
    "tree nuts",
    "almonds",
    "cashews",
    "walnuts",
    "hazelnuts",
    "pecans",
    "soy",
    "soy",
    "wheat",
    "wheat",
    "sesame",
    "sesame",
    "fish",
    "shellfish",
    "shrimp",
    "crab",
    "mustard",
    "celery",
    "sulphites",
    "lupin",
];
