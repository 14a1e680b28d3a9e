use std::collections::HashMap;

use super::forwarding::DEFAULT_ORIGIN_TIMEOUT_SECONDS;
use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A complete production configuration, less `without`, plus `with`.
fn production(without: &[&str], with: &[(&str, &str)]) -> Config {
    let mut map: HashMap<&str, &str> = HashMap::from([
        ("ORIGIN_URL", "https://api.internal"),
        ("ORIGIN_SHARED_SECRET", SECRET),
        ("OIDC_ISSUER", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "patgate"),
        ("OIDC_CLIENT_SECRET", "provider-secret"),
        ("OIDC_PROVIDER_NAME", "Example ID"),
        ("COOKIE_SECRET", SECRET),
        ("ADMIN_API_SECRET", SECRET),
    ]);
    for name in without {
        map.remove(name);
    }
    map.extend(with.iter().copied());
    Config::parse(|name| map.get(name).map(|value| (*value).to_owned()))
}

#[test]
fn a_complete_configuration_forwards_and_signs_in() {
    let config = production(&[], &[]);
    let Ok(Forwarding::Origin(target)) = &config.forwarding else {
        panic!("{:?}", config.forwarding)
    };
    assert_eq!(target.base_url(), "https://api.internal");
    let sign_in = config.sign_in.as_ref().unwrap();
    assert_eq!(sign_in.issuer(), "https://id.example.com");
    assert_eq!(
        sign_in.discovery_url(),
        "https://id.example.com/.well-known/openid-configuration"
    );
    assert_eq!(config.dev_login, DevLogin::Disabled);
    assert!(config.problems().is_empty());
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("provider-secret"),
        "{debug}"
    );
    let health = config.health();
    assert_eq!(health.status, "ok");
    assert_eq!(
        health.capabilities,
        Capabilities {
            sign_in: true,
            development_sign_in: false,
            forwarding: true,
            echo: false,
            admin_api: true,
            leak_reports: true,
        }
    );
    assert_eq!(
        config.leak_reports,
        Ok(LeakReports {
            keys_url: GITHUB_SCANNING_KEYS_URL.into()
        })
    );
}

#[test]
fn the_admin_api_needs_its_own_secret_and_reports_a_usable_keys_url() {
    let config = production(&["ADMIN_API_SECRET"], &[]);
    assert_eq!(
        config.admin.as_ref().unwrap_err().to_string(),
        "ADMIN_API_SECRET is not set, and the admin API needs it"
    );
    let health = config.health();
    assert!(!health.capabilities.admin_api && health.capabilities.forwarding);
    for short_or_token in ["too-short", "pat_0123456789abcdef0123456789abcdef"] {
        let config = production(&[], &[("ADMIN_API_SECRET", short_or_token)]);
        assert!(matches!(
            config.admin,
            Err(ConfigError::Invalid {
                setting: "ADMIN_API_SECRET",
                ..
            })
        ));
        assert!(!format!("{:?}", config.problems()).contains(short_or_token));
    }
    assert!(!format!("{:?}", production(&[], &[]).admin).contains(SECRET));

    let local = production(&[], &[("LEAK_KEYS_URL", "http://127.0.0.1:9/keys")]);
    assert_eq!(
        local.leak_reports.unwrap().keys_url,
        "http://127.0.0.1:9/keys"
    );
    for bad in [
        "http://keys.example.com/",
        "not a url",
        "https://u:p@github.com/",
    ] {
        let config = production(&[], &[("LEAK_KEYS_URL", bad)]);
        assert!(!config.health().capabilities.leak_reports, "{bad}");
        assert_eq!(
            config.problems()[0].to_string(),
            format!("LEAK_KEYS_URL is invalid: {URL_RULE}")
        );
    }
}

#[test]
fn without_an_origin_nothing_is_forwarded_or_echoed_unless_echo_is_explicit() {
    let config = production(&["ORIGIN_URL", "ORIGIN_SHARED_SECRET"], &[]);
    assert_eq!(
        config.forwarding.as_ref().unwrap_err().to_string(),
        "ORIGIN_URL is not set, and forwarding to the origin needs it"
    );
    let health = config.health();
    assert_eq!(health.status, "misconfigured");
    assert!(!health.capabilities.forwarding && !health.capabilities.echo);
    assert_eq!(
        health.problems,
        ["ORIGIN_URL is not set, and forwarding to the origin needs it"]
    );

    let echo = production(
        &["ORIGIN_URL", "ORIGIN_SHARED_SECRET"],
        &[("ECHO", "enabled")],
    );
    assert_eq!(echo.forwarding, Ok(Forwarding::Echo));
    assert!(echo.health().capabilities.echo);
    for value in ["true", "1", "Enabled", "disabled"] {
        let config = production(&["ORIGIN_URL"], &[("ECHO", value)]);
        assert!(
            matches!(
                config.forwarding,
                Err(ConfigError::Invalid {
                    setting: "ECHO",
                    ..
                })
            ),
            "{value}"
        );
    }
    let both = production(&[], &[("ECHO", "enabled")]);
    assert_eq!(
        both.forwarding,
        Err(ConfigError::EchoWithOrigin {
            setting: "ORIGIN_URL"
        })
    );
}

#[test]
fn an_origin_needs_its_secret_and_the_error_names_it_never_its_value() {
    let config = production(&["ORIGIN_SHARED_SECRET"], &[]);
    assert_eq!(
        config.forwarding.unwrap_err().to_string(),
        "ORIGIN_SHARED_SECRET is not set, and forwarding to the origin needs it"
    );
    let short = production(&[], &[("ORIGIN_SHARED_SECRET", "s3cret")]);
    let message = short.forwarding.unwrap_err().to_string();
    assert!(
        message.starts_with("ORIGIN_SHARED_SECRET is invalid"),
        "{message}"
    );
    assert!(!message.contains("s3cret"));
}

#[test]
fn the_origin_timeout_defaults_to_30_seconds_and_must_be_sane() {
    let timeout = |with: &[(&str, &str)]| match production(&[], with).forwarding {
        Ok(Forwarding::Origin(target)) => Ok(target.timeout_seconds()),
        other => Err(other.map(|_| ()).unwrap_err().to_string()),
    };
    assert_eq!(timeout(&[]), Ok(DEFAULT_ORIGIN_TIMEOUT_SECONDS));
    assert_eq!(timeout(&[("ORIGIN_TIMEOUT_SECONDS", "5")]), Ok(5));
    for bad in ["0", "101", "-1", "1.5", "soon"] {
        let message = timeout(&[("ORIGIN_TIMEOUT_SECONDS", bad)]).unwrap_err();
        assert!(
            message.starts_with("ORIGIN_TIMEOUT_SECONDS is invalid"),
            "{bad}: {message}"
        );
    }
}

#[test]
fn the_origin_url_is_an_https_origin_or_loopback_http() {
    for good in [
        "https://api.internal",
        "https://api.internal/",
        "https://api.internal:8443",
        "http://127.0.0.1:9",
        "http://localhost:8080/",
        "http://[::1]:3000",
    ] {
        let config = production(&[], &[("ORIGIN_URL", good)]);
        assert!(config.forwarding.is_ok(), "{good}");
    }
    for bad in [
        "http://api.internal",
        "http://10.0.0.1",
        "https://api.internal/v1",
        "https://api.internal/?x=1",
        "https://user:pw@api.internal",
        "https://api.internal/#x",
        "ftp://api.internal",
        "api.internal",
        "https://",
    ] {
        let config = production(&[], &[("ORIGIN_URL", bad)]);
        let error = config.forwarding.unwrap_err().to_string();
        assert!(error.starts_with("ORIGIN_URL is invalid"), "{bad}: {error}");
    }
}

#[test]
fn sign_in_needs_every_one_of_its_settings() {
    for name in [
        "OIDC_ISSUER",
        "OIDC_CLIENT_ID",
        "OIDC_CLIENT_SECRET",
        "OIDC_PROVIDER_NAME",
        "COOKIE_SECRET",
    ] {
        let config = production(&[name], &[]);
        assert_eq!(
            config.sign_in.unwrap_err(),
            ConfigError::Missing {
                setting: name,
                needed_for: "sign-in with the identity provider"
            }
        );
        // Forwarding does not depend on sign-in, nor does anything fall back to another way
        // of signing in.
        let config = production(&[name], &[]);
        assert!(config.forwarding.is_ok());
        assert_eq!(config.dev_login, DevLogin::Disabled);
        assert!(!config.health().capabilities.sign_in);
    }
    for (name, value) in [
        ("OIDC_ISSUER", "http://id.example.com"),
        ("OIDC_ISSUER", "https://id.example.com?tenant=1"),
        ("OIDC_ISSUER", "id.example.com"),
        ("OIDC_CLIENT_ID", "a\nb"),
        (
            "OIDC_PROVIDER_NAME",
            "A provider name longer than forty characters",
        ),
        ("COOKIE_SECRET", "short"),
    ] {
        let config = production(&[], &[(name, value)]);
        assert!(
            matches!(config.sign_in, Err(ConfigError::Invalid { setting, .. }) if setting == name),
            "{name}={value}"
        );
    }
    let with_path = production(
        &[],
        &[("OIDC_ISSUER", "https://id.example.com/tenant/v2.0/")],
    );
    assert_eq!(
        with_path.sign_in.unwrap().discovery_url(),
        "https://id.example.com/tenant/v2.0/.well-known/openid-configuration"
    );
}

#[test]
fn dev_login_only_when_exactly_enabled() {
    assert_eq!(
        production(&[], &[("DEV_LOGIN", "enabled")]).dev_login,
        DevLogin::Enabled
    );
    for value in ["", "true", "Enabled", "1"] {
        assert_eq!(
            production(&[], &[("DEV_LOGIN", value)]).dev_login,
            DevLogin::Disabled
        );
    }
}

#[test]
fn revocation_is_fast_unless_strict_and_a_typo_disables_validation() {
    assert_eq!(production(&[], &[]).revocation, Ok(RevocationMode::Fast));
    for (value, mode) in [
        ("fast", RevocationMode::Fast),
        ("strict", RevocationMode::Strict),
    ] {
        let config = production(&[], &[("REVOCATION_MODE", value)]);
        assert_eq!(config.revocation, Ok(mode));
    }
    let typo = production(&[], &[("REVOCATION_MODE", "Strict")]);
    let error = typo.revocation.as_ref().unwrap_err();
    assert_eq!(
        error.to_string(),
        "REVOCATION_MODE is invalid: it must be \"strict\" or \"fast\" (unset means fast)"
    );
    assert_eq!(typo.problems(), vec![error]);
    assert_eq!(typo.health().status, "misconfigured");
}

#[test]
#[cfg(not(feature = "simulated-lag"))]
fn a_release_build_refuses_the_simulated_lag_setting() {
    assert_eq!(production(&[], &[]).simulated_lag, Ok(None));
    let config = production(&[], &[("SIMULATED_KV_LAG", "60")]);
    assert_eq!(
        config.simulated_lag,
        Err(ConfigError::TestOnly {
            setting: "SIMULATED_KV_LAG"
        })
    );
    assert!(!config.problems()[0].to_string().contains("60"));
}

#[test]
#[cfg(feature = "simulated-lag")]
fn the_lag_build_reads_its_setting() {
    assert_eq!(
        production(&[], &[("SIMULATED_KV_LAG", "60")]).simulated_lag,
        Ok(Some(SimulatedLag { cache_seconds: 60 }))
    );
    assert!(production(&[], &[("SIMULATED_KV_LAG", "0")])
        .simulated_lag
        .is_err());
}
