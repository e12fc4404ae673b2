"""Writes the hostile inputs of tests/cli/hostile/inputs.cases: pickles, torch.save archives,
JSON and YAML files that nest too deep or declare more than they hold. Plain Python (no torch):
  /usr/bin/python3 make_inputs.py DIR NAME...   writes DIR/NAME for each NAME below."""
import io
import struct
import sys
import zipfile
import zlib

N = 100000  # levels of nesting


def pickle(body):
    return b"\x80\x02" + body + b"."


def nested(first, step, levels=N):
    """A container built from the one in memo 0 and put back there, `levels` times: only the
    containers nest, never the MARKs (BINGET 0 = h\\0, BINPUT 0 = q\\0, POP = 0)."""
    return pickle(first + b"q\x000" + (step + b"q\x000") * levels + b"h\x00")


def archive(pkl, records=()):
    """A torch.save zip archive (the layout torch.load reads) of data.pkl and storage records."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", b"little")
        for key, data in records:
            z.writestr("archive/data/" + key, data)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def tensor_pickle(numel, sizes, strides):
    """{"w": a float tensor of `sizes` and `strides` over storage "0" of `numel` elements}."""
    def s(text):
        return b"X" + struct.pack("<I", len(text)) + text.encode()

    def ints(v):
        return b"(" + b"".join(b"\x8a\x08" + struct.pack("<q", x) for x in v) + b"t"

    return pickle(b"}(" + s("w") + b"ctorch._utils\n_rebuild_tensor_v2\n(" +
                  b"(" + s("storage") + b"ctorch\nFloatStorage\n" + s("0") + s("cpu") +
                  b"\x8a\x08" + struct.pack("<q", numel) + b"tQ" + b"K\x00" + ints(sizes) +
                  ints(strides) + b"\x89" + b"ccollections\nOrderedDict\n)R" + b"tRu")


def deflated_zeros_archive(n):
    """data/0 is `n` zero bytes, deflated: about n / 1000 bytes in the file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", tensor_pickle(n // 4, [n // 4], [1]))
        z.writestr("archive/byteorder", b"little")
        info = zipfile.ZipInfo("archive/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            chunk = bytes(1 << 24)
            for _ in range(n >> 24):
                f.write(chunk)
        z.writestr("archive/version", b"3\n")
    return buf.getvalue()


def legacy_storage(numel):
    """A legacy-format file whose one storage claims `numel` floats."""
    magic = b"\x8a\x0a" + (0x1950a86a20f9469cfc6c).to_bytes(10, "little")
    return (pickle(magic) + pickle(b"M\xe9\x03") + pickle(b"}") +
            tensor_pickle(numel, [2], [1]) + pickle(b"(X\x01\x00\x00\x000l") + bytes(16))


deep_list = nested(b"(l", b"(h\x00l")
FILES = {
    # --- pickles (legacy format: the file is a pickle stream)
    "deep_marks.pth": pickle(b"(" * N + b"l" * N),      # MARK ... LIST, the marks nest
    "deep_list.pth": deep_list,                          # MARK ... LIST, the lists nest
    "deep_append.pth": pickle(b"]" * N + b"a" * (N - 1)),  # EMPTY_LIST + APPEND
    "deep_dict.pth": nested(b"}", b"}K\x00h\x00s"),      # EMPTY_DICT + SETITEM
    "deep_frozenset.pth": nested(b"(\x91", b"(h\x00\x91"),
    # L0.append(L1), L1.append(L2), ...: a chain that measures 1 deep at each insertion
    "chain.pth": pickle(b"".join(b"]r" + struct.pack("<I", k) + b"0" for k in range(N + 1)) +
                        b"".join(b"j" + struct.pack("<I", k) + b"j" + struct.pack("<I", k + 1) +
                                 b"a0" for k in range(N)) + b"j\x00\x00\x00\x00"),
    "stack.pth": pickle(b"N" * (1 << 18)),
    "big_string.pth": b"\x80\x02\x8d" + struct.pack("<Q", 1 << 62) + b"x.",
    "legacy_storage.pth": legacy_storage(1 << 40),
    # --- zip archives
    "deep_list_zip.pth": archive(deep_list),
    "expand.pth": archive(tensor_pickle(4, [1 << 20, 1 << 20], [0, 0]), [("0", bytes(16))]),
    "numel.pth": archive(tensor_pickle(1 << 40, [2], [1]), [("0", bytes(16))]),
    "bomb.pth": None,  # deflated_zeros_archive(1 << 28), made on demand
    # --- JSON: an instances file with 100,000 nested lists in a field focalab does not read,
    # and a results file that is nothing but them
    "deep_instances.json": (b'{"images": [{"id": 1, "file_name": "000001.png", "x": ' +
                            b"[" * N + b"]" * N +
                            b'}], "categories": [{"id": 1, "name": "a"}], "annotations": []}'),
    "deep_results.json": b"[" * N + b"]" * N,
    # --- YAML: flow mappings and block sequences
    "deep_flow.yaml": b"name: deep\nloss: " + b"{a: " * N + b"1" + b"}" * N + b"\n",
    "deep_block.yaml": b"name: deep\nloss:\n  " + b"- " * N + b"x\n",
}


def main():
    out = sys.argv[1]
    for name in sys.argv[2:]:
        data = deflated_zeros_archive(1 << 28) if name == "bomb.pth" else FILES[name]
        with open(f"{out}/{name}", "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
