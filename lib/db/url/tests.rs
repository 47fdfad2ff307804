//! Table tests of the URL parser on the shapes Vercel integrations set.

use std::net::IpAddr;
use std::time::Duration;

use tokio_postgres::config::{
    ChannelBinding, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs,
};

use super::*;

/// Parameters: consistency, unknown names, sslmode, timeouts, options.
mod params;
use tokio_postgres::config::Host;

fn hosts(db: &DbUrl) -> Vec<String> {
    let show = |h: &Host| match h {
        Host::Tcp(name) => name.clone(),
        #[cfg(unix)]
        Host::Unix(path) => format!("unix:{}", path.display()),
    };
    db.pg.get_hosts().iter().map(show).collect()
}

const ALL_MODES: [SslMode; 6] = [
    SslMode::Disable,
    SslMode::Allow,
    SslMode::Prefer,
    SslMode::Require,
    SslMode::VerifyCa,
    SslMode::VerifyFull,
];

fn password(db: &DbUrl) -> &[u8] {
    db.pg.get_password().unwrap_or_default()
}

const NEON_POOLED: &str = "postgresql://neondb_owner:FAKEpw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require";
const SUPABASE_POOLED: &str = "postgres://postgres.abcdefghijklmnop:FAKEpw@aws-0-us-east-1.pooler.supabase.com:6543/postgres?sslmode=require&supa=base-pooler.x";

#[test]
fn a_neon_pooled_url_is_accepted_as_is() {
    let db = parse(NEON_POOLED).unwrap();
    assert_eq!(
        hosts(&db),
        ["ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"]
    );
    assert!(db.pg.get_ports().is_empty());
    assert_eq!(db.pg.get_user(), Some("neondb_owner"));
    assert_eq!(password(&db), b"FAKEpw");
    assert_eq!(db.pg.get_dbname(), Some("neondb"));
    assert_eq!(db.ssl_mode, SslMode::Require);
    assert_eq!(db.pg.get_channel_binding(), ChannelBinding::Require);
    assert_eq!(db.pooler_hint, Some("host contains pooler"));
    assert!(db.ignored.is_empty());
}

#[test]
fn a_neon_direct_url_has_no_pooler_hint() {
    let direct = NEON_POOLED.replace("-pooler", "");
    let db = parse(&direct).unwrap();
    assert_eq!(
        hosts(&db),
        ["ep-cool-darkness-123456.us-east-2.aws.neon.tech"]
    );
    assert_eq!(db.pooler_hint, None);
}

#[test]
fn a_supabase_pooler_url_is_accepted_as_is() {
    let db = parse(SUPABASE_POOLED).unwrap();
    assert_eq!(hosts(&db), ["aws-0-us-east-1.pooler.supabase.com"]);
    assert_eq!(db.pg.get_ports(), [6543]);
    assert_eq!(db.pg.get_user(), Some("postgres.abcdefghijklmnop"));
    assert_eq!(db.pooler_hint, Some("port 6543"));
    assert_eq!(db.ssl_mode, SslMode::Require);
    assert!(db.ignored.is_empty());
}

/// URL, hosts, ports, sslmode, pooler hint.
type Shape = (
    String,
    &'static [&'static str],
    &'static [u16],
    SslMode,
    Option<&'static str>,
);

#[test]
fn every_integration_shape_parses_to_the_expected_hosts_ports_mode_and_hint() {
    use SslMode::*;
    #[rustfmt::skip]
    let table: [Shape; 10] = [
        (format!("{SUPABASE_POOLED}&pgbouncer=true"), &["aws-0-us-east-1.pooler.supabase.com"], &[6543], Require, Some("port 6543")),
        (SUPABASE_POOLED.replace("6543", "5432"), &["aws-0-us-east-1.pooler.supabase.com"], &[5432], Require, Some("host contains pooler")),
        ("postgresql://postgres:FAKEpw@db.abcdefghijklmnop.supabase.co:5432/postgres".into(), &["db.abcdefghijklmnop.supabase.co"], &[5432], Prefer, None),
        ("postgresql://u:FAKEpw@host:5432/db?pgbouncer=true&connect_timeout=15&connection_limit=1&pool_timeout=0".into(), &["host"], &[5432], Prefer, Some("pgbouncer=true")),
        ("postgres://user@localhost/db".into(), &["localhost"], &[], Prefer, None),
        ("postgres://u:FAKEpw@[::1]:5432/db".into(), &["::1"], &[5432], Prefer, None),
        ("postgres://u:FAKEpw@[::1]/db".into(), &["::1"], &[], Prefer, None),
        ("postgres://u@h1:5432,h2:5433/db".into(), &["h1", "h2"], &[5432, 5433], Prefer, None),
        ("postgres://u@h1,h2:5433/db".into(), &["h1", "h2"], &[5432, 5433], Prefer, None),
        ("POSTGRES://u@Pooler.example/db?pgbouncer=false".into(), &["Pooler.example"], &[], Prefer, Some("host contains pooler")),
    ];
    for (url, want_hosts, want_ports, want_mode, want_hint) in table {
        let db = parse(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(hosts(&db), want_hosts, "{url}");
        assert_eq!(db.pg.get_ports(), want_ports, "{url}");
        assert_eq!(db.ssl_mode, want_mode, "{url}");
        assert_eq!(db.pooler_hint, want_hint, "{url}");
        assert!(db.ignored.is_empty(), "{url}: {:?}", db.ignored);
    }
}

#[test]
fn a_prisma_style_url_keeps_its_connect_timeout_and_ignores_pool_settings_silently() {
    let url = "postgresql://u:FAKEpw@host:5432/db?pgbouncer=true&connect_timeout=15&connection_limit=1&pool_timeout=0";
    let db = parse(url).unwrap();
    assert_eq!(db.connect_timeout_secs, Some(15));
    assert_eq!(db.pg.get_connect_timeout(), Some(&Duration::from_secs(15)));
    assert!(db.ignored.is_empty());
}

#[cfg(unix)]
#[test]
fn a_unix_socket_directory_in_the_host_parameter_is_a_socket() {
    let url =
        "postgres:///opsbridge?user=postgres&host=/var/run/postgresql&port=5433&sslmode=disable";
    let db = parse(url).unwrap();
    assert_eq!(hosts(&db), ["unix:/var/run/postgresql"]);
    assert_eq!(db.pg.get_ports(), [5433]);
    assert_eq!(db.pg.get_user(), Some("postgres"));
    assert_eq!(db.pg.get_dbname(), Some("opsbridge"));
    assert_eq!(db.ssl_mode, SslMode::Disable);
    let encoded = parse("postgres://%2Frun%2Fpostgresql:5433/db").unwrap();
    assert_eq!(hosts(&encoded), ["unix:/run/postgresql"]);
}

#[test]
fn a_percent_encoded_password_is_decoded() {
    let db = parse("postgres://u:p%40ss%3Aw%25rd@host/db").unwrap();
    assert_eq!(password(&db), b"p@ss:w%rd");
    assert_eq!(hosts(&db), ["host"]);
}

#[test]
fn a_raw_at_colon_and_percent_in_the_password_are_kept() {
    let db = parse("postgres://u:p@ss:w%rd@host/db").unwrap();
    assert_eq!(db.pg.get_user(), Some("u"));
    assert_eq!(password(&db), b"p@ss:w%rd");
    assert_eq!(hosts(&db), ["host"]);
    assert_eq!(db.pg.get_dbname(), Some("db"));
}

#[test]
fn plus_is_not_a_space_and_a_broken_escape_is_kept_literally() {
    let db = parse("postgres://u%2Bx:FAKE+pw%2@host/d%C3%A9b%zz?application_name=a+b%20c").unwrap();
    assert_eq!(db.pg.get_user(), Some("u+x"));
    assert_eq!(password(&db), b"FAKE+pw%2");
    assert_eq!(db.pg.get_dbname(), Some("d\u{e9}b%zz"));
    assert_eq!(db.pg.get_application_name(), Some("a+b c"));
}

#[test]
fn a_raw_slash_question_mark_or_hash_in_the_password_asks_for_percent_encoding() {
    for url in [
        "postgres://u:FAKE/pw@host/db",
        "postgres://u:FAKE?pw@host/db",
        "postgres://u:FAKE#pw@host/db?sslmode=require",
        "postgres://u:FA@KE/pw@host/db",
        "postgres://u:FAKE?x=1&pw@host/db",
    ] {
        assert_eq!(
            parse(url).unwrap_err(),
            UrlError::RawDelimiterInPassword,
            "{url}"
        );
    }
}

#[test]
fn a_malformed_url_is_refused_without_echoing_it_or_its_password() {
    use UrlError::*;
    let table = [
        ("not a url", NotPostgres),
        ("mysql://u:FAKEpw@host/db", NotPostgres),
        ("postgres:/host/db", NotPostgres),
        ("postgres://u:FAKEpw@host:notaport/db", Invalid("port")),
        ("postgres://u:FAKEpw@host:0/db", Invalid("port")),
        ("postgres://u:FAKEpw@host:70000/db", Invalid("port")),
        ("postgres://u:FAKEpw@host/db?sslmode=bogus", InvalidSslMode),
        (
            "postgres://u:FAKEpw@host/db?sslmode=no-verify",
            InvalidSslMode,
        ),
        ("postgres://u:FAKEpw@/db", NoHost),
        ("postgres://u:FAKEpw@:5432/db", NoHost),
        ("postgres://u:FAKEpw@[::1/db", Invalid("host")),
        ("postgres://u:FAKEpw@[::1]x/db", Invalid("host")),
        ("postgres://u:FAKEpw@h1,,h2/db", Invalid("host")),
        ("postgres://u:FAKEpw@host/db?host=a,,b", Invalid("host")),
        ("postgres://u:FAKEpw@host/db?sslmode", MalformedQuery),
        (
            "postgres://u:FAKEpw@host/db?connect_timeout=soon",
            Invalid("connect_timeout"),
        ),
        (
            "postgres://u:FAKEpw@host/db?channel_binding=maybe",
            Invalid("channel_binding"),
        ),
        (
            "postgres://u:FAKEpw@host/db?sslnegotiation=sideways",
            Invalid("sslnegotiation"),
        ),
        (
            "postgres://u:FAKEpw@host/db?hostaddr=not-an-ip",
            Invalid("hostaddr"),
        ),
        ("postgres://u:FAKEpw@host/db?port=5432,x", Invalid("port")),
        (
            "postgres://u:FAKEpw@host/db?keepalives=yes",
            Invalid("keepalives"),
        ),
        (
            "postgres://u:FAKEpw@host/db?keepalives_retries=-1",
            Invalid("keepalives_retries"),
        ),
        (
            "postgres://u:FAKEpw@host/db?tcp_user_timeout=1.5",
            Invalid("tcp_user_timeout"),
        ),
        (
            "postgres://u:FAKEpw@host/db?target_session_attrs=primary",
            Invalid("target_session_attrs"),
        ),
        (
            "postgres://u:FAKEpw@host/db?load_balance_hosts=always",
            Invalid("load_balance_hosts"),
        ),
        ("postgres://u:FAKEpw@host/d%FFb", Invalid("dbname")),
    ];
    for (url, want) in table {
        let err = parse(url).unwrap_err();
        assert_eq!(err, want, "{url}");
        let shown = err.to_string();
        assert!(
            !shown.contains("FAKEpw") && !shown.contains(url),
            "{url}: {shown}"
        );
    }
    assert_eq!(Invalid("port").to_string(), "invalid port");
    assert_eq!(NoHost.to_string(), "no host");
    assert!(InvalidSslMode.to_string().contains("sslmode"));
}
