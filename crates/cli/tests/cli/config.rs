//! Configuration: errors name the key, secrets never show, dev secrets persist.

use crate::harness::Sandbox;

/// Asserts a configuration failure: exit code 2 and exactly one stderr line
/// naming `key`.
fn assert_config_error(outcome: &crate::harness::Outcome, key: &str) {
    assert_eq!(outcome.code, Some(2), "{outcome:?}");
    let stderr = outcome.stderr.trim_end();
    assert_eq!(stderr.lines().count(), 1, "one line expected:\n{stderr}");
    assert!(stderr.contains(key), "stderr should name {key}: {stderr}");
}

#[test]
fn a_bad_config_value_exits_non_zero_with_one_line_naming_the_key() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run(&["check-config"], &[("BABYSHIELD__SERVER__PORT", "eighty")]);
    assert_config_error(&outcome, "server.port");

    let sandbox = Sandbox::new();
    sandbox.write("babyshield.toml", "[database]\nmax_connections = 0\n");
    let outcome = sandbox.run(&["check-config"], &[]);
    assert_config_error(&outcome, "database.max_connections");

    let sandbox = Sandbox::new();
    let outcome = sandbox.run(&["--config", "/nonexistent.toml", "check-config"], &[]);
    assert_config_error(&outcome, "--config");
    assert!(outcome.stderr.contains("/nonexistent.toml"), "{}", outcome.stderr);
}

#[test]
fn check_config_prints_the_effective_config_with_secrets_redacted() {
    let sandbox = Sandbox::new();
    let token = "op-token-4f9c2a7e1b8d3f6a0c5e9b2d7a4f1c8e";
    let outcome = sandbox.run(
        &["check-config"],
        &[
            ("BABYSHIELD__DATABASE__URL", "postgres://app:hunter2@127.0.0.1:1/x"),
            ("BABYSHIELD__SECRETS__OPERATOR_TOKEN", token),
        ],
    );
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let out = &outcome.stdout;
    assert!(out.contains("port = 8001"), "{out}");
    assert!(out.contains("postgres://app:***@127.0.0.1:1/x"), "{out}");
    assert!(out.contains("[redacted]"), "{out}");
    for secret in ["hunter2", token] {
        assert!(!out.contains(secret) && !outcome.stderr.contains(secret), "{secret} leaked:\n{out}");
    }
}

#[test]
fn prod_refuses_to_start_without_secrets() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run(&["serve"], &[("BABYSHIELD__ENV", "prod"), ("BABYSHIELD__SERVER__PORT", "0")]);
    assert_ne!(outcome.code, Some(0), "{outcome:?}");
    assert!(outcome.code.is_some(), "exited by itself, not by a signal: {outcome:?}");
    assert!(outcome.stderr.contains("secrets."), "{}", outcome.stderr);
    assert!(!sandbox.join("data/secrets.toml").exists(), "prod must never generate secrets");
}

#[test]
fn dev_secrets_survive_a_restart() {
    use std::os::unix::fs::PermissionsExt;

    let sandbox = Sandbox::new();
    let secrets = sandbox.join("data/secrets.toml");
    let first = sandbox.run(&["check-config"], &[]);
    assert_eq!(first.code, Some(0), "{first:?}");
    let before = std::fs::read_to_string(&secrets).expect("dev run writes data/secrets.toml");
    assert!(before.contains("cursor_key") && before.contains("operator_token"), "{before}");
    let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "secrets file mode is {:o}", mode & 0o777);

    let second = sandbox.run(&["check-config"], &[]);
    assert_eq!(second.code, Some(0), "{second:?}");
    let after = std::fs::read_to_string(&secrets).unwrap();
    assert_eq!(before, after, "secrets must not be regenerated");
    let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn check_config_redacts_a_database_password_given_as_a_query_parameter() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run(
        &["check-config"],
        &[("BABYSHIELD__DATABASE__URL", "postgres://app@127.0.0.1:1/x?password=hunter2")],
    );
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    assert!(!outcome.stdout.contains("hunter2"), "password leaked:\n{}", outcome.stdout);
}
