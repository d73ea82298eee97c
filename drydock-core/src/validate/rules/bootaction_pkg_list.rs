//! **DD4002 Bootaction pkg_list Validation** (Error). A `pkg_list` asset
//! without a `location` needs a non-empty package list, and every version
//! given must be a Debian version with a revision:
//! `[epoch:]upstream-revision` (`3.2.1-1`, `1:2.3-4ubuntu1`). Lists fetched
//! from a `location` are checked when rendered, not here.

use std::sync::OnceLock;

use regex::Regex;

use crate::model::AssetType;
use crate::validate::{Findings, RuleContext};

fn version_pattern() -> Option<&'static Regex> {
    static PATTERN: OnceLock<Option<Regex>> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"\A(\d+:)?([a-zA-Z0-9.+~-]+)(-[a-zA-Z0-9.+~]+)\z").ok()).as_ref()
}

pub(super) fn check(context: &RuleContext<'_>, findings: &mut Findings) {
    for action in &context.site.design.boot_actions {
        for asset in action.assets.iter().filter(|asset| asset.asset_type == AssetType::PkgList) {
            let packages = asset.package_list.as_ref().filter(|packages| !packages.is_empty());
            let Some(packages) = packages else {
                if asset.location.is_none() {
                    findings.error(
                        "Bootaction has asset of type 'pkg_list' but no valid package data",
                        "pkg_list bootaction assets must specify a list of packages.",
                        &[&action.meta],
                    );
                }
                continue;
            };
            for version in packages.values().flatten().filter(|version| !version.is_empty()) {
                if !version_pattern().is_some_and(|pattern| pattern.is_match(version)) {
                    findings.error(
                        format!("Version specifier {version} is not a valid format."),
                        "pkg_list version specifications must be in a valid format.",
                        &[&action.meta],
                    );
                }
            }
        }
    }
}
