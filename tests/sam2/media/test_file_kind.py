"""``sam2.media.file_kind``: an Ogg file is a video when one of its streams is a video.

Hand-made Ogg pages check the page walk (several beginning-of-stream pages, the audio one
first, a head cut short); files written by the app's own ffmpeg (imageio-ffmpeg) check it
on real muxer output.
"""

from __future__ import annotations

import subprocess

import pytest

from sam2.media.file_kind import sniff, sniff_file


def ogg_page(packet: bytes, bos: bool = True, serial: int = 1) -> bytes:
    """One Ogg page holding ``packet`` (the CRC is left zero: sniffing does not check it)."""
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = (b"OggS" + bytes([0, 0x02 if bos else 0]) + bytes(8) + serial.to_bytes(4, "little")
              + bytes(4) + bytes(4) + bytes([len(lacing)]) + bytes(lacing))
    return header + packet


THEORA = b"\x80theora" + bytes(34)
VP8 = b"OVP80" + bytes(21)
VORBIS = b"\x01vorbis" + bytes(23)
OPUS = b"OpusHead" + bytes(11)


@pytest.mark.parametrize("pages, category, description", [
    ([ogg_page(THEORA), ogg_page(VORBIS, serial=2)], "video", "an Ogg video (Theora)"),
    ([ogg_page(OPUS), ogg_page(VP8, serial=2)], "video", "an Ogg video (VP8)"),  # audio stream first
    ([ogg_page(b"fishead\x00" + bytes(56)), ogg_page(THEORA, serial=2)], "video", "an Ogg video (Theora)"),
    ([ogg_page(OPUS), ogg_page(b"\x00" * 300, bos=False)], "audio", "an Ogg audio file (Opus)"),
    ([ogg_page(VORBIS)], "audio", "an Ogg audio file (Vorbis)"),
    # A video stream's header after the first data page is not a stream start: not looked at.
    ([ogg_page(VORBIS), ogg_page(b"\x00" * 40, bos=False), ogg_page(THEORA, serial=2)], "audio",
     "an Ogg audio file (Vorbis)"),
    ([ogg_page(b"unknown codec")], "video", "an Ogg file"),  # left to the video decoder
    ([ogg_page(THEORA)[:20]], "video", "an Ogg file"),  # cut short
])
def test_ogg_streams_decide_between_audio_and_video(pages, category, description):
    kind = sniff(b"".join(pages)[:4096])
    assert (kind.category, kind.description) == (category, description)


def test_a_long_packet_spanning_lacing_values_is_walked_over():
    head = ogg_page(b"fishead\x00" + bytes(600)) + ogg_page(VP8, serial=2)
    assert sniff(head).description == "an Ogg video (VP8)"


@pytest.mark.parametrize("args, category", [
    (["-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-f", "lavfi", "-i", "sine", "-t", "1",
      "-c:v", "libtheora", "-c:a", "libvorbis", "-f", "ogg"], "video"),
    (["-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-f", "lavfi", "-i", "sine", "-t", "1",
      "-map", "1:a", "-map", "0:v", "-c:v", "libtheora", "-c:a", "libopus", "-f", "ogg"], "video"),
    (["-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1", "-c:v", "libvpx", "-f", "ogg"], "video"),
    (["-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "libopus", "-f", "ogg"], "audio"),
    (["-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "libvorbis", "-f", "ogg"], "audio"),
])
def test_ogg_files_written_by_ffmpeg(tmp_path, args, category):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "clip.ogg"
    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args,
                           str(out)], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"this ffmpeg cannot write it: {done.stderr[-200:]}")
    assert sniff_file(out).category == category
