//! Certificate parsing and checks, the SNI map.

use super::*;
