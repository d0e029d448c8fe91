//! manifests (in progress)
