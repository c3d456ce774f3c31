"""`runner engines`: the Docker engines pipeline.yml names, reachable or not, one line each."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from runner.output import print_json, print_table


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "engines", help="the Docker engines pipeline.yml names: reachable, version, CPUs, memory"
    )
    parser.add_argument("--json", action="store_true", help="print them as a JSON list")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.adapters.docker import remote as docker_remote
    from runner.commands._engines import configured, endpoint

    engines = configured()
    endpoints = [endpoint(e) for e in engines]
    with ThreadPoolExecutor(max_workers=min(8, len(engines))) as pool:  # unreachable ones wait in parallel
        found = list(pool.map(docker_remote.facts, endpoints))
    rows = [
        {
            "name": engine.name,
            "url": where.shown(),
            "ok": facts.ok,
            "version": facts.version,
            "ncpu": facts.ncpu,
            "mem_bytes": facts.mem_bytes,
            "error": facts.error,
        }
        for engine, where, facts in zip(engines, endpoints, found, strict=True)
    ]
    if args.json:
        print_json(rows)
        return 0
    print_table(["NAME", "URL", "STATE", "VERSION", "CPUS", "MEMORY"], [_shown(r) for r in rows])
    return 0


def _shown(row: dict[str, Any]) -> list[Any]:
    if not row["ok"]:
        return [row["name"], row["url"], f"unreachable: {row['error']}", "", "", ""]
    return [row["name"], row["url"], "ok", row["version"], row["ncpu"], f"{row['mem_bytes'] / 2**30:.1f} GiB"]
