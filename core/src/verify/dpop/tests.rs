//! Tests of the DPoP rules, one file per concern; the error table is here.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::config::DpopMode;

mod htu;
mod proof;
mod scheme;

#[test]
fn error_codes_and_targets() {
    use DpopErrorCode::{InvalidRequest as Req, InvalidToken as Tok};
    let cases: Vec<(DpopError, DpopErrorCode, bool)> = alloc::vec![
        (DpopError::BearerWithProof, Req, false),
        (DpopError::BoundTokenAsBearer, Tok, false),
        (DpopError::DpopWithoutBinding, Tok, true),
        (DpopError::InvalidBinding, Tok, false),
        (DpopError::MissingProof, Req, true),
        (DpopError::MissingMethod, Req, true),
        (DpopError::MissingUrl, Req, true),
        (DpopError::InvalidRequestUrl(UrlError::Scheme), Req, true),
        (
            DpopError::MultipleProofs,
            DpopErrorCode::InvalidDpopProof,
            true
        ),
    ];
    for (e, code, specific) in cases {
        assert_eq!(e.code(), code, "{e:?}");
        assert_eq!(e.is_dpop_specific(), specific, "{e:?}");
        let text = format!("{e}");
        assert!(!text.is_empty() && !text.ends_with('.'), "{text}");
        assert_eq!(text, text.to_lowercase(), "{text}");
    }
    assert_eq!(
        DpopErrorCode::InvalidDpopProof.as_str(),
        "invalid_dpop_proof"
    );
}
