"""``segmenter serve``: the command line turns into gunicorn options and app settings."""
from __future__ import annotations

from api.serve import GunicornServer, app_overrides
from segmenter.cli import build_parser, main


def test_flags_become_app_settings():
    args = build_parser().parse_args(["serve", "--workers", "3", "--bind", "127.0.0.1:9001", "--store",
                                      "s.sqlite3", "--max-body", "1000", "--segment-timeout", "0.5"])
    assert args.workers == 3 and args.bind == "127.0.0.1:9001"
    assert app_overrides(args) == {"STORE_PATH": "s.sqlite3", "MAX_CONTENT_LENGTH": 1000,
                                   "SEGMENT_TIMEOUT": 0.5}


def test_unset_flags_leave_environment_settings_alone():
    assert app_overrides(build_parser().parse_args(["serve"])) == {}


def test_gunicorn_gets_the_options_and_builds_the_app_with_the_settings(tmp_path):
    server = GunicornServer({"bind": "127.0.0.1:9002", "workers": 3, "worker_class": "sync"},
                            {"STORE_PATH": str(tmp_path / "s.sqlite3"), "SEGMENT_TIMEOUT": 0.25})
    assert server.cfg.workers == 3 and server.cfg.bind == ["127.0.0.1:9002"]
    app = server.load()
    assert app.config["SEGMENT_TIMEOUT"] == 0.25


def test_zero_workers_is_a_usage_error(capsys):
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err
