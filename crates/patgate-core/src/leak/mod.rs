//! Leaked tokens: what secret scanners and token holders send to have a token revoked, parsed
//! here, purely; the Worker's `leaks` module acts on it.
//!
//! - [`der`]: the scanner's ASN.1 DER ECDSA signature as the raw `r‖s` WebCrypto verifies.
//! - [`keys`]: the scanner's published public keys (PEM SubjectPublicKeyInfo, P-256).
//! - [`report`]: the report body (GitHub's secret-scanning partner format) and the labels
//!   answered.
//! - [`holder`]: the body of self-service revocation.
//!
//! The token format's checksum does most of the work: a match that is not a well-formed
//! patgate token is a false positive, decided here without any storage read.

pub mod der;
pub mod holder;
pub mod keys;
pub mod report;
