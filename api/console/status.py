"""Console pages: status, in plain words: what is stored, how far behind reading the chats is,
and the review webhook and sending queues."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.console.auth import ViewerDep
from api.console.pages import render
from api.deps import DatabaseDep, SettingsDep
from engine.email.sender import sending_summary
from engine.outbox import outbox_summary
from engine.status import read_findings, read_processing_queue, read_status

router = APIRouter(prefix="/app")

# Draft statuses as the page names them, in the order a draft goes through them.
DRAFT_LABELS = {
    "pending_review": "Waiting for review",
    "needs_attention": "Need fixing before review",
    "approved": "Approved",
    "sent": "Sent",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn (the customer stopped consenting)",
}
TRANSPORTS = {
    "none": "Sending is off (EMAIL_TRANSPORT is none): approved emails wait here until it is set.",
    "smtp": "Approved emails go out through your mail server (SMTP).",
    "webhook": "Approved emails are handed to your sending service (webhook).",
}


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(
    request: Request, viewer: ViewerDep, db: DatabaseDep, settings: SettingsDep
) -> HTMLResponse:
    """Counts, the processing backlog, and the webhook and sending queues."""
    with db.read() as session:
        counts = read_status(session)
        processing = read_processing_queue(session)
        findings = read_findings(session)
        webhook = outbox_summary(session)
        sending = sending_summary(session)
    return render(
        request,
        "status.html",
        viewer=viewer,
        title="Status",
        counts=counts,
        processing=processing,
        findings=findings,
        webhook=webhook,
        webhook_on=bool(settings.review_webhook_url),
        sending=sending,
        transport=TRANSPORTS.get(settings.email_transport, settings.email_transport),
        draft_labels=DRAFT_LABELS,
    )
