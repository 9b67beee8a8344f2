"""``selfinstruct generate`` with ``--base-url`` given several times: routing, counts, exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from langchain_selfinstruct.cli import main
from langchain_selfinstruct.fake import FakeSelfInstructLLM

SECRET = "sk-very-secret-key-123"
URLS = [f"http://user:{SECRET}@127.0.0.1:9001/v1?key={SECRET}", "http://127.0.0.1:9002/v1"]


class Server(FakeSelfInstructLLM):
    """The scripted fake standing in for one server; ``dead`` ones refuse every connection."""

    dead: bool = False

    async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
        if self.dead:
            raise ConnectionRefusedError("connection refused")
        return await super()._agenerate(*args, **kwargs)


def _servers(monkeypatch: pytest.MonkeyPatch, dead: set[str]) -> list[dict[str, Any]]:
    from langchain_selfinstruct import models

    built: list[dict[str, Any]] = []

    def resolve(model: str | None, **options: Any) -> Server:
        built.append(options)
        return Server(seed=len(built), dead=options["base_url"] in dead)

    monkeypatch.setattr(models, "resolve_model", resolve)
    return built


def _generate(out: Path, *urls: str) -> Result:
    args = ["generate", "-m", "served", "-n", "6", "--out", str(out), "-q", "-c", "2"]
    args += [option for url in urls for option in ("--base-url", url)]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _table(text: str) -> dict[str, str]:
    rows = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in text.splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2}


def test_several_base_urls_route_over_one_client_each_and_count_per_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _servers(monkeypatch, dead={URLS[0]})
    result = _generate(tmp_path, *URLS)
    assert result.exit_code == 0, result.output
    assert [options["base_url"] for options in built] == URLS
    assert all(options["api_key"] is None for options in built)
    stats = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    dead, live = "http://127.0.0.1:9001/v1", "http://127.0.0.1:9002/v1"
    assert set(stats["endpoints"]) == {dead, live}
    assert stats["endpoints"][dead]["requests"] == stats["endpoints"][dead]["errors"] >= 2
    assert stats["endpoints"][dead]["benches"] >= 1
    assert stats["endpoints"][live]["errors"] == 0
    total = sum(counts["requests"] for counts in stats["endpoints"].values())
    assert total == stats["model_calls"] + stats["model_errors"]
    table = _table(result.stdout)
    assert table[f"endpoint {live}"] == f"{stats['endpoints'][live]['requests']} requests, 0 errors"
    assert re.fullmatch(
        r"\d+ requests, \d+ errors, benched \d+x for \d+\.\d s", table[f"endpoint {dead}"]
    )
    for path in tmp_path.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8")
    assert SECRET not in result.output


def test_every_endpoint_down_stops_with_exit_code_4_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _servers(monkeypatch, dead=set(URLS))
    result = _generate(tmp_path, *URLS)
    assert result.exit_code == 4
    stopped = _table(result.stdout)["stopped because"]
    assert stopped.startswith("model_error: ")
    assert (
        "NoReplicaAvailableError: no replica of the model answers: http://127.0.0.1:9001/v1"
        in stopped
    )
    assert SECRET not in result.output


def test_one_base_url_gives_the_plain_model_and_a_repeated_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _servers(monkeypatch, dead=set())
    assert _generate(tmp_path / "one", URLS[1]).exit_code == 0
    assert [options["base_url"] for options in built] == [URLS[1]]
    stats = json.loads((tmp_path / "one" / "stats.json").read_text(encoding="utf-8"))
    assert stats["endpoints"] == {}
    twice = ["--base-url", URLS[1], "--base-url", URLS[1] + "/"]
    result = CliRunner().invoke(
        main, ["generate", "-m", "x", "-n", "1", "--out", str(tmp_path / "two"), *twice]
    )
    assert result.exit_code == 1
    assert "--base-url names the same server twice: http://127.0.0.1:9002/v1" in result.output
