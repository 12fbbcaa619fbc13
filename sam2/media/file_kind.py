"""What kind of file this is, from its first bytes, to refuse the wrong kind by name.

A user who uploads ``logo.svg`` as an image or ``report.pdf`` as a video should hear
"logo.svg is an SVG file (vector graphics)", not a decoder's complaint. The file name's
extension is not trusted (a text file renamed ``.png`` is still text); the content is.
Only what the loaders need is recognised; anything else is ``unknown`` and left to the
decoders to accept or refuse.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Union

#: Bytes read from the start of a file to recognise it.
HEAD_BYTES = 4096


@dataclass(frozen=True)
class FileKind:
    """``category``: image, video, audio, vector, document, archive, web, text or unknown."""

    category: str
    description: str  # "an SVG file (vector graphics)", to follow "photo.svg is ..."


UNKNOWN = FileKind("unknown", "a file of unknown type")

_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x00\x00\x01\x00", "an ICO image"),
)
_OTHER_MAGIC = (
    (b"%PDF", FileKind("document", "a PDF document")),
    (b"PK\x03\x04", FileKind("archive", "a ZIP archive (or an Office document)")),
    (b"\x1f\x8b", FileKind("archive", "a gzip archive")),
    (b"7z\xbc\xaf\x27\x1c", FileKind("archive", "a 7-Zip archive")),
    (b"Rar!", FileKind("archive", "a RAR archive")),
    (b"\x1a\x45\xdf\xa3", FileKind("video", "a Matroska / WebM video")),
    (b"ID3", FileKind("audio", "an MP3 audio file")),
    (b"fLaC", FileKind("audio", "a FLAC audio file")),
)
# Ogg: the first packet of each stream names its codec. A video stream makes it a video.
_OGG_VIDEO_CODECS = (
    (b"\x80theora", "Theora"),
    (b"OVP80", "VP8"),
    (b"\x80daala", "Daala"),
    (b"BBCD\x00", "Dirac"),
    (b"\x01video", "OGM video"),
)
_OGG_AUDIO_CODECS = (
    (b"OpusHead", "Opus"),
    (b"\x01vorbis", "Vorbis"),
    (b"\x7fFLAC", "FLAC"),
    (b"Speex   ", "Speex"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}


def sniff(head: bytes) -> FileKind:
    """The kind of a file whose first bytes (``HEAD_BYTES`` are enough) are ``head``."""
    for magic, description in _IMAGE_MAGIC:
        if head.startswith(magic):
            return FileKind("image", description)
    if head[:4] == b"RIFF" and len(head) >= 12:
        form = head[8:12]
        if form == b"WEBP":
            return FileKind("image", "a WebP image")
        if form == b"AVI ":
            return FileKind("video", "an AVI video")
        if form == b"WAVE":
            return FileKind("audio", "a WAV audio file")
    if head[4:8] == b"ftyp":
        if head[8:12] in _HEIF_BRANDS:
            return FileKind("image", "a HEIC / AVIF photo")
        if head[8:11] == b"M4A":
            return FileKind("audio", "an M4A audio file")
        return FileKind("video", "an MP4 / MOV video")
    if head.startswith(b"OggS"):
        return _sniff_ogg(head)
    for magic, kind in _OTHER_MAGIC:
        if head.startswith(magic):
            return kind
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return FileKind("vector", "an SVG file (vector graphics)")
    if text.startswith((b"<!doctype html", b"<html")):
        return FileKind("web", "an HTML page")
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the end of the head
                return UNKNOWN
        return FileKind("text", "a text file")
    return UNKNOWN


def _ogg_first_packets(head: bytes) -> list:
    """The payload starts of the beginning-of-stream pages at the head of an Ogg file.

    Every logical stream (video, audio, metadata) opens with a page flagged "beginning of
    stream" whose first packet identifies its codec, and all those pages come before any
    other page; so walking the pages until the first one without the flag finds them all.
    """
    starts = []
    at = 0
    while head[at:at + 4] == b"OggS" and at + 27 <= len(head):
        header_type = head[at + 5]
        if not header_type & 0x02:  # no longer a beginning-of-stream page
            break
        segments = head[at + 26]
        body = at + 27 + segments
        if body > len(head):
            break
        size = sum(head[at + 27:body])
        starts.append(head[body:body + size])
        at = body + size
    return starts


def _sniff_ogg(head: bytes) -> FileKind:
    """An Ogg file is a video if one of its streams is, audio if all known ones are audio."""
    video, audio = [], []
    for packet in _ogg_first_packets(head):
        video += [name for magic, name in _OGG_VIDEO_CODECS if packet.startswith(magic)]
        audio += [name for magic, name in _OGG_AUDIO_CODECS if packet.startswith(magic)]
    if video:
        return FileKind("video", f"an Ogg video ({', '.join(dict.fromkeys(video))})")
    if audio:
        return FileKind("audio", f"an Ogg audio file ({', '.join(dict.fromkeys(audio))})")
    # Codec not recognised (or the head cut short): not refused here, the video decoder decides.
    return FileKind("video", "an Ogg file")


def sniff_file(source: Union[str, os.PathLike, bytes, bytearray]) -> FileKind:
    """``sniff`` of a file path or of bytes in memory; ``UNKNOWN`` when it cannot be read."""
    if isinstance(source, (bytes, bytearray)):
        return sniff(bytes(source[:HEAD_BYTES]))
    try:
        with open(source, "rb") as f:
            return sniff(f.read(HEAD_BYTES))
    except OSError:
        return UNKNOWN
