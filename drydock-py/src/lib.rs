//! The `drydock._drydock` extension module: the Rust design path (load,
//! effective site, validation, node filters, boot-action rendering) exposed
//! to Python. The pure-Python package `drydock` re-exports it and adds the
//! HTTP client.

use std::sync::Arc;

use indexmap::IndexMap;
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use serde_json::Value;

use drydock_core::bootaction::render::render_assets;
use drydock_core::bootaction::{ActionIdentity, IdentityKey};
use drydock_core::compile::EffectiveSite;
use drydock_core::designs::DesignService;
use drydock_core::ids::{BootActionId, DesignRef};
use drydock_core::ingest::EnvelopeMode;
use drydock_core::ingest::repo::{SiteRef, read_site};
use drydock_core::ingest::source::{DefaultSource, DesignSource, ReferencePolicy, SourceBytes};
use drydock_core::model::{AssetType, DocMeta, Finding, Level};
use drydock_core::validate::{DesignReport, Evaluation, ReportMessage, ValidationOptions};

/// The same allocator as the `drydock` binary: the design path makes many
/// small allocations, and the library's speed should not depend on the host.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(_drydock, DrydockError, PyException, "Base class of every Drydock error.");
create_exception!(_drydock, DesignLoadError, DrydockError, "A design reference cannot be read or parsed.");
create_exception!(_drydock, DesignInvalidError, DrydockError, "The design has errors, so it has no effective site.");
create_exception!(_drydock, NodeFilterError, DrydockError, "A node filter is malformed.");
create_exception!(_drydock, BootActionError, DrydockError, "A boot action cannot be rendered.");

/// A serde_json value as a Python object (dict, list, str, int, float, bool, None).
fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => flag.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(int), _) => int.into_pyobject(py)?.into_any(),
            (None, Some(int)) => int.into_pyobject(py)?.into_any(),
            _ => number.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(text) => text.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A Python object (dict, list, str, number, bool, None) as a serde_json value.
fn from_py(object: &Bound<'_, PyAny>) -> PyResult<Value> {
    if object.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(flag) = object.extract::<bool>() {
        return Ok(Value::Bool(flag));
    }
    if let Ok(int) = object.extract::<i64>() {
        return Ok(Value::from(int));
    }
    if let Ok(float) = object.extract::<f64>() {
        return Ok(Value::from(float));
    }
    if let Ok(text) = object.extract::<String>() {
        return Ok(Value::String(text));
    }
    if let Ok(dict) = object.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (key, item) in dict.iter() {
            map.insert(key.str()?.to_string(), from_py(&item)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = object.cast::<PyList>() {
        return list.iter().map(|item| from_py(&item)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    Err(NodeFilterError::new_err(format!("cannot use a {} in a node filter", object.get_type().name()?)))
}

fn json<T: serde::Serialize>(value: &T) -> PyResult<Value> {
    serde_json::to_value(value).map_err(|error| DrydockError::new_err(format!("cannot export: {error}")))
}

fn runtime() -> PyResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|error| DrydockError::new_err(error.to_string()))
}

fn envelope(name: &str) -> PyResult<EnvelopeMode> {
    match name {
        "auto" => Ok(EnvelopeMode::Auto),
        "deckhand" => Ok(EnvelopeMode::Deckhand),
        "legacy" => Ok(EnvelopeMode::Legacy),
        other => Err(DesignLoadError::new_err(format!("unknown envelope {other:?}: use auto, deckhand or legacy"))),
    }
}

/// One finding of ingestion or validation.
#[pyclass(frozen, name = "Finding", module = "drydock")]
pub struct PyFinding {
    /// The DD code (`DD2002`), or `None` for a plain message.
    #[pyo3(get)]
    code: Option<String>,
    /// `Error`, `Warning` or `Info`.
    #[pyo3(get)]
    level: String,
    /// The message.
    #[pyo3(get)]
    message: String,
    /// The hint, possibly empty.
    #[pyo3(get)]
    diagnostic: String,
    /// `(schema, name)` of every document the finding is about.
    #[pyo3(get)]
    documents: Vec<(String, String)>,
    /// The file, when known.
    #[pyo3(get)]
    file: Option<String>,
    /// The 1-based line, when known.
    #[pyo3(get)]
    line: Option<u32>,
}

impl PyFinding {
    fn from_message(message: &ReportMessage) -> PyFinding {
        match message {
            ReportMessage::Finding(finding) => PyFinding::from_finding(finding),
            ReportMessage::Plain { message, error, .. } => PyFinding {
                code: None,
                level: if *error { "Error".into() } else { "Info".into() },
                message: message.clone(),
                diagnostic: String::new(),
                documents: Vec::new(),
                file: None,
                line: None,
            },
        }
    }

    fn from_finding(finding: &Finding) -> PyFinding {
        PyFinding {
            code: Some(finding.code.to_owned()),
            level: match finding.level {
                Level::Error => "Error",
                Level::Warning => "Warning",
                Level::Info => "Info",
            }
            .to_owned(),
            message: finding.message.clone(),
            diagnostic: finding.diagnostic.clone(),
            documents: finding.documents.iter().map(|doc| (doc.schema.clone(), doc.name.clone())).collect(),
            file: finding.location.as_ref().and_then(|location| location.file.as_deref().map(str::to_owned)),
            line: finding.location.as_ref().map(|location| location.line),
        }
    }
}

#[pymethods]
impl PyFinding {
    /// Whether this is an error.
    #[getter]
    fn is_error(&self) -> bool {
        self.level == "Error"
    }

    /// The finding as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("code", &self.code)?;
        dict.set_item("level", &self.level)?;
        dict.set_item("message", &self.message)?;
        dict.set_item("diagnostic", &self.diagnostic)?;
        dict.set_item("documents", self.documents.clone())?;
        dict.set_item("file", &self.file)?;
        dict.set_item("line", self.line)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        format!("<Finding {} {}: {}>", self.code.as_deref().unwrap_or("-"), self.level, self.message)
    }
}

/// One design document (a network, a profile, a node, …) as Python sees it:
/// `kind`, `name`, attribute access to its fields, and `to_dict()`.
#[pyclass(frozen, module = "drydock")]
pub struct Document {
    /// The document kind (`BaremetalNode`, `Network`, …).
    #[pyo3(get)]
    kind: String,
    /// The document name.
    #[pyo3(get)]
    name: String,
    data: Value,
}

impl Document {
    fn new<T: serde::Serialize>(kind: &str, meta: &DocMeta, value: &T) -> PyResult<Document> {
        let mut data = json(value)?;
        if let Value::Object(map) = &mut data {
            map.remove("meta");
        }
        Ok(Document { kind: kind.to_owned(), name: meta.name().to_owned(), data })
    }
}

#[pymethods]
impl Document {
    /// The document's fields as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &self.data)
    }

    fn __getattr__<'py>(&self, py: Python<'py>, attribute: &str) -> PyResult<Bound<'py, PyAny>> {
        let found = self.data.get(attribute).or_else(|| self.data.get("config").and_then(|config| config.get(attribute)));
        match found {
            Some(value) => to_py(py, value),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(format!("{} {} has no field {attribute}", self.kind, self.name))),
        }
    }

    fn __repr__(&self) -> String {
        format!("<{} {}>", self.kind, self.name)
    }
}

/// A loaded design: its findings, and (when it has no errors) its
/// effective site after inheritance.
#[pyclass(frozen, module = "drydock")]
pub struct Site {
    report: DesignReport,
    site: Option<Arc<EffectiveSite>>,
    source: Option<String>,
}

impl Site {
    fn from_evaluation(evaluation: &Evaluation, source: Option<String>) -> Site {
        Site { report: evaluation.report.clone(), site: evaluation.site.clone(), source }
    }

    fn effective(&self) -> PyResult<&Arc<EffectiveSite>> {
        self.site.as_ref().ok_or_else(|| {
            let first =
                self.report.messages.iter().find(|message| message.is_error()).map(|message| PyFinding::from_message(message).message);
            DesignInvalidError::new_err(format!(
                "the design has {} error(s), so it has no effective site{}",
                self.report.error_count,
                first.map(|text| format!(": {text}")).unwrap_or_default()
            ))
        })
    }

    fn documents<T, F>(&self, kind: &str, items: &[T], meta: F) -> PyResult<Vec<Document>>
    where
        T: serde::Serialize,
        F: Fn(&T) -> &DocMeta,
    {
        items.iter().map(|item| Document::new(kind, meta(item), item)).collect()
    }
}

#[pymethods]
impl Site {
    /// Whether the design loaded and validated without errors.
    #[getter]
    fn valid(&self) -> bool {
        self.report.error_count == 0
    }

    /// `Success`, `Failure` or … as the validatedesign API reports it.
    #[getter]
    fn status(&self) -> String {
        format!("{:?}", self.report.status)
    }

    /// Number of errors.
    #[getter]
    fn error_count(&self) -> usize {
        self.report.error_count
    }

    /// Every ingestion and validation finding, in order.
    #[getter]
    fn findings(&self) -> Vec<PyFinding> {
        self.report.messages.iter().map(PyFinding::from_message).collect()
    }

    /// Validate: every ingestion finding and the outcome of each of the 18
    /// rules (errors, warnings and the rules' `Info` successes), in the
    /// validatedesign order. The design was validated when it loaded, so
    /// this returns the same list every time.
    fn validate(&self) -> Vec<PyFinding> {
        self.findings()
    }

    /// Only the errors.
    fn errors(&self) -> Vec<PyFinding> {
        self.report.messages.iter().filter(|message| message.is_error()).map(PyFinding::from_message).collect()
    }

    /// The effective nodes, in design order.
    #[getter]
    fn nodes(&self) -> PyResult<Vec<Document>> {
        let site = self.effective()?;
        self.documents("BaremetalNode", site.nodes(), |node| &node.meta)
    }

    /// One effective node by name (KeyError when absent).
    fn node(&self, py: Python<'_>, name: &str) -> PyResult<Document> {
        let site = self.effective()?;
        let node = site.node(name).ok_or_else(|| unknown_node(py, format!("no node {name} in the design")))?;
        Document::new("BaremetalNode", &node.meta, node)
    }

    /// Networks.
    #[getter]
    fn networks(&self) -> PyResult<Vec<Document>> {
        self.documents("Network", &self.effective()?.design.networks, |item| &item.meta)
    }

    /// Network links.
    #[getter]
    fn network_links(&self) -> PyResult<Vec<Document>> {
        self.documents("NetworkLink", &self.effective()?.design.network_links, |item| &item.meta)
    }

    /// Hardware profiles.
    #[getter]
    fn hardware_profiles(&self) -> PyResult<Vec<Document>> {
        self.documents("HardwareProfile", &self.effective()?.design.hardware_profiles, |item| &item.meta)
    }

    /// Host profiles (as written; nodes carry the inherited result).
    #[getter]
    fn host_profiles(&self) -> PyResult<Vec<Document>> {
        self.documents("HostProfile", &self.effective()?.design.host_profiles, |item| &item.meta)
    }

    /// Regions (the last one is the site).
    #[getter]
    fn regions(&self) -> PyResult<Vec<Document>> {
        self.documents("Region", &self.effective()?.design.regions, |item| &item.meta)
    }

    /// Racks.
    #[getter]
    fn racks(&self) -> PyResult<Vec<Document>> {
        self.documents("Rack", &self.effective()?.design.racks, |item| &item.meta)
    }

    /// Boot actions.
    #[getter]
    fn boot_actions(&self) -> PyResult<Vec<Document>> {
        self.documents("BootAction", &self.effective()?.design.boot_actions, |item| &item.meta)
    }

    /// The names of the nodes a node filter (a dict as the API takes it, or
    /// `None` for all) selects, in design order.
    #[pyo3(signature = (node_filter=None))]
    fn select(&self, node_filter: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
        let site = self.effective()?;
        let filter = match node_filter {
            None => None,
            Some(object) if object.is_none() => None,
            Some(object) => Some(
                drydock_core::ingest::map::node_filter_from_json(&from_py(object)?)
                    .map_err(|error| NodeFilterError::new_err(error.to_string()))?,
            ),
        };
        let indices = site.select(filter.as_ref()).map_err(|error| NodeFilterError::new_err(error.to_string()))?;
        Ok(indices.into_iter().map(|index| site.nodes()[index].name().to_owned()).collect())
    }

    /// Render the boot-action assets of `node` of one kind (`unit` or
    /// `file`) as a list of dicts `{path, permissions, content}`, with a
    /// fresh action id and key per boot action (as a deployment would).
    #[pyo3(signature = (node, kind="file", report_url=None))]
    fn render_boot_actions<'py>(
        &self,
        py: Python<'py>,
        node: &str,
        kind: &str,
        report_url: Option<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let site = self.effective()?.clone();
        let asset_type = match kind {
            "unit" => AssetType::Unit,
            "file" => AssetType::File,
            other => return Err(BootActionError::new_err(format!("unknown asset kind {other:?}: use unit or file"))),
        };
        let position = site.node_position(node).ok_or_else(|| PyKeyError::new_err(format!("no node {node} in the design")))?;
        let key = IdentityKey::generate();
        let identities: IndexMap<String, ActionIdentity> = site
            .boot_actions_for(position)
            .map(|action| {
                (
                    action.meta.name().to_owned(),
                    ActionIdentity {
                        action_id: BootActionId::generate(),
                        action_key: key.clone(),
                        report_url: report_url.clone().unwrap_or_else(|| drydock_core::bootaction::context::DEFAULT_REPORT_URL.to_owned()),
                        design_ref: DesignRef(self.source.clone().unwrap_or_default()),
                    },
                )
            })
            .collect();
        let runtime = runtime()?;
        let rendered = py
            .detach(|| {
                let source = DefaultSource::default();
                runtime.block_on(render_assets(&site, position, asset_type, &identities, &source))
            })
            .map_err(|error| BootActionError::new_err(error.to_string()))?;
        let list = PyList::empty(py);
        for asset in rendered {
            let dict = PyDict::new(py);
            dict.set_item("path", asset.path)?;
            dict.set_item("permissions", asset.permissions)?;
            dict.set_item("content", PyBytes::new(py, &asset.bytes))?;
            list.append(dict)?;
        }
        Ok(list)
    }

    fn __repr__(&self) -> String {
        match &self.site {
            Some(site) => format!("<Site {} nodes, {} errors>", site.nodes().len(), self.report.error_count),
            None => format!("<Site (not compiled), {} errors>", self.report.error_count),
        }
    }
}

/// Load a design from a reference: a path, `file://`, `http(s)://` or
/// `deckhand+http(s)://` URL. Raises DesignLoadError when it cannot be read
/// or is not YAML; a design with errors loads, with `valid == False`.
#[pyfunction]
#[pyo3(signature = (design_ref, envelope="auto"))]
fn load(py: Python<'_>, design_ref: &str, envelope: &str) -> PyResult<Site> {
    let mode = self::envelope(envelope)?;
    let runtime = runtime()?;
    let reference = DesignRef(design_ref.to_owned());
    let evaluation = py.detach(|| {
        runtime.block_on(async {
            let fetched = DefaultSource::default().fetch(&reference).await.map_err(|error| error.to_string())?;
            designs().evaluate_with(design_ref, fetched, mode, ValidationOptions::default()).await.map_err(|error| error.to_string())
        })
    });
    let evaluation = evaluation.map_err(DesignLoadError::new_err)?;
    Ok(Site::from_evaluation(&evaluation, Some(design_ref.to_owned())))
}

/// Load a design from YAML text (`name` appears in findings as the file).
#[pyfunction]
#[pyo3(signature = (text, name=None, envelope="auto"))]
fn loads(py: Python<'_>, text: &str, name: Option<&str>, envelope: &str) -> PyResult<Site> {
    let mode = self::envelope(envelope)?;
    let runtime = runtime()?;
    // An empty source name: findings name no file, as for text without one.
    let fetched = SourceBytes { bytes: text.as_bytes().to_vec(), name: name.unwrap_or_default().to_owned() };
    let key = format!("text:{}", name.unwrap_or_default());
    let evaluation = py.detach(|| runtime.block_on(designs().evaluate_with(&key, fetched, mode, ValidationOptions::default())));
    let evaluation = evaluation.map_err(|error| DesignLoadError::new_err(error.to_string()))?;
    Ok(Site::from_evaluation(&evaluation, name.map(str::to_owned)))
}

/// Render the site `site` of the Pegleg repository at `directory` (its
/// `global/`, `type/<type>/` and `site/<site>/` documents, layered and
/// substituted as Deckhand renders them), then load it like `load`:
/// findings name the repository file and line each value was written at. A
/// site that does not render loads with `valid == False` and DD010
/// findings; DesignLoadError when the site cannot be read or a file is not
/// YAML.
#[pyfunction]
fn load_site_repo(py: Python<'_>, directory: std::path::PathBuf, site: &str) -> PyResult<Site> {
    let runtime = runtime()?;
    let display = DesignRef(format!("{}?site={site}", directory.display()));
    let reference = match directory.canonicalize() {
        Ok(absolute) => SiteRef::reference(&absolute, site).0,
        Err(_) => display.0.clone(),
    };
    let evaluation = py.detach(|| {
        let files = read_site(&directory, site, &display, &ReferencePolicy::default(), 512 << 20).map_err(|error| error.to_string())?;
        let fetched = SourceBytes { bytes: files.to_bundle(), name: display.0.clone() };
        runtime
            .block_on(designs().evaluate_with(&reference, fetched, EnvelopeMode::Deckhand, ValidationOptions::default()))
            .map_err(|error| error.to_string())
    });
    let evaluation = evaluation.map_err(DesignLoadError::new_err)?;
    Ok(Site::from_evaluation(&evaluation, Some(reference)))
}

/// The design-loading service of this process (drydock_core::designs): a
/// design loaded again with the same content is not parsed again.
fn designs() -> &'static DesignService {
    static DESIGNS: std::sync::OnceLock<DesignService> = std::sync::OnceLock::new();
    DESIGNS.get_or_init(DesignService::default)
}

/// `UnknownNodeError`: a `DrydockError` and, for code written against
/// `KeyError`, a `KeyError` too (made at import, as the exception macro
/// takes one base only).
static UNKNOWN_NODE: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> = pyo3::sync::PyOnceLock::new();

fn unknown_node_type(py: Python<'_>) -> PyResult<&Py<pyo3::types::PyType>> {
    UNKNOWN_NODE.get_or_try_init(py, || {
        let bases = pyo3::types::PyTuple::new(py, [py.get_type::<DrydockError>(), py.get_type::<PyKeyError>()])?;
        let namespace = PyDict::new(py);
        namespace.set_item("__doc__", "The design has no node of that name.")?;
        namespace.set_item("__module__", "drydock")?;
        let made = py.get_type::<pyo3::types::PyType>().call1(("UnknownNodeError", bases, namespace))?;
        Ok(made.cast_into::<pyo3::types::PyType>()?.unbind())
    })
}

fn unknown_node(py: Python<'_>, message: String) -> PyErr {
    match unknown_node_type(py) {
        Ok(kind) => PyErr::from_type(kind.bind(py).clone(), message),
        Err(error) => error,
    }
}

/// The extension module.
#[pymodule]
fn _drydock(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add_function(wrap_pyfunction!(load, module)?)?;
    module.add_function(wrap_pyfunction!(loads, module)?)?;
    module.add_function(wrap_pyfunction!(load_site_repo, module)?)?;
    module.add_class::<Site>()?;
    module.add_class::<Document>()?;
    module.add_class::<PyFinding>()?;
    module.add("DrydockError", py.get_type::<DrydockError>())?;
    module.add("DesignLoadError", py.get_type::<DesignLoadError>())?;
    module.add("DesignInvalidError", py.get_type::<DesignInvalidError>())?;
    module.add("NodeFilterError", py.get_type::<NodeFilterError>())?;
    module.add("BootActionError", py.get_type::<BootActionError>())?;
    module.add("UnknownNodeError", unknown_node_type(py)?.bind(py))?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
