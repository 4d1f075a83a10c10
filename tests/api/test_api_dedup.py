"""POST /v1/dedup: stateless clustering through the test client."""
from __future__ import annotations

import time

WIRE = ("LONDON (Reuters) - Oil prices rose more than two percent on Monday after producers signalled they "
        "would extend output cuts into next year, while a weaker dollar and signs of stronger demand in "
        "Asia lifted commodities across the board, traders and analysts said.")
UNRELATED = ("Local council members voted on Wednesday evening to rebuild the old footbridge over the river, "
             "a project residents have asked for since the spring floods destroyed the previous crossing.")


def test_copies_cluster_together_and_others_alone(client):
    documents = [{"id": "a", "text": WIRE}, {"id": "b", "text": WIRE.replace("LONDON (Reuters) - ", "")},
                 {"id": "c", "text": UNRELATED}]
    response = client.post("/v1/dedup", json={"documents": documents})
    assert response.status_code == 200
    body = response.get_json()
    by_id = {a["id"]: a["cluster"] for a in body["assignments"]}
    assert by_id["a"] == by_id["b"] != by_id["c"]
    assert sorted(c["size"] for c in body["clusters"]) == [1, 2]
    # Stateless: nothing reached the story store.
    assert client.get("/v1/stories").get_json()["stories"] == []


def test_config_is_applied(client):
    documents = [{"id": "a", "text": WIRE}, {"id": "b", "text": WIRE.replace("LONDON (Reuters) - ", "")}]
    response = client.post("/v1/dedup", json={"documents": documents, "config": {"threshold": 1.0}})
    assert response.status_code == 200


def test_dedup_errors(client, assert_error):
    started = time.perf_counter()
    assert_error(client.post("/v1/dedup", json={}), 400, "missing_field", started)
    assert_error(client.post("/v1/dedup", json={"documents": []}), 400, "missing_field", started)
    assert_error(client.post("/v1/dedup", json={"documents": ["text"]}), 400, "invalid_field", started)
    assert_error(client.post("/v1/dedup", json={"documents": [{"id": "a"}]}), 400, "missing_field", started)
    assert_error(client.post("/v1/dedup", json={"documents": [{"id": "", "text": "x"}]}),
                 400, "invalid_field", started)
    twice = [{"id": "a", "text": WIRE}, {"id": "a", "text": UNRELATED}]
    assert_error(client.post("/v1/dedup", json={"documents": twice}), 400, "duplicate_id", started)
    docs = [{"id": "a", "text": WIRE}]
    assert_error(client.post("/v1/dedup", json={"documents": docs, "config": {"num_perm": 3}}),
                 400, "invalid_field", started)
    assert_error(client.post("/v1/dedup", json={"documents": docs, "config": {"bogus": 1}}),
                 400, "invalid_field", started)
    assert_error(client.post("/v1/dedup", data=b"a,b", content_type="text/csv"),
                 415, "unsupported_media_type", started)
    assert_error(client.get("/v1/dedup"), 405, "method_not_allowed", started)


def test_too_many_documents_is_413(app, assert_error):
    app.config["MAX_DEDUP_DOCUMENTS"] = 2
    docs = [{"id": str(i), "text": WIRE} for i in range(3)]
    assert_error(app.test_client().post("/v1/dedup", json={"documents": docs}), 413, "too_many_documents")
