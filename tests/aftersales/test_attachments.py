"""Attachments: only images, PDF and plain text within the size limit are kept (a refusal
writes nothing, no row and no file); files are private: only the ticket's buyer and the site's
staff can fetch them, never through /media/, and another buyer, another site's buyer or staff,
or another site's ticket id gets a 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from shared.sites.models import Site
from tenants.aftersales.models import Attachment
from tests.aftersales.conftest import (
    Shop,
    client_on,
    guest_buys,
    member_buys,
    new_member,
    png,
    staff_client,
    stored_files,
    ticket_id_of,
)
from tests.conftest import Network

BAD_FILES = [
    ("page.html.png", b"<html><script>alert(1)</script></html>\x00", "image/png"),  # not an image
    ("fake.png", b"\x89PNG\r\n\x1a\nnot really a png", "image/png"),  # forged signature
    ("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00", "application/octet-stream"),
    ("empty.txt", b"", "text/plain"),
]


@pytest.mark.parametrize(("name", "content", "content_type"), BAD_FILES)
def test_refused_types_write_nothing(
    alpha: Site,
    shop: Shop,
    state,
    private_media: Path,
    name: str,
    content: bytes,
    content_type: str,
) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    client = client_on(alpha, buyer)
    before = state(alpha)
    response = client.post(
        f"/support/new/{number}/",
        {
            "kind": "other",
            "message": "See the file.",
            "attachments": [
                png("ok.png"),
                SimpleUploadedFile(name, content, content_type=content_type),
            ],
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "is not an accepted file" in text or "is empty" in text
    assert state(alpha) == before and stored_files(private_media) == []


def test_too_large_and_too_many_files_are_refused(
    alpha: Site, shop: Shop, state, private_media: Path, settings
) -> None:
    settings.AFTERSALES_ATTACHMENT_MAX_BYTES = 2048
    settings.AFTERSALES_ATTACHMENTS_PER_MESSAGE = 2
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    client = client_on(alpha, buyer)
    ticket_id = ticket_id_of(
        client.post(f"/support/new/{number}/", {"kind": "other", "message": "Hello."})
    )
    before = state(alpha)
    big = SimpleUploadedFile("log.txt", b"a" * 2049, content_type="text/plain")
    response = client.post(f"/support/{ticket_id}/reply/", {"body": "Log.", "attachments": [big]})
    assert response.status_code == 400 and "is too large" in response.content.decode()
    many = [png(f"{n}.png") for n in range(3)]
    response = client.post(f"/support/{ticket_id}/reply/", {"body": "Shots.", "attachments": many})
    assert response.status_code == 400 and "at most 2 files" in response.content.decode()
    assert state(alpha) == before and stored_files(private_media) == []

    fine = [
        SimpleUploadedFile("log.txt", "日志 ok\n".encode(), content_type="text/plain"),
        SimpleUploadedFile(
            "r.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\n", content_type="x/y"
        ),
    ]
    assert (
        client.post(
            f"/support/{ticket_id}/reply/", {"body": "Files.", "attachments": fine}
        ).status_code
        == 302
    )
    with tenant_context(alpha):
        kept = list(
            Attachment.objects.filter(ticket_id=ticket_id).values_list("name", "content_type")
        )
    assert kept == [("log.txt", "text/plain"), ("r.pdf", "application/pdf")]
    files = stored_files(private_media)
    assert len(files) == 2
    assert all(f"aftersales/{alpha.schema_name}/{ticket_id}/" in str(f) for f in files)


def test_attachments_are_private(
    network: Network, alpha: Site, shop: Shop, private_media: Path, state
) -> None:
    buyer = new_member(alpha, funds="50.00")
    number = member_buys(alpha, buyer, shop.card.pk)
    owner = client_on(alpha, buyer)
    ticket_id = ticket_id_of(
        owner.post(
            f"/support/new/{number}/",
            {"kind": "other", "message": "Screenshot attached.", "attachments": [png()]},
        )
    )
    with tenant_context(alpha):
        attachment = Attachment.objects.get(ticket_id=ticket_id)
    buyer_url = f"/support/{ticket_id}/files/{attachment.pk}/"
    staff_url = f"/console/tickets/{ticket_id}/files/{attachment.pk}/"
    response = owner.get(buyer_url)
    assert response.status_code == 200 and response["X-Content-Type-Options"] == "nosniff"
    assert "private" in response["Cache-Control"]
    assert staff_client(alpha).get(staff_url).status_code == 200

    refused = [
        (client_on(alpha), buyer_url),  # a stranger
        (client_on(alpha, new_member(alpha)), buyer_url),  # another buyer of the site
        (client_on(alpha, new_member(alpha)), f"/support/{ticket_id}/"),
        (client_on(network.beta, new_member(network.beta)), buyer_url),  # another site's buyer
        (staff_client(network.beta), staff_url),  # another site's staff
        (staff_client(network.beta), f"/console/tickets/{ticket_id}/"),
        (owner, f"/support/{ticket_id}/files/{attachment.pk + 1000}/"),
        (owner, f"/media/{attachment.path}"),  # never under the public media URL
        (client_on(alpha), f"/media/{attachment.path}"),
    ]
    for client, url in refused:
        response = client.get(url)
        assert response.status_code == 404, (url, response.status_code)
    # Nobody else may act on the ticket either: another buyer, another site's buyer or staff.
    before = state(alpha)
    beta_staff = staff_client(network.beta)
    for client, url, data in [
        (client_on(alpha, new_member(alpha)), f"/support/{ticket_id}/reply/", {"body": "hi"}),
        (client_on(network.beta, new_member(network.beta)), f"/support/new/{number}/", {}),
        (beta_staff, f"/console/tickets/{ticket_id}/reply/", {"body": "hi"}),
        (beta_staff, f"/console/tickets/{ticket_id}/reject/", {"reason": "no"}),
        (beta_staff, f"/console/tickets/{ticket_id}/refund/", {"whole": "on", "reason": "x"}),
    ]:
        assert client.post(url, {"kind": "other", "message": "x", **data}).status_code == 404, url
    assert state(alpha) == before


def test_guest_needs_the_order_lookup(alpha: Site, shop: Shop) -> None:
    guest = guest_buys(alpha, shop.card.pk, email="g2@buyer.test")
    ticket_id = ticket_id_of(
        guest.client.post(
            f"/support/new/{guest.number}/",
            {"kind": "other", "message": "Question.", "attachments": [png()]},
        )
    )
    assert guest.client.get("/support/").status_code == 200
    assert f'data-ticket="{ticket_id}"' in guest.client.get("/support/").content.decode()
    stranger = client_on(alpha)
    assert stranger.get(f"/support/{ticket_id}/").status_code == 404
    assert stranger.get(f"/support/new/{guest.number}/").status_code == 404
    assert f'data-ticket="{ticket_id}"' not in stranger.get("/support/").content.decode()
