"""Which parser reads a file: decided from its content, the file name only breaking ties."""

from __future__ import annotations

from connectors.chat_export.files import ExportFile, read_head, sniff_encoding
from connectors.chat_export.parsers.base import ChatParser
from connectors.chat_export.parsers.generic import GenericParser
from connectors.chat_export.parsers.slack import SlackParser
from connectors.chat_export.parsers.telegram import TelegramParser
from connectors.chat_export.parsers.wechat import WeChatCsvParser, WeChatTxtParser
from connectors.chat_export.parsers.whatsapp import WhatsAppParser
from connectors.chat_export.records import ParseSettings

# name -> parser class; one line per format, duplicates refused at import.
_PARSERS: list[type[ChatParser]] = [
    TelegramParser,
    WhatsAppParser,
    WeChatCsvParser,
    WeChatTxtParser,
    SlackParser,
    GenericParser,
]
PARSERS: dict[str, type[ChatParser]] = {}
for _parser in _PARSERS:
    if _parser.name in PARSERS:
        raise RuntimeError(f"chat export format {_parser.name!r} registered twice")
    PARSERS[_parser.name] = _parser

# The config's ``format`` names a family; WeChat has two layouts.
FAMILIES: dict[str, tuple[str, ...]] = {
    "telegram": ("telegram",),
    "whatsapp": ("whatsapp",),
    "wechat": ("wechat_csv", "wechat_txt"),
    "slack": ("slack",),
    "generic": ("generic",),
}


def detect(file: ExportFile, settings: ParseSettings, family: str = "auto") -> str | None:
    """The name of the parser for ``file``, or None when no parser recognises it."""
    if file.slack_root is not None:
        return "slack"
    raw = read_head(file)
    encoding, skip = sniff_encoding(raw)
    head = raw[skip:].decode(encoding, "replace")
    names = FAMILIES.get(family, tuple(PARSERS))
    scores = [(PARSERS[n].sniff(head, file, settings), n) for n in names]
    score, name = max(scores, key=lambda s: s[0])
    if score <= 0:
        return names[0] if family != "auto" and len(names) == 1 else None
    return name
