"""A single-valued query parameter given twice is a 422 on every route (store, admin, plugins),
never silently its last value; list parameters may repeat."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Query

from toolbox_core.query_once import _is_sequence, repeated_problem, scalar_query_names


@pytest.mark.parametrize("url", ["/store/products?limit=2&limit=3", "/store/products?locale=ru&locale=uz",
                                 "/store/products?q=drel&q=arra"])
def test_a_store_parameter_given_twice_is_refused_by_name(client, url):
    answer = client.get(url)
    name = url.split("?")[1].split("=")[0]
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and error["message"] == f"{name}: given 2 times; give it once"
    assert error["details"]["fields"][0]["loc"] == ["query", name]


def test_different_parameters_and_a_single_one_pass(client):
    assert client.get("/store/products?limit=2&offset=1").status_code == 200
    assert client.get("/store/products?limit=2").json()["limit"] == 2


def test_list_parameters_may_repeat_and_only_single_valued_ones_are_collected():
    assert _is_sequence(list[str]) and _is_sequence(list[str] | None) and _is_sequence(Annotated[list[int], Query()])
    assert not _is_sequence(str) and not _is_sequence(int | None) and not _is_sequence(bytes)

    class Dependant:
        def __init__(self, params, subs=()):
            self.query_params, self.dependencies = params, list(subs)

    class Field:
        def __init__(self, alias, annotation):
            self.alias = alias
            self.field_info = type("Info", (), {"annotation": annotation})()

    tree = Dependant([Field("q", str | None), Field("tag", list[str])], [Dependant([Field("limit", int)])])
    assert scalar_query_names(tree) == {"q", "limit"}
    assert repeated_problem(b"tag=a&tag=b&q=x", frozenset({"q", "limit"})) is None
    problem = repeated_problem(b"limit=1&q=x&limit=2", frozenset({"q", "limit"}))
    assert problem is not None and problem.errors()[0]["input"] == ["1", "2"]
