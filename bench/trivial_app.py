"""The ceiling for the API benchmark: a FastAPI endpoint that answers 202 and does nothing."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/v1/inbound/{system}/{kind}", status_code=202)
async def accept(system: str, kind: str) -> dict[str, str]:
    return {"message_id": "0", "system": system, "kind": kind}
