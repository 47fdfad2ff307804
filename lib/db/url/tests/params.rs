//! The query parameters of a URL, as libpq reads them.

use super::*;

#[test]
fn inconsistent_parameters_are_refused_as_libpq_does() {
    for (url, why) in [
        (
            "postgres://u@host/db?sslrootcert=system&sslmode=require",
            "sslrootcert=system",
        ),
        (
            "postgres://u@host/db?sslnegotiation=direct",
            "sslnegotiation=direct",
        ),
        ("postgres://u@h1,h2/db?hostaddr=10.0.0.1", "hostaddr"),
        ("postgres://u@h1,h2,h3/db?port=1,2", "port"),
    ] {
        match parse(url).unwrap_err() {
            UrlError::Inconsistent(msg) => assert!(msg.starts_with(why), "{url}: {msg}"),
            other => panic!("{url}: {other}"),
        }
    }
}

#[test]
fn unknown_parameters_are_reported_by_name_sorted_and_once() {
    let url = "postgres://u:FAKEpw@host/db?zeta=FAKEsecret&sslfactory=x&supa=base-pooler.x&zeta=2&alpha=1&schema=app";
    let db = parse(url).unwrap();
    assert_eq!(db.ignored, ["alpha", "schema", "sslfactory", "zeta"]);
    assert!(!format!("{:?}", db.ignored).contains("FAKEsecret"));
}

#[test]
fn known_pooler_and_orm_parameters_are_accepted_silently() {
    let url = "postgres://u@host/db?schema=public&statement_cache_size=0&socket_timeout=5&sslaccept=strict&sslcert=c&sslkey=k&sslpassword=FAKEpw&sslcrl=x&sslsni=1&gssencmode=disable&krbsrvname=postgres&prepareThreshold=0";
    assert!(parse(url).unwrap().ignored.is_empty());
}

#[test]
fn query_parameters_override_the_authority_and_the_last_repeat_wins() {
    let url = "postgres://a:FAKEpw1@h1:1/d1?host=h2,h3&port=7,8&user=b&password=FAKEpw%262&dbname=d2&sslmode=disable&sslmode=verify-full";
    let db = parse(url).unwrap();
    assert_eq!(hosts(&db), ["h2", "h3"]);
    assert_eq!(db.pg.get_ports(), [7, 8]);
    assert_eq!(db.pg.get_user(), Some("b"));
    assert_eq!(password(&db), b"FAKEpw&2");
    assert_eq!(db.pg.get_dbname(), Some("d2"));
    assert_eq!(db.ssl_mode, SslMode::VerifyFull);
}

#[test]
fn sslmode_defaults_to_prefer_and_requiressl_or_sslrootcert_change_it() {
    let mode = |q: &str| parse(&format!("postgres://u@host/db?{q}")).map(|d| d.ssl_mode);
    assert_eq!(mode(""), Ok(SslMode::Prefer));
    assert_eq!(mode("requiressl=1"), Ok(SslMode::Require));
    assert_eq!(
        mode("requiressl=1&sslmode=verify-ca"),
        Ok(SslMode::VerifyCa)
    );
    assert_eq!(mode("sslrootcert=system"), Ok(SslMode::VerifyFull));
    for m in ALL_MODES {
        assert_eq!(mode(&format!("sslmode={}", m.as_str())), Ok(m));
    }
}

#[test]
fn sslrootcert_is_a_file_or_the_system_roots() {
    let root = |q: &str| {
        parse(&format!("postgres://u@host/db?{q}"))
            .unwrap()
            .root_cert
    };
    assert_eq!(
        root("sslrootcert=%2Fetc%2Fca.pem"),
        Some(RootCert::File("/etc/ca.pem".into()))
    );
    assert_eq!(root("sslrootcert=system"), Some(RootCert::System));
    assert_eq!(root("sslrootcert="), None);
    assert_eq!(root(""), None);
}

#[test]
fn tokio_ssl_modes_follow_libpq_modes() {
    use tokio_postgres::config::SslMode as T;
    let want = [
        T::Disable,
        T::Prefer,
        T::Prefer,
        T::Require,
        T::Require,
        T::Require,
    ];
    for (mode, want) in ALL_MODES.into_iter().zip(want) {
        assert_eq!(mode.tokio_ssl_mode(), want, "{mode:?}");
    }
    assert_eq!(SslMode::VerifyCa.as_str(), "verify-ca");
}

#[test]
fn timeouts_and_keepalives_are_read_in_libpq_units() {
    let url = "postgres://u@host/db?connect_timeout=0&keepalives=0&keepalives_idle=30&keepalives_interval=5&keepalives_retries=3&tcp_user_timeout=2500";
    let db = parse(url).unwrap();
    assert_eq!(db.connect_timeout_secs, None);
    assert_eq!(db.pg.get_connect_timeout(), None);
    assert!(!db.pg.get_keepalives());
    assert_eq!(db.pg.get_keepalives_idle(), Duration::from_secs(30));
    assert_eq!(
        db.pg.get_keepalives_interval(),
        Some(Duration::from_secs(5))
    );
    assert_eq!(db.pg.get_keepalives_retries(), Some(3));
    assert_eq!(
        db.pg.get_tcp_user_timeout(),
        Some(&Duration::from_millis(2500))
    );
    let negative = parse("postgres://u@host/db?connect_timeout=-1").unwrap();
    assert_eq!(negative.connect_timeout_secs, None);
    assert_eq!(
        parse("postgres://u@host/db").unwrap().connect_timeout_secs,
        None
    );
}

#[test]
fn the_remaining_connection_parameters_reach_the_config() {
    let url = "postgres://u@h1,h2/db?hostaddr=10.0.0.1,::1&target_session_attrs=read-write&load_balance_hosts=random&sslnegotiation=direct&sslmode=require&channel_binding=disable&fallback_application_name=fb";
    let db = parse(url).unwrap();
    let addrs: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    assert_eq!(db.pg.get_hostaddrs(), addrs.as_slice());
    assert_eq!(
        db.pg.get_target_session_attrs(),
        TargetSessionAttrs::ReadWrite
    );
    assert_eq!(db.pg.get_load_balance_hosts(), LoadBalanceHosts::Random);
    assert_eq!(db.pg.get_ssl_negotiation(), SslNegotiation::Direct);
    assert_eq!(db.pg.get_channel_binding(), ChannelBinding::Disable);
    assert_eq!(db.pg.get_application_name(), Some("fb"));
    let named =
        parse("postgres://u@h/db?application_name=app&fallback_application_name=fb").unwrap();
    assert_eq!(named.pg.get_application_name(), Some("app"));
    assert!(parse("postgres://u:FAKEpw@/db?hostaddr=127.0.0.1").is_ok());
}

#[test]
fn options_are_handed_to_the_caller_and_kept_out_of_the_config() {
    let db = parse("postgres://u@host/db?options=-c%20search_path%3Dapp").unwrap();
    assert_eq!(db.options.as_deref(), Some("-c search_path=app"));
    assert!(db.has_options);
    assert_eq!(db.pg.get_options(), None);
    let empty = parse("postgres://u@host/db?options=").unwrap();
    assert!(!empty.has_options && empty.options.is_none());
}

#[test]
fn debug_output_never_shows_the_password() {
    let db = parse("postgres://u:FAKEpw@host/db?password=FAKEpw2").unwrap();
    let shown = format!("{db:?}");
    assert!(!shown.contains("FAKEpw"), "{shown}");
    assert!(shown.contains("password: Some(_)"), "{shown}");
}
