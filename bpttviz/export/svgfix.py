"""Make Qt's SVG renderer-proof: what :class:`QSvgGenerator` writes, rewritten so that
librsvg, browsers, Inkscape and Qt's own renderer draw it like the screen.

Qt writes one flat ``<g transform="matrix(a,b,c,d,e,f)">`` per painter state, with the
geometry in *item* coordinates (for a curve: data units) and, for cosmetic pens (pyqtgraph
uses them for every line), ``vector-effect="non-scaling-stroke"``.  A renderer that ignores
that effect scales the stroke by the data transform: a 2.5 px line on an axis of 0..10 drawn
900 px wide becomes a 225 px band.  Here every group's geometry is mapped into page units
(the transform applied to the coordinates, then dropped), so a stroke width is a width in
page pixels everywhere and no renderer-specific feature is needed.  Text and images keep
their transform (text stays text).  On the way:

* hairlines (width 0) get a real width of one page pixel;
* curves with more points than the page has pixel columns are decimated to the
  first/min/max/last point of each half-pixel column (no visible change);
* small embedded images (heatmaps of a few dozen cells) are enlarged with nearest-neighbour
  sampling so that no viewer smooths the cells into a blur.
"""
from __future__ import annotations

import base64
import io
import math
import re
import xml.etree.ElementTree as ET
from typing import List, Optional, Tuple

import numpy as np

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

#: A curve with more points than this is decimated (per half page pixel).
DECIMATE_ABOVE = 1200
#: Merged curves are written in polylines of at most this many points.
CHUNK = 16
#: ... and so are stroked paths over this many points (see _split_long_paths).
SPLIT_ABOVE = 200
#: Embedded images are enlarged (nearest neighbour) to this many pixels per page pixel, so a
#: viewer scaling them up to a slide smooths only the outermost pixel of each cell.
IMAGE_PX_PER_PAGE_PX = 2.0
#: ... but never beyond this many pixels a side.
MAX_IMAGE_SIDE = 3000

#: Marker fills around each pyqtgraph view (Qt's SVG generator writes no clipping): the
#: elements between them are clipped to the first marker's rectangle, as on screen.
CLIP_BEGIN_HEX, CLIP_END_HEX = "#fe01fd", "#fd02fe"


def marker_colour(hex_colour: str):
    """The QColor a marker is painted with (all but invisible if a renderer kept it)."""
    from PyQt5.QtGui import QColor
    c = QColor(hex_colour)
    c.setAlpha(1)
    return c


_NUM = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"[A-Za-z]|{_NUM}")
_MATRIX = re.compile(r"matrix\(([^)]*)\)")
_GEOMETRY = ("path", "polyline", "polygon", "rect", "line", "circle", "ellipse")


def _tag(el) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _fmt(v: float) -> str:
    r = round(float(v), 2)
    return ("%.2f" % r).rstrip("0").rstrip(".") if r != int(r) else str(int(r))


class _Affine:
    def __init__(self, a=1.0, b=0.0, c=0.0, d=1.0, e=0.0, f=0.0):
        self.a, self.b, self.c, self.d, self.e, self.f = map(float, (a, b, c, d, e, f))

    @classmethod
    def parse(cls, text: Optional[str]) -> Optional["_Affine"]:
        if not text:
            return None
        m = _MATRIX.fullmatch(text.strip())
        if not m:
            return None
        vals = [float(v) for v in re.split(r"[ ,]+", m.group(1).strip()) if v]
        return cls(*vals) if len(vals) == 6 else None

    def apply(self, xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        return np.column_stack([self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f])

    @property
    def scale(self) -> float:
        """The mean length scale (sqrt |det|): how much a non-cosmetic width grows."""
        return math.sqrt(abs(self.a * self.d - self.b * self.c))

    @property
    def axis_aligned(self) -> bool:
        return abs(self.b) < 1e-12 and abs(self.c) < 1e-12

    @property
    def identity(self) -> bool:
        return (self.axis_aligned and abs(self.a - 1) < 1e-12 and abs(self.d - 1) < 1e-12
                and abs(self.e) < 1e-12 and abs(self.f) < 1e-12)

    def text(self) -> str:
        return "matrix(" + ",".join(repr(v) for v in (self.a, self.b, self.c, self.d, self.e, self.f)) + ")"


# --- geometry --------------------------------------------------------------------------------
def _parse_path(d: str) -> Optional[List[Tuple[str, np.ndarray]]]:
    """Absolute M/L/C/Q/Z commands as (command, points) or None (anything else: keep as is)."""
    tokens = _TOKEN.findall(d)
    out: List[Tuple[str, List[float]]] = []
    for tok in tokens:
        if tok.isalpha():
            if tok not in "MLCQZ":
                return None
            out.append((tok, []))
        elif not out:
            return None
        else:
            out[-1][1].append(float(tok))
    result = []
    for cmd, nums in out:
        if len(nums) % 2:
            return None
        result.append((cmd, np.asarray(nums, dtype=float).reshape(-1, 2)))
    return result


def _polyline_points(cmds) -> Optional[np.ndarray]:
    """The (n, 2) points of a path that is one open polyline (``M`` then only ``L``: Qt
    writes ``M x,y L x,y L x,y ...``), else None."""
    if len(cmds) < 2 or cmds[0][0] != "M" or len(cmds[0][1]) != 1:
        return None
    if any(c != "L" for c, _ in cmds[1:]):
        return None
    return np.vstack([p for _, p in cmds])


def _format_path(cmds) -> str:
    parts = []
    for cmd, pts in cmds:
        if cmd == "Z":
            parts.append("Z")
        else:
            parts.append(cmd + " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in pts))
    return " ".join(parts)


def decimate(pts: np.ndarray, per_px: float = 2.0) -> np.ndarray:
    """``pts`` (n, 2) page coordinates of a polyline -> at most ~4 points per half-pixel run
    of consecutive points: first, lowest, highest and last (the drawn envelope is the same)."""
    n = len(pts)
    if n <= DECIMATE_ABOVE:
        return pts
    col = np.floor(pts[:, 0] * per_px)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    if len(starts) * 4 >= n:
        return pts
    ends = np.r_[starts[1:], n] - 1
    y = pts[:, 1]
    order = np.lexsort((y, np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, n]))))
    # order sorts points by (run, y): the first and last of each run in it are min and max.
    run_first = np.r_[0, np.cumsum(np.diff(np.r_[starts, n]))[:-1]]
    run_last = np.cumsum(np.diff(np.r_[starts, n])) - 1
    lo, hi = order[run_first], order[run_last]
    keep = np.unique(np.concatenate([starts, ends, lo, hi]))
    return pts[keep]


def _transform_element(el, m: _Affine) -> bool:
    """Map ``el``'s coordinates through ``m`` in place; False if it cannot be (then the
    caller keeps the transform on the element)."""
    tag = _tag(el)
    if tag == "path":
        cmds = _parse_path(el.get("d", ""))
        if cmds is None:
            return False
        line = _polyline_points(cmds)
        if line is not None:  # (one array: mapped and decimated at once)
            both = decimate(m.apply(line))
            mapped = [("M", both[:1]), ("L", both[1:])]
        else:
            mapped = [(c, m.apply(p) if len(p) else p) for c, p in cmds]
        el.set("d", _format_path(mapped))
        return True
    if tag in ("polyline", "polygon"):
        nums = [float(v) for v in _TOKEN.findall(el.get("points", ""))]
        if len(nums) % 2:
            return False
        pts = m.apply(np.asarray(nums, dtype=float).reshape(-1, 2))
        if tag == "polyline":
            pts = decimate(pts)
        el.set("points", " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in pts))
        return True
    if tag == "rect":
        if not m.axis_aligned or el.get("rx") or el.get("ry"):
            x, y = float(el.get("x", 0)), float(el.get("y", 0))
            w, h = float(el.get("width", 0)), float(el.get("height", 0))
            if el.get("rx") or el.get("ry"):
                return False
            pts = m.apply(np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]))
            el.tag = f"{{{SVG_NS}}}polygon"
            for k in ("x", "y", "width", "height"):
                el.attrib.pop(k, None)
            el.set("points", " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in pts))
            return True
        x, y = float(el.get("x", 0)), float(el.get("y", 0))
        w, h = float(el.get("width", 0)), float(el.get("height", 0))
        (x0, y0), (x1, y1) = m.apply(np.array([[x, y], [x + w, y + h]]))
        el.set("x", _fmt(min(x0, x1)))
        el.set("y", _fmt(min(y0, y1)))
        el.set("width", _fmt(abs(x1 - x0)))
        el.set("height", _fmt(abs(y1 - y0)))
        return True
    if tag == "line":
        pts = m.apply(np.array([[float(el.get("x1", 0)), float(el.get("y1", 0))],
                                [float(el.get("x2", 0)), float(el.get("y2", 0))]]))
        for k, v in zip(("x1", "y1", "x2", "y2"), pts.ravel()):
            el.set(k, _fmt(v))
        return True
    if tag in ("circle", "ellipse"):
        if not m.axis_aligned:
            return False
        cx, cy = float(el.get("cx", 0)), float(el.get("cy", 0))
        (ncx, ncy), = m.apply(np.array([[cx, cy]]))
        el.set("cx", _fmt(ncx))
        el.set("cy", _fmt(ncy))
        if tag == "circle" and abs(abs(m.a) - abs(m.d)) < 1e-9:
            el.set("r", _fmt(float(el.get("r", 0)) * abs(m.a)))
        else:
            r = float(el.get("r", 0)) if tag == "circle" else None
            rx = float(el.get("rx", r or 0)) * abs(m.a)
            ry = float(el.get("ry", r or 0)) * abs(m.d)
            el.tag = f"{{{SVG_NS}}}ellipse"
            el.attrib.pop("r", None)
            el.set("rx", _fmt(rx))
            el.set("ry", _fmt(ry))
        return True
    return False


# --- images ----------------------------------------------------------------------------------
def _enlarge_image(el, m: _Affine) -> None:
    href_key = f"{{{XLINK_NS}}}href"
    href = el.get(href_key) or el.get("href") or ""
    if not href.startswith("data:image/png;base64,"):
        return
    w, h = float(el.get("width", 0)), float(el.get("height", 0))
    try:
        from PIL import Image
        img = Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1])))
        img.load()
    except Exception:  # noqa: BLE001 -- an image we cannot read is left untouched
        return
    shown_w, shown_h = abs(w * m.a) + abs(h * m.c), abs(w * m.b) + abs(h * m.d)
    kx = int(shown_w * IMAGE_PX_PER_PAGE_PX / max(1, img.width))
    ky = int(shown_h * IMAGE_PX_PER_PAGE_PX / max(1, img.height))
    kx = max(1, min(kx, MAX_IMAGE_SIDE // max(1, img.width)))
    ky = max(1, min(ky, MAX_IMAGE_SIDE // max(1, img.height)))
    if kx < 2 and ky < 2:
        return
    big = img.resize((img.width * kx, img.height * ky), Image.NEAREST)
    buf = io.BytesIO()
    big.save(buf, format="PNG", optimize=False)
    el.set(href_key, "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    el.attrib.pop("href", None)


# --- the rewrite -------------------------------------------------------------------------------
def _width(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _merge_polylines(g) -> None:
    """pyqtgraph draws a long curve as thousands of two-point segments: consecutive
    polylines of a group that continue one another become one polyline (decimated)."""
    kids = list(g)
    if sum(1 for k in kids if _tag(k) == "polyline") < 8:
        return
    run: list = []

    def flush():
        if len(run) > 1:
            pts: List[str] = run[0].get("points", "").split()
            for el in run[1:]:
                pts.extend(el.get("points", "").split()[1:])
                g.remove(el)
            xy = decimate(np.array([[float(v) for v in p.split(",")] for p in pts]))
            # Pieces of at most CHUNK points: renderers stroke one long zigzag polyline very
            # slowly (Qt's raster engine took 18 s for a 100,000-iteration loss curve).
            at = list(g).index(run[0])
            g.remove(run[0])
            for i, start in enumerate(range(0, max(1, len(xy) - 1), CHUNK - 1)):
                piece = ET.Element(run[0].tag, dict(run[0].attrib))
                piece.set("points", " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in xy[start:start + CHUNK]))
                g.insert(at + i, piece)
        run.clear()
    for k in kids:
        if _tag(k) != "polyline" or k.attrib.keys() - {"points", "fill"}:
            flush()
            continue
        if run and run[-1].get("points", "").split()[-1:] != k.get("points", "").split()[:1]:
            flush()
        run.append(k)
    flush()


def _split_long_paths(g) -> None:
    """A curve drawn as one path (``M`` then a long ``L``) becomes pieces of at most CHUNK
    points, like merged polylines: Qt's raster engine strokes a 700-point zigzag ~9x slower
    in one piece than in pieces (1.45 s against 0.16 s for the loss after 100,000
    iterations), and the pieces draw the same line."""
    if g.get("stroke-dasharray") or g.get("stroke", "none") == "none":
        return  # (dashes would restart at every piece; fills are not strokes)
    for i, el in reversed(list(enumerate(g))):
        if _tag(el) != "path" or el.get("fill", g.get("fill", "black")) != "none":
            continue  # (a filled outline cut in pieces would fill each piece)
        d = el.get("d", "")
        if d.count(",") <= SPLIT_ABOVE:
            continue
        cmds = _parse_path(d)
        xy = _polyline_points(cmds) if cmds is not None else None
        if xy is None:
            continue
        g.remove(el)
        for j, start in enumerate(range(0, max(1, len(xy) - 1), CHUNK - 1)):
            piece = ET.Element(el.tag, dict(el.attrib))
            piece.set("d", _format_path([("M", xy[start:start + 1]), ("L", xy[start + 1:start + CHUNK])]))
            g.insert(i + j, piece)


def _fix_group(g) -> None:
    m = _Affine.parse(g.get("transform"))
    children = list(g)
    cosmetic = any(c.get("vector-effect") == "non-scaling-stroke" for c in children)
    width = _width(g.get("stroke-width"))
    if m is None:
        m = _Affine()
    scale = m.scale
    for c in children:
        tag = _tag(c)
        if tag in _GEOMETRY:
            if m.identity or _transform_element(c, m):
                c.attrib.pop("vector-effect", None)
                continue
            # Could not map the coordinates: keep the transform on the element, with the
            # width expressed in its units so it draws at the intended page width.
            c.set("transform", m.text())
            c.attrib.pop("vector-effect", None)
            if width is not None and cosmetic and scale > 0:
                c.set("stroke-width", _fmt(max(width, 1.0) / scale) if scale < 1e6 else "0")
        elif tag == "image":
            _enlarge_image(c, m)
            if not m.identity:
                c.set("transform", m.text())
        elif tag == "text" and not m.identity:
            c.set("transform", m.text())
    g.attrib.pop("transform", None)
    _merge_polylines(g)
    _split_long_paths(g)
    if width is not None and g.get("stroke", "none") != "none":
        if not cosmetic:
            width *= scale
        g.set("stroke-width", _fmt(max(width, 1.0) if cosmetic or width == 0 else width))
        dash = g.get("stroke-dasharray")
        if dash and not cosmetic and scale != 1:
            g.set("stroke-dasharray", ",".join(_fmt(float(v) * scale) for v in re.split(r"[ ,]+", dash) if v))


def _marker_of(g) -> Optional[str]:
    fill = (g.get("fill") or "").lower()
    if fill in (CLIP_BEGIN_HEX, CLIP_END_HEX) and len(g) == 1 and _tag(g[0]) == "rect":
        return fill
    return None


def _clip_views(root) -> None:
    """Move what lies between a begin and an end marker into a group clipped to the begin
    marker's rectangle; drop the markers."""
    defs = next((c for c in root if _tag(c) == "defs"), None)
    if defs is None:
        defs = ET.SubElement(root, f"{{{SVG_NS}}}defs")
    n = 0
    for parent in list(root.iter(f"{{{SVG_NS}}}g")):
        kids = list(parent)
        if not any(_marker_of(k) for k in kids if _tag(k) == "g"):
            continue
        current = None
        for k in kids:
            kind = _marker_of(k) if _tag(k) == "g" else None
            if kind == CLIP_BEGIN_HEX:
                rect = k[0]
                n += 1
                cp = ET.SubElement(defs, f"{{{SVG_NS}}}clipPath", id=f"view{n}")
                ET.SubElement(cp, f"{{{SVG_NS}}}rect", {a: rect.get(a, "0") for a in
                                                         ("x", "y", "width", "height")})
                current = ET.Element(f"{{{SVG_NS}}}g", {"clip-path": f"url(#view{n})"})
                parent.insert(list(parent).index(k), current)
                parent.remove(k)
            elif kind == CLIP_END_HEX:
                parent.remove(k)
                current = None
            elif current is not None:
                parent.remove(k)
                current.append(k)


_FONT_ATTRS = ("font-family", "font-size", "font-weight", "font-style")


def _compact(root) -> None:
    """Qt writes one group per painter state change: drop the empty ones, the font of
    groups without text, and merge neighbours that say the same (smaller files, same
    picture)."""
    for parent in [root] + list(root.iter(f"{{{SVG_NS}}}g")):
        kids = list(parent)
        prev = None
        for g in kids:
            if _tag(g) != "g" or "clip-path" in g.attrib:
                prev = None
                continue
            if len(g) == 0:
                parent.remove(g)
                continue
            if not any(_tag(c) == "text" for c in g):
                for a in _FONT_ATTRS:
                    g.attrib.pop(a, None)
            if prev is not None and prev.attrib == g.attrib and all(_tag(c) != "g" for c in g):
                for c in list(g):
                    prev.append(c)
                parent.remove(g)
                continue
            prev = g if all(_tag(c) != "g" for c in g) else None


def fix_svg(data: bytes, width: int, height: int, title: str = "") -> bytes:
    """The renderer-proof SVG of Qt's ``data`` (see the module docstring), ``width`` x
    ``height`` page pixels."""
    root = ET.fromstring(data)
    root.set("width", str(int(width)))
    root.set("height", str(int(height)))
    root.set("viewBox", f"0 0 {int(width)} {int(height)}")
    root.set("version", "1.1")
    root.attrib.pop("baseProfile", None)
    for el in root:
        if _tag(el) == "title":
            el.text = title or "bpttviz"
        elif _tag(el) == "desc":
            el.text = "exported by bpttviz"
    for g in root.iter(f"{{{SVG_NS}}}g"):
        if any(_tag(c) != "g" for c in g):
            _fix_group(g)
    _clip_views(root)
    _compact(root)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(root, encoding="utf-8")
