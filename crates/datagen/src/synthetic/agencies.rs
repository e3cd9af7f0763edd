//! Which agencies issue synthetic recalls, how often, and for what.
//!
//! Weights follow the real mix: the U.S. CPSC and FDA publish most recalls,
//! the other 40 agencies a long tail, and every one appears at scale.

use super::catalog::Category::{self, *};
use super::rng::Rng;

/// How an agency's notices are usually titled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TitleStyle {
    /// "{Brand} Recalls {Products} Due to {Hazard}"
    UsRecalls,
    /// "{Brand} brand {products} recalled due to {hazard}"
    Canada,
    /// "{Product} ({Brand}) - {Hazard}"
    Alert,
}

#[derive(Debug)]
pub(crate) struct AgencyProfile {
    pub(crate) code: &'static str,
    pub(crate) country: &'static str,
    /// Base URL of the agency's recall pages.
    pub(crate) site: &'static str,
    pub(crate) weight: u32,
    /// GS1 prefix for EAN-13 barcodes; `None` for UPC-A markets (US, Canada).
    pub(crate) ean_prefix: Option<u16>,
    pub(crate) style: TitleStyle,
    pub(crate) categories: &'static [Category],
}

const CONSUMER: &[Category] = &[BabyProduct, BabyProduct, Toy, Toy, Other];
const FOOD: &[Category] = &[Food];
const HEALTH: &[Category] = &[Drug, Drug, Device, Cosmetic, Supplement];
const FDA: &[Category] = &[Food, Food, Food, Drug, Drug, Device, Cosmetic, Supplement];
const CAR_SEATS: &[Category] = &[CarSeat];
const EVERYTHING: &[Category] = &[BabyProduct, Toy, Food, Food, Drug, Cosmetic, Other];
const HEALTH_CANADA: &[Category] = &[BabyProduct, BabyProduct, Toy, Drug, Device, Cosmetic, Other];
const NON_FOOD: &[Category] = &[BabyProduct, BabyProduct, Toy, Toy, Cosmetic, Other];
const FOOD_AND_HEALTH: &[Category] = &[Food, Food, Drug, Device, Cosmetic];

use TitleStyle::{Alert, Canada, UsRecalls};

macro_rules! agency {
    ($code:literal, $country:literal, $site:literal, $weight:literal, $ean:expr, $style:expr, $cats:expr) => {
        AgencyProfile {
            code: $code,
            country: $country,
            site: $site,
            weight: $weight,
            ean_prefix: $ean,
            style: $style,
            categories: $cats,
        }
    };
}

#[rustfmt::skip]
pub(crate) const AGENCIES: [AgencyProfile; 42] = [
    agency!("CPSC", "United States", "https://www.cpsc.gov/Recalls", 220, None, UsRecalls, CONSUMER),
    agency!("FDA", "United States", "https://www.fda.gov/safety/recalls-market-withdrawals-safety-alerts", 220, None, UsRecalls, FDA),
    agency!("NHTSA", "United States", "https://www.nhtsa.gov/recalls", 25, None, UsRecalls, CAR_SEATS),
    agency!("USDA_FSIS", "United States", "https://www.fsis.usda.gov/recalls-alerts", 40, None, UsRecalls, FOOD),
    agency!("HEALTH_CANADA", "Canada", "https://recalls-rappels.canada.ca/en/alert-recall", 60, None, Canada, HEALTH_CANADA),
    agency!("CFIA", "Canada", "https://recalls-rappels.canada.ca/en/alert-recall", 50, None, Canada, FOOD),
    agency!("TRANSPORT_CANADA", "Canada", "https://tc.canada.ca/en/road-transportation/child-car-seat-safety/recalls", 8, None, Canada, CAR_SEATS),
    agency!("PROFECO", "Mexico", "https://www.gob.mx/profeco/documentos", 6, Some(750), Alert, NON_FOOD),
    agency!("COFEPRIS", "Mexico", "https://www.gob.mx/cofepris/articulos", 6, Some(750), Alert, FOOD_AND_HEALTH),
    agency!("EU_SAFETY_GATE", "European Union", "https://ec.europa.eu/safety-gate-alerts/screen/webReport/alertDetail", 70, Some(400), Alert, NON_FOOD),
    agency!("UK_OPSS", "United Kingdom", "https://www.gov.uk/product-safety-alerts-reports-recalls", 20, Some(501), Alert, CONSUMER),
    agency!("UK_FSA", "United Kingdom", "https://www.food.gov.uk/news-alerts/alert", 25, Some(502), Alert, FOOD),
    agency!("UK_TRADING_STANDARDS", "United Kingdom", "https://www.tradingstandards.uk/consumers/product-recalls", 6, Some(503), Alert, CONSUMER),
    agency!("UK_DVSA", "United Kingdom", "https://www.check-vehicle-recalls.service.gov.uk/recall", 3, Some(504), Alert, CAR_SEATS),
    agency!("UK_MHRA", "United Kingdom", "https://www.gov.uk/drug-device-alerts", 10, Some(505), Alert, HEALTH),
    agency!("RAPPEL_CONSO", "France", "https://rappel.conso.gouv.fr/fiche-rappel", 30, Some(300), Alert, EVERYTHING),
    agency!("LEBENSMITTELWARNUNG", "Germany", "https://www.lebensmittelwarnung.de/bvl-lmw-de/detail/lebensmittel", 15, Some(401), Alert, FOOD),
    agency!("NVWA", "Netherlands", "https://www.nvwa.nl/onderwerpen/veiligheidswaarschuwingen", 8, Some(871), Alert, EVERYTHING),
    agency!("AESAN", "Spain", "https://www.aesan.gob.es/AECOSAN/web/seguridad_alimentaria/alertas_alimentarias", 8, Some(841), Alert, FOOD),
    agency!("MINISTRY_HEALTH_ITALY", "Italy", "https://www.salute.gov.it/portale/news/richiami", 8, Some(800), Alert, FOOD_AND_HEALTH),
    agency!("FCAB", "Switzerland", "https://www.konsum.admin.ch/bfk/en/home/product-recalls", 3, Some(761), Alert, NON_FOOD),
    agency!("FSVO", "Switzerland", "https://www.blv.admin.ch/blv/en/home/lebensmittel-und-ernaehrung/rueckrufe", 4, Some(762), Alert, FOOD),
    agency!("SWISSMEDIC", "Switzerland", "https://www.swissmedic.ch/swissmedic/en/home/humanarzneimittel/market-surveillance", 3, Some(763), Alert, HEALTH),
    agency!("CONSUMER_AGENCY_SWEDEN", "Sweden", "https://www.konsumentverket.se/aterkallelser", 3, Some(731), Alert, NON_FOOD),
    agency!("FOOD_AGENCY_SWEDEN", "Sweden", "https://www.livsmedelsverket.se/aterkallade-livsmedel", 4, Some(733), Alert, FOOD),
    agency!("DSB", "Norway", "https://www.dsb.no/produktsikkerhet/tilbakekallinger", 3, Some(703), Alert, NON_FOOD),
    agency!("MATTILSYNET", "Norway", "https://www.mattilsynet.no/tilbaketrekkinger", 4, Some(704), Alert, FOOD),
    agency!("SAFETY_TECH_AUTHORITY_DENMARK", "Denmark", "https://www.sik.dk/privat/produkter/tilbagekaldte-produkter", 3, Some(571), Alert, NON_FOOD),
    agency!("FOOD_ADMIN_DENMARK", "Denmark", "https://www.foedevarestyrelsen.dk/tilbagetrukne-foedevarer", 4, Some(570), Alert, FOOD),
    agency!("TUKES", "Finland", "https://tukes.fi/en/recalls", 3, Some(641), Alert, NON_FOOD),
    agency!("FOOD_AUTHORITY_FINLAND", "Finland", "https://www.ruokavirasto.fi/en/foodstuffs/recalls", 4, Some(640), Alert, FOOD),
    agency!("CPSO", "Singapore", "https://www.cpsa.gov.sg/consumer-product-safety/recalls", 4, Some(888), Alert, CONSUMER),
    agency!("ACCC", "Australia", "https://www.productsafety.gov.au/recalls", 25, Some(930), Alert, CONSUMER),
    agency!("TGA", "Australia", "https://www.tga.gov.au/safety/recalls-and-other-market-actions", 10, Some(931), Alert, HEALTH),
    agency!("FSANZ", "Australia", "https://www.foodstandards.gov.au/food-recalls/recalls", 20, Some(932), Alert, FOOD),
    agency!("TRADING_STANDARDS_NZ", "New Zealand", "https://www.productsafety.govt.nz/recalls", 5, Some(940), Alert, CONSUMER),
    agency!("MPI", "New Zealand", "https://www.mpi.govt.nz/food-safety-home/food-recalls-and-complaints/recalled-food-products", 8, Some(941), Alert, FOOD),
    agency!("MEDSAFE", "New Zealand", "https://www.medsafe.govt.nz/hot/Recalls", 3, Some(942), Alert, HEALTH),
    agency!("ANVISA", "Brazil", "https://www.gov.br/anvisa/pt-br/assuntos/noticias-anvisa", 10, Some(789), Alert, FOOD_AND_HEALTH),
    agency!("SENACON", "Brazil", "https://www.gov.br/mj/pt-br/assuntos/senacon/recall", 6, Some(789), Alert, NON_FOOD),
    agency!("INMETRO", "Brazil", "https://www.gov.br/inmetro/pt-br/assuntos/recall", 4, Some(790), Alert, NON_FOOD),
    agency!("ANMAT", "Argentina", "https://www.argentina.gob.ar/anmat/alertas", 6, Some(779), Alert, FOOD_AND_HEALTH),
];

/// Weighted choice of an agency.
pub(crate) struct AgencyPicker {
    cumulative: [u32; 42],
}

impl AgencyPicker {
    pub(crate) fn new() -> AgencyPicker {
        let mut cumulative = [0u32; 42];
        let mut total = 0;
        for (slot, agency) in cumulative.iter_mut().zip(&AGENCIES) {
            total += agency.weight;
            *slot = total;
        }
        AgencyPicker { cumulative }
    }

    pub(crate) fn pick(&self, rng: &mut Rng) -> &'static AgencyProfile {
        let total = self.cumulative[41];
        let r = rng.below(u64::from(total)) as u32;
        let i = self.cumulative.partition_point(|&c| c <= r);
        &AGENCIES[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use babyshield_domain::AgencyCode;

    #[test]
    fn every_contract_agency_is_listed_once() {
        let mut codes: Vec<&str> = AGENCIES.iter().map(|a| a.code).collect();
        for code in &codes {
            assert!(AgencyCode::parse(code).is_ok(), "{code} is not a contract agency");
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 42);
    }

    #[test]
    fn cpsc_and_fda_dominate_but_small_agencies_appear() {
        let picker = AgencyPicker::new();
        let mut rng = Rng::new(5);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..100_000 {
            *counts.entry(picker.pick(&mut rng).code).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 42);
        assert!(counts["CPSC"] > 10 * counts["UK_DVSA"]);
        assert!(counts["FDA"] > counts["HEALTH_CANADA"]);
    }
}
