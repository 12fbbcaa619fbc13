"""Media input/output in one place: images (``images``), videos (``video``), MP4 writing (``mp4``)."""
