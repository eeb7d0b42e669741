"""``baton status``: draw a job tree from the result backend, finished or still running."""

from __future__ import annotations

from typing import Any

from celery import Celery
from rich.markup import escape
from rich.tree import Tree

from envelope import child_jobs_key, job_lock_key, recovered_key, root_jobs_key
from fleet import waiting_for

#: A tree is drawn to at most this many jobs, so a runaway root cannot flood the terminal.
MAX_NODES = 500


def _listed(app: Celery, key: str) -> list[str]:
    client = getattr(app.backend, "client", None)
    if client is None or not hasattr(client, "lrange"):
        return []
    items = client.lrange(key, 0, -1)
    listed = (item.decode() if isinstance(item, bytes) else str(item) for item in items)
    return list(dict.fromkeys(listed))  # once each: a retried RPUSH may have listed one twice


def job_state(app: Celery, job_id: str, state: str) -> str:
    """Return ``state`` (the backend's), or STARTED for a pending job whose lock a worker holds.

    Workers write no STARTED state (one write and one read fewer per job): the job's lock, which
    exists exactly while a worker runs it, says the same.
    """
    client = getattr(app.backend, "client", None)
    if state == "PENDING" and client is not None and hasattr(client, "exists"):
        return "STARTED" if client.exists(job_lock_key(job_id)) else state
    return state


def recovery_of(app: Celery, job_id: str) -> str | None:
    """Why ``job_id``'s message was put back on its queue (``worker_lost``, ``lost_in_transit``),
    or None when it never was (marks last a day)."""
    client = getattr(app.backend, "client", None)
    if client is None or not hasattr(client, "get"):
        return None
    reason = client.get(recovered_key(job_id))
    return reason.decode() if isinstance(reason, bytes) else reason


def quota_wait_of(app: Celery, job_id: str) -> str | None:
    """What ``job_id`` waits for, when a Bedrock call of it waits for quota (its key and the
    fleet's rate), else None."""
    client = getattr(app.backend, "client", None)
    if client is None or not hasattr(client, "get"):
        return None
    return waiting_for(client, job_id)


def job_node(app: Celery, job_id: str) -> dict[str, Any]:
    """Return one job as a plain dict: its state, its result fields, and its children's IDs."""
    result = app.AsyncResult(job_id)
    stored = result.state  # one read: a pending job's state is fetched again on every access
    node: dict[str, Any] = {
        "job_id": job_id,
        "state": job_state(app, job_id, stored),
        "recovered": recovery_of(app, job_id),
        "waiting": quota_wait_of(app, job_id) if stored not in ("SUCCESS", "FAILURE") else None,
    }
    value = result.result if stored == "SUCCESS" else None
    if isinstance(value, dict):
        node.update(
            {
                k: value.get(k)
                for k in (
                    "agent",
                    "region",
                    "model_id",
                    "stop_reason",
                    "depth",
                    "tree_jobs",
                    "error",
                )
            }
        )
        node["tokens"] = (value.get("usage") or {}).get("total_tokens")
    elif stored == "FAILURE":
        node["error"] = {"type": type(result.result).__name__, "message": str(result.result)}
    children = value.get("children") if isinstance(value, dict) else None
    node["children"] = list(children or _listed(app, child_jobs_key(job_id)))
    return node


def collect(app: Celery, root_id: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Return the top-level job IDs of ``root_id`` and every job under them (at most MAX_NODES)."""
    roots = _listed(app, root_jobs_key(root_id))
    queue: list[str] = list(roots)
    nodes: dict[str, dict[str, Any]] = {}
    while queue and len(nodes) < MAX_NODES:
        job_id = queue.pop(0)
        if job_id not in nodes:
            nodes[job_id] = job_node(app, job_id)
            queue.extend(nodes[job_id]["children"])
    return roots, nodes


def label(node: dict[str, Any]) -> str:
    """One line for a job: short ID, state, agent, region, model, stop reason, tokens."""
    colour = {"SUCCESS": "green", "FAILURE": "red", "STARTED": "yellow"}.get(node["state"], "dim")
    parts = [node["job_id"][:8], f"[{colour}]{node['state']}[/]"]
    parts += [
        escape(str(node[k])) for k in ("agent", "region", "model_id", "stop_reason") if node.get(k)
    ]
    if node.get("tokens") is not None:
        parts.append(f"{node['tokens']} tokens")
    if node.get("recovered"):
        parts.append(f"[magenta]recovered ({escape(str(node['recovered']).replace('_', ' '))})[/]")
    if node.get("waiting"):
        parts.append(f"[cyan]waiting for quota {escape(str(node['waiting']))}[/]")
    if node.get("error"):
        parts.append(f"[red]{escape(node['error'].get('type', ''))}[/]")
    return " ".join(parts)


def render(roots: list[str], nodes: dict[str, dict[str, Any]], root_id: str) -> Tree:
    """Draw the jobs from ``collect`` as a rich Tree, children under their parent."""
    tree = Tree(f"root {escape(root_id)}: {len(nodes)} job(s)")

    def add(holder: Tree, job_id: str) -> None:
        node = nodes.get(job_id)
        if node is not None:
            branch = holder.add(label(node))
            for child in node["children"]:
                add(branch, child)

    for job_id in roots:
        add(tree, job_id)
    return tree
