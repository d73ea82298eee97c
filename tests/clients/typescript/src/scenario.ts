//! The generated-client scenario, TypeScript edition: drives a live `drydock serve`
//! through openapi-fetch typed by the openapi-typescript output for
//! openapi/drydock-v1.0.json (generated/drydock.ts), asserting on typed fields.
//! Run by scripts/checks/openapi_client.sh.
//!
//! Usage: node dist/src/scenario.js URL TOKEN VALID_DESIGN_REF FAILING_DESIGN_REF SITE_YAML

import { statSync } from "node:fs";
import createClient from "openapi-fetch";
import type { components, paths } from "../generated/drydock.ts";

type Schemas = components["schemas"];

const HOSTNAMES = ["cmp-r01-n03", "cmp-r02-n02", "cmp-r02-n03", "cp-r01-n01", "cp-r01-n02", "cp-r02-n01"];

/** Fails the scenario with what was expected and what came back. */
function check(condition: boolean, what: string, value: unknown): asserts condition {
    if (!condition) {
        throw new Error(`${what}; got ${JSON.stringify(value)}`);
    }
}

/** The answer's body when the call succeeded, else a failure naming the call. */
function ok<T>(call: string, answer: { data?: T; error?: unknown; response: Response }): T {
    check(answer.data !== undefined, `${call} succeeds (HTTP ${answer.response.status})`, answer.error);
    return answer.data;
}

/** A design document's `metadata.name` (metadata is an open mapping). */
function metadataName(document: Schemas["DesignDocument"]): unknown {
    const metadata: Record<string, unknown> = document.metadata ?? {};
    return metadata["name"];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(url: string, token: string, validRef: string, failingRef: string, siteYaml: string) {
    // The token goes in the documented apiKey header.
    const client = createClient<paths>({ baseUrl: url, headers: { "X-Auth-Token": token } });

    // 1. Create a validate_design task and follow it until it completes.
    const created: Schemas["Task"] = ok(
        "create_task",
        await client.POST("/api/v1.0/tasks", { body: { action: "validate_design", design_ref: validRef } }),
    );
    check(created.action === "validate_design", "the created task's action", created.action);
    const taskId = created.task_id;
    const deadline = Date.now() + 60_000;
    let task: Schemas["TaskDetail"];
    for (;;) {
        const shown = ok("get_task", await client.GET("/api/v1.0/tasks/{task_id}", { params: { path: { task_id: taskId } } }));
        check(!("init_task_id" in shown), "get_task answers the task", shown);
        task = shown;
        if (task.status === "complete" || task.status === "terminated" || Date.now() > deadline) {
            break;
        }
        await sleep(200);
    }
    check(task.status === "complete", "the task completes", task.status);
    check(task.result.status === "success", "the task's result", task.result.status);

    // 2. The layered tree: every descendant by id, the root among them.
    const tree = ok(
        "get_task (layers)",
        await client.GET("/api/v1.0/tasks/{task_id}", {
            params: { path: { task_id: taskId }, query: { layers: -1, subtaskerrors: true } },
        }),
    );
    check("init_task_id" in tree && tree.init_task_id === taskId, "get_task with layers answers the tree", tree);
    const root = tree[taskId];
    check(root !== undefined && root !== null && typeof root === "object", "the root task in the tree", root);
    const rootTask = root as Schemas["Task"];
    check(rootTask.task_id === taskId && rootTask.action === "validate_design", "the root task", rootTask);

    // 3. A failing design: the 400 is the Status document with its findings.
    const failed = await client.POST("/api/v1.0/validatedesign", { body: { href: failingRef } });
    check(failed.response.status === 400, "validate_design of a failing design answers 400", failed.response.status);
    const status = failed.error;
    check(status !== undefined && "details" in status, "the 400 is a typed Status document", status);
    check(status.status.toLowerCase() === "failure" && status.code === 400, "the Status document's status/code", status);
    check(status.details.errorCount >= 1, "the error count", status.details.errorCount);
    const findings = status.details.messageList.flatMap((m) => ("level" in m ? [m] : []));
    const errors = findings.filter((m) => m.error && m.level === "Error");
    check(
        errors.some((m) => m.name === "DD2003"),
        "an MTU finding (DD2003) at level Error",
        errors,
    );
    const named = errors.flatMap((m) => m.documents.map((d) => `${d.schema} ${d.name}`));
    check(named.includes("drydock/Network/v1 oob"), "the finding names Network oob", named);

    // 4. The designs API: a design, a YAML part, the compiled design, documents.
    const design = ok("create_design", await client.POST("/api/v1.0/designs", { body: {} }));
    // The part: the site's YAML by reference (the request body the
    // document describes), fetched by the server.
    const yamlBytes = statSync(siteYaml).size;
    const part = ok(
        "load_parts",
        await client.POST("/api/v1.0/designs/{design_id}/parts", {
            params: { path: { design_id: design.id } },
            body: { href: validRef },
        }),
    );
    check(part.design_id === design.id && part.bytes === yamlBytes, "the part's design and size", part);
    const compiled = ok(
        "get_design",
        await client.GET("/api/v1.0/designs/{design_id}", {
            params: { path: { design_id: design.id }, query: { source: "compiled" } },
        }),
    );
    check(compiled.part_count === 1, "the compiled design's part count", compiled.part_count);
    check(compiled.validation?.status.toLowerCase() === "success", "the compiled design validates", compiled.validation);
    check(
        JSON.stringify([...(compiled.nodes ?? [])].sort()) === JSON.stringify(HOSTNAMES),
        "the compiled design's nodes",
        compiled.nodes,
    );
    const networks = ok(
        "get_parts_by_kind",
        await client.GET("/api/v1.0/designs/{design_id}/parts/{kind}", {
            params: { path: { design_id: design.id, kind: "Network" } },
        }),
    );
    const names = networks.map((d) => metadataName(d));
    check(names.includes("oob") && names.includes("mgmt"), "the Network documents' names", names);
    const oob = ok(
        "get_part",
        await client.GET("/api/v1.0/designs/{design_id}/parts/{kind}/{name}", {
            params: { path: { design_id: design.id, kind: "Network", name: "oob" } },
        }),
    );
    check(oob.schema === "drydock/Network/v1" && metadataName(oob) === "oob", "the oob document", oob);

    // 5. Errors come back as the typed error envelope.
    for (const headers of [{ "X-Auth-Token": "not-a-token" }, {}]) {
        const bad = createClient<paths>({ baseUrl: url, headers });
        const denied = await bad.GET("/api/v1.0/tasks");
        check(denied.response.status === 401, "no or a wrong token answers 401", denied.response.status);
        const envelope: Schemas["ErrorEnvelope"] | undefined = denied.error;
        check(envelope !== undefined && envelope.retry === false, "the 401 envelope", envelope);
    }
    const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    const missing = await client.GET("/api/v1.0/tasks/{task_id}", { params: { path: { task_id: unknown } } });
    check(missing.response.status === 404, "an unknown task answers 404", missing.response.status);
    const notFound: Schemas["ErrorEnvelope"] | undefined = missing.error;
    check(notFound !== undefined && notFound.message.includes(unknown), "the 404 envelope names the task", notFound);

    // Lists: the task among the tasks, the site's nodes.
    const tasks = ok("get_tasks", await client.GET("/api/v1.0/tasks"));
    check(
        tasks.some((t) => t.task_id === taskId),
        "the task is listed",
        tasks.map((t) => t.task_id),
    );
    const nodes = ok("get_nodes", await client.GET("/api/v1.0/nodes"));
    const hostnames = nodes.map((n) => n.hostname).sort();
    check(JSON.stringify(hostnames) === JSON.stringify(HOSTNAMES), "the listed nodes", hostnames);

    console.log(
        `typescript client: task ${taskId} complete/success, ${status.details.errorCount} finding(s) on the failing ` +
            `design, design ${design.id} with ${networks.length} Network(s), 401 and 404 typed, ` +
            `${tasks.length} task(s), ${nodes.length} node(s)`,
    );
}

const args = process.argv.slice(2);
if (args.length !== 5) {
    console.error("usage: scenario.js URL TOKEN VALID_DESIGN_REF FAILING_DESIGN_REF SITE_YAML");
    process.exit(2);
}
const [url, token, validRef, failingRef, siteYaml] = args as [string, string, string, string, string];
main(url, token, validRef, failingRef, siteYaml).catch((error: unknown) => {
    console.error(`typescript client: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
});
