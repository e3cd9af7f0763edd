//! Family members: a child's (or any relative's) name, age, allergies and
//! diet, sealed at rest, with soft deletion and a restore window.

use babyshield_domain::safety::Allergen;
use serde::{Deserialize, Serialize};
use time::Date;

use super::{
    Family, PageRequest, SealedColumn, aad, new_id, now, optional_text, paging::Page, rfc3339, text_field,
};
use crate::{accounts::AuthUser, error::ApiError};

const MAX_NAME: usize = 100;
const MAX_RELATIONSHIP: usize = 40;
const MAX_ITEMS: usize = 30;
const MAX_ITEM: usize = 60;
/// Oldest age accepted, in months (120 years).
const MAX_AGE_MONTHS: u32 = 1_440;

/// What a client sends to create or replace a member. Exactly one of
/// `birthDate` and `ageMonths` may be given (or neither).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemberInput {
    /// 1..100 characters.
    pub name: String,
    /// YYYY-MM-DD, not in the future.
    #[serde(default)]
    pub birth_date: Option<String>,
    /// Age in months today, when the birth date is not given; it advances
    /// with time.
    #[serde(default)]
    pub age_months: Option<u32>,
    /// e.g. child, parent, grandparent (free text, up to 40 characters).
    #[serde(default)]
    pub relationship: Option<String>,
    /// As the parent writes them ("dairy", "peanuts"); up to 30.
    #[serde(default)]
    pub allergies: Vec<String>,
    /// e.g. vegetarian, halal, low sodium; up to 30.
    #[serde(default)]
    pub dietary_restrictions: Vec<String>,
}

/// What is sealed in `family_members.profile_sealed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredProfile {
    pub name: String,
    pub birth_date: Option<String>,
    /// Age in months on `age_recorded_on`, when no birth date is known.
    pub age_months: Option<u32>,
    pub age_recorded_on: Option<String>,
    pub relationship: Option<String>,
    pub allergies: Vec<String>,
    pub dietary_restrictions: Vec<String>,
}

/// A family member as the API returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// Age in whole months today (from the birth date, or the age given
    /// plus the time since).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_months: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    pub allergies: Vec<String>,
    /// The allergies BabyShield recognizes and checks recalls against.
    #[schema(value_type = Vec<String>)]
    pub recognized_allergens: Vec<Allergen>,
    pub dietary_restrictions: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Set on deleted members (restorable until `restorableUntil`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restorable_until: Option<String>,
}

pub type MemberPage = Page<Member>;

/// What the safety check needs of a member.
#[derive(Debug, Clone)]
pub(super) struct MemberFacts {
    pub id: String,
    pub name: String,
    pub age_months: Option<u32>,
    pub allergens: Vec<Allergen>,
}

impl StoredProfile {
    fn from_input(input: MemberInput, today: Date) -> Result<StoredProfile, ApiError> {
        let name = text_field("name", &input.name, MAX_NAME)?;
        if input.birth_date.is_some() && input.age_months.is_some() {
            return Err(ApiError::invalid("ageMonths", "give either birthDate or ageMonths, not both"));
        }
        let birth_date = match input.birth_date.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => {
                let date = babyshield_domain::ymd::parse(raw)
                    .ok_or_else(|| ApiError::invalid("birthDate", "must be a date as YYYY-MM-DD"))?;
                if date > today {
                    return Err(ApiError::invalid("birthDate", "must not be in the future"));
                }
                if months_between(date, today) > MAX_AGE_MONTHS {
                    return Err(ApiError::invalid("birthDate", "must be within the last 120 years"));
                }
                Some(babyshield_domain::ymd::format(date))
            }
            None => None,
        };
        if let Some(months) = input.age_months
            && months > MAX_AGE_MONTHS
        {
            return Err(ApiError::invalid("ageMonths", format!("must be at most {MAX_AGE_MONTHS}")));
        }
        Ok(StoredProfile {
            name,
            birth_date,
            age_months: input.age_months,
            age_recorded_on: input.age_months.map(|_| babyshield_domain::ymd::format(today)),
            relationship: optional_text("relationship", input.relationship.as_deref(), MAX_RELATIONSHIP)?,
            allergies: list("allergies", input.allergies)?,
            dietary_restrictions: list("dietaryRestrictions", input.dietary_restrictions)?,
        })
    }

    /// Age in whole months on `today`.
    fn age_months(&self, today: Date) -> Option<u32> {
        if let Some(birth) = self.birth_date.as_deref().and_then(babyshield_domain::ymd::parse) {
            return Some(months_between(birth, today));
        }
        let recorded = self.age_recorded_on.as_deref().and_then(babyshield_domain::ymd::parse)?;
        Some(self.age_months? + months_between(recorded, today))
    }

    fn allergens(&self) -> Vec<Allergen> {
        let mut out: Vec<Allergen> = Vec::new();
        for allergen in self.allergies.iter().filter_map(|a| Allergen::parse(a)) {
            if !out.contains(&allergen) {
                out.push(allergen);
            }
        }
        out
    }
}

/// Trimmed, de-duplicated (case-insensitively), bounded list of short texts.
fn list(field: &str, values: Vec<String>) -> Result<Vec<String>, ApiError> {
    if values.len() > MAX_ITEMS {
        return Err(ApiError::invalid(field, format!("at most {MAX_ITEMS} entries")));
    }
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let value = text_field(field, &value, MAX_ITEM)?;
        if !out.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
            out.push(value);
        }
    }
    Ok(out)
}

/// Whole months from `from` to `to` (0 when `to` is earlier).
pub(super) fn months_between(from: Date, to: Date) -> u32 {
    if to <= from {
        return 0;
    }
    let mut months = (to.year() - from.year()) * 12
        + (i32::from(u8::from(to.month())) - i32::from(u8::from(from.month())));
    if to.day() < from.day() {
        months -= 1;
    }
    u32::try_from(months.max(0)).unwrap_or(0)
}

fn today() -> Date {
    now().date()
}

impl Family {
    fn member_view(&self, row: babyshield_storage::family::MemberRow) -> Result<Member, ApiError> {
        let profile: StoredProfile =
            self.open(&row.profile_sealed, &aad(SealedColumn::MemberProfile, &row.id))?;
        let restorable_until = row.deleted_at.as_deref().and_then(|d| {
            let at = time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok()?;
            Some(rfc3339(at + time::Duration::days(self.config.restore_window_days)))
        });
        Ok(Member {
            recognized_allergens: profile.allergens(),
            age_months: profile.age_months(today()),
            id: row.id,
            name: profile.name,
            birth_date: profile.birth_date,
            relationship: profile.relationship,
            allergies: profile.allergies,
            dietary_restrictions: profile.dietary_restrictions,
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
            restorable_until,
        })
    }

    pub async fn create_member(&self, user: &AuthUser, input: MemberInput) -> Result<Member, ApiError> {
        let profile = StoredProfile::from_input(input, today())?;
        let id = new_id();
        let sealed = self.seal(&profile, &aad(SealedColumn::MemberProfile, &id))?;
        if !self.store.create_member(&user.user_id, &id, &sealed, self.config.max_members).await? {
            return Err(ApiError::Conflict(format!(
                "an account can have at most {} family members (deleted ones count until purged)",
                self.config.max_members
            )));
        }
        self.member(user, &id).await
    }

    /// A live member of the caller; 404 for anything else (deleted, unknown,
    /// or another user's).
    pub async fn member(&self, user: &AuthUser, id: &str) -> Result<Member, ApiError> {
        match self.store.member(&user.user_id, id).await? {
            Some(row) if row.deleted_at.is_none() => self.member_view(row),
            _ => Err(not_found()),
        }
    }

    /// Live members (or, with `deleted`, the restorable ones), oldest first.
    pub async fn members(
        &self,
        user: &AuthUser,
        page: &PageRequest,
        deleted: bool,
    ) -> Result<MemberPage, ApiError> {
        let rows =
            self.store.list_members(&user.user_id, page.after.as_deref(), page.fetch(), deleted).await?;
        page.page(rows, |r| &r.id, |r| self.member_view(r))
    }

    pub async fn update_member(
        &self,
        user: &AuthUser,
        id: &str,
        input: MemberInput,
    ) -> Result<Member, ApiError> {
        let mut profile = StoredProfile::from_input(input, today())?;
        // An unchanged age in months keeps its original recording date, so
        // saving a profile does not make a child younger.
        if let (Some(months), Some(Ok(previous))) = (
            profile.age_months,
            self.store.member(&user.user_id, id).await?.map(|r| {
                self.open::<StoredProfile>(&r.profile_sealed, &aad(SealedColumn::MemberProfile, id))
            }),
        ) && previous.age_months(today()) == Some(months)
            && previous.age_recorded_on.is_some()
        {
            profile.age_months = previous.age_months;
            profile.age_recorded_on = previous.age_recorded_on;
        }
        let sealed = self.seal(&profile, &aad(SealedColumn::MemberProfile, id))?;
        if !self.store.update_member(&user.user_id, id, &sealed).await? {
            return Err(not_found());
        }
        self.member(user, id).await
    }

    pub async fn delete_member(&self, user: &AuthUser, id: &str) -> Result<(), ApiError> {
        if self.store.delete_member(&user.user_id, id).await? { Ok(()) } else { Err(not_found()) }
    }

    pub async fn restore_member(&self, user: &AuthUser, id: &str) -> Result<Member, ApiError> {
        let cutoff = rfc3339(now() - time::Duration::days(self.config.restore_window_days));
        if !self.store.restore_member(&user.user_id, id, &cutoff).await? {
            return Err(ApiError::NotFound(
                "no deleted family member with this id within the restore window".into(),
            ));
        }
        self.member(user, id).await
    }

    /// Removes members deleted longer ago than the restore window.
    pub async fn purge_deleted_members(&self) -> Result<u64, ApiError> {
        let cutoff = rfc3339(now() - time::Duration::days(self.config.restore_window_days));
        Ok(self.store.purge_deleted_members(&cutoff).await?)
    }

    /// What the safety check needs of one live member of the caller.
    pub(super) async fn member_facts(&self, user: &AuthUser, id: &str) -> Result<MemberFacts, ApiError> {
        let row = match self.store.member(&user.user_id, id).await? {
            Some(row) if row.deleted_at.is_none() => row,
            _ => return Err(ApiError::NotFound("no family member with this memberId".into())),
        };
        let profile: StoredProfile =
            self.open(&row.profile_sealed, &aad(SealedColumn::MemberProfile, &row.id))?;
        Ok(MemberFacts {
            age_months: profile.age_months(today()),
            allergens: profile.allergens(),
            id: row.id,
            name: profile.name,
        })
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("no family member with this id".into())
}

#[cfg(test)]
mod tests {
    use time::Month;

    use super::*;

    fn date(y: i32, m: u8, d: u8) -> Date {
        Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap()
    }

    #[test]
    fn months_between_counts_whole_months() {
        let cases = [
            (date(2024, 1, 15), date(2024, 1, 20), 0),
            (date(2024, 1, 15), date(2024, 2, 14), 0),
            (date(2024, 1, 15), date(2024, 2, 15), 1),
            (date(2023, 11, 30), date(2026, 11, 22), 35),
            (date(2023, 11, 22), date(2026, 11, 22), 36),
            (date(2026, 11, 22), date(2024, 1, 1), 0),
        ];
        for (from, to, expected) in cases {
            assert_eq!(months_between(from, to), expected, "{from} -> {to}");
        }
    }

    fn input(json: serde_json::Value) -> Result<StoredProfile, ApiError> {
        StoredProfile::from_input(serde_json::from_value(json).unwrap(), date(2026, 11, 22))
    }

    #[test]
    fn input_is_validated_field_by_field() {
        let cases = [
            (serde_json::json!({"name": "  "}), "name"),
            (serde_json::json!({"name": "x".repeat(101)}), "name"),
            (serde_json::json!({"name": "Mia", "birthDate": "2027-01-01"}), "birthDate"),
            (serde_json::json!({"name": "Mia", "birthDate": "22/11/2024"}), "birthDate"),
            (serde_json::json!({"name": "Mia", "birthDate": "2024-01-01", "ageMonths": 10}), "ageMonths"),
            (serde_json::json!({"name": "Mia", "ageMonths": 5000}), "ageMonths"),
            (serde_json::json!({"name": "Mia", "allergies": vec!["milk"; 31]}), "allergies"),
            (serde_json::json!({"name": "Mia", "allergies": ["milk\u{0}"]}), "allergies"),
        ];
        for (json, field) in cases {
            let err = input(json.clone()).unwrap_err();
            assert!(err.to_string().starts_with(field), "{json}: {err}");
        }
        let ok = input(serde_json::json!({
            "name": " Mia ", "ageMonths": 18, "allergies": ["Dairy", "dairy", "peanuts", "kiwi"]
        }))
        .unwrap();
        assert_eq!(ok.name, "Mia");
        assert_eq!(ok.allergies, ["Dairy", "peanuts", "kiwi"]);
        assert_eq!(ok.allergens(), [Allergen::Milk, Allergen::Peanut]);
        assert_eq!(ok.age_months(date(2027, 2, 22)), Some(21));
    }
}
