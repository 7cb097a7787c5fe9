"""Normalisation, regional grammars, confusable-aware distances, fuzzy matching and voting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vigil.config.plates import PlatesConfig
from vigil.core.errors import InputError
from vigil.plates.ctc import TextLine
from vigil.plates.formats import REGION_FORMATS, FormatFit, check_regions, expand, fit_formats, formats_with
from vigil.plates.hotlist import HotlistPlate, match_plate
from vigil.plates.reader import PlateRead, PlateReader
from vigil.plates.text import PLATE_CHARS, char_error_rate, normalise, parse_plate, plate_distance
from vigil.plates.vote import vote


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("abc-123", "ABC123"), (" 7 XYZ·44 ", "7XYZ44"), ("京A·12345", "A12345"), ("", "")],
)
def test_normalise_keeps_a_to_z_and_digits(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("typed", "expected", "error"),
    [
        ("ab12 cde", "AB12CDE", None),
        ("7-ABC-123", "7ABC123", None),
        ("AB#123", None, "illegal characters '#'"),
        ("ÄB123", None, "illegal characters"),
        ("A", None, "expected 2 to 10"),
        ("ABCDEFGHIJK", None, "expected 2 to 10"),
    ],
)
def test_typed_plates_are_checked(typed: str, expected: str | None, error: str | None) -> None:
    if error is None:
        assert parse_plate(typed) == expected
    else:
        with pytest.raises(InputError, match=error):
            parse_plate(typed)


def test_format_specs_expand() -> None:
    assert expand("LLD{1,3}") == ("LLD", "LLDD", "LLDDD")
    with pytest.raises(ValueError, match="bad plate format"):
        expand("LLX")
    with pytest.raises(ValueError, match="valid:"):
        check_regions(("us", "mars"))


@pytest.mark.parametrize(
    ("read", "regions", "text", "region"),
    [
        ("AB12CDE", ("uk",), "AB12CDE", "uk"),
        ("AB12CD5", ("uk",), "AB12CDS", "uk"),  # 5 where the format wants a letter
        ("AB1ZCDE", ("uk",), "AB12CDE", "uk"),  # Z where it wants a digit
        ("BRA2E19", ("br",), "BRA2E19", "br"),  # Mercosul
        ("8RA2E19", ("br",), "BRA2E19", "br"),
        ("ABC1234", ("br",), "ABC1234", "br"),
        ("ABCI234", ("br",), "ABC1234", "br"),
        ("AB1234", ("hk",), "AB1234", "hk"),
        ("A81234", ("hk",), "AB1234", "hk"),
        ("7ABC123", ("us",), "7ABC123", "us"),
        ("6A5730A", ("us",), "6A5730A", "us"),  # A between digits is a real A on US plates
        ("ABC12O4", ("us",), "ABC1204", "us"),  # O inside a digit block is a 0
        ("SAFE", ("us",), "SAFE", "us"),  # vanity plates are loose
        ("B123ABC", ("eu",), "B123ABC", "eu"),
    ],
)
def test_grammar_fixes_confusables_by_position(read: str, regions: tuple[str, ...], text: str, region: str) -> None:
    fit = fit_formats(read, regions)
    assert (fit.text, fit.region) == (text, region)


def test_a_read_no_format_fits_has_no_region() -> None:
    assert fit_formats("12345678901", ("uk",)).region is None


def test_distances() -> None:
    assert plate_distance("AB12CDE", "AB12CDE") == 0
    assert plate_distance("AB12CDE", "A812CDE") == 0.5  # confusable swap: half an edit
    assert plate_distance("AB12CDE", "AX12CDE") == 1
    assert char_error_rate("ABC", "ABCD") == 0.25


def test_fuzzy_matches_only_when_asked_and_are_marked() -> None:
    listed = [HotlistPlate("e1", "AB12CDE"), HotlistPlate("e2", "XYZ999")]
    assert [h.entry_id for h in match_plate("AB12CDE", listed)] == ["e1"]
    assert match_plate("A812CDE", listed) == []
    hits = match_plate("A812CDE", listed, fuzzy=True, max_distance=1)
    assert [(h.entry_id, h.fuzzy) for h in hits] == [("e1", True)]
    assert match_plate("QQ12CDE", listed, fuzzy=True, max_distance=1) == []


def _read(text: str, score: float) -> PlateRead:
    return PlateRead(text, text, score, score, (0, 0, 10, 5), "us", True, np.zeros((5, 10, 3), np.uint8))


def test_vote_takes_the_weighted_majority_per_position() -> None:
    voted = vote([_read("ABC1234", 0.9), _read("A8C1234", 0.6), _read("ABC1Z34", 0.7), _read("BC1234", 0.3)])
    assert voted is not None
    assert voted.text == "ABC1234"
    assert voted.n_reads == 4
    assert 0.5 < voted.confidence < 0.95
    assert vote([]) is None


def test_the_vote_combines_the_reads_countries_too() -> None:
    def read(text: str, country: str | None, p: float) -> PlateRead:
        return dataclasses.replace(_read(text, 0.9), country=country, country_confidence=p)

    voted = vote([read("ABC1234", "Brazil", 0.9), read("ABC1234", "Portugal", 0.6), read("ABC1234", "Brazil", 0.6)])
    assert voted is not None and voted.country == "Brazil"
    assert voted.country_confidence == pytest.approx(0.5)  # (0.9 + 0 + 0.6) / 3
    # PP-OCR's reads name no country: they vote on the text only.
    voted = vote([read("ABC1234", None, 0.0), read("ABC1234", "Brazil", 0.8)])
    assert voted is not None and (voted.country, voted.country_confidence) == ("Brazil", pytest.approx(0.8))
    assert vote([_read("ABC1234", 0.9)]).country is None  # type: ignore[union-attr]


def test_a_deployments_own_region_fixes_reads_by_position_like_a_built_in_one() -> None:
    local = formats_with({"xx": ("LLDLDL",)})
    assert local["uk"] == REGION_FORMATS["uk"] and local["xx"] == ("LLDLDL",)
    # I where the layout wants a digit, 2 where it wants a letter.
    assert fit_formats("UHIN2A", ("xx",), formats=local) == FormatFit("UH1N2A", "xx", "LLDLDL", 1)
    assert fit_formats("DK225S", ("xx",), formats=local).text == "DK2Z5S"
    # Without it the US grammar takes the read as it is (loose: vanity plates fit no layout).
    assert fit_formats("UHIN2A", ("us",)).text == "UHIN2A"
    # Listed with the US, a read that fits the local layout only with fixes still wins it.
    assert fit_formats("UHIN2A", ("us", "xx"), formats=local).text == "UH1N2A"
    # ... and beats any built-in layout that needs fixes too (UK LLLDDD would take one: 2 → Z).
    both = formats_with({"xx": ("LLLLDD",)})
    assert fit_formats("AB2525", ("uk", "xx"), formats=both) == FormatFit("ABZS25", "xx", "LLLLDD", 2)
    assert fit_formats("AB2525", ("uk",)).text == "ABZ525"
    # By probability: the recogniser's own second choice of the wanted class is taken.
    probs = np.full((6, 36), 1e-4, np.float32)
    for i, ch in enumerate("YF2I6G"):
        probs[i, PLATE_CHARS.index(ch)] = 0.9
    probs[3, PLATE_CHARS.index("L")] = 0.08
    probs[2, PLATE_CHARS.index("Z")] = 0.05
    # Every character already of the wanted class: nothing is changed, however likely Z or L were.
    assert fit_formats("YF2I6G", ("xx",), alternatives=probs, formats=local).text == "YF2I6G"
    probs[3, PLATE_CHARS.index("I")] = 1e-4
    probs[3, PLATE_CHARS.index("1")] = 0.9  # now it read 1 where a letter is wanted: L is likelier than I
    assert fit_formats("YF216G", ("xx",), alternatives=probs, formats=local).text == "YF2L6G"
    # Beside the loose US region too; but a read that fits an enabled layout as it stands is kept.
    assert fit_formats("YF216G", ("us", "xx"), alternatives=probs, formats=local).text == "YF2L6G"
    as_read = np.full((6, 36), 0.1, np.float32)
    assert fit_formats("ABC123", ("uk", "yy"), alternatives=as_read, formats=formats_with({"yy": ("LLLLDD",)})) == (
        FormatFit("ABC123", "uk", "LLLDDD", 0)
    )


def test_a_deployments_region_may_not_shadow_a_built_in_one_or_break_the_grammar() -> None:
    with pytest.raises(ValueError, match="'us' is built in"):
        formats_with({"us": ("LLLDDDD",)})
    with pytest.raises(ValueError, match="bad plate format 'LLX'"):
        formats_with({"xx": ("LLX",)})
    with pytest.raises(ValueError, match=r"unknown plate region\(s\) \['yy'\]; valid: .*'xx'"):
        check_regions(("yy",), formats_with({"xx": ("LLD",)}))


class LineOCR:
    """Reads every image as one fixed line and finds no text lines in it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def recognise(self, image: np.ndarray) -> TextLine:
        return TextLine(self.text, 0.95)

    def detect_lines(self, image: np.ndarray) -> list[np.ndarray]:
        return []


def test_the_configured_regions_reach_the_reader() -> None:
    cfg = PlatesConfig(formats={"xx": ("LLDLDL",)}, regions=("us", "xx"))
    plate = np.full((40, 120, 3), 200, np.uint8)
    read = PlateReader(LineOCR("UHI-N2A"), cfg.regions, formats=cfg.formats).read_crop(plate)
    assert read is not None and (read.text, read.region) == ("UH1N2A", "xx")
    assert PlateReader(LineOCR("UHI-N2A"), ("us",)).read_crop(plate).text == "UHIN2A"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown plate region"):
        PlateReader(LineOCR("UHI-N2A"), ("us", "xx"))  # its layouts were not given
