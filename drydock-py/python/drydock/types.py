"""The shapes of what ``drydock`` takes and returns, as TypedDicts.

The client's answers are the JSON bodies of ``drydock serve`` (the same
shapes as the schemas of ``openapi/drydock-v1.0.json``); node filters are
what ``Site.select`` and the task API take; ``FindingDict`` and
``RenderedAsset`` come from the design path. They are plain dicts at run
time: these classes only tell a type checker (mypy, pyright) which keys
there are and what their values are.
"""

from typing import Any, Dict, List, Optional, Tuple, TypedDict, Union

__all__ = [
    "BootActionStatus",
    "BuildData",
    "Design",
    "DesignPart",
    "FindingDict",
    "Link",
    "Node",
    "NodeFilter",
    "NodeFilterSet",
    "RenderedAsset",
    "StatusMessage",
    "SubtaskError",
    "Task",
    "TaskDetail",
    "TaskResult",
    "TaskResultDetails",
    "ValidationDetails",
    "ValidationFinding",
    "ValidationMessage",
    "ValidationNote",
    "ValidationStatus",
]


class NodeFilterSet(TypedDict, total=False):
    """One entry of a node filter's ``filter_set``: each given criterion
    selects nodes, combined by ``filter_type`` (``union`` or
    ``intersection``)."""

    filter_type: str
    node_names: List[str]
    node_tags: List[str]
    node_labels: Dict[str, str]
    rack_names: List[str]
    rack_labels: Dict[str, str]


class NodeFilter(TypedDict):
    """A node filter: its sets combined by ``filter_set_type``."""

    filter_set_type: str
    filter_set: List[NodeFilterSet]


class FindingDict(TypedDict):
    """``Finding.to_dict()``."""

    code: Optional[str]
    level: str
    message: str
    diagnostic: str
    documents: List[Tuple[str, str]]
    file: Optional[str]
    line: Optional[int]


class RenderedAsset(TypedDict):
    """One boot-action asset rendered by ``Site.render_boot_actions``."""

    path: str
    permissions: int
    content: bytes


class Link(TypedDict):
    """A link of a task result."""

    rel: str
    href: str


class StatusMessage(TypedDict):
    """A message of a task result; ``extra`` is JSON text."""

    message: str
    error: bool
    context_type: str
    context: str
    ts: str
    extra: str


class TaskResultDetails(TypedDict):
    """``details`` of a task result."""

    errorCount: int
    messageList: List[StatusMessage]


class TaskResult(TypedDict):
    """A task's result, a Status document: ``status`` is ``success``,
    ``partial_success``, ``failure``, ``incomplete``."""

    kind: str
    apiVersion: str
    metadata: Dict[str, Any]
    message: Optional[str]
    reason: Optional[str]
    status: str
    successes: List[str]
    failures: List[str]
    links: List[Link]
    details: TaskResultDetails


class SubtaskError(TaskResult):
    """A descendant task with errors, in ``subtask_errors``."""

    task_id: str


class BuildData(TypedDict):
    """Data a task collected about a node (e.g. lshw output)."""

    node_name: str
    task_id: str
    collected_date: str
    generator: str
    data_format: str
    data_element: str


class Task(TypedDict):
    """A task: ``status`` is ``requested``, ``queued``, ``running``,
    ``terminating``, ``complete`` or ``terminated``; timestamps are Python
    ``str(datetime)`` text in UTC."""

    kind: str
    apiVersion: str
    task_id: str
    action: str
    parent_task_id: Optional[str]
    design_ref: Optional[str]
    status: str
    result: TaskResult
    node_filter: Optional[NodeFilter]
    subtask_id_list: List[str]
    created: str
    created_by: Optional[str]
    updated: Optional[str]
    terminated: Optional[str]
    terminated_by: Optional[str]
    terminate: bool
    retry: int


class TaskDetail(Task, total=False):
    """``GET /tasks/{id}``: the task, with ``build_data`` when asked for
    ``builddata`` and ``subtask_errors`` (by task id) for ``subtaskerrors``."""

    build_data: List[BuildData]
    subtask_errors: Dict[str, SubtaskError]


class Node(TypedDict):
    """A machine as the node provisioner lists it (``GET /nodes``)."""

    hostname: str
    memory: int
    cpu_count: int
    status_name: str
    boot_mac: Optional[str]
    power_state: Optional[str]
    power_address: Optional[str]
    boot_ip: Optional[str]


class _DocumentRef(TypedDict):
    schema: str
    name: str


class ValidationFinding(TypedDict):
    """A finding of validatedesign (``kind: ValidationMessage``): ``name``
    is its DD code, ``level`` is ``Error``, ``Warning`` or ``Info``."""

    kind: str
    name: str
    message: str
    error: bool
    level: str
    diagnostic: str
    ts: str
    documents: List[_DocumentRef]


class ValidationNote(TypedDict):
    """A plain message of validatedesign (an ingestion message)."""

    message: str
    error: bool
    context_type: str
    context: str
    ts: str
    extra: Dict[str, Any]


ValidationMessage = Union[ValidationFinding, ValidationNote]
"""One message of a validation report: ``message`` and ``error`` always."""


class ValidationDetails(TypedDict):
    """``details`` of a validation report."""

    errorCount: int
    messageList: List[ValidationMessage]


class ValidationStatus(TypedDict):
    """The validatedesign report, a Status document: ``status`` is
    ``Success`` or ``Failure``, ``code`` 200 or 400."""

    kind: str
    apiVersion: str
    metadata: Dict[str, Any]
    message: Optional[str]
    reason: Optional[str]
    status: str
    details: ValidationDetails
    code: int


class DesignPart(TypedDict):
    """A YAML stream added to a stored design."""

    design_id: str
    sequence: int
    source: str
    added: str
    bytes: int


class _DesignRequired(TypedDict):
    id: str
    created: str
    part_count: int


class Design(_DesignRequired, total=False):
    """A stored design: with ``source="designed"`` its ``parts``, with
    ``source="compiled"`` its ``validation`` report and ``nodes`` (names)."""

    parts: List[DesignPart]
    validation: ValidationStatus
    nodes: List[str]


class BootActionStatus(TypedDict):
    """A boot action of a node and its status (``incomplete`` until the
    node reports ``success`` or ``failure``)."""

    node_name: str
    action_id: str
    action_name: str
    task_id: str
    action_status: str
