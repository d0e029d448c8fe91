//! publish (in progress)
