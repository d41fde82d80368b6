"""Dashboards as code: the saved objects are structurally valid, and `dashboards import` speaks the API.

There is no OpenSearch Dashboards on these machines: the import command is tested against a tiny
HTTP server on 127.0.0.1 that records the request (a real connection, real multipart body).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shopstream.cli import cli
from shopstream.contract import load_contract
from shopstream.realtime import dashboards, saved_objects

NDJSON = dashboards.NDJSON_PATH


def _objs() -> list[dict[str, Any]]:
    return dashboards.load_objects(NDJSON)


def test_saved_objects_are_valid() -> None:
    assert dashboards.validate(NDJSON) == []


def test_saved_objects_cover_the_required_views() -> None:
    objs = _objs()
    kinds = [o["type"] for o in objs]
    assert kinds.count("dashboard") == 1 and kinds.count("index-pattern") == 2
    fields_by_pattern: dict[str, set[str]] = {}
    for o in objs:
        if o["type"] != "visualization":
            continue
        vis = json.loads(o["attributes"]["visState"])
        pattern = o["references"][0]["id"]
        fields_by_pattern.setdefault(pattern, set()).update(
            a["params"].get("field", a["type"]) for a in vis["aggs"]
        )
    users, orders = (
        fields_by_pattern["shopstream-users-pattern"],
        fields_by_pattern["shopstream-orders-pattern"],
    )
    assert {"gender", "address", "email_domain", "created_at", "count"} <= users
    assert {
        "first_category",
        "second_category",
        "user_region",
        "user_gender",
        "price",
        "created_at",
    } <= orders
    dash = next(o for o in objs if o["type"] == "dashboard")
    vis_ids = {o["id"] for o in objs if o["type"] == "visualization"}
    assert {r["id"] for r in dash["references"]} == vis_ids
    assert len(json.loads(dash["attributes"]["panelsJSON"])) == len(vis_ids)


def test_the_ratio_views_have_a_bucket_per_allowed_value() -> None:
    contract = load_contract()
    sizes = {}
    for o in _objs():
        if o["type"] == "visualization":
            for a in json.loads(o["attributes"]["visState"])["aggs"]:
                if a["type"] == "terms":
                    sizes[a["params"]["field"]] = a["params"]["size"]
    assert sizes["address"] >= len(contract.entity("users").field("address").weights or {})
    assert sizes["email_domain"] >= len(contract.entity("users").field("email").email_domain_weights or {})
    assert sizes["second_category"] >= len(
        contract.entity("orders").field("second_category").allowed_values or ()
    )


def _write(tmp_path: Path, objs: list[dict[str, Any]]) -> Path:
    path = tmp_path / "objs.ndjson"
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def test_validation_catches_broken_references_missing_fields_and_duplicates(tmp_path: Path) -> None:
    objs = _objs()
    vis = next(o for o in objs if o["id"] == "shopstream-signups-by-gender")
    state = json.loads(vis["attributes"]["visState"])
    state["aggs"][1]["params"]["field"] = "favourite_colour"
    vis["attributes"]["visState"] = json.dumps(state)
    dash = next(o for o in objs if o["type"] == "dashboard")
    dash["references"][0]["id"] = "does-not-exist"
    objs.append(dict(objs[0]))
    problems = dashboards.validate(_write(tmp_path, objs))
    text = "\n".join(problems)
    assert "field 'favourite_colour' not in the template mapping" in text
    assert "visualization:does-not-exist does not resolve" in text
    assert "duplicate id index-pattern:shopstream-users-pattern" in text


def test_validation_catches_a_sum_on_a_keyword(tmp_path: Path) -> None:
    objs = _objs()
    vis = next(o for o in objs if o["id"] == "shopstream-revenue-total")
    state = json.loads(vis["attributes"]["visState"])
    state["aggs"][0]["params"]["field"] = "first_category"
    vis["attributes"]["visState"] = json.dumps(state)
    assert any("sum on non-numeric field" in p for p in dashboards.validate(_write(tmp_path, objs)))


def test_dashboards_are_regenerated_from_the_spec() -> None:
    assert NDJSON.read_text(encoding="utf-8") == saved_objects.render_dashboards()


# --- import against a recording server --------------------------------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []  # noqa: RUF012 - shared on purpose (class-level recorder)
    answer: tuple[int, dict[str, Any]] = (200, {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        status, payload = type(self).answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"requests": [], "answer": (200, {})})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


def test_import_posts_multipart_with_the_xsrf_header(server: tuple[str, type[_Recorder]]) -> None:
    url, handler = server
    n = len(_objs())
    handler.answer = (200, {"success": True, "successCount": n})
    result = CliRunner().invoke(cli, ["dashboards", "import", "--url", url + "/"])
    assert result.exit_code == 0, result.output
    assert f"imported {n} saved objects" in result.output
    (req,) = handler.requests
    assert req["path"] == "/api/saved_objects/_import?overwrite=true"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["osd-xsrf"] == "true"
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + headers["content-type"].encode() + b"\r\n\r\n" + req["body"]
    )
    (part,) = list(message.iter_parts())
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "shopstream.ndjson"
    assert part.get_payload(decode=True) == NDJSON.read_bytes()


def test_import_reports_the_servers_errors(server: tuple[str, type[_Recorder]]) -> None:
    url, handler = server
    handler.answer = (
        200,
        {
            "success": False,
            "successCount": 0,
            "errors": [{"id": "x", "type": "visualization", "error": {"type": "conflict"}}],
        },
    )
    result = CliRunner().invoke(cli, ["dashboards", "import", "--url", url])
    assert result.exit_code == 1
    assert "import reported 1 error(s); first: visualization:x" in result.output
    handler.answer = (403, {"message": "forbidden"})
    result = CliRunner().invoke(cli, ["dashboards", "import", "--url", url])
    assert result.exit_code == 1 and "HTTP 403" in result.output


def test_import_refuses_an_invalid_file_without_sending(
    server: tuple[str, type[_Recorder]], tmp_path: Path
) -> None:
    url, handler = server
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"id": "a", "type": "visualization", "attributes": {}}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["dashboards", "import", "--url", url, "--file", str(bad)])
    assert result.exit_code == 2
    assert handler.requests == []
    result = CliRunner().invoke(cli, ["dashboards", "import", "--url", "ftp://x"])
    assert result.exit_code == 2 and "--url" in result.output


def test_import_fails_cleanly_when_nothing_listens() -> None:
    result = CliRunner().invoke(cli, ["dashboards", "import", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "failed" in result.output
