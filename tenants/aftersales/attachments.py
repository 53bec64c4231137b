"""Ticket attachments: what may be uploaded, and the private storage that keeps it.

A file is accepted by its content, not its name or the browser's type: PNG, JPEG, GIF and WebP
images (opened by Pillow), PDF (by signature) and plain UTF-8 text, up to
AFTERSALES_ATTACHMENT_MAX_BYTES each and AFTERSALES_ATTACHMENTS_PER_MESSAGE per message. Files
are stored under PRIVATE_MEDIA_ROOT/aftersales/<site schema>/<ticket id>/ with a random name;
the storage has no URL, so the only way back to a file is a ticket view that checked access.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

# Pillow's format name -> (content type, extension).
IMAGE_TYPES = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
PDF = ("application/pdf", "pdf")
TEXT = ("text/plain", "txt")
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


class PrivateStorage(FileSystemStorage):
    """File system storage without a URL: files are served by the ticket views only."""

    def url(self, name: str | None) -> str:
        raise ValueError("Ticket attachments have no public URL.")


@cache
def _storage(root: str) -> PrivateStorage:
    return PrivateStorage(location=root, base_url=None)


def private_storage() -> PrivateStorage:
    # Looked up per call so that a changed PRIVATE_MEDIA_ROOT (tests) is honoured.
    return _storage(str(settings.PRIVATE_MEDIA_ROOT))


@dataclass(frozen=True)
class CheckedFile:
    """An upload that passed the checks, read into memory (small by construction)."""

    name: str
    content_type: str
    extension: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _sniff(data: bytes) -> tuple[str, str] | None:
    if data.startswith(b"%PDF-"):
        return PDF
    if (
        data[:8] == b"\x89PNG\r\n\x1a\n"
        or data[:3] == b"\xff\xd8\xff"
        or data[:4] == b"GIF8"
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    ):
        return _image_type(data)
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return TEXT


def _image_type(data: bytes) -> tuple[str, str] | None:
    import io

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()  # a truncated or forged image fails here
            found = image.format or ""
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return IMAGE_TYPES.get(found)


def _clean_name(raw: str, extension: str) -> str:
    stem = PurePosixPath(raw.replace("\\", "/")).stem
    stem = _UNSAFE_NAME.sub("_", stem).strip(" ._")[:80] or "file"
    return f"{stem}.{extension}"


def attachments_check(files: Sequence[UploadedFile]) -> list[CheckedFile]:
    """Read and check every upload; ValidationError (nothing kept) if any is refused."""
    limit = settings.AFTERSALES_ATTACHMENT_MAX_BYTES
    most = settings.AFTERSALES_ATTACHMENTS_PER_MESSAGE
    if len(files) > most:
        raise ValidationError(
            {"attachments": _("Attach at most %(n)s files to one message.") % {"n": most}}
        )
    checked: list[CheckedFile] = []
    for upload in files:
        name = str(upload.name or "file")
        size = upload.size or 0
        if size > limit:
            raise ValidationError(
                {
                    "attachments": _("%(name)s is too large: files may be %(max)s at most.")
                    % {"name": name[:80], "max": filesizeformat(limit)}
                }
            )
        upload.seek(0)
        data = upload.read(limit + 1)
        if len(data) > limit:  # the announced size was wrong
            raise ValidationError(
                {
                    "attachments": _("%(name)s is too large: files may be %(max)s at most.")
                    % {"name": name[:80], "max": filesizeformat(limit)}
                }
            )
        if not data:
            raise ValidationError({"attachments": _("%(name)s is empty.") % {"name": name[:80]}})
        kind = _sniff(data)
        if kind is None:
            raise ValidationError(
                {
                    "attachments": _(
                        "%(name)s is not an accepted file: send an image (PNG, JPEG, GIF, "
                        "WebP), a PDF or a plain text file."
                    )
                    % {"name": name[:80]}
                }
            )
        content_type, extension = kind
        checked.append(CheckedFile(_clean_name(name, extension), content_type, extension, data))
    return checked


def attachment_store(*, schema: str, ticket_id: int, file: CheckedFile) -> str:
    """Write the file to private storage; returns its storage path."""
    path = f"aftersales/{schema}/{ticket_id}/{secrets.token_hex(16)}.{file.extension}"
    return private_storage().save(path, ContentFile(file.data))


def attachment_discard(path: str) -> None:
    """Remove a stored file (its database rows were rolled back)."""
    private_storage().delete(path)
