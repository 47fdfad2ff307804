//! Parsing of the Postgres URLs that Vercel's Neon and Supabase integrations
//! (and Prisma-style configs) put in `DATABASE_URL` / `POSTGRES_URL`.
//!
//! `tokio_postgres::Config::from_str` is not enough for them: it refuses the
//! parameters poolers and ORMs add (`supa`, `pgbouncer`, `connection_limit`,
//! ...), knows only three of libpq's six `sslmode`s, reads `tcp_user_timeout`
//! in seconds (libpq: milliseconds) and cannot take a raw `@` in a password.
//! So the URL is parsed here, libpq's way, into a `tokio_postgres::Config`
//! plus what the caller needs for TLS ([`SslMode`], [`RootCert`]) and for
//! picking the pooler mode. Errors never carry the URL or the password.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use tokio_postgres::config::{
    ChannelBinding, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs,
};

/// libpq's sslmode, ordered from weakest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if the server insists (treated like `Prefer`: tokio-postgres tries TLS first).
    Allow,
    /// TLS if the server offers it, certificate not verified.
    Prefer,
    /// TLS required, certificate not verified.
    Require,
    /// TLS required, certificate chain verified, host name not checked.
    VerifyCa,
    /// TLS required, certificate chain and host name verified.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling: `"disable"` ... `"verify-full"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What to give `tokio_postgres::Config::ssl_mode`: `Disable` for
    /// `Disable`, `Prefer` for `Allow`/`Prefer`, `Require` otherwise.
    pub fn tokio_ssl_mode(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as T;
        match self {
            SslMode::Disable => T::Disable,
            SslMode::Allow | SslMode::Prefer => T::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => T::Require,
        }
    }

    fn parse(s: &str) -> Option<SslMode> {
        use SslMode::*;
        let all = [Disable, Allow, Prefer, Require, VerifyCa, VerifyFull];
        all.into_iter().find(|m| m.as_str() == s)
    }
}

/// Where `sslrootcert` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A file path, as given.
    File(String),
    /// `sslrootcert=system` (libpq 16): the system roots, with `verify-full`.
    System,
}

/// A parsed URL.
#[derive(Clone)]
pub struct DbUrl {
    /// Hosts, ports, user, password, dbname and the connection parameters
    /// from the URL. `ssl_mode` is left at its default: set it from
    /// [`SslMode::tokio_ssl_mode`]. `options` is NOT set here (see
    /// [`DbUrl::options`]): a `Config` cannot unset it once set.
    pub pg: tokio_postgres::Config,
    /// `sslmode`; `Prefer` (libpq's default) when absent, `Require` for
    /// `requiressl=1`, `VerifyFull` for `sslrootcert=system`.
    pub ssl_mode: SslMode,
    /// `sslrootcert`, if given (and not empty).
    pub root_cert: Option<RootCert>,
    /// Why `DATABASE_POOLER=auto` would pick transaction mode: `"port 6543"`,
    /// `"host contains pooler"` or `"pgbouncer=true"` (first that applies).
    pub pooler_hint: Option<&'static str>,
    /// `connect_timeout` in seconds as given, unclamped. 0 or negative
    /// means "no limit" to libpq (and Prisma) and gives `None`, like no
    /// parameter: the caller's own limit applies.
    pub connect_timeout_secs: Option<u64>,
    /// The `options` parameter, if given and not empty. Left out of `pg`
    /// because transaction poolers refuse it: the caller decides.
    pub options: Option<String>,
    /// `options.is_some()`.
    pub has_options: bool,
    /// Names (never values) of the parameters that were ignored, sorted and
    /// deduplicated, for one startup warning.
    pub ignored: Vec<String>,
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tokio-postgres prints the password as `_` (a test checks it).
        f.debug_struct("DbUrl")
            .field("pg", &self.pg)
            .field("ssl_mode", &self.ssl_mode)
            .field("root_cert", &self.root_cert)
            .field("pooler_hint", &self.pooler_hint)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("options", &self.options)
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}

/// Why a URL was refused. The message never holds the URL or the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `postgres://` or `postgresql://`.
    #[error("not a postgres:// or postgresql:// URL")]
    NotPostgres,
    /// A raw `/`, `?` or `#` in the password cut the URL in the wrong place.
    #[error("a raw '/', '?' or '#' in the password must be percent-encoded")]
    RawDelimiterInPassword,
    /// Neither a host nor a hostaddr.
    #[error("no host")]
    NoHost,
    /// `sslmode` is not one of libpq's six.
    #[error("invalid sslmode (disable, allow, prefer, require, verify-ca or verify-full)")]
    InvalidSslMode,
    /// The named parameter or URL part (`host`, `port`, `dbname`...) has a
    /// value we cannot use (bad number, unknown keyword, empty or badly
    /// bracketed host, not UTF-8 once percent-decoded).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A query segment without `=`.
    #[error("invalid query string (expected name=value pairs)")]
    MalformedQuery,
    /// Parameters that libpq refuses together; the message says which.
    #[error("{0}")]
    Inconsistent(&'static str),
}

/// Parameters we read, then those accepted without a warning: poolers',
/// ORMs' and libpq's own that change nothing here (`schema` is reported
/// unless it is `public`). Any other name lands in [`DbUrl::ignored`].
const KNOWN: &str = "host hostaddr port user password dbname application_name \
    fallback_application_name options sslmode requiressl sslrootcert sslnegotiation \
    channel_binding connect_timeout keepalives keepalives_idle keepalives_interval \
    keepalives_retries tcp_user_timeout target_session_attrs load_balance_hosts \
    pgbouncer supa connection_limit pool_timeout schema statement_cache_size \
    socket_timeout sslaccept sslcert sslkey sslpassword sslcrl sslsni gssencmode \
    krbsrvname prepareThreshold";

/// What the URL said that is checked or combined before it becomes a [`DbUrl`];
/// the rest goes straight into `pg`.
#[derive(Default)]
struct Parts {
    pg: tokio_postgres::Config,
    hosts: Vec<String>,
    hostaddrs: Vec<IpAddr>,
    ports: Vec<u16>,
    fallback_application_name: Option<String>,
    options: Option<String>,
    ssl_mode: Option<SslMode>,
    requiressl: bool,
    root_cert: Option<RootCert>,
    pgbouncer: bool,
    connect_timeout: Option<u64>,
    ignored: Vec<String>,
}

/// Parses a `postgres://` or `postgresql://` URL the way libpq does (see the
/// module docs). Userinfo ends at the last `@` of the authority, the user at
/// the first `:` of the userinfo, so a raw `@`, `:` or `%` in a password works;
/// a raw `/`, `?` or `#` cannot (percent-encode it), nor can a raw `@` in the
/// database name. Query parameters override the authority's parts; a repeated
/// parameter's last value wins (`host`, `hostaddr` and `port` take comma lists).
pub fn parse(url: &str) -> Result<DbUrl, UrlError> {
    let rest = strip_scheme(url).ok_or(UrlError::NotPostgres)?;
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let (tail, fragment) = tail.split_once('#').unwrap_or((tail, ""));
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    // An '@' after the authority is where a password's raw '/', '?' or '#' cut it.
    let key_has_at = |kv: &str| kv.split('=').next().is_some_and(|k| k.contains('@'));
    if path.contains('@') || fragment.contains('@') || query.split('&').any(key_has_at) {
        return Err(UrlError::RawDelimiterInPassword);
    }

    let mut parts = Parts::default();
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            parts.set("user", &decode_str(user, "user")?)?;
            parts.set_password(password);
            hostport
        }
        None => authority,
    };
    parts.authority_hosts(hostport)?;
    parts.set(
        "dbname",
        &decode_str(path.strip_prefix('/').unwrap_or(path), "dbname")?,
    )?;
    for pair in query.split('&').filter(|kv| !kv.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or(UrlError::MalformedQuery)?;
        parts.param(&String::from_utf8_lossy(&percent_decode(key)), value)?;
    }
    parts.finish()
}

fn strip_scheme(url: &str) -> Option<&str> {
    ["postgresql://", "postgres://"].iter().find_map(|scheme| {
        let head = url.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &url[scheme.len()..])
    })
}

/// A port; empty means the default, as in libpq.
fn parse_port(port: &str) -> Result<u16, UrlError> {
    match port {
        "" => Ok(5432),
        _ => port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or(UrlError::Invalid("port")),
    }
}

/// The value among `choices` that `value` names.
fn pick<T: Copy>(choices: &[(&str, T)], value: &str) -> Option<T> {
    Some(choices.iter().find(|(name, _)| *name == value)?.1)
}

impl Parts {
    /// `host[:port]` entries, comma-separated; IPv6 hosts in brackets.
    fn authority_hosts(&mut self, hostport: &str) -> Result<(), UrlError> {
        if hostport.is_empty() {
            return Ok(());
        }
        let entries: Vec<&str> = hostport.split(',').collect();
        let mut ports = Vec::new();
        for entry in &entries {
            let (host, port) = match entry.strip_prefix('[') {
                Some(bracketed) => bracketed.split_once(']').ok_or(UrlError::Invalid("host"))?,
                None => entry.split_at(entry.find(':').unwrap_or(entry.len())),
            };
            ports.push(match port {
                "" => None,
                _ => Some(parse_port(
                    port.strip_prefix(':').ok_or(UrlError::Invalid("host"))?,
                )?),
            });
            let host = decode_str(host, "host")?;
            match (host.is_empty(), entries.len()) {
                (false, _) => self.hosts.push(host),
                // `postgres://:5433/db?host=/run/postgresql` names only a port.
                (true, 1) => {}
                (true, _) => return Err(UrlError::Invalid("host")),
            }
        }
        if ports.iter().any(Option::is_some) {
            self.ports = ports.into_iter().map(|p| p.unwrap_or(5432)).collect();
        }
        Ok(())
    }

    fn set_password(&mut self, raw: &str) {
        let password = percent_decode(raw);
        if !password.is_empty() {
            self.pg.password(password);
        }
    }

    /// Sets a known parameter from its percent-decoded value.
    fn set(&mut self, name: &'static str, value: &str) -> Result<(), UrlError> {
        let bad = || UrlError::Invalid(name);
        let int = |v: &str| v.parse::<i64>().map_err(|_| bad());
        let positive = |n: i64| u64::try_from(n).ok().filter(|n| *n > 0);
        let list = |v: &str| v.split(',').map(str::to_owned).collect::<Vec<_>>();
        match name {
            _ if value.is_empty() && matches!(name, "user" | "dbname" | "options") => {}
            "host" if list(value).iter().any(String::is_empty) => {
                return Err(UrlError::Invalid("host"))
            }
            "host" => self.hosts = list(value),
            "hostaddr" => {
                let addrs = value
                    .split(',')
                    .map(|a| a.trim().parse().map_err(|_| bad()));
                self.hostaddrs = addrs.collect::<Result<_, _>>()?;
            }
            "port" => self.ports = value.split(',').map(parse_port).collect::<Result<_, _>>()?,
            "user" => _ = self.pg.user(value),
            "dbname" => _ = self.pg.dbname(value),
            "application_name" => _ = self.pg.application_name(value),
            "fallback_application_name" => self.fallback_application_name = Some(value.into()),
            "options" => self.options = Some(value.into()),
            "sslmode" => {
                self.ssl_mode = Some(SslMode::parse(value).ok_or(UrlError::InvalidSslMode)?)
            }
            "requiressl" => self.requiressl = value == "1",
            "sslrootcert" if value.is_empty() => self.root_cert = None,
            "sslrootcert" if value == "system" => self.root_cert = Some(RootCert::System),
            "sslrootcert" => self.root_cert = Some(RootCert::File(value.into())),
            "sslnegotiation" => {
                use SslNegotiation::*;
                let choices = [("postgres", Postgres), ("direct", Direct)];
                self.pg
                    .ssl_negotiation(pick(&choices, value).ok_or_else(bad)?);
            }
            "channel_binding" => {
                use ChannelBinding::*;
                let choices = [
                    ("disable", Disable),
                    ("prefer", Prefer),
                    ("require", Require),
                ];
                self.pg
                    .channel_binding(pick(&choices, value).ok_or_else(bad)?);
            }
            // libpq: 0 or negative means no limit.
            "connect_timeout" => self.connect_timeout = positive(int(value)?),
            "keepalives" => _ = self.pg.keepalives(int(value)? != 0),
            "keepalives_idle" => {
                if let Some(secs) = positive(int(value)?) {
                    self.pg.keepalives_idle(Duration::from_secs(secs));
                }
            }
            "keepalives_interval" => {
                if let Some(secs) = positive(int(value)?) {
                    self.pg.keepalives_interval(Duration::from_secs(secs));
                }
            }
            "keepalives_retries" => {
                let retries = value.parse().map_err(|_| bad())?;
                self.pg.keepalives_retries(retries);
            }
            // libpq reads tcp_user_timeout in milliseconds.
            "tcp_user_timeout" => {
                if let Some(ms) = positive(int(value)?) {
                    self.pg.tcp_user_timeout(Duration::from_millis(ms));
                }
            }
            "target_session_attrs" => {
                use TargetSessionAttrs::*;
                let choices = [
                    ("any", Any),
                    ("read-write", ReadWrite),
                    ("read-only", ReadOnly),
                ];
                self.pg
                    .target_session_attrs(pick(&choices, value).ok_or_else(bad)?);
            }
            "load_balance_hosts" => {
                use LoadBalanceHosts::*;
                let choices = [("disable", Disable), ("random", Random)];
                self.pg
                    .load_balance_hosts(pick(&choices, value).ok_or_else(bad)?);
            }
            "pgbouncer" => self.pgbouncer = value.eq_ignore_ascii_case("true"),
            "schema" if value != "public" => self.ignored.push(name.to_owned()),
            _ => {}
        }
        Ok(())
    }

    /// A query parameter: known ones are set, unknown ones remembered by name.
    fn param(&mut self, key: &str, raw: &str) -> Result<(), UrlError> {
        match KNOWN.split_whitespace().find(|k| *k == key) {
            None => self.ignored.push(key.to_owned()),
            Some("password") => self.set_password(raw),
            Some(name) => self.set(name, &decode_str(raw, name)?)?,
        }
        Ok(())
    }

    fn finish(mut self) -> Result<DbUrl, UrlError> {
        let ssl_mode = match (self.ssl_mode, self.requiressl, &self.root_cert) {
            (Some(mode), _, _) => mode,
            (None, true, _) => SslMode::Require,
            (None, false, Some(RootCert::System)) => SslMode::VerifyFull,
            (None, false, _) => SslMode::Prefer,
        };
        let refuse = |bad: bool, why| {
            bad.then_some(UrlError::Inconsistent(why))
                .map_or(Ok(()), Err)
        };
        let system = self.root_cert == Some(RootCert::System);
        refuse(
            system && ssl_mode != SslMode::VerifyFull,
            "sslrootcert=system needs sslmode=verify-full",
        )?;
        let direct = self.pg.get_ssl_negotiation() == SslNegotiation::Direct;
        refuse(
            ssl_mode < SslMode::Require && direct,
            "sslnegotiation=direct needs sslmode require, verify-ca or verify-full",
        )?;
        let (hosts, addrs) = (self.hosts.len(), self.hostaddrs.len());
        if hosts == 0 && addrs == 0 {
            return Err(UrlError::NoHost);
        }
        refuse(
            hosts > 0 && addrs > 0 && hosts != addrs,
            "hostaddr must list one address per host",
        )?;
        let ports = self.ports.len();
        refuse(
            ports > 1 && ports != hosts.max(addrs),
            "port must list one port, or one per host",
        )?;

        let pooler = |h: &String| h.to_ascii_lowercase().contains("pooler");
        let pooler_hint = if self.ports.contains(&6543) {
            Some("port 6543")
        } else if self.hosts.iter().any(pooler) {
            Some("host contains pooler")
        } else {
            self.pgbouncer.then_some("pgbouncer=true")
        };

        let pg = &mut self.pg;
        for host in &self.hosts {
            pg.host(host);
        }
        for addr in &self.hostaddrs {
            pg.hostaddr(*addr);
        }
        for port in &self.ports {
            pg.port(*port);
        }
        if let (None, Some(name)) = (pg.get_application_name(), self.fallback_application_name) {
            pg.application_name(name);
        }
        if let Some(secs) = self.connect_timeout {
            pg.connect_timeout(Duration::from_secs(secs));
        }
        self.ignored.sort();
        self.ignored.dedup();
        Ok(DbUrl {
            pg: self.pg,
            ssl_mode,
            root_cert: self.root_cert,
            pooler_hint,
            connect_timeout_secs: self.connect_timeout,
            has_options: self.options.is_some(),
            options: self.options,
            ignored: self.ignored,
        })
    }
}

/// Decodes `%XX` (`+` stays a `+`, as in libpq); any other `%` is kept as is.
fn percent_decode(s: &str) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn decode_str(s: &str, what: &'static str) -> Result<String, UrlError> {
    String::from_utf8(percent_decode(s)).map_err(|_| UrlError::Invalid(what))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let url = "postgres:///opsbridge?user=postgres&host=/var/run/postgresql&port=5433&sslmode=disable";
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
        let db =
            parse("postgres://u%2Bx:FAKE+pw%2@host/d%C3%A9b%zz?application_name=a+b%20c").unwrap();
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
}
