"""Images managers upload for the login pages: PNG, WebP and SVG, recognised by their content.

An SVG is served to browsers from zitui's own origin, so one that could run a script, load
something from elsewhere or expand entities is refused, with the reason as the error code.
"""

from __future__ import annotations

import re
from xml.parsers import expat

from zitui.errors import InvalidArgument

PNG = "image/png"
WEBP = "image/webp"
SVG = "image/svg+xml"
CONTENT_TYPES = (PNG, WEBP, SVG)
MAX_BYTES = 512 * 1024
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
# Elements that run code or embed a document of another kind.
_CODE_ELEMENTS = {"script": "script", "handler": "script", "foreignobject": "foreign_object"}
_EMBEDDING_ELEMENTS = frozenset({"iframe", "embed", "object"})
_REFERENCE_ATTRIBUTES = frozenset({"href", "src"})
# Inline images may be embedded; an SVG inside an SVG is one more document to check: refused.
_DATA_IMAGE = re.compile(r"data:image/(png|webp|jpeg|gif);base64,[a-z0-9+/=\s]*", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*([^'\")\s]*)", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def content_type(data: bytes) -> str:
    """The type of an uploaded image, from its bytes; anything else is refused.

    Raises InvalidArgument with code `branding.asset_empty`, `branding.asset_too_large`,
    `branding.asset_type` or, for an SVG, one of `check_svg`'s codes.
    """
    if not data:
        raise _refused("asset_empty", "the file is empty")
    if len(data) > MAX_BYTES:
        raise _refused("asset_too_large", f"the file is larger than {MAX_BYTES // 1024} KiB")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if _looks_like_xml(data):
        check_svg(data)
        return SVG
    raise _refused("asset_type", "the file is not a PNG, WebP or SVG image")


def check_svg(data: bytes) -> None:
    """Refuse an SVG that is not well-formed, declares a DOCTYPE or entities, runs scripts
    (`<script>`, `on*` attributes, `javascript:` links), embeds other documents, or refers
    to anything outside itself (links, `<use>` of other files, CSS `url()` and `@import`)."""
    checker = _SvgChecker()
    parser = expat.ParserCreate(namespace_separator=" ")
    # No DTD, no entities of any kind: this stops XXE and entity expansion ("billion laughs")
    # before anything is expanded, whatever the document's encoding.
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _no_doctype
    parser.EntityDeclHandler = _no_entities
    parser.ExternalEntityRefHandler = _no_external_entities
    parser.ProcessingInstructionHandler = _no_instructions
    parser.StartElementHandler = checker.start
    parser.EndElementHandler = checker.end
    parser.CharacterDataHandler = checker.text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise _refused("svg_invalid", f"the SVG is not well-formed XML ({exc})") from None
    if not checker.saw_root:
        raise _refused("svg_invalid", "the file holds no <svg> element")


class _SvgChecker:
    def __init__(self) -> None:
        self.saw_root = False
        self.in_style = 0

    def start(self, name: str, attributes: dict[str, str]) -> None:
        namespace, local = _split(name)
        if not self.saw_root:
            if local != "svg" or namespace not in ("", SVG_NAMESPACE):
                raise _refused("svg_invalid", "the document's root element is not <svg>")
            self.saw_root = True
        lowered = local.lower()
        if lowered in _CODE_ELEMENTS:
            reason = _CODE_ELEMENTS[lowered]
            raise _refused(f"svg_{reason}", f"the SVG holds a <{local}> element")
        if lowered in _EMBEDDING_ELEMENTS:
            raise _refused("svg_foreign_object", f"the SVG embeds a document (<{local}>)")
        if lowered == "style":
            self.in_style += 1
        for attribute, value in attributes.items():
            _check_attribute(_split(attribute)[1].lower(), value)

    def end(self, name: str) -> None:
        if _split(name)[1].lower() == "style":
            self.in_style -= 1

    def text(self, data: str) -> None:
        if self.in_style:
            _check_css(data)


def _check_attribute(name: str, value: str) -> None:
    if name.startswith("on"):
        raise _refused("svg_event_handler", f"the SVG has an event handler attribute ({name})")
    compact = _INVISIBLE.sub("", value).lower()
    if "javascript:" in compact or "vbscript:" in compact:
        raise _refused("svg_javascript", "the SVG holds a javascript: link")
    if name in _REFERENCE_ATTRIBUTES:
        _check_reference(value)
    if name == "style" or "url(" in compact:
        _check_css(value)


def _check_reference(value: str) -> None:
    target = value.strip()
    if target.startswith("#"):
        return
    if target.lower().startswith("data:"):
        if _DATA_IMAGE.fullmatch(target):
            return
        raise _refused("svg_data_uri", "the SVG holds a data: link that is not an image")
    raise _refused(
        "svg_external_reference", f"the SVG refers to something outside it ({target[:80]})"
    )


def _check_css(css: str) -> None:
    # CSS escapes (`u\72l(`) could spell what the checks below look for: none are needed.
    if "\\" in css:
        raise _refused("svg_external_reference", "the SVG's style holds CSS escapes")
    if "@import" in css.lower():
        raise _refused("svg_external_reference", "the SVG's style imports another stylesheet")
    for target in _CSS_URL.findall(css):
        if not target.startswith("#"):
            raise _refused(
                "svg_external_reference", "the SVG's style refers to something outside it"
            )


def _no_doctype(*_: object) -> None:
    raise _refused("svg_doctype", "the SVG declares a DOCTYPE (entities are not accepted)")


def _no_entities(*_: object) -> None:
    raise _refused("svg_doctype", "the SVG declares entities")


def _no_external_entities(*_: object) -> int:
    raise _refused("svg_doctype", "the SVG refers to an external entity")


def _no_instructions(target: str, _data: str) -> None:
    raise _refused("svg_external_reference", f"the SVG holds a processing instruction ({target})")


def _split(name: str) -> tuple[str, str]:
    namespace, _, local = name.rpartition(" ")
    return namespace, local


def _looks_like_xml(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") or head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _refused(reason: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"branding.{reason}", message, field="file")
