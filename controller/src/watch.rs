//! watch (in progress)
