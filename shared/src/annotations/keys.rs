//! Every annotation key Strait knows, with its status: the registry's data.
//!
//! ingress-nginx keys (`<prefix>/<name>`) come from its final `annotations-risk.md` (136 keys),
//! plus the `whitelist-source-range` / `limit-whitelist` aliases its parser still reads, plus
//! keys it removed that old manifests still carry. `strait.dev/` keys follow.
//!
//! A key's status is what Strait does with it *today*; the note says the difference (for
//! `honoured-with-difference`), why ignoring it is safe (`ignored`), what is planned
//! (`not-yet`) or why it is never executed (`refused`).

use super::{Group, Inert, KeySpec, Namespace, Status};

use Group::*;
use Status::*;

/// Strait version in which the statuses below took effect.
const V0_1: &str = "0.1.0";

const fn k(name: &'static str, group: Group, status: Status, note: &'static str) -> KeySpec {
    KeySpec {
        name,
        namespace: Namespace::Nginx,
        group,
        status,
        security: group.is_security(),
        alias_of: None,
        note,
        since: V0_1,
        inert: Inert::Never,
    }
}

const fn strait(name: &'static str, group: Group, note: &'static str) -> KeySpec {
    KeySpec {
        namespace: Namespace::Strait,
        ..k(name, group, Honoured, note)
    }
}

impl KeySpec {
    const fn alias(self, of: &'static str) -> Self {
        Self {
            alias_of: Some(of),
            ..self
        }
    }

    const fn inert(self, inert: Inert) -> Self {
        Self { inert, ..self }
    }

    const fn security(self, security: bool) -> Self {
        Self { security, ..self }
    }
}

const REWRITES: &str = "planned: redirects";
const USE_REGEX: &str = "paths are compiled by the regex crate's engine (linear time, ASCII case-insensitive, on the path as received, undecoded): a pattern PCRE accepts but it does not (look-around, backreferences, a `{` that is not a repetition) quarantines that path with a diagnostic, and `--regex-keep-exact-paths` keeps `Exact` paths exact";
const REWRITE_TARGET: &str = "`$1`–`$9` of the path regex, query string kept, percent-encoding carried as received; a target with an nginx variable (`$host`, `$0`) or an absolute URL (a redirect in nginx) is an error and the paths it would rewrite are not served";
const APP_ROOT: &str = "`/` answers 302 to `<scheme>://<Host><app-root>` when `/` matches one of the host's paths; a value with an nginx variable is ignored with a warning, and of two Ingresses giving one host different roots the oldest wins";
const FORWARDED_PREFIX: &str = "sent with rewritten requests only, with the rewrite's `$1`–`$9`; a value with an nginx variable is ignored with a warning";
const ERROR_PAGES: &str = "planned: default backend and custom error pages";
const AFFINITY: &str =
    "planned: cookie session affinity; requests are balanced round robin meanwhile";
const HASHING: &str = "planned: consistent hashing; requests are balanced round robin meanwhile";
const UPSTREAM_TLS: &str =
    "planned: TLS and HTTP/2 upstreams; Strait speaks cleartext HTTP/1.1 upstream today";
const AUTH_URL: &str = "TLS to the auth service is not verified (nginx's default); `$host` is routed through Strait's own table, not out through the load balancer; timeouts are --upstream-connect-timeout and --upstream-response-timeout; an untrusted client's X-Forwarded-* are not passed on";
const AUTH_CACHE: &str = "answers are cached per worker (at most 4,096), keyed by Ingress, rule path, host and the evaluated key (variables from a fixed set such as $http_<name>, $cookie_<name>, $remote_user; an unknown one turns caching off, with a warning); Cache-Control max-age does not change the duration";
const AUTH_KEEPALIVE: &str = "auth connections are always pooled per worker like upstream ones (--upstream-pool-max-idle, --upstream-pool-idle-timeout)";
const CLIENT_CERTS: &str =
    "planned: client-certificate auth; routes are refused until it is enforced";
const SOURCE: &str = "CIDRs or addresses, comma-separated, matched against the client address (trusted proxies and PROXY protocol applied); deny before allow; 403; replaces the global --allowlist-source-range / --denylist-source-range";
const LIMIT_RATE: &str = "requests per client address (trusted proxies and PROXY protocol applied) per replica, as nginx's limit_req with burst = rate × limit-burst-multiplier and nodelay; over it --limit-req-status-code (503); one budget per Ingress, shared by its paths; a value that is not a whole number, or is negative, refuses the routes";
const LIMIT_CONNECTIONS: &str = "requests in flight at once per client address per replica (an HTTP/2 stream or a WebSocket tunnel counts until it ends), as nginx's limit_conn; over it --limit-conn-status-code (503); one budget per Ingress; a value that is not a whole number, or is negative, refuses the routes";
const LIMIT_BURST: &str = "default 5; `0` allows no burst; a value that is not a whole number refuses the routes (ingress-nginx falls back to 5)";
const LIMIT_ALLOWLIST: &str = "CIDRs or addresses, comma-separated, exempt from the Ingress's limit-rps, limit-rpm and limit-connections; an invalid list refuses the routes";
const LIMIT_BANDWIDTH: &str = "response bandwidth is not limited: responses are sent at full speed (a throughput cap, not an access control; ingress-nginx applies it only with proxy-buffering on)";
const CORS: &str =
    "an invalid value falls back to ingress-nginx's default for the key, with a warning";
const CORS_PREFLIGHT: &str = "only an OPTIONS request with Origin and Access-Control-Request-Method (a preflight) is answered 204 by the proxy; ingress-nginx answers every OPTIONS request from an allowed origin itself";
const CORS_ORIGIN: &str = "an echoed origin also gets `Vary: Origin`, and must match an entry whole (ingress-nginx's regex is not anchored at the start)";
const COOKIES: &str = "planned: response rewriting; upstream Set-Cookie and Location headers pass unchanged meanwhile";
const MIRROR: &str = "planned: request mirroring; nothing is mirrored meanwhile";
const WAF: &str = "no WAF in Strait yet: routes that ask for ModSecurity are refused";
const STREAMING: &str = "Strait streams request and response bodies without temporary files; nginx buffer tuning changes memory use and timing, not what is sent";
const TRACING: &str = "tracing only, no effect on traffic; Strait exports no traces yet";
const SNIPPET: &str = "nginx configuration text: never executed; the whole Ingress is refused, as ingress-nginx does with its default annotations-risk-level High";
const HTTPS_REDIRECT: &str = "--http-redirect-code (308) to `https://` + the host + the request target less one trailing `/` (`/dir/` goes to `https://host/dir`) unless preserve-trailing-slash; the port is named when it is not 443 (--https-redirect-port) or with use-port-in-redirects";
const ROUTE_REDIRECT: &str = "an `http(s)://` URL of the characters ingress-nginx's validator allows (no `$` variables); every request of the Ingress gets it as `Location`, before any access check, as nginx's `return`";

/// The registry, by feature group (ingress-nginx's annotations.md order, most used first).
pub(super) static KEYS: &[KeySpec] = &[
    // Rewrite and routing.
    k("rewrite-target", Routing, HonouredWithDifference, REWRITE_TARGET),
    k("use-regex", Routing, HonouredWithDifference, USE_REGEX),
    k("app-root", Routing, HonouredWithDifference, APP_ROOT),
    k("preserve-trailing-slash", Routing, Honoured, "the HTTPS redirect keeps a trailing `/` of the request target, which it drops otherwise"),
    k("x-forwarded-prefix", Routing, HonouredWithDifference, FORWARDED_PREFIX),
    k("server-alias", Routing, HonouredWithDifference, "host names and `*.` wildcards serve the Ingress's hosts whole (a name with rules of its own keeps them); a regex server name (`~…`) is reported and skipped"),
    k("upstream-vhost", Routing, HonouredWithDifference, "a literal host[:port] only: a value with nginx variables (`$host`…) is reported and the client's Host is sent; X-Forwarded-Host keeps the client's"),
    k("default-backend", Routing, NotYet, ERROR_PAGES),
    k("custom-http-errors", Routing, NotYet, ERROR_PAGES),
    k("disable-proxy-intercept-errors", Routing, NotYet, ERROR_PAGES),
    // HTTPS and redirects.
    k("ssl-redirect", Https, Honoured, HTTPS_REDIRECT),
    k("force-ssl-redirect", Https, Honoured, HTTPS_REDIRECT),
    k("from-to-www-redirect", Https, Honoured, "the other name (`www.` added or removed) redirects with --http-redirect-code to the same scheme, port (always named) and target less a trailing `/`, with the host's certificate when it covers that name; a name with rules of its own is not redirected"),
    k("permanent-redirect", Https, Honoured, ROUTE_REDIRECT),
    k("permanent-redirect-code", Https, Honoured, "300 to 308; another number gives 301, as ingress-nginx does"),
    k("temporal-redirect", Https, Honoured, "read before permanent-redirect, as ingress-nginx does; otherwise as permanent-redirect"),
    k("temporal-redirect-code", Https, Honoured, "300 to 307; another number gives 302, as ingress-nginx does"),
    k("relative-redirects", Https, NotYet, REWRITES),
    k("use-port-in-redirects", Https, Honoured, "the HTTPS redirect names the port (--https-redirect-port) even when it is 443"),
    k("ssl-passthrough", Https, NotYet, "planned: TLS passthrough; the Ingress is served with TLS terminated by Strait meanwhile"),
    k("ssl-ciphers", Https, Ignored, "rustls offers only its fixed set of modern AEAD suites (TLS 1.2 and 1.3); a cipher list can neither weaken nor extend it"),
    k("ssl-prefer-server-ciphers", Https, Ignored, "rustls always chooses the suite by its own preference order among modern suites"),
    // Upstream.
    k("backend-protocol", Upstream, NotYet, UPSTREAM_TLS),
    k("service-upstream", Upstream, Honoured, "`true` sends traffic to the Service's ClusterIP (backend mode `service`)"),
    k("load-balance", Upstream, HonouredWithDifference, "`round_robin` or `ewma` (default --load-balance); ewma is power-of-two-choices over a peak-EWMA of response-header latency times in-flight requests (linkerd, Finagle) rather than ingress-nginx's plain latency EWMA, kept per address across table updates; a canary Ingress's value is not read (its backend follows the main route's)"),
    k("upstream-hash-by", Upstream, NotYet, HASHING),
    k("upstream-hash-by-subset", Upstream, NotYet, HASHING),
    k("upstream-hash-by-subset-size", Upstream, NotYet, HASHING),
    k("proxy-http-version", Upstream, Ignored, "Strait speaks HTTP/1.1 to upstreams, the value ingress-nginx uses by default; `1.0` is not offered"),
    k("connection-proxy-header", Upstream, Ignored, "Strait manages upstream keep-alive and forwards WebSocket upgrades itself"),
    k("proxy-ssl-secret", Upstream, NotYet, UPSTREAM_TLS),
    k("proxy-ssl-verify", Upstream, NotYet, UPSTREAM_TLS),
    k("proxy-ssl-verify-depth", Upstream, NotYet, UPSTREAM_TLS),
    k("proxy-ssl-name", Upstream, NotYet, UPSTREAM_TLS),
    k("proxy-ssl-server-name", Upstream, NotYet, UPSTREAM_TLS),
    k("proxy-ssl-ciphers", Upstream, NotYet, UPSTREAM_TLS),
    k("proxy-ssl-protocols", Upstream, NotYet, UPSTREAM_TLS),
    // Timeouts, retries, sizes, buffering.
    k("proxy-connect-timeout", Proxying, Honoured, "whole seconds; an invalid value leaves --upstream-connect-timeout in force"),
    k("proxy-send-timeout", Proxying, Honoured, "whole seconds, between two writes to the upstream: a request body it stops reading gets 504 (or its connection cut once the response started), and a WebSocket tunnel it stops reading is closed; default --upstream-send-timeout"),
    k("proxy-read-timeout", Proxying, Honoured, "whole seconds, between two reads: the response-header wait, each response-body read and a silent WebSocket tunnel; default --upstream-response-timeout"),
    k("proxy-next-upstream", Proxying, HonouredWithDifference, "a request already sent is passed on only when its body, kept while it streams, was at most 64 KiB (nginx buffers bodies of any size), and each try goes to an endpoint not tried yet where ingress-nginx's balancer may pick the same one again (a service-mode ClusterIP is tried again, as kube-proxy picks the pod)"),
    k("proxy-next-upstream-timeout", Proxying, Honoured, "whole seconds from the first attempt after which a failed request is not passed on (0: no limit); default --next-upstream-timeout"),
    k("proxy-next-upstream-tries", Proxying, Honoured, "attempts in all, the first included (0: no limit); default --next-upstream-tries, 3"),
    k("proxy-body-size", Proxying, Honoured, "request body limit with units k, m, g (`0`: unlimited; default --max-body-size, 1m): 413 on Content-Length before anything goes upstream, and when a streamed body crosses it")
        .security(true)
        .inert(Inert::Zero),
    k("client-body-buffer-size", Proxying, Ignored, STREAMING),
    k("proxy-request-buffering", Proxying, Ignored, STREAMING),
    k("proxy-buffering", Proxying, Ignored, STREAMING),
    k("proxy-buffers-number", Proxying, Ignored, STREAMING),
    k("proxy-buffer-size", Proxying, Ignored, STREAMING),
    k("proxy-busy-buffers-size", Proxying, Ignored, STREAMING),
    k("proxy-max-temp-file-size", Proxying, Ignored, STREAMING),
    k("proxy-cookie-domain", Proxying, NotYet, COOKIES),
    k("proxy-cookie-path", Proxying, NotYet, COOKIES),
    k("proxy-redirect-from", Proxying, NotYet, COOKIES),
    k("proxy-redirect-to", Proxying, NotYet, COOKIES),
    // Canary.
    k("canary", Canary, HonouredWithDifference, "the canary joins only the routes it names (host + pathType + path, any namespace), not every route of the main Ingress's Service as in ingress-nginx (#9458); its other annotations are ignored, with a warning"),
    k("canary-weight", Canary, Honoured, "out of canary-weight-total; header, then cookie, then weight decide"),
    k("canary-weight-total", Canary, Honoured, "a total of 100 or less counts as 100, as ingress-nginx's balancer does"),
    k("canary-by-header", Canary, Honoured, "`always` and `never`, unless a value or pattern is set; `_` in the name reads as `-`"),
    k("canary-by-header-value", Canary, Honoured, "this exact value sends the request to the canary; another value falls through to the cookie and the weight"),
    k("canary-by-header-pattern", Canary, HonouredWithDifference, "matched anywhere in the value by the linear-time `regex` crate: no lookaround or backreferences; a pattern that does not compile is reported and requests with the header go to the main backend, as ingress-nginx's balancer does on a pattern error"),
    k("canary-by-cookie", Canary, Honoured, "`always` and `never`; read after the header"),
    // Session affinity.
    k("affinity", Affinity, NotYet, AFFINITY),
    k("affinity-mode", Affinity, NotYet, AFFINITY),
    k("affinity-canary-behavior", Affinity, NotYet, AFFINITY),
    k("session-cookie-name", Affinity, NotYet, AFFINITY),
    k("session-cookie-path", Affinity, NotYet, AFFINITY),
    k("session-cookie-domain", Affinity, NotYet, AFFINITY),
    k("session-cookie-expires", Affinity, NotYet, AFFINITY),
    k("session-cookie-max-age", Affinity, NotYet, AFFINITY),
    k("session-cookie-samesite", Affinity, NotYet, AFFINITY),
    k("session-cookie-secure", Affinity, NotYet, AFFINITY),
    k("session-cookie-conditional-samesite-none", Affinity, NotYet, AFFINITY),
    k("session-cookie-change-on-failure", Affinity, NotYet, AFFINITY),
    // Basic auth.
    k("auth-type", BasicAuth, HonouredWithDifference, "`basic` is enforced; `digest` is not yet, so routes asking for it are refused (503)"),
    k("auth-secret", BasicAuth, HonouredWithDifference, "htpasswd entries in DES or SHA-2 crypt format are not verified: a Secret holding one refuses the routes (bcrypt, apr1, MD5-crypt, {SHA}, {SSHA}, {PLAIN} are)"),
    k("auth-secret-type", BasicAuth, Honoured, "`auth-file` (the `auth` key, an htpasswd file) or `auth-map` (key = user, value = hash)"),
    k("auth-realm", BasicAuth, Honoured, "the realm of the `WWW-Authenticate: Basic` challenge"),
    // External auth.
    k("auth-url", ExternalAuth, HonouredWithDifference, AUTH_URL),
    k("auth-signin", ExternalAuth, Honoured, "a 401 (from any auth method) becomes a 302 to this URL with the original URL in `rd`; an invalid value is ignored with a warning, as in ingress-nginx"),
    k("auth-signin-redirect-param", ExternalAuth, Honoured, "the query parameter of auth-signin that carries the original URL (default `rd`)"),
    k("auth-method", ExternalAuth, Honoured, "the subrequest's method (default GET); with it the subrequest also carries X-Original-URI and X-Scheme"),
    k("auth-response-headers", ExternalAuth, Honoured, "copied from a 2xx auth answer onto the upstream request; a listed header the answer lacks is removed from the request"),
    k("auth-request-redirect", ExternalAuth, HonouredWithDifference, "the subrequest's X-Auth-Request-Redirect; an invalid value refuses the routes where ingress-nginx would drop the whole external auth and serve them open"),
    k("auth-proxy-set-headers", ExternalAuth, HonouredWithDifference, "a bare ConfigMap name is in the Ingress's namespace (ingress-nginx denies it); values may use the variables auth-url may, and a ConfigMap with another variable, a control character, a connection header or over 4 KiB of data refuses the routes; a Host entry replaces the subrequest's Host rather than adding a second"),
    k("auth-always-set-cookie", ExternalAuth, HonouredWithDifference, "each Set-Cookie of the auth answer reaches the client whatever the status (without it: only with 200, 201, 204, 206, 301, 302, 303, 304, 307, 308); nginx joins several into one header"),
    k("auth-cache-key", ExternalAuth, HonouredWithDifference, AUTH_CACHE),
    k("auth-cache-duration", ExternalAuth, HonouredWithDifference, AUTH_CACHE),
    k("auth-keepalive", ExternalAuth, Ignored, AUTH_KEEPALIVE).security(false),
    k("auth-keepalive-requests", ExternalAuth, Ignored, AUTH_KEEPALIVE).security(false),
    k("auth-keepalive-share-vars", ExternalAuth, Ignored, "the subrequest always carries the request's own X-Request-ID")
        .security(false),
    k("auth-keepalive-timeout", ExternalAuth, Ignored, AUTH_KEEPALIVE).security(false),
    k("auth-snippet", ExternalAuth, Refused, SNIPPET),
    k("enable-global-auth", ExternalAuth, Honoured, "`false` keeps --global-auth-url off this Ingress's routes (an Ingress with its own auth-url never uses it)")
        .security(false),
    // Client certificates.
    k("auth-tls-secret", ClientCerts, NotYet, CLIENT_CERTS),
    k("auth-tls-verify-client", ClientCerts, NotYet, CLIENT_CERTS).inert(Inert::Off),
    k("auth-tls-verify-depth", ClientCerts, NotYet, CLIENT_CERTS),
    k("auth-tls-pass-certificate-to-upstream", ClientCerts, NotYet, CLIENT_CERTS),
    k("auth-tls-error-page", ClientCerts, NotYet, CLIENT_CERTS),
    k("auth-tls-match-cn", ClientCerts, NotYet, CLIENT_CERTS),
    k("satisfy", ClientCerts, Honoured, "`any`: one of source lists, basic auth and external auth passing is enough (a 401 outranks a 403, an external-auth failure is a 500); `all` (default): each must pass; anything else is `all`"),
    // Source address.
    k("allowlist-source-range", SourceAddress, Honoured, SOURCE),
    k("whitelist-source-range", SourceAddress, Honoured, SOURCE).alias("allowlist-source-range"),
    k("denylist-source-range", SourceAddress, Honoured, SOURCE),
    // Rate limiting.
    k("limit-rps", RateLimit, Honoured, LIMIT_RATE).inert(Inert::Zero),
    k("limit-rpm", RateLimit, Honoured, LIMIT_RATE).inert(Inert::Zero),
    k("limit-connections", RateLimit, Honoured, LIMIT_CONNECTIONS).inert(Inert::Zero),
    k("limit-burst-multiplier", RateLimit, Honoured, LIMIT_BURST),
    k("limit-allowlist", RateLimit, Honoured, LIMIT_ALLOWLIST),
    k("limit-whitelist", RateLimit, Honoured, LIMIT_ALLOWLIST).alias("limit-allowlist"),
    k("limit-rate", Proxying, Ignored, LIMIT_BANDWIDTH),
    k("limit-rate-after", Proxying, Ignored, LIMIT_BANDWIDTH),
    // CORS.
    k("enable-cors", Cors, HonouredWithDifference, CORS_PREFLIGHT),
    k("cors-allow-origin", Cors, HonouredWithDifference, CORS_ORIGIN),
    k("cors-allow-methods", Cors, Honoured, CORS),
    k("cors-allow-headers", Cors, Honoured, CORS),
    k("cors-expose-headers", Cors, Honoured, CORS),
    k("cors-allow-credentials", Cors, Honoured, CORS),
    k("cors-max-age", Cors, Honoured, CORS),
    // WAF.
    k("enable-modsecurity", Waf, NotYet, WAF).inert(Inert::False),
    k("enable-owasp-core-rules", Waf, NotYet, WAF).inert(Inert::False),
    k("modsecurity-transaction-id", Waf, NotYet, WAF),
    k("modsecurity-snippet", Waf, Refused, SNIPPET),
    // Other.
    k("configuration-snippet", Other, Refused, SNIPPET),
    k("server-snippet", Other, Refused, SNIPPET),
    k("stream-snippet", Other, Refused, SNIPPET),
    k("custom-headers", Other, NotYet, "planned: response headers from a ConfigMap; none are added meanwhile"),
    k("mirror-target", Other, NotYet, MIRROR),
    k("mirror-host", Other, NotYet, MIRROR),
    k("mirror-request-body", Other, NotYet, MIRROR),
    k("enable-access-log", Other, Honoured, "`false` keeps this Ingress's requests out of the access log"),
    k("enable-rewrite-log", Other, Ignored, "nginx's rewrite debug log; no effect on traffic"),
    k("enable-opentelemetry", Other, Ignored, TRACING),
    k("opentelemetry-operation-name", Other, Ignored, TRACING),
    k("opentelemetry-trust-incoming-span", Other, Ignored, TRACING),
    k("fastcgi-index", Other, Ignored, "only read with backend-protocol FCGI, which Strait does not speak (that key is reported)"),
    k("fastcgi-params-configmap", Other, Ignored, "only read with backend-protocol FCGI, which Strait does not speak (that key is reported)"),
    k("http2-push-preload", Other, Ignored, "HTTP/2 server push is gone from browsers and from nginx; a hint only"),
    // Removed from ingress-nginx, still found in old manifests.
    k("secure-backends", Removed, Ignored, "removed from ingress-nginx (replaced by backend-protocol); no effect there either"),
    k("grpc-backend", Removed, Ignored, "removed from ingress-nginx (replaced by backend-protocol); no effect there either"),
    k("session-cookie-hash", Removed, Ignored, "removed from ingress-nginx; no effect there either"),
    k("upstream-fail-timeout", Removed, Ignored, "removed from ingress-nginx; no effect there either"),
    k("upstream-max-fails", Removed, Ignored, "removed from ingress-nginx; no effect there either"),
    k("add-base-url", Removed, Ignored, "removed from ingress-nginx; no effect there either"),
    k("base-url-scheme", Removed, Ignored, "removed from ingress-nginx; no effect there either"),
    k("enable-opentracing", Removed, Ignored, "removed from ingress-nginx (1.10); tracing only"),
    k("opentracing-trust-incoming-span", Removed, Ignored, "removed from ingress-nginx (1.10); tracing only"),
    k("global-rate-limit", Removed, NotYet, "removed from ingress-nginx 1.12, which then serves without the limit; Strait refuses the routes instead (use limit-rps)")
        .security(true),
    k("global-rate-limit-window", Removed, NotYet, "removed from ingress-nginx 1.12 with global-rate-limit; refused with it")
        .security(true),
    k("global-rate-limit-key", Removed, NotYet, "removed from ingress-nginx 1.12 with global-rate-limit; refused with it")
        .security(true),
    k("global-rate-limit-ignored-cidrs", Removed, NotYet, "removed from ingress-nginx 1.12 with global-rate-limit; refused with it")
        .security(true),
    // Strait's own keys.
    strait("backend-mode", Strait, "`pod`, `nodeport` or `service`: overrides --backend-mode for this Ingress"),
    strait("ssl-redirect", Strait, "as ingress-nginx's ssl-redirect; read before it"),
    strait("force-ssl-redirect", Strait, "as ingress-nginx's force-ssl-redirect; read before it"),
    strait("enable-access-log", Strait, "as ingress-nginx's enable-access-log; read before it"),
];
