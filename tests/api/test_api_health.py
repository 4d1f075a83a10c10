"""Health, readiness, metrics and the benchmark-only echo endpoint."""
from __future__ import annotations

import json
import re
import time

from api import create_app
from api.metrics import Metrics, merge

# One sample line of the Prometheus text format: name{labels} value
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*'
                    r'(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [0-9.e+-]+$')
REQUESTS = "segmenter_http_requests_total"


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_model_and_store(client):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert body["checks"]["model"]["ok"] and body["checks"]["store"]["ok"]


def test_readyz_is_503_when_the_store_cannot_be_opened(tmp_path, assert_error):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    app = create_app({"TESTING": True, "STORE_PATH": str(blocker / "stories.sqlite3")})
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["store"]["ok"] is False
    assert_error(client.get("/v1/stories"), 503, "store_unavailable")


def test_metrics_count_requests_by_endpoint_and_status(client, page_dump):
    client.post("/v1/segment", data=page_dump, content_type="text/plain")
    client.post("/v1/segment", data=b"", content_type="text/plain")
    client.get("/v1/stories/does-not-exist")
    client.get("/no/such/path")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert REQUESTS + '{endpoint="/v1/segment",method="POST",status="200"} 1' in text
    assert REQUESTS + '{endpoint="/v1/segment",method="POST",status="422"} 1' in text
    assert REQUESTS + '{endpoint="/v1/stories/<story_id>",method="GET",status="404"} 1' in text
    assert REQUESTS + '{endpoint="unmatched",method="GET",status="404"} 1' in text
    assert 'segmenter_http_request_duration_seconds_count{endpoint="/v1/segment"} 2' in text
    assert 'segmenter_http_request_duration_seconds_bucket{endpoint="/v1/segment",le="+Inf"} 2' in text
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or SAMPLE.match(line), line


def test_histogram_buckets_are_cumulative():
    metrics = Metrics()
    for seconds in (0.0005, 0.003, 0.003, 0.2, 30.0):
        metrics.observe_request("/x", "GET", 200, seconds)
    text = metrics.render()
    assert 'le="0.001"} 1' in text
    assert 'le="0.005"} 3' in text
    assert 'le="0.25"} 4' in text
    assert 'le="10"} 4' in text
    assert 'le="+Inf"} 5' in text


def test_worker_snapshots_add_up(tmp_path):
    one, two = Metrics(str(tmp_path)), Metrics(str(tmp_path))
    one.observe_request("/v1/segment", "POST", 200, 0.01)
    two.observe_request("/v1/segment", "POST", 200, 0.02)
    two.inc("segmenter_documents_ingested_total", ("new_story",))
    merged = merge([one.snapshot(), two.snapshot()])
    assert merged["requests"][("/v1/segment", "POST", "200")] == 2
    assert merged["counters"]["segmenter_documents_ingested_total"][("new_story",)] == 1
    two.flush()  # the folder holds this pid's file; a sibling process would read it
    assert list(tmp_path.glob("*.json"))


def test_echo_exists_only_in_benchmark_mode(client, tmp_path, assert_error):
    assert_error(client.post("/v1/echo", data=b"hi", content_type="text/plain"), 404)
    bench = create_app({"TESTING": True, "STORE_PATH": str(tmp_path / "b.sqlite3"), "BENCHMARK_ECHO": True})
    response = bench.test_client().post("/v1/echo", data=b"hi", content_type="text/plain")
    assert response.status_code == 200 and response.data == b"hi"


def test_environment_settings_apply(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGMENTER_MAX_CONTENT_LENGTH", "1234")
    monkeypatch.setenv("SEGMENTER_SEGMENT_TIMEOUT", "0.5")
    app = create_app({"TESTING": True, "STORE_PATH": str(tmp_path / "e.sqlite3")})
    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    assert app.config["SEGMENT_TIMEOUT"] == 0.5


def test_flusher_writes_counts_for_sibling_workers(tmp_path):
    worker = Metrics(str(tmp_path))
    worker.start_flusher(interval=0.02)
    worker.observe_request("/v1/stories", "POST", 200, 0.01)
    reader = Metrics(str(tmp_path))  # stands for another process reading the folder
    for _ in range(100):
        files = list(tmp_path.glob("*.json"))
        if files and json.loads(files[0].read_text())["requests"]:
            break
        time.sleep(0.02)
    # Same pid here, so the reader would skip the file as its own: read it as a sibling would.
    snapshot = json.loads(files[0].read_text())
    assert merge([reader.snapshot(), snapshot])["requests"][("/v1/stories", "POST", "200")] == 1
