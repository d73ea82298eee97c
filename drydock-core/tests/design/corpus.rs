//! The upstream sample corpus (`shared/corpus/drydock-samples/`): every file,
//! under both envelope modes, gives the outcome the site-design spec's §7
//! table gives — status, message count, and error and warning counts per
//! rule (DD000/DD001 by code). Where we follow the spec's recommendation
//! instead of an upstream crash, the row says so.

use drydock_core::ingest::EnvelopeMode::{self, Deckhand, Legacy};

use crate::support::{corpus_dir, evaluate_path, summarize};

/// The outcome of an empty design (every document ignored): Success, 23 messages.
const EMPTY_WARNINGS: &[(&str, usize)] =
    &[("CIDR Validity", 1), ("IP Locality Check", 2), ("Duplicated IP Check", 1), ("Platform Selection", 1)];

enum Expect {
    Outcome { status: &'static str, messages: usize, errors: &'static [(&'static str, usize)], warnings: &'static [(&'static str, usize)] },
    CompileError(&'static str),
    LoadError(&'static str),
}

struct Case {
    file: &'static str,
    mode: EnvelopeMode,
    expect: Expect,
}

impl Case {
    const fn outcome(
        file: &'static str,
        mode: EnvelopeMode,
        status: &'static str,
        messages: usize,
        errors: &'static [(&'static str, usize)],
        warnings: &'static [(&'static str, usize)],
    ) -> Case {
        Case { file, mode, expect: Expect::Outcome { status, messages, errors, warnings } }
    }

    const fn empty(file: &'static str, mode: EnvelopeMode) -> Case {
        Case::outcome(file, mode, "Success", 23, &[], EMPTY_WARNINGS)
    }

    const fn compile_error(file: &'static str, mode: EnvelopeMode, text: &'static str) -> Case {
        Case { file, mode, expect: Expect::CompileError(text) }
    }

    const fn load_error(file: &'static str, mode: EnvelopeMode, text: &'static str) -> Case {
        Case { file, mode, expect: Expect::LoadError(text) }
    }
}

const CASES: &[Case] = &[
    Case::outcome(
        "absent_bootaction.yaml",
        Deckhand,
        "Failure",
        24,
        &[("IP Locality Check", 3)],
        &[("CIDR Validity", 1), ("IP Locality Check", 1), ("Platform Selection", 1), ("Bootaction Definition", 1)],
    ),
    Case::empty("baremetalNode.yaml", Deckhand),
    Case::empty("baremetalNode2.yaml", Deckhand),
    Case::outcome("deckhand_bootaction.yaml", Deckhand, "failure", 1, &[("DD000", 1)], &[]),
    Case::outcome("deckhand_fullsite.yaml", Deckhand, "Success", 19, &[], &[("Platform Selection", 1)]),
    Case::outcome("deckhand_fullsite_bad_hugepages.yaml", Deckhand, "Failure", 19, &[("Hugepages", 1)], &[("Platform Selection", 1)]),
    Case::outcome(
        "deckhand_fullsite_libvirt.yaml",
        Deckhand,
        "Failure",
        21,
        &[("IP Locality Check", 1), ("Valid Libvirt Configuration", 3)],
        &[("Platform Selection", 1)],
    ),
    Case::outcome("deckhand_fullsite_nic_autodetect.yaml", Deckhand, "Success", 19, &[], &[("Platform Selection", 1)]),
    Case::outcome(
        "deckhand_fullsite_no_nodes.yaml",
        Deckhand,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::outcome(
        "deckhand_routedomain.yaml",
        Deckhand,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::empty("fullsite.yaml", Deckhand),
    Case::empty("fullsite_networks.yaml", Deckhand),
    Case::empty("fullsite_nodes.yaml", Deckhand),
    Case::empty("fullsite_profiles.yaml", Deckhand),
    Case::empty("hardwareProfile.yaml", Deckhand),
    Case::empty("hostProfile.yaml", Deckhand),
    Case::empty("hostProfile2.yaml", Deckhand),
    Case::empty("hostprof.yaml", Deckhand),
    // PyYAML rejects `: Network` (an empty implicit key); so do we, as one clear load error.
    Case::load_error("invalid.yaml", Deckhand, "Error parsing YAML"),
    Case::empty("invalid_baremetalNode.yaml", Deckhand),
    Case::empty("invalid_baremetalNode2.yaml", Deckhand),
    Case::outcome(
        "invalid_boot_storage_small.yaml",
        Deckhand,
        "Failure",
        22,
        &[("Rational Boot Storage", 4), ("Allowed Network Check", 1)],
        &[("Platform Selection", 1)],
    ),
    Case::outcome("invalid_bootaction.yaml", Deckhand, "failure", 3, &[("DD001", 3)], &[]),
    Case::outcome(
        "invalid_bootaction_pkg.yaml",
        Deckhand,
        "Failure",
        23,
        &[("Bootaction pkg_list Validation", 1)],
        &[("CIDR Validity", 1), ("IP Locality Check", 2), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::empty("invalid_hardwareProfile.yaml", Deckhand),
    Case::empty("invalid_hostProfile.yaml", Deckhand),
    Case::empty("invalid_hostProfile2.yaml", Deckhand),
    Case::outcome("invalid_hugepages.yaml", Deckhand, "Failure", 20, &[("Hugepages", 2)], &[("Platform Selection", 1)]),
    Case::outcome(
        "invalid_kernel.yaml",
        Deckhand,
        "Failure",
        21,
        &[("Rational Boot Storage", 2), ("Allowed Network Check", 1)],
        &[("Platform Selection", 1), ("Bootaction Definition", 1)],
    ),
    Case::outcome("invalid_mountpoint.yaml", Deckhand, "Failure", 19, &[("Storage Mountpoint", 1)], &[("Platform Selection", 1)]),
    Case::empty("invalid_network.yaml", Deckhand),
    Case::empty("invalid_network2.yaml", Deckhand),
    Case::empty("invalid_network3.yaml", Deckhand),
    Case::empty("invalid_network4.yaml", Deckhand),
    Case::empty("invalid_network5.yaml", Deckhand),
    Case::empty("invalid_networkLink.yaml", Deckhand),
    Case::empty("invalid_networkLink2.yaml", Deckhand),
    Case::empty("invalid_networkLink3.yaml", Deckhand),
    Case::outcome("invalid_network_cidr.yaml", Deckhand, "Failure", 19, &[("CIDR Validity", 1)], &[("Platform Selection", 1)]),
    Case::empty("invalid_rack.yaml", Deckhand),
    Case::outcome(
        "invalid_rational_network_trunking.yaml",
        Deckhand,
        "Failure",
        21,
        &[("Network Trunking Rationalty", 3), ("Allowed Network Check", 1)],
        &[("Platform Selection", 1)],
    ),
    Case::empty("invalid_region.yaml", Deckhand),
    Case::outcome(
        "invalid_unique_network.yaml",
        Deckhand,
        "Failure",
        22,
        &[("Network Trunking Rationalty", 1), ("Allowed Network Check", 4)],
        &[("Platform Selection", 1)],
    ),
    Case::outcome(
        "invalid_validation.yaml",
        Deckhand,
        "Failure",
        38,
        &[
            ("Rational Boot Storage", 2),
            ("Hugepages", 2),
            ("IP Locality Check", 3),
            ("MTU Rationality", 4),
            ("Network Trunking Rationalty", 1),
            ("Duplicated IP Check", 2),
            ("Network Bond Rationality", 2),
            ("Storage Partitioning", 2),
            ("Storage Sizing", 8),
            ("Storage Mountpoint", 1),
            ("Allowed Network Check", 1),
            ("Hostname Validity", 3),
        ],
        &[("Platform Selection", 1)],
    ),
    Case::outcome(
        "ip_locality_no_gateway.yaml",
        Deckhand,
        "Failure",
        20,
        &[("IP Locality Check", 2), ("Allowed Network Check", 1)],
        &[("Platform Selection", 1)],
    ),
    // Upstream aborts in DD2004 (`Network oob not found in design state`); we report it as findings and keep going.
    Case::outcome(
        "ip_locality_no_networks.yaml",
        Deckhand,
        "Failure",
        27,
        &[("IP Locality Check", 6), ("Network Trunking Rationalty", 2), ("Allowed Network Check", 1)],
        &[("CIDR Validity", 1), ("IP Locality Check", 1), ("Platform Selection", 1)],
    ),
    Case::empty("multidoc.yaml", Deckhand),
    Case::empty("network.yaml", Deckhand),
    Case::empty("network2.yaml", Deckhand),
    Case::empty("network3.yaml", Deckhand),
    Case::empty("network4.yaml", Deckhand),
    Case::empty("network5.yaml", Deckhand),
    Case::empty("networkLink.yaml", Deckhand),
    Case::empty("networkLink2.yaml", Deckhand),
    Case::empty("networkLink3.yaml", Deckhand),
    Case::outcome("no_baremetal_node.yaml", Deckhand, "failure", 2, &[("DD001", 2)], &[]),
    Case::outcome("no_duplicate_IPs_no_addressing.yaml", Deckhand, "failure", 2, &[("DD001", 2)], &[]),
    Case::empty("oob.yaml", Deckhand),
    Case::outcome("partitions_without_mountpoints.yaml", Deckhand, "Success", 19, &[], &[("Platform Selection", 1)]),
    Case::empty("rack.yaml", Deckhand),
    Case::empty("region.yaml", Deckhand),
    Case::empty("singledoc.yaml", Deckhand),
    Case::outcome(
        "storage_partitioning_unassigned_partition.yaml",
        Deckhand,
        "Failure",
        19,
        &[("Allowed Network Check", 1)],
        &[("Platform Selection", 1)],
    ),
    Case::outcome(
        "storage_sizing.yaml",
        Deckhand,
        "Failure",
        22,
        &[("Rational Boot Storage", 4), ("Allowed Network Check", 1)],
        &[("Platform Selection", 1)],
    ),
    Case::empty("unknown_kind.yaml", Deckhand),
    Case::outcome("validation.yaml", Deckhand, "Success", 19, &[], &[("Platform Selection", 1)]),
    Case::empty("absent_bootaction.yaml", Legacy),
    Case::compile_error("baremetalNode.yaml", Legacy, "Error loading effective site: HostProfile k8-node not found in design state"),
    Case::compile_error("baremetalNode2.yaml", Legacy, "Error loading effective site: HostProfile k8-node not found in design state"),
    Case::empty("deckhand_bootaction.yaml", Legacy),
    Case::empty("deckhand_fullsite.yaml", Legacy),
    Case::empty("deckhand_fullsite_bad_hugepages.yaml", Legacy),
    Case::empty("deckhand_fullsite_libvirt.yaml", Legacy),
    Case::empty("deckhand_fullsite_nic_autodetect.yaml", Legacy),
    Case::empty("deckhand_fullsite_no_nodes.yaml", Legacy),
    Case::empty("deckhand_routedomain.yaml", Legacy),
    Case::outcome("fullsite.yaml", Legacy, "Failure", 19, &[("Allowed Network Check", 1)], &[("Platform Selection", 1)]),
    Case::empty("fullsite_networks.yaml", Legacy),
    Case::empty("fullsite_nodes.yaml", Legacy),
    Case::empty("fullsite_profiles.yaml", Legacy),
    Case::empty("hardwareProfile.yaml", Legacy),
    Case::empty("hostProfile.yaml", Legacy),
    Case::empty("hostProfile2.yaml", Legacy),
    // Legacy documents are schema-checked too (spec §1.5 recommendation): DD001 instead of upstream's 4 DD000.
    Case::outcome("hostprof.yaml", Legacy, "failure", 8, &[("DD001", 8)], &[]),
    Case::load_error("invalid.yaml", Legacy, "Error parsing YAML"),
    Case::outcome("invalid_baremetalNode.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_baremetalNode2.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::empty("invalid_boot_storage_small.yaml", Legacy),
    Case::empty("invalid_bootaction.yaml", Legacy),
    Case::empty("invalid_bootaction_pkg.yaml", Legacy),
    // Upstream's legacy plugin accepts these (no schema check); we check the schema (spec §1.5).
    Case::outcome("invalid_hardwareProfile.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_hostProfile.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_hostProfile2.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::empty("invalid_hugepages.yaml", Legacy),
    Case::empty("invalid_kernel.yaml", Legacy),
    Case::empty("invalid_mountpoint.yaml", Legacy),
    Case::outcome("invalid_network.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_network2.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_network3.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_network4.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_network5.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_networkLink.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_networkLink2.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::outcome("invalid_networkLink3.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::empty("invalid_network_cidr.yaml", Legacy),
    Case::outcome("invalid_rack.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::empty("invalid_rational_network_trunking.yaml", Legacy),
    Case::outcome("invalid_region.yaml", Legacy, "failure", 1, &[("DD001", 1)], &[]),
    Case::empty("invalid_unique_network.yaml", Legacy),
    Case::empty("invalid_validation.yaml", Legacy),
    Case::empty("ip_locality_no_gateway.yaml", Legacy),
    Case::empty("ip_locality_no_networks.yaml", Legacy),
    // Upstream aborts in DD2004 on the undefined native network; we report findings.
    Case::outcome(
        "multidoc.yaml",
        Legacy,
        "Failure",
        24,
        &[("Network Trunking Rationalty", 2)],
        &[("CIDR Validity", 1), ("IP Locality Check", 2), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::outcome(
        "network.yaml",
        Legacy,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::outcome(
        "network2.yaml",
        Legacy,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::outcome(
        "network3.yaml",
        Legacy,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::outcome(
        "network4.yaml",
        Legacy,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::outcome(
        "network5.yaml",
        Legacy,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::outcome(
        "networkLink.yaml",
        Legacy,
        "Failure",
        23,
        &[("Network Trunking Rationalty", 1)],
        &[("CIDR Validity", 1), ("IP Locality Check", 2), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::empty("networkLink2.yaml", Legacy),
    Case::outcome(
        "networkLink3.yaml",
        Legacy,
        "Failure",
        23,
        &[("Network Trunking Rationalty", 1)],
        &[("CIDR Validity", 1), ("IP Locality Check", 2), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::empty("no_baremetal_node.yaml", Legacy),
    Case::empty("no_duplicate_IPs_no_addressing.yaml", Legacy),
    Case::empty("oob.yaml", Legacy),
    Case::empty("partitions_without_mountpoints.yaml", Legacy),
    Case::empty("rack.yaml", Legacy),
    Case::empty("region.yaml", Legacy),
    Case::outcome(
        "singledoc.yaml",
        Legacy,
        "Success",
        21,
        &[],
        &[("IP Locality Check", 1), ("Duplicated IP Check", 1), ("Platform Selection", 1)],
    ),
    Case::empty("storage_partitioning_unassigned_partition.yaml", Legacy),
    Case::empty("storage_sizing.yaml", Legacy),
    Case::empty("unknown_kind.yaml", Legacy),
    Case::empty("validation.yaml", Legacy),
];

#[test]
fn every_sample_gives_the_specified_outcome() {
    let dir = corpus_dir().join("drydock-samples");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("drydock-samples directory")
        .filter_map(|entry| entry.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    assert_eq!(files.len(), 66, "the corpus has 66 samples");
    for mode in [Deckhand, Legacy] {
        let covered: Vec<&str> = CASES.iter().filter(|case| case.mode == mode).map(|case| case.file).collect();
        assert_eq!(covered.len(), files.len(), "every sample has a {mode:?} row");
    }
    let mut failures = Vec::new();
    for case in CASES {
        let path = dir.join(case.file);
        let result = evaluate_path(&path, case.mode, None);
        let problem = match (&case.expect, result) {
            (Expect::LoadError(text), Err(error)) => (!error.to_string().contains(text)).then(|| format!("load error {error}")),
            (Expect::LoadError(_), Ok(evaluation)) => Some(format!("loaded, status {}", evaluation.report.status.as_str())),
            (_, Err(error)) => Some(format!("load error {error}")),
            (Expect::CompileError(text), Ok(evaluation)) => {
                let summary = summarize(&evaluation.report);
                (!(summary.status == "failure" && summary.plain.iter().any(|m| m.starts_with(text))))
                    .then(|| format!("expected compile error, got {summary:?}"))
            }
            (Expect::Outcome { status, messages, errors, warnings }, Ok(evaluation)) => {
                let summary = summarize(&evaluation.report);
                let ok = summary.status == *status
                    && summary.messages == *messages
                    && summary.errors == to_map(errors)
                    && summary.warnings == to_map(warnings)
                    && summary.plain.is_empty();
                (!ok).then(|| format!("got {summary:?}"))
            }
        };
        if let Some(problem) = problem {
            failures.push(format!("{} ({:?}): {problem}", case.file, case.mode));
        }
    }
    assert!(failures.is_empty(), "{} samples differ:\n{}", failures.len(), failures.join("\n"));
}

fn to_map(pairs: &[(&str, usize)]) -> std::collections::BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}
