"""The simulator's control endpoints (`/_sim/health`, `/_sim/faults`), beside the APIs it serves."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from starlette.requests import Request
from starlette.responses import Response

from askpro_simulator.responses import Fault, json_response


class ControlApi:
    """GET /_sim/health; GET, POST, DELETE /_sim/faults."""

    async def _admin(self, request: Request, path: str) -> Response:
        if path == "/_sim/health" and request.method == "GET":
            return json_response(200, {"status": "ok", "tenants": list(self.world.tenants)})
        if path == "/_sim/faults":
            if request.method == "GET":
                with self.lock:
                    return json_response(200, [asdict(f) for f in self.faults])
            if request.method == "DELETE":
                with self.lock:
                    self.faults.clear()
                return json_response(200, {"faults": 0})
            if request.method == "POST":
                try:
                    raw = json.loads(await request.body() or b"[]")
                    items = raw if isinstance(raw, list) else [raw]
                    names = {f.name for f in fields(Fault)}
                    added = []
                    for item in items:
                        unknown = set(item) - names
                        if unknown:
                            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
                        added.append(Fault(**item))
                except (ValueError, TypeError, AttributeError) as exc:
                    return json_response(400, {"error": str(exc)})
                with self.lock:
                    self.faults.extend(added)
                    total = len(self.faults)
                return json_response(200, {"faults": total})
        return json_response(404, {"error": f"no simulator admin endpoint {request.method} {path}"})
