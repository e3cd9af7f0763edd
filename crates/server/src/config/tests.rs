use super::*;

fn error(toml: &str) -> ConfigError {
    Config::from_toml(toml).expect_err("config should be rejected")
}

#[test]
fn defaults_serve_on_8001_with_embedded_sqlite_under_data() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(config.server.port, 8001);
    assert_eq!(config.server.host.to_string(), "127.0.0.1");
    assert_eq!(config.database_url(), "sqlite://data/babyshield.db");
    assert_eq!(config.env, Environment::Dev);
}

#[test]
fn a_wrongly_typed_value_names_its_key() {
    let e = error("[server]\nport = \"eighty\"");
    assert_eq!(e.key, "server.port");
    assert!(e.to_string().starts_with("configuration error: server.port:"), "{e}");
}

#[test]
fn an_unknown_key_is_rejected_by_name() {
    let e = error("[server]\nprot = 8001");
    assert!(e.to_string().contains("prot"), "{e}");
}

#[test]
fn relations_between_values_are_validated() {
    assert_eq!(error("[database]\nurl = \"mysql://x\"").key, "database.url");
    assert_eq!(error("[database]\nmax_connections = 0").key, "database.max_connections");
    assert_eq!(error("[database]\nsqlite_cache_mib = 0").key, "database.sqlite_cache_mib");
    assert_eq!(error("[search]\ndocument_cache_mib = 65537").key, "search.document_cache_mib");
    assert_eq!(error("[search]\nterm_cache_mib = 65537").key, "search.term_cache_mib");
    assert_eq!(
        error("[database]\nmin_connections = 20\nmax_connections = 5").key,
        "database.min_connections"
    );
    assert_eq!(error("[server]\nrequest_timeout_ms = 0").key, "server.request_timeout_ms");
    assert_eq!(error("[redis]\nurl = \"http://x\"").key, "redis.url");
    assert_eq!(error("env = \"staging\"").key, "env");
}

#[test]
fn check_config_output_never_shows_secrets_or_passwords() {
    let config = Config::from_toml(
        "[database]\nurl = \"postgres://app:hunter2@db/app\"\n[mail]\nsmtp_url = \"smtps://mailer:smtp-pw-42@relay:465\"\n\
         [secrets]\noperator_token = \"tok-very-secret-value\"\ndata_keys = \"k1:c2VjcmV0LWRhdGEta2V5\"",
    )
    .unwrap();
    let shown = config.redacted_toml();
    for secret in ["hunter2", "tok-very-secret-value", "smtp-pw-42", "c2VjcmV0LWRhdGEta2V5"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    assert!(shown.contains("postgres://app:***@db/app"));
    assert!(shown.contains("[redacted]"));
}

#[test]
fn dev_secrets_are_generated_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_toml("").unwrap();
    config.data_dir = dir.path().to_path_buf();
    let first = Secrets::resolve(&config).unwrap();
    let second = Secrets::resolve(&config).unwrap();
    assert_eq!(first.cursor_key.expose(), second.cursor_key.expose());
    assert_eq!(first.operator_token.expose(), second.operator_token.expose());
    assert_ne!(first.cursor_key.expose(), first.operator_token.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secrets.toml")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(format!("{:?}", first.cursor_key), "[redacted]");
}

#[test]
fn prod_refuses_missing_and_placeholder_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::from_toml("env = \"prod\"").unwrap();
    config.data_dir = dir.path().to_path_buf();
    let e = Secrets::resolve(&config).unwrap_err();
    assert_eq!(e.key, "secrets.cursor_key");
    assert!(e.message.contains("missing"));
    assert!(!dir.path().join("secrets.toml").exists(), "prod never generates secrets");

    config.secrets.cursor_key = Some("changeme-changeme-changeme-changeme".into());
    assert!(Secrets::resolve(&config).unwrap_err().message.contains("placeholder"));
    config.secrets.cursor_key = Some("short".into());
    assert!(Secrets::resolve(&config).unwrap_err().message.contains("too short"));

    config.secrets.cursor_key = Some("Qm9vdHN0cmFwLWtleS1mb3ItdGVzdHMtb25seS0xMjM0NQ".into());
    config.secrets.operator_token = Some("b3BlcmF0b3ItdG9rZW4tZm9yLXRlc3RzLW9ubHktOTg3Ng".into());
    assert_eq!(Secrets::resolve(&config).unwrap_err().key, "secrets.token_keys");
    config.secrets.token_keys = Some("k2:dG9rZW4tc2lnbmluZy1rZXktZm9yLXRlc3RzLW9ubHktMTIzNA".into());
    config.secrets.data_keys = Some("d2:ZGF0YS1rZXktZm9yLXRlc3RzLW9ubHktMzJieXRlcyE".into());
    config.secrets.blind_index_key = Some("YmxpbmQtaW5kZXgta2V5LWZvci10ZXN0cy1vbmx5LTQ1Njc4".into());
    config.secrets.audit_key = Some("YXVkaXQtY2hhaW4ta2V5LWZvci10ZXN0cy1vbmx5LTk4NzY1NA".into());
    assert!(Secrets::resolve(&config).is_ok());
}

#[test]
fn a_secret_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "b3BlcmF0b3ItdG9rZW4tZnJvbS1hLWZpbGUtMTIzNDU2Nzg\n").unwrap();
    let mut config = Config::from_toml("").unwrap();
    config.data_dir = dir.path().to_path_buf();
    config.secrets.operator_token_file = Some(file);
    let secrets = Secrets::resolve(&config).unwrap();
    assert_eq!(secrets.operator_token.expose(), "b3BlcmF0b3ItdG9rZW4tZnJvbS1hLWZpbGUtMTIzNDU2Nzg");
}

#[test]
fn url_passwords_are_redacted_wherever_the_url_carries_them() {
    use super::sections::redact_url_password as redact;
    assert_eq!(redact("postgres://app:pw@db:5432/x"), "postgres://app:***@db:5432/x");
    assert_eq!(
        redact("postgres://app@db/x?password=pw&sslmode=require"),
        "postgres://app@db/x?password=***&sslmode=require"
    );
    assert_eq!(redact("postgres://db/x?sslpassword=pw"), "postgres://db/x?sslpassword=***");
    assert_eq!(redact("postgres://db/x?application_name=a@b"), "postgres://db/x?application_name=a@b");
    assert_eq!(redact("redis://:pw@cache:6379/0"), "redis://:***@cache:6379/0");
    assert_eq!(redact("sqlite://data/babyshield.db"), "sqlite://data/babyshield.db");
}
