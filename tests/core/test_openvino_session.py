"""The plates' text detector runtime: which one ``auto`` picks on a given CPU, and the one-line refusals.

The CPU and the installed packages are faked (cpuinfo text, ``installed``, ``native_bf16``), so these
run in milliseconds on any machine; the real sessions are compared in tests/plates."""

from __future__ import annotations

import pytest

from vigil.core.errors import ModelError
from vigil.core.openvino_session import AMX_FLAG, choose_runtime, cpu_flags

# Shortened from real /proc/cpuinfo texts: a Sapphire Rapids Xeon (AMX), an Ice Lake Xeon (AVX-512,
# no bf16) and a Zen 4 (AVX512_BF16, no AMX).
SAPPHIRE = "processor\t: 0\nmodel\t\t: 143\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
ICE_LAKE = "processor\t: 0\nmodel\t\t: 106\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n"


def test_cpu_flags_are_read_from_the_flags_line_only() -> None:
    assert AMX_FLAG in cpu_flags(SAPPHIRE)
    assert AMX_FLAG not in cpu_flags(ICE_LAKE)
    assert "amx_bf16" not in cpu_flags("model name\t: amx_bf16 lookalike\n")
    assert cpu_flags("") == frozenset()


@pytest.mark.parametrize(
    ("cpuinfo", "installed", "native_bf16", "expected"),
    [
        (SAPPHIRE, True, True, ("openvino", "bf16")),  # the one case where auto takes bfloat16
        (SAPPHIRE, False, True, ("onnxruntime", "f32")),  # the extra not installed: the only ONNX Runtime case
        (SAPPHIRE, True, False, ("openvino", "f32")),  # the flag shown but OpenVINO cannot use it
        (ZEN4, True, True, ("openvino", "f32")),  # bf16 without AMX: 0.88x measured, not taken
        (ICE_LAKE, True, False, ("openvino", "f32")),  # bf16 would be emulated, slower; fp32 0.52x
        ("", True, True, ("openvino", "f32")),  # no /proc/cpuinfo (not Linux)
    ],
)
def test_auto_takes_bf16_only_with_amx_and_onnxruntime_only_without_the_package(
    cpuinfo: str, installed: bool, native_bf16: bool, expected: tuple[str, str]
) -> None:
    choice = choose_runtime("auto", cpuinfo=cpuinfo, installed=installed, native_bf16=native_bf16)
    assert (choice.runtime, choice.precision) == expected
    assert choice.why.startswith("auto")


def test_set_runtimes_are_taken_as_set() -> None:
    assert choose_runtime("onnxruntime", cpuinfo=SAPPHIRE, installed=True, native_bf16=True).runtime == "onnxruntime"
    amx = choose_runtime("openvino", cpuinfo=SAPPHIRE, installed=True, native_bf16=True)
    assert (amx.runtime, amx.precision) == ("openvino", "bf16")
    # Without AMX, OpenVINO as set but in fp32: emulated bfloat16 is slower than fp32.
    plain = choose_runtime("openvino", cpuinfo=ICE_LAKE, installed=True, native_bf16=False)
    assert (plain.runtime, plain.precision) == ("openvino", "f32")


def test_openvino_set_but_not_installed_is_one_line_naming_the_extra() -> None:
    with pytest.raises(ModelError) as err:
        choose_runtime("openvino", cpuinfo=SAPPHIRE, installed=False)
    message = str(err.value)
    assert "\n" not in message
    assert "openvino" in message and "pip install 'vigil[openvino]'" in message


def test_unknown_runtime_is_one_line_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"'tensorrt'; valid: \['auto', 'onnxruntime', 'openvino'\]$"):
        choose_runtime("tensorrt")
