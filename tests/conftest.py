# Must run before anything imports Qt: render to an offscreen platform so the
# tests need no display.
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

# Tell the app it runs under test, and point its settings/data at a throwaway
# per-session folder so tests never touch the user's real configuration.
os.environ["BPTTVIZ_TESTING"] = "1"
_TMP_HOME = tempfile.mkdtemp(prefix="bpttviz-tests-")
os.environ["XDG_DATA_HOME"] = os.path.join(_TMP_HOME, "data")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_TMP_HOME, "config")
atexit.register(shutil.rmtree, _TMP_HOME, ignore_errors=True)

# Exceptions raised inside Qt slots/virtual methods fail the running test:
# pytest-qt captures them by default.  Do not set `qt_no_exception_capture`
# (ini option or marker) unless a test really needs that.

# Small BLAS calls are slower, not faster, with threads on a busy 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gc  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _collect_qt_garbage_between_tests(request):
    """Collect garbage while no paint is running.

    Widgets a test closed are deleted by Qt; the Python wrappers of their pyqtgraph items
    live on in reference cycles. Left to chance, the cycle collector runs in the middle of
    a later test's paint and frees an item that scene is drawing (a segfault in
    AxisItem.paint). So the collector is off while a test runs and collects here, where
    nothing paints."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
    if "qapp" in request.fixturenames or "qtbot" in request.fixturenames:
        from PyQt5.QtWidgets import QApplication
        app = QApplication.instance()
        if app is not None:
            app.processEvents()
            gc.collect()
            app.processEvents()


@pytest.fixture(params=["compiled", "numpy"])
def kernel_set(request, monkeypatch):
    """Run a test once with the Numba kernels and once with their numpy references
    (bpttviz.engine.kernels).  The compiled set must load: Numba is a dependency."""
    from bpttviz.engine import kernels

    if request.param == "numpy":
        chosen = kernels.NUMPY_KERNELS
    else:
        chosen = kernels._compiled()
        assert chosen is not None, "the Numba kernels did not load (is numba installed?)"
    monkeypatch.setattr(kernels, "_KERNELS", chosen)
    monkeypatch.setattr(kernels, "_DEFERRED", False)
    return request.param
