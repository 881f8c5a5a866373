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
