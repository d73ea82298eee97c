"""The generated-client scenario, Python edition: drives a live `drydock serve`
through the client openapi-python-client generated from
openapi/drydock-v1.0.json (package `drydock_client`), asserting on typed
models only. Run by scripts/checks/openapi_client.sh.

Usage: python scenario.py URL TOKEN VALID_DESIGN_REF FAILING_DESIGN_REF SITE_YAML
"""

import os
import sys
import time

from drydock_client import AuthenticatedClient, Client
from drydock_client.api.designs import (
    create_design,
    get_design,
    get_part,
    get_parts_by_kind,
    load_parts,
    validate_design,
)
from drydock_client.api.nodes import get_nodes
from drydock_client.api.tasks import create_task, get_task, get_tasks
from drydock_client.models import (
    CreatableAction,
    Design,
    DesignCreateRequest,
    DesignDocument,
    DesignPart,
    ErrorEnvelope,
    FindingLevel,
    GetDesignSource,
    Node,
    PartFromReference,
    ResultStatus,
    Task,
    TaskAction,
    TaskCreateRequest,
    TaskDetail,
    TaskStatus,
    TaskTree,
    ValidateDesignRequest,
    ValidationMessage,
    ValidationStatus,
)

HOSTNAMES = sorted(["cp-r01-n01", "cp-r01-n02", "cp-r02-n01", "cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03"])


def check(condition, what, value):
    """Fails the scenario with what was expected and what came back."""
    if not condition:
        raise AssertionError(f"{what}; got {value!r}")


def main(url, token, valid_ref, failing_ref, site_yaml):
    # The token goes in the documented apiKey header, raw (no "Bearer").
    client = AuthenticatedClient(
        base_url=url, token=token, prefix="", auth_header_name="X-Auth-Token", raise_on_unexpected_status=True
    )

    # 1. Create a validate_design task and follow it until it completes.
    created = create_task.sync(
        client=client, body=TaskCreateRequest(action=CreatableAction.VALIDATE_DESIGN, design_ref=valid_ref)
    )
    check(isinstance(created, Task), "create_task answers a Task", created)
    check(created.action == TaskAction.VALIDATE_DESIGN, "the created task's action", created.action)
    task_id = created.task_id
    deadline = time.monotonic() + 60
    while True:
        task = get_task.sync(client=client, task_id=task_id)
        check(isinstance(task, TaskDetail), "get_task answers the task", task)
        if task.status in (TaskStatus.COMPLETE, TaskStatus.TERMINATED) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(task.status == TaskStatus.COMPLETE, "the task completes", task.status)
    check(task.result.status == ResultStatus.SUCCESS, "the task's result", task.result.status)

    # 2. The layered tree: every descendant by id, the root among them.
    tree = get_task.sync(client=client, task_id=task_id, layers=-1, subtaskerrors=True)
    check(isinstance(tree, TaskTree), "get_task with layers answers the tree", tree)
    check(tree.init_task_id == task_id, "the tree's init_task_id", tree.init_task_id)
    root = tree.additional_properties.get(task_id)
    check(isinstance(root, TaskDetail) and root.action == TaskAction.VALIDATE_DESIGN, "the root task in the tree", root)

    # 3. A failing design: the 400 is the Status document with its findings.
    answer = validate_design.sync_detailed(client=client, body=ValidateDesignRequest(href=failing_ref))
    check(answer.status_code == 400, "validate_design of a failing design answers 400", answer.status_code)
    status = answer.parsed
    check(isinstance(status, ValidationStatus), "the 400 is a typed Status document", status)
    check(status.status == "Failure" and status.code == 400, "the Status document's status/code", status)
    check(status.details.error_count >= 1, "the error count", status.details.error_count)
    findings = [m for m in status.details.message_list if isinstance(m, ValidationMessage)]
    errors = [m for m in findings if m.level == FindingLevel.ERROR]
    check(any(m.error and m.name == "DD2003" for m in errors), "an MTU finding (DD2003) at level Error", errors)
    named = [(d.schema, d.name) for m in errors for d in m.documents]
    check(("drydock/Network/v1", "oob") in named, "the finding names Network oob", named)

    # 4. The designs API: a design, a YAML part, the compiled design, documents.
    design = create_design.sync(client=client, body=DesignCreateRequest())
    check(isinstance(design, Design), "create_design answers a Design", design)
    # The part: the site's YAML by reference (the request body the document
    # describes), fetched by the server.
    part = load_parts.sync(design_id=design.id, client=client, body=PartFromReference(href=valid_ref))
    check(isinstance(part, DesignPart), "load_parts answers a DesignPart", part)
    check(part.design_id == design.id and part.bytes_ == os.path.getsize(site_yaml), "the part's design and size", part)
    compiled = get_design.sync(design_id=design.id, client=client, source=GetDesignSource.COMPILED)
    check(isinstance(compiled, Design) and compiled.part_count == 1, "get_design answers the Design", compiled)
    check(compiled.validation.status == "Success", "the compiled design validates", compiled.validation)
    check(sorted(compiled.nodes) == HOSTNAMES, "the compiled design's nodes", compiled.nodes)
    networks = get_parts_by_kind.sync(design_id=design.id, kind="Network", client=client)
    check(isinstance(networks, list) and all(isinstance(d, DesignDocument) for d in networks), "Network documents", networks)
    names = sorted(d.metadata["name"] for d in networks)
    check("oob" in names and "mgmt" in names, "the Network documents' names", names)
    oob = get_part.sync(design_id=design.id, kind="Network", name="oob", client=client)
    check(isinstance(oob, DesignDocument), "get_part answers a DesignDocument", oob)
    check(oob.schema == "drydock/Network/v1" and oob.metadata["name"] == "oob", "the oob document", oob)

    # 5. Errors come back as the typed error envelope.
    for bad in (
        AuthenticatedClient(base_url=url, token="not-a-token", prefix="", auth_header_name="X-Auth-Token"),
        Client(base_url=url),
    ):
        denied = get_tasks.sync_detailed(client=bad)
        check(denied.status_code == 401, "no or a wrong token answers 401", denied.status_code)
        check(isinstance(denied.parsed, ErrorEnvelope) and not denied.parsed.retry, "the 401 envelope", denied.parsed)
    missing = get_task.sync_detailed(client=client, task_id="01ARZ3NDEKTSV4RRFFQ69G5FAV")
    check(missing.status_code == 404, "an unknown task answers 404", missing.status_code)
    check(isinstance(missing.parsed, ErrorEnvelope), "the 404 is the typed error envelope", missing.parsed)
    check("01ARZ3NDEKTSV4RRFFQ69G5FAV" in missing.parsed.message, "the 404 names the task", missing.parsed.message)

    # Lists: the task among the tasks, the site's nodes.
    tasks = get_tasks.sync(client=client)
    check(all(isinstance(t, Task) for t in tasks), "get_tasks answers Tasks", tasks)
    check(any(t.task_id == task_id for t in tasks), "the task is listed", [t.task_id for t in tasks])
    nodes = get_nodes.sync(client=client)
    check(all(isinstance(n, Node) for n in nodes), "get_nodes answers Nodes", nodes)
    check(sorted(n.hostname for n in nodes) == HOSTNAMES, "the listed nodes", [n.hostname for n in nodes])

    print(
        f"python client: task {task_id} complete/success, tree of {len(tree.additional_properties)}, "
        f"{status.details.error_count} finding(s) on the failing design, design {design.id} with "
        f"{len(networks)} Network(s), 401 and 404 typed, {len(tasks)} task(s), {len(nodes)} node(s)"
    )


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    main(*sys.argv[1:])
