"""Where a request's blocking work runs (``toolbox_core/threads.py``): short database work on the
event loop (``http.inline_db_work``), anything else in ONE worker-thread trip; and the bound on
a statement waiting for a lock (``database_lock_timeout_ms``)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import create_engine, text

from toolbox_core.api import db_work, db_work_when, in_thread, run_db_work


class Body(BaseModel):
    quantity: int = Field(ge=1, le=10)


def _app(inline: bool, calls: list[str]) -> FastAPI:
    """Three routes: a plain ``@db_work`` one, an ``@in_thread`` one, an async one using
    ``run_db_work``; each records the thread it ran in (the loop's is "loop")."""
    toolbox: Any = type("T", (), {"settings": type("S", (), {"http": type("H", (), {"inline_db_work": inline})})})
    router = APIRouter()
    loop_thread: dict[str, int] = {}

    def where() -> str:
        return "loop" if threading.get_ident() == loop_thread.get("id") else "thread"

    async def mark_loop() -> None:
        loop_thread["id"] = threading.get_ident()

    @router.post("/db/{item}", status_code=201)
    @db_work(toolbox)
    def db_route(item: str, body: Body, response: Response, _: None = Depends(mark_loop)) -> dict[str, Any]:
        response.headers["x-where"] = where()
        return {"item": item, "quantity": body.quantity}

    @router.get("/thread")
    @in_thread
    def thread_route(_: None = Depends(mark_loop)) -> dict[str, str]:
        return {"where": where()}

    @router.post("/maybe/{item}")
    @db_work_when(toolbox, lambda values: values["item"] == "here")
    def maybe_route(item: str, _: None = Depends(mark_loop)) -> dict[str, str]:
        return {"where": where()}

    @router.get("/async")
    async def async_route(_: None = Depends(mark_loop)) -> dict[str, str]:
        return {"where": await run_db_work(toolbox, where)}

    app = FastAPI()
    app.include_router(router)

    import anyio.to_thread

    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(func, "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    app.state.patch = (anyio.to_thread, "run_sync", counting)
    return app


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch):
    def serve(inline: bool) -> tuple[TestClient, list[str]]:
        calls: list[str] = []
        app = _app(inline, calls)
        monkeypatch.setattr(*app.state.patch)
        return TestClient(app), calls

    return serve


def test_short_database_work_runs_on_the_event_loop_with_no_thread_trip(served) -> None:
    client, calls = served(inline=True)
    answer = client.post("/db/abc", json={"quantity": 3})
    assert (answer.status_code, answer.json(), answer.headers["x-where"]) == (201, {"item": "abc", "quantity": 3}, "loop")
    assert client.get("/async").json() == {"where": "loop"}
    assert calls == []


def test_with_inline_db_work_off_it_takes_one_thread_trip(served) -> None:
    client, calls = served(inline=False)
    assert client.post("/db/abc", json={"quantity": 3}).headers["x-where"] == "thread"
    assert client.get("/async").json() == {"where": "thread"}
    assert len(calls) == 2  # one per request: FastAPI's second trip (validating the answer) is gone


def test_in_thread_runs_in_a_worker_thread_in_one_trip(served) -> None:
    client, calls = served(inline=True)
    assert client.get("/thread").json() == {"where": "thread"}
    assert len(calls) == 1


def test_db_work_when_stays_on_the_loop_only_for_the_requests_it_says(served) -> None:
    client, calls = served(inline=True)
    assert client.post("/maybe/here").json() == {"where": "loop"}
    assert calls == []
    assert client.post("/maybe/away").json() == {"where": "thread"}
    assert len(calls) == 1


def test_db_work_when_with_inline_db_work_off_always_takes_a_thread(served) -> None:
    client, calls = served(inline=False)
    assert client.post("/maybe/here").json() == {"where": "thread"}
    assert len(calls) == 1


def test_the_decorated_routes_validate_and_document_as_plain_ones(served) -> None:
    client, _ = served(inline=True)
    refused = client.post("/db/abc", json={"quantity": 0})
    assert refused.status_code == 422
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/db/{item}"]["post"]
    assert [p["name"] for p in operation["parameters"]] == ["item"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Body")


def test_an_async_endpoint_is_refused_by_the_decorators() -> None:
    async def already_async() -> None: ...

    with pytest.raises(TypeError, match="run_db_work"):
        in_thread(already_async)


@pytest.mark.postgres
def test_a_statement_waiting_past_the_lock_timeout_answers_503_database_busy(make_toolbox, make_client) -> None:
    toolbox = make_toolbox(database="postgres", database_lock_timeout_ms=300)
    client = make_client(toolbox)
    made = client.post("/store/carts", json={}).json()
    cart, token = made["id"], {"x-cart-token": made["cart_token"]}
    holder = create_engine(toolbox.db.engine.url)
    try:
        with holder.connect() as conn, conn.begin():
            conn.execute(text("SELECT id FROM carts WHERE id = :id FOR UPDATE"), {"id": cart})
            answer = client.patch(f"/store/carts/{cart}", json={"email": "a@b.uz"}, headers=token)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "database_busy"
        assert answer.headers["retry-after"] == "1"
        # Once the lock is gone the same change goes through.
        again = client.patch(f"/store/carts/{cart}", json={"email": "a@b.uz"}, headers=token)
        assert again.status_code == 200 and again.json()["email"] == "a@b.uz"
    finally:
        holder.dispose()
