"""POST /v1/stories, GET /v1/stories/<id>, GET /v1/stories through the test client."""
from __future__ import annotations

import time

ARTICLE = ("BRUSSELS (Reuters) - European Union finance ministers agreed on Tuesday to a new set of rules "
           "for the bloc's banks, ending two years of talks over how much capital lenders must hold "
           "against their riskiest loans and how quickly the rules will take effect across the member "
           "states, officials said after the meeting in Brussels.")
OTHER = ("TOKYO (Reuters) - Japan's biggest carmaker raised its full-year profit forecast on Thursday as "
         "a weaker yen and strong demand for hybrid vehicles in North America offset higher costs for "
         "steel, chips and shipping, sending its shares to a record high in early trading in Tokyo.")


def ingest(client, text, url, **extra):
    return client.post("/v1/stories", json={"text": text, "url": url, "segmented": False, **extra})


def test_raw_page_is_segmented_and_founds_a_story(client, page_dump):
    response = client.post("/v1/stories?url=https://example.com/a&source=example.com", data=page_dump,
                           content_type="text/plain; charset=utf-8")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["is_new"] is True
    assert body["document_id"] == "https://example.com/a"
    story = body["story"]
    assert story["id"] == body["story_id"] and story["size"] == 1
    assert story["members"][0]["source"] == "example.com"
    assert story["canonical"]["url"] == "https://example.com/a"


def test_reprint_joins_the_story_and_reposting_is_idempotent(client):
    first = ingest(client, ARTICLE, "https://a.example/1", source="a", title="EU agrees bank rules")
    first = first.get_json()
    reprint = ARTICLE.replace("BRUSSELS (Reuters) - ", "") + " Reporting by Jane Doe."
    second = ingest(client, reprint, "https://b.example/2", source="b").get_json()
    assert second["is_new"] is False
    assert second["story_id"] == first["story_id"]
    assert second["similarity"] > 0.5
    again = ingest(client, reprint, "https://b.example/2", source="b").get_json()
    assert again["story_id"] == first["story_id"] and again["story"]["size"] == 2
    other = ingest(client, OTHER, "https://c.example/3").get_json()
    assert other["is_new"] is True and other["story_id"] != first["story_id"]

    story = client.get(f"/v1/stories/{first['story_id']}").get_json()
    assert story["size"] == 2
    assert story["title"] == "EU agrees bank rules"
    assert [m["url"] for m in story["members"]] == ["https://a.example/1", "https://b.example/2"]


def test_listing_is_newest_first_and_paged_with_a_cursor(client):
    for day in range(1, 6):
        text = f"Story number {day}: " + " ".join(f"word{day}x{i}" for i in range(60))
        ingest(client, text, f"https://example.com/{day}", published=f"2024-03-0{day}T12:00:00Z")
    first = client.get("/v1/stories?limit=2").get_json()
    assert [s["members"][0]["url"] for s in first["stories"]] == ["https://example.com/5",
                                                                  "https://example.com/4"]
    seen = [s["id"] for s in first["stories"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/v1/stories", query_string={"limit": 2, "cursor": cursor}).get_json()
        seen += [s["id"] for s in page["stories"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    recent = client.get("/v1/stories?since=2024-03-04").get_json()
    assert len(recent["stories"]) == 2 and recent["next_cursor"] is None
    # "+01:00" sent without escaping arrives as " 01:00": still read as the offset.
    offset = client.get("/v1/stories?since=2024-03-04T13:00:00+01:00").get_json()
    assert len(offset["stories"]) == 2


def test_metrics_count_documents_and_stories(client):
    ingest(client, ARTICLE, "https://a.example/1")
    ingest(client, ARTICLE + " Extra.", "https://b.example/2")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'segmenter_documents_ingested_total{result="new_story"} 1' in text
    assert 'segmenter_documents_ingested_total{result="existing_story"} 1' in text
    assert "segmenter_stories_created_total 1" in text
    assert "segmenter_stories 1" in text
    assert "segmenter_store_documents 2" in text


def test_story_errors(client, assert_error):
    started = time.perf_counter()
    assert_error(client.get("/v1/stories/999999"), 404, "story_not_found", started)
    assert_error(client.get("/v1/stories/not-a-number"), 404, "story_not_found", started)
    assert_error(client.get("/v1/stories/99999999999999999999999999"), 404, "story_not_found", started)
    assert_error(client.get("/v1/stories?cursor=x|99999999999999999999999"), 400, "invalid_cursor", started)
    assert_error(client.post("/v1/stories", json={"text": ARTICLE}), 400, "missing_field", started)
    assert_error(client.post("/v1/stories", data=ARTICLE, content_type="text/plain"),
                 400, "missing_field", started)
    assert_error(ingest(client, ARTICLE, "https://x.example", published="yesterday"),
                 400, "invalid_field", started)
    assert_error(ingest(client, ARTICLE, "https://x.example", segmented="perhaps"),
                 400, "invalid_field", started)
    assert_error(client.post("/v1/stories", json={"url": "https://x.example"}), 400, "missing_field", started)
    assert_error(ingest(client, "", "https://x.example"), 422, "empty_text", started)
    html_as_article = {"html": "<p>An article</p>", "url": "https://x.example", "segmented": False}
    assert_error(client.post("/v1/stories", json=html_as_article), 400, "invalid_field", started)
    assert_error(client.get("/v1/stories?limit=0"), 400, "invalid_parameter", started)
    assert_error(client.get("/v1/stories?limit=abc"), 400, "invalid_parameter", started)
    assert_error(client.get("/v1/stories?since=last-week"), 400, "invalid_field", started)
    assert_error(client.get("/v1/stories?cursor=garbage"), 400, "invalid_cursor", started)
    assert_error(client.delete("/v1/stories"), 405, "method_not_allowed", started)
    assert_error(client.post("/v1/stories", data=b"<x/>", content_type="image/svg+xml"),
                 415, "unsupported_media_type", started)


def test_page_without_an_article_is_422(client, assert_error):
    index_page = "\n".join(["Home", "World", "Business", "Sport", "Weather", "Contact us"])
    response = client.post("/v1/stories?url=https://example.com/", data=index_page, content_type="text/plain")
    assert_error(response, 422, "no_article")
