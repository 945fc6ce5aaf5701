"""OpenAPI pieces of the intake API that the handler signature cannot say itself.

``POST /api/v1/feedback`` takes JSON or multipart (the handler reads either), so its request body
is declared here, once per media type, from the same limits the validation uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

TYPES = ["complaint", "suggestion", "inquiry"]


PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"  # tab and line breaks are fine, other controls not
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f][^\x00-\x08\x0b\x0c\x0e-\x1f]*$"


def _str(max_length: int, description: str, **extra: Any) -> Schema:
    extra.setdefault("pattern", PRINTABLE)
    return Schema(type=OpenAPIType.STRING, max_length=max_length, description=description, **extra)


def _fields(anonymous: Schema) -> dict[str, Schema]:
    return {
        "type": Schema(type=OpenAPIType.STRING, enum=TYPES, description="投诉 / 建议 / 咨询"),
        "content": _str(20_000, "反馈内容 What the customer says", min_length=1, pattern=TEXT),
        "name": _str(64, "称呼 Name (dropped when anonymous)"),
        "contact": _str(128, "联系方式 Phone or e-mail; required unless anonymous"),
        "anonymous": anonymous,
        "app_version": _str(64, "App version"),
        "device": _str(128, "Device model / OS"),
        "locale": _str(16, "Locale, e.g. zh-CN", pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$"),
    }


JSON_ATTACHMENT = Schema(
    type=OpenAPIType.OBJECT,
    required=["name", "data"],
    properties={
        "name": Schema(type=OpenAPIType.STRING, max_length=255, description="File name (a label only)"),
        "data": Schema(type=OpenAPIType.STRING, content_encoding="base64", description="File content, base64"),
    },
    additional_properties=False,
)

def _contact_or_anonymous(anonymous: Any) -> list[Schema]:
    """A contact with something in it, or the anonymous flag set (as the handler requires)."""
    return [
        Schema(required=["contact"], properties={"contact": Schema(type=OpenAPIType.STRING, pattern=TEXT)}),
        Schema(required=["anonymous"], properties={"anonymous": Schema(const=anonymous)}),
    ]


JSON_BODY = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "content"],
    any_of=_contact_or_anonymous(True),
    properties={
        **_fields(Schema(type=OpenAPIType.BOOLEAN, description="匿名 Anonymous: a personal reply may not be possible")),
        "attachments": Schema(type=OpenAPIType.ARRAY, items=JSON_ATTACHMENT, max_items=50),
    },
    additional_properties=False,
)

MULTIPART_BODY = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "content"],
    any_of=_contact_or_anonymous("true"),
    properties={
        **_fields(Schema(type=OpenAPIType.STRING, enum=["true", "false"], description="匿名 Anonymous")),
        "attachments": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=OpenAPIType.STRING, content_media_type="application/octet-stream"),
            description="Pictures, video, voice notes (type checked from the content)",
        ),
    },
    additional_properties=False,
)


@dataclass
class FeedbackOperation(Operation):
    """The submit operation with both request body media types."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="反馈 Feedback, as JSON (attachments base64) or multipart/form-data (files)",
            content={
                "application/json": OpenAPIMediaType(schema=JSON_BODY),
                "multipart/form-data": OpenAPIMediaType(schema=MULTIPART_BODY),
            },
        )
