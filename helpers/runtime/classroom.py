"""The one mechanism behind every live classroom widget: picture, controls, projector toggle, status line.

Both kinds of classroom widget use it: the walkthroughs (:mod:`helpers.plots.walkthrough_widget`) and the figure
widgets (:func:`helpers.runtime.widgets.classroom_widget`). The contract the browser test relies on:

- the whole widget is an ``ipywidgets.VBox`` of CSS class ``classroom-widget``;
- its picture is one ``ipywidgets.Image`` (PNG) of class ``classroom-picture``, shown at 1:1 (its CSS size is
  the PNG's pixel size) and carrying ``classroom-text-px-<N>``, N the height in PNG pixels of the smallest
  text in the picture (font size in pt × dpi / 72, rounded down), updated with every picture;
- a ``ToggleButton`` described ``projector`` (class ``classroom-projector``) re-lays the picture out for a
  projector: text ≥ :data:`PROJECTOR_TEXT_PX` px, the whole widget ≤ :data:`PROJECTOR_HEIGHT_PX` px tall;
- an ``ipywidgets.HTML`` of class ``classroom-status``: ``running…`` while a picture is computed, empty once
  it is current, or words saying why a control has no visible effect (the :class:`Picture`'s ``status``);
- the display bundle also carries ``image/png`` (the first picture) and a ``text/plain`` line: a notebook
  saved with the widget and reopened without a kernel shows that picture.

Pictures are computed on one background thread per widget (:class:`LatestValueWorker`): a control's
callback only records the newest request, so a drag never queues stale work, and a long computation that
yields progressive pictures stops as soon as a newer request arrives. A draw function is a function of the
controls' values and the mode, so the widget keeps its last :data:`PICTURES_KEPT` final pictures
(:class:`PictureCache`): going back to a setting, or toggling the projector back, shows the picture at once. Figures are ``matplotlib.figure.Figure``
objects rendered by Agg, never pyplot's, so nothing lands in JupyterLab's Log Console.
"""
from __future__ import annotations

import base64
import html
import inspect
import io
import math
import threading
import traceback
from collections import OrderedDict
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image as PILImage

RUNNING = "running…"
NOTEBOOK_WIDTH_PX = 840  # an output's width in a 950 px notebook panel (1280×720 window, file browser open)
PROJECTOR_TEXT_PX = 16  # the smallest on-screen text a projector's back row can read
PROJECTOR_HEIGHT_PX = 550  # the whole widget, controls included, in the visible part of a 720 px window
CONTROL_ROW_PX = 40  # one row of controls (ipywidgets' line height plus margins)
WIDGET_MARGIN_PX = 16  # the VBox's own padding and the gap between picture and controls
CONTROL_WIDTH_PX = {"Button": 80, "ToggleButton": 104, "Dropdown": 220, "SelectionSlider": 260,
                    "IntSlider": 260, "FloatSlider": 260, "FloatLogSlider": 260, "Play": 0,
                    "HTML": 120}  # the status line: at least this, and whatever the row leaves
PICTURES_KEPT = 64  # final pictures a widget keeps by setting (≈ 100 KB each): a lesson's back-and-forth
FOCUS_COLOUR = "#1A5FB4"  # 7.1:1 against white: a ring seen from the back row
# :focus, not :focus-visible: on a projector the ring also shows the class which control was just clicked;
# !important: ipywidgets' own 1 px button outline is the more specific rule
STYLE = f"""<style>
.classroom-widget button:focus, .classroom-widget select:focus, .classroom-widget input:focus,
.classroom-widget .noUi-handle:focus, .classroom-widget .slider-container:focus-within .noUi-handle {{
  outline: 3px solid {FOCUS_COLOUR} !important; outline-offset: 2px; box-shadow: 0 0 0 5px #ffffff; }}
.classroom-widget .classroom-picture {{ max-width: none !important; max-height: none !important; object-fit: none;
  flex: none; }}
.classroom-widget .classroom-note pre {{ margin: 0; font-size: 13px; line-height: 1.3; }}
.classroom-widget .classroom-status {{ font-weight: bold; color: #7A2E00; }}
.classroom-widget .classroom-controls {{ flex-wrap: wrap; align-items: center; }}
</style>"""


@dataclass(frozen=True)
class Picture:
    """One rendered picture: ``png`` bytes of ``size`` (width, height) pixels whose smallest text is ``text_px``
    pixels high; ``status`` says why a control changes nothing visible (empty if nothing to say), ``note`` is
    text shown under the picture (headless: printed before it)."""
    png: bytes
    size: tuple[int, int]
    text_px: int
    status: str = ""
    note: str = ""
    progress: bool = False  # an intermediate picture: the status line keeps saying running…


@dataclass
class Drawn:
    """What a figure widget's function returns when it has more to say than its figure (a bare Figure is
    also accepted): the ``figure``, a ``status`` line, a ``note`` and ``progress`` as for :class:`Picture`."""
    figure: Figure
    status: str = ""
    note: object = ""  # anything printable: a table object prints as it would in a cell
    progress: bool = False


def new_figure(**kwargs) -> Figure:
    """A Figure drawn by Agg and unknown to pyplot (``kwargs`` as for ``Figure``; the course style applies)."""
    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


class Overlay:
    """What a figure widget redraws on every call, over a background drawn once (a contour map, a curve):
    each ``with overlay:`` block first removes the artists the previous block added to ``figure``'s axes, then
    remembers the ones it adds. A call then costs the overlay and one render, not a new figure."""

    def __init__(self, figure: Figure):
        self.figure, self.added = figure, []

    def _artists(self) -> list:
        return [artist for ax in self.figure.axes for artist in ax.get_children()]

    def __enter__(self) -> Overlay:
        for artist in self.added:
            artist.remove()
        self.before = {id(artist) for artist in self._artists()}
        return self

    def __exit__(self, *exc) -> None:
        self.added = [artist for artist in self._artists() if id(artist) not in self.before]


def as_drawn(result: Figure | Drawn) -> Drawn:
    return result if isinstance(result, Drawn) else Drawn(result)


def text_px(points: float, dpi: float) -> int:
    """The pixel height of text of ``points`` at ``dpi`` (rounded down: the class name's N)."""
    return math.floor(points * dpi / 72 + 1e-9)


def smallest_text_px(figure: Figure) -> int:
    """The pixel height of the smallest visible, non-empty text in ``figure`` (0 if it has no text)."""
    sizes = [t.get_fontsize() for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return text_px(min(sizes), figure.dpi) if sizes else 0


def png_of(pixels: np.ndarray) -> bytes:
    """An (H, W, 3 or 4) uint8 array as PNG bytes, quickly compressed (the picture changes many times)."""
    buffer = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(pixels[..., :3])).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def render(figure: Figure, status: str = "", note: object = "", progress: bool = False) -> Picture:
    """``figure`` rendered by Agg (one draw; no tight bounding box) as a :class:`Picture` (``note`` as printed)."""
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())
    return Picture(png_of(pixels), (pixels.shape[1], pixels.shape[0]), smallest_text_px(figure), status, str(note),
                   progress)


def fit_figure(figure: Figure, projector: bool, box_px: tuple[int, int]) -> Figure:
    """Lay ``figure`` out for the notebook or, ``projector``, for a projector, in place, and return it.

    Its size as first seen and each text's first font size are remembered on the figure, so toggling back
    and forth (or a figure updated between renders) always starts from the original. Its layout engine
    places the axes again whenever the size or the axes changed (see :func:`keep_layout`). Notebook: the figure
    keeps its size unless wider than the notebook (then it is shrunk to fit, fonts kept). Projector: the
    figure fills ``box_px`` (width, height in pixels) and no text is under :data:`PROJECTOR_TEXT_PX`.
    """
    original = figure.__dict__.setdefault("_classroom_size_in", tuple(figure.get_size_inches()))
    if projector:
        figure.set_size_inches(box_px[0] / figure.dpi, box_px[1] / figure.dpi)
    else:
        width_px = original[0] * figure.dpi
        shrink = min(1.0, NOTEBOOK_WIDTH_PX / width_px)
        figure.set_size_inches(original[0] * shrink, original[1] * shrink)
    least_points = PROJECTOR_TEXT_PX * 72 / figure.dpi
    for text in figure.findobj(Text):
        points = text.__dict__.setdefault("_classroom_points", text.get_fontsize())
        text.set_fontsize(max(points, least_points) if projector else points)
    layout = (projector, tuple(box_px), [id(ax) for ax in figure.axes])
    if figure.__dict__.get("_classroom_layout") != layout:  # new size or new axes: the layout engine places them
        engine = figure.__dict__.setdefault("_classroom_engine", figure.get_layout_engine())
        if engine is None and projector:  # placed by hand at notebook sizes: the larger text needs the room made
            engine = "constrained"
        if engine is not None:
            figure.set_layout_engine(engine)
        figure._classroom_layout, figure._classroom_placed = layout, False
    return figure


def keep_layout(figure: Figure) -> None:
    """After a render of a :func:`fit_figure` figure: keep the axes where the layout engine just put them, so
    the next pictures of the same layout skip its solve (half of a constrained figure's render)."""
    if figure.__dict__.get("_classroom_placed") is False and figure.get_layout_engine() is not None:
        figure.set_layout_engine("none")
        figure._classroom_placed = True


def projector_box_px(control_rows: int) -> tuple[int, int]:
    """The picture's room in projector mode (width, height in pixels) under ``control_rows`` rows of controls."""
    return NOTEBOOK_WIDTH_PX, PROJECTOR_HEIGHT_PX - control_rows * CONTROL_ROW_PX - WIDGET_MARGIN_PX


def control_rows(controls: Iterable) -> int:
    """How many rows ``controls`` (laid out left to right, wrapping at the notebook's width) take."""
    rows, used = 1, 0
    for control in controls:
        width = CONTROL_WIDTH_PX.get(type(control).__name__, 300)
        if used and used + width > NOTEBOOK_WIDTH_PX:
            rows, used = rows + 1, 0
        used += width
    return rows


def pictures(result: Picture | Iterator[Picture | None]) -> Iterator[Picture | None]:
    """A draw function's result as a sequence: one picture, or a generator's. A generator yields progressive
    pictures (``progress`` set), then the final one, and may go on working ahead for the next request (a
    cache to fill), yielding None now and then: a newer request stops it there."""
    if isinstance(result, Picture):
        yield result
    else:
        yield from result


class LatestValueWorker:
    """Runs ``work(request)`` on one daemon thread, always for the newest request only.

    :meth:`submit` just records the request and returns (a control's callback, on the kernel's message
    thread, never waits): requests that arrive while one is computed replace each other, and only the last is
    computed next. ``work`` may poll :meth:`superseded` to stop early. ``on_error(exception)`` is called with
    anything ``work`` raises (the thread survives)."""

    def __init__(self, work: Callable[[Any], None], on_error: Callable[[BaseException], None]):
        self.work, self.on_error = work, on_error
        self.condition = threading.Condition()
        self.pending: list = []  # at most one: the newest request not started yet
        self.busy = False
        self.computed: list = []  # every request actually computed, in order (what a test or benchmark checks)
        self.thread = threading.Thread(target=self._run, daemon=True, name="classroom-widget")
        self.thread.start()

    def submit(self, request) -> None:
        with self.condition:
            self.pending[:] = [request]
            self.condition.notify_all()

    def superseded(self) -> bool:
        """True when a newer request waits (the one being computed is stale)."""
        return bool(self.pending)

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until nothing is pending or computing; False if ``timeout`` seconds passed first."""
        with self.condition:
            return self.condition.wait_for(lambda: not self.pending and not self.busy, timeout)

    def _run(self) -> None:
        while True:
            with self.condition:
                self.condition.wait_for(lambda: bool(self.pending))
                request, self.busy = self.pending.pop(), True
            try:
                self.computed.append(request)
                self.work(request)
            except Exception as error:  # noqa: BLE001 - shown on the status line, the widget keeps working
                self.on_error(error)
            finally:
                with self.condition:
                    self.busy = False
                    self.condition.notify_all()


class PictureCache:
    """The last ``size`` final pictures by request (the controls' values and the mode), least recently used
    dropped first. A request whose values cannot be a key (an unhashable value) is simply never kept."""

    def __init__(self, size: int = PICTURES_KEPT):
        self.size, self.pictures = size, OrderedDict()

    @staticmethod
    def key(values: dict, projector: bool):
        key = (tuple(sorted(values.items())), projector)
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, values: dict, projector: bool) -> Picture | None:
        key = self.key(values, projector)
        if key is None or key not in self.pictures:
            return None
        self.pictures.move_to_end(key)
        return self.pictures[key]

    def put(self, values: dict, projector: bool, picture: Picture) -> None:
        key = self.key(values, projector)
        if key is not None:
            self.pictures[key] = picture
            self.pictures.move_to_end(key)
            while len(self.pictures) > self.size:
                self.pictures.popitem(last=False)


class WithFallback:
    """Displays ``box`` live, and carries ``picture`` as ``image/png`` and ``text`` as ``text/plain`` in the
    same bundle: what a notebook reopened without a kernel shows once the live reference is stripped."""

    def __init__(self, box, picture: Picture, text: str):
        self.box, self.picture, self.text = box, picture, text

    def _repr_mimebundle_(self, **kwargs):
        bundle = dict(self.box._repr_mimebundle_(**kwargs) or {})
        bundle["image/png"] = base64.b64encode(self.picture.png).decode("ascii")
        bundle["text/plain"] = self.text
        return bundle


class ClassroomWidget:
    """A live classroom widget: ``draw(values, box)`` returns a :class:`Picture` (or yields them: see
    :func:`pictures`) for ``values``, the controls' current values by name, laid out for the notebook (``box``
    None) or for a projector (``box`` the picture's room, (width, height) pixels: see :meth:`projector_box`);
    ``controls`` maps names to ipywidgets controls whose ``value`` feeds ``draw``; ``extra`` are widgets placed among the controls without a
    value of their own (buttons, a Play clock). The first picture is drawn before the widget is shown.

    ``.box`` is the VBox, ``.picture``, ``.projector``, ``.status`` its parts, ``.worker`` the
    :class:`LatestValueWorker` (``.worker.wait()`` until the picture is current), ``.cache`` the
    :class:`PictureCache` of final pictures (``draw`` must depend on nothing but its arguments)."""

    def __init__(self, ipywidgets, draw: Callable[[dict, tuple | None], Picture | Iterator[Picture]], controls: dict,
                 extra: Iterable = (), label: str = "classroom widget"):
        self.ipywidgets, self.draw, self.controls, self.label = ipywidgets, draw, dict(controls), label
        self.projector = ipywidgets.ToggleButton(value=False, description="projector",
                                                 tooltip="large text, fits a projector's screen")
        self.projector.add_class("classroom-projector")
        self.status = ipywidgets.HTML(value="")
        self.status.add_class("classroom-status")
        self.picture = ipywidgets.Image(format="png")
        self.picture.add_class("classroom-picture")
        self.note = ipywidgets.HTML(value="", layout=ipywidgets.Layout(display="none"))
        self.note.add_class("classroom-note")
        items = [*self.controls.values(), *extra, self.projector, self.status]
        for item in items[:-1]:
            item.layout.width = f"{CONTROL_WIDTH_PX.get(type(item).__name__, 300)}px"
        self.status.layout.flex, self.status.layout.min_width = "1 1 auto", f"{CONTROL_WIDTH_PX['HTML']}px"
        row = ipywidgets.HBox(items)
        row.add_class("classroom-controls")
        self.rows = control_rows(items)
        style = ipywidgets.HTML(STYLE, layout=ipywidgets.Layout(display="none"))  # applies, takes no room
        self.box = ipywidgets.VBox([style, self.picture, self.note, row])
        self.box.add_class("classroom-widget")
        self.first = self._show(final_picture(draw(self.values(), None)))
        self.cache = PictureCache()
        self.cache.put(self.values(), False, self.first)
        self.worker = LatestValueWorker(self._compute, self._failed)
        for control in (*self.controls.values(), self.projector):
            control.observe(lambda _: self.request(), names="value")

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def request(self) -> None:
        """Ask for the picture of the controls' current values (returns at once; latest value wins)."""
        self.status.value = RUNNING
        self.worker.submit((self.values(), self.projector.value))

    def _compute(self, request) -> None:
        values, projector = request
        kept = self.cache.get(values, projector)
        if kept is not None:
            self._show(kept)
            return
        steps, last = pictures(self.draw(values, self.projector_box() if projector else None)), None
        for picture in steps:
            if self.worker.superseded():
                steps.close()  # a newer request is waiting: stop this computation where it is
                return
            if picture is not None:
                last = self._show(picture, final=not picture.progress)
                if not picture.progress:
                    self.cache.put(values, projector, picture)
        if last is not None and not self.worker.superseded():
            self.status.value = html.escape(last.status)

    def _show(self, picture: Picture, final: bool = True) -> Picture:
        width, height = picture.size
        self.picture.value = picture.png
        self.picture.layout.width, self.picture.layout.height = f"{width}px", f"{height}px"
        for name in [c for c in self.picture._dom_classes if c.startswith("classroom-text-px-")]:
            self.picture.remove_class(name)
        self.picture.add_class(f"classroom-text-px-{picture.text_px}")
        shown = picture.note and not self.projector.value  # the projector's room is the picture's
        self.note.value = f"<pre>{html.escape(picture.note)}</pre>" if shown else ""
        self.note.layout.display = None if shown else "none"
        if final:
            self.status.value = html.escape(picture.status)
        return picture

    def _failed(self, error: BaseException) -> None:
        self.status.value = html.escape(f"error: {type(error).__name__}: {error}")
        traceback.print_exception(error)

    def projector_box(self) -> tuple[int, int]:
        return projector_box_px(self.rows)

    def displayable(self) -> WithFallback:
        """The widget with its static fallback (the first picture), ready for ``display``."""
        return WithFallback(self.box, self.first, f"{self.label} (live in JupyterLab; first picture shown)")


def figure_picture(result: Figure | Drawn, box: tuple[int, int] | None) -> Picture:
    """A figure widget's result laid out for the notebook (``box`` None) or a projector (``box`` its room in
    pixels), rendered."""
    drawn = as_drawn(result)
    picture = render(fit_figure(drawn.figure, box is not None, box or (0, 0)), drawn.status, drawn.note,
                     drawn.progress)
    keep_layout(drawn.figure)
    return picture


def final_picture(result):
    """The first non-progressive item of a draw result (a Picture, or a figure widget's Figure or Drawn), its
    generator closed there (what comes after works ahead for live requests); a single result as it is."""
    if not inspect.isgenerator(result):
        return result
    with closing(result):
        return next(item for item in result if item is not None and not getattr(item, "progress", False))
