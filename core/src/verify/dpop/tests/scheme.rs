//! Scheme rules and token binding.

use super::*;

type SchemeRow<'a> = (
    DpopMode,
    Option<&'a str>,
    DpopParams,
    Result<Scheme, DpopError>,
);
type CnfRow<'a> = (Option<Value>, Result<Option<&'a str>, DpopError>);
type BindingRow<'a> = (
    DpopMode,
    Scheme,
    bool,
    &'a Option<Value>,
    Result<Binding<'a>, DpopError>,
);

// --- scheme rules -------------------------------------------------------------------

#[test]
fn scheme_rules_table() {
    use DpopError::{DpopParamsWithoutScheme as ParamsNoScheme, SchemeNotAllowed as NotAllowed};
    use DpopMode::{Allowed, Disabled, Required};
    let none = DpopParams::default();
    let proof = DpopParams {
        proof: true,
        ..none
    };
    let method = DpopParams {
        method: true,
        ..none
    };
    let url = DpopParams { url: true, ..none };
    let url_mcd = DpopParams {
        url: true,
        uses_domains: true,
        ..none
    };
    let cases: &[SchemeRow<'_>] = &[
        (Allowed, None, none, Ok(Scheme::Bearer)),
        (Allowed, Some("Bearer"), none, Ok(Scheme::Bearer)),
        (Allowed, Some("bEARER"), proof, Ok(Scheme::Bearer)),
        (Allowed, Some("DPoP"), proof, Ok(Scheme::DPoP)),
        (Allowed, Some("dpop"), none, Ok(Scheme::DPoP)),
        (Allowed, Some("Basic"), none, Err(NotAllowed)),
        (Allowed, Some(""), none, Err(NotAllowed)),
        (Allowed, Some(" dpop"), none, Err(NotAllowed)),
        (Allowed, None, proof, Err(ParamsNoScheme)),
        (Allowed, None, method, Err(ParamsNoScheme)),
        (Allowed, None, url, Err(ParamsNoScheme)),
        (Allowed, None, url_mcd, Ok(Scheme::Bearer)),
        (Required, Some("DPOP"), proof, Ok(Scheme::DPoP)),
        (Required, Some("dpop"), none, Ok(Scheme::DPoP)),
        (Required, None, none, Err(NotAllowed)),
        (Required, None, proof, Err(NotAllowed)),
        (Required, Some("Bearer"), proof, Err(NotAllowed)),
        (Required, Some("Basic"), none, Err(NotAllowed)),
        (Disabled, None, none, Ok(Scheme::Bearer)),
        (Disabled, Some("BEARER"), none, Ok(Scheme::Bearer)),
        (Disabled, None, proof, Ok(Scheme::Bearer)),
        (Disabled, Some("Bearer"), proof, Ok(Scheme::Bearer)),
        (Disabled, Some("DPoP"), proof, Err(NotAllowed)),
        (Disabled, Some("Basic"), none, Err(NotAllowed)),
    ];
    for (i, (mode, scheme, params, expected)) in cases.iter().enumerate() {
        let got = check_scheme(*mode, *scheme, *params);
        assert_eq!(got, *expected, "row {i}: {mode:?} {scheme:?} {params:?}");
        if let Err(e) = got {
            assert_eq!(e.code(), DpopErrorCode::InvalidRequest, "row {i}");
            assert!(!e.challenge_has_error(), "row {i}");
        }
    }
}

// --- binding ------------------------------------------------------------------------

#[test]
fn cnf_fails_closed() {
    let cases: &[CnfRow<'_>] = &[
        (None, Ok(None)),
        (Some(json!({})), Ok(None)),
        (Some(json!({"x5t#S256": "abc"})), Ok(None)),
        (Some(json!({"jkt": "abc"})), Ok(Some("abc"))),
        (Some(json!({"jkt": ""})), Err(DpopError::InvalidBinding)),
        (Some(json!({"jkt": 1})), Err(DpopError::InvalidBinding)),
        (Some(json!({"jkt": null})), Err(DpopError::InvalidBinding)),
        (
            Some(json!({"jkt": ["abc"]})),
            Err(DpopError::InvalidBinding),
        ),
        (Some(json!("abc")), Err(DpopError::InvalidBinding)),
        (Some(json!(null)), Err(DpopError::InvalidBinding)),
        (Some(json!(["abc"])), Err(DpopError::InvalidBinding)),
    ];
    for (cnf, expected) in cases {
        assert_eq!(cnf_jkt(cnf.as_ref()), *expected, "{cnf:?}");
    }
}

/// T-67 (binding part): mode x scheme x proof x token.
#[test]
fn binding_matrix() {
    use DpopMode::{Allowed, Disabled, Required};
    use Scheme::{Bearer, DPoP as Dpop};
    let bound = Some(json!({"jkt": "thumb"}));
    let unbound: Option<Value> = None;
    let bad = Some(json!({"jkt": 7}));
    let ok_proof = Ok(Binding::Proof { jkt: "thumb" });
    let cases: &[BindingRow<'_>] = &[
        (Allowed, Bearer, false, &unbound, Ok(Binding::Bearer)),
        (
            Allowed,
            Bearer,
            true,
            &unbound,
            Err(DpopError::BearerWithProof),
        ),
        (
            Allowed,
            Bearer,
            false,
            &bound,
            Err(DpopError::BoundTokenAsBearer),
        ),
        (
            Allowed,
            Bearer,
            true,
            &bound,
            Err(DpopError::BoundTokenAsBearer),
        ),
        (
            Allowed,
            Dpop,
            false,
            &unbound,
            Err(DpopError::DpopWithoutBinding),
        ),
        (
            Allowed,
            Dpop,
            true,
            &unbound,
            Err(DpopError::DpopWithoutBinding),
        ),
        (Allowed, Dpop, true, &bound, ok_proof.clone()),
        (Allowed, Dpop, false, &bound, ok_proof.clone()),
        (Allowed, Bearer, false, &bad, Err(DpopError::InvalidBinding)),
        (Allowed, Dpop, true, &bad, Err(DpopError::InvalidBinding)),
        (Required, Dpop, true, &bound, ok_proof.clone()),
        (Required, Dpop, false, &bound, ok_proof.clone()),
        (
            Required,
            Dpop,
            true,
            &unbound,
            Err(DpopError::DpopWithoutBinding),
        ),
        (Required, Dpop, true, &bad, Err(DpopError::InvalidBinding)),
        (
            Required,
            Bearer,
            false,
            &bound,
            Err(DpopError::SchemeNotAllowed),
        ),
        (Disabled, Bearer, false, &unbound, Ok(Binding::Bearer)),
        (Disabled, Bearer, true, &unbound, Ok(Binding::Bearer)),
        (Disabled, Bearer, false, &bound, Ok(Binding::Bearer)),
        (Disabled, Bearer, true, &bound, Ok(Binding::Bearer)),
        (Disabled, Bearer, false, &bad, Ok(Binding::Bearer)),
        (
            Disabled,
            Dpop,
            true,
            &bound,
            Err(DpopError::SchemeNotAllowed),
        ),
    ];
    for (i, (mode, scheme, proof, cnf, expected)) in cases.iter().enumerate() {
        assert_eq!(
            check_binding(*mode, *scheme, *proof, cnf.as_ref()),
            *expected,
            "row {i}"
        );
    }
}
