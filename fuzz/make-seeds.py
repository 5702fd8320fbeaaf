#!/usr/bin/python3
# make-seeds.py: writes the seed corpus of fuzz-device from the umockdev records
# of tests/data (one seed per USB device: its attributes in the input format of
# fuzz/fuzz-device.c). Run it again after changing that format:
#   fuzz/make-seeds.py
import hashlib
import os
import struct
import sys

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(top, "fuzz", "corpus", "fuzz-device")
SEP = b"\x1e\x1e"


def records(path):
    block = []
    with open(path, "rb") as f:
        for line in f.read().split(b"\n"):
            if not line.strip():
                if block:
                    yield block
                block = []
            else:
                block.append(line)
    if block:
        yield block


def value(line):
    kind, rest = line.split(b": ", 1)
    key, val = rest.split(b"=", 1)
    if kind == b"H":
        val = bytes.fromhex(val.decode())
    elif kind == b"A":
        val = val.replace(b"\\n", b"\n")
    return kind, key, val


def number(text, default):
    try:
        return int(text.strip()) & 0xff
    except ValueError:
        return default


def seed(block):
    path = block[0][3:]
    env, attrs = {}, {}
    for line in block[1:]:
        if line[:3] in (b"E: ", b"A: ", b"H: "):
            kind, key, val = value(line)
            (env if kind == b"E" else attrs)[key] = val
    if env.get(b"DEVTYPE") != b"usb_device":
        return None
    desc = attrs.get(b"descriptors", b"")
    vid, pid, bcd = (struct.unpack_from("<HHH", desc, 8) if len(desc) >= 14 else (0, 0, 0))
    cls = desc[4:7] if len(desc) >= 7 else b"\0\0\0"
    header = struct.pack("<HHH", vid, pid, bcd) + cls
    header += bytes([number(env.get(b"BUSNUM", b"1"), 0), number(env.get(b"DEVNUM", b"1"), 0),
                     number(attrs.get(b"bConfigurationValue", b"1"), 1),
                     number(attrs.get(b"maxchild", b"0"), 0), 1, 8])
    header += struct.pack("<HH", 0x8086, 0xa36d) + bytes([1, 2])
    name = path.rsplit(b"/", 1)[1]
    fields = [name, b"/sys" + path]
    for key in (b"manufacturer", b"product", b"serial", b"speed", b"descriptors"):
        fields.append(attrs.get(key, b""))
    fields += [b"usb-storage", b"0000:00:14.0", b"host1", b"web01"]
    data = header + SEP.join(fields)
    return data


def main():
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(os.path.join(top, "tests", "data"))):
        if not name.endswith(".umockdev"):
            continue
        for block in records(os.path.join(top, "tests", "data", name)):
            data = seed(block)
            if data is None:
                continue
            digest = hashlib.sha1(data).hexdigest()[:16]
            with open(os.path.join(out, f"{name[:-9]}-{digest}"), "wb") as f:
                f.write(data)
            n += 1
    print(f"{n} seeds in {out}", file=sys.stderr)


main()
