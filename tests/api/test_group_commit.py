"""Concurrent streamed messages share transactions and each gets its own answer."""

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

Headers = dict[str, dict[str, str]]


def message(number: int, customer: str = "u1", conversation: str = "c1") -> dict[str, Any]:
    return {
        "conversation_id": conversation,
        "customer": {"id": customer},
        "message": {
            "id": f"m{number}",
            "role": "customer",
            "text": f"message {number}",
            "sent_at": "2026-11-20T10:00:00Z",
        },
    }


def test_concurrent_messages_all_stored_with_right_answers(
    client: TestClient, auth: Headers
) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            bodies = [message(n) for n in range(60)] + [message(n) for n in range(0, 60, 2)]
            bodies.append(message(999, customer="intruder"))
            return await asyncio.gather(
                *(http.post("/v1/messages", json=b, headers=auth["ingest"]) for b in bodies)
            )

    # The app's lifespan runs in the TestClient's loop; drive the burst there too.
    responses = client.portal.call(burst)  # type: ignore[union-attr]
    codes = [r.status_code for r in responses]
    assert codes[:90] == [202] * 90 and codes[90] == 409
    duplicates = sum(r.json()["duplicate"] for r in responses[:90])
    assert duplicates == 30
    status = client.get("/v1/status", headers=auth["ingest"]).json()
    assert status["messages"] == 60
