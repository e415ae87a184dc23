"""The `personalize` command line: imports with summaries and exit codes, keys, status, demo."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app, main
from embeddings.encoder import Encoder
from engine.runtime import Services
from engine.settings import Settings

runner = CliRunner()


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """Environment pointing the CLI at the test store."""
    values = {"PERSONALIZE_HOME": str(settings.personalize_home)}
    if settings.database_url:
        values["DATABASE_URL"] = settings.database_url
    return values


def test_import_prints_summary_and_fails_on_rejected_lines(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "customers.jsonl"
    path.write_text(
        '{"id": "u1", "email": "u1@example.com"}\n'
        '{"id": "u2", "marketing_consent": "maybe"}\n'
        '{"id": "u3"}\n'
    )
    result = runner.invoke(app, ["import", "customers", str(path), "--json"], env=env)
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["imported"], summary["duplicates"], summary["rejected"]) == (2, 0, 1)
    assert summary["errors"] == [
        {"line": 2, "field": "marketing_consent", "message": summary["errors"][0]["message"]}
    ]
    again = runner.invoke(app, ["import", "customers", str(path)], env=env)
    assert again.exit_code == 1
    assert "0 imported" in again.stdout and "2 duplicates" in again.stdout
    assert f"{path}:2: marketing_consent" in again.stderr


def test_clean_import_exits_zero_and_status_counts(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        json.dumps(
            {
                "conversation_id": "c1",
                "customer_id": "u1",
                "source": "chat_widget",
                "messages": [
                    {"id": "m1", "role": "bot", "text": "Hi!", "sent_at": "2026-11-01T10:00:00Z"},
                    {
                        "id": "m2",
                        "role": "customer",
                        "text": "I run a bakery",
                        "sent_at": "2026-11-01T10:01:00Z",
                    },
                ],
            }
        )
        + "\n"
    )
    stored = runner.invoke(app, ["ingest", str(path), "--no-wait"], env=env)
    assert stored.exit_code == 0, stored.output
    status = json.loads(runner.invoke(app, ["status", "--json"], env=env).stdout)
    assert (status["conversations"], status["messages"], status["backlog"]) == (1, 2, 1)
    # Without --no-wait, ingest returns once the messages are processed (here: the one left).
    processed = runner.invoke(app, ["ingest", str(path)], env=env)
    assert processed.exit_code == 0, processed.output
    assert json.loads(runner.invoke(app, ["status", "--json"], env=env).stdout)["backlog"] == 0


def test_missing_file_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", "orders", str(tmp_path / "nope.jsonl")], env=env)
    assert result.exit_code == 2 and "does not exist" in result.output


def test_keys_create_list_and_bad_scope(env: dict[str, str]) -> None:
    created = runner.invoke(
        app, ["keys", "create", "--scope", "ingest", "--name", "widget", "--json"], env=env
    )
    assert created.exit_code == 0
    key = json.loads(created.stdout)["key"]
    assert key.startswith("pk_")
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"], env=env).stdout)
    assert [(k["name"], k["scopes"]) for k in listed] == [("widget", ["ingest"])]
    assert key not in json.dumps(listed)
    bad = runner.invoke(app, ["keys", "create", "--scope", "root"], env=env)
    assert bad.exit_code == 2 and "scopes must be among" in bad.stderr


def test_demo_loads_the_sample_business(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--home", str(tmp_path / "demo"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert all(s["rejected"] == 0 for s in report["imports"].values())
    status = report["status"]
    assert status["customers"] >= 30 and status["orders"] >= 60 and status["conversations"] >= 40
    assert status["messages"] > status["customer_messages"] > 0
    assert report["processed"] == status["customer_messages"] and status["backlog"] == 0
    assert report["intents"] and all(i["customers"] > 0 for i in report["intents"])
    answer = report["search"]["customers"]
    assert answer and all(c["evidence"] for c in answer)
    # cus_006's grinder "keeps jamming", cus_002's "makes a clicking noise".
    assert {"cus_002", "cus_006"} <= {c["customer_id"] for c in answer}
    rerun = runner.invoke(app, ["demo", "--home", str(tmp_path / "demo"), "--json"])
    assert json.loads(rerun.stdout)["status"] == status  # the home is rebuilt, not doubled


def test_a_store_held_by_another_process_is_a_one_line_error(
    env: dict[str, str],
    services: Services,
    encoder: Encoder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `services` holds the embedded store open, as a running `personalize serve` would.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("engine.runtime.load_encoder", lambda settings: encoder)
    monkeypatch.setattr("sys.argv", ["personalize", "search", "grinder noise"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "open in another process" in error and "QDRANT_URL" in error
    assert "Traceback" not in error
