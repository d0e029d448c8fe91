//! Socket tests of the data path: a real `serve_http` on 127.0.0.1:0, tiny hyper upstreams,
//! real clients. Every wait has a deadline; no sleep is used to synchronise.

mod hostile;
mod lifecycle;
mod links;
mod observability;
mod protocol;
mod routing;
mod support;
mod upstream;
mod workers;
