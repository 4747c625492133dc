"""A stand-in live widget with every part of the classroom-widget contract, run as a notebook cell by the browser
test to check that the measurements read each part right (tests/browser/classroom.py).

Its picture is a plain PNG of :data:`WIDTH_PX` pixels (twice as wide in projector mode) whose class says that
its smallest text is :data:`TEXT_PX` picture pixels (twice as many in projector mode); every redraw first
says ``running…``, takes :data:`WORK_S`, then shows the new picture and clears the status.
"""
import io
import time

import ipywidgets
from IPython.display import display
from PIL import Image

WIDTH_PX, TEXT_PX, WORK_S = 400, 10, 0.3


def png(width: int, shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, width // 4), (shade, 90, 120)).save(buffer, format="PNG")
    return buffer.getvalue()


# shown pixel for pixel: without a CSS width the VBox stretches the picture to its own width
picture = ipywidgets.Image(value=png(WIDTH_PX, 0), format="png", layout=ipywidgets.Layout(width=f"{WIDTH_PX}px"))
picture.add_class("classroom-picture")
picture.add_class(f"classroom-text-px-{TEXT_PX}")
status = ipywidgets.HTML("")
status.add_class("classroom-status")
shade = ipywidgets.IntSlider(value=0, min=0, max=5, description="shade")
projector = ipywidgets.ToggleButton(description="projector")
projector.add_class("classroom-projector")


def redraw(_change) -> None:
    status.value = "running…"
    time.sleep(WORK_S)
    scale = 2 if projector.value else 1
    picture._dom_classes = tuple(name for name in picture._dom_classes if not name.startswith("classroom-text-px-")
                                 ) + (f"classroom-text-px-{TEXT_PX * scale}",)
    picture.layout.width = f"{WIDTH_PX * scale}px"
    picture.value = png(WIDTH_PX * scale, 40 * shade.value)
    status.value = ""


shade.observe(redraw, names="value")
projector.observe(redraw, names="value")
widget = ipywidgets.VBox([picture, ipywidgets.HBox([shade, projector]), status])
widget.add_class("classroom-widget")
display(widget)
