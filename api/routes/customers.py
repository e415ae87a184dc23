"""One customer: the gated context (everything a drafter may see), updates and consent, and
erasure."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.convertors import PathConvertor, register_url_convertor

from api.deps import (
    AdminKey,
    DatabaseDep,
    IngestKey,
    MarketerKey,
    ServicesDep,
    SettingsDep,
    wake_outbox,
)
from api.schemas import CustomerErased, CustomerUpdated
from chat_ingest.schemas import CustomerUpdate, Timestamp
from chat_ingest.service import update_customer
from engine.customers.consent import unsubscribe
from engine.customers.context import CustomerContext, build_context
from engine.customers.erasure import forget_customer


class CustomerIdConvertor(PathConvertor):
    """A customer id in a path: any characters, "/" (sent as %2F) and line breaks included;
    Starlette's own `path` stops at a line break."""

    regex = "(?s:.+)"


register_url_convertor("customer_id", CustomerIdConvertor())
router = APIRouter(prefix="/v1/customers", tags=["customers"])
# Any stored id is addressable: ids are matched as paths, so one holding "/" (a CRM's
# "team/42", or "../../etc/passwd" typed into a form) is reached by percent-encoding it.
CustomerIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00]+$",
        description="The customer id; encode `/` in it as `%2F`.",
    ),
]


@router.get("/{customer_id:customer_id}/context", response_model=CustomerContext)
def get_context(
    customer_id: CustomerIdPath,
    db: DatabaseDep,
    _: MarketerKey,
    as_of: Annotated[
        Timestamp | None,
        Query(description="The context as it stood at this time, with a timezone (default: now)."),
    ] = None,
) -> CustomerContext:
    """Orders, RFM, lifecycle, recent intents, kept facts with quotes, opt-outs, and blocked
    candidates as counts by reason; 404 for an unknown customer."""
    with db.read() as session:
        return build_context(session, customer_id=customer_id, as_of=as_of)


@router.patch("/{customer_id:customer_id}", response_model=CustomerUpdated)
def patch_customer(
    customer_id: CustomerIdPath, changes: CustomerUpdate, db: DatabaseDep, key: IngestKey
) -> CustomerUpdated:
    """Change the fields given; `consent: false` withdraws marketing consent and takes the
    customer's drafts out of the review queue. 404 for an unknown customer."""
    with db.write() as session:
        customer, withdrawn = update_customer(
            session, customer_id=customer_id, changes=changes, actor=key.name
        )
        return CustomerUpdated(
            customer_id=customer.id,
            marketing_consent=customer.marketing_consent,
            drafts_withdrawn=withdrawn,
        )


@router.post("/{customer_id:customer_id}/unsubscribe", response_model=CustomerUpdated)
def unsubscribe_customer(
    customer_id: CustomerIdPath, db: DatabaseDep, key: MarketerKey
) -> CustomerUpdated:
    """Withdraw the customer's marketing consent now; their drafts waiting for review are
    withdrawn, and no new draft is made for them. Repeating it changes nothing."""
    with db.write() as session:
        withdrawn = unsubscribe(session, customer_id=customer_id, actor=key.name)
    return CustomerUpdated(
        customer_id=customer_id, marketing_consent=False, drafts_withdrawn=withdrawn
    )


@router.delete("/{customer_id:customer_id}", response_model=CustomerErased)
def erase_customer(
    customer_id: CustomerIdPath,
    request: Request,
    services: ServicesDep,
    settings: SettingsDep,
    key: AdminKey,
) -> CustomerErased:
    """Erase the customer everywhere: chats, facts, intents, orders, drafts, their review
    history and webhook deliveries, and their vectors. An audit row records that it happened,
    when and by which key, without the id. The review webhook receiver gets a `drafts.erased`
    event naming the drafts it was sent. 404 when nothing of theirs is stored."""
    report = forget_customer(
        db=services.db,
        store=services.store,
        customer_id=customer_id,
        actor=f"key {key.name} (#{key.id})",
        webhook_url=settings.review_webhook_url,
    )
    erased = CustomerErased(
        erased=True,
        removed=report.removed,
        audit_id=report.audit_id,
        notified_drafts=report.notified_drafts,
    )
    if erased.notified_drafts:
        wake_outbox(request)
    return erased
