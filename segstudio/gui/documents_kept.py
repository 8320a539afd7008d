"""The labels the window holds in memory (a LabelDocument an image: its mask and undo
history), which it keeps for going back to an image, and lets go."""

from __future__ import annotations

# Labels and undo history of images no longer on screen, kept for going back to them: past
# this, those seen longest ago and saved are let go (a walk through hundreds of large
# images kept every mask it passed).
KEPT_LABELS_BYTES = 512 * 1024 * 1024


class KeptDocumentsMixin:
    """Methods of the main window over `self.documents` (entry id -> LabelDocument, the
    image seen last at the end) and `self.undo_group`."""

    def labels_saved_first(self, entry) -> bool:
        """Save the image's labels now if they are not on disk (before a change to its
        file); False when that failed, which a message says."""
        document = self.documents.get(entry.id)
        return document is None or not document.dirty or self.save_labels()

    def forget_document(self, entry_id: str) -> None:
        """Drop an image's labels and history (its stack leaves the undo group first)."""
        document = self.documents.pop(entry_id)
        if self.undo_group.activeStack() is document.undo_stack:
            self.undo_group.setActiveStack(None)
        self.undo_group.removeStack(document.undo_stack)

    def _forget_documents(self) -> None:
        for entry_id in list(self.documents):
            self.forget_document(entry_id)

    def _let_old_documents_go(self) -> None:
        held = sum(document.nbytes for document in self.documents.values())
        for entry_id, document in list(self.documents.items()):  # seen longest ago first
            if held <= KEPT_LABELS_BYTES:
                break
            if document is not self.current_document() and not (document.dirty or
                                                                 document.saving):
                held -= document.nbytes
                self.forget_document(entry_id)

    def show_entry_anew(self, entry) -> bool:
        """Show `entry` from its file again (it was relinked to another one): shown already,
        it is reloaded; its labels in memory are dropped when they no longer fit (blank)."""
        document = self.documents.get(entry.id)
        if document is not None and document.mask.shape != tuple(self.project.image_shape(entry)):
            self.forget_document(entry.id)
        shown = self.current_entry is not None and self.current_entry.id == entry.id
        if shown:
            self.current_entry = None  # else show_entry would keep what is on screen
        if self.show_entry(entry):
            return True
        if shown and entry.id in self.documents:  # the new file did not open: as before
            self.current_entry = entry
        return False
