//! CORS, upstream timeouts, retries and the upstream `Host` of an Ingress: values read through
//! the registry, parsed by [`crate::table::cors`], [`crate::table::timeouts`],
//! [`crate::table::retries`] and [`crate::table::upstream_host`]. None restricts access, so a
//! value that does not parse is reported and ingress-nginx's default applies, as ingress-nginx
//! does.

use std::sync::Arc;

use super::Reader;
use crate::model::{Diagnostic, Reason};
use crate::table::cors::{Cors, CorsValues};
use crate::table::retries::{NextUpstream, Retries, parse_retry_timeout, parse_tries};
use crate::table::timeouts::{Timeouts, parse_seconds};

impl Reader<'_, '_> {
    /// `enable-cors` and the `cors-*` keys; `None` unless CORS is enabled.
    pub(super) fn cors(&mut self) -> Option<Arc<Cors>> {
        if self.boolean_nginx("enable-cors") != Some(true) {
            return None;
        }
        let value = |name| self.keys.nginx(name).map(|(_, value)| value);
        let values = CorsValues {
            allow_origin: value("cors-allow-origin"),
            allow_methods: value("cors-allow-methods"),
            allow_headers: value("cors-allow-headers"),
            expose_headers: value("cors-expose-headers"),
            allow_credentials: value("cors-allow-credentials"),
            max_age: value("cors-max-age"),
        };
        let (cors, fallbacks) = Cors::parse(values);
        for f in fallbacks {
            let key = self
                .keys
                .nginx(f.key)
                .map_or_else(|| f.key.to_owned(), |(key, _)| key);
            let message = format!(
                "{key}: {:?} is not valid as ingress-nginx reads it; {} applies",
                f.value, f.default
            );
            self.diagnostics.push(Diagnostic::warning(
                self.object.clone(),
                Reason::InvalidAnnotation,
                message,
            ));
        }
        Some(Arc::new(cors))
    }

    /// `proxy-connect-timeout`, `proxy-read-timeout`, `proxy-send-timeout`; `None` when all
    /// are the global defaults.
    /// `upstream-vhost`: a literal `host[:port]`; anything else is reported and the client's
    /// `Host` is sent.
    pub(super) fn upstream_host(&mut self) -> Option<http::HeaderValue> {
        let (key, value) = self.keys.nginx("upstream-vhost")?;
        match crate::table::upstream_host::parse_upstream_host(value) {
            Ok(host) => Some(host),
            Err(e) => {
                self.invalid(&key, value, &e.to_string());
                None
            }
        }
    }

    pub(super) fn timeouts(&mut self) -> Option<Arc<Timeouts>> {
        let timeouts = Timeouts {
            connect: self.seconds("proxy-connect-timeout"),
            read: self.seconds("proxy-read-timeout"),
            send: self.seconds("proxy-send-timeout"),
        };
        (!timeouts.is_default()).then(|| Arc::new(timeouts))
    }

    fn seconds(&mut self, name: &'static str) -> Option<std::time::Duration> {
        self.parsed(
            name,
            parse_seconds,
            "is not a positive whole number of seconds (the global default applies)",
        )
    }

    /// `proxy-next-upstream`, `proxy-next-upstream-tries`, `proxy-next-upstream-timeout`;
    /// `None` when all are the global defaults.
    pub(super) fn retries(&mut self) -> Option<Arc<Retries>> {
        let retries = Retries {
            next_upstream: self.parsed(
                "proxy-next-upstream",
                NextUpstream::parse,
                "is not a list of error, timeout, invalid_header, http_500, http_502, http_503, http_504, http_403, http_404, http_429, non_idempotent or off, one space apart (the global default applies)",
            ),
            tries: self.parsed(
                "proxy-next-upstream-tries",
                parse_tries,
                "is not a whole number of tries, 0 for no limit (the global default applies)",
            ),
            timeout: self.parsed(
                "proxy-next-upstream-timeout",
                parse_retry_timeout,
                "is not a whole number of seconds, 0 for no limit (the global default applies)",
            ),
        };
        (!retries.is_default()).then(|| Arc::new(retries))
    }

    /// `load-balance`: `round_robin` or `ewma`; ingress-nginx's other values (`chash`,
    /// `chashsubset`, `sticky_*`, which need `upstream-hash-by` or affinity) and anything else
    /// are reported and the global `--load-balance` applies.
    pub(super) fn load_balance(&mut self) -> Option<crate::table::LoadBalance> {
        self.parsed(
            "load-balance",
            crate::table::LoadBalance::parse,
            "is not round_robin or ewma (the global --load-balance applies)",
        )
    }

    /// `<prefix>/<name>` as a boolean (Go's `strconv.ParseBool`); unparsable: reported, `None`.
    pub(super) fn boolean_nginx(&mut self, name: &'static str) -> Option<bool> {
        let (key, value) = self.keys.nginx(name)?;
        let parsed = crate::annotations::parse_bool(value);
        if parsed.is_none() {
            self.invalid(&key, value, "is not true or false");
        }
        parsed
    }
}
