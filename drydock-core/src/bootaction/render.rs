//! Rendering a node's assets (compat: site-design spec §5.3): location
//! (templated, then fetched) or inline data, then the data pipeline, with
//! Jinja2 semantics from minijinja (lenient undefined, no autoescape,
//! `.items()`, `urlencode`, one trailing newline dropped).

use indexmap::IndexMap;
use minijinja::Environment;

use super::BootActionError;
use super::context::{ActionIdentity, template_context};
use super::packages::{PackageList, merge_into, parse_package_list};
use super::pipeline::{Flow, run_segment};
use crate::compile::EffectiveSite;
use crate::ids::DesignRef;
use crate::ingest::source::DesignSource;
use crate::model::{AssetType, BootAction, PipelineSegment};

/// A rendered unit or file asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedAsset {
    /// Unit or file.
    pub asset_type: AssetType,
    /// Target path on the node.
    pub path: String,
    /// File mode (0o600 when the document gives none).
    pub permissions: u32,
    /// The content.
    pub bytes: Vec<u8>,
}

/// Default mode of an asset without `permissions`.
pub const DEFAULT_PERMISSIONS: u32 = 0o600;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    // keep_trailing_newline is false by default, as in Jinja2.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

fn render_template(env: &Environment<'_>, source: &str, context: &serde_json::Value) -> Result<String, String> {
    env.render_str(source, minijinja::value::Serde(context)).map_err(|error| {
        let mut detail = error.to_string();
        let mut cause = std::error::Error::source(&error);
        while let Some(inner) = cause {
            detail.push_str(&format!(": {inner}"));
            cause = inner.source();
        }
        detail
    })
}

/// Run `segments` over `value`.
fn run_pipeline(
    env: &Environment<'_>,
    action: &BootAction,
    asset: usize,
    segments: &[PipelineSegment],
    value: Flow,
    context: &serde_json::Value,
) -> Result<Flow, BootActionError> {
    let mut template = |text: &str| render_template(env, text, context);
    segments.iter().try_fold(value, |value, segment| {
        run_segment(*segment, value, &mut template).map_err(|detail| BootActionError::Pipeline {
            action: action.meta.name().to_owned(),
            asset,
            segment: segment.as_str(),
            detail,
        })
    })
}

/// Render the `kind` assets (unit or file) of every boot action targeting the
/// node at `node`, in design order then asset order. `identities` gives the
/// action id and key per boot-action name (the records made when the node was
/// deployed); boot actions without an identity are skipped.
pub async fn render_assets(
    site: &EffectiveSite,
    node: usize,
    kind: AssetType,
    identities: &IndexMap<String, ActionIdentity>,
    source: &dyn DesignSource,
) -> Result<Vec<RenderedAsset>, BootActionError> {
    let env = environment();
    let node_ref = &site.nodes()[node];
    let mut rendered = Vec::new();
    for action in site.boot_actions_for(node) {
        let Some(identity) = identities.get(action.meta.name()) else { continue };
        let context = template_context(site, node_ref, identity)?;
        for (position, asset) in action.assets.iter().enumerate().filter(|(_, asset)| asset.asset_type == kind) {
            let path = asset
                .path
                .clone()
                .ok_or_else(|| BootActionError::MissingPath { action: action.meta.name().to_owned(), asset: position })?;
            let start = match &asset.location {
                Some(location) => {
                    Flow::Bytes(fetch_location(&env, action, position, location, &asset.location_pipeline, &context, source).await?)
                }
                None => Flow::Bytes(asset.data.clone().unwrap_or_default().into_bytes()),
            };
            let value = run_pipeline(&env, action, position, &asset.data_pipeline, start, &context)?;
            rendered.push(RenderedAsset {
                asset_type: kind,
                path,
                permissions: asset.permissions.unwrap_or(DEFAULT_PERMISSIONS),
                bytes: value.into_bytes(),
            });
        }
    }
    Ok(rendered)
}

async fn fetch_location(
    env: &Environment<'_>,
    action: &BootAction,
    asset: usize,
    location: &str,
    pipeline: &[PipelineSegment],
    context: &serde_json::Value,
    source: &dyn DesignSource,
) -> Result<Vec<u8>, BootActionError> {
    let url = match run_pipeline(env, action, asset, pipeline, Flow::Text(location.to_owned()), context)? {
        Flow::Text(text) => text,
        Flow::Bytes(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    source.fetch(&DesignRef(url)).await.map(|fetched| fetched.bytes).map_err(|error| BootActionError::Location {
        action: action.meta.name().to_owned(),
        asset,
        source: error,
    })
}

/// The packages to install on the node at `node` (compat §5.4): the union of
/// the `pkg_list` assets of every boot action targeting it, later entries
/// overwriting earlier ones. Lists with a `location` are fetched.
pub async fn node_packages(
    site: &EffectiveSite,
    node: usize,
    identity: &ActionIdentity,
    source: &dyn DesignSource,
) -> Result<PackageList, BootActionError> {
    let env = environment();
    let node_ref = &site.nodes()[node];
    let mut packages = PackageList::new();
    for action in site.boot_actions_for(node) {
        for (position, asset) in action.assets.iter().enumerate().filter(|(_, asset)| asset.asset_type == AssetType::PkgList) {
            let list = match (&asset.package_list, &asset.location) {
                (Some(list), _) => list.clone(),
                (None, Some(location)) => {
                    let context = template_context(site, node_ref, identity)?;
                    let bytes = fetch_location(&env, action, position, location, &asset.location_pipeline, &context, source).await?;
                    parse_package_list(&bytes).map_err(|detail| BootActionError::PackageList {
                        action: action.meta.name().to_owned(),
                        asset: position,
                        detail,
                    })?
                }
                (None, None) => continue,
            };
            merge_into(&mut packages, list);
        }
    }
    Ok(packages)
}
