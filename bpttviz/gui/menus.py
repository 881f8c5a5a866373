"""The window's menu bar, from the actions of :mod:`bpttviz.gui.actions` (one place for what
the user can do; this module only says where each action sits)."""
from __future__ import annotations


def build_menus(window) -> None:
    a = window.acts
    mb = window.menuBar()
    m = mb.addMenu("&File")
    m.addActions([a.open, a.save, a.save_as])
    m.addSeparator()
    m.addAction(a.load_corpus)
    m.addAction(a.check_code)
    m.addSeparator()
    window.export_menu = e = m.addMenu("&Export")
    e.setObjectName("exportMenu")
    window._export_target_label = e.addAction("")
    window._export_target_label.setEnabled(False)
    e.addSeparator()
    e.addActions([a.export_png, a.export_svg, a.export_pdf, a.export_csv, a.copy_image,
                  a.export_gif])
    e.addSeparator()
    e.addAction(a.export_all)
    e.aboutToShow.connect(window.exports.export_menu_shown)
    m.addAction(a.export_all)
    m.addSeparator()
    m.addAction(a.quit)
    m = mb.addMenu("&Edit")
    m.addActions([a.undo, a.redo])
    m = mb.addMenu("&Go")
    m.addActions([a.play, a.step_forward, a.step_back, a.home, a.end])
    m.addSeparator()
    m.addAction(a.next_iteration)
    window.run_menu = m = mb.addMenu("&Run")
    m.addActions([a.train, a.pause_training])
    window.view_menu = m = mb.addMenu("&View")
    m.addAction(a.presentation)
    window.theme_menu = t = m.addMenu("&Theme")
    t.addActions(list(a.themes.values()))
    m.addSeparator()
    for dock in window.docks.values():
        m.addAction(dock.toggleViewAction())
    m.addSeparator()
    m.addAction(a.reset_layout)
    m = mb.addMenu("&Help")
    m.addAction(a.help)
    m.addAction(a.about)
