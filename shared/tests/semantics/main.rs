//! One test per Ingress semantic rule (DESIGN.md, "Ingress semantics" and "Backends"), each
//! named after its rule: hand-built objects → `Index::apply` → `compile` → `RouteTable::lookup`.

mod backends;
mod class;
mod hosts;
mod index;
mod modes;
mod paths;
mod precedence;
mod support;
