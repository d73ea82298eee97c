"""Typed use of the package, for ``mypy --strict`` (scripts/checks/python.sh):
the stubs and ``drydock.types`` must let annotated code read findings,
nodes, rendered assets and every client answer without casts or ``Any``
leaking into declared types. Not a test module; mypy only reads it."""

from typing import Dict, List, Optional

import drydock
from drydock.types import BootActionStatus, BuildData, Design, Node, NodeFilter, Task, TaskDetail, ValidationStatus
from drydock_provisioner.drydock_client.client import DrydockClient
from drydock_provisioner.drydock_client.exceptions import ClientError
from drydock_provisioner.drydock_client.session import DrydockSession


def error_lines(site: drydock.Site) -> List[str]:
    lines: List[str] = []
    for finding in site.errors():
        where = f"{finding.file or '-'}:{finding.line if finding.line is not None else 0}"
        data = finding.to_dict()
        lines.append(f"{where} {data['level']} {data['code'] or ''} {finding.message} {len(data['documents'])}")
    return lines


def unit_paths(site: drydock.Site, node: str) -> Dict[str, int]:
    return {asset["path"]: asset["permissions"] + len(asset["content"]) for asset in site.render_boot_actions(node, "unit")}


def compute_nodes(site: drydock.Site) -> List[str]:
    only: NodeFilter = {"filter_set_type": "union", "filter_set": [{"filter_type": "union", "node_tags": ["compute"]}]}
    return site.select(only)


def first_node(site: drydock.Site, name: str) -> Optional[str]:
    try:
        return site.node(name).name
    except drydock.UnknownNodeError:
        return None


def follow(api: drydock.Client, design: str) -> TaskDetail:
    task: Task = api.create_task(design, "validate_design")
    detail: TaskDetail = api.get_task(task["task_id"], subtaskerrors=True)
    errors = detail.get("subtask_errors", {})
    for task_id, result in errors.items():
        print(task_id, result["status"], [message["message"] for message in result["details"]["messageList"]])
    tree = api.get_task(task["task_id"], layers=-1)
    print(sorted(tree))
    return detail


def report(api: drydock.Client, design: str) -> int:
    status: ValidationStatus = api.validate_design(design)
    for message in status["details"]["messageList"]:
        if message["error"]:
            print(message["message"], message.get("name"))
    return status["details"]["errorCount"]


def inventory(api: drydock.Client) -> Dict[str, Optional[str]]:
    nodes: List[Node] = api.get_nodes()
    return {node["hostname"]: node["power_address"] for node in nodes}


def build_data(api: drydock.Client, node: str) -> List[str]:
    records: List[BuildData] = api.get_node_build_data(node, latest=True)
    return [record["generator"] + record["data_element"] for record in records]


def compiled_nodes(api: drydock.Client, text: str) -> List[str]:
    design_id: str = api.create_design()
    api.load_parts(design_id, text)
    design: Design = api.get_design(design_id, source="compiled")
    return design.get("nodes", [])


def finish(api: drydock.Client, action_id: str, key: str) -> str:
    row: BootActionStatus = api.report_boot_action(action_id, key, status="success", details=[{"message": "done", "error": False}])
    return row["action_status"]


def shipyard(host: str, port: int, token: str) -> int:
    client = DrydockClient(DrydockSession(host, port=port, auth_gen=lambda: [("X-Auth-Token", token)]))
    try:
        return len(client.get_tasks())
    except ClientError as error:
        return error.status_code
