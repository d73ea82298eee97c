"""The design API of ``import drydock`` over the corpus samples and a
generated site: loading, effective nodes, validation findings, node
filters, boot-action rendering and the errors."""

import pytest

import drydock
from conftest import ROOT, SAMPLES
from drydock import types
from shapes import assert_shape


def test_fullsite_loads_with_its_effective_nodes(fullsite_path):
    site = drydock.load(fullsite_path)
    assert site.valid and site.error_count == 0
    assert [node.name for node in site.nodes] == ["controller01", "compute01", "compute02"]
    node = site.node("compute01")
    assert node.kind == "BaremetalNode"
    # Inherited from host profile k8-node / defaults.
    assert node.image == "xenial" and node.kernel == "ga-16.04"
    assert "test" in node.tags
    data = node.to_dict()
    assert data["config"]["oob_type"] == "ipmi"
    assert {"network": "mgmt", "address": "172.16.1.21"} in data["addressing"]
    assert {doc.name for doc in site.boot_actions} == {"hw_filtered", "helloworld", "hw_filtered2"}
    assert {doc.name for doc in site.networks} >= {"oob", "pxe", "mgmt", "private", "public"}
    assert site.network_links[0].kind == "NetworkLink"
    with pytest.raises(drydock.UnknownNodeError) as raised:
        site.node("nosuchnode")
    assert isinstance(raised.value, drydock.DrydockError) and isinstance(raised.value, KeyError)
    assert all(type(finding).__name__ == "Finding" for finding in site.findings)
    assert drydock.Finding.__name__ == "Finding" and "Finding_" not in dir(drydock)
    with pytest.raises(AttributeError):
        node.no_such_field


def test_node_filters_follow_the_original(fullsite_path):
    site = drydock.load(fullsite_path)
    assert site.select() == ["controller01", "compute01", "compute02"]
    one = {"filter_set_type": "intersection", "filter_set": [{"filter_type": "intersection", "node_names": ["compute01"]}]}
    assert site.select(one) == ["compute01"]
    racks = {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "rack_names": ["rack2", "rack3"]}]}
    assert len(site.select(racks)) == 2
    tags = {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_tags": ["test"]}]}
    assert len(site.select(tags)) == 3
    labels = {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_labels": {"foo": "baz"}}]}
    assert len(site.select(labels)) == 1
    with pytest.raises(drydock.NodeFilterError):
        site.select({"filter_set": []})
    with pytest.raises(drydock.NodeFilterError):
        site.select({"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_names": [object()]}]})


def test_boot_actions_render_for_a_node(fullsite_path):
    site = drydock.load(fullsite_path)
    files = site.render_boot_actions("compute01", "file")
    hello = [f for f in files if f["path"] == "/var/tmp/hello.sh"]
    assert hello and hello[0]["permissions"] == 0o555
    assert isinstance(hello[0]["content"], bytes)
    assert_shape(files + site.render_boot_actions("compute01", "unit"), list[types.RenderedAsset])
    with pytest.raises(drydock.BootActionError):
        site.render_boot_actions("compute01", "bogus")


def test_invalid_samples_report_findings_with_codes_and_lines():
    invalid = sorted(SAMPLES.glob("invalid_*.yaml"))
    assert invalid, "corpus present"
    flagged = 0
    for path in invalid:
        try:
            site = drydock.load(str(path))
        except drydock.DesignLoadError:
            continue
        if site.valid:
            continue
        flagged += 1
        errors = site.errors()
        assert errors and all(error.is_error for error in errors)
        assert_shape([finding.to_dict() for finding in site.findings], list[types.FindingDict], path.name)
        coded = [error for error in errors if error.code]
        for error in coded:
            assert error.code.startswith("DD"), error
            assert error.level == "Error"
            assert set(error.to_dict()) == {"code", "level", "message", "diagnostic", "documents", "file", "line"}
    assert flagged >= len(invalid) // 2, "most invalid samples are flagged"


def test_a_design_with_errors_has_no_effective_site():
    site = drydock.loads("schema: drydock/Network/v1\nmetadata: {name: n1, schema: metadata/Document/v1}\ndata: {cidr: 'not-a-cidr'}\n", name="bad.yaml")
    assert not site.valid
    finding = site.errors()[0]
    assert finding.file == "bad.yaml" and finding.line is not None
    if site.status == "NotEvaluated":
        with pytest.raises(drydock.DesignInvalidError):
            site.nodes


def test_unreadable_input_raises_design_load_error():
    with pytest.raises(drydock.DesignLoadError):
        drydock.load(str(ROOT / "no" / "such" / "file.yaml"))
    with pytest.raises(drydock.DesignLoadError):
        drydock.loads("key: [unclosed\n", name="broken.yaml")
    with pytest.raises(drydock.DesignLoadError):
        drydock.loads("a: 1\n", envelope="sideways")
    assert issubclass(drydock.DesignLoadError, drydock.DrydockError)


def test_a_generated_site_validates_clean(generated_text):
    site = drydock.loads(generated_text, name="gen_site.yaml")
    assert site.valid, [f.message for f in site.errors()]
    report = site.validate()
    assert {f.code for f in report if f.level == "Info"} >= {"DD1001", "DD2002"}, "each passing rule says so"
    assert not [f for f in report if f.is_error]
    assert len(site.nodes) == 100
    # Only the "no node driver, platform not checked" warning, as the CLI gives without --image.
    assert [f.code for f in site.findings if f.level == "Warning"] == ["DD3001"]


TREASUREMAP = SAMPLES.parent / "treasuremap-v1.9"


@pytest.mark.parametrize("name", ["seaworthy", "airsloop", "seaworthy-virt"])
def test_a_site_repository_renders_and_validates(name):
    site = drydock.load_site_repo(TREASUREMAP, name)
    assert site.valid and site.error_count == 0
    assert len(site.findings) == 19
    assert all(finding.file is None or finding.file.startswith(str(TREASUREMAP)) for finding in site.findings)


def test_site_repository_values_come_from_their_layers():
    site = drydock.load_site_repo(str(TREASUREMAP), "seaworthy")
    node = site.node("cab23-r720-12")
    assert node.to_dict()["config"]["hardware_profile"] == "dell_r720"
    # cp_r720-primary: the global profile's oob with the site's secret
    # substituted, the site's interfaces.
    profile = [doc for doc in site.host_profiles if doc.name == "cp_r720-primary"][0]
    data = profile.to_dict()
    assert data["config"]["oob_parameters"]["credential"] == "password123"
    assert [interface["name"] for interface in data["config"]["interfaces"]] == ["pxe", "bond0"]


def test_a_site_that_does_not_render_has_dd010_findings(tmp_path):
    (tmp_path / "global").mkdir()
    (tmp_path / "global" / "policy.yaml").write_text(
        "schema: deckhand/LayeringPolicy/v1\nmetadata: {schema: metadata/Control/v1, name: lp}\ndata: {layerOrder: [global, site]}\n"
    )
    (tmp_path / "site" / "lab").mkdir(parents=True)
    (tmp_path / "site" / "lab" / "site-definition.yaml").write_text("data: {site_type: none}\n")
    (tmp_path / "site" / "lab" / "net.yaml").write_text(
        "schema: drydock/Network/v1\n"
        "metadata: {schema: metadata/Document/v1, name: oob, storagePolicy: cleartext, layeringDefinition: {layer: site},"
        " substitutions: [{src: {schema: deckhand/Passphrase/v1, name: missing, path: .}, dest: {path: .mtu}}]}\n"
        "data: {}\n"
    )
    site = drydock.load_site_repo(tmp_path, "lab")
    assert not site.valid
    [finding] = site.errors()
    assert finding.code == "DD010"
    assert finding.file == str(tmp_path / "site" / "lab" / "net.yaml") and finding.line == 1
    assert "no concrete document has that schema and name" in finding.message
    with pytest.raises(drydock.DesignLoadError, match="no site elsewhere"):
        drydock.load_site_repo(tmp_path, "elsewhere")
