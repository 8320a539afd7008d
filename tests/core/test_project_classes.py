"""Property test: any sequence of class changes keeps every labelled pixel meaning the
same class (or unlabelled, or the class it was merged into)."""

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segstudio.core.classes import UNLABELLED, default_classes
from segstudio.core.project import Project

NAMES = ["a", "b", "c", "d"]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.integers(0, 9), st.integers(0, 9)),
        st.tuples(st.just("delete"), st.integers(0, 9), st.none()),
        st.tuples(st.just("merge"), st.integers(0, 9), st.integers(0, 9)),
        st.tuples(st.just("add"), st.integers(0, 99), st.none()),
    ),
    max_size=5,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_class_changes_keep_pixel_meaning(tmp_path_factory, ops):
    folder = tmp_path_factory.mktemp("p")
    (folder / "img").mkdir()
    cv2.imwrite(str(folder / "img" / "x.png"), np.zeros((4, 5), np.uint8))
    project = Project.create(folder / "proj", folder / "img", default_classes(NAMES))
    mask = np.array([0, 1, 2, 3, 255] * 4, np.uint8).reshape(4, 5)
    project.save_labels("x", mask)
    meaning = np.array([NAMES[v] if v != UNLABELLED else None for v in mask.ravel()], object)
    for kind, first, second in ops:
        count = len(project.classes)
        names = [c.name for c in project.classes]
        if kind == "add":
            if f"new{first}" not in names:
                project.add_class(f"new{first}")
            continue
        if count == 0:
            continue
        index = first % count
        if kind == "move":
            project.move_class(index, second % count)
        elif kind == "delete":
            project.delete_class(index)
            meaning[meaning == names[index]] = None
        elif count > 1:
            target = second % count if second % count != index else (index + 1) % count
            project.delete_class(index, merge_into=target)
            meaning[meaning == names[index]] = names[target]
    reopened = Project.open(project.root)
    names = [c.name for c in reopened.classes]
    labels = reopened.load_labels("x").ravel()
    got = np.array([names[v] if v != UNLABELLED else None for v in labels], object)
    assert got.tolist() == meaning.tolist()
    stats = reopened.label_stats("x")
    assert stats.counts == [int((got == n).sum()) for n in names]
