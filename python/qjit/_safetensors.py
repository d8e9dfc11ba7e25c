"""A small safetensors reader (the format `qjit quantize` writes), so loading a quantized model needs neither the
`safetensors` package nor reading the whole file.

Layout: an 8-byte little-endian header length H, H bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin,
end]}, "__metadata__": {str: str}}, then the data; offsets count from the end of the header. Every entry is checked
(known dtype, non-negative shape, offsets inside the file, size = numel · itemsize) when the file is opened, so a
truncated or malformed file fails there with its name. Tensors are read one at a time (read_bytes); tensor() turns
one into a torch.Tensor with torch.frombuffer (torch imported only then).

`qjit quantize --pad-rows` stores an int8 weight whose K is not a multiple of 16 as [N, row_stride] with zero pad
columns and names it in the "qjit.padded_rows" metadata ({name: {"in_features": K, "row_stride": S}}); shape() and
tensor() give such a tensor as the [N, K] view of that storage (row stride S), which qjit's GEMMs read in place.
"""

import json
import os
import struct
from typing import NamedTuple, Tuple

from ._errors import invalid

ITEM_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
              "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
TORCH_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
                "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16",
                "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
MAX_HEADER_BYTES = 100 * 1024 * 1024


class TensorEntry(NamedTuple):
    dtype: str
    shape: Tuple[int, ...]
    begin: int  # absolute file offsets
    end: int


class SafetensorsFile:
    def __init__(self, path):
        self.path = os.fspath(path)
        try:
            size = os.path.getsize(self.path)
            with open(self.path, "rb") as f:
                head = f.read(8)
                if len(head) < 8:
                    raise self._bad(f"is {size} bytes, too short for a safetensors header")
                (header_len,) = struct.unpack("<Q", head)
                if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
                    raise self._bad(f"header length {header_len} does not fit the file ({size} bytes)")
                text = f.read(header_len)
        except OSError as e:
            raise invalid(f"cannot read safetensors file '{self.path}': {e}") from e
        try:
            header = json.loads(text.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise self._bad(f"header is not valid JSON: {e}") from None
        if not isinstance(header, dict):
            raise self._bad("header must be a JSON object")
        self.metadata = header.pop("__metadata__", None) or {}
        if not isinstance(self.metadata, dict) or not all(isinstance(v, str) for v in self.metadata.values()):
            raise self._bad("__metadata__ must be an object of strings")
        data_start = 8 + header_len
        self._entries = {}
        for name, e in header.items():
            self._entries[name] = self._entry(name, e, data_start, size - data_start)
        self._padded = self._padded_rows()

    def _padded_rows(self):
        """{name: K} from the "qjit.padded_rows" metadata, each entry checked against its tensor."""
        text = self.metadata.get("qjit.padded_rows")
        if text is None:
            return {}
        try:
            table = json.loads(text)
        except ValueError as e:
            raise self._bad(f"metadata qjit.padded_rows is not valid JSON: {e}") from None
        if not isinstance(table, dict):
            raise self._bad("metadata qjit.padded_rows must be a JSON object")
        out = {}
        for name, p in table.items():
            e = self._entries.get(name)
            k = p.get("in_features") if isinstance(p, dict) else None
            stride = p.get("row_stride") if isinstance(p, dict) else None
            if e is None:
                raise self._bad(f"metadata qjit.padded_rows names \"{name}\", which is not a tensor of the file")
            if not isinstance(k, int) or not isinstance(stride, int) or len(e.shape) != 2 or e.shape[1] != stride \
                    or not 1 <= k <= stride:
                raise self._bad(f"metadata qjit.padded_rows entry \"{name}\" must be {{\"in_features\": K, "
                                f"\"row_stride\": S}} with 1 <= K <= S = the tensor's shape[1] "
                                f"({list(e.shape)}), got {p!r}")
            out[name] = k
        return out

    def _bad(self, what):
        return invalid(f"'{self.path}' is not a valid safetensors file: {what}")

    def _entry(self, name, e, data_start, data_len):
        if not isinstance(e, dict):
            raise self._bad(f"tensor \"{name}\" must be an object")
        dtype, shape, offsets = e.get("dtype"), e.get("shape"), e.get("data_offsets")
        if dtype not in ITEM_SIZES:
            raise self._bad(f"tensor \"{name}\" has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise self._bad(f"tensor \"{name}\" shape must be a list of non-negative integers, got {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_len):
            raise self._bad(f"tensor \"{name}\" data_offsets {offsets!r} must be [begin, end] within the "
                            f"{data_len} data bytes")
        numel = 1
        for d in shape:
            numel *= d
        if offsets[1] - offsets[0] != numel * ITEM_SIZES[dtype]:
            raise self._bad(f"tensor \"{name}\" holds {offsets[1] - offsets[0]} bytes, but {dtype} {shape} needs "
                            f"{numel * ITEM_SIZES[dtype]}")
        return TensorEntry(dtype, tuple(shape), data_start + offsets[0], data_start + offsets[1])

    def keys(self):
        return list(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def __len__(self):
        return len(self._entries)

    def info(self, name):
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"no tensor \"{name}\" in '{self.path}'") from None

    def shape(self, name):
        """The tensor's shape as tensor() gives it: [N, K] for a padded weight (info() has the stored one)."""
        e = self.info(name)
        k = self._padded.get(name)
        return e.shape if k is None else (e.shape[0], k)

    def read_bytes(self, name):
        e = self.info(name)
        with open(self.path, "rb") as f:
            f.seek(e.begin)
            data = f.read(e.end - e.begin)
        if len(data) != e.end - e.begin:
            raise self._bad(f"tensor \"{name}\" is truncated")
        return data

    def tensor(self, name, device=None, raw=False):
        """The tensor as a torch.Tensor (on `device` when given). A padded weight (qjit.padded_rows) comes as the
        [N, K] view of its padded storage, row stride kept (raw=True: the stored [N, S] tensor)."""
        import torch

        e = self.info(name)
        dtype = getattr(torch, TORCH_DTYPES[e.dtype])
        data = bytearray(self.read_bytes(name))  # NOTE: writable, so torch.frombuffer does not warn
        t = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
        t = t.reshape(e.shape)
        if device is not None:
            t = t.to(device)  # NOTE: the whole storage moves, then the view is taken: .to() of a view would pack it
        k = self._padded.get(name)
        return t if raw or k is None else t[:, :k]
