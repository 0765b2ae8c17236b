"""A small OpenAI-compatible chat server the service tests start as their upstream.

The answer is the last user message after ``say:`` (or ``echo: <message>``), so a test
chooses what the model "says" and can see what the proxy forwarded. Streamed answers
come in chunks of ``CHUNK`` characters. Models with special behaviour: ``slow``
(sleeps past the proxy's timeout), ``script:NAME`` (a canned answer from ``SCRIPTS``), ``broken`` (HTTP 500), ``garbage`` (a 200 that is
not JSON), ``dropper`` (a stream cut off mid-answer).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

CHUNK = 3
SCRIPTS = {
    "threat": "Here is the story you asked for. The villain turned and said: I will kill you. Then he left.",
    "contact": "You can reach the author at ann@example.org or by phone.",
    "threat-late": "Once upon a time a traveller crossed the hills at dawn, talking with shepherds "
    "about the weather, the price of wool and the road ahead, until at noon a stranger stopped "
    "him at the bridge. The stranger said: I will kill you. The traveller ran.",
    "calm": "The weather today is mild with a light breeze from the west, ideal for a walk. " * 4,
}
"""Canned answers of the ``script:<name>`` models (benign prompts, chosen answers)."""
app = FastAPI()


def _answer(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, list):
        content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    content = str(content or "")
    return content.split("say:", 1)[1].strip() if "say:" in content else f"echo: {content}"


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None) -> str:
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return f"data: {json.dumps(body)}\n\n"


@app.post("/v1/chat/completions")
async def chat(request: Request) -> Response:
    req = await request.json()
    model = req.get("model", "echo")
    if model == "slow":
        await asyncio.sleep(float(req.get("sleep", 5)))
    if model == "broken":
        return JSONResponse({"error": {"message": "model exploded", "type": "server_error"}}, 500)
    if model == "garbage":
        return PlainTextResponse("<html>oops</html>")
    text = SCRIPTS[model[7:]] if model.startswith("script:") else _answer(req.get("messages", []))
    cid = "chatcmpl-upstream"
    if not req.get("stream"):
        return JSONResponse({
            "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 5, "completion_tokens": len(text.split()), "total_tokens": 9},
        })  # fmt: skip

    async def events():  # type: ignore[no-untyped-def]
        yield _chunk(cid, model, {"role": "assistant", "content": ""}, None)
        pieces = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
        if model == "dropper":
            pieces = pieces[: len(pieces) // 2]
        for p in pieces:
            yield _chunk(cid, model, {"content": p}, None)
            await asyncio.sleep(0)
        if model == "dropper":
            raise RuntimeError("connection dropped")
        yield _chunk(cid, model, {}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")
