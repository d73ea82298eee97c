"""A client of a running Drydock server's ``/api/v1.0`` API.

``Client`` makes the same calls as the original's ``DrydockClient`` and
raises the same kinds of errors: ``ClientUnauthorizedError`` (401),
``ClientForbiddenError`` (403) and ``ClientError`` (any other non-2xx,
carrying the status code and the body). A 401 makes it ask ``auth_gen``
for fresh headers and retry once.
"""

import logging
import urllib.parse
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union, cast, overload

import requests

from .types import BootActionStatus, BuildData, Design, DesignPart, Node, NodeFilter, Task, TaskDetail, ValidationStatus

LOG = logging.getLogger(__name__)

AuthGen = Callable[[], Iterable[Tuple[str, str]]]
"""Makes the authentication headers: ``lambda: [("X-Auth-Token", token)]``."""

Timeout = Union[None, int, Tuple[int, int]]
"""The read timeout, or (connect, read) timeouts, in seconds."""


class ClientError(Exception):
    """A non-2xx answer: ``status_code`` and ``response_message`` (the body)."""

    def __init__(self, msg: str, code: int = 500):
        super().__init__(msg)
        self.message = msg
        self.status_code = code
        self.response_message = msg


class ClientUnauthorizedError(ClientError):
    """401: no or bad credentials."""

    def __init__(self, msg: str):
        super().__init__(msg, code=401)


class ClientForbiddenError(ClientError):
    """403: the credentials may not do this."""

    def __init__(self, msg: str):
        super().__init__(msg, code=403)


class Session:
    """HTTP session to ``<scheme>://<host>[:<port>]/api/`` with the
    original's headers, timeouts and single re-authentication on 401."""

    def __init__(
        self,
        host: str,
        port: Optional[int] = None,
        scheme: str = "http",
        auth_gen: Optional[AuthGen] = None,
        marker: Optional[str] = None,
        end_user: Optional[str] = None,
        timeout: Timeout = None,
    ):
        self.__session = requests.Session()
        self.auth_gen = auth_gen
        self.marker = marker
        self.end_user = end_user
        self.host = host
        self.port = port
        self.scheme = scheme
        if marker is not None:
            self.__session.headers.update({"X-Context-Marker": marker})
        if end_user is not None:
            self.__session.headers.update({"X-End-User": end_user})
        self._apply_auth()
        self.base_url = f"{scheme}://{host}:{port}/api/" if port else f"{scheme}://{host}/api/"
        self.default_timeout = self._timeout(timeout)
        self.logger = LOG

    def _apply_auth(self) -> None:
        if self.auth_gen is not None:
            self.__session.headers.update(dict(self.auth_gen()))

    @staticmethod
    def _timeout(timeout: Any) -> Tuple[int, int]:
        default = (20, 30)
        if timeout is None:
            return default
        if isinstance(timeout, bool):
            LOG.warning("Timeout %r is not an int or a pair of ints; using %s", timeout, default)
            return default
        if isinstance(timeout, int):
            return (default[0], timeout)
        if isinstance(timeout, tuple) and len(timeout) == 2 and all(isinstance(t, int) for t in timeout):
            return timeout
        LOG.warning("Timeout %r is not an int or a pair of ints; using %s", timeout, default)
        return default

    def _send(self, method: str, endpoint: str, timeout: Any = None, **kwargs: Any) -> requests.Response:
        # Per-request headers (a boot-action key) go with the session's.
        url = self.base_url + endpoint
        timeout = self._timeout(timeout) if timeout is not None else self.default_timeout
        response = self.__session.request(method, url, timeout=timeout, **kwargs)
        if response.status_code == 401 and self.auth_gen is not None:
            self._apply_auth()
            response = self.__session.request(method, url, timeout=timeout, **kwargs)
        return response

    def get(
        self, endpoint: str, query: Optional[Dict[str, Any]] = None, timeout: Timeout = None, headers: Optional[Dict[str, str]] = None
    ) -> requests.Response:
        """GET ``endpoint`` (relative to ``/api/``)."""
        return self._send("GET", endpoint, timeout=timeout, params=query, headers=headers)

    def post(
        self,
        endpoint: str,
        query: Optional[Dict[str, Any]] = None,
        body: Any = None,
        data: Any = None,
        timeout: Timeout = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> requests.Response:
        """POST JSON ``data`` (or raw ``body``) to ``endpoint``."""
        if body is not None:
            return self._send("POST", endpoint, timeout=timeout, params=query, data=body, headers=headers)
        return self._send("POST", endpoint, timeout=timeout, params=query, json=data, headers=headers)

    def delete(self, endpoint: str, query: Optional[Dict[str, Any]] = None, timeout: Timeout = None) -> requests.Response:
        """DELETE ``endpoint``."""
        return self._send("DELETE", endpoint, timeout=timeout, params=query)


class Client:
    """The calls of the original's ``DrydockClient``, plus the designs API (``create_design``, ``load_parts``, ``get_design``)."""

    def __init__(self, session: Session):
        self.session = session
        self.logger = LOG

    @classmethod
    def from_url(cls, url: str, token: Optional[str] = None, **session_options: Any) -> "Client":
        """A client of the server at ``url`` (``scheme://host[:port]``, as
        the CLI's ``--url``/``DD_URL``), sending ``token`` (if any) as
        ``X-Auth-Token``; other keywords go to ``Session``."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s)://host[:port] URL: {url!r}")
        auth_gen: Optional[AuthGen] = None
        if token:
            auth_gen = lambda: [("X-Auth-Token", token)]  # noqa: E731
        return cls(Session(parts.hostname, port=parts.port, scheme=parts.scheme, auth_gen=auth_gen, **session_options))

    def _check(self, response: requests.Response) -> Any:
        if response.status_code == 401:
            raise ClientUnauthorizedError(f"Unauthorized access to {response.url}, include valid token.")
        if response.status_code == 403:
            raise ClientForbiddenError(f"Forbidden access to {response.url}")
        if not response.ok:
            raise ClientError(f"Error - received {response.status_code}: {response.text}", code=response.status_code)
        if not response.content:
            return None
        return response.json()

    def get_task_build_data(self, task_id: str) -> List[BuildData]:
        """Build data collected by a task."""
        return cast(List[BuildData], self._check(self.session.get(f"v1.0/tasks/{task_id}/builddata")))

    def get_node_build_data(self, nodename: str, latest: bool = True) -> List[BuildData]:
        """Build data of a node (only the newest per generator by default)."""
        return cast(List[BuildData], self._check(self.session.get(f"v1.0/nodes/{nodename}/builddata?latest={latest}")))

    def get_nodes(self) -> List[Node]:
        """The node provisioner's nodes."""
        return cast(List[Node], self._check(self.session.get("v1.0/nodes")))

    def get_nodes_for_filter(self, design_ref: str, node_filter: Optional[NodeFilter] = None) -> List[str]:
        """Names of the design's nodes a filter selects."""
        body = {"node_filter": node_filter, "design_ref": design_ref}
        return cast(List[str], self._check(self.session.post("v1.0/nodefilter", data=body)))

    def create_design(self) -> str:
        """Create an empty design (the designs API); returns its id."""
        return cast(str, self._check(self.session.post("v1.0/designs", data={}))["id"])

    def get_design_ids(self) -> List[str]:
        """The ids of the stored designs (every page of ``GET /designs``)."""
        ids: List[str] = []
        query: Optional[Dict[str, Any]] = None
        while True:
            response = self.session.get("v1.0/designs", query=query)
            ids.extend(self._check(response) or [])
            marker = response.headers.get("X-Drydock-Next-Marker")
            if not marker or (query and query.get("marker") == marker):
                return ids
            query = {"marker": marker}

    def load_parts(self, design_id: str, yaml_string: str) -> DesignPart:
        """Add a YAML document stream to a design; returns the part."""
        response = self.session.post(
            f"v1.0/designs/{design_id}/parts",
            query={"ingester": "yaml"},
            body=yaml_string.encode("utf-8"),
            headers={"Content-Type": "application/x-yaml"},
        )
        return cast(DesignPart, self._check(response))

    def get_design(self, design_id: str, source: str = "designed") -> Design:
        """A design: its parts (``designed``) or its validation and nodes
        (``compiled``)."""
        return cast(Design, self._check(self.session.get(f"v1.0/designs/{design_id}", query={"source": source})))

    def get_tasks(self) -> List[Task]:
        """Every task (first page)."""
        return cast(List[Task], self._check(self.session.get("v1.0/tasks")))

    @overload
    def get_task(self, task_id: str, builddata: Optional[bool] = None, subtaskerrors: Optional[bool] = None, layers: None = None) -> TaskDetail: ...

    @overload
    def get_task(self, task_id: str, builddata: Optional[bool] = None, subtaskerrors: Optional[bool] = None, *, layers: int) -> Dict[str, Any]: ...

    def get_task(self, task_id: str, builddata: Optional[bool] = None, subtaskerrors: Optional[bool] = None, layers: Optional[int] = None) -> Any:
        """One task; optionally with build data and subtask errors. With
        ``layers`` (N > 0, or -1 for all) the task tree instead: the task and
        its descendants by task id (a ``Task`` each), plus ``init_task_id``."""
        endpoint = f"v1.0/tasks/{task_id}"
        query = []
        if builddata:
            query.append("builddata=true")
        if subtaskerrors:
            query.append("subtaskerrors=true")
        if layers:
            query.append(f"layers={layers}")
        if query:
            endpoint += "?" + "&".join(query)
        return self._check(self.session.get(endpoint))

    def delete_tasks(self, days: Optional[int] = None) -> str:
        """Purge tasks older than ``days`` days."""
        self._check(self.session.delete(f"v1.0/tasks?days={days}"))
        return "Task table purged successfully."

    def create_task(self, design_ref: str, task_action: str, node_filter: Optional[NodeFilter] = None) -> Task:
        """Create a task; returns it."""
        body = {"action": task_action, "design_ref": design_ref, "node_filter": node_filter}
        return cast(Task, self._check(self.session.post("v1.0/tasks", data=body)))

    def validate_design(self, href: str) -> ValidationStatus:
        """Validate the design at ``href``; returns the validation report. A
        design with errors is a ``ClientError`` with ``status_code`` 400
        whose message ends with the report's JSON."""
        return cast(ValidationStatus, self._check(self.session.post("v1.0/validatedesign", data={"href": href})))

    # Beyond the original client: what a deployed node does with its
    # boot-action key (the original ships a Go client for this).

    def get_boot_action_assets(self, hostname: str, key: str, kind: str = "files") -> bytes:
        """The node's boot-action ``files`` or ``units`` as a gzip tarball."""
        if kind not in ("files", "units"):
            raise ValueError("kind must be 'files' or 'units'")
        response = self.session.get(f"v1.0/bootactions/nodes/{hostname}/{kind}", headers={"X-Bootaction-Key": key})
        if not response.ok:
            self._check(response)
        return response.content

    def report_boot_action(
        self, action_id: str, key: str, status: Optional[str] = None, details: Optional[List[Dict[str, Any]]] = None
    ) -> BootActionStatus:
        """Report progress (``details``: ``[{"message": ..., "error": bool}]``)
        and/or the final ``status`` (``success`` or ``failure``) of a boot
        action; returns its status row. A second final status is a 409."""
        body: Dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if details is not None:
            body["details"] = details
        return cast(BootActionStatus, self._check(self.session.post(f"v1.0/bootactions/{action_id}", data=body, headers={"X-Bootaction-Key": key})))
