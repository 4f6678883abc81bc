"""The catalog answers by the one locale rule (``toolbox_core.i18n``)."""

from __future__ import annotations


def test_the_query_param_is_as_tolerant_as_the_header(client, make_product):
    make_product()
    response = client.get("/store/products/drill-x18?locale=uz-Latn")
    assert response.status_code == 200, response.text
    assert response.json()["title"] == "Akkumulyatorli drel-shurupovyort"
    assert response.headers["content-language"] == "uz"
    assert "accept-language" in response.headers["vary"].lower()
    by_header = client.get("/store/products/drill-x18", headers={"Accept-Language": "ru;q=0.4, uz-Latn;q=0.9"})
    assert by_header.json()["title"] == "Akkumulyatorli drel-shurupovyort"
    assert by_header.headers["content-language"] == "uz"


def test_a_missing_product_is_told_in_the_requests_locale(client):
    response = client.get("/store/products/nope", headers={"Accept-Language": "uz"})
    assert response.status_code == 404
    assert response.headers["content-language"] == "uz"
