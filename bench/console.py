"""Server time per console page on 10,000 customers and 10,000 drafts: the review queue, a
draft, "customers asking about", a customer, and the status and voice guide pages.

Builds a fresh SQLite home: N synthetic customers of a small shop (bench/campaign.py's store:
orders, a chat each, stated facts, intents, blocked candidates), the sample voice guide, the
three campaigns drafted with the template drafter (topped up with copies of real drafts to
reach --drafts), and a few thousand short customer messages run through the real pipeline (so
"customers asking about" has sentences to find). Then serves the app with uvicorn on loopback
in this process, signs one person in through the form, and times --requests GETs per page
after a warm-up (each page rotating over a sample of drafts, customers and questions). The
time is measured at the client on loopback: the server's time plus a fraction of a
millisecond. Prints p50/p95/max per page; goal: p95 under 200 ms. A page that answers 404 is
reported as "not built" (the console is built page by page).

    .venv/bin/python bench/console.py [--customers 10000] [--drafts 10000] [--chats 2000]
        [--requests 50] [--quick]
"""

import argparse
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn

# Run as a script, bench/ is on the path: its siblings hold the port helper and the shop.
from _net import free_port
from campaign import AS_OF, build_store
from sqlalchemy import func, insert, select

from api.app import create_app
from engine.db import Database
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.drafting.voice import VoiceGuide, set_voice
from engine.models import DRAFT_KINDS, Conversation, Draft, Message
from engine.runtime import Services, build_services
from engine.settings import Settings
from engine.users import create_user

GOAL_MS = 200.0
EMAIL = "bench@console.example"
PASSWORD = "bench console password 1"
# What customers say in the extra chats, and what the search page is asked.
SAID = [
    "my grinder keeps jamming when I grind fine for espresso",
    "the burr grinder makes a clicking noise",
    "do you have a decaf that still tastes like coffee",
    "I'm looking for a low acid coffee for my stomach",
    "my espresso shots run too fast, what grind should I use",
    "can I pause my subscription while I'm away",
    "the kettle arrived with a dent in it",
    "which beans work best with an AeroPress",
    "we're opening a second cafe and need a bigger grinder",
    "do you ship to Canada and how long does it take",
    "I prefer oat milk, which blend works with it",
    "the V60 filters you sent are the wrong size",
]
QUESTIONS = ["grinder jamming", "decaf", "shipping abroad", "espresso shots too fast"]


@dataclass(frozen=True)
class Sizes:
    """How big a home to build and how many requests to time."""

    customers: int
    drafts: int
    chats: int
    requests: int
    warmup: int


def seed_drafts(db: Database, *, wanted: int) -> tuple[int, int]:
    """Draft the three campaigns for real, then copy real drafts (to new steps of the same
    customers) until there are `wanted`; how many were drafted, and how many copied."""
    drafter = TemplateDrafter()
    for kind in DRAFT_KINDS:
        run_campaign(db, drafter=drafter, kind=kind, as_of=AS_OF, actor="bench")
    with db.read() as session:
        have = int(session.scalar(select(func.count()).select_from(Draft)) or 0)
        models = list(session.scalars(select(Draft).order_by(Draft.id).limit(500)))
    missing = wanted - have
    if missing <= 0 or not models:
        return have, 0
    copied = ("customer_id", "kind", "subject", "preheader", "body", "original", "fact_ids")
    rows: list[dict[str, Any]] = []
    for n in range(missing):
        model = models[n % len(models)]
        rows.append(
            {name: getattr(model, name) for name in copied}
            | {
                "step": "bench",
                "anchor": f"bench-{n}",
                "status": "pending_review",
                "evidence": model.evidence,
                "context": model.context,
                "problems": model.problems,
                "drafter": model.drafter,
                "template": model.template,
                "voice_version": model.voice_version,
                "created_at": AS_OF - timedelta(minutes=n),
            }
        )
    with db.write() as session:
        for start in range(0, len(rows), 2000):
            session.execute(insert(Draft), rows[start : start + 2000])
    return have, missing


def seed_chats(db: Database, *, customers: int, chats: int, seed: int = 11) -> None:
    """One short customer message each for `chats` customers, waiting for the pipeline."""
    rng = random.Random(seed)
    conversations, messages = [], []
    for n in range(chats):
        cid = f"cus_{rng.randrange(customers):06d}"
        said = AS_OF - timedelta(days=rng.uniform(1, 80))
        conversations.append(
            {"id": f"bench_conv_{n}", "customer_id": cid, "source": "bench", "started_at": said}
        )
        messages.append(
            {
                "message_id": f"bench_msg_{n}",
                "conversation_id": f"bench_conv_{n}",
                "customer_id": cid,
                "role": "customer",
                "text": rng.choice(SAID),
                "sent_at": said,
                "state": "pending",
            }
        )
    with db.write() as session:
        session.execute(insert(Conversation), conversations)
        session.execute(insert(Message), messages)


def build_home(settings: Settings, sizes: Sizes) -> Services:
    """The shop, its voice, drafts, processed chats and one person; the services over it."""
    db = Database(settings)
    db.migrate()
    started = time.perf_counter()
    build_store(db, customers=sizes.customers)
    sample_voice = Path(__file__).resolve().parents[1] / "engine" / "sample" / "voice.json"
    with db.write() as session:
        set_voice(
            session,
            guide=VoiceGuide.model_validate_json(sample_voice.read_text(encoding="utf-8")),
            actor="bench",
        )
        create_user(session, email=EMAIL, password=PASSWORD, role="admin")
    print(f"built {sizes.customers:,} customers in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    drafted, copied = seed_drafts(db, wanted=sizes.drafts)
    print(
        f"drafted {drafted:,} drafts and copied {copied:,} more "
        f"({drafted + copied:,} in all) in {time.perf_counter() - started:.1f} s"
    )
    seed_chats(db, customers=sizes.customers, chats=sizes.chats)
    started = time.perf_counter()
    services = build_services(settings, db=db)
    print(f"loaded the encoder, spaCy and the intents in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    services.pipeline().run_until_idle()
    print(f"processed {sizes.chats:,} chat messages in {time.perf_counter() - started:.1f} s")
    return services


@contextmanager
def serving(settings: Settings, services: Services) -> Iterator[str]:
    """The app served by uvicorn on loopback, in a thread of this process."""
    app = create_app(settings, services=services, run_worker=False)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def sign_in(client: httpx.Client) -> None:
    """Sign the bench's person in through the form (the client keeps the cookie)."""
    form = client.get("/app/login")
    token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    if token is None:
        raise SystemExit(f"no sign-in form at /app/login (HTTP {form.status_code})")
    answer = client.post(
        "/app/login",
        data={"email": EMAIL, "password": PASSWORD, "login_token": token.group(1), "next": "/app"},
    )
    if answer.status_code != 303:
        raise SystemExit(f"signing in failed: HTTP {answer.status_code}")


def targets(db: Database, *, seed: int = 5) -> dict[str, Callable[[int], str]]:
    """Each page's path for the n-th request, rotating over a sample of drafts, customers and
    questions."""
    rng = random.Random(seed)
    with db.read() as session:
        drafts = list(session.scalars(select(Draft.id).where(Draft.status == "pending_review")))
        said = list(
            session.scalars(select(Message.customer_id).where(Message.state == "processed"))
        )
    draft_ids = rng.sample(drafts, min(50, len(drafts))) or [1]
    customer_ids = rng.sample(said, min(50, len(said))) or ["cus_000000"]
    return {
        "review queue": lambda n: "/app",
        "draft": lambda n: f"/app/drafts/{draft_ids[n % len(draft_ids)]}",
        "customers asking about": lambda n: f"/app/search?q={quote(QUESTIONS[n % len(QUESTIONS)])}",
        "customer": lambda n: f"/app/customers/{quote(customer_ids[n % len(customer_ids)])}",
        "status": lambda n: "/app/status",
        "voice guide": lambda n: "/app/voice",
    }


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values lie (nearest rank)."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def time_page(client: httpx.Client, path: Callable[[int], str], sizes: Sizes) -> str:
    """One page's line of the report: its times, or why there are none."""
    for n in range(sizes.warmup):
        answer = client.get(path(n))
        if answer.status_code == 404:
            return "not built (404)"
        if answer.status_code != 200:
            return f"answered HTTP {answer.status_code} at {path(n)}"
    times = []
    for n in range(sizes.requests):
        started = time.perf_counter()
        answer = client.get(path(n))
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            return f"answered HTTP {answer.status_code} at {path(n)}"
    p95 = percentile(times, 0.95)
    verdict = "meets" if p95 < GOAL_MS else "MISSES"
    return (
        f"p50 {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms  max {max(times):6.1f} ms  "
        f"({len(times)} requests)  {verdict} the goal"
    )


def run(sizes: Sizes) -> None:
    """Build, serve and time every page, and print the report."""
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            personalize_home=Path(home), database_url=None, qdrant_url=None, anthropic_api_key=None
        )
        services = build_home(settings, sizes)
        try:
            pages = targets(services.db)
            with (
                serving(settings, services) as url,
                httpx.Client(base_url=url, timeout=60, follow_redirects=False) as client,
            ):
                sign_in(client)
                results = {name: time_page(client, path, sizes) for name, path in pages.items()}
        finally:
            services.close()
    print(f"console pages, p95 goal under {GOAL_MS:.0f} ms:")
    for name, line in results.items():
        print(f"  {name:<24} {line}")
    timed = [line for line in results.values() if line.startswith("p50")]
    missed = [name for name, line in results.items() if "MISSES" in line or "HTTP" in line]
    print(
        f"{len(timed)} of {len(results)} pages timed; "
        + (f"goal missed on: {', '.join(missed)}" if missed else "every page timed meets the goal")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=2_000, help="customer messages to process")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 200 customers and drafts, 5 requests"
    )
    args = parser.parse_args()
    if args.quick:
        sizes = Sizes(customers=200, drafts=200, chats=40, requests=5, warmup=1)
    else:
        sizes = Sizes(args.customers, args.drafts, args.chats, args.requests, warmup=5)
    run(sizes)


if __name__ == "__main__":
    main()
