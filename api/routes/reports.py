"""Reports: how each campaign step did per arm, and whether personal emails earned more."""

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import DatabaseDep, MarketerKey, SettingsDep
from chat_ingest.schemas import Timestamp
from engine.errors import InvalidInput
from engine.measure.report import FlowReport, flow_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/flows", response_model=FlowReport)
def get_flow_report(
    db: DatabaseDep,
    settings: SettingsDep,
    _: MarketerKey,
    since: Annotated[
        Timestamp | None,
        Query(description="Entries entered at or after this time, with a timezone."),
    ] = None,
    until: Annotated[
        Timestamp | None,
        Query(description="Entries entered before this time, with a timezone."),
    ] = None,
) -> FlowReport:
    """Per campaign step and arm (personal, generic, holdout): recipients, delivered, clicks,
    attributed orders, conversion, revenue, and unsubscribe, complaint and bounce rates; the
    personal arm's lift over the others with a 95% interval ("need more data" while it spans
    zero). Orders not attributed yet are attributed first, by the rule the report states."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("must come after since", field="until")
    with db.write() as session:
        return flow_report(
            session,
            since=since,
            until=until,
            click_days=settings.attribution_click_days,
            delivered_days=settings.attribution_delivered_days,
        )
