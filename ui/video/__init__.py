"""The video side, in the same roles as the image side (state, engine, controller, view, exports,
find, tab, api) plus the clip's media, tracking runs, rendering and full-size export."""
