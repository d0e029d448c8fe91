//! Per-route access policies, enforced in [`crate::service`] after the route is found: each
//! route carries a policy only when its Ingress (or a global flag) asks for one, so a route
//! without any costs a field read.

pub(crate) mod access;
pub(crate) mod basic_auth;
pub(crate) mod canary;
pub(crate) mod cors;
pub(crate) mod limits;
