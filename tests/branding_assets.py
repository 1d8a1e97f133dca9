"""Images for the branding tests: a clean PNG, WebP and SVG, and a corpus of hostile SVGs."""

from __future__ import annotations

import struct
import zlib


def png(rgb: tuple[int, int, int] = (11, 87, 208), size: int = 4) -> bytes:
    """A real PNG of one colour (browsers draw it)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# A lossless 1x1 WebP.
WEBP = bytes.fromhex("524946461a000000574542505650384c0d0000002f0000001007101111888808fe0700")

CLEAN_SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    b' viewBox="0 0 40 10" width="160" height="40">'
    b'<defs><linearGradient id="g"><stop offset="0" stop-color="#c2185b"/></linearGradient></defs>'
    b"<style>.mark { fill: url(#g); }</style>"
    b'<rect class="mark" width="40" height="10"/><use xlink:href="#g"/>'
    b"<title>Acme</title></svg>"
)

_SVG = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">{}</svg>'

# Each hostile SVG with the error code that refuses it.
HOSTILE_SVGS: dict[str, tuple[bytes, str]] = {
    "script": (_SVG.format("<script>alert(1)</script>").encode(), "branding.svg_script"),
    "script in a namespace prefix": (
        b'<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:script>alert(1)</s:script></s:svg>',
        "branding.svg_script",
    ),
    "onload": (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "branding.svg_event_handler",
    ),
    "onclick on a child": (
        _SVG.format('<rect ONCLICK="alert(1)"/>').encode(),
        "branding.svg_event_handler",
    ),
    "javascript href": (
        _SVG.format('<a href="javascript:alert(1)"><rect/></a>').encode(),
        "branding.svg_javascript",
    ),
    "javascript xlink:href with a tab": (
        _SVG.format('<a xlink:href=" java&#9;script:alert(1)"><rect/></a>').encode(),
        "branding.svg_javascript",
    ),
    "animate sets a javascript href": (
        _SVG.format('<a><animate attributeName="href" values="javascript:alert(1)"/></a>').encode(),
        "branding.svg_javascript",
    ),
    "foreignObject": (
        _SVG.format(
            '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>'
        ).encode(),
        "branding.svg_foreign_object",
    ),
    "external image": (
        _SVG.format('<image href="https://evil.example/track.png"/>').encode(),
        "branding.svg_external_reference",
    ),
    "protocol-relative use": (
        _SVG.format('<use xlink:href="//evil.example/sprite.svg#a"/>').encode(),
        "branding.svg_external_reference",
    ),
    "css import": (
        _SVG.format("<style>@import url(https://evil.example/x.css);</style>").encode(),
        "branding.svg_external_reference",
    ),
    "css url in a style attribute": (
        _SVG.format('<rect style="fill: url(https://evil.example/x)"/>').encode(),
        "branding.svg_external_reference",
    ),
    "css escape": (
        _SVG.format("<style>rect { fill: u\\72l(https://evil.example/x) }</style>").encode(),
        "branding.svg_external_reference",
    ),
    "data html": (
        _SVG.format('<image href="data:text/html;base64,PHNjcmlwdD4="/>').encode(),
        "branding.svg_data_uri",
    ),
    "xxe entity": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>',
        "branding.svg_doctype",
    ),
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE svg ['
        b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
        b']><svg xmlns="http://www.w3.org/2000/svg"><text>&d;&d;&d;&d;</text></svg>',
        "branding.svg_doctype",
    ),
    "doctype in UTF-16": (
        '<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>'.encode(
            "utf-16"
        ),
        "branding.svg_doctype",
    ),
    "stylesheet instruction": (
        b'<?xml-stylesheet href="https://evil.example/x.css"?>'
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        "branding.svg_external_reference",
    ),
    "html root": (b"<html><body>hi</body></html>", "branding.svg_invalid"),
    "not well-formed": (b'<svg xmlns="http://www.w3.org/2000/svg"><rect>', "branding.svg_invalid"),
}
