//! Source links made safe for the apps: absolute http(s) URLs only.

/// `raw` as an absolute web URL: kept when already http(s), joined to `base`
/// when it is a site-relative path, else dropped (a `javascript:` or
/// malformed link must never reach an app).
pub(crate) fn web_url(raw: &str, base: Option<&str>) -> Option<String> {
    let raw = raw.trim();
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let lower = raw.get(..8).unwrap_or(raw).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let host_present = raw.split_once("//").is_some_and(|(_, rest)| !rest.is_empty());
        return host_present.then(|| raw.to_owned());
    }
    match base {
        Some(base) if raw.starts_with('/') && !raw.starts_with("//") => Some(format!("{base}{raw}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_survive_and_relative_paths_are_joined() {
        assert_eq!(
            web_url(" https://www.cpsc.gov/Recalls/1 ", None).as_deref(),
            Some("https://www.cpsc.gov/Recalls/1")
        );
        assert_eq!(web_url("/a/b", Some("https://x.ca")).as_deref(), Some("https://x.ca/a/b"));
        assert_eq!(web_url("/a/b", None), None);
        assert_eq!(web_url("//evil.example/x", Some("https://x.ca")), None);
        assert_eq!(web_url("javascript:alert(1)", Some("https://x.ca")), None);
        assert_eq!(web_url("https://", None), None);
        assert_eq!(web_url("https://x.ca/a b", None), None);
    }
}
