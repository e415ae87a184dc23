"""The `personalize` command line: imports with summaries and exit codes, keys, status, demo."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app, main
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
    assert {"business", "uses", "pain_point"} <= set(report["facts_by_category"])
    assert {"sensitive", "third_party", "question"} <= set(report["blocked_by_reason"])
    context = report["context"]
    assert context["facts"] and all(f["quote"] for f in context["facts"])
    assert "@" not in json.dumps(context)
    # The main job ends with drafts of all three kinds in the review queue, none failing the
    # grounding check, and two shown side by side with the quotes they rest on.
    campaigns = {c["kind"]: c for c in report["campaigns"]}
    assert set(campaigns) == {"welcome", "post_purchase", "win_back"}
    assert all(c["created"] > 0 and c["needs_attention"] == 0 for c in campaigns.values())
    assert all(not c["failed"] for c in campaigns.values())
    assert sum(report["review_queue"].values()) == sum(c["created"] for c in campaigns.values())
    shown = report["side_by_side"]
    assert len(shown) == 2 and shown[0]["customer_id"] != shown[1]["customer_id"]
    assert any(f["quote"] for e in shown[0]["evidence"] for f in e["facts"])
    # Then it closes the loop: a stand-in reviewer approves the welcome and post-purchase
    # drafts without problems (the win-back ones wait for a person, in the console), the real
    # sender sends them to the demo's loopback SMTP server, a month is simulated, and the flow
    # report shows the arms.
    created = sum(c["created"] for c in campaigns.values())
    left = campaigns["win_back"]["created"]
    held_out = sum(c["held_out"] for c in campaigns.values())
    assert held_out > 0 and sum(c["generic"] for c in campaigns.values()) > 0
    sent = created - left
    assert (report["approved"], report["left_for_review"]) == (sent, left)
    sending = report["sending"]
    assert (sending["sent"], sending["failed"], sending["retrying"]) == (sent, 0, 0)
    assert report["received"]["messages"] == sent
    headers = report["received"]["headers"]
    assert set(headers) == {"From", "To", "Subject", "List-Unsubscribe"}
    assert "hello@kettleandcrumb.example" in headers["From"] and "@" in headers["To"]
    assert headers["List-Unsubscribe"].startswith("<https://mail.kettleandcrumb.example/")
    simulation = report["simulation"]
    assert simulation["simulated"] and simulation["seed"] == 2026
    assert (simulation["sends"], simulation["held_out"]) == (sent, held_out)
    flows = report["report"]
    assert flows["simulated"]
    arms = {(f["kind"], f["step"], a["arm"]): a for f in flows["flows"] for a in f["arms"]}
    assert {arm for _, _, arm in arms} == {"personal", "generic", "holdout"}
    assert sum(a["recipients"] for a in arms.values()) == sent + held_out
    assert sum(a["delivered"] for a in arms.values()) == simulation["delivered"]
    # A handful of customers: no lift is sure of itself, and the report says so.
    lifts = [lift for f in flows["flows"] for lift in f["lifts"]]
    assert lifts and all(lift["verdict"] == "need more data" for lift in lifts)
    assert every_template_draft_passes_the_grounding_check(tmp_path / "demo") == (324, [])
    # Printed for a person, from a rebuilt home.
    rerun = runner.invoke(app, ["demo", "--home", str(tmp_path / "demo")])
    assert rerun.exit_code == 0, rerun.output
    printed = rerun.stdout
    assert "SIMULATED: events and orders below are generated from stated rates, not real" in (
        printed
    )
    assert "as a stand-in for a person" in printed
    assert f"Sent {sent} emails" in printed and f"it received {sent}" in printed
    assert f"leaves the win-back drafts ({left} in all) for you to review" in printed
    assert f"To: {headers['To']}" in printed
    assert "List-Unsubscribe: <https://mail.kettleandcrumb.example/" in printed
    assert "delivered 97% (hard bounce 1%, soft bounce 2%)" in printed
    for kind, step in {(kind, step) for kind, step, _ in arms}:
        assert f"{kind} {step}" in printed
    assert "personal vs generic, conversion:" in printed and "need more data" in printed
    assert "attribution: last click within" in printed
    # The home is rebuilt, not doubled, and the same contexts get the same emails.
    check_rebuilt(tmp_path / "demo", status, shown)


def check_rebuilt(home: Path, status: dict[str, Any], shown: list[dict[str, Any]]) -> None:
    from sqlalchemy import func, select

    from engine.db import Database
    from engine.models import Customer, Draft, Order

    db = Database(Settings(personalize_home=home, database_url=None))
    try:
        with db.read() as session:
            assert (
                session.scalar(select(func.count()).select_from(Customer)) == (status["customers"])
            )
            real = select(func.count()).where(Order.source != "simulated")
            assert session.scalar(real) == status["orders"]
            bodies = [session.get_one(Draft, d["id"]).body for d in shown]
    finally:
        db.dispose()
    assert bodies == [d["body"] for d in shown]


def every_template_draft_passes_the_grounding_check(home: Path) -> tuple[int, list[Any]]:
    """Draft every step of every sequence for every sample customer (whether due or not) and
    run each through the grounding check: a template draft that fails is a bug."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from engine.customers.context import build_context, monetary_cuts
    from engine.db import Database
    from engine.drafting.base import DraftRequest
    from engine.drafting.grounding import check_draft
    from engine.drafting.service import blocked_texts, load_catalog
    from engine.drafting.templates import STEPS, TemplateDrafter
    from engine.drafting.voice import current_voice
    from engine.models import Customer

    db = Database(Settings(personalize_home=home, database_url=None))
    drafter = TemplateDrafter()
    drafted, problems = 0, []
    with db.read() as session:
        catalog, voice, cuts = load_catalog(session), current_voice(session), monetary_cuts(session)
        people = dict(session.execute(select(Customer.id, Customer.email)).all())
        blocked = blocked_texts(session, customer_ids=list(people))
        for customer_id, email in people.items():
            context = build_context(
                session,
                customer_id=customer_id,
                as_of=datetime(2026, 11, 20, tzinfo=UTC),
                cuts=cuts,
            )
            for kind, steps in STEPS.items():
                for step in steps:
                    request = DraftRequest(
                        key=customer_id,
                        kind=kind,
                        step=step,
                        context=context,
                        voice=voice,
                        catalog=catalog,
                    )
                    found = check_draft(
                        content=drafter.draft(request),
                        context=context,
                        catalog=catalog,
                        checks=voice.checks,
                        blocked_texts=blocked.get(customer_id, []),
                        email=email,
                        business=voice.business,
                        voice=voice,
                    )
                    drafted += 1
                    problems += [(customer_id, kind, step, p.message, p.excerpt) for p in found]
    db.dispose()
    return drafted, problems


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


def write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def labelled_transcript(number: int, text: str, labels: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": f"e{number}",
        "customer_id": f"x{number}",
        "messages": [
            {"id": f"e{number}-1", "role": "bot", "text": "Hi! Looks like you're with Acme Ltd."},
            {"id": f"e{number}-2", "role": "customer", "text": text},
        ],
        "labels": labels,
    }


def test_context_command_prints_the_gated_context(env: dict[str, str], tmp_path: Path) -> None:
    """`personalize context ID --json` after an ingest; an unknown id is a one-line error."""
    path = write_lines(
        tmp_path / "t.jsonl",
        [
            {
                "conversation_id": "cc1",
                "customer_id": "p1",
                "messages": [
                    {
                        "id": "cc1-1",
                        "role": "customer",
                        "text": "hi im the office manager, my email is pat@example.com",
                        "sent_at": "2026-11-02T09:00:00Z",
                    }
                ],
            }
        ],
    )
    assert runner.invoke(app, ["ingest", str(path), "--json"], env=env).exit_code == 0
    result = runner.invoke(app, ["context", "p1", "--json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(f["category"], f["value"]) for f in data["facts"]] == [("role", "office manager")]
    assert "pat@example.com" not in result.stdout and "[email]" not in result.stdout
    table = runner.invoke(app, ["context", "p1"], env=env)
    assert "office manager" in table.stdout
    missing = runner.invoke(app, ["context", "nobody"], env=env)
    assert missing.exit_code == 2 and "nobody" in missing.output


def test_eval_facts_reports_recall_and_every_leak(tmp_path: Path) -> None:
    """A labelled set in a fresh home: recall of allowed keywords, and a leak listed (and exit
    1) when a label forbids something the gate keeps."""
    customers = write_lines(
        tmp_path / "c.jsonl", [{"id": f"x{n}", "email": f"x{n}@example.com"} for n in (1, 2, 3)]
    )
    orders = write_lines(
        tmp_path / "o.jsonl",
        [
            {
                "order_id": "xo1",
                "customer_id": "x1",
                "placed_at": "2026-10-01T10:00:00Z",
                "currency": "USD",
                "total": 20,
                "items": [
                    {
                        "sku": "B1",
                        "name": "Beans",
                        "category": "beans",
                        "quantity": 1,
                        "unit_price": 20,
                    }
                ],
            }
        ],
    )
    rows = [
        labelled_transcript(
            1,
            "I run a bakery and since the chemo I can't taste much",
            {
                "allowed": [{"keyword": "bakery", "category": "business"}],
                "forbidden": [
                    {"text": "chemo", "reason": "sensitive"},
                    {"text": "Acme", "reason": "bot_stated"},
                ],
            },
        ),
        labelled_transcript(
            2,
            "my boss Marcus wants the dark roast. please don't email me about grinders",
            {
                "allowed": [{"keyword": "grinders", "category": "opt_out"}],
                "forbidden": [{"text": "Marcus", "reason": "third_party"}],
            },
        ),
        labelled_transcript(
            3,
            "we use a V60 every morning",
            {"allowed": [{"keyword": "V60", "category": "uses"}], "forbidden": []},
        ),
    ]
    for row in rows:
        for i, message in enumerate(row["messages"]):
            message["sent_at"] = f"2026-11-0{i + 1}T10:00:00Z"
    transcripts = write_lines(tmp_path / "t.jsonl", rows)
    args = ["eval", "facts", "--customers", str(customers), "--orders", str(orders)]
    clean = runner.invoke(app, [*args, "--transcripts", str(transcripts), "--json"])
    assert clean.exit_code == 0, clean.output
    report = json.loads(clean.stdout)
    assert (report["leaks"], report["recall"], report["transcripts"]) == (0, 1.0, 3)
    assert report["recall_by_category"]["opt_out"] == {"allowed": 1, "found": 1, "recall": 1.0}
    assert report["forbidden_by_reason"]["sensitive"] == {"labelled": 1, "leaked": 0}
    assert report["blocked_by_reason"]["bot_stated"] == 3
    assert report["blocked_by_reason"]["sensitive"] == 1

    rows[2]["labels"]["forbidden"] = [{"text": "V60", "reason": "negated"}]
    leaky = runner.invoke(
        app, [*args, "--transcripts", str(write_lines(tmp_path / "t2.jsonl", rows)), "--json"]
    )
    assert leaky.exit_code == 1
    [leak] = json.loads(leaky.stdout)["leaked"]
    assert (leak["text"], leak["reason"], leak["found_in_customer"]) == ("V60", "negated", "x3")
    assert leak["field"].startswith("facts[0]")

    rows[0]["labels"]["forbidden"] = [{"text": "x", "reason": "gossip"}]
    bad = runner.invoke(
        app, [*args, "--transcripts", str(write_lines(tmp_path / "t3.jsonl", rows))]
    )
    assert bad.exit_code == 2
    assert "line 1" in bad.output and "gossip" in bad.output


def test_voice_campaign_draft_and_review_commands(env: dict[str, str], tmp_path: Path) -> None:
    from cli.demo import SAMPLE_DIR

    voice = runner.invoke(app, ["voice", "set", str(SAMPLE_DIR / "voice.json"), "--json"], env=env)
    assert voice.exit_code == 0, voice.output
    assert json.loads(voice.stdout)["business"] == "Kettle & Crumb Coffee Co."
    bad = tmp_path / "voice.json"
    bad.write_text(json.dumps({"business": "x", "samples": ["a"], "rules": [], "contrast": []}))
    refused = runner.invoke(app, ["voice", "set", str(bad)], env=env)
    assert refused.exit_code == 2 and "samples" in refused.stderr
    bad.write_bytes(b'{"business": "Caf\xe9"}')  # Latin-1: a traceback before
    refused = runner.invoke(app, ["voice", "set", str(bad)], env=env)
    assert refused.exit_code == 2 and "UTF-8" in refused.stderr
    assert "Traceback" not in refused.output
    people = tmp_path / "customers.jsonl"
    people.write_text(
        "".join(
            json.dumps(
                {
                    "id": cid,
                    "email": f"{cid}@example.com",
                    "first_name": name,
                    "subscribed_at": "2026-11-19T10:00:00Z",
                    "marketing_consent": True,
                }
            )
            + "\n"
            for cid, name in (("v1", "Maya"), ("v2", "Tom"))
        )
    )
    assert runner.invoke(app, ["import", "customers", str(people)], env=env).exit_code == 0
    as_of = ["--as-of", "2026-11-20T09:00:00"]
    run = runner.invoke(app, ["campaign", "run", "--kind", "welcome", *as_of, "--json"], env=env)
    assert run.exit_code == 0, run.output
    report = json.loads(run.stdout)
    assert (report["due"], report["created"], report["needs_attention"]) == (2, 2, 0)
    again = json.loads(
        runner.invoke(
            app, ["campaign", "run", "--kind", "welcome", *as_of, "--json"], env=env
        ).stdout
    )
    assert again["created"] == 0
    table = runner.invoke(app, ["campaign", "run", "--kind", "win_back", *as_of], env=env)
    assert table.exit_code == 0 and "0 due" in table.stdout
    one = runner.invoke(app, ["draft", "v1", "--kind", "welcome", *as_of, "--json"], env=env)
    assert one.exit_code == 0 and json.loads(one.stdout)["created"] is False
    unknown = runner.invoke(app, ["draft", "nobody", "--kind", "welcome"], env=env)
    assert unknown.exit_code == 2 and "nobody" in unknown.stderr
    queue = json.loads(runner.invoke(app, ["review", "list", "--json"], env=env).stdout)
    assert sorted(d["customer_id"] for d in queue) == ["v1", "v2"]
    first, second = queue[0]["id"], queue[1]["id"]
    shown = runner.invoke(app, ["review", "show", str(first)], env=env)
    assert shown.exit_code == 0 and "created by cli" in shown.stdout
    assert runner.invoke(app, ["review", "approve", str(first)], env=env).exit_code == 0
    rejected = runner.invoke(app, ["review", "reject", str(second), "--reason", "dull"], env=env)
    assert rejected.exit_code == 0
    twice = runner.invoke(app, ["review", "approve", str(first)], env=env)
    assert twice.exit_code == 2 and "approved" in twice.stderr
    statuses = json.loads(
        runner.invoke(app, ["review", "list", "--status", "all", "--json"], env=env).stdout
    )
    assert {d["status"] for d in statuses} == {"approved", "rejected"}
    assert runner.invoke(app, ["review", "list", "--json"], env=env).stdout.strip() == "[]"


def test_forget_and_unsubscribe_commands(env: dict[str, str], tmp_path: Path) -> None:
    """`personalize forget ID` erases rows and vectors (one audit row); `unsubscribe ID` works;
    an unknown id is a one-line error."""
    path = write_lines(
        tmp_path / "t.jsonl",
        [
            {
                "conversation_id": f"fc{n}",
                "customer_id": f"f{n}",
                "messages": [
                    {
                        "id": f"fc{n}-1",
                        "role": "customer",
                        "text": "I run a kombucha bar and the card reader will not pair",
                        "sent_at": "2026-11-02T09:00:00Z",
                    }
                ],
            }
            for n in (1, 2)
        ],
    )
    assert runner.invoke(app, ["ingest", str(path), "--json"], env=env).exit_code == 0
    query = ["search", "card reader won't pair", "--json"]
    found = json.loads(runner.invoke(app, query, env=env).stdout)["customers"]
    assert {match["customer_id"] for match in found} == {"f1", "f2"}
    erased = runner.invoke(app, ["forget", "f1", "--json"], env=env)
    assert erased.exit_code == 0, erased.output
    removed = json.loads(erased.stdout)["removed"]
    assert json.loads(erased.stdout)["notified_drafts"] == []  # no review webhook configured
    assert removed["customers"] == 1 and removed["messages"] == 1 and removed["vectors"] >= 1
    found = json.loads(runner.invoke(app, query, env=env).stdout)["customers"]
    assert [match["customer_id"] for match in found] == ["f2"]
    assert runner.invoke(app, ["context", "f1"], env=env).exit_code == 2
    assert runner.invoke(app, ["context", "f2"], env=env).exit_code == 0
    again = runner.invoke(app, ["forget", "f1", "--yes"], env=env)
    assert again.exit_code == 2 and "no customer 'f1'" in again.output
    assert "Traceback" not in again.output

    unsubscribed = runner.invoke(app, ["unsubscribe", "f2", "--json"], env=env)
    assert unsubscribed.exit_code == 0, unsubscribed.output
    assert json.loads(unsubscribed.stdout)["marketing_consent"] is False
    context = json.loads(runner.invoke(app, ["context", "f2", "--json"], env=env).stdout)
    assert context["consent"]["marketing_consent"] is False
    assert runner.invoke(app, ["unsubscribe", "nobody"], env=env).exit_code == 2


def test_the_command_line_starts_without_the_models() -> None:
    """Review, context, status and key commands start in about a second: importing the CLI
    loads no model library (they load in the commands that need them)."""
    heavy = ["spacy", "torch", "sentence_transformers", "sklearn", "qdrant_client", "qdrant_edge"]
    code = f"import sys, cli.app; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
