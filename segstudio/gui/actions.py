"""Menus, toolbar and shortcuts of the main window.

`build_actions(window)` creates every QAction, puts them in the File, Edit,
View, Tools and Help menus and the toolbar, and returns them by name. Shortcuts
show in the menus and in the toolbar tooltips.
"""

from __future__ import annotations

from importlib.resources import files
from types import SimpleNamespace

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QToolBar

from segstudio.gui.label_files import ask_export_labels, ask_import_labels
from segstudio.gui.relinking import ask_relink_missing
from segstudio.gui.tools import TOOL_CLASSES

MENU_ORDER = ("&File", "&Edit", "&View", "&Tools", "&Help")


# The icons' dark ink, and what it becomes on a dark system theme.
INK, INK_ON_DARK = "#37474f", "#cfd8dc"
ICON_SIZES = (16, 24, 32, 48)


def icon(name: str) -> QIcon:
    path = files("segstudio.resources").joinpath("icons", f"{name}.svg")
    if not path.is_file():
        return QIcon()
    if not dark_theme():
        return QIcon(str(path))
    svg = QSvgRenderer(QByteArray(path.read_bytes().replace(INK.encode(), INK_ON_DARK.encode())))
    result = QIcon()
    for size in ICON_SIZES:
        # Qt's greyed-out version of light ink stays light: disabled ones are drawn faint.
        for mode, opacity in ((QIcon.Mode.Normal, 1.0), (QIcon.Mode.Disabled, 0.35)):
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setOpacity(opacity)
            svg.render(painter)
            painter.end()
            result.addPixmap(pixmap, mode)
    return result


def connect_triggered(action: QAction, slot) -> None:
    """Call `slot` when the action is triggered; with the checked state only if the action
    is checkable (a slot's optional first parameter must not receive checked=False)."""
    if action.isCheckable():
        action.triggered.connect(slot)
    else:
        action.triggered.connect(lambda _checked=False: slot())


def dark_theme() -> bool:
    return QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _action(window, text, slot=None, shortcut=None, icon_name=None, tip=None, checkable=False):
    action = QAction(text, window)
    if shortcut:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if icon_name:
        action.setIcon(icon(icon_name))
    action.setCheckable(checkable)
    plain = text.replace("&", "").rstrip(".…")
    hint = tip or plain
    if shortcut:
        hint += f" ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(hint)
    action.setStatusTip(tip or plain)
    if slot is not None:
        connect_triggered(action, slot)
    window.addAction(action)  # shortcuts work while any part of the window has focus
    return action


def build_actions(window) -> SimpleNamespace:
    a = SimpleNamespace()
    canvas = window.canvas
    # File
    a.open_project = _action(window, "&Open Project…", window.open_project_dialog,
                             QKeySequence.StandardKey.Open, "open")
    a.new_project = _action(window, "&New Project from Image Folder…",
                            window.new_project_dialog, QKeySequence.StandardKey.New, "new")
    a.open_demo = _action(window, "Open &Demo Project", window.open_demo, icon_name="demo")
    a.add_images = _action(window, "&Add Images…", window.add_images_dialog,
                           tip="Add image files to the open project")
    a.import_labels = _action(window, "&Import Labels…", lambda: ask_import_labels(window),
                              tip="Labels from mask images, labelme or COCO files")
    a.export_labels = _action(window, "&Export Labels…", lambda: ask_export_labels(window),
                              tip="Labels as PNG masks, overlays or a COCO file")
    a.relink_missing = _action(window, "Re&link Missing Images…",
                               lambda: ask_relink_missing(window),
                               tip="Find the images that moved, under a folder you choose")
    a.save = _action(window, "&Save Labels", window.save_labels_now,
                     QKeySequence.StandardKey.Save, "save")
    a.quit = _action(window, "&Quit", window.close, QKeySequence.StandardKey.Quit)
    # Edit
    a.undo = window.undo_group.createUndoAction(window, "&Undo")
    a.undo.setShortcuts([QKeySequence("Ctrl+Z")])
    a.undo.setIcon(icon("undo"))
    a.redo = window.undo_group.createRedoAction(window, "&Redo")
    a.redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    a.redo.setIcon(icon("redo"))
    for action, key in ((a.undo, "Ctrl+Z"), (a.redo, "Ctrl+Shift+Z")):
        action.setToolTip(f"{action.text().replace('&', '')} ({key})")
        window.addAction(action)
    a.only_unlabelled = _action(
        window, "Paint &Only Unlabelled Pixels", window.set_only_unlabelled, "U", "unlabelled",
        "Brush, fill and polygons leave already labelled pixels alone", checkable=True)
    # View
    a.zoom_in = _action(window, "Zoom &In", lambda: canvas.zoom_by(1.25),
                        QKeySequence.StandardKey.ZoomIn, "zoom-in")
    # Ctrl+= too: the key that carries + on many keyboards, pressed without Shift.
    a.zoom_in.setShortcuts([*a.zoom_in.shortcuts(), QKeySequence("Ctrl+=")])
    a.zoom_out = _action(window, "Zoom &Out", lambda: canvas.zoom_by(0.8),
                         QKeySequence.StandardKey.ZoomOut, "zoom-out")
    a.fit = _action(window, "&Fit to Window", canvas.fit_to_window, "Ctrl+0", "fit")
    a.actual_size = _action(window, "&Actual Size (1:1)", canvas.zoom_actual_size, "Ctrl+1",
                            "actual-size")
    a.show_labels = _action(window, "Show &Labels", window.set_labels_visible, "H",
                            "labels", checkable=True)
    a.show_labels.setChecked(True)
    a.previous_image = _action(window, "&Previous Image", lambda: window.images_panel.step(-1),
                               "PgUp", "previous")
    a.next_image = _action(window, "&Next Image", lambda: window.images_panel.step(1), "PgDown",
                           "next")
    # Tools
    a.tools = QActionGroup(window)
    a.tools.setExclusive(True)
    a.tool_actions = {}
    for tool_class in TOOL_CLASSES:
        action = _action(window, tool_class.text, None, tool_class.shortcut, tool_class.icon,
                         tool_class.tip or None, checkable=True)
        action.triggered.connect(lambda _=False, name=tool_class.name: window.set_tool(name))
        a.tools.addAction(action)
        a.tool_actions[tool_class.name] = action
    a.smaller_brush = _action(window, "S&maller Brush", lambda: window.grow_brush(-1), "[")
    a.larger_brush = _action(window, "La&rger Brush", lambda: window.grow_brush(1), "]")
    a.class_keys = [
        _action(window, f"Class {n}", lambda i=n - 1: window.select_class(i), str(n % 10))
        for n in range(1, 11)  # keys 1 to 9, and 0 for the tenth
    ]
    a.next_class = _action(window, "&Next Class", lambda: window.step_class(1), ".")
    a.previous_class = _action(window, "&Previous Class", lambda: window.step_class(-1), ",")
    # Help
    a.about = _action(window, "&About segstudio", window.show_about)
    a.shortcuts = _action(window, "&Keyboard and Mouse", window.show_shortcuts,
                          QKeySequence.StandardKey.HelpContents)

    menus = {}
    for title in MENU_ORDER:
        menus[title] = window.menu(title.replace("&", ""))
    file_menu = menus["&File"]
    for action in (a.open_project, a.new_project, a.open_demo):
        file_menu.addAction(action)
    a.recent_menu = file_menu.addMenu("Open &Recent")
    file_menu.addSeparator()
    for action in (a.add_images, a.relink_missing, a.import_labels, a.export_labels, a.save):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(a.quit)
    edit_menu = menus["&Edit"]
    for action in (a.undo, a.redo):
        edit_menu.addAction(action)
    edit_menu.addSeparator()
    edit_menu.addAction(a.only_unlabelled)
    view_menu = menus["&View"]
    for action in (a.zoom_in, a.zoom_out, a.fit, a.actual_size, None, a.show_labels, None,
                   a.previous_image, a.next_image, None):
        view_menu.addSeparator() if action is None else view_menu.addAction(action)
    a.panels_menu = view_menu.addMenu("Pan&els")
    tools_menu = menus["&Tools"]
    for action in a.tool_actions.values():
        tools_menu.addAction(action)
    tools_menu.addSeparator()
    tools_menu.addAction(a.smaller_brush)
    tools_menu.addAction(a.larger_brush)
    class_menu = tools_menu.addMenu("&Class")
    for action in (a.next_class, a.previous_class, None, *a.class_keys):
        class_menu.addSeparator() if action is None else class_menu.addAction(action)
    help_menu = menus["&Help"]
    help_menu.addAction(a.shortcuts)
    help_menu.addAction(a.about)

    toolbar = QToolBar("Main toolbar", window)
    toolbar.setObjectName("main_toolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    for action in (a.open_project, a.save, None, a.undo, a.redo, None,
                   *a.tool_actions.values(), a.only_unlabelled, None,
                   a.fit, a.actual_size, a.show_labels, None, a.previous_image, a.next_image):
        toolbar.addSeparator() if action is None else toolbar.addAction(action)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    a.toolbar = toolbar
    update_project_actions(a, None)
    return a


def update_project_actions(a: SimpleNamespace, project) -> None:
    """Enable what needs a project only while one is open; the Class menu names its classes
    (keys beyond the last class are hidden: they select nothing)."""
    for action in (a.add_images, a.relink_missing, a.import_labels, a.export_labels, a.save,
                   a.only_unlabelled, a.zoom_in, a.zoom_out, a.fit, a.actual_size,
                   a.show_labels, a.previous_image, a.next_image, a.smaller_brush,
                   a.larger_brush, a.next_class, a.previous_class, *a.tool_actions.values()):
        action.setEnabled(project is not None)
    classes = project.classes if project is not None else []
    for index, action in enumerate(a.class_keys):
        action.setVisible(index < len(classes))
        if index < len(classes):
            action.setText(classes[index].name.replace("&", "&&"))
