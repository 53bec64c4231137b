"""The buyer's emails on a real Celery worker: a staff reply and a resolution are sent after
commit and run in the ticket's site schema. Data is committed (a fresh site and catalogue),
since the worker has its own connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from tenants.aftersales.models import Ticket
from tenants.aftersales.services import ticket_reject, ticket_reply
from tests.aftersales.test_concurrency import STAFF, _committed, _setup


def _wait(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail("the worker did not send the email in time")


@pytest.mark.worker
def test_worker_emails_replies_and_resolutions(db: None, celery_worker: Any) -> None:
    site, ticket_id, _key_id = _committed(_setup)
    mail.outbox.clear()

    def reply() -> str:
        with tenant_context(site):
            ticket = Ticket.objects.select_related("order").get(pk=ticket_id)
            ticket_reply(ticket=ticket, body="Which key exactly?", actor=STAFF)
            return ticket.email

    email = _committed(reply)
    message = _wait(lambda: next((m for m in mail.outbox if "Which key" in m.body), None))
    assert message.to == [email] and f"/support/{ticket_id}/" in message.body

    def reject() -> None:
        with tenant_context(site):
            ticket_reject(
                ticket=Ticket.objects.get(pk=ticket_id), reason="Works here.", actor=STAFF
            )

    _committed(reject)
    message = _wait(lambda: next((m for m in mail.outbox if "Works here." in m.body), None))
    assert message.to == [email] and "您的申请未获通过" in message.body  # the site speaks zh-hans
