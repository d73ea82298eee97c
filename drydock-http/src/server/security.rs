//! The security schemes of the OpenAPI document. Authentication itself
//! happens in the request pipeline ([`super::auth`]), which never rejects
//! a request (each handler's policy check answers 401/403), and the
//! boot-action handlers check their key themselves; these extractors only
//! declare, per operation, which credentials it takes, and hand the
//! handler the caller the pipeline found. Nothing here changes an answer.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::auth::RequestContext;

/// `X-Auth-Token`: a Keystone token, or a token of the server's token file.
pub const AUTH_TOKEN: &str = "XAuthToken";
/// `Authorization: Bearer`: a token of the server's token file.
pub const BEARER: &str = "BearerToken";
/// `X-Bootaction-Key`: a deployed node's boot-action key.
pub const BOOTACTION_KEY: &str = "BootactionKey";

/// The caller of an `/api/v1.0` operation, as the pipeline authenticated
/// it; documents the operation as taking `X-Auth-Token` or a bearer token.
pub struct Caller<'a>(pub &'a RequestContext);

impl std::ops::Deref for Caller<'_> {
    type Target = RequestContext;
    fn deref(&self) -> &RequestContext {
        self.0
    }
}

impl<'a> ApiExtractor<'a> for Caller<'a> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            AUTH_TOKEN,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "A Keystone token (`keystone` mode) or a token of the server's token file (`token` mode). In `noauth` \
                     (development) mode a request without it acts with the configured roles.",
                ),
                name: Some("X-Auth-Token"),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            BEARER,
            MetaSecurityScheme {
                ty: "http",
                description: Some("A token of the server's token file (`token` mode), as `Authorization: Bearer <token>`."),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![AUTH_TOKEN, BEARER]
    }

    async fn from_request(request: &'a Request, _: &mut RequestBody, _: ExtractParamOptions<()>) -> poem::Result<Self> {
        // The pipeline puts the context of every request it passes on.
        request
            .extensions()
            .get::<RequestContext>()
            .map(Caller)
            .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))
    }
}

/// Documents a boot-action operation as taking `X-Bootaction-Key`; the
/// handler checks the key itself, after looking the node or action up.
pub struct BootactionKey;

impl<'a> ApiExtractor<'a> for BootactionKey {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            BOOTACTION_KEY,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some("The node's boot-action key (hex), as its deployment gave it."),
                name: Some(super::bootactions::KEY_HEADER),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![BOOTACTION_KEY]
    }

    async fn from_request(_: &'a Request, _: &mut RequestBody, _: ExtractParamOptions<()>) -> poem::Result<Self> {
        Ok(BootactionKey)
    }
}

/// Documents an operation that takes no credentials (`security: [{}]`):
/// versions and liveness.
pub struct Anyone;

impl<'a> ApiExtractor<'a> for Anyone {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(_: &'a Request, _: &mut RequestBody, _: ExtractParamOptions<()>) -> poem::Result<Self> {
        Ok(Anyone)
    }
}
