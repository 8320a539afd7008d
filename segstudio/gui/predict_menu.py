"""The Model menu: train and stop, the prediction overlay, accept, load, export, predict."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence


def build_model_menu(controller, menu) -> None:
    """Fill the window's Model menu; the actions are kept as attributes of `controller`."""
    window = controller.window

    def action(text, slot, shortcut=None, checkable=False, checked=False):
        act = QAction(text, window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if checkable:
            act.setCheckable(True)
            act.setChecked(checked)
            act.toggled.connect(slot)
        else:
            act.triggered.connect(slot)
        menu.addAction(act)
        return act

    controller.train_action = action("&Train", controller.start, "Ctrl+T")
    controller.stop_action = action("&Stop training", controller.stop)
    menu.addSeparator()
    controller.show_prediction_action = action(
        "Show &prediction", controller.prediction_panel.show_check.setChecked,
        checkable=True, checked=True)
    controller.prediction_panel.show_check.toggled.connect(controller.show_prediction_action.setChecked)
    action("&Accept prediction", lambda: controller.live.accept(False), "Ctrl+Shift+A")
    action("Accept prediction where &unlabelled", lambda: controller.live.accept(True))
    menu.addSeparator()
    action("&Load model…", controller.ask_load_model)
    action("Export model &folder…", controller.jobs.ask_export_model_folder)
    action("Export &ONNX…", controller.jobs.ask_export_onnx)
    action("Export Torch&Script…", controller.jobs.ask_export_torchscript)
    menu.addSeparator()
    action("Predict the &whole project…", controller.jobs.ask_predict_project)
    action("Predict a f&older…", controller.jobs.ask_predict_folder)
