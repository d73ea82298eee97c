//! The designs API of the original's getting-started guide (compat: api
//! spec §1.3.15), which is non-functional upstream and works here on the
//! state store's design records: list designs (a page at a time), create a
//! design, add parts (a YAML body or a design reference), show the design
//! (as stored or compiled), list its parts and show the documents of a kind.

use std::sync::Arc;

use drydock_core::ids::{DesignRef, TaskId};
use drydock_core::ingest::source::SourceBytes;
use drydock_core::store::StoreErrorKind;
use drydock_core::task::records::{DesignPart, DesignRecord};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

use super::AppState;
use super::api::ApiTags;
use super::auth::RequestContext;
use super::body::RawBody;
use super::cache::StoredDocument;
use super::error::{Answer, ListErrors, ReadErrors, WriteErrors};
use super::error::{ApiError, ApiResult};
use super::params::{self, DesignSource, Ingester, Lenient, PageSize};
use super::schema::{self, Documented};
use super::security::Caller;
use crate::wire::task::{Zone, py_datetime};
use crate::wire::validation::{ReportBody, report_typed};
use drydock_core::designs::EvaluateError;

/// A design was created.
#[derive(ApiResponse)]
pub enum DesignCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<DesignBody>, #[oai(header = "Location")] String),
}

/// A part was added.
#[derive(ApiResponse)]
pub enum PartCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<PartBody>, #[oai(header = "Location")] String),
}

/// A design.
#[derive(ApiResponse)]
pub enum DesignReply {
    /// The design.
    #[oai(status = 200)]
    Ok(Json<DesignBody>),
}

/// A design's parts.
#[derive(ApiResponse)]
pub enum PartsReply {
    /// The parts, in the order added.
    #[oai(status = 200)]
    Ok(Json<Vec<PartBody>>),
}

/// `GET /designs/{id}/parts/{kind}`.
#[derive(ApiResponse)]
pub enum DocumentsReply {
    /// The design's documents of that kind.
    #[oai(status = 200)]
    Ok(Json<Vec<Documented<schema::DesignDocument>>>),
}

/// `GET /designs/{id}/parts/{kind}/{name}`.
#[derive(ApiResponse)]
pub enum DocumentReply {
    /// The document.
    #[oai(status = 200)]
    Ok(Json<Documented<schema::DesignDocument>>),
}

/// `GET /designs`: one page of design ids.
#[derive(ApiResponse)]
pub enum DesignList {
    /// Design ids in id order. `X-Drydock-Next-Marker` is set when more
    /// designs follow; pass it back as `marker`.
    #[oai(status = 200)]
    Ok(Json<Vec<String>>, #[oai(header = "X-Drydock-Next-Marker")] Option<String>),
}

/// Body of `POST /designs/{id}/parts` when adding from a reference
/// (documentation only; a YAML body with `?ingester=yaml` is accepted too).
#[derive(Object)]
#[oai(example)]
pub struct PartFromReference {
    /// A design reference (file, http(s), deckhand+http(s)).
    pub href: String,
}

impl Example for PartFromReference {
    fn example() -> Self {
        PartFromReference { href: "file:///srv/site/site.yaml".into() }
    }
}

/// Body of `POST /designs` (documentation only; may be empty).
#[derive(Object)]
#[oai(example)]
pub struct DesignCreateRequest {
    /// Parts of this design are copied into the new one.
    #[oai(skip_serializing_if_is_none)]
    pub base_design_id: Option<String>,
}

impl Example for DesignCreateRequest {
    fn example() -> Self {
        DesignCreateRequest { base_design_id: None }
    }
}

/// A YAML stream added to a design, from a request body or a design
/// reference.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "DesignPart", example)]
pub struct PartBody {
    /// The design.
    pub design_id: String,
    /// Its position among the design's parts, from 1.
    pub sequence: i64,
    /// Where it came from (`request body`, or the reference, redacted).
    pub source: String,
    /// When it was added (Python `str(datetime)`, `+00:00`).
    pub added: String,
    /// Its size in bytes.
    pub bytes: i64,
}

impl Example for PartBody {
    fn example() -> Self {
        PartBody {
            design_id: "6d7f9a3c-52e1-4e0b-9b1a-2f4c8d3e7a10".into(),
            sequence: 1,
            source: "request body".into(),
            added: "2025-11-24 16:00:00+00:00".into(),
            bytes: 2048,
        }
    }
}

/// A stored design: with `source=designed` its parts, with
/// `source=compiled` its validation report and node names.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "Design", example)]
pub struct DesignBody {
    /// The design's id (a UUID).
    pub id: String,
    /// When it was created (Python `str(datetime)`, `+00:00`).
    pub created: String,
    /// How many parts it has.
    pub part_count: i64,
    /// With `source=designed` (the default, not on creation): the parts.
    #[oai(skip_serializing_if_is_none)]
    pub parts: Option<Vec<PartBody>>,
    /// With `source=compiled`: the validation report.
    #[oai(skip_serializing_if_is_none)]
    pub validation: Option<ReportBody>,
    /// With `source=compiled`: the design's node names.
    #[oai(skip_serializing_if_is_none)]
    pub nodes: Option<Vec<String>>,
}

impl Example for DesignBody {
    fn example() -> Self {
        DesignBody {
            id: "6d7f9a3c-52e1-4e0b-9b1a-2f4c8d3e7a10".into(),
            created: "2025-11-24 16:00:00+00:00".into(),
            part_count: 1,
            parts: Some(vec![PartBody::example()]),
            validation: None,
            nodes: None,
        }
    }
}

fn design_json(record: &DesignRecord) -> DesignBody {
    DesignBody {
        id: record.id.to_string(),
        created: py_datetime(&record.created, Zone::Aware),
        part_count: record.part_count as i64,
        parts: None,
        validation: None,
        nodes: None,
    }
}

fn part_json(part: &DesignPart) -> PartBody {
    PartBody {
        design_id: part.design_id.to_string(),
        sequence: i64::from(part.sequence),
        source: part.source.clone(),
        added: py_datetime(&part.added, Zone::Aware),
        bytes: part.content.len() as i64,
    }
}

/// Every YAML document of the design's parts, with its kind and name.
fn documents(parts: &[DesignPart]) -> Result<Vec<StoredDocument>, String> {
    let mut out = Vec::new();
    for part in parts {
        let text = std::str::from_utf8(&part.content).map_err(|_| format!("part {} is not UTF-8", part.sequence))?;
        let docs = super::convert::yaml_documents(text).map_err(|error| format!("part {}: {error}", part.sequence))?;
        for document in docs {
            let kind = match document.get("schema").and_then(Value::as_str) {
                Some(schema) => schema.split('/').nth(1).unwrap_or(schema).to_owned(),
                None => document.get("kind").and_then(Value::as_str).unwrap_or("").to_owned(),
            };
            let name = document.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_owned();
            if !kind.is_empty() {
                out.push(StoredDocument { kind, name, document });
            }
        }
    }
    Ok(out)
}

/// The designs API.
pub struct DesignsApi {
    pub(super) state: Arc<AppState>,
}

impl DesignsApi {
    fn authorize(&self, context: &RequestContext, rule: &str) -> ApiResult<()> {
        super::authorize(&self.state, context, rule)
    }

    fn design_id(text: &str) -> ApiResult<TaskId> {
        text.parse().map_err(|_| ApiError::NotFound(format!("Design {text} not found")))
    }

    async fn record(&self, id: TaskId) -> ApiResult<DesignRecord> {
        match self.state.store.design_get(id).await {
            Ok(record) => Ok(record),
            Err(error) if error.kind() == StoreErrorKind::NotFound => Err(ApiError::NotFound(format!("Design {id} not found"))),
            Err(error) => Err(error.into()),
        }
    }

    /// The design's documents, parsed once per design and part count.
    async fn documents(&self, id: TaskId) -> ApiResult<Arc<Vec<StoredDocument>>> {
        let record = self.record(id).await?;
        if let Some(hit) = self.state.documents.cached(id, record.part_count) {
            return Ok(hit);
        }
        let parts = self.state.store.design_parts(id).await?;
        // Another replica may have added parts since the record was read.
        let part_count = parts.len();
        self.state.documents.parse(id, part_count, move || documents(&parts)).await.map_err(|error| match error {
            EvaluateError::Ingest(_) | EvaluateError::Parse(_) => ApiError::BadRequest(error.to_string()),
            EvaluateError::Worker(text) => ApiError::Internal(text),
            _ => ApiError::Internal(error.to_string()),
        })
    }
}

#[OpenApi]
impl DesignsApi {
    /// The ids of the stored designs, as upstream's listing answers, one page
    /// at a time in id order (`physical_provisioner:read_data`): `limit` (the
    /// server's default page size without one) and `marker` (the previous
    /// page's `X-Drydock-Next-Marker`).
    #[oai(path = "/api/v1.0/designs", method = "get", tag = "ApiTags::Designs", operation_id = "get_design_ids")]
    async fn design_list(
        &self,
        context: Caller<'_>,
        /// Page size.
        limit: Query<Option<Lenient<PageSize>>>,
        /// `X-Drydock-Next-Marker` of the previous page.
        marker: Query<Option<String>>,
    ) -> Answer<DesignList, ListErrors> {
        self.authorize(&context, "physical_provisioner:read_data")?;
        let limit = self.state.config.paging.limit(params::text(&limit.0))?;
        let after = match marker.0.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<TaskId>().map_err(|_| ApiError::BadRequest("Invalid marker".into()))?),
        };
        let mut page = self.state.store.design_list(after, limit.saturating_add(1)).await?;
        let next = (page.len() > limit).then(|| page[limit - 1].id.to_string());
        page.truncate(limit);
        Ok(DesignList::Ok(Json(page.iter().map(|design| design.id.to_string()).collect()), next))
    }

    /// Create a design, empty or as a copy of `base_design_id`
    /// (`physical_provisioner:ingest_data`).
    #[oai(path = "/api/v1.0/designs", method = "post", tag = "ApiTags::Designs", operation_id = "create_design")]
    async fn design_create(&self, context: Caller<'_>, body: RawBody<DesignCreateRequest>) -> Answer<DesignCreated, WriteErrors> {
        self.authorize(&context, "physical_provisioner:ingest_data")?;
        let body = body.read().await?;
        let base = if body.is_empty() {
            None
        } else {
            let value = body.json().map_err(|error| ApiError::BadRequest(format!("Invalid JSON in request body: {error}")))?;
            match value.get("base_design_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(text)) => Some(Self::design_id(text)?),
                Some(_) => return Err(ApiError::BadRequest("base_design_id must be a string".into()).into()),
            }
        };
        let base_parts = match base {
            Some(id) => {
                self.record(id).await?;
                self.state.store.design_parts(id).await?
            }
            None => Vec::new(),
        };
        let record = self.state.store.design_create().await?;
        for part in &base_parts {
            self.state.store.design_part_add(record.id, &part.source, &part.content).await?;
        }
        let record = self.state.store.design_get(record.id).await?;
        Ok(DesignCreated::Created(Json(design_json(&record)), format!("/api/v1.0/designs/{}", record.id)))
    }

    /// A design: its parts as stored (`source=designed`, default) or its
    /// compiled form's validation report and nodes (`source=compiled`)
    /// (`physical_provisioner:read_data`).
    #[oai(path = "/api/v1.0/designs/:design_id", method = "get", tag = "ApiTags::Designs", operation_id = "get_design")]
    async fn design_get(
        &self,
        context: Caller<'_>,
        design_id: Path<String>,
        /// `designed` (default) or `compiled`.
        source: Query<Option<Lenient<DesignSource>>>,
    ) -> Answer<DesignReply, ReadErrors> {
        self.authorize(&context, "physical_provisioner:read_data")?;
        let id = Self::design_id(&design_id.0)?;
        let record = self.record(id).await?;
        let parts = self.state.store.design_parts(id).await?;
        let mut body = design_json(&record);
        match params::text(&source.0).unwrap_or("designed") {
            "designed" => {
                body.parts = Some(parts.iter().map(part_json).collect());
            }
            "compiled" => {
                let content = super::sources::stream_of(&parts);
                let reference = format!("{}{id}", super::sources::STORED_SCHEME);
                let fetched = SourceBytes { bytes: content, name: reference.clone() };
                let evaluation =
                    self.state.designs.evaluate(&reference, fetched).await.map_err(|error| ApiError::BadRequest(error.to_string()))?;
                body.validation = Some(report_typed(&evaluation.report));
                body.nodes = Some(
                    evaluation
                        .site
                        .as_ref()
                        .map(|site| site.nodes().iter().map(|node| node.name().to_owned()).collect())
                        .unwrap_or_default(),
                );
            }
            other => return Err(ApiError::BadRequest(format!("Invalid source {other}: use designed or compiled")).into()),
        }
        Ok(DesignReply::Ok(Json(body)))
    }

    /// A design's parts in the order added (`physical_provisioner:ingest_data`,
    /// as upstream).
    #[oai(path = "/api/v1.0/designs/:design_id/parts", method = "get", tag = "ApiTags::Designs", operation_id = "get_parts")]
    async fn part_list(&self, context: Caller<'_>, design_id: Path<String>) -> Answer<PartsReply, ReadErrors> {
        self.authorize(&context, "physical_provisioner:ingest_data")?;
        let id = Self::design_id(&design_id.0)?;
        self.record(id).await?;
        let parts = self.state.store.design_parts(id).await?;
        Ok(PartsReply::Ok(Json(parts.iter().map(part_json).collect())))
    }

    /// Add a part: a YAML body with `?ingester=yaml`, or a JSON body
    /// `{"href": "<design ref>"}` whose content is fetched
    /// (`physical_provisioner:ingest_data`).
    #[oai(path = "/api/v1.0/designs/:design_id/parts", method = "post", tag = "ApiTags::Designs", operation_id = "load_parts")]
    async fn part_add(
        &self,
        context: Caller<'_>,
        design_id: Path<String>,
        /// `yaml` for a YAML body.
        ingester: Query<Option<Lenient<Ingester>>>,
        body: RawBody<PartFromReference>,
    ) -> Answer<PartCreated, WriteErrors> {
        self.authorize(&context, "physical_provisioner:ingest_data")?;
        let id = Self::design_id(&design_id.0)?;
        self.record(id).await?;
        let body = body.read().await?;
        if body.is_empty() {
            return Err(ApiError::BadRequest("Empty body not supported".into()).into());
        }
        let (source, content) = if body.is_json() {
            let value = body.json().map_err(|error| ApiError::BadRequest(format!("Invalid JSON in request body: {error}")))?;
            let Some(href) = value.get("href").and_then(Value::as_str).filter(|href| !href.is_empty()) else {
                return Err(ApiError::BadRequest(r#"The "href" key must be provided in the request body."#.into()).into());
            };
            let design_ref = DesignRef(href.to_owned());
            let fetched = self.state.source.fetch(&design_ref).await.map_err(|error| ApiError::BadRequest(error.to_string()))?;
            if drydock_core::ingest::repo::SiteFiles::from_bundle(&fetched.bytes).is_some() {
                return Err(ApiError::BadRequest(
                    "A site repository reference is not stored as a part: give it as the design_ref of a task or to validatedesign".into(),
                )
                .into());
            }
            (design_ref.redacted(), fetched.bytes)
        } else {
            match params::text(&ingester.0) {
                None => return Err(ApiError::BadRequest("POST requires parameter 'ingester'".into()).into()),
                Some("yaml") => ("request body".to_owned(), body.bytes),
                Some(other) => return Err(ApiError::BadRequest(format!("Unknown ingester {other}")).into()),
            }
        };
        // Parsed once before storing, within the design path's budgets and
        // off the async runtime: a part that is not YAML, or that would
        // expand past the budgets, is refused and nothing is stored.
        let content = Arc::new(content);
        let parsed = content.clone();
        self.state
            .workers
            .run(move || {
                let text = std::str::from_utf8(&parsed).map_err(|_| "The part is not UTF-8".to_owned())?;
                let limits = drydock_core::ingest::YamlLimits::default();
                drydock_core::ingest::yaml::parse_stream(text, &limits).map(drop).map_err(|error| format!("Invalid YAML: {error}"))
            })
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?
            .map_err(ApiError::BadRequest)?;
        let part = self.state.store.design_part_add(id, &source, &content).await?;
        Ok(PartCreated::Created(Json(part_json(&part)), format!("/api/v1.0/designs/{id}/parts")))
    }

    /// The documents of one kind in a design (`physical_provisioner:read_data`).
    #[oai(path = "/api/v1.0/designs/:design_id/parts/:kind", method = "get", tag = "ApiTags::Designs", operation_id = "get_parts_by_kind")]
    async fn part_kind(&self, context: Caller<'_>, design_id: Path<String>, kind: Path<String>) -> Answer<DocumentsReply, ReadErrors> {
        self.authorize(&context, "physical_provisioner:read_data")?;
        let id = Self::design_id(&design_id.0)?;
        let docs = self.documents(id).await?;
        let selected: Vec<Documented<schema::DesignDocument>> =
            docs.iter().filter(|doc| doc.kind.eq_ignore_ascii_case(&kind.0)).map(|doc| Documented::new(doc.document.clone())).collect();
        if selected.is_empty() {
            return Err(ApiError::NotFound(format!("Kind {} unknown", kind.0)).into());
        }
        Ok(DocumentsReply::Ok(Json(selected)))
    }

    /// One document of a design (`physical_provisioner:read_data`).
    #[oai(path = "/api/v1.0/designs/:design_id/parts/:kind/:name", method = "get", tag = "ApiTags::Designs", operation_id = "get_part")]
    async fn part_get(
        &self,
        context: Caller<'_>,
        design_id: Path<String>,
        kind: Path<String>,
        name: Path<String>,
    ) -> Answer<DocumentReply, ReadErrors> {
        self.authorize(&context, "physical_provisioner:read_data")?;
        let id = Self::design_id(&design_id.0)?;
        let docs = self.documents(id).await?;
        docs.iter()
            .find(|doc| doc.kind.eq_ignore_ascii_case(&kind.0) && doc.name == name.0)
            .map(|doc| DocumentReply::Ok(Json(Documented::new(doc.document.clone()))))
            .ok_or_else(|| ApiError::NotFound(format!("{} {} not found in design {id}", kind.0, name.0)).into())
    }
}
