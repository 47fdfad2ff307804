//! The parser's working parts: the parameters it knows, how each is read
//! into the tokio-postgres config, and libpq's percent-decoding.

use std::net::IpAddr;
use std::time::Duration;

use tokio_postgres::config::{
    ChannelBinding, LoadBalanceHosts, SslNegotiation, TargetSessionAttrs,
};

use super::decode::{decode_str, percent_decode};
use super::{DbUrl, RootCert, SslMode, UrlError};

/// Parameters we read, then those accepted without a warning: poolers',
/// ORMs' and libpq's own that change nothing here (`schema` is reported
/// unless it is `public`). Any other name lands in [`DbUrl::ignored`].
pub(super) const KNOWN: &str = "host hostaddr port user password dbname application_name \
    fallback_application_name options sslmode requiressl sslrootcert sslnegotiation \
    channel_binding connect_timeout keepalives keepalives_idle keepalives_interval \
    keepalives_retries tcp_user_timeout target_session_attrs load_balance_hosts \
    pgbouncer supa connection_limit pool_timeout schema statement_cache_size \
    socket_timeout sslaccept sslcert sslkey sslpassword sslcrl sslsni gssencmode \
    krbsrvname prepareThreshold";

/// What the URL said that is checked or combined before it becomes a [`DbUrl`];
/// the rest goes straight into `pg`.
#[derive(Default)]
pub(super) struct Parts {
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

pub(super) fn strip_scheme(url: &str) -> Option<&str> {
    ["postgresql://", "postgres://"].iter().find_map(|scheme| {
        let head = url.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &url[scheme.len()..])
    })
}

/// A port; empty means the default, as in libpq.
pub(super) fn parse_port(port: &str) -> Result<u16, UrlError> {
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
pub(super) fn pick<T: Copy>(choices: &[(&str, T)], value: &str) -> Option<T> {
    Some(choices.iter().find(|(name, _)| *name == value)?.1)
}

impl Parts {
    /// `host[:port]` entries, comma-separated; IPv6 hosts in brackets.
    pub(super) fn authority_hosts(&mut self, hostport: &str) -> Result<(), UrlError> {
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

    pub(super) fn set_password(&mut self, raw: &str) {
        let password = percent_decode(raw);
        if !password.is_empty() {
            self.pg.password(password);
        }
    }

    /// Sets a known parameter from its percent-decoded value.
    pub(super) fn set(&mut self, name: &'static str, value: &str) -> Result<(), UrlError> {
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
    pub(super) fn param(&mut self, key: &str, raw: &str) -> Result<(), UrlError> {
        match KNOWN.split_whitespace().find(|k| *k == key) {
            None => self.ignored.push(key.to_owned()),
            Some("password") => self.set_password(raw),
            Some(name) => self.set(name, &decode_str(raw, name)?)?,
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<DbUrl, UrlError> {
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
