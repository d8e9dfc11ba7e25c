"""The safetensors reader on files the test writes byte by byte (no safetensors package, no torch)."""

import json
import struct

import pytest

import qjit
from qjit._safetensors import SafetensorsFile


def write_safetensors(path, tensors, metadata=None, header_override=None):
    """tensors: {name: (dtype, shape, raw bytes)}; returns the path."""
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    if header_override:
        header.update(header_override)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return str(path)


def quantized_file(path):
    w = struct.pack("<6b", -128, -1, 0, 1, 2, 127)
    s = struct.pack("<2f", 0.5, 0.25)
    return write_safetensors(path, {"layer.fc.weight": ("I8", (2, 3), w), "layer.fc.weight_scale": ("F32", (2,), s),
                                    "layer.fc.input_scale": ("F32", (1,), struct.pack("<f", 0.01)),
                                    "norm.weight": ("F16", (3,), struct.pack("<3e", 1.0, 0.5, 2.0))},
                             metadata={"format": "pt", "quantized_by": "qjit quantize"})


def test_reads_names_shapes_and_bytes(tmp_path):
    f = SafetensorsFile(quantized_file(tmp_path / "q.safetensors"))
    assert sorted(f.keys()) == ["layer.fc.input_scale", "layer.fc.weight", "layer.fc.weight_scale", "norm.weight"]
    assert f.metadata == {"format": "pt", "quantized_by": "qjit quantize"}
    assert f.info("layer.fc.weight").dtype == "I8" and f.info("layer.fc.weight").shape == (2, 3)
    assert struct.unpack("<6b", f.read_bytes("layer.fc.weight")) == (-128, -1, 0, 1, 2, 127)
    assert struct.unpack("<2f", f.read_bytes("layer.fc.weight_scale")) == (0.5, 0.25)
    assert struct.unpack("<3e", f.read_bytes("norm.weight")) == (1.0, 0.5, 2.0)
    assert "norm.bias" not in f and len(f) == 4
    with pytest.raises(KeyError, match="norm.bias"):
        f.info("norm.bias")


@pytest.mark.parametrize("override, message", [
    ({"t": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, "unknown dtype 'Q4'"),
    ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, "holds 4 bytes, but F32 \\[2\\] needs 8"),
    ({"t": {"dtype": "I8", "shape": [1], "data_offsets": [0, 10 ** 6]}}, "data_offsets"),
    ({"t": {"dtype": "I8", "shape": [-1], "data_offsets": [0, 0]}}, "shape must be a list of non-negative"),
    ({"__metadata__": {"a": 1}}, "__metadata__ must be an object of strings"),
])
def test_malformed_entries_are_refused(tmp_path, override, message):
    path = write_safetensors(tmp_path / "bad.safetensors", {"ok": ("I8", (4,), b"\0" * 4)}, header_override=override)
    with pytest.raises(qjit.InvalidArgumentError, match=message):
        SafetensorsFile(path)


def test_padded_rows_metadata_gives_the_logical_shape(tmp_path):
    meta = {"qjit.padded_rows": json.dumps({"w": {"in_features": 3, "row_stride": 16}})}
    f = SafetensorsFile(write_safetensors(tmp_path / "p.safetensors", {"w": ("I8", (2, 16), b"\0" * 32),
                                                                       "s": ("F32", (2,), b"\0" * 8)}, meta))
    assert f.shape("w") == (2, 3) and f.info("w").shape == (2, 16) and f.shape("s") == (2,)


@pytest.mark.parametrize("table, message", [
    ("[1]", "must be a JSON object"),
    ("{", "not valid JSON"),
    ('{"nope": {"in_features": 3, "row_stride": 16}}', "names \"nope\", which is not a tensor"),
    ('{"w": {"in_features": 17, "row_stride": 16}}', "1 <= K <= S"),
    ('{"w": {"in_features": 3, "row_stride": 32}}', "1 <= K <= S"),
    ('{"w": 3}', "must be"),
])
def test_bad_padded_rows_metadata_is_refused(tmp_path, table, message):
    path = write_safetensors(tmp_path / "p.safetensors", {"w": ("I8", (2, 16), b"\0" * 32)},
                             {"qjit.padded_rows": table})
    with pytest.raises(qjit.InvalidArgumentError, match=message):
        SafetensorsFile(path)


def test_truncated_and_garbage_files(tmp_path):
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01\x02")
    with pytest.raises(qjit.InvalidArgumentError, match="too short"):
        SafetensorsFile(short)
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(qjit.InvalidArgumentError, match="does not fit the file"):
        SafetensorsFile(huge)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 4) + b"{{{{")
    with pytest.raises(qjit.InvalidArgumentError, match="not valid JSON"):
        SafetensorsFile(garbage)
    with pytest.raises(qjit.InvalidArgumentError, match="cannot read"):
        SafetensorsFile(tmp_path / "missing.safetensors")
