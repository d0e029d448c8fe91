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

const USE_REGEX: &str = "paths are compiled by the regex crate's engine (linear time, ASCII case-insensitive, on the path as received, undecoded): a pattern PCRE accepts but it does not (look-around, backreferences, atomic groups) quarantines that path with a diagnostic, a `{` that is not a repetition is a literal as in PCRE, and `--regex-keep-exact-paths` keeps `Exact` paths exact";
const REWRITE_TARGET: &str = "`$1`–`$9` of the path regex, query string kept, percent-encoding carried as received; a target with an nginx variable (`$host`, `$0`) or an absolute URL (a redirect in nginx) is an error and the paths it would rewrite are not served";
const APP_ROOT: &str = "`/` answers 302 to `<scheme>://<Host><app-root>` when `/` matches one of the host's paths; a value with an nginx variable is ignored with a warning, and of two Ingresses giving one host different roots the oldest wins";
const FORWARDED_PREFIX: &str = "sent with rewritten requests only, with the rewrite's `$1`–`$9`; a value with an nginx variable is ignored with a warning";
const DEFAULT_BACKEND: &str = "a Service of the Ingress's namespace, its first port: it serves the Ingress's routes whose backend has no ready endpoint (sent X-Code 503 and the naming headers) and answers their custom-http-errors; a missing Service is reported and the routes keep Strait's own answers; the catch-all `/` that ingress-nginx gives an Ingress's host without a `/` rule does not carry it (unmatched paths get --default-backend-service or Strait's 404)";
const CUSTOM_HTTP_ERRORS: &str = "400-599; the listed statuses, from the upstream and from Strait itself (502, 503, 504, 413…, but not a refused route's 503), are answered by the default-backend (else --default-backend-service) with its own status and body; the error request has the client's method, target `/` and no body, and carries only the headers nginx sets (X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port, X-Request-ID, X-Forwarded-For, Host), not the client's other headers; with no error backend at all nothing is intercepted";
const BACKEND_PROTOCOL: &str = "HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP (the client's scheme; over TLS, ALPN picks h2 or http/1.1) and Strait's H2C (HTTP/2 cleartext); FCGI refuses the routes; without the key the Service port's appProtocol decides (kubernetes.io/h2c, kubernetes.io/ws, https), as Gateway API does; on GRPC/GRPCS routes Strait's own errors are gRPC statuses and grpc-timeout caps the wait for the response (nginx ignores it)";
const PROXY_SSL_SECRET: &str = "`namespace/name` in the Ingress's namespace: ca.crt verifies the backend, tls.crt/tls.key is the client certificate; a missing or unusable Secret refuses the routes, as ingress-nginx denies the location; the other proxy-ssl keys are read only with it, as in ingress-nginx";
const PROXY_SSL_VERIFY: &str = "`on` without a ca.crt, or without proxy-ssl-secret, refuses the routes (ingress-nginx would fail every handshake, or silently not verify); a backend that fails verification gets 502 and a logged reason";
const AFFINITY: &str = "per route (ingress-nginx keeps one setting per Service, the first Ingress's); the cookie value is a ring position (balanced) or an HMAC of the endpoint keyed by the Service UID (persistent), never an address; retries go to another endpoint (ingress-nginx retries the cookie's endpoint unless change-on-failure)";
const AFFINITY_MODE: &str = "balanced: the cookie holds a position on the backend's consistent-hash ring (joining endpoints take their share of sessions); persistent: a new session is placed by round robin (ingress-nginx: at random) and stays until its endpoint leaves";
const HASHING: &str = "a 160-point-per-endpoint consistent-hash ring placed by XXH3 (ingress-nginx: resty.chash, CRC32), so keys map to other endpoints than under ingress-nginx; variables request_uri, uri (as received, not decoded), host, remote_addr, binary_remote_addr, scheme, http_*, cookie_*, arg_*; any other variable is reported and the routes are balanced as usual; ignored with cookie affinity, which wins";
const HASH_SUBSET: &str =
    "default size 3; a random endpoint of the key's subset serves, as ingress-nginx's chashsubset";
const AUTH_URL: &str = "TLS to the auth service is not verified (nginx's default); `$host` is routed through Strait's own table, not out through the load balancer; timeouts are --upstream-connect-timeout and --upstream-response-timeout; an untrusted client's X-Forwarded-* are not passed on";
const AUTH_CACHE: &str = "answers are cached per worker (at most 4,096), keyed by Ingress, rule path, host and the evaluated key (variables from a fixed set such as $http_<name>, $cookie_<name>, $remote_user; an unknown one turns caching off, with a warning); Cache-Control max-age does not change the duration";
const AUTH_KEEPALIVE: &str = "auth connections are always pooled per worker like upstream ones (--upstream-pool-max-idle, --upstream-pool-idle-timeout)";
const CLIENT_CERT_SECRET: &str = "per host (the oldest Ingress naming the host decides): `name` or `namespace/name` in the Ingress's namespace, any Secret type with `ca.crt` and optionally `ca.crl`; a missing Secret (ingress-nginx: 403) or one without a usable `ca.crt` (ingress-nginx: the host is served without client auth) refuses every route of the host; a request whose Host names the host over another host's handshake gets 421, and plain HTTP counts as sending no certificate";
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
const ROUTE_REDIRECT: &str = "an `http(s)://` URL (permanent-redirect also takes a path, made absolute with the request's scheme and host as nginx does) of the characters ingress-nginx's validator allows (no `$` variables); every request of the Ingress gets it as `Location`, before any access check, as nginx's `return`";

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
    k("default-backend", Routing, HonouredWithDifference, DEFAULT_BACKEND),
    k("custom-http-errors", Routing, HonouredWithDifference, CUSTOM_HTTP_ERRORS),
    k("disable-proxy-intercept-errors", Routing, Honoured, "`true`: the upstream's responses pass as they are; only Strait's own errors with a custom-http-errors status go to the error backend"),
    // HTTPS and redirects.
    k("ssl-redirect", Https, Honoured, HTTPS_REDIRECT),
    k("force-ssl-redirect", Https, Honoured, HTTPS_REDIRECT),
    k("from-to-www-redirect", Https, Honoured, "the other name (`www.` added or removed) redirects with --http-redirect-code to the same scheme, port (always named) and target less a trailing `/`, with the host's certificate when it covers that name; a name with rules of its own is not redirected"),
    k("permanent-redirect", Https, Honoured, ROUTE_REDIRECT),
    k("permanent-redirect-code", Https, Honoured, "300 to 308; another number gives 301, as ingress-nginx does"),
    k("temporal-redirect", Https, Honoured, "read before permanent-redirect, as ingress-nginx does; otherwise as permanent-redirect"),
    k("temporal-redirect-code", Https, Honoured, "300 to 307; another number gives 302, as ingress-nginx does"),
    k("relative-redirects", Https, Honoured, "`true`: a permanent-redirect to a path is sent as that path instead of `<scheme>://<host><path>` (nginx `absolute_redirect off`); Strait's other redirects (HTTPS, app-root, www) are absolute URLs either way, as in ingress-nginx"),
    k("use-port-in-redirects", Https, Honoured, "the HTTPS redirect names the port (--https-redirect-port) even when it is 443"),
    k("ssl-passthrough", Https, HonouredWithDifference, "with --enable-ssl-passthrough (off: reported, TLS terminated), a host's TLS connections go by SNI to its `/` route's backend resolved by the backend mode (ingress-nginx: always the ClusterIP), decided by the Ingress owning `/` (ingress-nginx: any Ingress of the host); a refused `/` route is not passed through"),
    k("ssl-ciphers", Https, Ignored, "rustls offers only its fixed set of modern AEAD suites (TLS 1.2 and 1.3); a cipher list can neither weaken nor extend it"),
    k("ssl-prefer-server-ciphers", Https, Ignored, "rustls always chooses the suite by its own preference order among modern suites"),
    // Upstream.
    k("backend-protocol", Upstream, HonouredWithDifference, BACKEND_PROTOCOL),
    k("service-upstream", Upstream, Honoured, "`true` sends traffic to the Service's ClusterIP (backend mode `service`)"),
    k("load-balance", Upstream, HonouredWithDifference, "`round_robin` or `ewma` (default --load-balance); ewma is power-of-two-choices over a peak-EWMA of response-header latency times in-flight requests (linkerd, Finagle) rather than ingress-nginx's plain latency EWMA, kept per address across table updates; a canary Ingress's value is not read (its backend follows the main route's)"),
    k("upstream-hash-by", Upstream, HonouredWithDifference, HASHING),
    k("upstream-hash-by-subset", Upstream, HonouredWithDifference, HASH_SUBSET),
    k("upstream-hash-by-subset-size", Upstream, HonouredWithDifference, HASH_SUBSET),
    k("proxy-http-version", Upstream, Ignored, "Strait speaks HTTP/1.1 to upstreams (HTTP/2 when backend-protocol or appProtocol asks for it), the value ingress-nginx uses by default; `1.0` is not offered"),
    k("connection-proxy-header", Upstream, Ignored, "Strait manages upstream keep-alive and forwards WebSocket upgrades itself"),
    k("proxy-ssl-secret", Upstream, HonouredWithDifference, PROXY_SSL_SECRET),
    k("proxy-ssl-verify", Upstream, HonouredWithDifference, PROXY_SSL_VERIFY),
    k("proxy-ssl-verify-depth", Upstream, HonouredWithDifference, "the verified chain may use at most depth − 1 of the intermediates the backend sends, as OpenSSL counts; default 1"),
    k("proxy-ssl-name", Upstream, HonouredWithDifference, "the name the certificate is checked against (and SNI sends); without it the Host sent upstream, where nginx uses its literal upstream name `upstream_balancer`"),
    k("proxy-ssl-server-name", Upstream, Honoured, "`on` sends proxy-ssl-name (else the Host sent upstream) in SNI; default off, as nginx"),
    k("proxy-ssl-ciphers", Upstream, Ignored, "rustls offers only its fixed set of modern AEAD suites (TLS 1.2 and 1.3); a cipher list can neither weaken nor extend it"),
    k("proxy-ssl-protocols", Upstream, HonouredWithDifference, "TLSv1.2 and TLSv1.3 only (rustls has no older version); default TLSv1.2 with proxy-ssl-secret, as ingress-nginx, both without"),
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
    k("affinity", Affinity, HonouredWithDifference, AFFINITY),
    k("affinity-mode", Affinity, HonouredWithDifference, AFFINITY_MODE),
    k("affinity-canary-behavior", Affinity, Honoured, "read on the canary Ingress: sticky (default) keeps a session on the backend its cookie names; legacy leaves canary traffic without affinity"),
    k("session-cookie-name", Affinity, HonouredWithDifference, "default INGRESSCOOKIE; a name that is not an RFC 6265 token is reported and the default applies"),
    k("session-cookie-path", Affinity, Honoured, "default: the rule's path (on a regex host, its pattern, as nginx's location; set this there)"),
    k("session-cookie-domain", Affinity, Honoured, "a value with `;`, `,` or spaces is reported and no Domain is set"),
    k("session-cookie-expires", Affinity, Honoured, "Expires in nginx's cookie_time format"),
    k("session-cookie-max-age", Affinity, Honoured, "whole seconds as ingress-nginx's validator takes them"),
    k("session-cookie-samesite", Affinity, Honoured, "None, Lax or Strict, case ignored"),
    k("session-cookie-secure", Affinity, Honoured, "Secure is also set on every HTTPS response, as in ingress-nginx"),
    k("session-cookie-conditional-samesite-none", Affinity, Honoured, "the user agents of ingress-nginx's same_site.lua get no SameSite=None"),
    k("session-cookie-change-on-failure", Affinity, Honoured, "a session whose endpoint failed gets a cookie for the endpoint that served"),
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
    k("auth-tls-secret", ClientCerts, HonouredWithDifference, CLIENT_CERT_SECRET),
    k("auth-tls-verify-client", ClientCerts, HonouredWithDifference, "`on`, `optional` and `optional_no_ca` ask for a certificate in the handshake (hinting at ca.crt's subjects) and answer after it, as nginx does: 400 for a missing (`on`) or failing (`on`, `optional`) certificate; `off` asks for none; the `FAILED:` text of ssl-client-verify is webpki's reason, not OpenSSL's; an invalid value is `on`, as in ingress-nginx").inert(Inert::Off),
    k("auth-tls-verify-depth", ClientCerts, HonouredWithDifference, "the path to a root of ca.crt is built from the first depth−1 intermediates the client sends (default 1: issued by a root); 0 or an invalid value is 1, as in ingress-nginx, and values over 16 are 16"),
    k("auth-tls-pass-certificate-to-upstream", ClientCerts, Honoured, "`ssl-client-cert` carries the client's certificate as URL-encoded PEM ($ssl_client_escaped_cert); an invalid boolean refuses the host's routes"),
    k("auth-tls-error-page", ClientCerts, HonouredWithDifference, "a missing or failing certificate answers 302 to the value instead of 400; a path is a 302 too (nginx redirects internally) and an `@location`, or a value ingress-nginx would not validate, refuses the host's routes"),
    k("auth-tls-match-cn", ClientCerts, HonouredWithDifference, "the whole value (`CN=` included) is a regex of the regex crate (linear time; look-around and backreferences refuse the host's routes) searched case-sensitively in the subject DN written as RFC 2253 ($ssl_client_s_dn); no match, or no certificate, is 403"),
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
