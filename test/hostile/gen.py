#!/usr/bin/env python3
"""Generate ingestd's hostile-input corpus.

    gen.py OUT CANARY TAG

writes one packet per case into OUT (files, folders, a symlink, a FIFO) and
OUT/cases.tsv: NAME, expected outcome (done|failed), the reason the journal
must show (a prefix of the value of reason=), and a description.

Nearly nothing here is a committed blob: every archive is built from the
standard library (zipfile, tarfile, zlib, lzma, bz2, binascii; zstd frames
and ar by hand) plus `zip -P` for the encrypted case. The exceptions are two
files of libarchive's own test suite that hang libarchive 3.6.2 itself,
kept uuencoded as libarchive keeps them, in test/hostile/libarchive/. The
bombs are assembled from repeated deflate blocks, so a 10 GiB stream costs
milliseconds and a few KiB. Paths that try to escape aim at CANARY (a tree
outside the spool that must stay untouched) or at /tmp/ingestd-hostile-TAG*.

The expectations assume the daemon runs with packet.links: refuse,
formats [zip, tar, xar, ar], max_time 2s, max_file_bytes 128MiB,
manifest_keys [device_id] and a
handler that fails a tree holding set-id bits or anything but files and
directories (see test/integration/hostile.bats).
"""

import binascii
import bz2
import io
import lzma
import os
import random
import stat
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

MANIFEST = b"device_id: hostile-corpus\nsource: test/hostile/gen.py\n"
MiB = 1 << 20

cases = []


def case(name, outcome, reason, what):
    cases.append((name, outcome, reason, what))


# --- CRC-32 of long repeated data, as zlib's crc32_combine does it ----------------


def _gf2_times(mat, vec):
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def _gf2_square(mat):
    return [_gf2_times(mat, mat[n]) for n in range(32)]


def crc32_combine(crc1, crc2, len2):
    """CRC of A+B from crc(A), crc(B) and len(B)."""
    if len2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def crc32_repeat(crc, length, n):
    """CRC of a block repeated n times, from the block's crc and length."""
    acc, acclen = 0, 0
    while n:
        if n & 1:
            acc = crc32_combine(acc, crc, length)
            acclen += length
        crc = crc32_combine(crc, crc, length)
        length *= 2
        n >>= 1
    return acc


class Stream:
    """A raw deflate stream built from parts; repeated parts cost nothing."""

    def __init__(self, level=9):
        self.c = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.out = []
        self.crc = 0
        self.size = 0

    def add(self, data, times=1):
        # After a full flush the compressor starts afresh, so the same input
        # gives the same bytes: compress once, repeat the output.
        block = self.c.compress(data) + self.c.flush(zlib.Z_FULL_FLUSH)
        self.out.append(block * times)
        self.crc = crc32_combine(self.crc, crc32_repeat(zlib.crc32(data), len(data), times),
                                 len(data) * times)
        self.size += len(data) * times

    def finish(self):
        self.out.append(self.c.flush(zlib.Z_FINISH))
        return b"".join(self.out)


def gzip_member(stream):
    raw = stream.finish()
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03" + raw +
            struct.pack("<II", stream.crc, stream.size & 0xFFFFFFFF))


def gzip_bytes(data):
    s = Stream()
    s.add(data)
    return gzip_member(s)


# --- writers ----------------------------------------------------------------------


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    """members: (TarInfo, data or None)."""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return b.getvalue()


def ti(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    t = tarfile.TarInfo(name)
    t.type = kind
    t.mode = mode
    t.linkname = link
    t.mtime = 1700000000
    t.size = len(data) if kind == tarfile.REGTYPE else 0
    return (t, data if kind == tarfile.REGTYPE else None)


def manifest_member(data=MANIFEST):
    return ti("data_info.yml", data=data)


def zip_bytes(entries, method=zipfile.ZIP_DEFLATED):
    """entries: (name, data, mode) with mode holding the file type bits."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data, mode in entries:
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.create_system = 3
            zi.external_attr = mode << 16
            zi.compress_type = method
            z.writestr(zi, data)
    return b.getvalue()


def zip_raw(entries):
    """A zip assembled by hand, for what zipfile will not write.

    entries: dicts with name (bytes), cd_name (bytes, default name), flags,
    method (0 or 8), crc, usize, data (the stored or deflated bytes), mode.
    """
    body, cd = io.BytesIO(), io.BytesIO()
    for e in entries:
        off = body.tell()
        name, cd_name = e["name"], e.get("cd_name", e["name"])
        flags, method = e.get("flags", 0), e.get("method", 8)
        body.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x5821,
                               e["crc"], len(e["data"]), e["usize"], len(name), 0))
        body.write(name + e["data"])
        cd.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, flags, method, 0,
                             0x5821, e["crc"], len(e["data"]), e["usize"], len(cd_name), 0, 0,
                             0, 0, e.get("mode", 0o100644) << 16, off))
        cd.write(cd_name)
    cdb = cd.getvalue()
    return (body.getvalue() + cdb + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries),
                                                len(entries), len(cdb), body.tell(), 0))


def manifest_stored():
    return dict(name=b"data_info.yml", crc=zlib.crc32(MANIFEST), usize=len(MANIFEST),
                data=MANIFEST, method=0)


def deflated_entry(name, stream, **kw):
    data = stream.finish()
    return dict(name=name, crc=stream.crc, usize=stream.size, data=data, **kw)


def stored_entry(name, data, **kw):
    return dict(name=name, crc=zlib.crc32(data), usize=len(data), data=data, method=0, **kw)


def zstd_frame(data):
    """A zstd frame of raw (stored) blocks: the standard library has no zstd."""
    out = [struct.pack("<I", 0xFD2FB528), b"\x00\x38"]   # no checksum; 128 KiB window
    for off in range(0, len(data), 1 << 17):
        block = data[off:off + (1 << 17)]
        last = off + len(block) >= len(data)
        out.append(struct.pack("<I", (len(block) << 3) | last)[:3] + block)
    return b"".join(out)


def uudecode(path):
    """The file a libarchive test .uu holds (binascii: no sharutils needed)."""
    out, inside = [], False
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if line.startswith(b"begin "):
                inside = True
            elif line == b"end":
                break
            elif inside and line:
                out.append(binascii.a2b_uu(line))
    return b"".join(out)


def ar_member(name, data, mode=0o644):
    """One ar member; GNU ar writes the permission bits only, no file type."""
    h = b"%-16s%-12d%-6d%-6d%-8o%-10d`\n" % (name, 0, 0, 0, mode, len(data))
    return h + data + (b"\n" if len(data) % 2 else b"")


def gnu_ar(members, longname):
    """A GNU ar archive as `ar rcs` writes it: the symbol table "/", the long
    names "//", then the members (names end in "/"; a long one is "/OFFSET")."""
    symtab = struct.pack(">I", 1) + struct.pack(">I", 0) + b"sym\0"
    out = b"!<arch>\n" + ar_member(b"/", symtab, 0) + ar_member(b"//", longname + b"/\n", 0)
    for n, d in members:
        out += ar_member(n + b"/", d)
    return out + ar_member(b"/0", b"a member with a long name\n")


def put(out, name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def folder(out, name, files):
    """files: {relative path: bytes, or ('symlink', target), or 'fifo'}."""
    root = os.path.join(out, name)
    os.mkdir(root)
    for rel, v in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(v, tuple):
            os.symlink(v[1], p)
        elif v == "fifo":
            os.mkfifo(p)
        else:
            with open(p, "wb") as f:
                f.write(v)


# --- the cases --------------------------------------------------------------------


def generate(out, canary, tag):
    rnd = random.Random(20261122)
    up = "../" * 8  # from SPOOL/work/J/tree, well past the spool
    canary_rel = up + canary.lstrip("/")
    tmp_target = "/tmp/ingestd-hostile-" + tag

    # Paths.
    put(out, "dotdot.tar", tar_bytes([manifest_member(),
                                      ti(canary_rel + "/dotdot", data=b"escaped")]))
    case("dotdot.tar", "failed", "path entry=", "path traversal with ../ (tar)")
    put(out, "dotdot-inner.zip", zip_bytes([
        ("data_info.yml", MANIFEST, 0o100644),
        ("a/../../" + canary_rel + "/inner", b"escaped", 0o100644)]))
    case("dotdot-inner.zip", "failed", "path entry=", "a/../../x inside a name (zip)")
    put(out, "absolute.tar", tar_bytes([manifest_member(),
                                        ti(canary + "/absolute-tar", data=b"escaped")]))
    case("absolute.tar", "failed", "path entry=/", "absolute path (tar)")
    put(out, "absolute.zip", zip_raw([
        stored_entry(b"data_info.yml", MANIFEST),
        stored_entry((canary + "/absolute-zip").encode(), b"escaped")]))
    case("absolute.zip", "failed", "path entry=/", "absolute path (zip)")
    lfh = (canary_rel + "/local-header").encode()
    put(out, "header-mismatch.zip", zip_raw([
        stored_entry(b"data_info.yml", MANIFEST),
        stored_entry(lfh, b"escaped", cd_name=b"x" * len(lfh))]))
    case("header-mismatch.zip", "failed", "path entry=",
         "local header names ../ while the central directory names a harmless file")

    # Links.
    put(out, "symlink-write-through.tar", tar_bytes([
        manifest_member(), ti("l", tarfile.SYMTYPE, link=canary),
        ti("l/through-symlink", data=b"escaped")]))
    case("symlink-write-through.tar", "failed", "link entry=l target=",
         "symlink to the canary, then a file written through it")
    put(out, "symlink-root.tar", tar_bytes([
        manifest_member(), ti("root", tarfile.SYMTYPE, link="/"),
        ti("root" + tmp_target + "-root", data=b"escaped")]))
    case("symlink-root.tar", "failed", "link entry=root target=/", "symlink to /")
    put(out, "hardlink-passwd.tar", tar_bytes([
        manifest_member(), ti("passwd", tarfile.LNKTYPE, link="/etc/passwd")]))
    case("hardlink-passwd.tar", "failed", "link entry=passwd target=/etc/passwd",
         "hard link to /etc/passwd")
    put(out, "hardlink-canary.tar", tar_bytes([
        manifest_member(), ti("h", tarfile.LNKTYPE, link=canary_rel + "/file")]))
    case("hardlink-canary.tar", "failed", "link entry=h", "hard link climbing out with ../")

    # Types.
    dev = ti("null", tarfile.CHRTYPE)
    dev[0].devmajor, dev[0].devminor = 1, 3
    put(out, "device.tar", tar_bytes([manifest_member(), dev]))
    case("device.tar", "failed", "type entry=null kind=chardev", "character device node")
    put(out, "fifo.tar", tar_bytes([manifest_member(), ti("pipe", tarfile.FIFOTYPE)]))
    case("fifo.tar", "failed", "type entry=pipe kind=fifo", "FIFO (tar)")
    put(out, "fifo.zip", zip_bytes([("data_info.yml", MANIFEST, 0o100644),
                                    ("pipe", b"data", stat.S_IFIFO | 0o644)]))
    case("fifo.zip", "done", "",
         "FIFO mode bits in a zip: libarchive makes it a regular file, which the handler checks")
    put(out, "setuid.tar", tar_bytes([
        manifest_member(), ti("bin", tarfile.DIRTYPE, mode=0o3777),
        ti("bin/su", data=b"#!/bin/sh\n", mode=0o6755),
        ti("bin/sticky", data=b"x", mode=0o1644)]))
    case("setuid.tar", "done", "", "setuid, setgid and sticky bits: kept out, files kept")
    put(out, "setuid.zip", zip_bytes([("data_info.yml", MANIFEST, 0o100644),
                                      ("su", b"#!/bin/sh\n", 0o106755)]))
    case("setuid.zip", "done", "", "setuid bit in a zip's external attributes")

    # Many, deep, long, odd.
    put(out, "many-entries.zip", zip_bytes(
        [("data_info.yml", MANIFEST, 0o100644)] +
        [("d%02d/e%05d" % (i % 50, i), b"", 0o100644) for i in range(10000)]))
    case("many-entries.zip", "done", "", "10,000 empty entries, under max_entries")
    put(out, "deep.tar", tar_bytes([manifest_member(), ti("d/" * 100 + "f", data=b"deep")]))
    case("deep.tar", "failed", "limit max_depth entry=d/d/", "100 nested directories")
    put(out, "name-255.tar", tar_bytes([manifest_member(), ti("n" * 255, data=b"long")]))
    case("name-255.tar", "done", "", "a name of 255 bytes")
    put(out, "name-256.tar", tar_bytes([manifest_member(), ti("n" * 256, data=b"long")]))
    case("name-256.tar", "failed", "path entry=nnnn", "a name of 256 bytes (NAME_MAX is 255)")
    put(out, "name-nonutf8.tar", tar_bytes([
        manifest_member(), ti("caf\udce9-latin1.txt", data=b"latin-1 name")],
        fmt=tarfile.GNU_FORMAT))
    case("name-nonutf8.tar", "done", "", "a name that is not UTF-8 (tar keeps bytes)")
    put(out, "name-newline.zip", zip_bytes([("data_info.yml", MANIFEST, 0o100644),
                                            ("new\nline.txt", b"nl", 0o100644),
                                            ("tab\tand\x01ctl.txt", b"ctl", 0o100644)]))
    case("name-newline.zip", "done", "", "names with a newline and control characters")
    bad = stored_entry(b"bad-\xff\xfe-utf8.txt", b"x", flags=0x0800)
    put(out, "name-bad-utf8.zip", zip_raw([stored_entry(b"data_info.yml", MANIFEST), bad]))
    case("name-bad-utf8.zip", "failed", "path error=",
         "a zip name flagged UTF-8 that is not UTF-8")

    # Bombs and sizes.
    hdr = tarfile.TarInfo("zeros.bin")
    hdr.size, hdr.mtime = 10 << 30, 1700000000
    s = Stream()
    s.add(hdr.tobuf(tarfile.PAX_FORMAT))
    s.add(bytes(MiB), 10240)
    s.add(bytes(1024))
    inner = gzip_member(s)                  # a 10 GiB tar in ~10 MiB of gzip
    bomb = gzip_bytes(gzip_bytes(inner))    # the repeats compress again: ~1 KiB
    assert len(bomb) < 4096, len(bomb)
    put(out, "bomb-ratio.tar.gz", bomb)
    case("bomb-ratio.tar.gz", "failed", "limit max_ratio entry=zeros.bin",
         "%d bytes that unpack to 10 GiB (gzip in gzip in gzip)" % len(bomb))

    level = zip_bytes([("zeros.bin", bytes(MiB), 0o100644)])
    for depth in range(3):
        level = zip_bytes([("%d-%02d.zip" % (depth, i), level, 0o100644) for i in range(16)])
    put(out, "bomb-nested.zip", zip_bytes([("data_info.yml", MANIFEST, 0o100644),
                                           ("nested.zip", level, 0o100644)]))
    case("bomb-nested.zip", "done", "",
         "a nested zip bomb (16^3 x 1 MiB): only the outer zip is extracted, inner ones stay files")

    block = bytes(rnd.getrandbits(8) for _ in range(16384))
    s = Stream(6)
    s.add(block * 64, 129)                  # 129 MiB at a ratio near 50: not a ratio bomb
    put(out, "big-entry.zip", zip_raw([stored_entry(b"data_info.yml", MANIFEST),
                                       deflated_entry(b"big.bin", s)]))
    case("big-entry.zip", "failed", "limit max_file_bytes entry=big.bin",
         "an entry of 129 MiB, max_file_bytes is 128 MiB")

    hole = tarfile.TarInfo("GNUSparseFile.0/hole.bin")
    sparse_map = b"1\n%d\n4096\n" % ((1 << 40) - 4096)
    sparse_map += bytes(512 - len(sparse_map))
    hole.size, hole.mtime = len(sparse_map) + 4096, 1700000000
    hole.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                        "GNU.sparse.name": "hole.bin", "GNU.sparse.realsize": str(1 << 40)}
    put(out, "sparse-hole.tar", tar_bytes([manifest_member(),
                                           (hole, sparse_map + b"x" * 4096)]))
    case("sparse-hole.tar", "failed", "limit max_file_bytes entry=hole.bin",
         "a sparse entry of 4 KiB data and a 1 TiB hole")

    # Broken archives.
    z = bytearray(zip_bytes([("data_info.yml", MANIFEST, 0o100644),
                             ("crc.txt", b"the quick brown fox jumps", 0o100644)],
                            zipfile.ZIP_STORED))
    z[z.find(b"quick")] ^= 0x20
    put(out, "crc.zip", bytes(z))
    case("crc.zip", "failed", "archive entry=crc.txt error=\"ZIP bad CRC", "corrupt CRC")
    noise = bytes(rnd.getrandbits(8) for _ in range(200000))
    t = gzip_bytes(tar_bytes([manifest_member(), ti("noise.bin", data=noise)]))
    put(out, "truncated.tar.gz", t[: len(t) // 2])
    case("truncated.tar.gz", "failed", "archive", "truncated tar.gz")
    z = zip_bytes([("data_info.yml", MANIFEST, 0o100644), ("noise.bin", noise, 0o100644)])
    put(out, "truncated.zip", z[: len(z) // 2])
    case("truncated.zip", "failed", "archive", "truncated zip")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "data_info.yml"), "wb") as f:
            f.write(MANIFEST)
        subprocess.run(["zip", "-q", "-X", "-P", "secret", os.path.join(out, "encrypted.zip"),
                        "data_info.yml"], cwd=d, check=True)
    case("encrypted.zip", "failed", "archive entry=data_info.yml error=\"Passphrase required",
         "encrypted zip")

    # Not archives, or not allowed ones.
    put(out, "empty", b"")
    case("empty", "failed", "plain error=\"empty file\"", "an empty file")
    put(out, "zero-entries.zip", b"PK\x05\x06" + bytes(18))
    case("zero-entries.zip", "failed", "manifest missing_file=data_info.yml",
         "a zip of no entries: nothing to read")
    put(out, "notes.txt", b"just a text file\n")
    case("notes.txt", "failed", "plain error=\"not an archive\"", "a plain file")
    put(out, "not-a-zip.zip", b"a text file named like a zip\n")
    case("not-a-zip.zip", "failed", "plain", "a .zip that is not one: content decides")
    cpio = b"".join(
        b"070701" + b"".join(b"%08X" % v for v in (
            1, 0o100644, 0, 0, 1, 0, len(d), 0, 0, 0, 0, len(n) + 1, 0)) +
        n + b"\0" + bytes((4 - (110 + len(n) + 1) % 4) % 4) + d + bytes((4 - len(d) % 4) % 4)
        for n, d in ((b"data_info.yml", MANIFEST), (b"TRAILER!!!", b"")))
    put(out, "archive.cpio", cpio)
    case("archive.cpio", "failed", "format name=cpio", "a cpio archive: not in packet.formats")
    put(out, "archive.7z", b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24))
    case("archive.7z", "failed", "format name=7zip", "a 7z signature: not in packet.formats")

    # Manifests.
    def manifest_zip(name, text, what, reason, outcome="failed"):
        put(out, name, zip_bytes([("data_info.yml", text, 0o100644),
                                  ("payload.txt", b"payload", 0o100644)]))
        case(name, outcome, reason, what)

    manifest_zip("manifest-not-yaml.zip", b"device_id: [unclosed\nkey: : value\n",
                 "a manifest that is not YAML", "manifest line=")
    laughs = [b"device_id: x", b'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol"]']
    laughs += [b"a%d: &a%d [%s]" % (i, i, b",".join([b"*a%d" % (i - 1)] * 9)) for i in range(1, 10)]
    manifest_zip("manifest-alias-bomb.zip", b"\n".join(laughs) + b"\n",
                 "a YAML alias bomb (billion laughs)",
                 "manifest line=2 column=5 error=\"anchors are not allowed\"")
    manifest_zip("manifest-deep.zip", b"device_id: x\nd: " + b"[" * 10000 + b"]" * 10000 + b"\n",
                 "10,000-deep nesting",
                 "manifest line=2 column=67 error=\"nested deeper than manifest_max_depth\"")
    manifest_zip("manifest-list.zip", b"- device_id\n- x\n", "a list instead of a mapping",
                 "manifest line=1 column=1 error=\"the top level is a list, not a mapping\"")
    manifest_zip("manifest-missing-key.zip", b"source: somewhere\n", "a required key missing",
                 "manifest missing_key=device_id")
    manifest_zip("manifest-garbage.zip", bytes(rnd.getrandbits(8) for _ in range(4096)),
                 "binary garbage as manifest", "manifest line=")
    manifest_zip("manifest-dup.zip", b"device_id: a\nsource: b\ndevice_id: c\n", "duplicate keys",
                 "manifest line=3 column=1 error=\"duplicate key device_id\"")
    manifest_zip("manifest-tab.zip", b"device_id: x\nmeta:\n\tfps: 30\n", "tab indentation",
                 "manifest line=3 column=1 error=")
    manifest_zip("manifest-utf16.zip", "device_id: x\n".encode("utf-16"),
                 "a UTF-16 manifest", "manifest line=1 column=1 error=")
    text = b"".join(b"k%06d: %s\n" % (i, bytes(rnd.choice(b"abcdefghij") for _ in range(40)))
                    for i in range(16384 // 48))
    text = text[:16384]
    s = Stream(6)
    s.add(MANIFEST)
    s.add(text * 64, 100)                   # ~100 MiB of text, ~1 MiB of zip
    put(out, "manifest-100mb.zip", zip_raw([deflated_entry(b"data_info.yml", s)]))
    case("manifest-100mb.zip", "failed",
         "manifest error=\"larger than manifest_max_bytes\" size=%d" % s.size,
         "a 100 MB manifest")

    # Folders and odd inbox entries.
    inner = zip_bytes([("data_info.yml", MANIFEST, 0o100644), ("clip.mp4", b"v", 0o100644)])
    folder(out, "folder-good", {"folder-good.zip": inner, "notes.txt": b"beside the zip\n"})
    case("folder-good", "done", "", "a folder holding NAME.zip, as the seeds' devices send")
    folder(out, "folder-zip-escape", {"folder-zip-escape.zip": zip_bytes([
        ("data_info.yml", MANIFEST, 0o100644), (canary_rel + "/from-folder", b"x", 0o100644)])})
    case("folder-zip-escape", "failed", "path entry=", "a folder whose NAME.zip climbs out")
    folder(out, "folder-plain", {"data_info.yml": MANIFEST, "sub/a.txt": b"a"})
    case("folder-plain", "done", "", "an unpacked folder")
    folder(out, "folder-symlink", {"data_info.yml": MANIFEST, "sub/out": ("symlink", canary)})
    case("folder-symlink", "failed", "link entry=sub/out", "an unpacked folder with a symlink out")
    folder(out, "folder-manifest-link", {"data_info.yml": ("symlink", "/etc/passwd")})
    case("folder-manifest-link", "failed", "link entry=data_info.yml target=/etc/passwd",
         "the manifest itself a symlink")
    folder(out, "folder-fifo", {"data_info.yml": MANIFEST, "pipe": "fifo"})
    case("folder-fifo", "failed", "type entry=pipe kind=fifo", "an unpacked folder with a FIFO")
    os.symlink(canary, os.path.join(out, "inbox-symlink"))
    case("inbox-symlink", "failed", "symlink", "the packet itself a symlink")

    # The tar family, all allowed.
    plain_tar = tar_bytes([manifest_member(), ti("a.txt", data=b"a" * 1000)])
    for suffix, data in ((".tar.xz", lzma.compress(plain_tar)), (".tar.bz2", bz2.compress(plain_tar)),
                         (".tar.zst", zstd_frame(plain_tar))):
        put(out, "family" + suffix, data)
        case("family" + suffix, "done", "", "a good " + suffix + " (the tar family is allowed)")

    # Hangs of libarchive 3.6.2 itself (issue 11): only the parse's own limits end them.
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libarchive")
    for name, src, what in (
            ("gzip-recursive.gz", "test_read_filter_gzip_recursive.gz",
             "293 bytes that loop in libarchive's gzip filter, growing without bound"),
            ("xar-doublelink.xar", "test_read_format_xar_doublelink.xar",
             "388 bytes that loop in libarchive's xar reader")):
        data = uudecode(os.path.join(here, src + ".uu"))
        put(out, name, data)
        put(out, "again-" + name, data)     # for the two-at-once test
        case(name, "failed", "limit max_time", what)

    # GNU ar: "/" and "//" are the archive's own tables, not entries.
    put(out, "lib.a", gnu_ar([(b"data_info.yml", MANIFEST)], b"a-member-name-longer-than-16.txt"))
    case("lib.a", "done", "", "a GNU ar archive with a symbol table and long names")

    # Two manifests in one zip: other tools see the first, libarchive writes the last.
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("data_info.yml", MANIFEST)
        z.writestr("./data_info.yml", b"device_id: the-second-copy\n")
    put(out, "dup-manifest.zip", b.getvalue())
    case("dup-manifest.zip", "failed", "manifest error=\"duplicate entry data_info.yml\"",
         "data_info.yml twice in one zip")

    # A stored entry whose sizes say 10 bytes and whose data holds 20.
    put(out, "too-much-data.zip", zip_raw([manifest_stored(), dict(
        name=b"first", crc=zlib.crc32(b"x" * 20), usize=10, data=b"x" * 20, method=0)]))
    case("too-much-data.zip", "failed", "archive entry=first error=\"Too much data",
         "an entry holding more data than its header says")

    # Filters: lzma and uu are read; lrzip would need a program, which is never run.
    put(out, "family.tar.lzma", lzma.compress(plain_tar, format=lzma.FORMAT_ALONE))
    case("family.tar.lzma", "done", "", "a .tar.lzma (lzma_alone)")
    uu = [b"begin 644 family.tar\n"]
    uu += [binascii.b2a_uu(plain_tar[i:i + 45]) for i in range(0, len(plain_tar), 45)]
    put(out, "family.tar.uu", b"".join(uu) + b"`\nend\n")
    case("family.tar.uu", "done", "", "a uuencoded tar")
    put(out, "packed.lrz", b"LRZI\x00\x06" + bytes(rnd.randrange(256) for _ in range(64)))
    case("packed.lrz", "failed", "archive error=\"filter lrzip needs an external program",
         "lrzip: libarchive would run lrzip -d")

    with open(os.path.join(out, "cases.tsv"), "w") as f:
        for c in cases:
            f.write("\t".join(c) + "\n")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: gen.py OUT CANARY TAG")
    out, canary, tag = sys.argv[1:]
    out = os.path.abspath(out)
    os.makedirs(out, exist_ok=True)
    generate(out, os.path.abspath(canary), tag)


if __name__ == "__main__":
    main()
