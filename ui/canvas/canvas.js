// PromptCanvas, browser side. Gradio runs this body once per component with
// (element, trigger, props, server, upload, watch) in scope; see component.py for the events
// and scene.py for the update messages. Two stacked canvases: the picture (or the current
// video frame), redrawn only when it changes, and above it the overlay that takes the pointer:
// the masks (PNGs already in their colours), the prompts and the rubber band.
// The settings come with this code (component.py puts CANVAS_CONFIG in front of it): the
// component's props can lack them when it is mounted in a tab that is not shown yet.
const cfg = (typeof CANVAS_CONFIG !== 'undefined' && CANVAS_CONFIG) || props.config || {};
const EMIT = ['point', 'box', 'undo', 'new_object', 'candidate', 'delete_object',
  'select_object', 'pick_region', 'seek', 'upload', 'stroke', 'history'];
const root = element.querySelector('.sc-root');
const stage = root.querySelector('.sc-stage');
const cv = root.querySelector('.sc-canvas');
const ctx = cv.getContext('2d');
const pv = root.querySelector('.sc-picture');  // the picture layer, under cv
const pctx = pv.getContext('2d');
let picShown = null;                            // the image pv holds (redrawn only on change)
const hintEl = root.querySelector('.sc-hint');
const fileIn = root.querySelector('.sc-file');
const chips = root.querySelector('.sc-candidates');
const tl = root.querySelector('.sc-timeline');
const tctx = tl.getContext('2d');
const scrub = root.querySelector('.sc-scrub');
const playBtn = root.querySelector('.sc-play');
const frameLabel = root.querySelector('.sc-frame-label');
const prepEl = root.querySelector('.sc-prep');
const legend = root.querySelector('.sc-legend');
const keysEl = root.querySelector('.sc-keys');
root.dataset.mode = cfg.mode || 'image';
root.querySelector('.sc-help').textContent = cfg.help || '';
(function buildKeys() {  // the "?" overlay: every key and gesture, from component.py
  const t = keysEl.querySelector('tbody');
  for (const [key, what] of cfg.keys || []) {
    const tr = document.createElement('tr');
    const a = document.createElement('td'), b = document.createElement('td');
    a.textContent = key; b.textContent = what;
    tr.append(a, b);
    t.appendChild(tr);
  }
})();
root.querySelector('.sc-drop-text').textContent = cfg.drop_text || '';
fileIn.accept = cfg.accept || 'image/*';

// The scene outlives this DOM: if Gradio mounts the component again (a tab shown later), the
// browser-side scene is picked up again by elem_id instead of starting from the last delta.
const host = element.parentElement && element.parentElement.closest('[id]');
const sceneKey = host && host.id && !host.id.startsWith('html-') ? host.id : null;
const scenes = (window.__promptCanvasScenes = window.__promptCanvasScenes || {});
const kept = sceneKey ? scenes[sceneKey] : null;
const S = kept ? Object.assign(kept, { drag: null, hover: false, playing: false, pan: null, touches: {}, stroke: null }) : {
  kind: null, W: 0, H: 0,          // original size of the picture / clip
  frames: [], imgs: [], fps: 10,    // frame URLs and their Image objects (image: one frame)
  frame: 0, playing: false, lastTick: 0,
  // A clip sent with a frame count is held as a window around the playhead (see ensureWindow):
  // have[i] = frame i's picture URL and masks are here; cover[id][i] = object id has a mask on
  // frame i (the timeline); live = frames whose picture is decoded; asked = block -> time asked.
  windowed: false, have: null, cover: {}, live: new Set(), asked: new Map(), clipKey: null,
  windowAsks: 0,                    // window requests sent (tests count them)
  revs: {},                         // newest revision drawn per mask, prompt and list (apply)
  objects: [], selected: null,
  masks: {},                        // frame -> object id -> {url, img}
  prompts: {},                      // frame -> object id -> {points, box}
  pending: [],                      // provisional gestures {seq, frame, object, point|box}
  candidates: [], candidate: null, preview: null,
  regions: null,                    // {labels: Uint32Array, w, h, count, colors, hover, layer}
  busy: '', loading: false, queued: [],
  preparing: null,                  // {text, eta_s, since}: the server encodes the picture
  view: { z: 1, x: 0, y: 0 },       // zoom and pan: canvas px = fitted px * z + (x, y)
  pan: null, touches: {}, spaceDown: false, spacePanned: false, showKeys: false,
  tool: 'prompt', brushPx: 12, stroke: null, cursor: null,  // brush / eraser (B, E); radius in CSS px
  effect: 'overlay', fx: null,      // the player's live effect and its last frame made
  drag: null, hover: false, seq: 0,
  t0: 0, waitSeq: 0, expect: null, stats: [], lastSeq: null,
};
if (sceneKey) scenes[sceneKey] = S;
root.__canvas = S;                  // for tests and bench/canvas_latency.py
root.__apply = (msg) => apply(msg); // tests feed messages directly (e.g. a slow picture)
root.__emit = (name, data) => emit(name, data);  // and measure the event round trip

// ---------------------------------------------------------------- helpers
const urlOf = (u) => (u && typeof u === 'object') ? (u.url || null) : (u || null);
let hintTimer = 0;
function hint(text, ms) {
  hintEl.textContent = text;
  hintEl.classList.add('sc-show');
  root.dataset.hint = text;
  clearTimeout(hintTimer);
  hintTimer = setTimeout(() => hintEl.classList.remove('sc-show'), ms || 2600);
}
let drawQueued = false;
function redraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => { drawQueued = false; draw(); });
}
function loadImage(url, onload) {
  // decode() decodes off the main thread, so drawing the image later costs no decode.
  const img = new Image();
  img.decoding = 'async';
  img.src = url;
  img.decode().then(() => onload && onload(img), () => {
    if (img.dropped) return;  // left the window before it was decoded
    img.failed = true;
    hint('Could not load a picture from the server');
  });
  return img;
}
function colorOf(id) {
  // An object the server has not listed yet (the first click makes it) gets the colour the
  // server will give it: the next one of the shared palette (ui/common/overlay.py PALETTE).
  const o = S.objects.find((x) => x.id === id);
  if (o) return o.color;
  const pal = cfg.palette || ['#1e90ff'];
  return pal[S.objects.length % pal.length];
}

// ---------------------------------------------------------------- layout
function fit() {
  if (!S.W || !S.H) return;
  const cw = stage.clientWidth || root.clientWidth || 300;
  let maxH = window.innerHeight * 0.75;
  const probe = document.createElement('div');
  probe.style.height = cfg.max_height || '75vh';
  probe.style.position = 'absolute';
  probe.style.visibility = 'hidden';
  stage.appendChild(probe);
  if (probe.offsetHeight > 0) maxH = probe.offsetHeight;
  probe.remove();
  const s = Math.min(cw / S.W, maxH / S.H);
  const w = Math.max(1, Math.floor(S.W * s)), h = Math.max(1, Math.floor(S.H * s));
  const dpr = window.devicePixelRatio || 1;
  const before = cv.width;
  for (const c of [cv, pv]) {
    c.style.width = w + 'px';
    c.style.height = h + 'px';
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
      picShown = null;
    }
  }
  if (before && cv.width !== before) {  // the same part of the picture stays in view
    S.view.x *= cv.width / before; S.view.y *= cv.width / before;
  }
  clampView();
  fitTimeline();
  redraw();
}
new ResizeObserver(() => fit()).observe(stage);

// screen <-> original pixels (pixel centres at integers, like gr.Image.select). The view
// (zoom z, pan x, y in canvas pixels) maps the fitted picture onto the canvas:
// canvas = fitted * z + (x, y); z = 1 with no pan is the whole picture.
function screenToCanvas(ev) {
  const r = cv.getBoundingClientRect();
  return [(ev.clientX - r.left) / r.width * cv.width, (ev.clientY - r.top) / r.height * cv.height];
}
function toImage(ev, clamp) {
  const V = S.view, [cx, cy] = screenToCanvas(ev);
  let u = (cx - V.x) / V.z / cv.width, v = (cy - V.y) / V.z / cv.height;
  const inside = u >= 0 && u <= 1 && v >= 0 && v <= 1;
  if (clamp) { u = Math.min(1, Math.max(0, u)); v = Math.min(1, Math.max(0, v)); }
  const x = Math.min(S.W - 1, Math.max(0, u * S.W - 0.5));
  const y = Math.min(S.H - 1, Math.max(0, v * S.H - 0.5));
  return { x: Math.round(x * 100) / 100, y: Math.round(y * 100) / 100, inside };
}
function toCanvas(x, y) {
  const V = S.view;
  return [(x + 0.5) / S.W * cv.width * V.z + V.x, (y + 0.5) / S.H * cv.height * V.z + V.y];
}
// Zoom in percent of the source: 100 % = one original pixel per CSS pixel.
function zoomOf100() { const w = cv.getBoundingClientRect().width || 1; return S.W / w; }
function maxZoom() { return Math.max(4, 8 * zoomOf100()); }
function clampView() {
  const V = S.view;
  V.z = Math.min(maxZoom(), Math.max(1, V.z));
  V.x = Math.min(0, Math.max(cv.width * (1 - V.z), V.x));
  V.y = Math.min(0, Math.max(cv.height * (1 - V.z), V.y));
  root.dataset.zoom = String(Math.round(V.z / zoomOf100() * 1000) / 10);  // percent of the source
  root.classList.toggle('sc-zoomed', V.z > 1.0001);
}
function zoomAt(z, cx, cy) {  // to zoom z, keeping canvas point (cx, cy) where it is
  const V = S.view;
  const nz = Math.min(maxZoom(), Math.max(1, z));
  V.x = cx - (cx - V.x) * nz / V.z;
  V.y = cy - (cy - V.y) * nz / V.z;
  V.z = nz;
  clampView();
  redraw();
}
function zoomCentre(z) { zoomAt(z, cv.width / 2, cv.height / 2); }
function fitView() { S.view = { z: 1, x: 0, y: 0 }; clampView(); redraw(); }
function panBy(dx, dy) {  // CSS pixels
  const r = cv.getBoundingClientRect(), k = cv.width / (r.width || 1);
  S.view.x += dx * k; S.view.y += dy * k;
  clampView();
  redraw();
}
root.__view = () => Object.assign({ percent: +root.dataset.zoom }, S.view);
// Screen position (CSS px) of original pixel (x, y) under the current view: tests click there.
root.__toScreen = (x, y) => {
  const r = cv.getBoundingClientRect(), [cx, cy] = toCanvas(x, y);
  return [r.left + cx / cv.width * r.width, r.top + cy / cv.height * r.height];
};
root.__toImage = (clientX, clientY) => { const p = toImage({ clientX, clientY }, false); return [p.x, p.y]; };
root.__zoomTo = (percent, x, y) => {  // tests and the bench: zoom to percent around pixel (x, y)
  const z = percent / 100 * zoomOf100();
  const [cx, cy] = x === undefined ? [cv.width / 2, cv.height / 2] : toCanvas(x, y);
  zoomAt(z, cx, cy);
  draw();
  return root.__view();
};

// ---------------------------------------------------------------- drawing
function ready(im) { return im && im.complete && !im.failed && im.naturalWidth > 0; }
function drawPoint(x, y, label, color, provisional, dim) {
  // In the object's colour; the shape tells foreground (disc) from background (square with
  // a bar: "minus"), so colour-blind users and overlapping objects still read right.
  const [cx, cy] = toCanvas(x, y);
  const r = Math.max(5, Math.min(11, Math.min(cv.width, cv.height) / 70));
  ctx.globalAlpha = provisional ? 0.75 : (dim ? 0.6 : 1);
  ctx.beginPath();
  if (label === 1) ctx.arc(cx, cy, r, 0, Math.PI * 2);
  else ctx.rect(cx - r, cy - r, r * 2, r * 2);
  ctx.fillStyle = color;
  ctx.fill();
  ctx.lineWidth = Math.max(1.5, r / 4);
  ctx.strokeStyle = '#fff';
  ctx.stroke();
  if (label !== 1) {
    ctx.fillStyle = '#fff';
    ctx.fillRect(cx - r * 0.55, cy - r * 0.14, r * 1.1, r * 0.28);
  }
  ctx.globalAlpha = 1;
}
function drawBox(b, color, dashed, selected) {
  const [x0, y0] = toCanvas(b[0], b[1]), [x1, y1] = toCanvas(b[2], b[3]);
  const lw = Math.max(2, cv.width / 400) * (selected ? 1.5 : 1);
  ctx.setLineDash(dashed ? [8, 5] : []);
  ctx.lineWidth = lw + 3;
  ctx.strokeStyle = '#fff';
  ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
  ctx.lineWidth = lw;
  ctx.strokeStyle = color;
  ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
  ctx.setLineDash([]);
}
function drawTag(o, p) {
  // A label chip (e.g. what Find called the object) at its box's top-left, or its first point.
  const at = p.box ? [p.box[0], p.box[1]] : (p.points && p.points.length ? p.points[0] : null);
  if (!at) return null;
  const [x, y] = toCanvas(at[0], at[1]);
  const fs = Math.max(11, Math.min(16, cv.width / 70));
  ctx.font = `600 ${fs}px sans-serif`;
  const w = ctx.measureText(o.tag).width + fs * 0.8, h = fs * 1.5;
  const top = Math.max(0, y - h), left = Math.min(Math.max(0, x), cv.width - w);
  ctx.fillStyle = o.color;
  ctx.fillRect(left, top, w, h);
  ctx.fillStyle = '#fff';
  ctx.textBaseline = 'middle';
  ctx.fillText(o.tag, left + fs * 0.4, top + h / 2);
  return o.tag;
}
function viewKey() { const V = S.view; return V.z + ',' + V.x + ',' + V.y + ',' + pv.width + ',' + pv.height; }
function withView(g, fn) {  // draw in fitted-canvas coordinates under the zoom and pan
  const V = S.view;
  g.setTransform(V.z, 0, 0, V.z, V.x, V.y);
  g.imageSmoothingEnabled = V.z < 2;  // zoomed in: crisp source pixels and mask edges
  fn();
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.imageSmoothingEnabled = true;
}
// The selected object's outline: a white halo around its mask's edge pixels (the mask PNG's
// opaque ones), made once per mask image in the browser after the mask itself is shown.
function haloOf(m) {
  if (m.halo || m.haloPending || !ready(m.img)) return m.halo || null;
  m.haloPending = true;
  setTimeout(() => {
    const w = m.img.naturalWidth, h = m.img.naturalHeight;
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(m.img, 0, 0);
    const src = g.getImageData(0, 0, w, h), a = src.data, out = g.createImageData(w, h), o = out.data;
    const R = Math.max(1, Math.round(Math.max(w, h) / 640));  // about 2 px at 1280 wide
    for (let yy = 0; yy < h; yy++) {
      for (let xx = 0; xx < w; xx++) {
        if (a[4 * (yy * w + xx) + 3] !== 255) continue;  // edge pixels are the opaque ones
        for (let dy = -R; dy <= R; dy++) {
          const y2 = yy + dy;
          if (y2 < 0 || y2 >= h) continue;
          for (let dx = -R; dx <= R; dx++) {
            const x2 = xx + dx;
            if (x2 < 0 || x2 >= w) continue;
            const k = 4 * (y2 * w + x2);
            o[k] = o[k + 1] = o[k + 2] = 255; o[k + 3] = 255;
          }
        }
      }
    }
    g.putImageData(out, 0, 0);
    m.halo = c;
    m.haloPending = false;
    redraw();
  }, 0);
  return null;
}
function draw() {
  ctx.clearRect(0, 0, cv.width, cv.height);
  const img = S.imgs[S.frame];
  const raw = ready(img) ? img : null;
  const fx = raw && S.kind === 'video' && S.effect !== 'overlay';
  const pic = fx ? effectFrame(S.frame, raw) : raw;
  const key = viewKey();
  if (pic !== picShown || key !== S.picView) {  // a click redraws only the overlay, not the picture
    pctx.clearRect(0, 0, pv.width, pv.height);
    if (pic) withView(pctx, () => pctx.drawImage(pic, 0, 0, pv.width, pv.height));
    picShown = pic;
    S.picView = key;
  }
  let drewMask = false;
  withView(ctx, () => {
    if (S.regions && S.regions.layer) {
      ctx.globalAlpha = 0.55;
      ctx.drawImage(S.regions.layer, 0, 0, cv.width, cv.height);
      ctx.globalAlpha = 1;
    }
    const masks = S.masks[S.frame] || {};
    // Others first, a little dimmed; the selected object last, on top, with its halo.
    const order = S.objects.filter((o) => o.id !== S.selected).concat(S.objects.filter((o) => o.id === S.selected));
    for (const o of fx ? [] : order) {  // an effect frame already shows the objects
      let m = masks[o.id];
      const sel = o.id === S.selected;
      if (sel && S.preview && ready(S.preview.img)) m = S.preview;
      if (!m || !ready(m.img)) continue;
      if (sel && S.objects.length > 1) {
        const halo = haloOf(m);
        if (halo) ctx.drawImage(halo, 0, 0, cv.width, cv.height);
      }
      ctx.globalAlpha = sel || S.selected === null ? 1 : 0.6;
      ctx.drawImage(m.img, 0, 0, cv.width, cv.height);  // already in the object's colour
      ctx.globalAlpha = 1;
      drewMask = true;
    }
  });
  const prompts = S.prompts[S.frame] || {};
  for (const o of S.objects) {
    const p = prompts[o.id];
    if (!p) continue;
    const dim = S.selected !== null && o.id !== S.selected;
    if (p.box) drawBox(p.box, o.color, false, o.id === S.selected);
    for (const q of p.points || []) drawPoint(q[0], q[1], q[2], o.color, false, dim);
  }
  const tags = [];
  for (const o of S.objects) if (o.tag && prompts[o.id] && drawTag(o, prompts[o.id])) tags.push(o.tag);
  const said = tags.join('|');  // what the chips say (tests read it); written only when it changes
  if (root.dataset.tags !== said) root.dataset.tags = said;
  for (const g of S.pending) {
    if (g.frame !== S.frame) continue;
    if (g.box) drawBox(g.box, colorOf(g.object), true);
    if (g.point) drawPoint(g.point[0], g.point[1], g.point[2], colorOf(g.object), true);
  }
  if (S.drag && S.drag.box) drawBox(S.drag.box, colorOf(S.selected), true);
  for (const g of S.pending) if (g.stroke && g.frame === S.frame) drawStroke(g.stroke);
  if (S.stroke) drawStroke(S.stroke);
  if (S.cursor && S.tool !== 'prompt') {  // the round cursor: the brush's size on screen
    const [cx, cy] = screenToCanvas(S.cursor), rr = brushCanvasPx();
    ctx.beginPath();
    ctx.arc(cx, cy, rr, 0, Math.PI * 2);
    ctx.lineWidth = 3; ctx.strokeStyle = 'rgba(0,0,0,0.6)'; ctx.stroke();
    ctx.lineWidth = 1.5; ctx.strokeStyle = S.tool === 'erase' ? '#fff' : colorOf(S.selected); ctx.stroke();
  }
  if (drewMask && S.expect && S.expect.left <= 0) {
    // Click-to-visible: this frame holds the answer; the next animation frame starts once it
    // has been painted, so the time is taken there.
    const e = S.expect, t0 = S.t0;
    S.expect = null;
    requestAnimationFrame(() => {
      const ms = performance.now() - t0;
      S.stats.push({ seq: e.seq, ms, arrived: e.arrived });  // arrived: message in the page
      root.dataset.lastLatencyMs = ms.toFixed(1);
    });
  }
  root.dataset.frame = String(S.frame);
  drawTimeline();
}

// ---------------------------------------------------------------- scene updates
function setFrames(list) {
  S.frames = list.map(urlOf);
  S.imgs = S.frames.map((u, i) => u ? loadImage(u, () => frameLoaded(i)) : null);
}
// ---------------------------------------------------------------- the clip's window
// A long clip never sits whole in the page: pictures and masks are held from WIN_BEHIND
// frames before the playhead to WIN_AHEAD after it (asked of the server in blocks of
// WIN_BLOCK frames, ahead of playback), and dropped beyond KEEP_BEHIND / KEEP_AHEAD, so the
// page's memory does not grow with the clip. The timeline reads the coverage (cover), not
// the masks. The server's side: ui/video/view.py (window_update, WINDOW_*).
const WIN_BEHIND = 16, WIN_AHEAD = 48, WIN_BLOCK = 32, KEEP_BEHIND = 48, KEEP_AHEAD = 112, ASK_AGAIN_MS = 8000;
// A scrub or a timeline drag passes many blocks in a second: the page asks only once the
// playhead has rested this long (playing asks at once), so the server answers where it stops.
const ASK_SETTLE_MS = 120;
let askTimer = 0;
function startWindow(count) {
  S.windowed = true;
  S.frames = new Array(count).fill(null);
  S.imgs = new Array(count).fill(null);
  S.have = new Uint8Array(count);
  S.cover = {}; S.live = new Set(); S.asked = new Map();
}
const keptNear = (f) => f >= S.frame - KEEP_BEHIND && f <= S.frame + KEEP_AHEAD;
function dropPicture(i) {
  const img = S.imgs[i];
  if (img) img.dropped = true;
  S.imgs[i] = null;
  S.live.delete(i);
}
function ensureWindow() {
  if (S.kind !== 'video' || !S.windowed) return;
  const n = S.frames.length;
  if (!n) return;
  const c = S.frame, a = Math.max(0, c - WIN_BEHIND), b = Math.min(n, c + WIN_AHEAD + 1);
  clearTimeout(askTimer);
  if (S.playing) askWindow();
  else askTimer = setTimeout(askWindow, ASK_SETTLE_MS);
  for (let i = a; i < b; i++) {
    if (S.frames[i] && !S.imgs[i]) {
      const k = i;
      S.imgs[i] = loadImage(S.frames[i], () => frameLoaded(k));
      S.live.add(i);
    }
  }
  // far from the playhead: pictures and masks go (asked again when it comes back)
  for (const i of Array.from(S.live)) if (!keptNear(i)) dropPicture(i);
  for (const k of Object.keys(S.masks)) {
    const f = +k;
    if (!keptNear(f)) {
      for (const id of Object.keys(S.masks[k])) delete S.revs['m' + k + ':' + id];
      delete S.masks[k];
      S.have[f] = 0;
    }
  }
}
function askWindow() {
  if (S.kind !== 'video' || !S.windowed) return;
  const n = S.frames.length;
  const c = S.frame, a = Math.max(0, c - WIN_BEHIND), b = Math.min(n, c + WIN_AHEAD + 1);
  const now = performance.now();
  // the blocks of the window that the page lacks, the playhead's first
  const first = Math.floor(c / WIN_BLOCK), blocks = [first];
  for (let k = Math.floor(a / WIN_BLOCK); k * WIN_BLOCK < b; k++) if (k !== first) blocks.push(k);
  for (const k of blocks) {
    const s = k * WIN_BLOCK, e = Math.min(n, s + WIN_BLOCK);
    let lacking = false;
    for (let i = s; i < e && !lacking; i++) lacking = !S.have[i];
    if (!lacking) continue;
    const t = S.asked.get(k);
    if (t !== undefined && now - t < ASK_AGAIN_MS) continue;
    S.asked.set(k, now);
    S.windowAsks++;
    emit('window', { start: s, end: e, clip_key: S.clipKey });
  }
}
function setCoverage(cov) {
  const n = S.frames.length;
  S.cover = {};
  for (const [id, runs] of Object.entries(cov || {})) {
    const row = new Uint8Array(n);
    for (const [s, e] of runs) row.fill(1, Math.max(0, s), Math.min(n, e));
    S.cover[+id] = row;
  }
}
function frameLoaded(i) {
  if (i === S.frame) {
    if (S.loading) { S.loading = false; root.dataset.state = 'ready'; flushQueued(); }
    redraw();
  }
  drawTimeline();
}
let maskUid = 0;
function setMask(frame, id, url, expect) {
  if (S.windowed && frame >= 0 && frame < S.frames.length) {
    (S.cover[id] = S.cover[id] || new Uint8Array(S.frames.length))[frame] = url ? 1 : 0;
    if (!keptNear(frame)) {  // far from the playhead: the timeline knows, the page holds nothing
      delete S.revs['m' + frame + ':' + id];
      S.have[frame] = 0;  // what the page had of that frame is out of date: asked again there
      return;
    }
  }
  S.masks[frame] = S.masks[frame] || {};
  if (!url) { delete S.masks[frame][id]; return; }
  const m = { url, uid: ++maskUid };
  if (expect) expect.left++;
  m.img = loadImage(url, () => {
    if (expect) expect.left--;
    if (+frame === S.frame) redraw();
    drawTimeline();
  });
  S.masks[frame][id] = m;
}
function reset(kind, W, H) {
  S.kind = kind; S.W = W; S.H = H;
  S.masks = {}; S.prompts = {}; S.pending = []; S.candidates = []; S.candidate = null;
  S.preview = null; S.regions = null; S.frame = 0; S.playing = false; S.drag = null;
  S.revs = {};
  S.view = { z: 1, x: 0, y: 0 };
  setPreparing(null);
  root.dataset.state = 'loading';
  S.loading = true;
  fit();
}
// Answers may arrive out of order (two gestures answered by two workers): each mask, prompt
// and list keeps the revision it was drawn from, and an older one arriving late is ignored.
function fresh(msg, key) {
  if (typeof msg.rev !== 'number') return true;
  const old = S.revs[key];
  if (old !== undefined && old > msg.rev) return false;
  S.revs[key] = msg.rev;
  return true;
}
function apply(msg) {
  if (!msg || typeof msg !== 'object' || !msg.v || msg.seq === S.lastSeq) return;
  // a window answered for an earlier clip (a new one arrived meanwhile) is not this clip's
  if (!msg.video && 'clip_key' in msg && S.clipKey !== null && msg.clip_key !== S.clipKey) return;
  S.lastSeq = msg.seq;
  if (msg.picture) {
    reset('image', msg.picture.width, msg.picture.height);
    S.windowed = false;
    setFrames([msg.picture.url]);
  }
  if (msg.video) {
    reset('video', msg.video.width, msg.video.height);
    S.fps = msg.video.fps > 0 ? msg.video.fps : 10;
    S.windowed = false;
    S.clipKey = 'clip_key' in msg ? msg.clip_key : null;
    if (typeof msg.video.count === 'number') startWindow(msg.video.count);
    else setFrames(msg.video.frames || []);
    scrub.max = String(Math.max(0, S.frames.length - 1));
  }
  if (msg.frames) {
    for (const [k, u] of Object.entries(msg.frames)) {
      const i = +k;
      if (S.windowed) {  // pictures are decoded by ensureWindow, near the playhead only
        if (i < 0 || i >= S.frames.length) continue;
        const url = urlOf(u);
        if (S.frames[i] !== url) { dropPicture(i); S.frames[i] = url; }
        continue;
      }
      while (S.frames.length <= i) { S.frames.push(null); S.imgs.push(null); }
      S.frames[i] = urlOf(u);
      S.imgs[i] = S.frames[i] ? loadImage(S.frames[i], () => frameLoaded(i)) : null;
    }
    scrub.max = String(Math.max(0, S.frames.length - 1));
  }
  if (S.windowed && msg.coverage) {
    // every frame's masks may have changed (a reset, a new model): the page keeps only the
    // ones this message brings, and asks for the others again as the playhead moves
    setCoverage(msg.coverage);
    for (const k of Object.keys(S.masks)) if (!(msg.masks && k in msg.masks)) delete S.masks[k];
    // such a message brings every prompted frame (an undo may have taken prompts off any frame)
    for (const k of Object.keys(S.prompts)) if (!(msg.prompts && k in msg.prompts)) delete S.prompts[k];
    S.have.fill(0);
    S.asked.clear();
  }
  if (S.windowed && Array.isArray(msg.window)) {
    const [a, b] = msg.window;
    // only frames near the playhead keep their masks (setMask): the others are not here yet
    for (let i = Math.max(0, a); i < Math.min(S.frames.length, b); i++) if (keptNear(i)) S.have[i] = 1;
    for (let k = Math.floor(a / WIN_BLOCK); k * WIN_BLOCK < b; k++) S.asked.delete(k);
  }
  if (msg.objects && fresh(msg, 'objects')) S.objects = msg.objects.map((o) => ({ id: +o.id, color: o.color, label: o.label || '', tag: o.tag || '' }));
  if ('selected' in msg && fresh(msg, 'selected')) S.selected = msg.selected === null ? null : +msg.selected;
  if (msg.masks) {
    // A mask answering the last gesture: time it until it is drawn (click-to-visible).
    const answers = S.waitSeq && (!('ack' in msg) || msg.ack >= S.waitSeq);
    const expect = answers ? { seq: S.waitSeq, left: 0, arrived: performance.now() - S.t0 } : null;
    if (answers) S.waitSeq = 0;
    for (const [f, per] of Object.entries(msg.masks))
      for (const [id, u] of Object.entries(per))
        if (fresh(msg, 'm' + f + ':' + id)) setMask(+f, +id, urlOf(u), expect && +f === S.frame ? expect : null);
    if (expect) S.expect = expect;
    S.preview = null;
  }
  if (msg.prompts) {
    for (const [f, per] of Object.entries(msg.prompts)) {
      S.prompts[+f] = S.prompts[+f] || {};
      for (const [id, p] of Object.entries(per)) {
        if (!fresh(msg, 'p' + f + ':' + id)) continue;
        // a long clip's window comes with an empty entry per frame and object: none is kept
        if (S.windowed && !(p && ((p.points && p.points.length) || p.box))) delete S.prompts[+f][+id];
        else S.prompts[+f][+id] = p;
      }
    }
  }
  if ('ack' in msg) S.pending = S.pending.filter((g) => g.seq > msg.ack);
  else if (msg.prompts || msg.masks) S.pending = [];
  if (msg.candidates && fresh(msg, 'candidates')) {
    // Decoded only when chosen: three more decodes per click would compete with the mask's.
    S.candidates = msg.candidates.map((c) => ({ url: urlOf(c.url), score: c.score, img: null }));
  }
  if ('candidate' in msg && fresh(msg, 'candidate')) S.candidate = msg.candidate;
  if (msg.candidates || 'candidate' in msg) renderChips();
  if ('regions' in msg && fresh(msg, 'regions')) setRegions(msg.regions);
  if ('busy' in msg) S.busy = msg.busy || '';
  if ('preparing' in msg) setPreparing(msg.preparing);
  else if (S.preparing && msg.masks) setPreparing(null);  // a gesture was answered: it is ready
  if (msg.hint) hint(msg.hint);
  if ('frame' in msg && msg.frame !== null) seek(+msg.frame, false);
  if (!S.objects.some((o) => o.id === S.selected) && S.selected !== null && msg.objects) S.selected = null;
  // An answer that brings no new picture ends an upload (refused, with a hint): the old
  // picture, if any, takes clicks again.
  if (root.dataset.state === 'uploading' && !msg.picture && !msg.video) root.dataset.state = S.W ? 'ready' : 'empty';
  ensureWindow();
  updatePlayer();
  renderLegend();
  redraw();
}

// ---------------------------------------------------------------- legend, keys, preparing
function renderLegend() {
  // One chip per object in its colour (the list, the timeline and the exports use the same
  // colours: the server sends them); a click selects it, the selected one is outlined.
  const want = S.objects.map((o) => o.id + ':' + o.color + ':' + o.label + ':' + (o.id === S.selected)).join('|');
  if (legend.dataset.key === want) return;
  legend.dataset.key = want;
  legend.textContent = '';
  for (const o of S.objects) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'sc-obj' + (o.id === S.selected ? ' sc-on' : '');
    b.dataset.id = String(o.id);
    b.style.setProperty('--obj', o.color);
    const sw = document.createElement('span');
    sw.className = 'sc-swatch';
    b.append(sw, document.createTextNode(o.label || 'object ' + o.id));
    b.addEventListener('click', () => selectObject(o.id));
    legend.appendChild(b);
  }
}
function showKeys(on) {
  S.showKeys = on;
  keysEl.hidden = !on;
  root.dataset.keys = on ? '1' : '0';
}
root.querySelector('.sc-keys-btn').addEventListener('click', (e) => { e.stopPropagation(); showKeys(!S.showKeys); });
keysEl.addEventListener('click', () => showKeys(false));
let prepTimer = 0;
function setPreparing(p) {
  clearInterval(prepTimer);
  if (!p || !p.text || !S.W) {  // nothing shown: nothing to prepare
    S.preparing = null;
    delete root.dataset.preparing;
    return;
  }
  S.preparing = { text: p.text, eta: +p.eta_s || 0, since: performance.now() };
  root.dataset.preparing = '1';
  const label = prepEl.querySelector('.sc-prep-text'), bar = prepEl.querySelector('.sc-prep-bar i');
  const tick = () => {
    const P = S.preparing;
    if (!P) return;
    const t = (performance.now() - P.since) / 1000;
    label.textContent = P.text + ' ' + t.toFixed(1) + ' s' + (P.eta ? ' of about ' + P.eta.toFixed(1) + ' s' : '');
    // With an estimate (the last encode of this model) the bar runs towards 95 % of it;
    // without one it creeps; it is never full before the server says the picture is ready.
    const f = P.eta ? Math.min(0.95, t / P.eta) : 1 - Math.exp(-t / 4);
    bar.style.width = (100 * f).toFixed(1) + '%';
  };
  tick();
  prepTimer = setInterval(tick, 100);
}

// ---------------------------------------------------------------- candidates
function renderChips() {
  chips.textContent = '';
  S.candidates.forEach((c, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'sc-chip' + (i === S.candidate ? ' sc-on' : '');
    b.textContent = (i + 1) + (typeof c.score === 'number' ? ' · ' + c.score.toFixed(2) : '');
    b.addEventListener('click', () => chooseCandidate(i));
    chips.appendChild(b);
  });
}
function chooseCandidate(i) {
  if (!S.candidates.length) { hint('No candidate masks yet: click the picture first'); return; }
  if (i >= S.candidates.length) { hint('There are ' + S.candidates.length + ' candidates'); return; }
  S.candidate = i;
  const c = S.candidates[i];
  if (c.url && S.selected !== null) {  // shown as soon as it is decoded, before Python answers
    c.img = c.img || loadImage(c.url, () => redraw());
    S.preview = { url: c.url, img: c.img };
  }
  renderChips();
  redraw();
  emit('candidate', { index: i });
}

// ---------------------------------------------------------------- segment everything
function setRegions(r) {
  S.regions = null;
  if (!r || !r.url) { redraw(); return; }
  loadImage(urlOf(r.url), (img) => {
    const w = img.naturalWidth, h = img.naturalHeight;
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(img, 0, 0);
    const px = g.getImageData(0, 0, w, h).data;
    const labels = new Uint32Array(w * h);
    for (let i = 0; i < w * h; i++) labels[i] = px[4 * i] + 256 * px[4 * i + 1];
    const colors = [];
    for (let k = 0; k <= (r.count || 0) + 1; k++) {
      const hue = (k * 137.508) % 360;
      colors.push(hslToRgb(hue / 360, 0.75, 0.55));
    }
    S.regions = { labels, w, h, count: r.count || 0, colors, hover: 0, layer: c, g };
    paintRegions();
  });
}
function hslToRgb(h, s, l) {
  const f = (n) => {
    const k = (n + h * 12) % 12, a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
function paintRegions() {
  const R = S.regions;
  const out = R.g.createImageData(R.w, R.h);
  const d = out.data;
  for (let i = 0; i < R.labels.length; i++) {
    const k = R.labels[i];
    if (!k) continue;
    const c = R.colors[k % R.colors.length];
    const on = k === R.hover;
    d[4 * i] = on ? 255 : c[0]; d[4 * i + 1] = on ? 255 : c[1]; d[4 * i + 2] = on ? 255 : c[2];
    d[4 * i + 3] = on ? 235 : 150;
  }
  R.g.putImageData(out, 0, 0);
  redraw();
}
function regionAt(ev) {
  const R = S.regions;
  if (!R) return 0;
  const V = S.view, [cx, cy] = screenToCanvas(ev);
  const u = (cx - V.x) / V.z / cv.width, v = (cy - V.y) / V.z / cv.height;
  if (u < 0 || u >= 1 || v < 0 || v >= 1) return 0;
  return R.labels[Math.floor(v * R.h) * R.w + Math.floor(u * R.w)];
}

// ---------------------------------------------------------------- emitting
function emit(name, data) {
  const payload = Object.assign({ frame: S.frame, object: S.selected }, data || {});
  trigger(name, payload);
}
function blocked() {
  if (S.busy) { hint(S.busy, 3500); return true; }
  return false;
}
function gesture(g) {  // g: {point: [x,y,l]} or {box: [x0,y0,x1,y1]}
  if (blocked()) return;
  if (root.dataset.state === 'uploading') { hint('Uploading: click again when the picture appears'); return; }
  g.seq = ++S.seq;
  g.frame = S.frame;
  g.object = S.selected;
  S.pending.push(g);
  redraw();
  if (S.preparing) hint('Preparing the picture: your ' + (g.box ? 'box' : 'click') + ' is answered as soon as it is ready', 2500);
  if (S.loading) {
    S.queued.push(g);
    hint('Still loading: your ' + (g.box ? 'box' : 'click') + ' will be applied when the picture is ready');
    return;
  }
  send(g);
}
function send(g) {
  S.t0 = performance.now();
  S.waitSeq = g.seq;
  if (g.box) emit('box', { x0: g.box[0], y0: g.box[1], x1: g.box[2], y1: g.box[3], seq: g.seq, frame: g.frame, object: g.object });
  else emit('point', { x: g.point[0], y: g.point[1], label: g.point[2], seq: g.seq, frame: g.frame, object: g.object });
}
function flushQueued() {
  const q = S.queued;
  S.queued = [];
  for (const g of q) send(g);
}

// ---------------------------------------------------------------- pointer
function browse() { fileIn.value = ''; fileIn.click(); }
cv.addEventListener('contextmenu', (e) => e.preventDefault());
stage.addEventListener('contextmenu', (e) => e.preventDefault());
root.querySelector('.sc-drop').addEventListener('click', browse);
root.querySelector('.sc-browse').addEventListener('click', (e) => { e.stopPropagation(); browse(); });
// Pan: drag with Space held, with the middle button, or with two fingers (which also
// pinch-zoom). Zoom: the wheel (a trackpad pinch arrives as Ctrl+wheel) around the pointer.
function touchList() { return Object.values(S.touches); }
function pinchStart() {
  const [a, b] = touchList();
  S.pinch = { d: Math.hypot(a.x - b.x, a.y - b.y) || 1, mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2, z: S.view.z };
}
cv.addEventListener('pointerdown', (e) => {
  root.focus({ preventScroll: true });
  if (e.pointerType === 'touch') {
    S.touches[e.pointerId] = { x: e.clientX, y: e.clientY };
    if (touchList().length === 2) {  // a second finger: no click or box, a pinch / pan instead
      if (S.drag) { clearTimeout(S.drag.timer); S.drag = null; redraw(); }
      pinchStart();
      return;
    }
  }
  if (e.button === 1 || (e.button === 0 && S.spaceDown)) {
    e.preventDefault();
    cv.setPointerCapture(e.pointerId);
    S.pan = { id: e.pointerId, x: e.clientX, y: e.clientY };
    S.spacePanned = true;
    root.classList.add('sc-panning');
    return;
  }
  if (e.button !== 0 && e.button !== 2) return;
  if (S.tool !== 'prompt') { if (e.button === 0) strokeStart(e); return; }
  if (S.playing) togglePlay(false);
  cv.setPointerCapture(e.pointerId);
  const d = { id: e.pointerId, x: e.clientX, y: e.clientY, button: e.button, shift: e.shiftKey,
    start: toImage(e, true), box: null, long: false, timer: 0 };
  if (e.pointerType === 'touch') {
    d.timer = setTimeout(() => { d.long = true; hint('Long press: background point'); }, cfg.long_press_ms || 500);
  }
  S.drag = d;
});
cv.addEventListener('auxclick', (e) => e.preventDefault());
cv.addEventListener('pointermove', (e) => {
  if (e.pointerType === 'touch' && S.touches[e.pointerId]) {
    S.touches[e.pointerId] = { x: e.clientX, y: e.clientY };
    if (S.pinch && touchList().length === 2) {
      const [a, b] = touchList(), P = S.pinch;
      const d = Math.hypot(a.x - b.x, a.y - b.y) || 1, mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
      // Zoom around the previous midpoint first, then carry that point to the new one: a pan
      // at the fitted zoom is clamped to nothing, so panning first lost the fingers' shift.
      const [cx, cy] = screenToCanvas({ clientX: P.mx, clientY: P.my });
      zoomAt(P.z * d / P.d, cx, cy);
      panBy(mx - P.mx, my - P.my);
      P.mx = mx; P.my = my; P.z = S.view.z; P.d = d;
      return;
    }
  }
  if (S.pan && S.pan.id === e.pointerId) {
    panBy(e.clientX - S.pan.x, e.clientY - S.pan.y);
    S.pan.x = e.clientX; S.pan.y = e.clientY;
    return;
  }
  if (S.tool !== 'prompt') { strokeMove(e); return; }
  if (S.regions && !S.drag) {
    const k = regionAt(e);
    if (k !== S.regions.hover) { S.regions.hover = k; root.dataset.hover = String(k); paintRegions(); }
  }
  const d = S.drag;
  if (!d || d.id !== e.pointerId) return;
  const slop = cfg.click_slop_px || 6;
  if (!d.box && Math.hypot(e.clientX - d.x, e.clientY - d.y) < slop) return;
  clearTimeout(d.timer);
  const p = toImage(e, true);
  if (!p.inside && !d.warned) { d.warned = true; hint('The box stops at the edge of the picture'); }
  d.box = [d.start.x, d.start.y, p.x, p.y];
  redraw();
});
function endDrag(e, cancelled) {
  if (e.pointerType === 'touch' && S.touches[e.pointerId]) {
    delete S.touches[e.pointerId];
    if (S.pinch) { if (!touchList().length) S.pinch = null; return; }
  }
  if (S.pan && S.pan.id === e.pointerId) { S.pan = null; root.classList.remove('sc-panning'); return; }
  if (S.stroke && S.stroke.id === e.pointerId) { strokeEnd(cancelled); return; }
  const d = S.drag;
  if (!d || d.id !== e.pointerId) return;
  clearTimeout(d.timer);
  S.drag = null;
  if (cancelled) { redraw(); return; }
  const label = (d.button === 2 || d.shift || d.long) ? 0 : 1;
  if (d.box) {
    const b = [Math.min(d.box[0], d.box[2]), Math.min(d.box[1], d.box[3]),
      Math.max(d.box[0], d.box[2]), Math.max(d.box[1], d.box[3])];
    const minSide = (cfg.click_slop_px || 6) * S.W / cv.getBoundingClientRect().width / S.view.z;
    if (b[2] - b[0] >= minSide && b[3] - b[1] >= minSide) { gesture({ box: b }); return; }
    hint('That box was too thin: counted as a click');
  }
  if (label === 1 && S.regions) {
    const k = regionAt(e);
    if (k > 0) {
      if (!blocked()) { S.t0 = performance.now(); S.waitSeq = ++S.seq; emit('pick_region', { index: k - 1 }); }
      return;
    }
  }
  gesture({ point: [d.start.x, d.start.y, label] });
}
cv.addEventListener('pointerup', (e) => endDrag(e, false));
cv.addEventListener('pointercancel', (e) => endDrag(e, true));
cv.addEventListener('pointerleave', () => {
  if (S.cursor) { S.cursor = null; redraw(); }
  if (S.regions && S.regions.hover) { S.regions.hover = 0; paintRegions(); }
});
cv.addEventListener('wheel', (e) => {
  if (!S.W) return;
  e.preventDefault();
  if (S.tool !== 'prompt' && e.altKey) { brushSize(e.deltaY < 0 ? 1.15 : 1 / 1.15); return; }
  const [cx, cy] = screenToCanvas(e);
  const step = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;  // lines -> pixels
  zoomAt(S.view.z * Math.exp(-Math.max(-300, Math.min(300, step)) * (e.ctrlKey ? 0.01 : 0.002)), cx, cy);
}, { passive: false });
root.addEventListener('pointerenter', () => { S.hover = true; });
root.addEventListener('pointerleave', () => { S.hover = false; });

// ---------------------------------------------------------------- brush and eraser
// B / E toggle the tool (Esc, or the same key again, back to prompts). A press-drag-release
// is one stroke, sent as points in original pixels with a radius in original pixels; the
// server lays it on the object's mask (image: after SAM's mask; video: the painted mask
// becomes the object's mask prompt on that frame) and answers with the mask.
function setTool(t) {
  if (t !== 'prompt' && !S.W) { hint('Open a picture first'); return; }
  if (t !== 'prompt' && S.selected === null && !S.objects.length) {
    hint('Click on an object first; the brush and eraser then correct its mask', 3500);
    return;
  }
  S.tool = t;
  S.stroke = null;
  root.dataset.tool = t;
  if (t !== 'prompt' && S.kind === 'video')  // a painted frame becomes the object's mask prompt there
    hint((t === 'brush' ? 'Brush' : 'Eraser') + ': the mask you paint on this frame becomes its prompt; '
      + 'Track follows it · [ ] or Alt+wheel: size · ' + (t === 'brush' ? 'B' : 'E') + ' or Esc: back to clicks', 3000);
  else hint(t === 'brush' ? 'Brush: drag to paint the mask · [ ] or Alt+wheel: size · B or Esc: back to clicks'
    : t === 'erase' ? 'Eraser: drag to erase · [ ] or Alt+wheel: size · E or Esc: back to clicks'
      : 'Clicks and boxes', 2200);
  redraw();
}
function brushCanvasPx() { const r = cv.getBoundingClientRect(); return S.brushPx * cv.width / (r.width || 1); }
function brushRadius() {  // original pixels under the current zoom
  const r = cv.getBoundingClientRect();
  return Math.max(0.5, S.brushPx * S.W / ((r.width || 1) * S.view.z));
}
function brushSize(f) {
  S.brushPx = Math.max(2, Math.min(150, S.brushPx * f));
  root.dataset.brush = S.brushPx.toFixed(1);
  hint('Brush ' + Math.round(2 * S.brushPx) + ' px (' + (2 * brushRadius()).toFixed(1) + ' picture px)', 900);
  redraw();
}
function strokeStart(e) {
  if (blocked()) return;
  if (S.playing) togglePlay(false);
  cv.setPointerCapture(e.pointerId);
  const p = toImage(e, true);
  S.stroke = { id: e.pointerId, points: [[p.x, p.y]], radius: brushRadius(), erase: S.tool === 'erase',
    color: colorOf(S.selected) };
  S.cursor = { clientX: e.clientX, clientY: e.clientY };
  redraw();
}
function strokeMove(e) {
  S.cursor = { clientX: e.clientX, clientY: e.clientY };
  const st = S.stroke;
  if (st && st.id === e.pointerId) {
    const p = toImage(e, true), last = st.points[st.points.length - 1];
    if (Math.hypot(p.x - last[0], p.y - last[1]) >= Math.max(0.5, st.radius / 3) && st.points.length < 4000)
      st.points.push([p.x, p.y]);
  }
  redraw();
}
function strokeEnd(cancelled) {
  const st = S.stroke;
  S.stroke = null;
  if (cancelled || !st) { redraw(); return; }
  const g = { seq: ++S.seq, frame: S.frame, object: S.selected, stroke: st };
  S.pending.push(g);
  S.t0 = performance.now();
  S.waitSeq = g.seq;
  redraw();
  emit('stroke', { points: st.points, radius: Math.round(st.radius * 100) / 100, erase: st.erase,
    seq: g.seq, frame: g.frame, object: g.object });
}
function drawStroke(st) {
  // The provisional stroke until the server's mask arrives: a thick line in the object's
  // colour (brush) or white (eraser), half transparent.
  if (!st.points.length) return;
  const pts = st.points.map((q) => toCanvas(q[0], q[1]));
  const w = 2 * st.radius / S.W * cv.width * S.view.z;
  ctx.save();
  ctx.globalAlpha = 0.5;
  ctx.strokeStyle = ctx.fillStyle = st.erase ? '#ffffff' : st.color;
  ctx.lineWidth = w; ctx.lineCap = 'round'; ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(pts[0][0], pts[0][1]);
  for (const q of pts.slice(1)) ctx.lineTo(q[0], q[1]);
  if (pts.length === 1) ctx.lineTo(pts[0][0] + 0.01, pts[0][1]);
  ctx.stroke();
  ctx.restore();
}

// ---------------------------------------------------------------- live effects (video)
// The MP4 export's effects (ui/video/render.py), made in the browser from the frame and the
// mask PNGs it already holds, so they show while playing and scrubbing. Same recipes at the
// display size: highlight dims the background to 0.25 gray + 0.1 colour, cutout puts white
// behind, blur a Gaussian of k = min(h, w) / 20 (sigma as OpenCV derives it), pixelate blocks
// of min(h, w) / 30, erase fills from the surroundings (a normalised blur here, Telea
// inpainting in the MP4); outlines about min(h, w) / 240 px in the object's colour.
const effectSel = root.querySelector('.sc-effect');
for (const [label, key] of cfg.effects || []) {
  const o = document.createElement('option');
  o.value = key; o.textContent = label;
  effectSel.appendChild(o);
}
effectSel.addEventListener('change', () => { setEffect(effectSel.value); root.focus({ preventScroll: true }); });
function setEffect(key) {
  S.effect = key || 'overlay';
  S.fx = null;
  root.dataset.effect = S.effect;
  if (effectSel.value !== S.effect) effectSel.value = S.effect;
  picShown = null;
  redraw();
}
root.__setEffect = setEffect;
function maskBits(m, w, h) {
  // 0 outside, 1 inside, 2 on the outline (the PNG's opaque pixels); cached per mask image.
  if (m.bits && m.bits.w === w && m.bits.h === h) return m.bits.a;
  const c = document.createElement('canvas');
  c.width = w; c.height = h;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.imageSmoothingEnabled = false;
  g.drawImage(m.img, 0, 0, w, h);
  const d = g.getImageData(0, 0, w, h).data, a = new Uint8Array(w * h);
  for (let k = 0; k < a.length; k++) { const al = d[4 * k + 3]; a[k] = al === 0 ? 0 : (al === 255 ? 2 : 1); }
  m.bits = { w, h, a };
  return a;
}
function hexRgb(c) { const h = c.replace('#', ''); return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)]; }
function filtered(pic, w, h, filter, holes) {
  const c = document.createElement('canvas');
  c.width = w; c.height = h;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.filter = filter;
  g.drawImage(holes || pic, 0, 0, w, h);
  return g.getImageData(0, 0, w, h).data;
}
function effectFrame(i, pic) {
  const masks = S.masks[i] || {};
  const layers = S.objects.map((o) => [o, masks[o.id]]).filter(([, m]) => m && ready(m.img));
  const key = S.effect + '|' + i + '|' + layers.map(([o, m]) => o.id + ':' + m.uid + ':' + o.color).join(',');
  if (S.fx && S.fx.key === key && S.fx.pic === pic) return S.fx.canvas;
  const w = pic.naturalWidth, h = pic.naturalHeight, n = w * h;
  const c = document.createElement('canvas');
  c.width = w; c.height = h;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(pic, 0, 0, w, h);
  const img = g.getImageData(0, 0, w, h), F = img.data;
  const U = new Uint8Array(n);
  const bits = layers.map(([o, m]) => [hexRgb(o.color), maskBits(m, w, h)]);
  for (const [, a] of bits) for (let k = 0; k < n; k++) if (a[k]) U[k] = 1;
  const e = S.effect;
  let outlines = e === 'highlight' || e === 'blur';
  if (e === 'highlight') {
    for (let k = 0; k < n; k++) if (!U[k]) {
      const p = 4 * k, gray = (F[p] + F[p + 1] + F[p + 2]) / 3;
      F[p] = 0.25 * gray + 0.1 * F[p]; F[p + 1] = 0.25 * gray + 0.1 * F[p + 1]; F[p + 2] = 0.25 * gray + 0.1 * F[p + 2];
    }
  } else if (e === 'cutout') {
    for (let k = 0; k < n; k++) if (!U[k]) { const p = 4 * k; F[p] = F[p + 1] = F[p + 2] = 255; }
  } else if (e === 'blur' && layers.length) {
    const kk = Math.max(3, Math.floor(Math.min(h, w) / 20) | 1);
    const B = filtered(pic, w, h, 'blur(' + (0.3 * ((kk - 1) * 0.5 - 1) + 0.8).toFixed(2) + 'px)');
    for (let k = 0; k < n; k++) if (!U[k]) { const p = 4 * k; F[p] = B[p]; F[p + 1] = B[p + 1]; F[p + 2] = B[p + 2]; }
  } else if (e === 'pixelate' && layers.length) {
    const block = Math.max(6, Math.floor(Math.min(h, w) / 30));
    const sc = document.createElement('canvas');
    sc.width = Math.max(1, Math.floor(w / block)); sc.height = Math.max(1, Math.floor(h / block));
    sc.getContext('2d').drawImage(pic, 0, 0, sc.width, sc.height);
    const bc = document.createElement('canvas');
    bc.width = w; bc.height = h;
    const bg = bc.getContext('2d', { willReadFrequently: true });
    bg.imageSmoothingEnabled = false;
    bg.drawImage(sc, 0, 0, w, h);
    const P = bg.getImageData(0, 0, w, h).data;
    for (let k = 0; k < n; k++) if (U[k]) { const p = 4 * k; F[p] = P[p]; F[p + 1] = P[p + 1]; F[p + 2] = P[p + 2]; }
  } else if (e === 'erase' && layers.length) {
    // The frame with the objects (grown by 2 px) cut out, blurred at falling radii: a blur of
    // an image with holes averages only what is there (premultiplied alpha), which fills them.
    const G = new Uint8Array(n);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (U[y * w + x])
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w) G[yy * w + xx] = 1;
      }
    const holes = document.createElement('canvas');
    holes.width = w; holes.height = h;
    const hg = holes.getContext('2d');
    const hd = new ImageData(new Uint8ClampedArray(F), w, h);
    for (let k = 0; k < n; k++) if (G[k]) hd.data[4 * k + 3] = 0;
    hg.putImageData(hd, 0, 0);
    const fill = document.createElement('canvas');
    fill.width = w; fill.height = h;
    const fg = fill.getContext('2d', { willReadFrequently: true });
    for (const r of [Math.min(h, w) / 6, Math.min(h, w) / 16, Math.min(h, w) / 40, 2]) {
      fg.filter = 'blur(' + r.toFixed(1) + 'px)';
      fg.drawImage(holes, 0, 0);
    }
    const D = fg.getImageData(0, 0, w, h).data;
    for (let k = 0; k < n; k++) if (G[k]) { const p = 4 * k; F[p] = D[p]; F[p + 1] = D[p + 1]; F[p + 2] = D[p + 2]; }
  }
  if (outlines) {
    const R = Math.max(1, Math.round(Math.min(h, w) / 240));
    for (const [rgb, a] of bits) {
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        if (a[y * w + x] !== 2) continue;
        for (let dy = -R; dy <= R; dy++) for (let dx = -R; dx <= R; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const p = 4 * (yy * w + xx);
          F[p] = rgb[0]; F[p + 1] = rgb[1]; F[p + 2] = rgb[2];
        }
      }
    }
  }
  g.putImageData(img, 0, 0);
  S.fx = { key, pic, canvas: c };
  root.dataset.fxFrame = String(i);
  return c;
}

// ---------------------------------------------------------------- files
async function takeFile(file) {
  if (!file) return;
  const want = (cfg.accept || 'image/*').split('/')[0];
  if (file.type && !file.type.startsWith(want + '/')) {
    hint('That is not ' + (want === 'video' ? 'a video' : 'an image') + ': ' + file.name, 4000);
    return;
  }
  root.dataset.state = 'uploading';
  hint('Uploading ' + file.name + '…', 60000);
  try {
    const r = await upload(file);
    hint('Uploaded ' + file.name, 1200);
    emit('upload', { path: r.path, url: r.url, name: file.name });
  } catch (err) {
    root.dataset.state = S.W ? 'ready' : 'empty';
    hint('Upload failed: ' + (err && err.message ? err.message : 'unknown error'), 5000);
  }
}
fileIn.addEventListener('change', () => takeFile(fileIn.files && fileIn.files[0]));
stage.addEventListener('dragover', (e) => { e.preventDefault(); root.classList.add('sc-dragover'); });
stage.addEventListener('dragleave', () => root.classList.remove('sc-dragover'));
stage.addEventListener('drop', (e) => {
  e.preventDefault();
  root.classList.remove('sc-dragover');
  takeFile(e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0]);
});
document.addEventListener('paste', (e) => {
  if (!(S.hover || document.activeElement === root)) return;
  const items = (e.clipboardData && e.clipboardData.files) || [];
  if (items.length) { e.preventDefault(); takeFile(items[0]); }
});

// ---------------------------------------------------------------- keys
function stepObject(dir) {
  if (!S.objects.length) { hint('No objects yet: click the picture to start one'); return; }
  let i = S.objects.findIndex((o) => o.id === S.selected);
  i = i < 0 ? (dir > 0 ? 0 : S.objects.length - 1) : (i + dir + S.objects.length) % S.objects.length;
  selectObject(S.objects[i].id, dir);
}
function selectObject(id, dir) {
  const o = S.objects.find((x) => x.id === id);
  if (!o) return;
  S.selected = id;
  S.preview = null;
  hint('Selected ' + (o.label || 'object ' + id), 1200);
  renderLegend();
  redraw();
  emit('select_object', { object: id, direction: dir || 0 });
}
function onKey(e) {
  const t = e.target;
  if (t && t !== root && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
  if (!(document.activeElement === root || S.hover)) return;
  const k = e.key;
  const video = S.kind === 'video';
  let handled = true;
  if (k === '?') {
    showKeys(!S.showKeys);
  } else if ((k === 'b' || k === 'B' || k === 'e' || k === 'E') && !e.ctrlKey && !e.metaKey) {
    const want = (k === 'b' || k === 'B') ? 'brush' : 'erase';
    setTool(S.tool === want ? 'prompt' : want);
  } else if (k === 'Escape' && S.tool !== 'prompt') {
    setTool('prompt');
  } else if ((k === '[' || k === ']') && S.tool !== 'prompt') {
    brushSize(k === ']' ? 1.25 : 0.8);
  } else if (k === 'Escape' && S.showKeys) {
    showKeys(false);
  } else if (e.code === 'Digit0' || k === '0' || k === ')') {
    if (!S.W) hint('Open a picture first');
    else if (e.shiftKey) { zoomCentre(zoomOf100()); hint('100 %: one picture pixel per screen pixel', 1200); }
    else { fitView(); hint('Whole picture', 900); }
  } else if (k === '+' || k === '=') {
    if (S.W) zoomCentre(S.view.z * 1.25);
  } else if (k === '-' || k === '_') {
    if (S.W) zoomCentre(S.view.z / 1.25);
  } else if (k === ' ') {
    // Held: drag pans. Tapped (pressed and released without a drag): play / pause a clip.
    if (!e.repeat) { S.spaceDown = true; S.spacePanned = false; root.classList.add('sc-space'); }
  } else if (((k === 'z' || k === 'Z') && (e.ctrlKey || e.metaKey)) || ((k === 'y' || k === 'Y') && (e.ctrlKey || e.metaKey))) {
    // Ctrl+Z: back one change of any kind (Clear all and Delete object too); Ctrl+Shift+Z or
    // Ctrl+Y: forward again. Plain Z keeps undoing the selected object's last prompt.
    const step = (k === 'y' || k === 'Y' || e.shiftKey) ? 1 : -1;
    if (S.busy) hint(S.busy, 3500);
    else if (!S.W) hint('Open a picture first');
    else emit('history', { step });
  } else if (k === 'z' || k === 'Z') {
    if (S.busy) hint(S.busy, 3500);
    else if (!S.objects.length && !S.pending.length) hint('Nothing to undo');
    else emit('undo', {});
  } else if (k === 'n' || k === 'N') {
    if (e.ctrlKey || e.metaKey) return;
    if (!S.W) hint('Open a picture first');
    else emit('new_object', {});
  } else if (k === '1' || k === '2' || k === '3') {
    chooseCandidate(+k - 1);
  } else if (k === 'Escape') {
    if (S.drag && S.drag.box) { S.drag = null; hint('Box dropped', 1200); redraw(); }
    else if (S.drag) { S.drag = null; }
    else hint('No box being drawn', 1200);
  } else if (k === 'Delete' || k === 'Backspace') {
    if (S.selected === null) hint('Nothing selected: press [ or ] to pick an object');
    else emit('delete_object', { object: S.selected });
  } else if (k === '[' || (k === 'Tab' && e.shiftKey)) {
    if (k === 'Tab' && !S.objects.length) return;
    stepObject(-1);
  } else if (k === ']' || k === 'Tab') {
    if (k === 'Tab' && !S.objects.length) return;
    stepObject(1);
  } else if (k === 'ArrowRight' && video) {
    step(1);
  } else if (k === 'ArrowLeft' && video) {
    step(-1);
  } else if (k === 'Home' && video) {
    seek(0, true);
  } else if (k === 'End' && video) {
    seek(S.frames.length - 1, true);
  } else handled = false;
  if (handled) { e.preventDefault(); e.stopPropagation(); }
}
function onKeyUp(e) {
  if (e.key !== ' ' || !S.spaceDown) return;
  S.spaceDown = false;
  root.classList.remove('sc-space');
  if (!S.spacePanned && S.kind === 'video') togglePlay();
  e.preventDefault();
  e.stopPropagation();
}
root.addEventListener('keydown', onKey);
root.addEventListener('keyup', onKeyUp);
document.addEventListener('keydown', (e) => { if (e.target !== root && S.hover) onKey(e); });
document.addEventListener('keyup', (e) => { if (e.target !== root && (S.hover || S.spaceDown)) onKeyUp(e); });
window.addEventListener('blur', () => { S.spaceDown = false; root.classList.remove('sc-space'); });

// ---------------------------------------------------------------- player
const PLAY_SVG = '<svg viewBox="0 0 16 16"><path d="M4 2v12l10-6z"/></svg>';
const PAUSE_SVG = '<svg viewBox="0 0 16 16"><path d="M3 2h4v12H3zM9 2h4v12H9z"/></svg>';
function updatePlayer() {
  const n = S.frames.length;
  scrub.max = String(Math.max(0, n - 1));
  scrub.value = String(S.frame);
  frameLabel.textContent = (n ? S.frame + 1 : 0) + ' / ' + n;
  playBtn.innerHTML = S.playing ? PAUSE_SVG : PLAY_SVG;
  root.dataset.playing = S.playing ? '1' : '0';
}
function seek(f, tell) {
  const n = S.frames.length;
  if (!n) return;
  f = Math.max(0, Math.min(n - 1, f | 0));
  const changed = f !== S.frame;
  S.frame = f;
  S.preview = null;
  ensureWindow();
  updatePlayer();
  redraw();
  if (tell && (changed || !S.playing)) emit('seek', { index: f, frame: f });
}
function step(d) {
  if (S.kind !== 'video') return;
  if (S.playing) togglePlay(false);
  seek(S.frame + d, true);
}
function tick(now) {
  if (!S.playing) return;
  const dt = 1000 / S.fps;
  if (now - S.lastTick >= dt) {
    const next = S.frame + 1;
    if (next >= S.frames.length) { togglePlay(false); return; }
    if (ready(S.imgs[next])) {  // frames not yet in the browser: wait for them (buffering)
      S.frame = next;
      S.lastTick = now - Math.min(dt, now - S.lastTick - dt);
      ensureWindow();
      updatePlayer();
      draw();
    } else if (S.windowed && !S.imgs[next]) ensureWindow();  // asks (at most every few s) and decodes
  }
  requestAnimationFrame(tick);
}
function togglePlay(on) {
  if (S.kind !== 'video' || !S.frames.length) { hint('No clip to play'); return; }
  const want = on === undefined ? !S.playing : on;
  if (want === S.playing) return;
  if (want && S.frame >= S.frames.length - 1) S.frame = 0;
  S.playing = want;
  updatePlayer();
  if (want) { S.lastTick = performance.now(); requestAnimationFrame(tick); }
  else emit('seek', { index: S.frame, frame: S.frame });
}
playBtn.addEventListener('click', () => togglePlay());
root.querySelector('.sc-prev').addEventListener('click', () => step(-1));
root.querySelector('.sc-next').addEventListener('click', () => step(1));
scrub.addEventListener('input', () => { if (S.playing) togglePlay(false); seek(+scrub.value, false); });
scrub.addEventListener('change', () => seek(+scrub.value, true));

// ---------------------------------------------------------------- timeline
const ROW = 12, HEAD = 6;
function fitTimeline() {
  const dpr = window.devicePixelRatio || 1;
  const rows = Math.max(1, S.objects.length);
  const w = root.clientWidth || 300, h = HEAD + rows * ROW + 4;
  tl.style.height = h + 'px';
  if (tl.width !== Math.round(w * dpr) || tl.height !== Math.round(h * dpr)) {
    tl.width = Math.round(w * dpr);
    tl.height = Math.round(h * dpr);
  }
}
function drawTimeline() {
  if (S.kind !== 'video') return;
  const n = S.frames.length;
  if (!n) return;
  fitTimeline();
  const dpr = window.devicePixelRatio || 1;
  const W = tl.width, cw = W / n;
  tctx.setTransform(1, 0, 0, 1, 0, 0);
  tctx.clearRect(0, 0, W, tl.height);
  tctx.scale(dpr, dpr);
  const cwc = cw / dpr;
  // One rectangle per run of frames (a long clip has thousands of frames and few runs).
  const runs = (has, y, h) => {
    for (let f = 0; f < n; f++) {
      if (!has(f)) continue;
      let e = f + 1;
      while (e < n && has(e)) e++;
      tctx.fillRect(f * cwc, y, Math.max(1, (e - f) * cwc - 0.5), h);
      f = e;
    }
  };
  tctx.fillStyle = 'rgba(128,128,128,0.25)';
  if (S.windowed) runs((f) => S.live.has(f) && ready(S.imgs[f]), 0, HEAD - 2);
  else for (let f = 0; f < n; f++) if (S.imgs[f]) tctx.fillRect(f * cwc, 0, Math.max(1, cwc - 0.5), HEAD - 2);
  S.objects.forEach((o, r) => {
    const y = HEAD + r * ROW;
    tctx.fillStyle = 'rgba(128,128,128,0.12)';
    tctx.fillRect(0, y, W / dpr, ROW - 2);
    tctx.fillStyle = o.color;
    const row = S.cover[o.id];
    if (S.windowed) runs((f) => !!(row && row[f]), y, ROW - 2);
    else for (let f = 0; f < n; f++) {
      if (S.masks[f] && S.masks[f][o.id]) tctx.fillRect(f * cwc, y, Math.max(1, cwc - 0.5), ROW - 2);
    }
    for (const k of Object.keys(S.prompts)) {
      const f = +k;
      const p = S.prompts[f] && S.prompts[f][o.id];
      if (p && ((p.points && p.points.length) || p.box)) {
        const cx = (f + 0.5) * cwc;
        tctx.beginPath();
        tctx.moveTo(cx - 4, y); tctx.lineTo(cx + 4, y); tctx.lineTo(cx, y + 6); tctx.closePath();
        tctx.fillStyle = '#fff'; tctx.fill();
        tctx.strokeStyle = '#111'; tctx.lineWidth = 1; tctx.stroke();
      }
    }
  });
  const x = (S.frame + 0.5) * cwc;
  tctx.fillStyle = '#ef4444';
  tctx.fillRect(x - 1, 0, 2, tl.height / dpr);
}
function timelineSeek(e) {
  const r = tl.getBoundingClientRect();
  const n = S.frames.length;
  if (!n) return;
  if (S.playing) { S.playing = false; updatePlayer(); }  // the release below tells Python
  seek(Math.floor((e.clientX - r.left) / r.width * n), false);
}
let tlDown = false;
tl.addEventListener('pointerdown', (e) => { tlDown = true; tl.setPointerCapture(e.pointerId); timelineSeek(e); });  // seek told on release
tl.addEventListener('pointermove', (e) => {
  if (!tlDown) return;
  const r = tl.getBoundingClientRect();
  const f = Math.max(0, Math.min(S.frames.length - 1, Math.floor((e.clientX - r.left) / r.width * S.frames.length)));
  if (f !== S.frame) seek(f, false);
});
tl.addEventListener('pointerup', () => { if (tlDown) { tlDown = false; emit('seek', { index: S.frame, frame: S.frame }); } });

// ---------------------------------------------------------------- start
watch('value', () => apply(props.value));
if (kept) {
  root.dataset.state = S.W ? (S.loading ? 'loading' : 'ready') : 'empty';
  legend.dataset.key = '';
  renderLegend();
  setEffect(S.effect);
  if (S.preparing) setPreparing({ text: S.preparing.text, eta_s: S.preparing.eta });
  renderChips();
  updatePlayer();
  fit();
}
apply(props.value);
root.dataset.ready = '1';
void EMIT;
