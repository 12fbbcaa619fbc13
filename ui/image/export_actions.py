"""The image tab's downloads, as the session sees them: ``export`` writes the current objects'
mask PNGs, RGBA cutouts and COCO JSON (in the formats of ``ui.image.exports``). A method of
``ImageController`` (mixed in), as the video tab's are (``ui.video.export_actions``).
"""

from __future__ import annotations

from typing import List, Optional

from ui.image import exports as image_exports
from ui.image.slot import ImageSlot


class ExportActions:
    """Downloads: a method of ``ImageController`` (mixed in; it uses its ``run_on``)."""

    def export(self, sid: Optional[str]) -> List[str]:
        """Write mask PNG, RGBA cutout and COCO JSON for the current objects; returns paths.

        Made on demand from the masks as they are now; the files of an earlier export are
        deleted first (the page clears what it offers whenever the masks change)."""

        def act(slot: ImageSlot) -> List[str]:
            slot.state.require_media()
            slot.files.clear("export")
            return image_exports.write_object_files(slot.state, lambda name: slot.files.path(name, "export"))

        return self.run_on(sid, act)


__all__ = ["ExportActions"]
