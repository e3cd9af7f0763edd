//! Password hashing (Argon2id, PHC strings) and the password policy.
//!
//! Hashes carry their own parameters, so raising the cost later only needs
//! [`needs_rehash`] at login time: old hashes keep verifying and are upgraded
//! the next time their owner signs in.
//!
//! Argon2's working memory (19 MiB by default) is kept per thread and reused
//! rather than allocated per hash: a fresh allocation of that size is mapped,
//! zero-filled page by page and unmapped every time, and each unmapping
//! interrupts the process's other threads on every core to flush their TLBs,
//! which slowed request handling during a login flood even with hashing at
//! the lowest priority. The memory is wiped after every use: what Argon2
//! leaves behind would let anyone who reads it test password guesses cheaply.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, Version};
use rand::RngCore;
use zeroize::Zeroize;

mod policy;

pub use policy::{PolicyError, check_policy};

/// Argon2id cost parameters; stored inside every hash they produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PasswordParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism.
    pub p_cost: u32,
}

impl Default for PasswordParams {
    /// The OWASP Password Storage Cheat Sheet's Argon2id baseline
    /// (19 MiB, 2 passes, 1 lane): ~26 ms per hash in release builds.
    fn default() -> Self {
        Self { m_cost_kib: 19_456, t_cost: 2, p_cost: 1 }
    }
}

impl PasswordParams {
    /// Checks the parameters up front so a bad configuration fails at start
    /// rather than on the first sign-up.
    pub fn validate(&self) -> Result<(), PasswordError> {
        self.to_argon2().map(|_| ())
    }

    fn to_argon2(self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, None)
            .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Why hashing or verification could not run at all (a wrong password is not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid Argon2 parameters: {0}")]
    InvalidParams(String),
    #[error("stored password hash is malformed")]
    MalformedHash,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Salt of a new hash, in bytes (the PHC recommendation).
const SALT_LEN: usize = 16;

/// The largest working memory a thread keeps between hashes (64 MiB); a
/// stored hash with a larger cost gets memory of its own, freed after use.
const KEPT_BLOCKS: usize = 64 * 1024;

thread_local! {
    /// Argon2's working memory, reused by every hash on this thread.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs Argon2 over this thread's reusable memory and wipes it afterwards.
fn argon2_output(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    fn run(
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
        memory: &mut [Block],
    ) -> Result<(), argon2::Error> {
        let result = argon2.hash_password_into_with_memory(password, salt, out, &mut *memory);
        memory.iter_mut().for_each(Zeroize::zeroize);
        result
    }
    let blocks = argon2.params().block_count();
    MEMORY.with(|kept| match kept.try_borrow_mut() {
        Ok(mut memory) if blocks <= KEPT_BLOCKS => {
            if memory.len() < blocks {
                memory.resize(blocks, Block::new());
            }
            run(argon2, password, salt, out, &mut memory[..blocks])
        }
        // Too large to keep, or (never, but not a panic) a hash inside a hash.
        _ => run(argon2, password, salt, out, &mut vec![Block::new(); blocks]),
    })
}

fn hashing(e: impl std::fmt::Display) -> PasswordError {
    PasswordError::Hashing(e.to_string())
}

fn malformed<E>(_: E) -> PasswordError {
    PasswordError::MalformedHash
}

/// Hashes with Argon2id and a fresh random 16-byte salt, returning a PHC string
/// (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`) that is safe to store as is.
pub fn hash_password(password: &str, params: &PasswordParams) -> Result<String, PasswordError> {
    let argon2 = params.to_argon2()?;
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_output(&argon2, password.as_bytes(), &salt, &mut out).map_err(hashing)?;
    let hash = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(hashing)?,
        salt: Some(Salt::new(&salt).map_err(hashing)?),
        hash: Some(Output::new(&out).map_err(hashing)?),
    };
    Ok(hash.to_string())
}

/// Returns `Ok(false)` for a wrong password; `Err` only when the stored hash
/// itself is unusable, which is a data problem worth logging, not a failed login.
///
/// The algorithm, version and parameters come from the PHC string, not from
/// the current settings, so hashes made under older settings still verify.
/// The outputs are compared in constant time.
pub fn verify_password(password: &str, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(malformed)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(PasswordError::MalformedHash);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(malformed)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(malformed)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(malformed)?;
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = out.get_mut(..expected.len()).ok_or(PasswordError::MalformedHash)?;
    argon2_output(&argon2, password.as_bytes(), salt.as_ref(), out).map_err(malformed)?;
    Ok(Output::new(out).map_err(malformed)? == *expected)
}

/// True when a stored hash should be replaced after a successful login: it is
/// not Argon2id v19, cannot be parsed, or its costs differ from `params`
/// (weaker ones must go up; different ones follow the configured policy).
pub fn needs_rehash(phc: &str, params: &PasswordParams) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm != ARGON2ID_IDENT || parsed.version != Some(Version::V0x13.into()) {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(stored) => {
            stored.m_cost() != params.m_cost_kib
                || stored.t_cost() != params.t_cost
                || stored.p_cost() != params.p_cost
        }
        Err(_) => true,
    }
}

/// A hash of a random, never-revealed password, to verify against when the
/// account does not exist: the login then costs one Argon2 run either way, so
/// response time does not reveal which emails are registered.
///
/// Computed once per distinct `params` and kept for the life of the process.
/// Invalid `params` fall back to the defaults instead of panicking on a request
/// path; [`PasswordParams::validate`] at start-up catches them earlier.
pub fn dummy_hash(params: &PasswordParams) -> &'static str {
    static CACHE: OnceLock<Mutex<HashMap<PasswordParams, &'static str>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(hash) = map.get(params) {
        return hash;
    }
    let secret = crate::opaque::new_opaque_token();
    let hash = hash_password(&secret, params)
        .or_else(|_| hash_password(&secret, &PasswordParams::default()))
        .expect("Argon2id with default parameters always hashes");
    let leaked: &'static str = Box::leak(hash.into_boxed_str());
    map.insert(*params, leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters so the hashing tests stay fast; the algorithm is the same.
    fn fast() -> PasswordParams {
        PasswordParams { m_cost_kib: 1024, t_cost: 1, p_cost: 1 }
    }

    /// Written by Python's argon2-cffi (the reference C implementation):
    /// (password, PHC string). Different variants, costs, lanes and lengths.
    const REFERENCE_HASHES: [(&str, &str); 3] = [
        (
            "correct horse battery staple",
            "$argon2id$v=19$m=1024,t=1,p=1$YmFieXNoaWVsZC1zYWx0IQ$hJe6rruJOMJAWRdD+kFu72ouqZb/O1jL1leUy6orEcM",
        ),
        (
            "Test123!",
            "$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$ZIjjmZGlp9k98vXaI2JHOCr+fQQoISVyc8IpIBk5+n0",
        ),
        (
            "correct horse battery staple",
            "$argon2i$v=19$m=2048,t=2,p=2$YmFieXNoaWVsZC1zYWx0IQ$Xrh8sY7gimuBDHSEgPtKSOQFX0wsF4or",
        ),
    ];

    #[test]
    fn hashes_from_the_reference_implementation_verify_and_reject_other_passwords() {
        for (password, phc) in REFERENCE_HASHES {
            assert!(verify_password(password, phc).unwrap(), "{phc}");
            assert!(!verify_password("correct horse battery stapler", phc).unwrap(), "{phc}");
            assert!(!verify_password("", phc).unwrap(), "{phc}");
        }
    }

    #[test]
    fn our_hashes_verify_with_the_argon2_crates_own_verifier() {
        use argon2::PasswordVerifier;
        let hash = hash_password("correct horse battery staple", &fast()).unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        assert_eq!(parsed.salt.unwrap().as_ref().len(), SALT_LEN);
        assert_eq!(parsed.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
        assert!(Argon2::default().verify_password(b"correct horse battery staple", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }

    #[test]
    fn the_working_memory_is_kept_and_wiped_after_every_hash() {
        let params = fast();
        let blocks = params.m_cost_kib as usize; // one block is 1 KiB
        std::thread::spawn(move || {
            let kept = || {
                MEMORY.with(|m| {
                    let m = m.borrow();
                    (m.len(), m.as_ptr() as usize, m.iter().all(|b| b.as_ref().iter().all(|w| *w == 0)))
                })
            };
            let hash = hash_password("correct horse battery staple", &params).unwrap();
            let (len, address, wiped) = kept();
            assert_eq!(len, blocks);
            assert!(wiped, "Argon2's memory was left behind after hashing");
            assert!(verify_password("correct horse battery staple", &hash).unwrap());
            let (len_after, address_after, wiped_after) = kept();
            assert_eq!((len_after, address_after), (len, address), "the memory was not reused");
            assert!(wiped_after, "Argon2's memory was left behind after verifying");
            // A larger cost grows it; a hash above the kept limit does not.
            let bigger = PasswordParams { m_cost_kib: 2048, t_cost: 1, p_cost: 1 };
            hash_password("x", &bigger).unwrap();
            assert_eq!(kept().0, 2048);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn default_params_are_the_owasp_baseline() {
        assert_eq!(PasswordParams::default(), PasswordParams { m_cost_kib: 19_456, t_cost: 2, p_cost: 1 });
    }

    #[test]
    fn hash_is_an_argon2id_phc_string_that_verifies() {
        let hash = hash_password("correct horse battery staple", &fast()).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert!(verify_password("correct horse battery staple", &hash).unwrap());
    }

    #[test]
    fn verify_returns_false_for_a_wrong_password() {
        let hash = hash_password("correct horse battery staple", &fast()).unwrap();
        assert!(!verify_password("correct horse battery stapl", &hash).unwrap());
        assert!(!verify_password("", &hash).unwrap());
    }

    #[test]
    fn hashing_twice_uses_different_salts() {
        let a = hash_password("same password", &fast()).unwrap();
        let b = hash_password("same password", &fast()).unwrap();
        assert_ne!(a, b);
        let salt = a.split('$').nth(4).unwrap();
        // 16 bytes in unpadded base64 is 22 characters.
        assert_eq!(salt.len(), 22);
    }

    #[test]
    fn verify_errors_only_on_a_malformed_hash() {
        assert_eq!(verify_password("x", "not a hash"), Err(PasswordError::MalformedHash));
        assert_eq!(verify_password("x", "$argon2id$v=19$m=1024,t=1,p=1$"), Err(PasswordError::MalformedHash));
    }

    #[test]
    fn default_params_hash_verifies() {
        let hash = hash_password("correct horse battery staple", &PasswordParams::default()).unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse battery staple", &hash).unwrap());
    }

    #[test]
    fn needs_rehash_is_false_for_matching_params_and_true_otherwise() {
        let params = fast();
        let hash = hash_password("pw", &params).unwrap();
        assert!(!needs_rehash(&hash, &params));
        assert!(needs_rehash(&hash, &PasswordParams { t_cost: 2, ..params }));
        assert!(needs_rehash(&hash, &PasswordParams { m_cost_kib: 2048, ..params }));
        assert!(needs_rehash(&hash, &PasswordParams { p_cost: 2, ..params }));
        assert!(needs_rehash("garbage", &params));
    }

    #[test]
    fn needs_rehash_flags_other_argon2_variants() {
        use argon2::PasswordHasher;
        let params = fast();
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::new(1024, 1, 1, None).unwrap())
            .hash_password(b"pw")
            .unwrap()
            .to_string();
        assert!(argon2i.starts_with("$argon2i$"));
        assert!(verify_password("pw", &argon2i).unwrap());
        assert!(needs_rehash(&argon2i, &params));
    }

    #[test]
    fn invalid_params_are_reported() {
        let bad = PasswordParams { m_cost_kib: 1, t_cost: 0, p_cost: 1 };
        assert!(matches!(bad.validate(), Err(PasswordError::InvalidParams(_))));
        assert!(matches!(hash_password("pw", &bad), Err(PasswordError::InvalidParams(_))));
    }

    #[test]
    fn dummy_hash_is_stable_per_params_and_matches_nothing_guessable() {
        let params = fast();
        let first = dummy_hash(&params);
        assert!(std::ptr::eq(first, dummy_hash(&params)));
        assert!(first.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(!verify_password("", first).unwrap());
        assert!(!verify_password("password", first).unwrap());
        let other = dummy_hash(&PasswordParams { t_cost: 2, ..params });
        assert!(other.contains("t=2"));
    }
}
