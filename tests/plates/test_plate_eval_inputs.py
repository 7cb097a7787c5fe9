"""Bad labelled folders and images fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.core.errors import InputError
from vigil.plates.eval import load_labels, miss_category, read_image


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no labelled plates"):
        load_labels(tmp_path)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a folder"):
        load_labels(tmp_path / "nope")


def test_scene_label_with_wrong_columns(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "a.txt").write_text("a.jpg\t1\t2\tABC123\n")
    with pytest.raises(InputError, match="4 tab-separated columns; expected image, x, y, w, h, plate"):
        load_labels(tmp_path)


def test_crops_csv_with_wrong_columns_and_illegal_plate(tmp_path: Path) -> None:
    gt = tmp_path / "groundtruth.csv"
    gt.write_text("a.png,ca,ABC123\nb.png,ABC124\n")
    with pytest.raises(InputError, match="row 2: 2 columns; expected file,region,plate"):
        load_labels(tmp_path)
    gt.write_text("a.png,ca,AB-123\n")
    with pytest.raises(InputError, match="illegal characters"):
        load_labels(tmp_path)


def test_unreadable_image(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="cannot read image"):
        read_image(bad)


@pytest.mark.parametrize(
    ("truth", "read", "found", "category"),
    [
        ("7ABC123", "", None, "no read"),
        ("7ABC123", "SALE", False, "read elsewhere"),
        ("7ABC123", "7ABC12", False, "not found"),
        ("248", "22488", None, "extra characters"),
        ("5TLA600", "5TA600", True, "missing characters"),
        ("DK7J8G", "DK7JBG", True, "one character"),
        ("CK0A1P", "CK0AIF", True, "several characters"),
    ],
)
def test_misses_are_put_in_categories(truth: str, read: str, found: bool | None, category: str) -> None:
    assert miss_category(truth, read, found) == category
